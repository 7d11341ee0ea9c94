//! The engine: the only place the real clock ticks. One task owns the dialing core (the
//! `Scheduler`), feeds it the time and what happens on the lines, and carries out its actions:
//! calls through the trunks, answered calls handed to operators.
//!
//! This release runs a campaign end to end through real trunks with stand-in operators (each
//! answered call is "talked" for a set time, then hung up): enough to prove the SIP side against
//! real peers. Operators on softphones, storage and the API join it in their issues.

mod calls;
mod legs;
pub mod media;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::Utc;
use predial_core::acd::OperatorId;
use predial_core::dialer::{Action, AttemptId, CampaignId, CampaignPolicy, Event, LeadId, NewLead};
use predial_core::{Scheduler, Timestamp};
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::sip::{
    CallUpdate, KeepAlive, RegisterTo, Registered, RegistrationState, SipAgent, SipError,
    SipOptions,
};
use crate::store::journal::{Entry, Journal, OpenLead};
use crate::trunks::{TrunkPool, TrunkProfile, TrunkState};

pub use calls::LiveCall;

/// What a run needs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub sip: SipOptions,
    pub trunks: Vec<TrunkProfile>,
    pub campaign: CampaignPolicy,
    /// Stand-in operators: how many, and how long each answered call is talked.
    pub operators: u32,
    pub talk: Duration,
    /// Stop when every lead is closed, or after this long.
    pub deadline: Duration,
    /// RTP ports, prompts, recordings.
    pub media: media::MediaConfig,
    /// The store's journal and the campaign's id there: attempts written as started before
    /// their INVITE leaves, their course, the leads' state. None: nothing is stored.
    pub journal: Option<(Journal, i64)>,
}

/// A lead's end, as the run saw it.
#[derive(Debug, Clone, Serialize)]
pub struct LeadResult {
    pub lead: u64,
    pub phone: String,
    pub state: String,
    pub attempts: u8,
    pub outcomes: Vec<String>,
    /// Recordings of its bridged calls.
    pub recordings: Vec<String>,
    /// Digits the callee pressed (RFC 4733), all attempts.
    pub digits: String,
    /// RTP packets sent to and received from the callee, all attempts.
    pub rtp_sent: u64,
    pub rtp_received: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrunkReport {
    pub name: String,
    pub state: TrunkState,
    pub calls: u64,
    /// Why it is failing, when it is.
    pub problem: Option<String>,
    /// For a trunk that registers: whether its registration stands now.
    pub registered: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub leads: Vec<LeadResult>,
    /// Leads refused on the way in (impossible numbers, duplicates), with the reason.
    pub refused: Vec<(String, String)>,
    pub calls: u64,
    pub answered: u64,
    pub trunks: Vec<TrunkReport>,
    /// Whether every lead was closed before the deadline.
    pub finished: bool,
    /// With a store: what start-up found of an earlier run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<crate::store::journal::Recovered>,
}

const CAMPAIGN: CampaignId = CampaignId(1);

/// The core's event that puts back a lead read from the store.
pub fn restore_event(l: OpenLead, campaign: CampaignId) -> Event {
    let mut history = predial_core::dialer::History::default();
    for o in l.history.split(',').filter(|o| !o.is_empty()) {
        if let Ok(outcome) = serde_json::from_value(serde_json::Value::String(o.into())) {
            history.push(outcome);
        }
    }
    let mut lead = NewLead::new(
        l.id as u64,
        campaign.0,
        &l.phone,
        Timestamp::from_millis(l.created_ms),
    );
    lead.order_id = l.order_id;
    lead.time_zone = l.time_zone;
    Event::LeadRestored {
        lead: Box::new(lead),
        attempts: u8::try_from(l.attempts).unwrap_or(u8::MAX),
        history,
        due: Timestamp::from_millis(l.next_at_ms.unwrap_or(l.created_ms)),
    }
}

fn now_ts() -> Timestamp {
    Timestamp::from_utc(Utc::now())
}

/// Internal happenings the engine waits on besides SIP.
enum Note {
    /// A stand-in operator finished talking: hang the call up.
    TalkDone(AttemptId),
    Registration(usize, RegistrationState),
    /// A trunk's answer to OPTIONS (408: none).
    Keepalive(usize, u16),
    /// The abandoned-call message had its time: hang up even if it did not finish.
    AbandonDone(AttemptId),
    /// Delete recordings past their keeping time.
    SweepRecordings,
    /// An attempt's start is stored (true) or could not be (false): the call may go.
    Persisted(calls::PendingDial, bool),
    /// Time to write the trunks' live state to the store.
    TrunkSnapshot,
}

pub struct Engine {
    scheduler: Scheduler,
    sip: SipAgent,
    pool: TrunkPool,
    config: EngineConfig,
    calls: HashMap<AttemptId, LiveCall>,
    /// Dials waiting for a calls-per-second token: (when, attempt).
    waiting: BTreeMap<(Instant, u64), calls::PendingDial>,
    updates_tx: mpsc::UnboundedSender<CallUpdate>,
    updates: mpsc::UnboundedReceiver<CallUpdate>,
    notes_tx: mpsc::UnboundedSender<Note>,
    notes: mpsc::UnboundedReceiver<Note>,
    /// Per trunk: its registration, and whether its last OPTIONS was answered.
    registrations: Vec<Option<Registered>>,
    alive: Vec<bool>,
    registered: Vec<Option<bool>>,
    _keepalives: Vec<KeepAlive>,
    channel_limit: u32,
    placed: u64,
    answered: u64,
    media: media::MediaPool,
    legs: mpsc::UnboundedReceiver<(u64, crate::media::leg::Event)>,
    /// Per lead: its recordings, the digits heard, RTP packets sent and received.
    lead_media: HashMap<LeadId, LeadMedia>,
    /// Calls ended whose legs are closing: the lead their figures go to.
    closing: HashMap<AttemptId, LeadId>,
    /// With a store: each attempt's row id there, while it lasts.
    attempt_rows: HashMap<AttemptId, i64>,
    attempt_rows_made: i64,
}

/// What a lead's calls carried.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeadMedia {
    pub recordings: Vec<String>,
    pub digits: String,
    pub rtp_sent: u64,
    pub rtp_received: u64,
}

