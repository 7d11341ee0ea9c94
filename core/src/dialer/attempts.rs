//! Calls: choosing the next lead to dial for a free operator, and what happens to the lead and
//! the operator when the call is answered and when it ends.

use super::event::{Action, AttemptId, EventError};
use super::lead::{CampaignId, LeadState, Outcome};
use super::scheduler::{AttemptSlot, Scheduler};
use super::table::CALLBACK_FRESH;
use crate::acd::{OperatorId, OperatorState};
use crate::pacing::PacingMode;
use crate::time::Timestamp;

fn attempt_id(index: u32, generation: u32) -> AttemptId {
    AttemptId(u64::from(index) | (u64::from(generation) << 32))
}

impl Scheduler {
    /// Progressive pacing: the operator waiting longest gets a call dialled for them, from the
    /// first of their campaigns (in their order of preference) that has a dialable lead.
    pub(crate) fn next_dial(&mut self) -> Option<Action> {
        if self.active_calls >= self.channel_limit {
            return None;
        }
        loop {
            // The first ready operator with a campaign that has leads waiting. Each failed try
            // below empties a campaign's ready queues, so this ends.
            let campaigns = &self.campaigns;
            let operators = &self.operators;
            let (op, c) = operators.ready_line().find_map(|op| {
                operators.slots[op as usize]
                    .skills
                    .iter()
                    .copied()
                    .find(|&c| {
                        let camp = &campaigns[usize::from(c)];
                        camp.running
                            && !camp.ready.is_empty()
                            && camp.policy.policy.mode == PacingMode::Progressive
                    })
                    .map(|c| (op, c))
            })?;
            if let Some((lead, class)) = self.pop_dialable(c) {
                return Some(self.start_attempt(op, c, lead, class));
            }
        }
    }

