//! Preview dialing: the core shows an operator a lead (`Action::Preview`); the engine keeps it
//! on their desk and waits. Nothing is dialled until the operator accepts it
//! (`POST /v1/operators/{login}/preview` with `accept`), and a lead they skip goes back to its
//! queue. An operator who pauses or logs out gives the lead back (the core does that).

use predial_core::acd::OperatorId;
use predial_core::dialer::{CampaignId, Event, LeadId};
use tracing::info;

use super::{Engine, ask};
use crate::feed::{PreviewChoice, PreviewRefusal, Shown};

impl Engine {
    /// The core shows `lead` to `operator`: kept on their desk and told to the live stream.
    pub(super) fn show_preview(
        &mut self,
        operator: OperatorId,
        lead: LeadId,
        campaign: CampaignId,
        phone: String,
        now_ms: i64,
    ) {
        // Reserved for this lead while it is on their screen.
        self.operator_state(operator, predial_core::acd::OperatorState::Reserved);
        let Some(op) = self.desk.get_mut(operator) else {
            return;
        };
        let shown = Shown {
            lead: lead.0,
            campaign_id: campaign.0,
            phone,
            shown_at_ms: now_ms,
        };
        info!(operator = %op.login, %lead, "lead shown for preview: waiting for the operator");
        let login = op.login.clone();
        op.preview = Some(shown.clone());
        if let Some(events) = &self.config.events {
            crate::happenings::publish(
                events,
                "operator.preview",
                serde_json::json!({"login": login, "lead": shown.lead, "phone": shown.phone,
                    "campaign_id": shown.campaign_id}),
            );
        }
    }

    /// The lead shown to `login` now, if any.
    pub(super) fn shown(&self, login: &str) -> Option<Shown> {
        let op = self.desk.by_login.get(login)?;
        self.desk.get(*op)?.preview.clone()
    }

    /// The operator accepts or skips the lead shown to them; the lead they name must be it.
    pub(super) fn preview_choice(
        &mut self,
        login: &str,
        lead: LeadId,
        choice: PreviewChoice,
        now: predial_core::Timestamp,
    ) -> Result<Shown, PreviewRefusal> {
        let operator = *self
            .desk
            .by_login
            .get(login)
            .ok_or_else(|| PreviewRefusal::UnknownOperator(login.into()))?;
        let shown = self
            .desk
            .get(operator)
            .and_then(|o| o.preview.clone())
            .ok_or_else(|| PreviewRefusal::NothingShown(login.into()))?;
        if shown.lead != lead.0 {
            return Err(PreviewRefusal::OtherLead {
                login: login.into(),
                shown: shown.lead,
                asked: lead.0,
            });
        }
        let event = match choice {
            PreviewChoice::Accept => Event::PreviewDial { operator },
            PreviewChoice::Skip => Event::PreviewSkip { operator },
        };
        ask(&mut self.scheduler, now, event).map_err(|e| PreviewRefusal::Refused(e.to_string()))?;
        if let Some(op) = self.desk.get_mut(operator) {
            op.preview = None;
        }
        info!(operator = %login, %lead, ?choice, "preview: the operator chose");
        Ok(shown)
    }

    /// An operator's state changed: a lead shown stays shown only while they are reserved for it.
    pub(super) fn preview_ends_unless_reserved(&mut self, operator: OperatorId) {
        if let Some(op) = self.desk.get_mut(operator)
            && op.state != predial_core::acd::OperatorState::Reserved
        {
            op.preview = None;
        }
    }
}
