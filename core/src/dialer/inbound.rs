//! Inbound calls in the scheduler: callers queued for operators with the queue's skill, spread
//! over the ready ones by the queue's distribution, told their position and estimated wait,
//! taken out of line after the longest wait allowed, and given priority over outbound work
//! when an operator becomes free (blending).

use super::event::{Action, AttemptId, EventError};
use super::scheduler::Scheduler;
use crate::acd::queue::{InboundCall, InboundState, Queue, kth_free};
use crate::acd::{Distribution, OperatorId, OperatorState, QueueFigures, QueueId, QueuePolicy};
use crate::time::Timestamp;

impl Scheduler {
    pub(crate) fn save_queue(
        &mut self,
        id: QueueId,
        policy: QueuePolicy,
    ) -> Result<(), EventError> {
        policy.check().map_err(EventError::InvalidQueue)?;
        match self.queue_index.get(&id) {
            Some(&q) => self.queues[usize::from(q)].policy = policy,
            None => {
                let q = u16::try_from(self.queues.len())
                    .map_err(|_| EventError::InvalidQueue("more than 65,535 queues".into()))?;
                self.queues.push(Queue::new(id, policy));
                self.queue_index.insert(id, q);
            }
        }
        Ok(())
    }

    fn queue(&self, id: QueueId) -> Result<u16, EventError> {
        self.queue_index
            .get(&id)
            .copied()
            .ok_or(EventError::UnknownQueue(id))
    }

    /// The queues an operator serves (they must be logged in).
    pub(crate) fn operator_queues(
        &mut self,
        operator: OperatorId,
        queues: &[QueueId],
    ) -> Result<(), EventError> {
        let op = self
            .operators
            .find(operator)
            .ok_or(EventError::UnknownOperator(operator))?;
        let qs = queues
            .iter()
            .map(|&q| self.queue(q))
            .collect::<Result<Vec<_>, _>>()?;
        self.operators.slots[op as usize].queues = qs;
        if self.operators.slots[op as usize].state == OperatorState::Ready {
            self.operator_freed(op);
        }
        Ok(())
    }

    /// A caller is in the queue (the shell answered them): to a ready operator at once, else
    /// in line, told their position and wait.
    pub(crate) fn inbound_queued(
        &mut self,
        call: AttemptId,
        queue: QueueId,
    ) -> Result<(), EventError> {
        if !call.is_inbound() {
            return Err(EventError::NotInbound(call));
        }
        if self.inbound.contains_key(&call) {
            return Err(EventError::CallInUse(call));
        }
        let q = self.queue(queue)?;
        let now = self.now;
        self.inbound.insert(
            call,
            InboundCall {
                queue: q,
                arrived: now,
                state: InboundState::Waiting,
                timer: None,
            },
        );
        if let Some(op) = self.pick_operator(q) {
            self.connect_inbound(call, op);
            return Ok(());
        }
        self.queues[usize::from(q)].waiting.push_back(call);
        self.dial_check = true;
        self.announce(call);
        Ok(())
    }

    /// A ready operator serving queue `q`, by the queue's distribution.
    fn pick_operator(&self, q: u16) -> Option<u32> {
        let ops = &self.operators;
        let serves = |op: &u32| ops.slots[*op as usize].queues.contains(&q);
        let queue = &self.queues[usize::from(q)];
        match queue.policy.distribution {
            Distribution::LongestIdle => ops.ready_line().find(serves),
            Distribution::FewestCalls => ops
                .ready_line()
                .filter(serves)
                .enumerate()
                .min_by_key(|&(place, op)| (ops.slots[op as usize].queue_calls, place))
                .map(|(_, op)| op),
            Distribution::RoundRobin => {
                let last = queue.last_operator;
                let mut ready: Vec<u32> = ops.ready_line().filter(serves).collect();
                ready.sort_unstable();
                ready
                    .iter()
                    .copied()
                    .find(|&op| last.is_none_or(|l| op > l))
                    .or_else(|| ready.first().copied())
            }
        }
    }

    fn connect_inbound(&mut self, call: AttemptId, op: u32) {
        let now = self.now;
        let Some(c) = self.inbound.get_mut(&call) else {
            return;
        };
        c.state = InboundState::Connected {
            operator: op,
            since: now,
        };
        let (q, arrived) = (c.queue, c.arrived);
        if let Some(at) = c.timer.take() {
            self.queue_timers.remove(&(at, call));
        }
        let queue = &mut self.queues[usize::from(q)];
        queue.waiting.retain(|&w| w != call);
        queue.last_operator = Some(op);
        queue.figures.answered += 1;
        if now.since(arrived) <= queue.policy.service_level {
            queue.figures.answered_in_time += 1;
        }
        self.operators.connect(op, call, now);
        self.operators.slots[op as usize].queue_calls += 1;
        let operator = self.operators.slots[op as usize].id;
        self.pending.push_back(Action::Bridge {
            attempt: call,
            operator,
        });
    }

