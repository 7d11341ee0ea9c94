//! What goes into the scheduler (events), what comes out (actions, wake-ups), and why an event
//! can be refused.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use super::destinations::Refusal;
use super::lead::{CampaignId, History, LeadId, LeadState, NewLead, Outcome};
use super::phone::{Phone, PhoneError};
use super::policy::{CampaignPolicy, PolicyError};
use super::zones::TzId;
use crate::acd::{OperatorId, OperatorState, QueueId, QueuePolicy};
use crate::pacing::{AbandonAudit, PastCalls};
use crate::time::Timestamp;

/// One call attempt, named by the scheduler when it asks for the dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AttemptId(pub u64);

impl AttemptId {
    /// The bit that marks the ids of inbound calls: the shell names them (`AttemptId::inbound`),
    /// the scheduler never gives such an id to an outbound attempt.
    pub const INBOUND: u64 = 1 << 61;

    /// The id of the `n`-th inbound call.
    pub fn inbound(n: u64) -> AttemptId {
        AttemptId(Self::INBOUND | (n & (Self::INBOUND - 1)))
    }

    pub fn is_inbound(self) -> bool {
        self.0 & Self::INBOUND != 0
    }
}

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Whether a campaign dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignRun {
    Running,
    /// Keeps its leads and takes new ones, dials nothing.
    Paused,
}

/// Everything that can happen to the scheduler.
#[derive(Debug, Clone)]
pub enum Event {
    /// Time passed (the wake-up asked for by `poll_timeout`, or any other reason).
    Tick,
    /// A campaign is created or its policy changed. It starts running.
    CampaignSaved {
        campaign: CampaignId,
        policy: Box<CampaignPolicy>,
    },
    CampaignRun {
        campaign: CampaignId,
        run: CampaignRun,
    },
    /// How many calls the trunks can carry at once, in all.
    ChannelLimit {
        channels: u32,
    },
    LeadAdded(Box<NewLead>),
    /// A lead read back from the store at start-up, with the attempts it already had: it
    /// waits until `due` (or the next open hour of its callee) as it did before the restart.
    /// Its duplicate-check entry dates from the lead's `created_at`.
    LeadRestored {
        lead: Box<NewLead>,
        attempts: u8,
        history: History,
        due: Timestamp,
    },
    /// A campaign's calls before a restart, read back from the store at start-up (live
    /// answers, abandons, machine hang-ups over the last 30 days): its abandon-rate window (the
    /// regulator's 24 hours or 30 days) goes on from them, so a restart does not reset the cap.
    /// Send it before the campaign dials; calls counted already are kept.
    AbandonHistoryRestored {
        campaign: CampaignId,
        history: Vec<PastCalls>,
    },
    LeadCancelled {
        lead: LeadId,
    },
    /// The callee asked to be called back at `at` (entered by the operator during or right
    /// after the call).
    CallbackAgreed {
        lead: LeadId,
        at: Timestamp,
    },
    /// The lead's number left a missed inbound call: it is called back now, before every other
    /// lead of its campaign, whatever their priority class (its next attempt only).
    MissedCallback {
        lead: LeadId,
    },
    /// A live person answered (after answering-machine detection, when it is on).
    AttemptAnswered {
        attempt: AttemptId,
    },
    AttemptFinished {
        attempt: AttemptId,
        outcome: Outcome,
    },
    /// The operator an answered call was given to (`Action::Bridge`) did not pick up: they are
    /// paused, and the call goes to the next ready operator or, past the campaign's
    /// `abandon_after`, is abandoned.
    BridgeFailed {
        attempt: AttemptId,
    },
    /// An operator logged in, taking these campaigns in this order of preference. They start
    /// paused; `OperatorReady` puts them in line.
    OperatorLogin {
        operator: OperatorId,
        campaigns: Vec<CampaignId>,
    },
    OperatorReady {
        operator: OperatorId,
    },
    /// Paused, or busy with something the dialer does not place (a manual call, a break).
    OperatorPaused {
        operator: OperatorId,
    },
    OperatorLogout {
        operator: OperatorId,
    },
    /// The operator shown a lead (preview dialing) asks to dial it.
    PreviewDial {
        operator: OperatorId,
    },
    /// The operator shown a lead passes: it goes back to the queue.
    PreviewSkip {
        operator: OperatorId,
    },
    /// An inbound queue is created or its policy changed.
    QueueSaved {
        queue: QueueId,
        policy: Box<QueuePolicy>,
    },
    /// The inbound queues a logged-in operator serves (besides their campaigns). Inbound
    /// calls go to them before outbound work.
    OperatorQueues {
        operator: OperatorId,
        queues: Vec<QueueId>,
    },
    /// A caller was answered and waits in a queue for an operator. `call` is named by the
    /// shell with `AttemptId::inbound`.
    InboundQueued {
        call: AttemptId,
        queue: QueueId,
    },
    /// An inbound call ended (the caller or the operator hung up, or the shell ended it).
    InboundEnded {
        call: AttemptId,
    },
}

