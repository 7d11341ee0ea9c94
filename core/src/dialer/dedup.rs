//! Catching duplicate leads on the way in, by the campaign's rule (seed 001):
//!
//! - rule A: the same order id from the same phone is a duplicate; a new order from a known phone
//!   is a new lead;
//! - rule B: the same phone within the window is a duplicate; older, it is a new lead.
//!
//! Memory stays bounded: entries live in two generations that rotate every `period` (the longest
//! window of any campaign), so nothing older than two periods is kept and no sweep is needed.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::lead::LeadId;
use super::policy::{DedupPolicy, DedupRule};
use crate::time::Timestamp;

/// A 64-bit fingerprint of (campaign, phone, order id for rule A). Two different leads share one
/// with a chance of about n / 2^64 per check (5e-14 with a million remembered): negligible, and
/// the map's buckets are 24 bytes instead of 48.
type Key = u64;

#[derive(Debug, Clone, Copy)]
struct Seen {
    lead: LeadId,
    /// Seconds since 2020-01-01 UTC.
    at: u32,
}

const EPOCH_2020_S: i64 = 1_577_836_800;

fn seconds(t: Timestamp) -> u32 {
    u32::try_from((t.secs() - EPOCH_2020_S).max(0)).unwrap_or(u32::MAX)
}

/// Why a lead is a duplicate, or cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupVerdict {
    New,
    Duplicate(LeadId),
    /// Rule A needs an order id and the lead has none.
    MissingOrderId,
}

pub struct Dedup {
    current: FxHashMap<Key, Seen>,
    previous: FxHashMap<Key, Seen>,
    rotated_at: Option<Timestamp>,
    period: Duration,
}

impl Default for Dedup {
    fn default() -> Self {
        Dedup {
            current: FxHashMap::default(),
            previous: FxHashMap::default(),
            rotated_at: None,
            period: Duration::from_secs(24 * 3600),
        }
    }
}

impl Dedup {
    /// Makes sure entries are kept at least `window` (called when a campaign is configured).
    pub fn keep_at_least(&mut self, window: Duration) {
        self.period = self.period.max(window);
    }

    fn rotate(&mut self, now: Timestamp) {
        match self.rotated_at {
            None => self.rotated_at = Some(now),
            Some(r) if now.since(r) >= self.period => {
                self.previous = std::mem::take(&mut self.current);
                self.rotated_at = Some(now);
            }
            Some(_) => {}
        }
    }

    fn key(campaign: u32, phone: u64, rule: DedupRule, order_id: Option<&str>) -> Option<Key> {
        // SipHash with fixed keys: the same on every run, and not steerable in any way that
        // matters (a crafted order id could at most collide with another order of its own phone).
        let mut h = DefaultHasher::new();
        (campaign, phone).hash(&mut h);
        if rule == DedupRule::A {
            order_id
                .map(str::trim)
                .filter(|o| !o.is_empty())?
                .hash(&mut h);
        }
        Some(h.finish())
    }

    /// Checks a lead and, when it is new, remembers it.
    pub fn admit(
        &mut self,
        now: Timestamp,
        policy: &DedupPolicy,
        campaign: u32,
        phone: u64,
        order_id: Option<&str>,
        lead: LeadId,
    ) -> DedupVerdict {
        let verdict = self.check(now, policy, campaign, phone, order_id);
        if verdict == DedupVerdict::New
            && let Some(key) = Self::key(campaign, phone, policy.rule, order_id)
        {
            self.current.insert(
                key,
                Seen {
                    lead,
                    at: seconds(now),
                },
            );
        }
        verdict
    }

    /// Checks a lead without remembering it.
    pub fn check(
        &mut self,
        now: Timestamp,
        policy: &DedupPolicy,
        campaign: u32,
        phone: u64,
        order_id: Option<&str>,
    ) -> DedupVerdict {
        self.rotate(now);
        let Some(key) = Self::key(campaign, phone, policy.rule, order_id) else {
            return DedupVerdict::MissingOrderId;
        };
        let seen = self.current.get(&key).or_else(|| self.previous.get(&key));
        match seen {
            Some(s) if u64::from(seconds(now).saturating_sub(s.at)) < policy.window.as_secs() => {
                DedupVerdict::Duplicate(s.lead)
            }
            _ => DedupVerdict::New,
        }
    }

    /// Entries held (for memory accounting).
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const BASE: Timestamp = Timestamp::from_millis(1_796_000_000_000);

    fn b(hours: u64) -> DedupPolicy {
        DedupPolicy {
            rule: DedupRule::B,
            window: Duration::from_secs(hours * 3600),
        }
    }

    fn a() -> DedupPolicy {
        DedupPolicy {
            rule: DedupRule::A,
            window: Duration::from_secs(30 * 86_400),
        }
    }

    #[test]
    fn rule_b_blocks_the_same_phone_within_the_window() {
        let mut d = Dedup::default();
        let t0 = BASE;
        assert_eq!(
            d.admit(t0, &b(24), 1, 100, None, LeadId(1)),
            DedupVerdict::New
        );
        assert_eq!(
            d.admit(t0.plus_millis(23 * H), &b(24), 1, 100, None, LeadId(2)),
            DedupVerdict::Duplicate(LeadId(1))
        );
        // Another campaign, another phone: new.
        assert_eq!(
            d.admit(t0, &b(24), 2, 100, None, LeadId(3)),
            DedupVerdict::New
        );
        assert_eq!(
            d.admit(t0, &b(24), 1, 101, None, LeadId(4)),
            DedupVerdict::New
        );
        // After the window the same phone is a new lead, and opens a new window.
        assert_eq!(
            d.admit(t0.plus_millis(24 * H), &b(24), 1, 100, None, LeadId(5)),
            DedupVerdict::New
        );
        assert_eq!(
            d.admit(t0.plus_millis(30 * H), &b(24), 1, 100, None, LeadId(6)),
            DedupVerdict::Duplicate(LeadId(5))
        );
    }

    #[test]
    fn rule_a_compares_order_ids_of_a_known_phone() {
        let mut d = Dedup::default();
        d.keep_at_least(a().window);
        let t = BASE;
        assert_eq!(
            d.admit(t, &a(), 1, 100, Some("A-1"), LeadId(1)),
            DedupVerdict::New
        );
        assert_eq!(
            d.admit(
                t.plus_millis(48 * H),
                &a(),
                1,
                100,
                Some(" A-1 "),
                LeadId(2)
            ),
            DedupVerdict::Duplicate(LeadId(1))
        );
        // A new order from a known phone is a new lead.
        assert_eq!(
            d.admit(t.plus_millis(49 * H), &a(), 1, 100, Some("A-2"), LeadId(3)),
            DedupVerdict::New
        );
        // The same order id from another phone is not this rule's business.
        assert_eq!(
            d.admit(t, &a(), 1, 200, Some("A-1"), LeadId(4)),
            DedupVerdict::New
        );
        assert_eq!(
            d.admit(t, &a(), 1, 300, None, LeadId(5)),
            DedupVerdict::MissingOrderId
        );
        assert_eq!(
            d.admit(t, &a(), 1, 300, Some("  "), LeadId(6)),
            DedupVerdict::MissingOrderId
        );
    }

    #[test]
    fn memory_is_bounded_by_two_periods() {
        let mut d = Dedup::default();
        for i in 0..1000u64 {
            let t = BASE.plus_millis(i as i64 * H);
            d.admit(t, &b(24), 1, i, None, LeadId(i));
        }
        assert!(d.len() <= 48, "{} entries kept", d.len());
    }
}