    /// An operator has just become free: the caller waiting longest in the queues they serve
    /// goes to them. Whether one did.
    pub(crate) fn inbound_to(&mut self, op: u32) -> bool {
        let best = self.operators.slots[op as usize]
            .queues
            .iter()
            .filter_map(|&q| {
                let first = *self.queues[usize::from(q)].waiting.front()?;
                Some((self.inbound.get(&first)?.arrived, first))
            })
            .min();
        match best {
            Some((_, call)) => {
                self.connect_inbound(call, op);
                true
            }
            None => false,
        }
    }

    /// The operator given a caller did not pick up: paused, and the caller goes back to the
    /// head of the line (or to the next ready operator).
    pub(crate) fn inbound_bridge_failed(&mut self, call: AttemptId) -> Result<(), EventError> {
        let c = *self
            .inbound
            .get(&call)
            .ok_or(EventError::UnknownAttempt(call))?;
        let InboundState::Connected { operator, .. } = c.state else {
            return Ok(());
        };
        if self.operators.slots[operator as usize].attempt == Some(call) {
            let state = self.operators.drop_call(operator);
            let id = self.operators.slots[operator as usize].id;
            self.pending.push_back(Action::OperatorState {
                operator: id,
                state,
            });
        }
        let queue = &mut self.queues[usize::from(c.queue)];
        queue.figures.answered = queue.figures.answered.saturating_sub(1);
        if self.now.since(c.arrived) <= queue.policy.service_level {
            queue.figures.answered_in_time = queue.figures.answered_in_time.saturating_sub(1);
        }
        if let Some(entry) = self.inbound.get_mut(&call) {
            entry.state = InboundState::Waiting;
        }
        if let Some(op) = self.pick_operator(c.queue) {
            self.connect_inbound(call, op);
            return Ok(());
        }
        self.queues[usize::from(c.queue)].waiting.push_front(call);
        self.set_queue_timer(call);
        Ok(())
    }

    /// The inbound call ended (either side hung up): out of line (abandoned in the queue), or
    /// its operator to wrap-up.
    pub(crate) fn inbound_ended(&mut self, call: AttemptId) -> Result<(), EventError> {
        let c = self
            .inbound
            .remove(&call)
            .ok_or(EventError::UnknownAttempt(call))?;
        let now = self.now;
        if let Some(at) = c.timer {
            self.queue_timers.remove(&(at, call));
        }
        let q = usize::from(c.queue);
        match c.state {
            InboundState::Waiting => {
                let queue = &mut self.queues[q];
                queue.waiting.retain(|&w| w != call);
                queue.figures.abandoned += 1;
                self.pending.push_back(Action::QueueAbandoned {
                    call,
                    queue: queue.id,
                    waited_ms: now.since(c.arrived).as_millis() as u64,
                });
                self.dial_check = true;
            }
            InboundState::Connected { operator, since } => {
                let queue = &mut self.queues[q];
                queue.learn(now.since(since));
                let wrap = queue.policy.wrap_up;
                if self.operators.slots[operator as usize].attempt == Some(call) {
                    let state = self.operators.end_call(operator, now.plus(wrap));
                    let id = self.operators.slots[operator as usize].id;
                    self.pending.push_back(Action::OperatorState {
                        operator: id,
                        state,
                    });
                    if state == OperatorState::Ready {
                        self.operator_freed(operator);
                    }
                }
                self.dial_check = true;
            }
            InboundState::Left => {}
        }
        Ok(())
    }

    /// Tells a waiting caller their position and estimated wait, and sets their next timer.
    fn announce(&mut self, call: AttemptId) {
        let Some(c) = self.inbound.get(&call) else {
            return;
        };
        let q = c.queue;
        let position = self.queues[usize::from(q)]
            .waiting
            .iter()
            .position(|&w| w == call)
            .map_or(1, |p| p + 1);
        let wait_estimate_ms = self.estimated_wait_ms(q, position);
        self.pending.push_back(Action::QueueAnnounce {
            call,
            position: position as u32,
            wait_estimate_ms,
        });
        self.set_queue_timer(call);
    }