/// What the scheduler wants done.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Place a call. `attempt_no` counts from 1; `class` is the priority class it was taken
    /// from (0 is the highest).
    Dial {
        attempt: AttemptId,
        lead: LeadId,
        campaign: CampaignId,
        phone: Phone,
        tz: TzId,
        attempt_no: u8,
        class: u8,
        operator: Option<OperatorId>,
    },
    /// Connect an answered call to an operator.
    Bridge {
        attempt: AttemptId,
        operator: OperatorId,
    },
    /// Answered, and no operator was free within the campaign's `abandon_after`: play the
    /// abandoned-call message and hang up. `audit` is the regulator's record of it, to be kept
    /// in an append-only log.
    Abandon {
        attempt: AttemptId,
        audit: Box<AbandonAudit>,
    },
    /// A pickup reminder was answered: play the reminder (no operator), then hang up.
    Remind { attempt: AttemptId, lead: LeadId },
    /// Preview dialing: show this lead to the operator, who then dials (`PreviewDial`) or
    /// skips it (`PreviewSkip`).
    Preview {
        operator: OperatorId,
        lead: LeadId,
        campaign: CampaignId,
        phone: Phone,
        tz: TzId,
        class: u8,
    },
    /// A lead will not be dialled again (done, exhausted or cancelled).
    LeadClosed { lead: LeadId, state: LeadState },
    /// A waiting caller's position in line (from 1) and estimated wait, to be told to them
    /// (on arrival, then every `announce_every`).
    QueueAnnounce {
        call: AttemptId,
        position: u32,
        wait_estimate_ms: u64,
    },
    /// A caller waited the queue's `max_wait`: out of line (offer a callback, or end the call
    /// politely).
    QueueTimeout {
        call: AttemptId,
        queue: QueueId,
        waited_ms: u64,
    },
    /// A caller hung up while waiting in the queue: a missed call.
    QueueAbandoned {
        call: AttemptId,
        queue: QueueId,
        waited_ms: u64,
    },
    /// The scheduler changed an operator's state (end of wrap-up, pause after a call).
    OperatorState {
        operator: OperatorId,
        state: OperatorState,
    },
}

impl Serialize for TzId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Why the scheduler wants to be woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// A lead's next attempt (a retry or a callback) is due.
    RetryDue,
    /// Quiet hours end in some zone, or leads held by them are being released.
    QuietHoursEnd,
    /// An operator's wrap-up ends.
    WrapUpEnd,
    /// An answered call has waited the longest allowed for an operator.
    AnswerWait,
    /// The pacer looks again (once a second while paced campaigns have operators at work).
    Pacing,
    /// A waiting caller's next announcement, or the end of their longest wait.
    Queue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wakeup {
    pub at: Timestamp,
    pub why: TimerKind,
}

