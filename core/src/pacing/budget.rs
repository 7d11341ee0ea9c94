//! The abandon budget: answered and abandoned calls over the regulator's window, and the
//! controller that sets how much safety margin the planner keeps.
//!
//! The controller is a stochastic-approximation loop on every live answer: an abandoned call
//! raises the margin by `STEP × (1 − target)`, a connected one lowers it by `STEP × target`, so
//! the margin settles where abandons run at the target rate. On top, when the window's rate
//! (what the regulator will read) is over the target, the margin cannot go below a floor that
//! rises with the overshoot, and at the cap the campaign dials progressively until the rate is
//! back under it (progressive calls are never abandoned, so they dilute it).

use std::collections::VecDeque;

use serde::Serialize;

use super::{PacingPolicy, Regulator};
use crate::dialer::lead::{CampaignId, LeadId};
use crate::dialer::phone::Phone;
use crate::time::Timestamp;

const STEP: f64 = 0.1;
const Z_MIN: f64 = -1.0;
const Z_MAX: f64 = 5.0;
const Z_START: f64 = 3.0;
const BUCKET_MS: i64 = 3_600_000;
const FLOOR_AFTER: u64 = 300;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    start: i64,
    answered: u32,
    abandoned: u32,
    machines: u32,
}

/// Live-answered and abandoned calls of a campaign over the regulator's window.
#[derive(Debug, Clone)]
pub struct AbandonBudget {
    buckets: VecDeque<Bucket>,
    /// The planner's safety margin, in standard deviations.
    pub z: f64,
}

/// What the regulator asks to be kept about each abandoned call (an append-only log).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbandonAudit {
    pub at: Timestamp,
    pub campaign: CampaignId,
    pub lead: LeadId,
    pub phone: Phone,
    /// When the live person answered.
    pub answered_at: Timestamp,
    /// How long they waited for an operator before the abandoned-call message.
    pub waited_ms: i64,
    pub regulator: Regulator,
    /// Over the regulator's window, this call included.
    pub answered_in_window: u64,
    pub abandoned_in_window: u64,
    /// abandoned / answered over the window, with Ofcom's estimate of answering-machine false
    /// positives added to both.
    pub window_rate: f64,
}

/// A campaign's calls of a stretch of time before a restart, as the store kept them: live
/// answers that reached an operator, live answers abandoned (no operator in time), and calls
/// answering-machine detection hung up on. Counted in the hour `at` falls in (the window keeps
/// hours), so the store may give one entry per call or one per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PastCalls {
    pub at: Timestamp,
    pub connected: u32,
    pub abandoned: u32,
    pub machines: u32,
}

impl Default for AbandonBudget {
    fn default() -> Self {
        AbandonBudget {
            buckets: VecDeque::new(),
            z: Z_START,
        }
    }
}

impl AbandonBudget {
    fn bucket(&mut self, now: Timestamp, window_ms: i64) -> &mut Bucket {
        let start = now.millis().div_euclid(BUCKET_MS) * BUCKET_MS;
        while self
            .buckets
            .front()
            .is_some_and(|b| b.start <= now.millis() - window_ms)
        {
            self.buckets.pop_front();
        }
        if self.buckets.back().is_none_or(|b| b.start != start) {
            self.buckets.push_back(Bucket {
                start,
                ..Bucket::default()
            });
        }
        self.buckets.back_mut().expect("just pushed")
    }

    fn window_ms(policy: &PacingPolicy) -> i64 {
        i64::try_from(policy.regulator.window().as_millis()).unwrap_or(i64::MAX)
    }

    /// A live answer that reached an operator.
    pub fn connected(&mut self, now: Timestamp, policy: &PacingPolicy) {
        self.bucket(now, Self::window_ms(policy)).answered += 1;
        self.z = (self.z - STEP * policy.abandon_target).clamp(Z_MIN, Z_MAX);
        self.z = self.z.max(self.floor(now, policy));
    }

    /// A live answer that found no operator.
    pub fn abandoned(&mut self, now: Timestamp, policy: &PacingPolicy) {
        let b = self.bucket(now, Self::window_ms(policy));
        b.answered += 1;
        b.abandoned += 1;
        self.z = (self.z + STEP * (1.0 - policy.abandon_target)).clamp(Z_MIN, Z_MAX);
    }

    /// A live answer that reached an operator who did not pick up (counted by `connected`
    /// then), and then found no other: abandoned after all.
    pub fn abandoned_after_connect(&mut self, now: Timestamp, policy: &PacingPolicy) {
        self.bucket(now, Self::window_ms(policy)).abandoned += 1;
        self.z = (self.z + STEP).clamp(Z_MIN, Z_MAX);
    }

    /// A call answering-machine detection hung up on (some were people: Ofcom counts them).
    pub fn machine(&mut self, now: Timestamp, policy: &PacingPolicy) {
        self.bucket(now, Self::window_ms(policy)).machines += 1;
    }