    fn start_attempt(&mut self, op: u32, c: u16, i: u32, class: u8) -> Action {
        let index = match self.free_attempts.pop() {
            Some(index) => index,
            None => {
                self.attempts.push(AttemptSlot {
                    lead: 0,
                    campaign: 0,
                    operator: None,
                    answered: false,
                    generation: 0,
                    live: false,
                });
                u32::try_from(self.attempts.len() - 1).expect("fewer than 4 billion calls at once")
            }
        };
        let slot = &mut self.attempts[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.lead = i;
        slot.campaign = c;
        slot.operator = Some(op);
        slot.answered = false;
        slot.live = true;
        let attempt = attempt_id(index, slot.generation);

        let lead = self.leads.get_mut(i);
        lead.attempts += 1;
        lead.state = LeadState::Dialing;
        let (id, phone, attempt_no, zone) = (lead.id, lead.phone, lead.attempts, lead.zone);
        self.operators.reserve(op, attempt);
        self.active_calls += 1;
        self.campaigns[usize::from(c)].in_flight += 1;
        self.stats.dials += 1;
        Action::Dial {
            attempt,
            lead: id,
            campaign: self.campaigns[usize::from(c)].id,
            phone,
            tz: self.quiet.get(zone).tz,
            attempt_no,
            class,
            operator: Some(self.operators.slots[op as usize].id),
        }
    }

    fn live_attempt(&self, attempt: AttemptId) -> Result<u32, EventError> {
        let index = attempt.0 as u32;
        let generation = (attempt.0 >> 32) as u32;
        match self.attempts.get(index as usize) {
            Some(a) if a.live && a.generation == generation => Ok(index),
            _ => Err(EventError::UnknownAttempt(attempt)),
        }
    }

    /// A live person answered: to the operator the call was dialled for, else to the operator
    /// waiting longest for the campaign, else abandoned.
    pub(crate) fn answered(&mut self, attempt: AttemptId) -> Result<(), EventError> {
        let a = self.live_attempt(attempt)?;
        let slot = &self.attempts[a as usize];
        if slot.answered {
            return Ok(());
        }
        let campaign = slot.campaign;
        let reserved = slot.operator.filter(|&op| {
            let o = &self.operators.slots[op as usize];
            o.state == OperatorState::Reserved && o.attempt == Some(attempt)
        });
        let operator = reserved.or_else(|| self.operators.longest_ready_for(campaign));
        self.attempts[a as usize].answered = true;
        self.stats.answered += 1;
        match operator {
            Some(op) => {
                self.attempts[a as usize].operator = Some(op);
                self.operators.connect(op, attempt);
                let operator = self.operators.slots[op as usize].id;
                self.pending.push_back(Action::Bridge { attempt, operator });
            }
            None => {
                self.attempts[a as usize].operator = None;
                self.stats.abandoned += 1;
                self.pending.push_back(Action::Abandon { attempt });
            }
        }
        Ok(())
    }

    pub(crate) fn finished(
        &mut self,
        now: Timestamp,
        attempt: AttemptId,
        outcome: Outcome,
    ) -> Result<(), EventError> {
        let a = self.live_attempt(attempt)?;
        let slot = &mut self.attempts[a as usize];
        slot.live = false;
        let (i, c, op) = (slot.lead, slot.campaign, slot.operator);
        self.free_attempts.push(a);
        self.active_calls = self.active_calls.saturating_sub(1);
        let camp = &mut self.campaigns[usize::from(c)];
        camp.in_flight = camp.in_flight.saturating_sub(1);
        let wrap_up = camp.policy.policy.wrap_up;
        let max_attempts = camp.policy.policy.max_attempts;
        let backoff = camp
            .policy
            .policy
            .backoff
            .after(outcome, self.leads.get(i).attempts);
        self.dial_check = true;

        // The operator: back in line if the call never reached them, else wrap-up.
        if let Some(op) = op {
            let o = &self.operators.slots[op as usize];
            if o.attempt == Some(attempt) {
                let talked = o.state == OperatorState::OnCall || outcome == Outcome::Contact;
                let state = if talked {
                    self.operators.end_call(op, now.plus(wrap_up))
                } else {
                    self.operators.unreserve(op)
                };
                let id = self.operators.slots[op as usize].id;
                self.pending.push_back(Action::OperatorState {
                    operator: id,
                    state,
                });
            }
        }

        // The lead: closed, or scheduled again.
        let lead = self.leads.get_mut(i);
        lead.history.push(outcome);
        let fresh_callback = lead.flags & CALLBACK_FRESH != 0;
        lead.flags &= !CALLBACK_FRESH;
        let (state, attempts, callback_at) = (lead.state, lead.attempts, lead.due.time());
        if state == LeadState::Cancelled {
            self.close(i, LeadState::Cancelled);
        } else if fresh_callback && attempts < max_attempts {
            self.schedule(i, callback_at.max(now));
        } else {
            match outcome {
                Outcome::Contact | Outcome::InvalidNumber => self.close(i, LeadState::Done),
                _ if attempts >= max_attempts => self.close(i, LeadState::Exhausted),
                _ => self.schedule(i, now.plus(backoff.unwrap_or_default())),
            }
        }
        Ok(())
    }

    pub(crate) fn login(
        &mut self,
        operator: OperatorId,
        campaigns: &[CampaignId],
    ) -> Result<(), EventError> {
        let skills = campaigns
            .iter()
            .map(|&c| self.campaign(c))
            .collect::<Result<Vec<_>, _>>()?;
        let before = self
            .operators
            .find(operator)
            .map(|op| self.operators.slots[op as usize].state);
        let op = self.operators.login(operator, skills);
        self.dial_check = true;
        self.tell_state(op, before);
        Ok(())
    }

    /// Says an operator's new state, when it changed.
    fn tell_state(&mut self, op: u32, before: Option<OperatorState>) {
        let o = &self.operators.slots[op as usize];
        if before != Some(o.state) {
            self.pending.push_back(Action::OperatorState {
                operator: o.id,
                state: o.state,
            });
        }
    }

    fn operator(&self, id: OperatorId) -> Result<u32, EventError> {
        self.operators
            .find(id)
            .ok_or(EventError::UnknownOperator(id))
    }

    pub(crate) fn operator_ready(
        &mut self,
        now: Timestamp,
        id: OperatorId,
    ) -> Result<(), EventError> {
        let op = self.operator(id)?;
        let before = self.operators.slots[op as usize].state;
        if self.operators.set_ready(op, now) {
            self.dial_check = true;
        }
        self.tell_state(op, Some(before));
        Ok(())
    }

    pub(crate) fn operator_away(&mut self, id: OperatorId, logout: bool) -> Result<(), EventError> {
        let op = self.operator(id)?;
        let before = self.operators.slots[op as usize].state;
        self.operators.set_away(op, logout);
        self.tell_state(op, Some(before));
        Ok(())
    }
}