/// An event the scheduler refused. The event itself took no effect: no lead, call, operator or
/// campaign changed because of it. Two things still happen, as for any event: the scheduler's
/// clock advances to the `now` given (timers due by then fire, and their actions wait in
/// `poll_action`), and a lead refused at intake is counted in [`Stats`] (`invalid`, `duplicates`,
/// `destination_refused`), so the refusals show in the day's figures.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    #[error("campaign {0} is not configured")]
    UnknownCampaign(CampaignId),
    #[error("campaign policy: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidPolicy(Vec<PolicyError>),
    #[error("lead {0} is not known (never added, or closed a while ago)")]
    UnknownLead(LeadId),
    #[error("lead id {0} is already in use")]
    LeadIdInUse(LeadId),
    #[error("phone: {0}")]
    InvalidPhone(PhoneError),
    #[error("phone: {phone} is not called: {refusal}")]
    DestinationRefused { phone: Phone, refusal: Refusal },
    #[error("duplicate of lead {duplicate_of}")]
    Duplicate { duplicate_of: LeadId },
    #[error(
        "order_id: the campaign catches duplicates by order id (rule A), so every lead needs one"
    )]
    MissingOrderId,
    #[error("time_zone: `{0}` is not an IANA time zone (write it like Europe/Moscow)")]
    InvalidTimeZone(String),
    #[error("lead {0} is already closed ({1})")]
    LeadClosed(LeadId, &'static str),
    #[error("lead {0} has no attempts left (the campaign allows {1})")]
    NoAttemptsLeft(LeadId, u8),
    #[error("attempt {0} is not in progress")]
    UnknownAttempt(AttemptId),
    #[error("operator {0} is not logged in")]
    UnknownOperator(OperatorId),
    #[error("operator {0} has no lead shown to dial (preview)")]
    NothingPreviewed(OperatorId),
    #[error("queue {0} is not configured")]
    UnknownQueue(QueueId),
    #[error("queue: {0}")]
    InvalidQueue(String),
    #[error("call {0} is not an inbound call's id (use AttemptId::inbound)")]
    NotInbound(AttemptId),
    #[error("call {0} is already in a queue")]
    CallInUse(AttemptId),
    #[error(
        "lead {0}: the callee is in quiet hours now; skip it, it will be offered again in the morning"
    )]
    QuietHours(LeadId),
}

impl EventError {
    /// A short stable name of the refusal, for logs and metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownCampaign(_) => "unknown_campaign",
            Self::InvalidPolicy(_) => "invalid_policy",
            Self::UnknownLead(_) => "unknown_lead",
            Self::LeadIdInUse(_) => "lead_id_in_use",
            Self::InvalidPhone(_) => "invalid_phone",
            Self::DestinationRefused { .. } => "destination_refused",
            Self::Duplicate { .. } => "duplicate",
            Self::MissingOrderId => "missing_order_id",
            Self::InvalidTimeZone(_) => "invalid_time_zone",
            Self::LeadClosed(..) => "lead_closed",
            Self::NoAttemptsLeft(..) => "no_attempts_left",
            Self::UnknownAttempt(_) => "unknown_attempt",
            Self::UnknownOperator(_) => "unknown_operator",
            Self::NothingPreviewed(_) => "nothing_previewed",
            Self::UnknownQueue(_) => "unknown_queue",
            Self::InvalidQueue(_) => "invalid_queue",
            Self::NotInbound(_) => "not_inbound",
            Self::CallInUse(_) => "call_in_use",
            Self::QuietHours(_) => "quiet_hours",
        }
    }
}

/// Running totals since the scheduler started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Leads accepted into a campaign.
    pub leads_in: u64,
    /// Leads refused for an impossible phone number ("invalid traffic").
    pub invalid: u64,
    pub duplicates: u64,
    /// Leads refused at intake by their campaign's destination policy.
    pub destination_refused: u64,
    /// Leads taken in, then closed without a call when due because their campaign's
    /// destination policy (changed since) refuses their number.
    pub refused: u64,
    /// Dials put off because the number had its calls for the day.
    pub held_by_daily_cap: u64,
    pub dials: u64,
    /// Calls answered by a live person.
    pub answered: u64,
    /// Answered calls that found no operator.
    pub abandoned: u64,
    pub done: u64,
    pub exhausted: u64,
    pub cancelled: u64,
    /// Leads whose dial was held back by the callee's quiet hours (counted once per hold).
    pub held_by_quiet_hours: u64,
}
