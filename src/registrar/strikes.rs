//! Failures counted per key (an address, an account, both) within a window, and a block once
//! there are too many: fail2ban's rule, in a table that cannot grow past its cap however many
//! keys a flood brings.

use std::collections::HashMap;
use std::hash::Hash;

/// How many failures within how long block a key, and for how long (ms).
#[derive(Debug, Clone, Copy)]
pub(super) struct Rule {
    pub limit: u32,
    pub window_ms: i64,
    pub block_ms: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Count {
    n: u32,
    since_ms: i64,
    blocked_until_ms: i64,
}

#[derive(Debug)]
pub(super) struct Strikes<K> {
    rule: Rule,
    cap: usize,
    map: HashMap<K, Count>,
}

impl<K: Eq + Hash + Clone> Strikes<K> {
    pub fn new(rule: Rule, cap: usize) -> Strikes<K> {
        Strikes {
            rule,
            cap,
            map: HashMap::new(),
        }
    }

    pub fn blocked(&self, key: &K, now_ms: i64) -> bool {
        self.map
            .get(key)
            .is_some_and(|c| c.blocked_until_ms > now_ms)
    }

    /// A failure of `key`; true when it blocks the key.
    pub fn strike(&mut self, key: &K, now_ms: i64) -> bool {
        if self.map.len() >= self.cap && !self.map.contains_key(key) {
            self.make_room(now_ms);
        }
        let rule = self.rule;
        let c = self.map.entry(key.clone()).or_default();
        if now_ms - c.since_ms > rule.window_ms {
            c.n = 0;
            c.since_ms = now_ms;
        }
        c.n += 1;
        if c.n >= rule.limit && c.blocked_until_ms <= now_ms {
            c.blocked_until_ms = now_ms + rule.block_ms;
            return true;
        }
        false
    }

    /// Forgets `key`'s failures (it proved itself).
    pub fn clear(&mut self, key: &K) {
        self.map.remove(key);
    }

    /// Drops the counts that no longer matter; if the table is still full, the oldest half of
    /// those not blocked (a flood of new keys pushes out old counts, never a block).
    fn make_room(&mut self, now_ms: i64) {
        let window = self.rule.window_ms;
        self.map
            .retain(|_, c| c.blocked_until_ms > now_ms || now_ms - c.since_ms <= window);
        if self.map.len() < self.cap {
            return;
        }
        let mut since: Vec<i64> = self
            .map
            .values()
            .filter(|c| c.blocked_until_ms <= now_ms)
            .map(|c| c.since_ms)
            .collect();
        since.sort_unstable();
        let cut = since.get(since.len() / 2).copied().unwrap_or(i64::MIN);
        self.map
            .retain(|_, c| c.blocked_until_ms > now_ms || c.since_ms > cut);
        if self.map.len() >= self.cap {
            // Every entry is a block: the oldest blocks go.
            let mut until: Vec<i64> = self.map.values().map(|c| c.blocked_until_ms).collect();
            until.sort_unstable();
            let cut = until[until.len() / 2];
            self.map.retain(|_, c| c.blocked_until_ms > cut);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        limit: 3,
        window_ms: 1000,
        block_ms: 5000,
    };

    #[test]
    fn too_many_failures_in_the_window_block_for_a_while() {
        let mut s = Strikes::new(RULE, 100);
        assert!(!s.strike(&1, 0));
        assert!(!s.strike(&1, 10));
        assert!(s.strike(&1, 20), "the third blocks");
        assert!(s.blocked(&1, 4000));
        assert!(!s.blocked(&1, 5021));
        assert!(!s.blocked(&2, 30), "another key is not touched");
        // Spread out, failures never add up.
        for i in 0..10 {
            assert!(!s.strike(&3, i * 1500));
        }
    }

    #[test]
    fn a_flood_of_keys_stays_within_the_cap_and_keeps_its_blocks() {
        let mut s = Strikes::new(RULE, 1000);
        for _ in 0..3 {
            s.strike(&u64::MAX, 0);
        }
        for k in 0..100_000u64 {
            s.strike(&k, 100);
        }
        assert!(s.len() <= 1000);
        assert!(s.blocked(&u64::MAX, 200));
    }
}
