//! A timing wheel with one-second slots, for leads waiting for their next attempt.
//!
//! One flat ring of 2^17 slots (36 hours ahead, past any default back-off) with a two-level
//! bitmap of the slots in use: inserting is O(1), finding the next due second is a few word
//! scans, and handing out a second's leads touches only those leads. Unlike a hierarchical wheel,
//! no entry is ever moved between levels, so there are no cascade bursts: a tick costs what is
//! due in it. Entries further ahead (next week's callbacks) wait in a sorted overflow map and
//! join the ring, one second's worth at a time, as it comes within 36 hours.
//!
//! Entries are opaque `u64`s. The wheel never removes one: the owner marks an entry stale (a lead
//! rescheduled or cancelled) and drops it when it comes out.

use std::collections::BTreeMap;

const SLOT_BITS: u32 = 17;
const SLOTS: u64 = 1 << SLOT_BITS;
const WORDS: usize = (SLOTS / 64) as usize;

pub struct Wheel {
    /// Every entry due at or before this second has been handed out.
    elapsed: u64,
    started: bool,
    slots: Vec<Vec<u64>>,
    /// Bit s set when slot s holds entries.
    used: Vec<u64>,
    /// Bit w set when word w of `used` is not zero.
    summary: Vec<u64>,
    /// Entries due beyond the ring, by due second.
    overflow: BTreeMap<u64, Vec<u64>>,
    len: usize,
    scratch: Vec<u64>,
}

impl Default for Wheel {
    fn default() -> Self {
        Wheel {
            elapsed: 0,
            started: false,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            used: vec![0; WORDS],
            summary: vec![0; WORDS / 64],
            overflow: BTreeMap::new(),
            len: 0,
            scratch: Vec::new(),
        }
    }
}

impl Wheel {
    /// Entries held, stale ones included.
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn mark(&mut self, slot: usize) {
        let w = slot / 64;
        self.used[w] |= 1 << (slot % 64);
        self.summary[w / 64] |= 1 << (w % 64);
    }

    fn unmark(&mut self, slot: usize) {
        let w = slot / 64;
        self.used[w] &= !(1 << (slot % 64));
        if self.used[w] == 0 {
            self.summary[w / 64] &= !(1 << (w % 64));
        }
    }

    /// The first used slot at or after `from` (slot index, no wrap).
    fn next_used_from(&self, from: usize) -> Option<usize> {
        if from >= SLOTS as usize {
            return None;
        }
        let w = from / 64;
        let bits = self.used[w] & (!0u64 << (from % 64));
        if bits != 0 {
            return Some(w * 64 + bits.trailing_zeros() as usize);
        }
        // Whole words after w, by the summary.
        let next_w = w + 1;
        if next_w >= WORDS {
            return None;
        }
        let mut sw = next_w / 64;
        let mut sbits = self.summary[sw] & (!0u64 << (next_w % 64));
        loop {
            if sbits != 0 {
                let word = sw * 64 + sbits.trailing_zeros() as usize;
                return Some(word * 64 + self.used[word].trailing_zeros() as usize);
            }
            sw += 1;
            if sw >= self.summary.len() {
                return None;
            }
            sbits = self.summary[sw];
        }
    }

    /// The second of the next used slot after `elapsed`, within the ring.
    fn next_in_ring(&self) -> Option<u64> {
        let start = ((self.elapsed + 1) % SLOTS) as usize;
        let slot = self
            .next_used_from(start)
            .or_else(|| self.next_used_from(0).filter(|&s| s < start))?;
        let offset = (slot as u64 + SLOTS - start as u64) % SLOTS;
        Some(self.elapsed + 1 + offset)
    }

    /// Adds an entry due at second `when`. An entry already due (at or before the last
    /// `advance`) is given back: the caller handles it now.
    pub fn insert(&mut self, when: u64, entry: u64) -> Result<(), u64> {
        if self.started && when <= self.elapsed {
            return Err(entry);
        }
        self.len += 1;
        if !self.started || when - self.elapsed >= SLOTS {
            self.overflow.entry(when).or_default().push(entry);
            return Ok(());
        }
        let slot = (when % SLOTS) as usize;
        self.slots[slot].push(entry);
        self.mark(slot);
        Ok(())
    }

