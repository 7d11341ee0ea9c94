//! Operators and their states: logged out → ready → reserved (a call is being dialled for them)
//! → on call → wrap-up → ready; paused in between. Ready operators are kept in the order they
//! became free, so the one waiting longest gets the next call.

use std::collections::BTreeSet;
use std::fmt;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::dialer::AttemptId;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OperatorId(pub u32);

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorState {
    LoggedOut,
    /// Free, waiting for a call.
    Ready,
    /// A call is being dialled for this operator (progressive dialing).
    Reserved,
    OnCall,
    /// Entering the result of the last call.
    WrapUp,
    Paused,
}

impl OperatorState {
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorState::LoggedOut => "logged_out",
            OperatorState::Ready => "ready",
            OperatorState::Reserved => "reserved",
            OperatorState::OnCall => "on_call",
            OperatorState::WrapUp => "wrap_up",
            OperatorState::Paused => "paused",
        }
    }
}

/// A lead held for an operator to look at before dialing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Previewed {
    pub lead: u32,
    pub campaign: u16,
    pub class: u8,
}

pub(crate) struct OperatorSlot {
    pub id: OperatorId,
    /// Campaigns this operator takes, as internal campaign indexes, in the order they are
    /// preferred.
    pub skills: Vec<u16>,
    pub state: OperatorState,
    /// When the operator last became free: their place in the ready line.
    pub ready_since: Timestamp,
    pub attempt: Option<AttemptId>,
    /// A lead shown to this operator (preview dialing), waiting for them to dial or skip it.
    pub preview: Option<Previewed>,
    /// When the current conversation started.
    pub busy_since: Timestamp,
    pub wrap_until: Timestamp,
    /// Paused or logged out once the current call ends (asked for during the call).
    pub after_call: Option<OperatorState>,
    /// Inbound queues this operator serves (internal queue indexes).
    pub queues: Vec<u16>,
    /// Inbound calls they took (for the fewest-calls distribution).
    pub queue_calls: u64,
}

#[derive(Default)]
pub(crate) struct Operators {
    pub slots: Vec<OperatorSlot>,
    by_id: FxHashMap<OperatorId, u32>,
    /// Ready operators by the time they became free (longest waiting first).
    ready: BTreeSet<(Timestamp, u32)>,
    /// Operators in wrap-up by the time it ends.
    wrap: BTreeSet<(Timestamp, u32)>,
}

impl Operators {
    pub fn find(&self, id: OperatorId) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    /// Logs an operator in (paused until they say they are ready), or updates their skills.
    pub fn login(&mut self, id: OperatorId, skills: Vec<u16>) -> u32 {
        if let Some(i) = self.find(id) {
            self.slots[i as usize].skills = skills;
            if self.slots[i as usize].state == OperatorState::LoggedOut {
                self.slots[i as usize].state = OperatorState::Paused;
            }
            return i;
        }
        let i = u32::try_from(self.slots.len()).expect("fewer than 4 billion operators");
        self.slots.push(OperatorSlot {
            id,
            skills,
            state: OperatorState::Paused,
            ready_since: Timestamp::MIN,
            attempt: None,
            preview: None,
            busy_since: Timestamp::MIN,
            wrap_until: Timestamp::MIN,
            after_call: None,
            queues: Vec::new(),
            queue_calls: 0,
        });
        self.by_id.insert(id, i);
        i
    }

    fn leave_state(&mut self, i: u32) {
        let s = &self.slots[i as usize];
        match s.state {
            OperatorState::Ready => {
                self.ready.remove(&(s.ready_since, i));
            }
            OperatorState::WrapUp => {
                self.wrap.remove(&(s.wrap_until, i));
            }
            _ => {}
        }
    }

    /// Ready from now on (at the back of the line), unless on a call.
    pub fn set_ready(&mut self, i: u32, now: Timestamp) -> bool {
        let state = self.slots[i as usize].state;
        match state {
            OperatorState::Ready | OperatorState::Reserved | OperatorState::OnCall => false,
            _ => {
                self.leave_state(i);
                let s = &mut self.slots[i as usize];
                s.state = OperatorState::Ready;
                s.ready_since = now;
                s.after_call = None;
                self.ready.insert((now, i));
                true
            }
        }
    }