    /// Puts back the calls of before a restart, oldest first, as if they were happening again:
    /// each goes through `connected`, `abandoned` or `machine` at its own time (abandons spread
    /// evenly among an entry's connected calls), so the window's figures, the cap and the
    /// margin are what the live calls made them. Entries after `now` count at `now`. Calls
    /// this budget already holds are kept, and the safer of the two margins is taken.
    pub fn restore(&mut self, now: Timestamp, past: &[PastCalls], policy: &PacingPolicy) {
        let mut past: Vec<PastCalls> = past.to_vec();
        for p in &mut past {
            p.at = p.at.min(now);
        }
        past.sort_by_key(|p| p.at);
        let mut restored = AbandonBudget::default();
        for p in &past {
            restored.replay(p, policy);
        }
        let live = std::mem::take(&mut self.buckets);
        if live.is_empty() {
            self.z = restored.z;
        } else {
            self.z = self.z.max(restored.z);
        }
        self.buckets = merge(restored.buckets, live);
        // Forget what is out of the window by now.
        self.bucket(now, Self::window_ms(policy));
    }

    /// One entry's calls, in the order the live calls most likely came.
    fn replay(&mut self, p: &PastCalls, policy: &PacingPolicy) {
        let answers = u64::from(p.connected) + u64::from(p.abandoned);
        let mut abandons_done = 0u64;
        for i in 1..=answers {
            // The i-th answer is an abandon when the abandons' even share passes a whole one.
            if i * u64::from(p.abandoned) / answers > abandons_done {
                abandons_done += 1;
                self.abandoned(p.at, policy);
            } else {
                self.connected(p.at, policy);
            }
        }
        for _ in 0..p.machines {
            self.machine(p.at, policy);
        }
    }

    /// (answered, abandoned, rate) over the window; Ofcom adds the estimated false positives.
    pub fn window(&self, now: Timestamp, policy: &PacingPolicy) -> (u64, u64, f64) {
        let from = now.millis() - Self::window_ms(policy);
        let (mut answered, mut abandoned, mut machines) = (0u64, 0u64, 0u64);
        for b in self.buckets.iter().filter(|b| b.start > from - BUCKET_MS) {
            answered += u64::from(b.answered);
            abandoned += u64::from(b.abandoned);
            machines += u64::from(b.machines);
        }
        let fp = match policy.regulator {
            Regulator::Ofcom => machines as f64 * policy.amd_false_positive_rate,
            Regulator::Ftc => 0.0,
        };
        let rate = if answered as f64 + fp > 0.0 {
            (abandoned as f64 + fp) / (answered as f64 + fp)
        } else {
            0.0
        };
        (answered, abandoned, rate)
    }

    /// The lowest margin allowed now: once the window holds enough answers to mean something,
    /// it rises from the starting margin to the maximum as the rate goes from the target to
    /// the cap.
    fn floor(&self, now: Timestamp, policy: &PacingPolicy) -> f64 {
        let (answered, _, rate) = self.window(now, policy);
        if answered < FLOOR_AFTER || rate <= policy.abandon_target {
            return Z_MIN;
        }
        let over =
            (rate - policy.abandon_target) / (policy.abandon_cap - policy.abandon_target).max(1e-6);
        (Z_START + over * (Z_MAX - Z_START)).min(Z_MAX)
    }

    /// Whether the window is at the cap: dial progressively until it is not.
    pub fn at_cap(&self, now: Timestamp, policy: &PacingPolicy) -> bool {
        let (answered, _, rate) = self.window(now, policy);
        answered >= 1000 && rate >= policy.abandon_cap * 0.97
    }
}

