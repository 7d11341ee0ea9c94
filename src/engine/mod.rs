//! The engine: the only place the real clock is read (`clock.rs`, once per turn). One task owns
//! the dialing core (the `Scheduler`), feeds it the time and what happens on the lines, and
//! carries out its actions: calls through the trunks (`routing.rs` picks the trunk), answered
//! calls handed to operators on softphones (or, in `predial dial`, to stand-ins who "talk" for
//! a set time), inbound calls into queues and the bot, everything written to the store's
//! journal. docs/architecture.md has the loop and what is pure in it.

mod calls;
pub mod clock;
pub mod inbound;
mod legs;
pub mod media;
pub mod operators;
mod party;
pub mod preview;
mod routing;
mod service;
mod timers;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

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

pub use crate::feed::{Feed, LiveFigures, OperatorAction, OperatorReport, QueueReport};
pub use calls::LiveCall;
pub use inbound::{InboundReport, InboundSetup};
pub use operators::{OperatorAccount, Softphones};
pub use service::{Service, ServiceConfig, ServiceError};

/// What a run needs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub sip: SipOptions,
    pub trunks: Vec<TrunkProfile>,
    /// The campaigns dialled, by their id (the store's, when there is one).
    pub campaigns: Vec<(CampaignId, CampaignPolicy)>,
    /// Stand-in operators: how many, and how long each answered call is talked.
    pub operators: u32,
    pub talk: Duration,
    /// Operators on softphones (registered to our registrar) instead of stand-ins.
    pub softphones: Option<Softphones>,
    /// Stop when every lead is closed, or after this long.
    pub deadline: Duration,
    /// Run until stopped (`predial serve`, `predial demo`), taking leads as they come, instead
    /// of until the leads given are closed.
    pub keep_running: bool,
    /// The store, for what the operators enter (results by DTMF).
    pub store: Option<crate::store::Store>,
    /// Happenings for the API's live stream.
    pub events: Option<tokio::sync::broadcast::Sender<crate::happenings::Happening>>,
    /// RTP ports, prompts, recordings.
    pub media: media::MediaConfig,
    /// The store's journal: attempts written as started before their INVITE leaves, their
    /// course, the leads' state. None: nothing is stored.
    pub journal: Option<Journal>,
    /// Inbound numbers, queues and the bot (none: trunks' calls are refused).
    pub inbound: InboundSetup,
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
    /// Answered calls connected to an operator.
    pub bridged: u64,
    /// Answered calls that found no operator in time.
    pub abandoned: u64,
    /// From the callee's answer (a person, once the detector says so) to the operator's
    /// media bridged, ms.
    pub answer_to_bridge_ms: Percentiles,
    /// From a dial being due (its timer, or the event that made it possible) to its INVITE
    /// handed to the SIP stack, ms; a wait for the trunk's calls-per-second token is not lag.
    pub dial_lag_ms: Percentiles,
    pub operators: Vec<OperatorReport>,
    /// Results the operators entered, by kind.
    pub results: BTreeMap<&'static str, u64>,
    pub trunks: Vec<TrunkReport>,
    /// Whether every lead was closed before the deadline.
    pub finished: bool,
    /// With a store: what start-up found of an earlier run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<crate::store::journal::Recovered>,
    /// Inbound calls: queues, the bot, missed calls.
    pub inbound: InboundReport,
}

/// The median and the 99th percentile of a set of samples (0 without samples).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub samples: usize,
}

impl Percentiles {
    pub fn of(samples: &[f64]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        Percentiles {
            p50: quantile(&v, 0.5),
            p99: quantile(&v, 0.99),
            samples: v.len(),
        }
    }
}

/// The `q` quantile of sorted samples (nearest rank), to two decimals; 0 without samples.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    (sorted[i.min(sorted.len() - 1)] * 100.0).round() / 100.0
}

/// What the engine measures of itself, for the run's report (the metrics carry them too).
#[derive(Debug, Default)]
pub(crate) struct Measures {
    pub dial_lag_ms: Vec<f64>,
    pub answer_to_bridge_ms: Vec<f64>,
}

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
    lead.until = l.keep_until_ms.map(Timestamp::from_millis);
    Event::LeadRestored {
        lead: Box::new(lead),
        attempts: u8::try_from(l.attempts).unwrap_or(u8::MAX),
        history,
        due: Timestamp::from_millis(l.next_at_ms.unwrap_or(l.created_ms)),
    }
}

/// The next item of an optional channel (never, without one).
async fn recv_from<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Resolves once `stop` turns true (never, without one).
async fn stopped(stop: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    match stop {
        Some(rx) => {
            let _ = rx.wait_for(|v| *v).await;
        }
        None => std::future::pending().await,
    }
}