impl Engine {
    /// Starts SIP, registers the trunks that register, and sets up the campaign.
    pub async fn start(config: EngineConfig) -> Result<Engine, SipError> {
        let mut sip_options = config.sip.clone();
        if sip_options.tls_trusted.is_empty() {
            sip_options.tls_trusted = crate::trunks::trusted_certificates(&config.trunks);
        }
        let sip = SipAgent::start(sip_options).await?;
        let (legs_tx, legs) = mpsc::unbounded_channel();
        let media = media::MediaPool::new(config.media.clone(), sip.local_addr().ip(), legs_tx)
            .map_err(|e| SipError::Stack(format!("media: {e}")))?;
        let pool = TrunkPool::new(config.trunks.clone(), Instant::now());
        let (updates_tx, updates) = mpsc::unbounded_channel();
        let (notes_tx, notes) = mpsc::unbounded_channel();
        let mut registrations = Vec::new();
        let mut keepalives = Vec::new();
        for (i, t) in pool.trunks.iter().enumerate() {
            if !t.profile.enabled {
                registrations.push(None);
                continue;
            }
            if !t.profile.keepalive.is_zero() {
                let tx = notes_tx.clone();
                let target = t
                    .profile
                    .registration
                    .as_ref()
                    .and_then(|r| r.registrar.clone())
                    .unwrap_or_else(|| t.profile.address.clone());
                let target = format!("{target}{}", t.profile.sip_transport().uri_param());
                keepalives.push(sip.keep_alive(&target, t.profile.keepalive, move |status| {
                    let _ = tx.send(Note::Keepalive(i, status));
                }));
            }
            let (Some(reg), Some(auth)) = (&t.profile.registration, &t.profile.auth) else {
                registrations.push(None);
                continue;
            };
            let to = RegisterTo {
                registrar: reg
                    .registrar
                    .clone()
                    .unwrap_or_else(|| t.profile.address.clone()),
                credentials: auth.credentials(),
                transport: t.profile.sip_transport(),
                expires: reg.expires,
            };
            let tx = notes_tx.clone();
            registrations.push(Some(sip.keep_registered(to, move |state| {
                let _ = tx.send(Note::Registration(i, state));
            })?));
        }
        // TLS trunks: a handshake now tells an untrusted certificate at once (the stack would
        // only time out, 32 s later, without saying why).
        let mut pool = pool;
        for i in 0..pool.trunks.len() {
            let t = &pool.trunks[i].profile;
            if !t.enabled || t.sip_transport() != crate::sip::Transport::Tls {
                continue;
            }
            let target = t
                .registration
                .as_ref()
                .and_then(|r| r.registrar.clone())
                .unwrap_or_else(|| t.address.clone());
            if let Err(e) = sip.tls_check(&target).await {
                let why = format!(
                    "TLS to {target} failed ({e}): if the trunk's certificate is signed by a private CA, give its certificate under [tls] ca in trunk `{}`'s profile",
                    t.name
                );
                warn!(trunk = %t.name, problem = %why, "trunk failing");
                pool.reachable(i, Err(why), Instant::now());
            }
        }
        let mut scheduler = Scheduler::new();
        let now = now_ts();
        scheduler
            .handle(
                now,
                Event::CampaignSaved {
                    campaign: CAMPAIGN,
                    policy: Box::new(config.campaign.clone()),
                },
            )
            .map_err(|e| SipError::Stack(format!("campaign: {e}")))?;
        for op in 1..=config.operators {
            let operator = OperatorId(op);
            let _ = scheduler.handle(
                now,
                Event::OperatorLogin {
                    operator,
                    campaigns: vec![CAMPAIGN],
                },
            );
            let _ = scheduler.handle(now, Event::OperatorReady { operator });
        }
        Ok(Engine {
            scheduler,
            sip,
            pool,
            config,
            calls: HashMap::new(),
            waiting: BTreeMap::new(),
            updates_tx,
            updates,
            notes_tx,
            notes,
            alive: vec![true; registrations.len()],
            registered: registrations
                .iter()
                .map(|r| r.as_ref().map(|_| false))
                .collect(),
            registrations,
            _keepalives: keepalives,
            channel_limit: u32::MAX,
            placed: 0,
            answered: 0,
            media,
            legs,
            lead_media: HashMap::new(),
            closing: HashMap::new(),
            attempt_rows: HashMap::new(),
            attempt_rows_made: 0,
        })
    }

