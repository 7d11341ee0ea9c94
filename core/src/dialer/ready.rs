//! A campaign's due leads, one FIFO per priority class, with a bit mask of the classes that
//! hold entries so the best class is found in one instruction; ahead of them all, the line of
//! missed calls' callbacks.

use std::collections::VecDeque;

pub(crate) struct ReadyQueues {
    classes: Vec<VecDeque<u64>>,
    /// Bit c set when `classes[c]` is not empty (its entries may be stale).
    mask: u32,
    /// Callbacks of missed inbound calls, dialled before every class, oldest first; each with
    /// the class its lead has (what the dial reports).
    first: VecDeque<(u8, u64)>,
}

impl ReadyQueues {
    pub fn new(classes: usize) -> Self {
        assert!(classes <= 32, "at most 32 priority classes");
        ReadyQueues {
            classes: (0..classes).map(|_| VecDeque::new()).collect(),
            mask: 0,
            first: VecDeque::new(),
        }
    }

    pub fn push(&mut self, class: u8, entry: u64) {
        let c = usize::from(class).min(self.classes.len() - 1);
        self.classes[c].push_back(entry);
        self.mask |= 1 << c;
    }

    /// Puts an entry in the line ahead of every class (a missed call's callback).
    pub fn push_first(&mut self, class: u8, entry: u64) {
        self.first.push_back((class, entry));
    }

    /// Takes the oldest callback of a missed call, else the oldest entry of the best class.
    pub fn pop(&mut self) -> Option<(u8, u64)> {
        if let Some(first) = self.first.pop_front() {
            return Some(first);
        }
        while self.mask != 0 {
            let c = self.mask.trailing_zeros() as usize;
            if let Some(e) = self.classes[c].pop_front() {
                if self.classes[c].is_empty() {
                    self.mask &= !(1 << c);
                }
                return Some((c as u8, e));
            }
            self.mask &= !(1 << c);
        }
        None
    }

    pub fn is_empty(&self) -> bool {
        self.mask == 0 && self.first.is_empty()
    }

    pub fn len(&self) -> usize {
        self.first.len() + self.classes.iter().map(VecDeque::len).sum::<usize>()
    }

    /// Entries of each class, stale ones included (for tests and figures).
    pub fn class(&self, c: usize) -> impl Iterator<Item = u64> + '_ {
        self.classes[c].iter().copied()
    }

    pub fn class_len(&self) -> usize {
        self.classes.len()
    }

    /// Empties all classes, for re-filing under a new priority variant.
    pub fn drain_all(&mut self) -> Vec<u64> {
        self.mask = 0;
        let first = self.first.drain(..).map(|(_, e)| e);
        first
            .chain(self.classes.iter_mut().flat_map(|q| q.drain(..)))
            .collect()
    }

    /// Re-shapes the queues for another number of classes (empties them).
    pub fn reshape(&mut self, classes: usize) -> Vec<u64> {
        let all = self.drain_all();
        *self = ReadyQueues::new(classes);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_class_first_then_fifo() {
        let mut q = ReadyQueues::new(4);
        assert_eq!(q.pop(), None);
        q.push(3, 30);
        q.push(1, 10);
        q.push(1, 11);
        q.push(0, 1);
        assert_eq!(q.pop(), Some((0, 1)));
        assert_eq!(q.pop(), Some((1, 10)));
        assert_eq!(q.pop(), Some((1, 11)));
        q.push(2, 20);
        assert_eq!(q.pop(), Some((2, 20)));
        assert_eq!(q.pop(), Some((3, 30)));
        assert!(q.is_empty());
        q.push(9, 99); // clamped to the last class
        assert_eq!(q.pop(), Some((3, 99)));
    }

    #[test]
    fn missed_calls_callbacks_come_before_every_class() {
        let mut q = ReadyQueues::new(4);
        q.push(0, 1);
        q.push_first(3, 30);
        q.push_first(0, 2);
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop(), Some((3, 30)));
        assert_eq!(q.pop(), Some((0, 2)));
        assert_eq!(q.pop(), Some((0, 1)));
        assert!(q.is_empty());
        q.push_first(1, 5);
        assert!(!q.is_empty());
        assert_eq!(q.drain_all(), vec![5]);
        assert!(q.is_empty());
    }
}
