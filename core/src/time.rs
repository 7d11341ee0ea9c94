//! Time as the core sees it: an instant it is handed (`Timestamp`), and spans of time written
//! the way an admin writes them in a config file (`"90s"`, `"15m"`, `"2h"`, `"1d"`).
//!
//! The core never reads a clock. The engine passes the real time, the simulator a virtual one.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant in UTC, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const MIN: Timestamp = Timestamp(i64::MIN / 2);
    pub const MAX: Timestamp = Timestamp(i64::MAX / 2);

    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn from_secs(s: i64) -> Self {
        Timestamp(s.saturating_mul(1000))
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Whole seconds since the epoch, rounded up: the first second boundary at or after `self`.
    pub const fn secs_ceil(self) -> i64 {
        -((-self.0).div_euclid(1000))
    }

    pub fn from_utc(t: DateTime<Utc>) -> Self {
        Timestamp(t.timestamp_millis())
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        // Every i64 millisecond count inside MIN..MAX/2 fits chrono's range except the extremes;
        // clamp them to chrono's limits instead of failing.
        DateTime::from_timestamp_millis(self.0).unwrap_or(if self.0 < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// Parses an RFC 3339 instant (`2026-12-01T07:00:00Z`, `2026-12-01T10:00:00+03:00`).
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| Timestamp(t.timestamp_millis()))
            .map_err(|e| format!("`{s}` is not an RFC 3339 time like 2026-12-01T07:00:00Z ({e})"))
    }

    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// `self - earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with milliseconds: `2026-12-01T07:00:03.250Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_utc().to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl std::str::FromStr for Timestamp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Timestamp::parse_rfc3339(s)
    }
}

/// Serde as text for a type with `Display` and `FromStr` (a time, a country code): written as
/// it prints, read as it parses, with the parser's message on error.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_text;

serde_as_text!(Timestamp);

/// Parses a span written as a number and a unit: `500ms`, `90s`, `15m`, `2h`, `1d`, or several
/// of them (`1h30m`). A bare number is not accepted: the unit must be said.
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration: write it like 90s, 15m, 2h or 1d".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration: write it like 90s, 15m, 2h or 1d"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let ms_per = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "`{text}` has no unit: write it like 90s, 15m, 2h or 1d"
                ));
            }
            other => {
                return Err(format!(
                    "`{text}`: unknown unit `{other}` (use ms, s, m, h or d)"
                ));
            }
        };
        let ms = n
            .checked_mul(ms_per)
            .ok_or_else(|| format!("`{text}`: too large"))?;
        total = total
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| format!("`{text}`: too large"))?;
    }
    Ok(total)
}

/// Writes a span the way `parse_span` reads it (`15m`, `1h30m`, `90s`, `250ms`).
pub fn format_span(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, per) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= per {
            out.push_str(&format!("{}{unit}", ms / per));
            ms %= per;
        }
    }
    out
}

/// Serde helpers for spans written as text (`"15m"`).
pub mod span {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_span(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_span(&s).map_err(serde::de::Error::custom)
    }

    /// A list of spans (`["15m", "30m", "1h"]`), or a single one (`"15m"`).
    pub mod list {
        use super::*;

        pub fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
            let texts: Vec<String> = v.iter().map(|d| format_span(*d)).collect();
            texts.serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum OneOrMany {
                One(String),
                Many(Vec<String>),
            }
            let texts = match OneOrMany::deserialize(d)? {
                OneOrMany::One(s) => vec![s],
                OneOrMany::Many(v) => v,
            };
            texts
                .iter()
                .map(|s| parse_span(s).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_print() {
        assert_eq!(parse_span("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_span("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_span("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_span(" 2d ").unwrap(), Duration::from_secs(172_800));
        assert!(parse_span("15").unwrap_err().contains("no unit"));
        assert!(parse_span("15x").unwrap_err().contains("unknown unit"));
        assert!(parse_span("").is_err());
        assert!(parse_span("m").is_err());
        for s in ["15m", "1h30m", "90ms", "2d", "1d1h1m1s1ms", "0s"] {
            assert_eq!(format_span(parse_span(s).unwrap()), s);
        }
    }

    #[test]
    fn timestamps_round_trip() {
        let t = Timestamp::parse_rfc3339("2026-12-01T10:00:00+03:00").unwrap();
        assert_eq!(t.to_string(), "2026-12-01T07:00:00.000Z");
        assert_eq!(t.secs() * 1000, t.millis());
        assert_eq!(Timestamp::from_millis(1500).secs(), 1);
        assert_eq!(Timestamp::from_millis(1500).secs_ceil(), 2);
        assert_eq!(Timestamp::from_millis(-1500).secs(), -2);
        assert_eq!(Timestamp::from_millis(-1500).secs_ceil(), -1);
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }
}
