//! Calls: choosing the next lead to dial for a free operator, and what happens to the lead and
//! the operator when the call is answered and when it ends.

use super::attempt::Attempt;
use super::event::{Action, AttemptId, EventError};
use super::lead::{CampaignId, LeadState, Outcome};
use super::scheduler::Scheduler;
use super::table::CALLBACK_FRESH;
use crate::acd::{OperatorId, OperatorState};
use crate::pacing::PacingMode;
use crate::time::Timestamp;

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
        let attempt = self.attempts.start(Attempt::Ringing {
            lead: i,
            campaign: c,
            operator: Some(op),
        });
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

    /// Whether an operator is still held by this attempt (they may have been moved on).
    fn holds(&self, op: u32, attempt: AttemptId) -> bool {
        self.operators.slots[op as usize].attempt == Some(attempt)
    }

    /// A live person answered: to the operator the call was dialled for, else to the operator
    /// waiting longest for the campaign, else abandoned. A second answer changes nothing.
    pub(crate) fn answered(&mut self, attempt: AttemptId) -> Result<(), EventError> {
        let state = self
            .attempts
            .get(attempt)
            .ok_or(EventError::UnknownAttempt(attempt))?;
        let Attempt::Ringing {
            lead,
            campaign,
            operator,
        } = state
        else {
            return Ok(());
        };
        let reserved = operator.filter(|&op| {
            self.holds(op, attempt)
                && self.operators.slots[op as usize].state == OperatorState::Reserved
        });
        self.stats.answered += 1;
        match reserved.or_else(|| self.operators.longest_ready_for(campaign)) {
            Some(op) => {
                self.attempts.set(
                    attempt,
                    Attempt::Connected {
                        lead,
                        campaign,
                        operator: op,
                    },
                );
                self.operators.connect(op, attempt);
                let operator = self.operators.slots[op as usize].id;
                self.pending.push_back(Action::Bridge { attempt, operator });
            }
            None => {
                if let Some(op) = operator.filter(|&op| self.holds(op, attempt)) {
                    self.release_operator(op, None);
                }
                self.attempts
                    .set(attempt, Attempt::Abandoned { lead, campaign });
                self.stats.abandoned += 1;
                self.pending.push_back(Action::Abandon { attempt });
            }
        }
        Ok(())
    }

    /// An operator held by a call is free of it: wrap-up after a conversation (`wrap_until`),
    /// back in line otherwise.
    fn release_operator(&mut self, op: u32, wrap_until: Option<Timestamp>) {
        let state = match wrap_until {
            Some(until) => self.operators.end_call(op, until),
            None => self.operators.unreserve(op),
        };
        let id = self.operators.slots[op as usize].id;
        self.pending.push_back(Action::OperatorState {
            operator: id,
            state,
        });
    }

    pub(crate) fn finished(
        &mut self,
        now: Timestamp,
        attempt: AttemptId,
        outcome: Outcome,
    ) -> Result<(), EventError> {
        let last = self
            .attempts
            .end(attempt)
            .ok_or(EventError::UnknownAttempt(attempt))?;
        let (i, c) = (last.lead(), last.campaign());
        self.active_calls = self.active_calls.saturating_sub(1);
        let camp = &mut self.campaigns[usize::from(c)];
        camp.in_flight = camp.in_flight.saturating_sub(1);
        let wrap_until = now.plus(camp.policy.policy.wrap_up);
        let max_attempts = camp.policy.policy.max_attempts;
        let backoff = camp
            .policy
            .policy
            .backoff
            .after(outcome, self.leads.get(i).attempts);
        self.dial_check = true;

        // The operator: wrap-up after a conversation, back in line if the call never reached
        // them (a call reported as a contact without an answer event was a conversation too).
        match last {
            Attempt::Connected { operator, .. } if self.holds(operator, attempt) => {
                self.release_operator(operator, Some(wrap_until));
            }
            Attempt::Ringing {
                operator: Some(op), ..
            } if self.holds(op, attempt) => {
                let talked = outcome == Outcome::Contact;
                self.release_operator(op, talked.then_some(wrap_until));
            }
            _ => {}
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