/// Two lists of hours, each oldest first, as one: the counts of the same hour added up.
fn merge(a: VecDeque<Bucket>, b: VecDeque<Bucket>) -> VecDeque<Bucket> {
    let mut out: VecDeque<Bucket> = VecDeque::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.start <= y.start => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        let Some(n) = next else { return out };
        match out.back_mut() {
            Some(last) if last.start == n.start => {
                last.answered += n.answered;
                last.abandoned += n.abandoned;
                last.machines += n.machines;
            }
            _ => out.push_back(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_settles_where_abandons_meet_the_target() {
        let policy = PacingPolicy::default();
        let mut b = AbandonBudget::default();
        let t = Timestamp::from_secs(1_800_000_000);
        // More abandons than the target: the margin grows.
        for i in 0..1000 {
            if i % 10 == 0 {
                b.abandoned(t, &policy)
            } else {
                b.connected(t, &policy)
            }
        }
        assert!(b.z > Z_START, "{}", b.z);
        // None at all: it shrinks.
        let mut calm = AbandonBudget::default();
        for _ in 0..100 {
            calm.connected(t, &policy);
        }
        assert!(calm.z < Z_START);
        let (answered, abandoned, rate) = b.window(t, &policy);
        assert_eq!((answered, abandoned), (1000, 100));
        assert!((rate - 0.1).abs() < 1e-9);
        assert!(b.at_cap(t, &policy));
    }

    #[test]
    fn the_window_forgets_old_calls() {
        let policy = PacingPolicy {
            regulator: Regulator::Ofcom,
            amd_false_positive_rate: 0.1,
            ..PacingPolicy::default()
        };
        let mut b = AbandonBudget::default();
        let t = Timestamp::from_secs(1_800_000_000);
        b.abandoned(t, &policy);
        for _ in 0..9 {
            b.connected(t, &policy);
        }
        for _ in 0..10 {
            b.machine(t, &policy);
        }
        let (_, _, rate) = b.window(t, &policy);
        assert!(
            (rate - 2.0 / 11.0).abs() < 1e-9,
            "one abandon and one estimated false positive: {rate}"
        );
        let later = t.plus_millis(25 * 3_600_000);
        assert_eq!(b.window(later, &policy).0, 0);
    }

    /// Live calls over two days: answers, abandons (5% of them, over the cap) and machines.
    fn live_calls(start: Timestamp) -> Vec<(Timestamp, u8)> {
        (0..4000i64)
            .map(|i| {
                let at = start.plus_millis(i * 43_000);
                let kind = match i % 20 {
                    0 => 1,
                    7 => 2,
                    _ => 0,
                };
                (at, kind)
            })
            .collect()
    }

    fn run_live(calls: &[(Timestamp, u8)], policy: &PacingPolicy) -> AbandonBudget {
        let mut b = AbandonBudget::default();
        for &(at, kind) in calls {
            match kind {
                1 => b.abandoned(at, policy),
                2 => b.machine(at, policy),
                _ => b.connected(at, policy),
            }
        }
        b
    }

    #[test]
    fn a_restored_window_is_the_live_one() {
        let start = Timestamp::from_secs(1_800_000_000);
        for regulator in [Regulator::Ftc, Regulator::Ofcom] {
            let policy = PacingPolicy {
                regulator,
                amd_false_positive_rate: 0.05,
                ..PacingPolicy::default()
            };
            let calls = live_calls(start);
            let now = calls.last().unwrap().0.plus_millis(1_000);
            let live = run_live(&calls, &policy);
            // One entry per call, shuffled: the same budget, margin included.
            let mut per_call: Vec<PastCalls> = calls
                .iter()
                .map(|&(at, kind)| PastCalls {
                    at,
                    connected: u32::from(kind == 0),
                    abandoned: u32::from(kind == 1),
                    machines: u32::from(kind == 2),
                })
                .collect();
            per_call.reverse();
            let mut restored = AbandonBudget::default();
            restored.restore(now, &per_call, &policy);
            assert_eq!(restored.window(now, &policy), live.window(now, &policy));
            assert_eq!(restored.z, live.z);
            assert_eq!(restored.at_cap(now, &policy), live.at_cap(now, &policy));
            assert_eq!(restored.floor(now, &policy), live.floor(now, &policy));
            // One entry per hour, as the store groups them: the same figures and cap.
            let mut hours: Vec<PastCalls> = Vec::new();
            for p in per_call.iter().rev() {
                let hour = Timestamp::from_millis(p.at.millis().div_euclid(BUCKET_MS) * BUCKET_MS);
                match hours.last_mut() {
                    Some(h) if h.at == hour => {
                        h.connected += p.connected;
                        h.abandoned += p.abandoned;
                        h.machines += p.machines;
                    }
                    _ => hours.push(PastCalls { at: hour, ..*p }),
                }
            }
            let mut hourly = AbandonBudget::default();
            hourly.restore(now, &hours, &policy);
            assert_eq!(hourly.window(now, &policy), live.window(now, &policy));
            assert_eq!(hourly.at_cap(now, &policy), live.at_cap(now, &policy));
            assert_eq!(hourly.floor(now, &policy), live.floor(now, &policy));
            assert!((hourly.z - live.z).abs() < 0.5, "{} {}", hourly.z, live.z);
            // And a day later both forget the same calls.
            let later = now.plus_millis(30 * 3_600_000);
            assert_eq!(hourly.window(later, &policy), live.window(later, &policy));
        }
    }

    #[test]
    fn restoring_keeps_the_calls_already_counted() {
        let policy = PacingPolicy::default();
        let t = Timestamp::from_secs(1_800_000_000);
        let mut b = AbandonBudget::default();
        b.connected(t, &policy);
        b.abandoned(t, &policy);
        let past = [PastCalls {
            at: t.plus_millis(-2 * 3_600_000),
            connected: 8,
            abandoned: 2,
            machines: 0,
        }];
        b.restore(t, &past, &policy);
        assert_eq!(b.window(t, &policy).0, 12);
        assert_eq!(b.window(t, &policy).1, 3);
    }
}
