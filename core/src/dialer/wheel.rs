//! A hierarchical timing wheel with one-second resolution, for leads waiting for their next
//! attempt. Inserting is O(1); handing out what is due is O(1) per entry (an entry moves down at
//! most three levels). A plain binary heap pays a cache miss per comparison: with a million
//! leads waiting, the wheel is what keeps the scheduler's tick short.
//!
//! Four levels of 64 slots: 1 s, 64 s, ~68 min and ~3 days per slot, so the wheel spans
//! 64^4 s (~194 days). Later entries wait in a sorted overflow map.
//!
//! Entries are opaque `u64`s. The wheel does not remove entries: the owner marks an entry stale
//! (a lead rescheduled or cancelled) and drops it when it comes out. When an entry moves down a
//! level, the wheel asks the owner for its due time, so entries need not carry it.

use std::collections::BTreeMap;

const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 4;

struct Level {
    /// Bit i set when slots[i] is not empty.
    occupied: u64,
    slots: Vec<Vec<u64>>,
}

pub struct Wheel {
    /// Every entry due at or before this second has been handed out.
    elapsed: u64,
    started: bool,
    levels: Vec<Level>,
    overflow: BTreeMap<u64, Vec<u64>>,
    len: usize,
    scratch: Vec<u64>,
}

/// Seconds covered by one slot of `level`.
const fn slot_range(level: usize) -> u64 {
    1 << (BITS as usize * level)
}

/// Seconds covered by a whole `level`.
const fn level_range(level: usize) -> u64 {
    1 << (BITS as usize * (level + 1))
}

/// The level an entry due at `when` belongs to: the highest 6-bit group in which `when` and
/// `elapsed` differ.
fn level_for(elapsed: u64, when: u64) -> usize {
    let masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros() as usize;
    significant / BITS as usize
}