    /// The SIP address predial listens on.
    pub fn sip_addr(&self) -> std::net::SocketAddr {
        self.sip.local_addr()
    }

    /// Adds leads; those refused come back with the reason.
    pub fn add_leads(&mut self, leads: Vec<NewLead>) -> Vec<(String, String)> {
        let now = now_ts();
        let mut refused = Vec::new();
        for lead in leads {
            let phone = lead.phone.clone();
            if let Err(e) = self.scheduler.handle(now, Event::LeadAdded(Box::new(lead))) {
                refused.push((phone, e.to_string()));
            }
        }
        refused
    }

    /// Puts back leads read from the store, with their attempts and next due time; those that
    /// cannot be taken come back with the reason.
    pub fn restore_leads(&mut self, leads: Vec<OpenLead>) -> (Vec<LeadId>, Vec<(String, String)>) {
        let now = now_ts();
        let mut ids = Vec::new();
        let mut refused = Vec::new();
        for l in leads {
            let (id, phone) = (LeadId(l.id as u64), l.phone.clone());
            let event = restore_event(l, CAMPAIGN);
            match self.scheduler.handle(now, event) {
                Ok(()) => ids.push(id),
                Err(e) => refused.push((phone, e.to_string())),
            }
        }
        (ids, refused)
    }

