//! Quiet hours per (campaign, callee zone): whether that zone may be dialled now, cached until
//! it changes, and the leads held back until the morning.
//!
//! Held leads are released when quiet hours end, in the order they were held, spread over the
//! campaign's `morning_spread` (seed 001: "call them in the first minutes of the morning"), so
//! the first tick of the morning does not move a whole night's queue at once and the queue goes
//! out oldest first.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::calendar::{QuietHours, Window};
use super::zones::TzId;
use crate::time::Timestamp;

pub(crate) struct ZoneSlot {
    pub campaign: u16,
    pub tz: TzId,
    quiet: QuietHours,
    window: Option<Window>,
    /// Leads held by quiet hours, oldest first.
    held: VecDeque<u64>,
    /// Leads released per second this morning (0 when not releasing).
    release_per_s: u64,
    last_release: Timestamp,
    /// The armed timer of this slot, if any.
    timer: Option<Timestamp>,
}

#[derive(Default)]
pub(crate) struct ZoneSlots {
    slots: Vec<ZoneSlot>,
    index: FxHashMap<(u16, TzId), u16>,
    timers: BTreeSet<(Timestamp, u16)>,
}

impl ZoneSlots {
    /// The slot of a campaign's callees in `tz`, made on first use.
    pub fn slot_for(&mut self, campaign: u16, tz: TzId, quiet: QuietHours) -> u16 {
        if let Some(&z) = self.index.get(&(campaign, tz)) {
            return z;
        }
        let z = u16::try_from(self.slots.len()).expect("fewer than 65536 (campaign, zone) pairs");
        self.slots.push(ZoneSlot {
            campaign,
            tz,
            quiet,
            window: None,
            held: VecDeque::new(),
            release_per_s: 0,
            last_release: Timestamp::MIN,
            timer: None,
        });
        self.index.insert((campaign, tz), z);
        z
    }

    pub fn get(&self, z: u16) -> &ZoneSlot {
        &self.slots[usize::from(z)]
    }

    /// The campaign's quiet hours changed: leads it holds are looked at again now (released if
    /// their zone is open under the new hours, else held until the new end).
    pub fn set_quiet(&mut self, campaign: u16, quiet: QuietHours, now: Timestamp) {
        let mut recheck = Vec::new();
        for (z, s) in self.slots.iter_mut().enumerate() {
            if s.campaign != campaign {
                continue;
            }
            s.quiet = quiet;
            s.window = None;
            if !s.held.is_empty() {
                recheck.push(u16::try_from(z).expect("slot indices fit u16 (slot_for)"));
            }
        }
        for z in recheck {
            self.arm(z, now);
        }
    }

    fn window(&mut self, z: u16, now: Timestamp) -> Window {
        let s = &mut self.slots[usize::from(z)];
        match s.window {
            Some(w) if w.contains(now) => w,
            _ => {
                let w = s.quiet.window(s.tz.tz(), now);
                s.window = Some(w);
                w
            }
        }
    }

    /// Whether the zone may be dialled at `now`.
    pub fn is_open(&mut self, z: u16, now: Timestamp) -> bool {
        self.window(z, now).open
    }

    fn arm(&mut self, z: u16, at: Timestamp) {
        let s = &mut self.slots[usize::from(z)];
        if let Some(old) = s.timer.take() {
            self.timers.remove(&(old, z));
        }
        s.timer = Some(at);
        self.timers.insert((at, z));
    }

    /// Holds a lead until quiet hours end in its zone.
    pub fn hold(&mut self, z: u16, entry: u64, now: Timestamp) {
        let w = self.window(z, now);
        let s = &mut self.slots[usize::from(z)];
        s.held.push_back(entry);
        if s.timer.is_none() {
            let at = if w.open { now } else { w.until };
            self.arm(z, at);
        }
    }

    pub fn next_timer(&self) -> Option<Timestamp> {
        self.timers.first().map(|&(t, _)| t)
    }

    /// Releases held leads whose zone has opened, at the pace set by `spread` (the campaign's
    /// morning spread). Released entries go to `out`.
    pub fn release(
        &mut self,
        now: Timestamp,
        spread: impl Fn(u16) -> Duration,
        out: &mut Vec<u64>,
    ) {
        while let Some(&(at, z)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            self.slots[usize::from(z)].timer = None;
            let w = self.window(z, now);
            if !w.open {
                self.arm(z, w.until);
                continue;
            }
            let s = &mut self.slots[usize::from(z)];
            let spread_s = spread(s.campaign).as_secs();
            if s.release_per_s == 0 {
                // The first release of this morning: pace the whole held queue over the spread.
                s.release_per_s = if spread_s == 0 {
                    u64::MAX
                } else {
                    (s.held.len() as u64).div_ceil(spread_s).max(1)
                };
                s.last_release = now;
            }
            let seconds = (now.since(s.last_release).as_secs()).max(1);
            let n = s
                .release_per_s
                .saturating_mul(seconds)
                .min(s.held.len() as u64) as usize;
            out.extend(s.held.drain(..n));
            s.last_release = now;
            if s.held.is_empty() {
                s.release_per_s = 0;
            } else {
                let next = now.plus(Duration::from_secs(1)).min(w.until);
                self.arm(z, next);
            }
        }
    }

    /// Leads held by quiet hours now, in all zones.
    pub fn held(&self) -> usize {
        self.slots.iter().map(|s| s.held.len()).sum()
    }

    /// Held entries of one slot (for tests).
    #[cfg(test)]
    pub fn held_in(&self, z: u16) -> impl Iterator<Item = u64> + '_ {
        self.slots[usize::from(z)].held.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn held_leads_go_out_in_order_over_the_spread() {
        let mut zs = ZoneSlots::default();
        let msk = TzId::from_name("Europe/Moscow").unwrap();
        let z = zs.slot_for(0, msk, QuietHours::default());
        let night = at("2026-12-01T21:00:00Z"); // 00:00 Moscow
        assert!(!zs.is_open(z, night));
        for e in 0..600u64 {
            zs.hold(z, e, night);
        }
        assert_eq!(zs.next_timer(), Some(at("2026-12-02T07:00:00Z")));
        let spread = |_| Duration::from_secs(300);
        let mut out = Vec::new();
        zs.release(at("2026-12-02T06:59:59Z"), spread, &mut out);
        assert!(out.is_empty());
        let mut t = at("2026-12-02T07:00:00Z");
        let mut ticks = 0;
        while let Some(next) = zs.next_timer() {
            t = t.max(next);
            let before = out.len();
            zs.release(t, spread, &mut out);
            assert!(out.len() - before <= 2, "at most 600/300 per second");
            ticks += 1;
            assert!(ticks < 1000);
        }
        assert_eq!(out, (0..600).collect::<Vec<_>>());
        assert!(
            t <= at("2026-12-02T07:05:00Z"),
            "all out within the spread, at {t}"
        );
        assert_eq!(zs.held(), 0);
    }

    #[test]
    fn no_spread_releases_at_once() {
        let mut zs = ZoneSlots::default();
        let tz = TzId::from_name("Asia/Vladivostok").unwrap();
        let z = zs.slot_for(0, tz, QuietHours::default());
        let t = at("2026-12-01T13:00:00Z"); // 23:00 Vladivostok
        for e in 0..50 {
            zs.hold(z, e, t);
        }
        let open = zs.next_timer().unwrap();
        assert_eq!(open, at("2026-12-02T00:00:00Z"));
        let mut out = Vec::new();
        zs.release(open, |_| Duration::ZERO, &mut out);
        assert_eq!(out.len(), 50);
        assert_eq!(zs.held_in(z).count(), 0);
    }
}
