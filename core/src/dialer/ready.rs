//! A campaign's due leads, one FIFO per priority class, with a bit mask of the classes that
//! hold entries so the best class is found in one instruction.

use std::collections::VecDeque;

pub(crate) struct ReadyQueues {
    classes: Vec<VecDeque<u64>>,
    /// Bit c set when `classes[c]` is not empty (its entries may be stale).
    mask: u32,
}

impl ReadyQueues {
    pub fn new(classes: usize) -> Self {
        assert!(classes <= 32, "at most 32 priority classes");
        ReadyQueues {
            classes: (0..classes).map(|_| VecDeque::new()).collect(),
            mask: 0,
        }
    }

    pub fn push(&mut self, class: u8, entry: u64) {
        let c = usize::from(class).min(self.classes.len() - 1);
        self.classes[c].push_back(entry);
        self.mask |= 1 << c;
    }

    /// Takes the oldest entry of the best class.
    pub fn pop(&mut self) -> Option<(u8, u64)> {
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
        self.mask == 0
    }

    pub fn len(&self) -> usize {
        self.classes.iter().map(VecDeque::len).sum()
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
        self.classes.iter_mut().flat_map(|q| q.drain(..)).collect()
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
}
