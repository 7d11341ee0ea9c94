//! Inbound queues: callers waiting for an operator with the queue's skill, how they are spread
//! over ready operators, and what a caller is told of their wait.
//!
//! The estimated wait of the caller at position `k` is read off the operators who serve the
//! queue: each is free now (ready), at the end of their wrap-up, or (on a call) when a call of
//! the queue's average handle time would end; every operator freed takes the next caller and is
//! free again one handle time (talk + wrap-up) later. The `k`-th such moment is the caller's
//! estimate. The average handle time is learned from the queue's calls as they end.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dialer::AttemptId;
use crate::time::Timestamp;

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct QueueId(pub u32);

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which ready operator takes a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// The one who has waited longest since their last call.
    #[default]
    LongestIdle,
    /// Each in turn, in the order they logged in.
    RoundRobin,
    /// The one who took the fewest of the queue's calls (longest idle among equals).
    FewestCalls,
}

/// How a queue serves its callers.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePolicy {
    pub distribution: Distribution,
    /// The longest a caller waits for an operator; then they are offered a callback.
    pub max_wait: Duration,
    /// How often a waiting caller hears their position and estimated wait.
    pub announce_every: Duration,
    /// The service level's threshold: calls answered by an operator within this.
    pub service_level: Duration,
    /// The operators' wrap-up after a call of this queue.
    pub wrap_up: Duration,
    /// The handle time (talk) assumed until the queue's own calls have taught one.
    pub handle_time: Duration,
    /// Campaigns that dial ahead of operators (predictive, power) and share operators with
    /// this queue place no new calls while this many callers wait (0: never).
    pub hold_back_outbound_at: u32,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        QueuePolicy {
            distribution: Distribution::LongestIdle,
            max_wait: Duration::from_secs(300),
            announce_every: Duration::from_secs(30),
            service_level: Duration::from_secs(20),
            wrap_up: Duration::from_secs(5),
            handle_time: Duration::from_secs(120),
            hold_back_outbound_at: 1,
        }
    }
}

impl QueuePolicy {
    pub fn check(&self) -> Result<(), String> {
        if self.max_wait.is_zero() {
            return Err("max_wait: give the longest a caller may wait (e.g. \"5m\")".into());
        }
        if self.announce_every < Duration::from_secs(5) {
            return Err("announce_every: at least 5 seconds".into());
        }
        if self.handle_time.is_zero() {
            return Err("handle_time: give a first guess of a call's length (e.g. \"2m\")".into());
        }
        Ok(())
    }
}

/// A queue's figures now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct QueueFigures {
    pub queue: QueueId,
    /// Callers waiting now.
    pub waiting: u32,
    /// The longest wait of those waiting now, ms.
    pub longest_wait_ms: u64,
    /// Callers who reached an operator.
    pub answered: u64,
    /// ... of them within the service level's threshold.
    pub answered_in_time: u64,
    /// Callers who hung up while waiting.
    pub abandoned: u64,
    /// Callers who waited the longest allowed (then offered a callback).
    pub timed_out: u64,
    /// answered_in_time / (answered + abandoned + timed_out); 1 with no calls yet.
    pub service_level: f64,
    /// The average handle time learned (talk), ms.
    pub handle_time_ms: u64,
}

/// Where an inbound call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InboundState {
    Waiting,
    /// Given to an operator (`Action::Bridge`), since then.
    Connected {
        operator: u32,
        since: Timestamp,
    },
    /// Out of the queue (waited too long): it only waits for its end.
    Left,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct InboundCall {
    pub queue: u16,
    pub arrived: Timestamp,
    pub state: InboundState,
    /// Its entry in the queue timers (next announcement or the end of its wait).
    pub timer: Option<Timestamp>,
}

pub(crate) struct Queue {
    pub id: QueueId,
    pub policy: QueuePolicy,
    /// Callers waiting, first in line first.
    pub waiting: VecDeque<AttemptId>,
    /// Round robin: the operator (slot) who took the last call.
    pub last_operator: Option<u32>,
    /// Average handle time (talk), ms, learned (exponentially weighted).
    pub handle_ms: f64,
    pub figures: QueueFigures,
}

impl Queue {
    pub fn new(id: QueueId, policy: QueuePolicy) -> Queue {
        Queue {
            id,
            handle_ms: policy.handle_time.as_millis() as f64,
            policy,
            waiting: VecDeque::new(),
            last_operator: None,
            figures: QueueFigures {
                queue: id,
                ..QueueFigures::default()
            },
        }
    }

    /// A call of the queue ended after `talk` with an operator.
    pub fn learn(&mut self, talk: Duration) {
        const WEIGHT: f64 = 0.1;
        self.handle_ms += WEIGHT * (talk.as_millis() as f64 - self.handle_ms);
    }
}

/// The moment each of the next `k` callers gets an operator, given when each operator serving
/// the queue is free (ms from now) and the handle time (talk + wrap-up): the `k`-th earliest.
pub(crate) fn kth_free(free_in: &mut Vec<u64>, k: usize, handle_ms: u64) -> Option<u64> {
    if free_in.is_empty() || k == 0 {
        return None;
    }
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<u64>> =
        free_in.drain(..).map(std::cmp::Reverse).collect();
    let mut at = 0;
    for _ in 0..k {
        let std::cmp::Reverse(t) = heap.pop()?;
        at = t;
        heap.push(std::cmp::Reverse(t + handle_ms.max(1)));
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::kth_free;

    #[test]
    fn the_kth_caller_waits_for_the_kth_operator_freed() {
        // Two operators, free in 10 s and 40 s; calls take 60 s.
        let at = |k| kth_free(&mut vec![10_000, 40_000], k, 60_000);
        assert_eq!(at(1), Some(10_000));
        assert_eq!(at(2), Some(40_000));
        assert_eq!(at(3), Some(70_000));
        assert_eq!(at(4), Some(100_000));
        assert_eq!(kth_free(&mut Vec::new(), 1, 60_000), None);
    }
}
