//! Calls: placing them (for an operator, or ahead of operators), what happens when one is
//! answered (connected, made to wait up to `abandon_after`, or abandoned), and when it ends.

use super::attempt::Attempt;
use super::event::{Action, AttemptId, EventError};
use super::lead::{LeadState, Outcome};
use super::policy::CampaignKind;
use super::scheduler::Scheduler;
use super::table::CALLBACK_FRESH;
use crate::acd::{OperatorState, Previewed};
use crate::pacing::{AbandonAudit, PacingMode};
use crate::time::Timestamp;

impl Scheduler {
    /// The next call to place, if any: first the calls paced campaigns planned ahead of
    /// operators, then, for the operator waiting longest, a call dialled for them from the first
    /// of their operator-bound campaigns (progressive, preview) with a dialable lead.
    pub(crate) fn next_dial(&mut self) -> Option<Action> {
        if self.active_calls >= self.channel_limit {
            return None;
        }
        if let Some(dial) = self.next_paced_dial() {
            return Some(dial);
        }
        if let Some(dial) = self.next_reminder() {
            return Some(dial);
        }
        loop {
            // Each failed try below empties a campaign's ready queues, so this ends.
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
                            && camp.pacing.effective.is_operator_bound()
                            && camp.policy.policy.kind == CampaignKind::Operators
                    })
                    .map(|c| (op, c))
            })?;
            if let Some((lead, class)) = self.pop_dialable(c) {
                if self.campaigns[usize::from(c)].pacing.effective == PacingMode::Preview {
                    return Some(self.show_preview(
                        op,
                        Previewed {
                            lead,
                            campaign: c,
                            class,
                        },
                    ));
                }
                return Some(self.start_attempt(Some(op), c, lead, class));
            }
        }
    }

    /// The next pickup reminder to place: reminder campaigns dial without operators, up to
    /// their `bot_channels` at once. A lead past its `until` is closed on the way.
    fn next_reminder(&mut self) -> Option<Action> {
        for c in 0..self.campaigns.len() as u16 {
            loop {
                let camp = &self.campaigns[usize::from(c)];
                let policy = &camp.policy.policy;
                if policy.kind != CampaignKind::PickupReminder
                    || !camp.running
                    || camp.ready.is_empty()
                    || camp.in_flight >= policy.bot_channels
                {
                    break;
                }
                let Some((lead, class)) = self.pop_dialable(c) else {
                    break;
                };
                let id = self.leads.get(lead).id;
                if self.until.get(&id).is_some_and(|&t| t <= self.now) {
                    self.close(lead, LeadState::Exhausted);
                    continue;
                }
                return Some(self.start_attempt(None, c, lead, class));
            }
        }
        None
    }

    fn show_preview(&mut self, op: u32, p: Previewed) -> Action {
        self.operators.preview(op, p);
        // With an operator now: a cancel or a callback waits for their answer, as for a call.
        self.leads.get_mut(p.lead).state = LeadState::Dialing;
        let lead = self.leads.get(p.lead);
        Action::Preview {
            operator: self.operators.slots[op as usize].id,
            lead: lead.id,
            campaign: self.campaigns[usize::from(p.campaign)].id,
            phone: lead.phone,
            tz: self.quiet.get(lead.zone).tz,
            class: p.class,
        }
    }

    /// Places a call, for `op` or (paced) for whoever is free when it is answered.
    pub(crate) fn start_attempt(&mut self, op: Option<u32>, c: u16, i: u32, class: u8) -> Action {
        let attempt = self.attempts.start(Attempt::Ringing {
            lead: i,
            campaign: c,
            operator: op,
            dialed_at: self.now,
        });
        let lead = self.leads.get_mut(i);
        lead.attempts += 1;
        lead.state = LeadState::Dialing;
        lead.flags &= !super::table::FIRST;
        let (id, phone, attempt_no, zone) = (lead.id, lead.phone, lead.attempts, lead.zone);
        let shared = lead.flags & super::table::SHARED != 0;
        let policy = &self.campaigns[usize::from(c)].policy.policy;
        if shared || policy.destinations.calls_per_number_per_day < u32::from(policy.max_attempts) {
            self.calls_per_number.record(phone, self.now);
        }
        if let Some(op) = op {
            self.operators.reserve(op, attempt);
        }
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
            operator: op.map(|op| self.operators.slots[op as usize].id),
        }
    }

    /// Whether an operator is still held by this attempt (they may have been moved on).
    fn holds(&self, op: u32, attempt: AttemptId) -> bool {
        self.operators.slots[op as usize].attempt == Some(attempt)
    }

    /// A live person answered: to the operator the call was dialled for, else to the operator
    /// waiting longest for the campaign, else it waits up to `abandon_after` for one. A second
    /// answer changes nothing.
    pub(crate) fn answered(&mut self, attempt: AttemptId) -> Result<(), EventError> {
        let state = self
            .attempts
            .get(attempt)
            .ok_or(EventError::UnknownAttempt(attempt))?;
        let Attempt::Ringing {
            lead,
            campaign,
            operator,
            dialed_at,
        } = state
        else {
            return Ok(());
        };
        let now = self.now;
        self.stats.answered += 1;
        if self.campaigns[usize::from(campaign)].policy.policy.kind == CampaignKind::PickupReminder
        {
            // The bot speaks; no operator.
            self.attempts
                .set(attempt, Attempt::Reminded { lead, campaign });
            let lead = self.leads.get(lead).id;
            self.pending.push_back(Action::Remind { attempt, lead });
            return Ok(());
        }
        self.campaigns[usize::from(campaign)]
            .pacing
            .stats
            .answered(now.since(dialed_at));
        let reserved = operator.filter(|&op| {
            self.holds(op, attempt)
                && self.operators.slots[op as usize].state == OperatorState::Reserved
        });
        if let Some(op) = reserved.or_else(|| self.operators.longest_ready_for(campaign)) {
            self.connect(attempt, lead, campaign, op, now, false);
            return Ok(());
        }
        if let Some(op) = operator.filter(|&op| self.holds(op, attempt)) {
            self.release_operator(op, None);
        }
        self.attempts.set(
            attempt,
            Attempt::Waiting {
                lead,
                campaign,
                answered_at: now,
                counted: false,
            },
        );
        let camp = &mut self.campaigns[usize::from(campaign)];
        let wait = camp.policy.policy.pacing.abandon_after;
        if wait.is_zero() {
            self.abandon_waiting(attempt);
        } else {
            camp.waiting.push_back(attempt);
            self.answer_waits.insert((now.plus(wait), attempt));
        }
        Ok(())
    }

    /// Gives an answered call to an operator. `counted`: the answer is in the pacer's books
    /// already (an operator before this one did not pick up).
    fn connect(
        &mut self,
        attempt: AttemptId,
        lead: u32,
        campaign: u16,
        op: u32,
        answered_at: Timestamp,
        counted: bool,
    ) {
        let now = self.now;
        self.attempts.set(
            attempt,
            Attempt::Connected {
                lead,
                campaign,
                operator: op,
                since: now,
                answered_at,
            },
        );
        self.operators.connect(op, attempt, now);
        if !counted {
            let camp = &mut self.campaigns[usize::from(campaign)];
            camp.pacing
                .budget
                .connected(now, &camp.policy.policy.pacing);
            camp.pacing.vicidial.answered(false);
        }
        let operator = self.operators.slots[op as usize].id;
        self.pending.push_back(Action::Bridge { attempt, operator });
    }

    /// An operator has just become free: the answered call waiting longest in one of their
    /// campaigns goes to them.
    pub(crate) fn operator_freed(&mut self, op: u32) {
        // Inbound callers first (blending: they chose to call).
        if self.inbound_to(op) {
            return;
        }
        let skills = std::mem::take(&mut self.operators.slots[op as usize].skills);
        for &c in &skills {
            while let Some(attempt) = self.campaigns[usize::from(c)].waiting.pop_front() {
                if let Some(Attempt::Waiting {
                    lead,
                    campaign,
                    answered_at,
                    counted,
                }) = self.attempts.get(attempt)
                {
                    let camp = &self.campaigns[usize::from(campaign)];
                    self.answer_waits.remove(&(
                        answered_at.plus(camp.policy.policy.pacing.abandon_after),
                        attempt,
                    ));
                    self.operators.slots[op as usize].skills = skills;
                    self.connect(attempt, lead, campaign, op, answered_at, counted);
                    return;
                }
            }
        }
        self.operators.slots[op as usize].skills = skills;
    }

    /// The operator given an answered call did not pick up (their phone did not answer or
    /// refused): they are set paused (not ready) until they say otherwise, and the call goes to
    /// the next ready operator, or waits out the rest of the campaign's `abandon_after`
    /// (counted from the callee's answer), or is abandoned.
    pub(crate) fn bridge_failed(&mut self, attempt: AttemptId) -> Result<(), EventError> {
        let state = self
            .attempts
            .get(attempt)
            .ok_or(EventError::UnknownAttempt(attempt))?;
        let Attempt::Connected {
            lead,
            campaign,
            operator,
            answered_at,
            ..
        } = state
        else {
            return Ok(());
        };
        if self.holds(operator, attempt) {
            let state = self.operators.drop_call(operator);
            let id = self.operators.slots[operator as usize].id;
            self.pending.push_back(Action::OperatorState {
                operator: id,
                state,
            });
        }
        if let Some(op) = self.operators.longest_ready_for(campaign) {
            self.connect(attempt, lead, campaign, op, answered_at, true);
            return Ok(());
        }
        self.attempts.set(
            attempt,
            Attempt::Waiting {
                lead,
                campaign,
                answered_at,
                counted: true,
            },
        );
        let camp = &mut self.campaigns[usize::from(campaign)];
        let until = answered_at.plus(camp.policy.policy.pacing.abandon_after);
        if until <= self.now {
            self.abandon_waiting(attempt);
        } else {
            // It has waited longest of the campaign's answered calls.
            camp.waiting.push_front(attempt);
            self.answer_waits.insert((until, attempt));
        }
        Ok(())
    }

    /// No operator came in time: the callee hears the abandoned-call message; the regulator's
    /// record of it goes out with the action.
    pub(crate) fn abandon_waiting(&mut self, attempt: AttemptId) {
        let Some(Attempt::Waiting {
            lead,
            campaign,
            answered_at,
            counted,
        }) = self.attempts.get(attempt)
        else {
            return;
        };
        let now = self.now;
        self.attempts
            .set(attempt, Attempt::Abandoned { lead, campaign });
        self.stats.abandoned += 1;
        let camp = &mut self.campaigns[usize::from(campaign)];
        let policy = &camp.policy.policy.pacing;
        if counted {
            camp.pacing.budget.abandoned_after_connect(now, policy);
        } else {
            camp.pacing.budget.abandoned(now, policy);
            camp.pacing.vicidial.answered(true);
        }
        let (answered, abandoned, rate) = camp.pacing.budget.window(now, policy);
        let l = self.leads.get(lead);
        let audit = AbandonAudit {
            at: now,
            campaign: camp.id,
            lead: l.id,
            phone: l.phone,
            answered_at,
            waited_ms: now.millis() - answered_at.millis(),
            regulator: policy.regulator,
            answered_in_window: answered,
            abandoned_in_window: abandoned,
            window_rate: rate,
        };
        self.pending.push_back(Action::Abandon {
            attempt,
            audit: Box::new(audit),
        });
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
        if state == OperatorState::Ready {
            self.operator_freed(op);
        }
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
        self.dial_check = true;
        let attempts_made = self.leads.get(i).attempts;
        let camp = &mut self.campaigns[usize::from(c)];
        camp.in_flight = camp.in_flight.saturating_sub(1);
        let policy = &camp.policy.policy;
        let wrap_until = now.plus(policy.wrap_up);
        let max_attempts = policy.max_attempts;
        let abandon_after = policy.pacing.abandon_after;
        let mut backoff = policy.backoff.after(outcome, attempts_made);
        if outcome == Outcome::Abandoned && !policy.pacing.abandon_lockout.is_zero() {
            backoff = backoff.max(Some(policy.pacing.abandon_lockout));
        }

        // What the pacer learns.
        match last {
            Attempt::Connected { since, .. } => camp.pacing.stats.talked(now.since(since)),
            // A call our side failed says nothing about the callees.
            Attempt::Ringing { .. } if outcome == Outcome::TrunkFailure => {}
            Attempt::Ringing { dialed_at, .. } => {
                camp.pacing.stats.unanswered(now.since(dialed_at));
                if outcome == Outcome::AnsweringMachine {
                    camp.pacing.budget.machine(now, &camp.policy.policy.pacing);
                }
            }
            Attempt::Waiting { answered_at, .. } => {
                // Hung up while waiting for an operator.
                self.answer_waits
                    .remove(&(answered_at.plus(abandon_after), attempt));
            }
            Attempt::Abandoned { .. } | Attempt::Reminded { .. } => {}
        }
        // The operator: wrap-up after a conversation, back in line if the call never reached
        // them (a contact reported without an answer event was a conversation too).
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
        if outcome == Outcome::TrunkFailure {
            // The callee never heard it: it does not use up one of their attempts.
            lead.attempts = lead.attempts.saturating_sub(1);
        }
        let fresh_callback = lead.flags & CALLBACK_FRESH != 0;
        lead.flags &= !CALLBACK_FRESH;
        let reminded = matches!(last, Attempt::Reminded { .. });
        if reminded {
            // A reminder heard: the next one is a new round of attempts.
            lead.attempts = 0;
        }
        let (state, attempts, callback_at, id) =
            (lead.state, lead.attempts, lead.due.time(), lead.id);
        let reminder =
            self.campaigns[usize::from(c)].policy.policy.kind == CampaignKind::PickupReminder;
        let until = self.until.get(&id).copied();
        if state == LeadState::Cancelled {
            self.close(i, LeadState::Cancelled);
        } else if reminder && outcome != Outcome::InvalidNumber {
            let every = self.campaigns[usize::from(c)].policy.policy.remind_every;
            let next = if reminded || outcome == Outcome::Contact {
                now.plus(every)
            } else {
                now.plus(backoff.unwrap_or_default())
            };
            if until.is_some_and(|u| next >= u) {
                // The storage deadline passes before the next call: the reminders end.
                self.close(i, LeadState::Exhausted);
            } else if !(reminded || outcome == Outcome::Contact) && attempts >= max_attempts {
                self.close(i, LeadState::Exhausted);
            } else {
                self.schedule(i, next);
            }
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
}