    /// Paused (or logged out). On a call, it takes effect when the call ends.
    pub fn set_away(&mut self, i: u32, logout: bool) -> bool {
        let state = self.slots[i as usize].state;
        match state {
            OperatorState::OnCall | OperatorState::Reserved
                if self.slots[i as usize].attempt.is_some() =>
            {
                // A reserved operator keeps the call being dialled for them; the pause waits
                // until it ends, so no answered call is left without its operator.
                self.slots[i as usize].after_call = Some(if logout {
                    OperatorState::LoggedOut
                } else {
                    OperatorState::Paused
                });
                false
            }
            _ => {
                self.leave_state(i);
                let s = &mut self.slots[i as usize];
                s.state = if logout {
                    OperatorState::LoggedOut
                } else {
                    OperatorState::Paused
                };
                true
            }
        }
    }

    /// The operator waiting longest, among those taking `campaign`.
    pub fn longest_ready_for(&self, campaign: u16) -> Option<u32> {
        self.ready
            .iter()
            .map(|&(_, i)| i)
            .find(|&i| self.slots[i as usize].skills.contains(&campaign))
    }

    /// Ready operators, longest waiting first.
    pub fn ready_line(&self) -> impl Iterator<Item = u32> + '_ {
        self.ready.iter().map(|&(_, i)| i)
    }

    /// A call is being dialled for a ready operator: out of the ready line, keeping their place
    /// in case the call is not answered.
    pub fn reserve(&mut self, i: u32, attempt: AttemptId) {
        self.leave_state(i);
        let s = &mut self.slots[i as usize];
        s.state = OperatorState::Reserved;
        s.attempt = Some(attempt);
    }

    /// The call being dialled for them was not answered: back to their old place in line (or
    /// away, if they asked for it meanwhile).
    pub fn unreserve(&mut self, i: u32) -> OperatorState {
        let s = &mut self.slots[i as usize];
        s.attempt = None;
        if let Some(away) = s.after_call.take() {
            s.state = away;
        } else {
            s.state = OperatorState::Ready;
            self.ready.insert((s.ready_since, i));
        }
        s.state
    }

    pub fn connect(&mut self, i: u32, attempt: AttemptId, now: Timestamp) {
        self.leave_state(i);
        let s = &mut self.slots[i as usize];
        s.state = OperatorState::OnCall;
        s.attempt = Some(attempt);
        s.busy_since = now;
    }

    /// The operator did not pick up the call given to them: paused (not ready), unless they
    /// asked to log out meanwhile.
    pub fn drop_call(&mut self, i: u32) -> OperatorState {
        let s = &mut self.slots[i as usize];
        s.attempt = None;
        s.state = match s.after_call.take() {
            Some(OperatorState::LoggedOut) => OperatorState::LoggedOut,
            _ => OperatorState::Paused,
        };
        s.state
    }

    /// A lead is shown to a ready operator: out of the ready line, keeping their place.
    pub fn preview(&mut self, i: u32, lead: Previewed) {
        self.leave_state(i);
        let s = &mut self.slots[i as usize];
        s.state = OperatorState::Reserved;
        s.preview = Some(lead);
    }

    /// The lead shown to an operator, taken back (to dial or to requeue).
    pub fn take_preview(&mut self, i: u32) -> Option<Previewed> {
        self.slots[i as usize].preview.take()
    }

    /// The call ended: wrap-up until `until` (or away, if they asked for it during the call).
    pub fn end_call(&mut self, i: u32, until: Timestamp) -> OperatorState {
        let s = &mut self.slots[i as usize];
        s.attempt = None;
        if let Some(away) = s.after_call.take() {
            s.state = away;
        } else {
            s.state = OperatorState::WrapUp;
            s.wrap_until = until;
            self.wrap.insert((until, i));
        }
        s.state
    }

    /// The next wrap-up to end.
    pub fn next_wrap_end(&self) -> Option<Timestamp> {
        self.wrap.first().map(|&(t, _)| t)
    }

    /// Ends wrap-ups due by `now`; returns the operators made ready.
    pub fn end_wrap_ups(&mut self, now: Timestamp, out: &mut Vec<u32>) {
        while let Some(&(t, i)) = self.wrap.first() {
            if t > now {
                break;
            }
            self.wrap.pop_first();
            let s = &mut self.slots[i as usize];
            s.state = OperatorState::Ready;
            s.ready_since = t;
            self.ready.insert((t, i));
            out.push(i);
        }
    }

    /// Operators by state, for figures.
    pub fn count(&self, state: OperatorState) -> usize {
        self.slots.iter().filter(|s| s.state == state).count()
    }
}
