//! A guard against missed-call bursts: callbacks are what a fraudster wants (a stranger leaves
//! missed calls from numbers that earn them money, predial calls every one back). When missed
//! calls from one number range (the number less its last three digits), or from everywhere
//! together, come faster than a person would, they stop making callbacks until the range has
//! been calm for a while; the missed calls are still stored and notified.
//!
//! ```toml
//! [missed_burst]
//! calls = 5        # missed calls from one range within `window` that make a burst
//! total = 60       # missed calls from all numbers within `window` that make a burst
//! window = "1m"
//! calm = "10m"     # callbacks resume this long after the burst's last missed call
//! ```

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use predial_core::time::span;
use serde::Deserialize;

/// The guard's settings (`[missed_burst]` in inbound.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BurstSettings {
    pub calls: u32,
    pub total: u32,
    #[serde(with = "span")]
    pub window: Duration,
    #[serde(with = "span")]
    pub calm: Duration,
}

impl Default for BurstSettings {
    fn default() -> Self {
        BurstSettings {
            calls: 5,
            total: 60,
            window: Duration::from_secs(60),
            calm: Duration::from_secs(600),
        }
    }
}

impl BurstSettings {
    /// What is wrong with the settings: (field, what to do).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(2..=1000).contains(&self.calls) {
            out.push(("calls", "use 2 to 1000 missed calls".to_string()));
        }
        if self.total < self.calls || self.total > 100_000 {
            out.push((
                "total",
                "use at least `calls` and at most 100000 missed calls".to_string(),
            ));
        }
        if !(Duration::from_secs(10)..=Duration::from_secs(3600)).contains(&self.window) {
            out.push(("window", "use 10s to 1h (default 1m)".to_string()));
        }
        if self.calm > Duration::from_secs(24 * 3600) {
            out.push(("calm", "at most 1d (default 10m)".to_string()));
        }
        out
    }
}

/// What a missed call is, for the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Burst {
    /// An ordinary missed call: it may become a callback.
    Calm,
    /// This call starts a burst (raise the alert once): `range` is the number range, or
    /// `all numbers`.
    Started { range: String },
    /// A burst goes on: no callback.
    Ongoing { range: String },
}

/// Ranges remembered at most; a flood of distinct ranges is itself a burst of `total`.
const MAX_RANGES: usize = 10_000;

#[derive(Debug, Default)]
struct Recent {
    times: VecDeque<i64>,
    /// A burst holds until this time (ms), pushed on by every missed call in it.
    until: Option<i64>,
    last: i64,
}

impl Recent {
    /// Notes a call at `at`; whether it is in a burst, and whether it started one.
    fn note(&mut self, at: i64, limit: u32, window: i64, calm: i64) -> (bool, bool) {
        self.last = at;
        self.times.push_back(at);
        while self.times.front().is_some_and(|t| at - t >= window) {
            self.times.pop_front();
        }
        while self.times.len() > limit as usize {
            self.times.pop_front();
        }
        let ongoing = self.until.is_some_and(|u| at < u);
        let over = self.times.len() >= limit as usize;
        if ongoing || over {
            self.until = Some(at + calm);
        }
        (ongoing || over, over && !ongoing)
    }
}

/// Missed calls seen lately, by range and in all.
#[derive(Debug, Default)]
pub struct BurstGuard {
    settings: BurstSettings,
    ranges: HashMap<String, Recent>,
    all: Recent,
}

/// The range a caller's number belongs to: its E.164 digits less the last three (numbers of
/// one block are let to the same party), or the whole number when shorter.
pub fn range_of(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return "unknown".into();
    }
    if digits.len() >= 7 {
        format!("+{}xxx", &digits[..digits.len() - 3])
    } else {
        format!("+{digits}")
    }
}

impl BurstGuard {
    pub fn new(settings: BurstSettings) -> BurstGuard {
        BurstGuard {
            settings,
            ..BurstGuard::default()
        }
    }