/// Hands an event to the core. A refusal is counted (`predial_core_refusals_total{reason}`) and
/// comes back to act on: the core changed nothing for it (see `EventError`).
pub(crate) fn ask(
    scheduler: &mut Scheduler,
    now: Timestamp,
    event: Event,
) -> Result<(), predial_core::dialer::EventError> {
    scheduler.handle(now, event).inspect_err(|e| {
        metrics::counter!("predial_core_refusals_total", "reason" => e.reason()).increment(1);
        tracing::debug!(error = %e, reason = e.reason(), "the core refused an event");
    })
}

/// Hands an event to the core that it is expected to take: a refusal is counted and logged as
/// a warning, since it means the engine and the core disagree about what exists.
pub(crate) fn tell(scheduler: &mut Scheduler, now: Timestamp, event: Event) {
    if let Err(e) = ask(scheduler, now, event) {
        warn!(error = %e, reason = e.reason(), "the core refused an event the engine expected it to take");
    }
}

/// Wall time now, from the process's one clock (anchored once, carried by the monotonic clock).
fn now_ts() -> Timestamp {
    clock::process().now()
}

/// Internal happenings the engine waits on besides SIP.
enum Note {
    /// A stand-in operator finished talking: hang the call up.
    TalkDone(AttemptId),
    Registration(usize, RegistrationState),
    /// A trunk's answer to OPTIONS (408: none).
    Keepalive(usize, u16),
    /// A call's last message (abandoned-call message, pickup reminder) had its time: hang up
    /// even if it did not finish.
    LastMessageDone(AttemptId),
    /// Delete recordings past their keeping time.
    SweepRecordings,
    /// An attempt's start is stored (true) or could not be (false): the call may go.
    Persisted(calls::PendingDial, bool),
    /// Time to write the trunks' live state to the store.
    TrunkSnapshot,
    /// Time to look at the operators' registrations.
    Registrations,
    /// Time to publish the live figures.
    Figures,
    Inbound(inbound::InboundNote),
}