    /// Writes a lead's state as the core holds it now.
    /// A closed lead is written once, when the core says it closed (`Action::LeadClosed`).
    pub(crate) fn persist_lead(&self, id: LeadId) {
        let (Some((journal, _)), Some(view)) = (&self.config.journal, self.scheduler.lead(id))
        else {
            return;
        };
        use predial_core::dialer::LeadState as S;
        let state = match view.state {
            S::New => "queued",
            S::Scheduled => "scheduled",
            S::Dialing => "dialing",
            S::Done => "done",
            S::Exhausted => "exhausted",
            S::Cancelled => "cancelled",
        };
        let now = now_ts().millis();
        let outcomes: Vec<&str> = view.history.iter().map(|o| o.as_str()).collect();
        journal.write(Entry::Lead {
            lead: id.0 as i64,
            state: state.into(),
            attempts: i64::from(view.attempts),
            history: outcomes.join(","),
            next_at_ms: view.due.map(|t| t.millis()),
            closed_ms: view.state.is_final().then_some(now),
        });
        if view.state.is_final() {
            self.notify(
                "lead.closed",
                format!("lead.closed:{}", id.0),
                serde_json::json!({
                    "lead": id.0,
                    "phone": view.phone.to_string(),
                    "state": state,
                    "attempts": view.attempts,
                    "outcomes": outcomes,
                }),
            );
        }
    }

    /// Queues a notification for the shop's CRM, when a webhook is configured.
    pub(crate) fn notify(&self, event: &str, key: String, data: serde_json::Value) {
        if let Some((journal, _)) = &self.config.journal
            && journal.webhooks
        {
            let at_ms = now_ts().millis();
            journal.write(Entry::Webhook {
                event: event.into(),
                payload: crate::webhooks::payload(event, &key, at_ms, data),
                key,
                at_ms,
            });
        }
    }

    /// Writes to the journal (when there is one) about an attempt: `entry` gets the attempt's
    /// row id and the campaign's id in the store.
    pub(crate) fn journal(&self, attempt: AttemptId, entry: impl FnOnce(i64, i64) -> Entry) {
        if let (Some((journal, campaign)), Some(row)) =
            (&self.config.journal, self.attempt_rows.get(&attempt))
        {
            journal.write(entry(*row, *campaign));
        }
    }