    /// The caller's next timer: the next announcement, or the end of their longest wait.
    fn set_queue_timer(&mut self, call: AttemptId) {
        let now = self.now;
        let Some(c) = self.inbound.get_mut(&call) else {
            return;
        };
        let policy = &self.queues[usize::from(c.queue)].policy;
        let at = now
            .plus(policy.announce_every)
            .min(c.arrived.plus(policy.max_wait))
            .max(now.plus_millis(1));
        if let Some(old) = c.timer.replace(at) {
            self.queue_timers.remove(&(old, call));
        }
        self.queue_timers.insert((at, call));
    }

    /// Queue timers due by now: announcements, and callers who waited the longest allowed.
    pub(crate) fn queue_timers_due(&mut self, now: Timestamp) {
        while let Some(&(at, call)) = self.queue_timers.first() {
            if at > now {
                break;
            }
            self.queue_timers.pop_first();
            let Some(c) = self.inbound.get_mut(&call) else {
                continue;
            };
            c.timer = None;
            if c.state != InboundState::Waiting {
                continue;
            }
            let queue = &mut self.queues[usize::from(c.queue)];
            if now >= c.arrived.plus(queue.policy.max_wait) {
                c.state = InboundState::Left;
                queue.waiting.retain(|&w| w != call);
                queue.figures.timed_out += 1;
                let (id, waited_ms) = (queue.id, now.since(c.arrived).as_millis() as u64);
                self.pending.push_back(Action::QueueTimeout {
                    call,
                    queue: id,
                    waited_ms,
                });
                self.dial_check = true;
            } else {
                self.announce(call);
            }
        }
    }

    /// When the caller at `position` of queue `q` should get an operator, ms from now (see
    /// `acd::queue`).
    pub(crate) fn estimated_wait_ms(&self, q: u16, position: usize) -> u64 {
        let now = self.now;
        let queue = &self.queues[usize::from(q)];
        let talk = queue.handle_ms.max(1.0) as u64;
        let wrap = queue.policy.wrap_up.as_millis() as u64;
        let mut free_in = Vec::new();
        for o in &self.operators.slots {
            if !o.queues.contains(&q) || o.after_call.is_some() {
                continue;
            }
            let ms = match o.state {
                OperatorState::Ready => 0,
                OperatorState::WrapUp => o.wrap_until.since(now).as_millis() as u64,
                // Busy: a call lasts a handle time on average; one running past it is taken
                // to end within a quarter of one.
                OperatorState::OnCall | OperatorState::Reserved => {
                    let elapsed = now.since(o.busy_since).as_millis() as u64;
                    talk.saturating_sub(elapsed).max(talk / 4) + wrap
                }
                OperatorState::Paused | OperatorState::LoggedOut => continue,
            };
            free_in.push(ms);
        }
        // With nobody at work for the queue, the caller waits at least a handle time.
        kth_free(&mut free_in, position, talk + wrap).unwrap_or(talk + wrap)
    }

    /// Whether outbound calls placed ahead of operators hold back for campaign `c`: one of its
    /// operators serves a queue with at least its threshold of callers waiting.
    pub(crate) fn inbound_holds_back(&self, c: u16) -> bool {
        if self.queues.iter().all(|q| q.waiting.is_empty()) {
            return false;
        }
        self.campaigns[usize::from(c)].operators.iter().any(|&op| {
            self.operators.slots[op as usize].queues.iter().any(|&q| {
                let queue = &self.queues[usize::from(q)];
                let at = queue.policy.hold_back_outbound_at;
                at > 0 && queue.waiting.len() >= at as usize
            })
        })
    }

    /// A queue's figures now.
    pub fn queue_figures(&self, queue: QueueId) -> Option<QueueFigures> {
        let q = *self.queue_index.get(&queue)?;
        let queue = &self.queues[usize::from(q)];
        let mut f = queue.figures;
        f.waiting = queue.waiting.len() as u32;
        f.longest_wait_ms = queue
            .waiting
            .front()
            .and_then(|w| self.inbound.get(w))
            .map_or(0, |c| self.now.since(c.arrived).as_millis() as u64);
        let offered = f.answered + f.abandoned + f.timed_out;
        f.service_level = if offered == 0 {
            1.0
        } else {
            f.answered_in_time as f64 / offered as f64
        };
        f.handle_time_ms = queue.handle_ms as u64;
        Some(f)
    }

    /// The queues, by id.
    pub fn queue_ids(&self) -> Vec<QueueId> {
        self.queues.iter().map(|q| q.id).collect()
    }
}
