//! The engine's timers, as data: one table of what is due when, read by the loop. No task
//! sleeps on the engine's behalf, so a test can run the engine's time forward, and every timer
//! is seen in one place.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Timers<T> {
    due: BTreeMap<(Instant, u64), T>,
    /// Ties at one instant go in the order they were set.
    seq: u64,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            due: BTreeMap::new(),
            seq: 0,
        }
    }
}

impl<T> Timers<T> {
    /// `what` is due at `when`.
    pub fn at(&mut self, when: Instant, what: T) {
        self.seq += 1;
        self.due.insert((when, self.seq), what);
    }

    /// `what` is due `after` from `now`.
    pub fn after(&mut self, now: Instant, after: Duration, what: T) {
        self.at(now + after, what);
    }

    /// When the next timer is due.
    pub fn next(&self) -> Option<Instant> {
        self.due.keys().next().map(|(at, _)| *at)
    }

    /// The first timer due by `now`, taken off the table.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        let first = self.due.first_entry()?;
        if first.key().0 > now {
            return None;
        }
        Some(first.remove())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_come_due_in_time_order_and_ties_in_the_order_set() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.after(t0, Duration::from_secs(2), "b");
        t.after(t0, Duration::from_secs(1), "a");
        t.after(t0, Duration::from_secs(2), "c");
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None, "nothing is due yet");
        assert_eq!(t.pop_due(t0 + Duration::from_secs(1)), Some("a"));
        assert_eq!(t.pop_due(t0 + Duration::from_secs(1)), None);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(t.pop_due(later), Some("b"));
        assert_eq!(t.pop_due(later), Some("c"));
        assert_eq!(t.next(), None);
    }
}