impl Default for Wheel {
    fn default() -> Self {
        Wheel {
            elapsed: 0,
            started: false,
            levels: (0..LEVELS)
                .map(|_| Level {
                    occupied: 0,
                    slots: (0..SLOTS).map(|_| Vec::new()).collect(),
                })
                .collect(),
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

    /// Adds an entry due at second `when`. An entry already due (at or before the last
    /// `advance`) is given back: the caller handles it now.
    pub fn insert(&mut self, when: u64, entry: u64) -> Result<(), u64> {
        if when <= self.elapsed {
            return Err(entry);
        }
        self.place(when, entry);
        self.len += 1;
        Ok(())
    }

    fn place(&mut self, when: u64, entry: u64) {
        let level = level_for(self.elapsed, when);
        if level >= LEVELS {
            self.overflow.entry(when).or_default().push(entry);
            return;
        }
        let slot = ((when >> (BITS as usize * level)) as usize) & (SLOTS - 1);
        let l = &mut self.levels[level];
        l.slots[slot].push(entry);
        l.occupied |= 1 << slot;
    }

    /// The next slot to process: (level, slot, the second it is due to be processed).
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        for (level, l) in self.levels.iter().enumerate() {
            if l.occupied == 0 {
                continue;
            }
            let now_slot = ((self.elapsed / slot_range(level)) % SLOTS as u64) as u32;
            let rotated = l.occupied.rotate_right(now_slot);
            let slot = (rotated.trailing_zeros() + now_slot) as usize % SLOTS;
            let level_start = self.elapsed & !(level_range(level) - 1);
            let mut deadline = level_start + slot as u64 * slot_range(level);
            if deadline <= self.elapsed {
                deadline += level_range(level);
            }
            return Some((level, slot, deadline));
        }
        None
    }

    /// The next second at which `advance` has something to do, if any. It may come earlier
    /// than the next entry is due (an entry moving down a level), never later.
    pub fn next_deadline(&self) -> Option<u64> {
        let wheel = self.next_expiration().map(|(_, _, d)| d);
        let far = self.overflow.keys().next().copied();
        match (wheel, far) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Hands out every entry due at or before second `now`, in order of due second. `due_of`
    /// gives an entry's due second, or `None` when it is stale (then it is dropped).
    pub fn advance(
        &mut self,
        now: u64,
        mut due_of: impl FnMut(u64) -> Option<u64>,
        mut out: impl FnMut(u64),
    ) {
        if !self.started {
            // The first call sets the wheel's clock; anything inserted before it waited in the
            // overflow map.
            self.elapsed = now;
            self.started = true;
            self.pull_overflow(now, &mut due_of, &mut out);
            return;
        }
        if now <= self.elapsed {
            return;
        }
        self.pull_overflow(now, &mut due_of, &mut out);
        while let Some((level, slot, deadline)) = self.next_expiration() {
            if deadline > now {
                break;
            }
            self.elapsed = deadline;
            let l = &mut self.levels[level];
            l.occupied &= !(1 << slot);
            std::mem::swap(&mut self.scratch, &mut l.slots[slot]);
            let mut batch = std::mem::take(&mut self.scratch);
            self.len -= batch.len();
            for entry in batch.drain(..) {
                if level == 0 {
                    out(entry);
                    continue;
                }
                match due_of(entry) {
                    None => {}
                    Some(when) if when <= self.elapsed => out(entry),
                    Some(when) => {
                        self.place(when, entry);
                        self.len += 1;
                    }
                }
            }
            // Give the (now empty) buffer back to the slot so its capacity is reused.
            let l = &mut self.levels[level];
            if l.slots[slot].is_empty() {
                std::mem::swap(&mut batch, &mut l.slots[slot]);
            }
            self.scratch = batch;
            self.scratch.clear();
        }
        self.elapsed = now;
        self.pull_overflow(now, &mut due_of, &mut out);
    }

    /// Moves overflow entries that now fit into the wheel (or out, when due).
    fn pull_overflow(
        &mut self,
        now: u64,
        due_of: &mut impl FnMut(u64) -> Option<u64>,
        out: &mut impl FnMut(u64),
    ) {
        while let Some((&when, _)) = self.overflow.first_key_value() {
            if when > now && level_for(self.elapsed, when) >= LEVELS {
                break;
            }
            let Some((when, entries)) = self.overflow.pop_first() else {
                break;
            };
            self.len -= entries.len();
            for entry in entries {
                match due_of(entry) {
                    None => {}
                    Some(w) if w <= now => out(entry),
                    Some(_) if when <= self.elapsed => out(entry),
                    Some(_) => {
                        self.place(when, entry);
                        self.len += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Runs the wheel against a sorted map: the same entries come out at the same seconds.
    fn check(start: u64, ops: &[(u64, u64)], steps: &[u64]) {
        let mut w = Wheel::default();
        w.advance(start, |_| None, |_| {});
        let mut due: BTreeMap<u64, u64> = BTreeMap::new(); // entry -> when
        let mut now = start;
        let mut next_id = 0u64;
        let mut ops = ops.iter();
        for &step in steps {
            // insert a few
            for &(delay, _) in ops.by_ref().take(3) {
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
            if let Some(d) = w.next_deadline() {
                let earliest = due.values().min().copied().unwrap();
                assert!(
                    d <= earliest,
                    "deadline {d} after earliest entry {earliest}"
                );
            }
            now += step;
            let mut got = Vec::new();
            let snapshot = due.clone();
            w.advance(now, |e| snapshot.get(&e).copied(), |e| got.push(e));
            let mut expected: Vec<u64> = due
                .iter()
                .filter(|&(_, &t)| t <= now)
                .map(|(&e, _)| e)
                .collect();
            for e in &got {
                assert!(due[e] <= now, "entry {e} due {} came out at {now}", due[e]);
            }
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
        let ops: Vec<(u64, u64)> = [
            0, 1, 2, 63, 64, 65, 4095, 4096, 300_000, 20_000_000, 17_000_000,
        ]
        .iter()
        .map(|&d| (d, 0))
        .collect();
        check(
            1_800_000_000,
            &ops,
            &[1, 1, 1, 60, 4000, 100_000, 1_000_000, 20_000_000, 1],
        );
    }

    #[test]
    fn entries_come_out_in_due_order_within_a_call() {
        let mut w = Wheel::default();
        w.advance(1000, |_| None, |_| {});
        for (id, when) in [(1u64, 5000u64), (2, 1001), (3, 1500), (4, 1001)] {
            w.insert(when, id).unwrap();
        }
        let mut seen = Vec::new();
        let when = |e: u64| Some([0, 5000, 1001, 1500, 1001][e as usize]);
        w.advance(6000, when, |e| seen.push(e));
        assert_eq!(seen, [2, 4, 3, 1]);
    }

    #[test]
    fn stale_entries_are_dropped_when_they_move() {
        let mut w = Wheel::default();
        w.advance(1_000, |_| None, |_| {});
        w.insert(1_000 + 5_000, 7).unwrap();
        let mut seen = Vec::new();
        w.advance(1_000 + 10_000, |_| None, |e| seen.push(e));
        assert!(seen.is_empty());
        assert!(w.is_empty());
    }

    proptest! {
        #[test]
        fn matches_a_sorted_map(
            start in 1_000_000_000u64..2_000_000_000,
            ops in proptest::collection::vec((0u64..200_000, 0u64..1), 1..120),
            steps in proptest::collection::vec(prop_oneof![0u64..3, 0u64..100, 0u64..10_000, 0u64..300_000], 1..40),
        ) {
            check(start, &ops, &steps);
        }
    }
}
