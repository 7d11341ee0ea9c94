//! The highest `nc` accepted for each nonce (RFC 7616 §3.4): a digest answer is taken once.
//! Replayed as captured, or with a count that went backwards, it is not: the phone gets a fresh
//! challenge, the replayer nothing. Only answers that proved the password are noted, so the
//! table holds at most what operators' phones used within a nonce's life, and never more than
//! its cap (when full, an answer on a new nonce is sent for a fresh challenge: safe, and rare).

use std::collections::{HashMap, VecDeque};

#[derive(Debug)]
pub(super) struct NonceCounts {
    life_ms: i64,
    cap: usize,
    highest: HashMap<String, u32>,
    /// (issued at, nonce), oldest first: when each is forgotten.
    order: VecDeque<(i64, String)>,
}

impl NonceCounts {
    pub fn new(life_ms: i64, cap: usize) -> NonceCounts {
        NonceCounts {
            life_ms,
            cap,
            highest: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `nc` is new for `nonce` (issued at `issued_ms`): above every count accepted for
    /// it. It is noted when it is.
    pub fn accept(&mut self, nonce: &str, nc: u32, issued_ms: i64, now_ms: i64) -> bool {
        while let Some((at, _)) = self.order.front() {
            if now_ms - at <= self.life_ms {
                break;
            }
            if let Some((_, n)) = self.order.pop_front() {
                self.highest.remove(&n);
            }
        }
        let full = self.highest.len() >= self.cap;
        match self.highest.get_mut(nonce) {
            Some(last) if nc > *last => {
                *last = nc;
                true
            }
            Some(_) => false,
            None if full => false,
            None => {
                self.highest.insert(nonce.to_string(), nc);
                self.order.push_back((issued_ms, nonce.to_string()));
                true
            }
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.highest.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_count_is_taken_once_and_only_going_up() {
        let mut c = NonceCounts::new(300_000, 10);
        assert!(c.accept("n1", 1, 0, 10));
        assert!(!c.accept("n1", 1, 0, 20), "replayed");
        assert!(c.accept("n1", 2, 0, 30));
        assert!(!c.accept("n1", 1, 0, 40), "reordered");
        assert!(c.accept("n2", 1, 5, 50));
        // Past their life they are forgotten (and the registrar calls such nonces stale).
        assert!(c.accept("n3", 1, 400_000, 400_000));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_full_table_takes_no_new_nonce() {
        let mut c = NonceCounts::new(300_000, 2);
        assert!(c.accept("a", 1, 0, 0));
        assert!(c.accept("b", 1, 0, 0));
        assert!(!c.accept("c", 1, 0, 0));
        assert!(c.accept("a", 2, 0, 0), "known nonces go on");
    }
}
