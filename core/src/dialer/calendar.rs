//! Quiet hours in the callee's local time: from `start` to `end` nothing is dialled (default
//! 22:00 to 10:00, across midnight). Computed in UTC instants with chrono-tz, so DST changes and
//! zones that moved (Volgograd, Kazakhstan) are right.

use std::fmt;
use std::str::FromStr;

use chrono::{Duration as ChronoDuration, LocalResult, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::time::{Timestamp, serde_as_text};

/// A time of day, `HH:MM`, as in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(NaiveTime);

impl TimeOfDay {
    pub fn hm(h: u32, m: u32) -> TimeOfDay {
        TimeOfDay(NaiveTime::from_hms_opt(h, m, 0).expect("hour < 24 and minute < 60"))
    }

    pub fn time(self) -> NaiveTime {
        self.0
    }
}

impl FromStr for TimeOfDay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .map(TimeOfDay)
            .map_err(|_| format!("`{s}` is not a time of day like 22:00"))
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

serde_as_text!(TimeOfDay);

/// The campaign's quiet hours. `start == end` means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

impl Default for QuietHours {
    fn default() -> Self {
        QuietHours {
            start: TimeOfDay::hm(22, 0),
            end: TimeOfDay::hm(10, 0),
        }
    }
}

/// Whether dialling is allowed at an instant, and until when that stays so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Dialling is allowed (outside quiet hours).
    pub open: bool,
    /// The first instant the window started (inclusive)...
    pub from: Timestamp,
    /// ...and the instant it ends (exclusive): quiet hours begin or end there.
    pub until: Timestamp,
}

impl Window {
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from <= t && t < self.until
    }
}

/// The first instant at which the local wall clock of `tz` shows `date` `time`. When the clock
/// jumps over that time (a DST gap), the first instant after the jump.
pub(crate) fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> Timestamp {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Timestamp::from_millis(t.timestamp_millis()),
        LocalResult::Ambiguous(first, _) => Timestamp::from_millis(first.timestamp_millis()),
        LocalResult::None => {
            // In a gap: step forward minute by minute (gaps are at most a few hours).
            let mut probe = naive;
            for _ in 0..(26 * 60) {
                probe += ChronoDuration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return Timestamp::from_millis(t.timestamp_millis());
                }
            }
            // Not reachable with real zone data; fall back to reading the time as UTC.
            Timestamp::from_millis(naive.and_utc().timestamp_millis())
        }
    }
}

impl QuietHours {
    pub fn none() -> QuietHours {
        QuietHours {
            start: TimeOfDay::hm(0, 0),
            end: TimeOfDay::hm(0, 0),
        }
    }

    pub fn is_none(&self) -> bool {
        self.start == self.end
    }

