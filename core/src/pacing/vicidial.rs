//! The reference pacer: VICIdial's ADAPT_TAPERED, as its source does it (AST_VDadapt.pl and
//! AST_VDauto_dial.pl of VICIdial 2.14; see `docs/pacing.md`), so predial's predictive pacer
//! can be measured against what contact centres run today.
//!
//! - Every second it samples the ready agents, the answered calls waiting for an agent, and the
//!   logged-in agents (paused included).
//! - Every 15 seconds: D = mean(ready) - mean(waiting); A = mean(logged in);
//!   level = clamp(level × (1 + D/A), 1, max). If over half of the last minute's calls were
//!   dropped (more than 20 calls), the level is halved. If today's drop rate (after 50 answers)
//!   is over the limit, TAPERED multiplies the level by min(1, (end - now) / 1000) with both
//!   times as HHMM numbers (no penalty with ten hours or more left; 1.0 after the end time).
//! - Every 2.5 seconds: calls to place = round(level × agents ready or talking) - (calls
//!   ringing + answered calls waiting + calls talking).

use crate::time::Timestamp;

pub const SAMPLE_MS: i64 = 1_000;
pub const ADJUST_EVERY: u32 = 15;
pub const DIAL_EVERY_MS: i64 = 2_500;

#[derive(Debug, Clone)]
pub struct VicidialAdapt {
    /// Calls per active agent (auto_dial_level).
    pub dial_level: f64,
    ready_sum: f64,
    waiting_sum: f64,
    logged_sum: f64,
    samples: u32,
    /// Today: live answers (drops included) and drops.
    pub answered_today: u64,
    pub dropped_today: u64,
    /// The last minute: calls answered and dropped.
    minute: (u64, u64, Option<Timestamp>),
}

impl Default for VicidialAdapt {
    fn default() -> Self {
        VicidialAdapt {
            dial_level: 1.0,
            ready_sum: 0.0,
            waiting_sum: 0.0,
            logged_sum: 0.0,
            samples: 0,
            answered_today: 0,
            dropped_today: 0,
            minute: (0, 0, None),
        }
    }
}

/// The floor's state, as VICIdial counts it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Floor {
    pub ready: u32,
    pub waiting: u32,
    pub logged_in: u32,
    /// Agents ready or talking (not paused, not in wrap-up).
    pub dialable: u32,
    /// Calls ringing, answered and waiting, and talking to agents.
    pub calls: u32,
}

impl VicidialAdapt {
    /// One second's sample; every 15th adjusts the level. `hhmm_now` and `hhmm_end` are the
    /// local time and the campaign's end of day as HHMM numbers (14:30 is 1430).
    pub fn tick(
        &mut self,
        now: Timestamp,
        floor: Floor,
        drop_limit: f64,
        max_level: f64,
        hhmm_now: i64,
        hhmm_end: i64,
    ) {
        self.ready_sum += f64::from(floor.ready);
        self.waiting_sum += f64::from(floor.waiting);
        self.logged_sum += f64::from(floor.logged_in);
        self.samples += 1;
        let minute_start = *self.minute.2.get_or_insert(now);
        if now.millis() - minute_start.millis() >= 60_000 {
            self.minute = (0, 0, Some(now));
        }
        if self.samples < ADJUST_EVERY {
            return;
        }
        let n = f64::from(self.samples);
        let (d, a) = ((self.ready_sum - self.waiting_sum) / n, self.logged_sum / n);
        self.ready_sum = 0.0;
        self.waiting_sum = 0.0;
        self.logged_sum = 0.0;
        self.samples = 0;
        if a <= 0.0 {
            return;
        }
        let mut level = (self.dial_level * (1.0 + d / a) * 1000.0).round() / 1000.0;
        level = level.clamp(1.0, max_level);
        let (calls1, drops1, _) = self.minute;
        if calls1 > 20 && drops1 as f64 > 0.5 * calls1 as f64 {
            level /= 2.0;
        }
        if self.answered_today > 50
            && self.dropped_today as f64 > drop_limit * self.answered_today as f64
        {
            let left = hhmm_end - hhmm_now;
            level = if left < 0 {
                1.0
            } else {
                level * (left as f64 / 1000.0).min(1.0)
            };
        }
        self.dial_level = level.max(1.0);
    }

    pub fn answered(&mut self, dropped: bool) {
        self.answered_today += 1;
        self.minute.0 += 1;
        if dropped {
            self.dropped_today += 1;
            self.minute.1 += 1;
        }
    }

    /// Calls to place now.
    pub fn calls_to_place(&self, floor: Floor) -> u32 {
        let goal = (self.dial_level * f64::from(floor.dialable)).round_ties_even() as u32;
        goal.saturating_sub(floor.calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floor(ready: u32, waiting: u32) -> Floor {
        Floor {
            ready,
            waiting,
            logged_in: 10,
            dialable: 10,
            calls: 0,
        }
    }

    #[test]
    fn ready_agents_raise_the_level_waiting_calls_lower_it() {
        let t = Timestamp::from_secs(1_800_000_000);
        let mut v = VicidialAdapt::default();
        for s in 0..15 {
            v.tick(t.plus_millis(s * 1000), floor(5, 0), 0.03, 3.0, 1200, 2100);
        }
        assert!((v.dial_level - 1.5).abs() < 1e-9, "{}", v.dial_level);
        for s in 15..30 {
            v.tick(t.plus_millis(s * 1000), floor(0, 4), 0.03, 3.0, 1200, 2100);
        }
        assert!(
            (v.dial_level - 1.0).abs() < 1e-9,
            "floored at 1: {}",
            v.dial_level
        );
        assert_eq!(
            v.calls_to_place(Floor {
                dialable: 10,
                calls: 4,
                ..floor(0, 0)
            }),
            6
        );
    }

    #[test]
    fn over_the_drop_limit_late_in_the_day_the_level_tapers() {
        let t = Timestamp::from_secs(1_800_000_000);
        let mut v = VicidialAdapt {
            dial_level: 2.0,
            ..VicidialAdapt::default()
        };
        for k in 0..100 {
            v.answered(k % 10 == 0);
        }
        for s in 0..15 {
            v.tick(t.plus_millis(s * 1000), floor(0, 0), 0.03, 3.0, 1600, 2100);
        }
        assert!(
            (v.dial_level - 1.0).abs() < 1e-9,
            "2.0 × 0.5 = 1.0: {}",
            v.dial_level
        );
    }
}