    /// Runs until every lead is closed or the deadline passes.
    pub async fn run(mut self, ids: Vec<LeadId>, refused: Vec<(String, String)>) -> RunReport {
        let deadline = tokio::time::Instant::now() + self.config.deadline;
        if self.config.media.recordings.is_some() {
            let _ = self.notes_tx.send(Note::SweepRecordings);
        }
        if self.config.journal.is_some() {
            let _ = self.notes_tx.send(Note::TrunkSnapshot);
        }
        let mut finished = false;
        loop {
            self.sync_channels();
            while let Some(action) = self.scheduler.poll_action() {
                self.act(action);
            }
            if ids
                .iter()
                .all(|id| self.scheduler.lead(*id).is_none_or(|l| l.state.is_final()))
                && self.calls.is_empty()
            {
                finished = true;
                break;
            }
            let now_i = tokio::time::Instant::now();
            let wake = self.scheduler.poll_timeout().map(|w| {
                let ahead = w.at.since(now_ts());
                now_i + ahead
            });
            let cps = self
                .waiting
                .keys()
                .next()
                .map(|(at, _)| tokio::time::Instant::from_std(*at));
            let sleep_to = [wake, cps, Some(deadline)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(deadline);
            tokio::select! {
                _ = tokio::time::sleep_until(sleep_to) => {
                    if tokio::time::Instant::now() >= deadline {
                        break;
                    }
                    let _ = self.scheduler.handle(now_ts(), Event::Tick);
                    self.retry_waiting();
                }
                Some(update) = self.updates.recv() => self.on_update(update),
                Some(note) = self.notes.recv() => self.on_note(note),
                Some((id, event)) = self.legs.recv() => self.on_leg(AttemptId(id), event),
            }
        }
        for call in self.calls.values() {
            call.control.hang_up();
        }
        self.snapshot_trunks(false);
        // The last legs report their figures as they close (bounded).
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while !self.closing.is_empty() {
            match tokio::time::timeout_at(until, self.legs.recv()).await {
                Ok(Some((id, event))) => self.on_leg(AttemptId(id), event),
                _ => break,
            }
        }
        let leads = ids
            .iter()
            .filter_map(|id| self.scheduler.lead(*id))
            .map(|l| LeadResult {
                lead: l.id.0,
                phone: l.phone.to_string(),
                state: l.state.as_str().to_string(),
                attempts: l.attempts,
                outcomes: l.history.iter().map(|o| o.as_str().to_string()).collect(),
                recordings: self
                    .lead_media
                    .get(&l.id)
                    .map(|m| m.recordings.clone())
                    .unwrap_or_default(),
                digits: self
                    .lead_media
                    .get(&l.id)
                    .map(|m| m.digits.clone())
                    .unwrap_or_default(),
                rtp_sent: self.lead_media.get(&l.id).map_or(0, |m| m.rtp_sent),
                rtp_received: self.lead_media.get(&l.id).map_or(0, |m| m.rtp_received),
            })
            .collect();
        let trunks = self
            .pool
            .trunks
            .iter()
            .enumerate()
            .map(|(i, t)| TrunkReport {
                name: t.profile.name.clone(),
                state: t.state,
                calls: t.calls,
                problem: t.problem.clone(),
                registered: self.registered.get(i).copied().flatten(),
            })
            .collect();
        self.sip.shutdown();
        RunReport {
            leads,
            refused,
            calls: self.placed,
            answered: self.answered,
            trunks,
            finished,
            recovered: None,
        }
    }

    /// Tells the core how many calls the trunks can carry now.
    fn sync_channels(&mut self) {
        let limit = self.pool.in_use() + self.pool.free_channels(Instant::now());
        if limit != self.channel_limit {
            self.channel_limit = limit;
            let _ = self
                .scheduler
                .handle(now_ts(), Event::ChannelLimit { channels: limit });
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Dial {
                attempt,
                lead,
                campaign,
                phone,
                ..
            } => {
                let dial = calls::PendingDial {
                    attempt,
                    lead,
                    campaign: campaign.0,
                    phone,
                    tried: Vec::new(),
                };
                match &self.config.journal {
                    // Persist before acting: the INVITE leaves once the start is stored.
                    Some((journal, store_campaign)) => {
                        let row = journal.attempt_offset + self.attempt_rows_made + 1;
                        self.attempt_rows_made += 1;
                        self.attempt_rows.insert(attempt, row);
                        let stored = journal.write_and_confirm(Entry::Started {
                            attempt: row,
                            lead: lead.0 as i64,
                            campaign: *store_campaign,
                            at_ms: now_ts().millis(),
                        });
                        let tx = self.notes_tx.clone();
                        tokio::spawn(async move {
                            let ok = stored.await.unwrap_or(false);
                            let _ = tx.send(Note::Persisted(dial, ok));
                        });
                    }
                    None => self.dial(dial),
                }
            }
            Action::Bridge { attempt, operator } => {
                // A stand-in operator talks for a while, then hangs up; the call is recorded.
                self.journal(attempt, |row, _| Entry::Bridged {
                    attempt: row,
                    at_ms: now_ts().millis(),
                    operator: format!("stand-in-{}", operator.0),
                });
                self.record(attempt);
                if let Some(call) = self.calls.get_mut(&attempt) {
                    call.bridged = true;
                }
                let tx = self.notes_tx.clone();
                let talk = self.config.talk;
                tokio::spawn(async move {
                    tokio::time::sleep(talk).await;
                    let _ = tx.send(Note::TalkDone(attempt));
                });
            }
            Action::Abandon { attempt, audit } => {
                info!(lead = %audit.lead, waited_ms = audit.waited_ms, "abandoned: no operator free");
                self.journal(attempt, |row, campaign| Entry::Abandoned {
                    attempt: row,
                    lead: audit.lead.0 as i64,
                    campaign,
                    answered_ms: audit.answered_at.millis(),
                    ended_ms: audit.at.millis(),
                    reason: "no operator free".into(),
                });
                // The callee hears the abandoned-call message, then the call ends.
                self.abandon(attempt);
            }

            Action::Preview { operator, .. } => {
                let _ = self
                    .scheduler
                    .handle(now_ts(), Event::PreviewDial { operator });
            }
            Action::LeadClosed { lead, state } => {
                if self.scheduler.lead(lead).is_some() {
                    self.persist_lead(lead);
                } else if let Some((journal, _)) = &self.config.journal {
                    // Gone from the core already (cancelled): its state and closing time.
                    journal.write(Entry::LeadClosed {
                        lead: lead.0 as i64,
                        state: state.as_str().into(),
                        at_ms: now_ts().millis(),
                    });
                }
            }
            Action::OperatorState { .. } => {}
        }
    }

    /// Writes each trunk's live state to the store (`running`: the engine goes on).
    fn snapshot_trunks(&self, running: bool) {
        let Some((journal, _)) = &self.config.journal else {
            return;
        };
        let at_ms = now_ts().millis();
        for (i, t) in self.pool.trunks.iter().enumerate() {
            let state = serde_json::json!({
                "state": t.state,
                "problem": t.problem,
                "registered": self.registered.get(i).copied().flatten(),
                "channels_in_use": t.in_use,
                "calls": t.calls,
                "engine_running": running,
                "at_ms": at_ms,
            });
            journal.write(Entry::TrunkState {
                name: t.profile.name.clone(),
                state: state.to_string(),
            });
        }
    }

    fn on_note(&mut self, note: Note) {
        match note {
            Note::TrunkSnapshot => {
                self.snapshot_trunks(true);
                let tx = self.notes_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let _ = tx.send(Note::TrunkSnapshot);
                });
            }
            Note::Persisted(dial, true) => self.dial(dial),
            Note::Persisted(dial, false) => {
                warn!(attempt = %dial.attempt, "the attempt could not be stored: not dialled");
                let _ = self.scheduler.handle(
                    now_ts(),
                    Event::AttemptFinished {
                        attempt: dial.attempt,
                        outcome: predial_core::dialer::Outcome::TrunkFailure,
                    },
                );
            }
            Note::TalkDone(attempt) => {
                if let Some(call) = self.calls.get(&attempt) {
                    call.control.hang_up();
                }
            }
            Note::AbandonDone(attempt) => {
                if let Some(call) = self.calls.get(&attempt) {
                    call.control.hang_up();
                }
            }
            Note::SweepRecordings => {
                if let Some(dir) = &self.config.media.recordings {
                    let removed = crate::media::recorder::sweep(
                        dir,
                        self.config.media.keep_recordings,
                        std::time::SystemTime::now(),
                    );
                    if removed > 0 {
                        info!(removed, dir = %dir.display(), "old recordings deleted");
                    }
                    let tx = self.notes_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        let _ = tx.send(Note::SweepRecordings);
                    });
                }
            }
            Note::Registration(i, state) => {
                self.registered[i] = Some(matches!(state, RegistrationState::Registered { .. }));
                let name = self.pool.trunks[i].profile.name.clone();
                let result = match state {
                    RegistrationState::Registered { .. } => Ok(()),
                    RegistrationState::Rejected { status } => Err(format!(
                        "the registrar refused our registration ({status}): check user and password under [auth] in trunk `{name}`'s profile"
                    )),
                    RegistrationState::Unreachable { reason } => Err(format!(
                        "the registrar does not answer ({reason}): check [registration] registrar and the address of trunk `{name}`"
                    )),
                };
                if let Err(why) = &result {
                    warn!(trunk = %name, problem = %why, "trunk registration failed: trunk failing");
                } else if self.pool.trunks[i].state != TrunkState::Up {
                    info!(trunk = %name, "trunk registered: up");
                }
                self.pool.reachable(i, result, Instant::now());
            }
            Note::Keepalive(i, status) => {
                let name = self.pool.trunks[i].profile.name.clone();
                // Any answer but a timeout or a server error means the trunk is there.
                let up = status != 408 && status < 500;
                let was = std::mem::replace(&mut self.alive[i], up);
                if !up {
                    let why = format!(
                        "the trunk does not answer OPTIONS ({status}): check that it is up and reachable"
                    );
                    if was {
                        warn!(trunk = %name, problem = %why, "trunk failing");
                    }
                    self.pool.reachable(i, Err(why), Instant::now());
                } else if !was {
                    match &self.registrations[i] {
                        // Back after an outage: the registrar may have forgotten us.
                        Some(reg) => {
                            info!(trunk = %name, "trunk answers OPTIONS again: registering");
                            reg.refresh_now();
                        }
                        None => {
                            info!(trunk = %name, "trunk answers OPTIONS again: up");
                            self.pool.reachable(i, Ok(()), Instant::now());
                        }
                    }
                }
            }
        }
    }
}