pub struct Engine {
    scheduler: Scheduler,
    sip: SipAgent,
    /// Which trunk carries each dial (pure: it owns the trunks' live state).
    routing: routing::Routing,
    config: EngineConfig,
    calls: HashMap<AttemptId, LiveCall>,
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
    /// With a store: each attempt's row id there and its campaign's id, while it lasts.
    pub(crate) attempt_rows: HashMap<AttemptId, (i64, i64)>,
    attempt_rows_made: i64,
    pub(crate) desk: operators::OperatorDesk,
    pub(crate) measures: Measures,
    /// Wall time of this turn: read once per turn from the one clock, and used for everything
    /// the turn decides.
    now: Timestamp,
    /// What the engine waits for besides calls and the store: data, read by the loop.
    timers: timers::Timers<Note>,
    pub(crate) bridged: u64,
    pub(crate) results: BTreeMap<&'static str, u64>,
    pub(crate) outcomes: BTreeMap<&'static str, u64>,
    incoming: Option<mpsc::UnboundedReceiver<crate::sip::IncomingCall>>,
    leads_in: Option<mpsc::UnboundedReceiver<Feed>>,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
    figures: Option<tokio::sync::watch::Sender<LiveFigures>>,
    /// When the dials the core gives now became due: the timer's time, or the event's arrival.
    turn_due: Instant,
    /// Dials whose start is being stored (persist before act).
    persisting: usize,
    /// Inbound calls in progress, how many were taken, what was measured of them.
    pub(crate) inbound: HashMap<AttemptId, inbound::InboundLive>,
    pub(crate) inbound_made: u64,
    pub(crate) inbound_measures: inbound::InboundMeasures,
    pub(crate) inbound_gone: inbound::Gone,
    /// Leads made from missed calls (their callback reaching the caller recovers the call).
    pub(crate) callback_leads: std::collections::HashSet<LeadId>,
    /// Pickup reminders' details, by lead.
    pub(crate) reminders: HashMap<LeadId, legs::Reminder>,
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
        let mut incoming = None;
        if let Some(soft) = &config.softphones {
            let (tx, rx) = mpsc::unbounded_channel();
            sip_options.registrar = Some(soft.registrar.clone());
            sip_options.incoming = Some(tx);
            incoming = Some(rx);
            let trunks = crate::trunks::inbound_sources(&config.trunks).await;
            sip_options.unlimited = trunks.iter().map(|t| t.ip).collect();
            if !config.inbound.config.numbers.is_empty() {
                sip_options.trunk_sources = trunks;
            }
        }
        let sip = SipAgent::start(sip_options).await?;
        let (legs_tx, legs) = mpsc::unbounded_channel();
        // RTP on the address others reach us at (never 0.0.0.0 in an SDP).
        let media =
            media::MediaPool::new(config.media.clone(), sip.advertised_addr().ip(), legs_tx)
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
                pool.unreachable(i, why, Instant::now());
            }
        }
        let mut scheduler = Scheduler::new();
        let now = now_ts();
        for (campaign, policy) in &config.campaigns {
            ask(
                &mut scheduler,
                now,
                Event::CampaignSaved {
                    campaign: *campaign,
                    policy: Box::new(policy.clone()),
                },
            )
            .map_err(|e| SipError::Stack(format!("campaign {campaign}: {e}")))?;
        }
        for (i, q) in config.inbound.config.queues.iter().enumerate() {
            ask(
                &mut scheduler,
                now,
                Event::QueueSaved {
                    queue: predial_core::acd::QueueId(i as u32 + 1),
                    policy: Box::new(q.policy.clone()),
                },
            )
            .map_err(|e| SipError::Stack(format!("queue {}: {e}", q.name)))?;
        }
        let all: Vec<CampaignId> = config.campaigns.iter().map(|c| c.0).collect();
        let stand_ins = if config.softphones.is_some() {
            0
        } else {
            config.operators
        };
        let logins: Vec<String> = match &config.softphones {
            Some(soft) => soft.accounts.iter().map(|a| a.login.clone()).collect(),
            None => (1..=stand_ins).map(|i| format!("stand-in-{i}")).collect(),
        };
        let mut desk = operators::OperatorDesk::new(logins);
        for op in 1..=stand_ins {
            if let Some(o) = desk.get_mut(OperatorId(op)) {
                o.state = predial_core::acd::OperatorState::Ready;
            }
            let operator = OperatorId(op);
            tell(
                &mut scheduler,
                now,
                Event::OperatorLogin {
                    operator,
                    campaigns: all.clone(),
                },
            );
            tell(&mut scheduler, now, Event::OperatorReady { operator });
        }
        Ok(Engine {
            now,
            timers: timers::Timers::default(),
            scheduler,
            sip,
            routing: routing::Routing::new(pool),
            config,
            calls: HashMap::new(),
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
            desk,
            measures: Measures::default(),
            bridged: 0,
            results: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            incoming,
            leads_in: None,
            stop: None,
            figures: None,
            turn_due: Instant::now(),
            persisting: 0,
            inbound: HashMap::new(),
            inbound_made: 0,
            inbound_measures: inbound::InboundMeasures::default(),
            inbound_gone: HashMap::new(),
            callback_leads: std::collections::HashSet::new(),
            reminders: HashMap::new(),
        })
    }

    /// A campaign's policy.
    pub(crate) fn policy(&self, campaign: u32) -> &CampaignPolicy {
        self.config
            .campaigns
            .iter()
            .find(|c| c.0.0 == campaign)
            .or(self.config.campaigns.first())
            .map(|c| &c.1)
            .expect("the engine runs at least one campaign")
    }

    /// Leads arriving while the engine runs (`keep_running`): read from the store by whoever
    /// sends them.
    pub fn take_leads(&mut self, leads: mpsc::UnboundedReceiver<Feed>) {
        self.leads_in = Some(leads);
    }

    /// The engine stops when this turns true (`keep_running`).
    pub fn stop_on(&mut self, stop: tokio::sync::watch::Receiver<bool>) {
        self.stop = Some(stop);
    }

    /// The live figures, published about once a second.
    pub fn figures(&mut self) -> tokio::sync::watch::Receiver<LiveFigures> {
        let (tx, rx) = tokio::sync::watch::channel(LiveFigures::default());
        self.figures = Some(tx);
        rx
    }

    fn on_feed(&mut self, feed: Feed) {
        let now = self.now;
        match feed {
            Feed::Lead(campaign, lead) => {
                let phone = lead.phone.clone();
                if let Err(e) = self.take_lead(campaign, lead) {
                    warn!(phone = %phone, error = %e, "a lead the engine cannot take");
                }
            }
            Feed::Callback(lead) => {
                self.callback_leads.insert(lead);
                if let Err(e) = ask(&mut self.scheduler, now, Event::MissedCallback { lead }) {
                    warn!(%lead, error = %e, "the lead cannot be made a callback");
                }
            }
            Feed::CallbackAgreed { lead, at } => self.agree_callback(lead, at),
            Feed::Cancelled(lead) => {
                tell(&mut self.scheduler, now, Event::LeadCancelled { lead });
            }
            Feed::Campaign(campaign, policy, running) => {
                let new = !self.config.campaigns.iter().any(|c| c.0 == campaign);
                if let Some(c) = self.config.campaigns.iter_mut().find(|c| c.0 == campaign) {
                    c.1 = (*policy).clone();
                } else {
                    self.config.campaigns.push((campaign, (*policy).clone()));
                }
                if let Err(e) = ask(
                    &mut self.scheduler,
                    now,
                    Event::CampaignSaved { campaign, policy },
                ) {
                    warn!(%campaign, error = %e, "a campaign the engine cannot take");
                }
                if new {
                    self.campaigns_grew();
                }
                let run = if running {
                    predial_core::dialer::CampaignRun::Running
                } else {
                    predial_core::dialer::CampaignRun::Paused
                };
                tell(
                    &mut self.scheduler,
                    now,
                    Event::CampaignRun { campaign, run },
                );
            }
            Feed::Operator { login, action } => {
                self.operator_action(&login, action);
            }
            Feed::Preview(r) => {
                let answer = self.preview_choice(&r.login, r.lead, r.choice, now);
                let _ = r.reply.send(answer);
            }
            Feed::ShownPreview { login, reply } => {
                let _ = reply.send(self.shown(&login));
            }
        }
    }

    fn live_figures(&self) -> LiveFigures {
        let talking = self.calls.values().filter(|c| c.answered).count() as u64;
        let stats = self.scheduler.stats();
        LiveFigures {
            leads_open: stats
                .leads_in
                .saturating_sub(stats.done + stats.exhausted + stats.cancelled + stats.refused),
            calls_ringing: self.calls.len() as u64 - talking,
            calls_talking: talking,
            calls: self.placed,
            answered: self.answered,
            bridged: self.bridged,
            abandoned: stats.abandoned,
            operators: self.desk.report(),
            results: self.results.clone(),
            outcomes: self.outcomes.clone(),
            queues: self.queue_reports(),
        }
    }

    /// The SIP address predial listens on.
    pub fn sip_addr(&self) -> std::net::SocketAddr {
        self.sip.local_addr()
    }

    /// Adds leads; those refused come back with the reason.
    pub fn add_leads(&mut self, leads: Vec<NewLead>) -> Vec<(String, String)> {
        self.now = now_ts();
        let now = self.now;
        let mut refused = Vec::new();
        for lead in leads {
            let phone = lead.phone.clone();
            if let Err(e) = ask(&mut self.scheduler, now, Event::LeadAdded(Box::new(lead))) {
                refused.push((phone, e.to_string()));
            }
        }
        refused
    }

    /// Puts back leads read from the store, with their attempts and next due time; those that
    /// cannot be taken come back with the reason.
    pub fn restore_leads(
        &mut self,
        campaign: CampaignId,
        leads: Vec<OpenLead>,
    ) -> (Vec<LeadId>, Vec<(String, String)>) {
        self.now = now_ts();
        let mut ids = Vec::new();
        let mut refused = Vec::new();
        for l in leads {
            let (id, phone) = (LeadId(l.id as u64), l.phone.clone());
            match self.take_lead(campaign, l) {
                Ok(()) => ids.push(id),
                Err(e) => refused.push((phone, e.to_string())),
            }
        }
        (ids, refused)
    }

    /// Puts back a campaign's abandon-rate window from the store (its calls of the last 30
    /// days, the longest regulator's window), so a restart does not reset the abandon cap.
    /// Call it before the engine runs. Answers the window's figures now: (live answers,
    /// abandoned, rate).
    pub async fn restore_abandon_window(
        &mut self,
        store: &crate::store::Store,
        campaign: CampaignId,
    ) -> Result<Option<(u64, u64, f64)>, crate::store::StoreError> {
        let now = now_ts();
        let since = now.millis() - 30 * 86_400_000;
        let hours = store.abandon_history(i64::from(campaign.0), since).await?;
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let history = hours
            .iter()
            .map(|h| predial_core::pacing::PastCalls {
                at: Timestamp::from_millis(h.start_ms),
                connected: count(h.connected),
                abandoned: count(h.abandoned),
                machines: count(h.machines),
            })
            .collect();
        tell(
            &mut self.scheduler,
            now,
            Event::AbandonHistoryRestored { campaign, history },
        );
        Ok(self.scheduler.abandon_window(campaign))
    }

    /// Hands a stored lead to the core; one made from a missed call is a callback (dialled
    /// first) until its first attempt.
    fn take_lead(
        &mut self,
        campaign: CampaignId,
        l: OpenLead,
    ) -> Result<(), predial_core::dialer::EventError> {
        let now = self.now;
        let id = LeadId(l.id as u64);
        let callback = l.source == "callback";
        let fresh = l.attempts == 0;
        if l.pickup_point.is_some() || l.keep_until_ms.is_some() {
            self.reminders.insert(
                id,
                legs::Reminder {
                    point: l.pickup_point.clone(),
                    until_ms: l.keep_until_ms,
                    time_zone: l.time_zone.clone(),
                },
            );
        }
        ask(&mut self.scheduler, now, restore_event(l, campaign))?;
        if callback {
            self.callback_leads.insert(id);
            if fresh {
                tell(&mut self.scheduler, now, Event::MissedCallback { lead: id });
            }
        }
        Ok(())
    }

    /// Writes a lead's state as the core holds it now.
    /// A closed lead is written once, when the core says it closed (`Action::LeadClosed`).
    pub(crate) fn persist_lead(&self, id: LeadId) {
        let (Some(journal), Some(view)) = (&self.config.journal, self.scheduler.lead(id)) else {
            return;
        };
        use predial_core::dialer::LeadState as S;
        let state = view.state.as_str();
        let now = self.now.millis();
        let outcomes: Vec<&str> = view.history.iter().map(|o| o.as_str()).collect();
        journal.write(Entry::Lead {
            lead: id,
            state: view.state,
            attempts: i64::from(view.attempts),
            history: outcomes.join(","),
            next_at_ms: view.due.map(|t| t.millis()),
            closed_ms: view.state.is_final().then_some(now),
        });
        if view.state == S::Done && self.callback_leads.contains(&id) {
            journal.write(Entry::MissedRecovered {
                lead: id,
                at_ms: now,
            });
        }
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
        if let Some(journal) = &self.config.journal
            && journal.webhooks.load(std::sync::atomic::Ordering::Relaxed)
        {
            let at_ms = self.now.millis();
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
        if let (Some(journal), Some((row, campaign))) =
            (&self.config.journal, self.attempt_rows.get(&attempt))
        {
            journal.write(entry(*row, *campaign));
        }
    }

    /// Runs until every lead is closed or the deadline passes.
    pub async fn run(mut self, ids: Vec<LeadId>, refused: Vec<(String, String)>) -> RunReport {
        let deadline = tokio::time::Instant::now() + self.config.deadline;
        let start = Instant::now();
        if self.config.media.recordings.is_some() {
            self.timers.at(start, Note::SweepRecordings);
        }
        if self.config.journal.is_some() {
            self.timers.at(start, Note::TrunkSnapshot);
        }
        if self.config.softphones.is_some() {
            self.timers.at(start, Note::Registrations);
        }
        if self.figures.is_some() {
            self.timers.at(start, Note::Figures);
        }
        // Dials due now are due from the start of the run, not from the engine's making.
        self.turn_due = Instant::now();
        let mut stop = self.stop.take();
        let mut incoming = self.incoming.take();
        let mut leads_in = self.leads_in.take();
        let mut finished = false;
        loop {
            let turn = Instant::now();
            self.now = clock::process().at(turn);
            // The engine's own timers due by now.
            while let Some(note) = self.timers.pop_due(turn) {
                self.on_note(note);
            }
            // Timers that came due while events kept the loop busy are served now, not when
            // the sleep below happens to be picked.
            if let Some(w) = self.scheduler.poll_timeout() {
                let now = self.now;
                if w.at <= now {
                    let late =
                        Duration::from_millis(now.millis().saturating_sub(w.at.millis()) as u64);
                    self.turn_due = turn.checked_sub(late).unwrap_or(turn);
                    tell(&mut self.scheduler, now, Event::Tick);
                }
            }
            self.retry_waiting();
            self.sync_channels();
            let mut actions = 0u32;
            while let Some(action) = self.scheduler.poll_action() {
                self.act(action);
                actions += 1;
            }
            // Callers gone from a queue were reported by the actions above, if at all.
            self.inbound_gone.clear();
            metrics::histogram!("predial_engine_turn_seconds").record(turn.elapsed().as_secs_f64());
            metrics::histogram!("predial_engine_actions_per_turn").record(f64::from(actions));
            if !self.config.keep_running
                && ids
                    .iter()
                    .all(|id| self.scheduler.lead(*id).is_none_or(|l| l.state.is_final()))
                && self.calls.is_empty()
            {
                finished = true;
                break;
            }
            let now_i = tokio::time::Instant::now();
            let wake = self.scheduler.poll_timeout().map(|w| {
                let ahead = w.at.since(self.now);
                now_i + ahead
            });
            let cps = self
                .routing
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let timer = self.timers.next().map(tokio::time::Instant::from_std);
            let sleep_to = [wake, cps, timer, Some(deadline)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(deadline);
            tokio::select! {
                _ = tokio::time::sleep_until(sleep_to) => {
                    if tokio::time::Instant::now() >= deadline {
                        break;
                    }
                    // The top of the loop serves what came due: the core's timers, the
                    // waiting dials, the engine's own timers.
                    self.turn_due = sleep_to.into_std();
                }
                Some(update) = self.updates.recv() => {
                    self.wake();
                    self.on_update(update);
                }
                Some(note) = self.notes.recv() => {
                    self.wake();
                    self.on_note(note);
                }
                Some((id, event)) = self.legs.recv() => {
                    self.wake();
                    self.on_leg(id, event);
                }
                Some(call) = recv_from(&mut incoming) => {
                    self.wake();
                    self.on_incoming(call);
                }
                Some(feed) = recv_from(&mut leads_in) => {
                    self.wake();
                    self.on_feed(feed);
                }
                _ = stopped(&mut stop) => break,
            }
            // Whatever else has arrived joins this turn: the core then decides once for all
            // of it.
            let mut events = 1u32;
            while events < 256 {
                if let Ok(update) = self.updates.try_recv() {
                    self.on_update(update);
                } else if let Ok((id, event)) = self.legs.try_recv() {
                    self.on_leg(id, event);
                } else {
                    break;
                }
                events += 1;
            }
            metrics::histogram!("predial_engine_events_per_turn").record(f64::from(events));
        }
        // Nothing new is dialled from here on.
        self.now = now_ts();
        let now = self.now;
        for (campaign, _) in self.config.campaigns.clone() {
            tell(
                &mut self.scheduler,
                now,
                Event::CampaignRun {
                    campaign,
                    run: predial_core::dialer::CampaignRun::Paused,
                },
            );
        }
        for call in self.calls.values() {
            call.control.hang_up();
        }
        for op in self.desk.legs.values() {
            op.control.hang_up();
        }
        self.hang_up_inbound();
        // Dials not placed yet go back to their leads, unspent.
        for dial in self.routing.take_waiting() {
            self.not_placed(&dial);
        }
        // The calls end (BYE) before the agent stops, and dials whose start is being stored
        // are not placed (bounded).
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while !self.calls.is_empty()
            || !self.desk.legs.is_empty()
            || !self.inbound.is_empty()
            || self.persisting > 0
        {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                Some(update) = self.updates.recv() => self.on_update(update),
                Some(note) = self.notes.recv() => {
                    match note {
                        Note::Persisted(dial, _) => {
                            self.persisting = self.persisting.saturating_sub(1);
                            self.not_placed(&dial);
                        }
                        Note::Inbound(inbound::InboundNote::Ended(id)) => {
                            self.on_inbound_note(inbound::InboundNote::Ended(id));
                        }
                        _ => {}
                    }
                }
            }
        }
        // What the calls' ends changed: leads closed, operators' states (no call is placed or
        // bridged any more).
        while let Some(action) = self.scheduler.poll_action() {
            if matches!(
                action,
                Action::LeadClosed { .. } | Action::OperatorState { .. }
            ) {
                self.act(action);
            }
        }
        self.snapshot_trunks(false);
        // The last legs report their figures as they close (bounded).
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while !self.closing.is_empty() {
            match tokio::time::timeout_at(until, self.legs.recv()).await {
                Ok(Some((id, event))) => self.on_leg(id, event),
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
            .routing
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
            bridged: self.bridged,
            abandoned: self.scheduler.stats().abandoned,
            answer_to_bridge_ms: Percentiles::of(&self.measures.answer_to_bridge_ms),
            dial_lag_ms: Percentiles::of(&self.measures.dial_lag_ms),
            operators: self.desk.report(),
            results: self.results.clone(),
            trunks,
            finished,
            recovered: None,
            inbound: self.inbound_report(),
        }
    }

    /// Something arrived: the turn it starts is due now, and decided at this instant.
    fn wake(&mut self) {
        let t = Instant::now();
        self.turn_due = t;
        self.now = clock::process().at(t);
    }

    /// Tells the core how many calls the trunks can carry now.
    fn sync_channels(&mut self) {
        let limit = self.routing.pool.in_use() + self.routing.pool.free_channels(Instant::now());
        if limit != self.channel_limit {
            self.channel_limit = limit;
            tell(
                &mut self.scheduler,
                self.now,
                Event::ChannelLimit { channels: limit },
            );
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Dial {
                attempt,
                lead,
                campaign,
                phone,
                operator,
                ..
            } => {
                if let Some(op) = operator {
                    // Progressive and preview dialing: the call is for this operator.
                    self.operator_state(op, predial_core::acd::OperatorState::Reserved);
                }
                let dial = calls::PendingDial {
                    attempt,
                    lead,
                    campaign: campaign.0,
                    phone,
                    tried: Vec::new(),
                    due: self.turn_due,
                };
                match &self.config.journal {
                    // Persist before acting: the INVITE leaves once the start is stored.
                    Some(journal) => {
                        let row = journal.attempt_offset + self.attempt_rows_made + 1;
                        self.attempt_rows_made += 1;
                        self.attempt_rows
                            .insert(attempt, (row, i64::from(campaign.0)));
                        let stored = journal.write_and_confirm(Entry::Started {
                            attempt: row,
                            lead: lead.0 as i64,
                            campaign: i64::from(campaign.0),
                            at_ms: self.now.millis(),
                        });
                        let tx = self.notes_tx.clone();
                        self.persisting += 1;
                        tokio::spawn(async move {
                            let ok = stored.await.unwrap_or(false);
                            let _ = tx.send(Note::Persisted(dial, ok));
                        });
                    }
                    None => self.dial(dial),
                }
            }
            Action::Bridge { attempt, operator } if self.config.softphones.is_some() => {
                self.operator_state(operator, predial_core::acd::OperatorState::OnCall);
                if attempt.is_inbound() {
                    self.inbound_to_operator(attempt, operator);
                }
                self.ring_operator(attempt, operator);
            }
            Action::Bridge { attempt, operator } => {
                // A stand-in operator talks for a while, then hangs up; the call is recorded.
                self.bridged += 1;
                if let Some(o) = self.desk.get_mut(operator) {
                    o.calls += 1;
                }
                if let Some(at) = self.calls.get(&attempt).and_then(|c| c.person_at) {
                    let ms = at.elapsed().as_secs_f64() * 1000.0;
                    self.measures.answer_to_bridge_ms.push(ms);
                }
                self.journal(attempt, |row, _| Entry::Bridged {
                    attempt: row,
                    at_ms: self.now.millis(),
                    operator: format!("stand-in-{}", operator.0),
                });
                self.record(attempt);
                if let Some(call) = self.calls.get_mut(&attempt) {
                    call.bridged = true;
                }
                let talk = self.config.talk;
                self.timers
                    .after(Instant::now(), talk, Note::TalkDone(attempt));
            }
            Action::Abandon { attempt, audit } => self.abandoned_call(attempt, &audit),

            Action::Preview {
                operator,
                lead,
                campaign,
                phone,
                ..
            } => {
                let now = self.now;
                if self.config.softphones.is_none() {
                    // Stand-in operators (`predial dial`) have no screen: they dial at once.
                    tell(&mut self.scheduler, now, Event::PreviewDial { operator });
                } else {
                    self.show_preview(operator, lead, campaign, phone.to_string(), now.millis());
                }
            }
            Action::LeadClosed { lead, state } => {
                self.reminders.remove(&lead);
                if self.scheduler.lead(lead).is_some() {
                    self.persist_lead(lead);
                    self.callback_leads.remove(&lead);
                } else if let Some(journal) = &self.config.journal {
                    // Gone from the core already (cancelled): its state and closing time.
                    journal.write(Entry::LeadClosed {
                        lead,
                        state,
                        at_ms: self.now.millis(),
                    });
                }
            }
            Action::OperatorState { operator, state } => self.operator_state(operator, state),
            Action::QueueAnnounce {
                call,
                position,
                wait_estimate_ms,
            } => self.queue_announce(call, position, wait_estimate_ms),
            Action::QueueTimeout { call, .. } => self.queue_timeout(call),
            Action::Remind { attempt, lead } => self.remind(attempt, lead),
            Action::QueueAbandoned {
                call, waited_ms, ..
            } => self.queue_abandoned(call, waited_ms),
        }
    }

    /// Writes each trunk's live state to the store (`running`: the engine goes on).
    fn snapshot_trunks(&self, running: bool) {
        let Some(journal) = &self.config.journal else {
            return;
        };
        let at_ms = self.now.millis();
        for (i, t) in self.routing.pool.trunks.iter().enumerate() {
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
            Note::Registrations => {
                self.follow_registrations();
                self.timers.after(
                    Instant::now(),
                    Duration::from_millis(250),
                    Note::Registrations,
                );
            }
            Note::Inbound(note) => self.on_inbound_note(note),
            Note::Figures => {
                if let Some(f) = &self.figures {
                    let _ = f.send(self.live_figures());
                }
                self.queue_metrics();
                self.timers
                    .after(Instant::now(), Duration::from_millis(500), Note::Figures);
            }
            Note::TrunkSnapshot => {
                self.snapshot_trunks(true);
                self.timers
                    .after(Instant::now(), Duration::from_secs(2), Note::TrunkSnapshot);
            }
            Note::Persisted(dial, true) => {
                self.persisting = self.persisting.saturating_sub(1);
                self.dial(dial);
            }
            Note::Persisted(dial, false) => {
                self.persisting = self.persisting.saturating_sub(1);
                warn!(attempt = %dial.attempt, "the attempt could not be stored: not dialled");
                tell(
                    &mut self.scheduler,
                    self.now,
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
            Note::LastMessageDone(attempt) => {
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
                    self.timers.after(
                        Instant::now(),
                        Duration::from_secs(3600),
                        Note::SweepRecordings,
                    );
                }
            }
            Note::Registration(i, state) => {
                self.registered[i] = Some(matches!(state, RegistrationState::Registered { .. }));
                let name = self.routing.pool.trunks[i].profile.name.clone();
                let problem = match state {
                    RegistrationState::Registered { .. } => None,
                    RegistrationState::Rejected { status } => Some(format!(
                        "the registrar refused our registration ({status}): check user and password under [auth] in trunk `{name}`'s profile"
                    )),
                    RegistrationState::Unreachable { reason } => Some(format!(
                        "the registrar does not answer ({reason}): check [registration] registrar and the address of trunk `{name}`"
                    )),
                };
                match problem {
                    Some(why) => {
                        warn!(trunk = %name, problem = %why, "trunk registration failed: trunk failing");
                        self.routing.pool.unreachable(i, why, Instant::now());
                    }
                    None => {
                        if self.routing.pool.trunks[i].state != TrunkState::Up {
                            info!(trunk = %name, "trunk registered: up");
                        }
                        self.routing.pool.reachable(i);
                    }
                }
            }
            Note::Keepalive(i, status) => {
                let name = self.routing.pool.trunks[i].profile.name.clone();
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
                    self.routing.pool.unreachable(i, why, Instant::now());
                } else if !was {
                    match &self.registrations[i] {
                        // Back after an outage: the registrar may have forgotten us.
                        Some(reg) => {
                            info!(trunk = %name, "trunk answers OPTIONS again: registering");
                            reg.refresh_now();
                        }
                        None => {
                            info!(trunk = %name, "trunk answers OPTIONS again: up");
                            self.routing.pool.reachable(i);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_of_the_core_is_counted_by_its_reason_and_given_back() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let mut scheduler = Scheduler::new();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let refused = metrics::with_local_recorder(&recorder, || {
            tell(
                &mut scheduler,
                now,
                Event::LeadCancelled { lead: LeadId(7) },
            );
            ask(
                &mut scheduler,
                now,
                Event::LeadCancelled { lead: LeadId(8) },
            )
        });
        assert!(
            matches!(
                refused,
                Err(predial_core::dialer::EventError::UnknownLead(LeadId(8)))
            ),
            "{refused:?}"
        );
        let text = handle.render();
        assert!(
            text.contains("predial_core_refusals_total{reason=\"unknown_lead\"} 2"),
            "{text}"
        );
    }

    /// A lead row as the store keeps it.
    fn row(
        id: i64,
        attempts: i64,
        history: &str,
        next_at_ms: Option<i64>,
        created_ms: i64,
    ) -> OpenLead {
        OpenLead {
            id,
            phone: format!("+7495111000{id}"),
            order_id: None,
            time_zone: None,
            created_ms,
            attempts,
            history: history.into(),
            next_at_ms,
            source: "api".into(),
            pickup_point: None,
            keep_until_ms: None,
        }
    }

    fn dials(s: &mut Scheduler) -> Vec<(LeadId, AttemptId)> {
        std::iter::from_fn(|| s.poll_action())
            .filter_map(|a| match a {
                Action::Dial { lead, attempt, .. } => Some((lead, attempt)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_restart_rebuilds_the_leads_from_their_rows_and_dials_each_when_due() {
        // 12:00 in Moscow, a campaign with no quiet hours, one operator, ten channels.
        let t0 = Timestamp::from_millis(1_796_461_200_000);
        let mut s = Scheduler::new();
        let policy = CampaignPolicy {
            quiet_hours: predial_core::dialer::calendar::QuietHours::none(),
            ..CampaignPolicy::default()
        };
        let campaign = CampaignId(1);
        tell(
            &mut s,
            t0,
            Event::CampaignSaved {
                campaign,
                policy: Box::new(policy),
            },
        );
        tell(&mut s, t0, Event::ChannelLimit { channels: 10 });
        let operator = OperatorId(1);
        tell(
            &mut s,
            t0,
            Event::OperatorLogin {
                operator,
                campaigns: vec![campaign],
            },
        );
        tell(&mut s, t0, Event::OperatorReady { operator });
        // What the store gave back: a lead tried once (busy), due again in ten minutes, and a
        // fresh one.
        let later = t0.plus_millis(600_000);
        let created = t0.millis() - 3_600_000;
        tell(
            &mut s,
            t0,
            restore_event(row(1, 1, "busy", Some(later.millis()), created), campaign),
        );
        tell(
            &mut s,
            t0,
            restore_event(row(2, 0, "", None, created), campaign),
        );
        let tried = s.lead(LeadId(1)).expect("restored");
        assert_eq!(tried.attempts, 1);
        assert_eq!(
            tried.history.iter().collect::<Vec<_>>(),
            [predial_core::dialer::Outcome::Busy]
        );
        assert_eq!(tried.due, Some(later), "its next attempt keeps its time");
        // Now: only the fresh lead is due.
        let first = dials(&mut s);
        assert_eq!(first.iter().map(|d| d.0).collect::<Vec<_>>(), [LeadId(2)]);
        // Its call ends unanswered; nothing more until the first lead's time.
        let attempt = first[0].1;
        let _ = ask(
            &mut s,
            t0.plus_millis(30_000),
            Event::AttemptFinished {
                attempt,
                outcome: predial_core::dialer::Outcome::NoAnswer,
            },
        );
        tell(&mut s, t0.plus_millis(599_000), Event::Tick);
        let early = dials(&mut s);
        assert!(
            early.iter().all(|d| d.0 != LeadId(1)),
            "not before its time: {early:?}"
        );
        tell(&mut s, later.plus_millis(1_000), Event::Tick);
        let due = dials(&mut s);
        assert!(
            due.iter().any(|d| d.0 == LeadId(1)),
            "dialled when due: {due:?}"
        );
        assert_eq!(
            s.lead(LeadId(1)).map(|l| l.attempts),
            Some(2),
            "the restored attempts count on"
        );
    }
}