    /// The next second at which an entry is due, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        let ring = if self.started {
            self.next_in_ring()
        } else {
            None
        };
        let far = self.overflow.keys().next().copied();
        match (ring, far) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Hands out every entry due at or before second `now`, in order of due second (and of
    /// insertion within a second).
    pub fn advance(&mut self, now: u64, mut out: impl FnMut(u64)) {
        if !self.started {
            self.started = true;
            self.elapsed = now;
            self.pull_overflow(&mut out);
            return;
        }
        if now <= self.elapsed {
            return;
        }
        loop {
            self.pull_overflow(&mut out);
            let Some(second) = self.next_in_ring() else {
                break;
            };
            if second > now {
                break;
            }
            let slot = (second % SLOTS) as usize;
            std::mem::swap(&mut self.scratch, &mut self.slots[slot]);
            self.unmark(slot);
            self.len -= self.scratch.len();
            self.elapsed = second;
            for &e in &self.scratch {
                out(e);
            }
            self.scratch.clear();
            // Keep the larger buffer in the slot, so a busy second does not reallocate daily.
            if self.scratch.capacity() > self.slots[slot].capacity() {
                std::mem::swap(&mut self.scratch, &mut self.slots[slot]);
            }
        }
        self.elapsed = now;
        self.pull_overflow(&mut out);
    }

    /// Moves overflow entries that are now within the ring into it (or out, when due).
    fn pull_overflow(&mut self, out: &mut impl FnMut(u64)) {
        while let Some((&when, _)) = self.overflow.first_key_value() {
            if when > self.elapsed && when - self.elapsed >= SLOTS {
                break;
            }
            let Some((when, entries)) = self.overflow.pop_first() else {
                break;
            };
            if when <= self.elapsed {
                self.len -= entries.len();
                entries.into_iter().for_each(&mut *out);
                continue;
            }
            let slot = (when % SLOTS) as usize;
            self.slots[slot].extend(entries);
            self.mark(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Runs the wheel against a sorted map: the same entries come out by the same seconds, in
    /// due order, and the next deadline is exact.
    fn check(start: u64, ops: &[u64], steps: &[u64]) {
        let mut w = Wheel::default();
        w.advance(start, |_| {});
        let mut due: BTreeMap<u64, u64> = BTreeMap::new(); // entry -> when
        let mut now = start;
        let mut next_id = 0u64;
        let mut ops = ops.iter();
        for &step in steps {
            for &delay in ops.by_ref().take(3) {
                let when = now + delay;
                let id = next_id;
                next_id += 1;
                match w.insert(when, id) {
                    Ok(()) => {
                        due.insert(id, when);
                    }
                    Err(e) => assert!(when <= now && e == id),
                }
            }
            assert_eq!(
                w.next_deadline(),
                due.values().min().copied(),
                "next deadline at {now}"
            );
            now += step;
            let mut got = Vec::new();
            w.advance(now, |e| got.push(e));
            let whens: Vec<u64> = got.iter().map(|e| due[e]).collect();
            assert!(
                whens.windows(2).all(|p| p[0] <= p[1]),
                "out of order: {whens:?}"
            );
            let mut expected: Vec<u64> = due
                .iter()
                .filter(|&(_, &t)| t <= now)
                .map(|(&e, _)| e)
                .collect();
            got.sort_unstable();
            expected.sort_unstable();
            assert_eq!(got, expected, "at {now}");
            for e in &got {
                due.remove(e);
            }
            assert_eq!(w.len(), due.len());
        }
    }

    #[test]
    fn small_and_far_delays() {
        let ops = [
            0, 1, 2, 63, 64, 65, 4095, 4096, 131_071, 131_072, 131_073, 300_000, 20_000_000,
        ];
        check(
            1_800_000_000,
            &ops,
            &[
                1, 1, 1, 60, 4000, 100_000, 140_000, 1_000_000, 20_000_000, 1,
            ],
        );
    }

    #[test]
    fn entries_come_out_in_due_order_within_a_call() {
        let mut w = Wheel::default();
        w.advance(1000, |_| {});
        for (id, when) in [
            (1u64, 5000u64),
            (2, 1001),
            (3, 1500),
            (4, 1001),
            (5, 400_000),
        ] {
            w.insert(when, id).unwrap();
        }
        assert_eq!(w.next_deadline(), Some(1001));
        let mut seen = Vec::new();
        w.advance(500_000, |e| seen.push(e));
        assert_eq!(seen, [2, 4, 3, 1, 5]);
        assert!(w.is_empty());
    }

    #[test]
    fn a_wrapped_ring_finds_the_next_second() {
        let mut w = Wheel::default();
        let start = SLOTS * 10 - 5;
        w.advance(start, |_| {});
        w.insert(start + 10, 1).unwrap(); // past the ring's end, wrapped to its start
        assert_eq!(w.next_deadline(), Some(start + 10));
        let mut seen = Vec::new();
        w.advance(start + 9, |e| seen.push(e));
        assert!(seen.is_empty());
        w.advance(start + 10, |e| seen.push(e));
        assert_eq!(seen, [1]);
    }

    proptest! {
        #[test]
        fn matches_a_sorted_map(
            start in 1_000_000_000u64..2_000_000_000,
            ops in proptest::collection::vec(prop_oneof![0u64..100, 0u64..200_000, 0u64..1_000_000], 1..120),
            steps in proptest::collection::vec(prop_oneof![0u64..3, 0u64..100, 0u64..10_000, 0u64..300_000], 1..40),
        ) {
            check(start, &ops, &steps);
        }
    }
}
