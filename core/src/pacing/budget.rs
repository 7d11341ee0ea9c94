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
}
