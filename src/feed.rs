//! What the engine and those around it tell each other: what the store, the API and inbound
//! calls send a running engine (`Feed`), the preview desk's requests and answers, and the
//! engine's live figures read by the API and the live view. It names neither `engine` nor
//! `api`, so both may depend on it.

use std::collections::BTreeMap;

use predial_core::Timestamp;
use predial_core::dialer::{CampaignId, CampaignPolicy, LeadId};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::store::journal::OpenLead;

/// What the store tells a running engine (`keep_running`).
#[derive(Debug)]
pub enum Feed {
    /// A new lead.
    Lead(CampaignId, OpenLead),
    /// A lead cancelled through the API.
    Cancelled(LeadId),
    /// A campaign made or changed, and whether it runs.
    Campaign(CampaignId, Box<CampaignPolicy>, bool),
    /// An operator set ready, paused (with a reason) or logged out through the API.
    Operator {
        login: String,
        action: OperatorAction,
    },
    /// An open lead is to be called back first (the number's missed inbound call).
    Callback(LeadId),
    /// An operator accepts or skips the lead shown to them (preview dialing).
    Preview(PreviewRequest),
    /// The lead shown to an operator now, if any.
    ShownPreview {
        login: String,
        reply: tokio::sync::oneshot::Sender<Option<Shown>>,
    },
    /// A callback agreed with the callee (`POST /v1/dispositions`): the lead is dialled at `at`.
    CallbackAgreed { lead: LeadId, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorAction {
    Ready,
    Pause(Option<String>),
    Logout,
}

/// A lead on an operator's screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shown {
    pub lead: u64,
    /// The campaign's id in the store.
    pub campaign_id: u32,
    pub phone: String,
    /// When it was shown (Unix milliseconds).
    pub shown_at_ms: i64,
}

/// What the operator does with the lead shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewChoice {
    /// Dial it now.
    Accept,
    /// Pass: it goes back to its queue.
    Skip,
}

/// Why a choice was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewRefusal {
    #[error("operator `{0}` is not logged in to the engine")]
    UnknownOperator(String),
    #[error("operator `{0}` has no lead shown")]
    NothingShown(String),
    #[error("operator `{login}` is shown lead {shown}, not {asked}")]
    OtherLead {
        login: String,
        shown: u64,
        asked: u64,
    },
    #[error("the dialer refused: {0}")]
    Refused(String),
}

/// A choice asked through the API, with where its answer goes.
#[derive(Debug)]
pub struct PreviewRequest {
    pub login: String,
    pub lead: LeadId,
    pub choice: PreviewChoice,
    pub reply: oneshot::Sender<Result<Shown, PreviewRefusal>>,
}

/// The engine's live figures, for a live view.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveFigures {
    pub leads_open: u64,
    pub calls_ringing: u64,
    pub calls_talking: u64,
    pub calls: u64,
    pub answered: u64,
    pub bridged: u64,
    pub abandoned: u64,
    pub operators: Vec<OperatorReport>,
    pub results: BTreeMap<&'static str, u64>,
    /// Calls ended, by outcome.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Inbound queues now.
    pub queues: Vec<QueueReport>,
}

/// An operator as the engine sees them.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorReport {
    pub login: String,
    pub state: &'static str,
    /// Why they are paused, when they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Calls bridged to them.
    pub calls: u64,
    /// Calls they did not pick up.
    pub missed: u64,
    /// Results they entered (DTMF).
    pub dispositions: u64,
}

/// A queue's figures, by name.
#[derive(Debug, Clone, Serialize)]
pub struct QueueReport {
    pub name: String,
    #[serde(flatten)]
    pub figures: predial_core::acd::QueueFigures,
}