    /// A missed call from `phone` at `at_ms`: whether it may become a callback.
    pub fn note(&mut self, phone: &str, at_ms: i64) -> Burst {
        let s = self.settings;
        let window = s.window.as_millis() as i64;
        let calm = s.calm.as_millis() as i64;
        let range = range_of(phone);
        if self.ranges.len() >= MAX_RANGES && !self.ranges.contains_key(&range) {
            self.forget(at_ms, window.max(calm));
        }
        let (all_burst, all_started) = self.all.note(at_ms, s.total, window, calm);
        let (burst, started) = self
            .ranges
            .entry(range.clone())
            .or_default()
            .note(at_ms, s.calls, window, calm);
        match (burst, all_burst) {
            (true, _) if started => Burst::Started { range },
            (true, _) => Burst::Ongoing { range },
            (false, true) if all_started => Burst::Started {
                range: "all numbers".into(),
            },
            (false, true) => Burst::Ongoing {
                range: "all numbers".into(),
            },
            (false, false) => Burst::Calm,
        }
    }

    /// Makes room: the ranges quiet for `idle` ms go, and if that is not enough the oldest half.
    fn forget(&mut self, now: i64, idle: i64) {
        self.ranges.retain(|_, r| now - r.last < idle);
        if self.ranges.len() >= MAX_RANGES {
            let mut lasts: Vec<i64> = self.ranges.values().map(|r| r.last).collect();
            lasts.sort_unstable();
            let cut = lasts[lasts.len() / 2];
            self.ranges.retain(|_, r| r.last > cut);
        }
    }

    #[cfg(test)]
    fn ranges(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    #[test]
    fn a_range_that_bursts_stops_making_callbacks_until_it_calms_down() {
        let mut g = BurstGuard::new(BurstSettings::default());
        for i in 0..4 {
            assert_eq!(g.note(&format!("+7809123450{i}"), i * S), Burst::Calm);
        }
        // The fifth missed call from +7809123xxx within a minute: a burst.
        assert_eq!(
            g.note("+78091234509", 5 * S),
            Burst::Started {
                range: "+78091234xxx".into()
            }
        );
        assert!(matches!(
            g.note("+78091234511", 90 * S),
            Burst::Ongoing { .. }
        ));
        // Other numbers still get their callbacks.
        assert_eq!(g.note("+79161234567", 91 * S), Burst::Calm);
        // Ten minutes after the burst's last call, the range is calm again.
        assert_eq!(g.note("+78091234512", 90 * S + 600 * S), Burst::Calm);
    }

    #[test]
    fn a_slow_trickle_from_one_range_is_not_a_burst() {
        let mut g = BurstGuard::new(BurstSettings::default());
        for i in 0..20 {
            assert_eq!(g.note("+74951110009", i * 61 * S), Burst::Calm);
        }
    }

    #[test]
    fn many_ranges_at_once_are_a_burst_of_all_numbers() {
        let mut g = BurstGuard::new(BurstSettings {
            total: 10,
            ..BurstSettings::default()
        });
        let mut started = 0;
        for i in 0..20 {
            match g.note(&format!("+7916{:03}0000", i), i * 100) {
                Burst::Started { range } => {
                    assert_eq!(range, "all numbers");
                    started += 1;
                }
                Burst::Ongoing { .. } => assert!(i >= 9),
                Burst::Calm => assert!(i < 9),
            }
        }
        assert_eq!(started, 1, "the alert is raised once");
    }

    #[test]
    fn the_table_of_ranges_is_bounded() {
        let mut g = BurstGuard::new(BurstSettings {
            total: 100_000,
            ..BurstSettings::default()
        });
        for i in 0..(MAX_RANGES as i64 + 5_000) {
            g.note(&format!("+1{:09}000", i), i);
        }
        assert!(g.ranges() <= MAX_RANGES);
    }

    #[test]
    fn ranges_are_numbers_less_their_last_three_digits() {
        assert_eq!(range_of("+7 916 123-45-67"), "+79161234xxx");
        assert_eq!(range_of("12345"), "+12345");
        assert_eq!(range_of("anonymous"), "unknown");
    }
}
