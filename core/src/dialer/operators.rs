//! Operators' events: logging in with their campaigns, ready, pause, log out, and the preview
//! dialing answers (dial the lead shown, or skip it).

use super::event::{Action, EventError};
use super::lead::CampaignId;
use super::lead::LeadState;
use super::scheduler::Scheduler;
use super::table::CALLBACK_FRESH;
use crate::acd::{OperatorId, OperatorState};

impl Scheduler {
    pub(crate) fn login(
        &mut self,
        operator: OperatorId,
        campaigns: &[CampaignId],
    ) -> Result<(), EventError> {
        let skills = campaigns
            .iter()
            .map(|&c| self.campaign(c))
            .collect::<Result<Vec<_>, _>>()?;
        let existing = self.operators.find(operator);
        let before = existing.map(|op| self.operators.slots[op as usize].state);
        if let Some(op) = existing {
            // Their work was planned in their first campaign: take them off its list.
            if let Some(&old) = self.operators.slots[op as usize].skills.first() {
                self.campaigns[usize::from(old)]
                    .operators
                    .retain(|&o| o != op);
            }
        }
        let op = self.operators.login(operator, skills);
        if let Some(&first) = self.operators.slots[op as usize].skills.first() {
            self.campaigns[usize::from(first)].operators.push(op);
        }
        self.dial_check = true;
        self.tell_state(op, before);
        Ok(())
    }

    /// Says an operator's new state, when it changed.
    pub(crate) fn tell_state(&mut self, op: u32, before: Option<OperatorState>) {
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

    pub(crate) fn operator_ready(&mut self, id: OperatorId) -> Result<(), EventError> {
        let op = self.operator(id)?;
        let before = self.operators.slots[op as usize].state;
        if self.operators.set_ready(op, self.now) {
            self.dial_check = true;
        }
        self.tell_state(op, Some(before));
        if before != OperatorState::Ready
            && self.operators.slots[op as usize].state == OperatorState::Ready
        {
            self.operator_freed(op);
        }
        Ok(())
    }

    pub(crate) fn operator_away(&mut self, id: OperatorId, logout: bool) -> Result<(), EventError> {
        let op = self.operator(id)?;
        let before = self.operators.slots[op as usize].state;
        // A lead shown for preview goes back to its queue.
        if let Some(p) = self.operators.take_preview(op) {
            self.return_previewed(p.lead);
        }
        self.operators.set_away(op, logout);
        self.tell_state(op, Some(before));
        Ok(())
    }

    /// Preview: the operator dials the lead shown to them.
    pub(crate) fn preview_dial(&mut self, id: OperatorId) -> Result<(), EventError> {
        let op = self.operator(id)?;
        let shown = self.operators.slots[op as usize]
            .preview
            .ok_or(EventError::NothingPreviewed(id))?;
        // The operator may have looked at it a long while: the callee's night may have come.
        let lead = self.leads.get(shown.lead);
        if !self.quiet.is_open(lead.zone, self.now) {
            return Err(EventError::QuietHours(lead.id));
        }
        let p = self
            .operators
            .take_preview(op)
            .ok_or(EventError::NothingPreviewed(id))?;
        if self.leads.get(p.lead).state == LeadState::Cancelled {
            // Withdrawn by the shop while on screen: nothing to dial, the operator is free.
            self.close(p.lead, LeadState::Cancelled);
            let state = self.operators.unreserve(op);
            self.pending.push_back(Action::OperatorState {
                operator: id,
                state,
            });
            self.dial_check = true;
            return Ok(());
        }
        let dial = self.start_attempt(Some(op), p.campaign, p.lead, p.class);
        self.pending.push_back(dial);
        Ok(())
    }

    /// Preview: the operator passes; the lead goes back to its queue and they to their place
    /// in line.
    pub(crate) fn preview_skip(&mut self, id: OperatorId) -> Result<(), EventError> {
        let op = self.operator(id)?;
        let p = self
            .operators
            .take_preview(op)
            .ok_or(EventError::NothingPreviewed(id))?;
        self.return_previewed(p.lead);
        let state = self.operators.unreserve(op);
        self.pending.push_back(Action::OperatorState {
            operator: id,
            state,
        });
        self.dial_check = true;
        Ok(())
    }

    /// A lead shown for preview and not dialled goes back: closed if the shop cancelled it
    /// meanwhile, to its callback time if one was agreed, else to its queue.
    fn return_previewed(&mut self, i: u32) {
        let lead = self.leads.get_mut(i);
        let (state, fresh_callback, due) = (
            lead.state,
            lead.flags & CALLBACK_FRESH != 0,
            lead.due.time(),
        );
        lead.flags &= !CALLBACK_FRESH;
        lead.state = lead.waiting_state();
        if state == LeadState::Cancelled {
            self.close(i, LeadState::Cancelled);
        } else if fresh_callback {
            self.schedule(i, due);
        } else {
            self.push_ready(i);
        }
    }
}