    /// The quiet interval (UTC) that starts on local date `day`.
    fn quiet_interval(&self, tz: Tz, day: NaiveDate) -> (Timestamp, Timestamp) {
        let start = local_instant(tz, day, self.start.time());
        let end_day = if self.end <= self.start {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        let end = local_instant(tz, end_day, self.end.time());
        (start, end)
    }

    /// Whether `t` is outside quiet hours in `tz`, and the window of time around `t` that has
    /// the same answer.
    pub fn window(&self, tz: Tz, t: Timestamp) -> Window {
        if self.is_none() {
            return Window {
                open: true,
                from: Timestamp::MIN,
                until: Timestamp::MAX,
            };
        }
        let local_date = tz.from_utc_datetime(&t.to_utc().naive_utc()).date_naive();
        // Quiet intervals starting on the days around t, in order. A quiet interval is shorter
        // than a day, so the ones starting yesterday, today and tomorrow cover t and both ends
        // of the window around it.
        let mut intervals = [(Timestamp::MIN, Timestamp::MIN); 4];
        let mut day = local_date.pred_opt().unwrap_or(local_date);
        day = day.pred_opt().unwrap_or(day);
        for slot in intervals.iter_mut() {
            *slot = self.quiet_interval(tz, day);
            day = day.succ_opt().unwrap_or(day);
        }
        for (i, &(qs, qe)) in intervals.iter().enumerate() {
            if qs <= t && t < qe {
                return Window {
                    open: false,
                    from: qs,
                    until: qe,
                };
            }
            if t < qs {
                let from = if i > 0 {
                    intervals[i - 1].1
                } else {
                    Timestamp::MIN
                };
                return Window {
                    open: true,
                    from,
                    until: qs,
                };
            }
        }
        // t is after the last interval's start and end: cannot happen for the days chosen, but
        // answer safely (closed for a minute) rather than dial blind.
        Window {
            open: false,
            from: t,
            until: t.plus_millis(60_000),
        }
    }

    /// Whether dialling is allowed at `t` in `tz`.
    pub fn is_open(&self, tz: Tz, t: Timestamp) -> bool {
        self.window(tz, t).open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn default_quiet_hours_across_midnight() {
        let q = QuietHours::default();
        let msk: Tz = "Europe/Moscow".parse().unwrap();
        // 21:59 Moscow is open, until 22:00.
        let w = q.window(msk, at("2026-12-01T18:59:00Z"));
        assert!(w.open);
        assert_eq!(w.until, at("2026-12-01T19:00:00Z"));
        assert_eq!(w.from, at("2026-12-01T07:00:00Z"));
        // 22:00 Moscow is closed until 10:00 next morning.
        let w = q.window(msk, at("2026-12-01T19:00:00Z"));
        assert!(!w.open);
        assert_eq!(w.until, at("2026-12-02T07:00:00Z"));
        // 03:00 Moscow: closed since 22:00 the day before.
        let w = q.window(msk, at("2026-12-02T00:00:00Z"));
        assert!(!w.open);
        assert_eq!(w.from, at("2026-12-01T19:00:00Z"));
        // 10:00 sharp is open.
        assert!(q.is_open(msk, at("2026-12-02T07:00:00Z")));
    }

    #[test]
    fn same_instant_differs_by_zone() {
        let q = QuietHours::default();
        let t = at("2026-12-01T12:30:00Z");
        assert!(q.is_open("Europe/Moscow".parse().unwrap(), t)); // 15:30
        assert!(!q.is_open("Asia/Vladivostok".parse().unwrap(), t)); // 22:30
        assert!(!q.is_open("Asia/Kamchatka".parse().unwrap(), t)); // 00:30
        assert!(q.is_open("Europe/Kaliningrad".parse().unwrap(), t)); // 14:30
    }

    #[test]
    fn dst_days_are_right() {
        let q = QuietHours::default();
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08: clocks jump 02:00 -> 03:00; 10:00 EDT is 14:00 UTC.
        let w = q.window(ny, at("2026-03-08T12:00:00Z"));
        assert!(!w.open);
        assert_eq!(w.until, at("2026-03-08T14:00:00Z"));
        // A quiet period that starts inside the gap starts when the clock resumes.
        let gap = QuietHours {
            start: TimeOfDay::hm(2, 30),
            end: TimeOfDay::hm(4, 0),
        };
        let w = gap.window(ny, at("2026-03-08T06:00:00Z")); // 01:00 EST
        assert!(w.open);
        assert_eq!(w.until, at("2026-03-08T07:00:00Z")); // 03:00 EDT
    }

    #[test]
    fn daytime_quiet_hours_and_none() {
        let lunch = QuietHours {
            start: TimeOfDay::hm(13, 0),
            end: TimeOfDay::hm(14, 0),
        };
        let msk: Tz = "Europe/Moscow".parse().unwrap();
        assert!(!lunch.is_open(msk, at("2026-12-01T10:30:00Z")));
        assert!(lunch.is_open(msk, at("2026-12-01T11:00:00Z")));
        assert!(lunch.is_open(msk, at("2026-12-01T09:59:00Z")));
        assert!(QuietHours::none().is_open(msk, at("2026-12-01T23:00:00Z")));
    }

    #[test]
    fn windows_tile_time() {
        // Walking from window to window never skips or overlaps, in a DST zone too.
        for zone in [
            "Europe/Moscow",
            "America/New_York",
            "Europe/Chisinau",
            "Asia/Kamchatka",
        ] {
            let tz: Tz = zone.parse().unwrap();
            let q = QuietHours::default();
            let mut t = at("2026-03-01T00:00:00Z");
            let mut last_open = None;
            for _ in 0..200 {
                let w = q.window(tz, t);
                assert!(w.contains(t), "{zone} {t}");
                assert_ne!(Some(w.open), last_open, "{zone} {t}");
                last_open = Some(w.open);
                t = w.until;
            }
        }
    }
}
