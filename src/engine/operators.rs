//! Operators on softphones: logged in by their registration (and out by its expiry), rung with
//! auto-answer hints when the core gives them an answered call, bridged to the callee both ways
//! and recorded; paused when they do not pick up (the call goes on to the next one); ready or
//! paused by feature codes dialled from the phone (`*1`, `*2`); the call's result entered as a
//! DTMF digit during the call.

use super::{ask, tell};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use predial_core::Timestamp;
use predial_core::acd::{OperatorId, OperatorState, QueueId};
use predial_core::dialer::{AttemptId, CampaignId, Event, LeadId};
use tracing::{debug, info, warn};

use super::Engine;
use crate::feed::OperatorReport;
use crate::media::leg::{Command, Event as LegEvent, Leg};
use crate::media::recorder::Side;
use crate::registrar::Registrar;
use crate::sip::{CallControl, CallEnd, CallEvent, IncomingCall, Outbound, Transport};
use crate::store::dispositions::Kind;
use crate::store::journal::Entry;

/// Operators on softphones, as the engine takes them.
#[derive(Debug, Clone)]
pub struct Softphones {
    pub registrar: Arc<Mutex<Registrar>>,
    pub accounts: Vec<OperatorAccount>,
    /// How long an operator's phone may ring before they are set not ready and the call goes
    /// to the next one.
    pub answer_timeout: Duration,
    /// A callback keyed on the phone (3) is agreed for this long after the key.
    pub callback_after: Duration,
}

#[derive(Debug, Clone)]
pub struct OperatorAccount {
    pub login: String,
    /// Their skills as configured: campaign and queue names (none: every campaign and queue).
    pub skills: Vec<String>,
    /// The campaigns among them, in order of preference.
    pub campaigns: Vec<CampaignId>,
}

pub(crate) struct OperatorDesk {
    /// Operator `OperatorId(n)` is `ops[n - 1]`.
    pub ops: Vec<DeskOperator>,
    pub by_login: HashMap<String, OperatorId>,
    /// Operators' calls in progress, by the attempt they carry.
    pub legs: HashMap<AttemptId, OperatorCall>,
}

/// One operator as the engine keeps them.
pub(crate) struct DeskOperator {
    pub login: String,
    /// Whether their softphone is registered (as last looked at).
    pub registered: bool,
    pub state: OperatorState,
    /// Why they are paused, when they are.
    pub reason: Option<String>,
    pub calls: u64,
    pub missed: u64,
    pub dispositions: u64,
    /// When they last became ready.
    pub ready_at: Option<std::time::Instant>,
    /// The lead shown to them for preview, until they accept or skip it.
    pub preview: Option<crate::feed::Shown>,
}

pub(crate) struct OperatorCall {
    pub operator: OperatorId,
    pub control: CallControl,
    pub rtp: Option<super::media::Reserved>,
    pub port: u16,
    pub leg: Option<Leg>,
    pub answered: bool,
}

impl OperatorDesk {
    pub fn new(logins: Vec<String>) -> OperatorDesk {
        let mut desk = OperatorDesk {
            ops: Vec::new(),
            by_login: HashMap::new(),
            legs: HashMap::new(),
        };
        for login in logins {
            desk.add(&login);
        }
        desk
    }

    /// An operator (also one made after the start, through the API): their id.
    pub fn add(&mut self, login: &str) -> OperatorId {
        if let Some(&id) = self.by_login.get(login) {
            return id;
        }
        self.ops.push(DeskOperator {
            login: login.to_string(),
            registered: false,
            state: OperatorState::LoggedOut,
            reason: None,
            calls: 0,
            missed: 0,
            dispositions: 0,
            ready_at: None,
            preview: None,
        });
        let id = OperatorId(self.ops.len() as u32);
        self.by_login.insert(login.to_string(), id);
        id
    }

    pub fn get(&self, op: OperatorId) -> Option<&DeskOperator> {
        self.ops.get((op.0 as usize).checked_sub(1)?)
    }

    pub fn get_mut(&mut self, op: OperatorId) -> Option<&mut DeskOperator> {
        self.ops.get_mut((op.0 as usize).checked_sub(1)?)
    }

    pub fn login(&self, op: OperatorId) -> &str {
        self.get(op).map_or("?", |o| o.login.as_str())
    }

    pub fn report(&self) -> Vec<OperatorReport> {
        self.ops
            .iter()
            .map(|o| OperatorReport {
                login: o.login.clone(),
                state: o.state.as_str(),
                reason: o.reason.clone(),
                calls: o.calls,
                missed: o.missed,
                dispositions: o.dispositions,
            })
            .collect()
    }
}

/// The operator's phone answered (SDP `answer`): their leg starts, and it is bridged both ways
/// with the customer's leg (whose hold music or announcement stops).
pub(super) fn join_operator(
    media: &super::media::MediaPool,
    attempt: AttemptId,
    op: &mut OperatorCall,
    answer: &[u8],
    customer: Option<&Leg>,
) {
    let codecs = ["PCMU".to_string(), "PCMA".to_string()];
    if let Some(r) = op.rtp.take() {
        match media.start(
            super::party::Party::Operator(attempt).tag(),
            r,
            answer,
            &codecs,
            None,
        ) {
            Ok(leg) => op.leg = Some(leg),
            Err(e) => warn!(error = %e, "no media for the operator's call"),
        }
    }
    if let (Some(customer), Some(oper)) = (customer, &op.leg) {
        customer.command(Command::StopPlaying);
        customer.command(Command::Bridge(oper.out.clone()));
        oper.command(Command::Bridge(customer.out.clone()));
    }
}

/// The result an operator enters by pressing a digit during the call.
pub fn disposition_of(digit: char) -> Option<Kind> {
    Some(match digit {
        '1' => Kind::Confirmed,
        '2' => Kind::Upsell,
        '3' => Kind::Callback,
        '4' => Kind::Refused,
        '5' => Kind::WrongNumber,
        '6' => Kind::Fake,
        '7' => Kind::Complaint,
        _ => return None,
    })
}

impl Engine {
    /// Logs in the operators whose softphones registered since the last look, and out those
    /// whose registration expired.
    pub(super) fn follow_registrations(&mut self) {
        let Some(soft) = &self.config.softphones else {
            return;
        };
        let now = chrono::Utc::now().timestamp_millis();
        let registered = match soft.registrar.lock() {
            Ok(mut r) => {
                r.expire(now);
                r.registered(now)
            }
            Err(_) => return,
        };
        let all: Vec<CampaignId> = self.config.campaigns.iter().map(|c| c.0).collect();
        let skills: HashMap<String, (Vec<String>, Vec<CampaignId>)> = soft
            .accounts
            .iter()
            .map(|a| (a.login.clone(), (a.skills.clone(), a.campaigns.clone())))
            .collect();
        let queues = &self.config.inbound.config.queues;
        // Operators made since the start (through the API) join as they register.
        for login in &registered {
            if !self.desk.by_login.contains_key(login) {
                self.desk.add(login);
            }
        }
        for i in 0..self.desk.ops.len() {
            let op = &mut self.desk.ops[i];
            let login = op.login.clone();
            let on = registered.contains(&login);
            if on == op.registered {
                continue;
            }
            op.registered = on;
            if on {
                op.reason = None;
            }
            let operator = OperatorId(i as u32 + 1);
            let t = self.now;
            if on {
                let (campaigns, serves) = match skills.get(&login) {
                    Some((names, c)) if !names.is_empty() => (
                        c.clone(),
                        queues
                            .iter()
                            .enumerate()
                            .filter(|(_, q)| names.contains(&q.name))
                            .map(|(i, _)| QueueId(i as u32 + 1))
                            .collect(),
                    ),
                    _ => (
                        all.clone(),
                        (1..=queues.len() as u32).map(QueueId).collect::<Vec<_>>(),
                    ),
                };
                info!(operator = %login, "softphone registered: logged in, ready");
                tell(
                    &mut self.scheduler,
                    t,
                    Event::OperatorLogin {
                        operator,
                        campaigns,
                    },
                );
                if !serves.is_empty() {
                    tell(
                        &mut self.scheduler,
                        t,
                        Event::OperatorQueues {
                            operator,
                            queues: serves,
                        },
                    );
                }
                tell(&mut self.scheduler, t, Event::OperatorReady { operator });
            } else {
                info!(operator = %login, "softphone registration gone: logged out");
                tell(&mut self.scheduler, t, Event::OperatorLogout { operator });
            }
        }
    }

    /// A campaign was made: operators who take every campaign (no skills) take it too.
    pub(super) fn campaigns_grew(&mut self) {
        let Some(soft) = &self.config.softphones else {
            return;
        };
        let all: Vec<CampaignId> = self.config.campaigns.iter().map(|c| c.0).collect();
        let skilled: Vec<String> = soft
            .accounts
            .iter()
            .filter(|a| !a.skills.is_empty())
            .map(|a| a.login.clone())
            .collect();
        for (i, op) in self.desk.ops.iter().enumerate() {
            if !op.registered || skilled.contains(&op.login) {
                continue;
            }
            tell(
                &mut self.scheduler,
                self.now,
                Event::OperatorLogin {
                    operator: OperatorId(i as u32 + 1),
                    campaigns: all.clone(),
                },
            );
        }
    }

    /// Ready, pause or log out, asked for through the API or by a feature code; whether the
    /// core took it (the operator is logged in).
    pub(super) fn operator_action(&mut self, login: &str, action: super::OperatorAction) -> bool {
        let Some(&operator) = self.desk.by_login.get(login) else {
            debug!(operator = %login, "not known to the engine (never registered)");
            return false;
        };
        let t = self.now;
        let reason = match &action {
            super::OperatorAction::Pause(reason) => {
                Some(reason.clone().unwrap_or_else(|| "pause".into()))
            }
            _ => None,
        };
        if let Some(op) = self.desk.get_mut(operator) {
            op.reason = reason;
        }
        let event = match action {
            super::OperatorAction::Ready => Event::OperatorReady { operator },
            super::OperatorAction::Pause(_) => Event::OperatorPaused { operator },
            super::OperatorAction::Logout => Event::OperatorLogout { operator },
        };
        match ask(&mut self.scheduler, t, event) {
            Ok(()) => true,
            Err(e) => {
                debug!(operator = %login, error = %e, "operator action refused");
                false
            }
        }
    }

    /// The core changed an operator's state: kept, stored, told.
    pub(super) fn operator_state(&mut self, operator: OperatorId, state: OperatorState) {
        let Some(op) = self.desk.get_mut(operator) else {
            return;
        };
        op.state = state;
        if state != OperatorState::Paused {
            op.reason = None;
        }
        if state == OperatorState::Ready {
            op.ready_at = Some(std::time::Instant::now());
        }
        let (login, reason) = (op.login.clone(), op.reason.clone());
        self.preview_ends_unless_reserved(operator);
        debug!(operator = %login, state = state.as_str(), "operator state");
        if let Some(journal) = &self.config.journal {
            journal.write(Entry::OperatorState {
                login: login.clone(),
                state: state.as_str().into(),
                reason: reason.clone(),
            });
        }
        if let Some(events) = &self.config.events {
            crate::happenings::publish(
                events,
                "operator.state",
                serde_json::json!({"login": login, "state": state.as_str(), "reason": reason}),
            );
        }
    }

    /// Rings the operator's softphone for an answered call, with auto-answer hints.
    pub(super) fn ring_operator(&mut self, attempt: AttemptId, operator: OperatorId) {
        let Some(soft) = &self.config.softphones else {
            return;
        };
        let login = self.desk.login(operator).to_string();
        let binding = soft.registrar.lock().ok().and_then(|r| {
            r.bindings(&login)
                .iter()
                .max_by_key(|b| b.expires_at_ms)
                .map(|b| (b.contact.clone(), b.flow))
        });
        let (contact, flow) = match binding {
            Some((c, f)) => (Some(c), f),
            None => (None, None),
        };
        let (phone, lead, ring_timeout) = if attempt.is_inbound() {
            let Some((from, ring)) = self.inbound_caller(attempt) else {
                return;
            };
            (from, 0, ring)
        } else {
            let Some(call) = self.calls.get(&attempt) else {
                return;
            };
            (
                call.dial.phone.to_string(),
                call.dial.lead.0,
                soft.answer_timeout,
            )
        };
        let Some(contact) = contact else {
            warn!(operator = %login, "the operator's softphone is not registered: next operator");
            self.operator_missed(attempt, operator, "not registered");
            return;
        };
        let reserved = match self.media.reserve() {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "no RTP port for the operator's call");
                self.operator_missed(attempt, operator, "no RTP port");
                return;
            }
        };
        let codecs = ["PCMU".to_string(), "PCMA".to_string()];
        let offer = self.media.offer(
            super::party::Party::Operator(attempt).tag(),
            &reserved,
            &codecs,
        );
        let ours = self.sip.advertised_addr();
        let transport = if contact.to_ascii_lowercase().contains("transport=tcp") {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let out = Outbound {
            id: super::party::Party::Operator(attempt).tag(),
            lead,
            trunk: format!("operator {login}"),
            request_uri: contact,
            transport,
            from_user: phone.trim_start_matches('+').to_string(),
            from_host: ours.ip().to_string(),
            credential: None,
            next_hop: None,
            // A phone that registered over TCP, TLS or WebSocket is called down that connection.
            flow,
            ring_timeout,
            sdp_offer: offer,
            headers: vec![
                // Auto-answer, in the forms softphones look for (RFC 5373-era Call-Info,
                // Polycom/Yealink/Snom Alert-Info).
                ("Call-Info".into(), format!("<sip:{ours}>;answer-after=0")),
                (
                    "Alert-Info".into(),
                    format!("<sip:{ours}>;info=alert-autoanswer;delay=0"),
                ),
            ],
        };
        let control = self.sip.call(out, self.updates_tx.clone());
        self.desk.legs.insert(
            attempt,
            OperatorCall {
                operator,
                control,
                port: reserved.port,
                rtp: Some(reserved),
                leg: None,
                answered: false,
            },
        );
    }

    /// The operator did not take the call: paused, and the core moves the call on.
    fn operator_missed(&mut self, attempt: AttemptId, operator: OperatorId, why: &str) {
        if let Some(op) = self.desk.get_mut(operator) {
            op.missed += 1;
            op.reason = Some(format!("did not answer ({why})"));
        }
        if attempt.is_inbound() {
            self.note_inbound_offer(attempt, operator, false);
        }
        tell(
            &mut self.scheduler,
            self.now,
            Event::BridgeFailed { attempt },
        );
    }

    /// What happens to an operator's call.
    pub(super) fn on_operator_update(&mut self, attempt: AttemptId, event: CallEvent) {
        match event {
            CallEvent::Ringing => {}
            CallEvent::Answered { sdp, .. } if attempt.is_inbound() => {
                self.inbound_operator_answered(attempt, &sdp);
            }
            CallEvent::Answered { sdp, .. } => {
                let Some(op) = self.desk.legs.get_mut(&attempt) else {
                    return;
                };
                op.answered = true;
                let operator = op.operator;
                let Some(call) = self.calls.get_mut(&attempt) else {
                    // The callee hung up meanwhile.
                    op.control.hang_up();
                    return;
                };
                join_operator(&self.media, attempt, op, &sdp, call.leg.as_ref());
                call.bridged = true;
                if let Some(at) = call.person_at {
                    let ms = at.elapsed().as_secs_f64() * 1000.0;
                    self.measures.answer_to_bridge_ms.push(ms);
                    metrics::histogram!("predial_answer_to_bridge_seconds").record(ms / 1000.0);
                }
                self.bridged += 1;
                if let Some(op) = self.desk.get_mut(operator) {
                    op.calls += 1;
                }
                let login = self.desk.login(operator).to_string();
                info!(attempt = %attempt, operator = %login, "bridged to the operator");
                self.journal(attempt, |row, _| Entry::Bridged {
                    attempt: row,
                    at_ms: self.now.millis(),
                    operator: login,
                });
                self.record(attempt);
                let rec = self.calls.get(&attempt).and_then(|c| c.recorder.clone());
                if let (Some(rec), Some(leg)) = (
                    rec,
                    self.desk.legs.get(&attempt).and_then(|o| o.leg.as_ref()),
                ) {
                    leg.command(Command::Record {
                        recorder: rec,
                        side: Side::Operator,
                    });
                }
            }
            CallEvent::Ended(end) => {
                let Some(op) = self.desk.legs.remove(&attempt) else {
                    return;
                };
                self.media.release(op.port);
                if let Some(leg) = &op.leg {
                    leg.command(Command::Close);
                }
                if attempt.is_inbound() {
                    let missed = matches!(end, CallEnd::NotAnswered { .. });
                    if missed && self.inbound.contains_key(&attempt) {
                        let login = self.desk.login(op.operator).to_string();
                        warn!(operator = %login, "the operator did not pick up the inbound call: paused, the caller goes to the next operator");
                        self.operator_missed(attempt, op.operator, "inbound call not answered");
                    }
                    self.inbound_operator_gone(attempt, missed);
                    return;
                }
                let live = self.calls.get(&attempt);
                match end {
                    CallEnd::NotAnswered { ending, .. } => {
                        if live.is_some_and(|c| !c.abandoned) {
                            let login = self.desk.login(op.operator).to_string();
                            warn!(operator = %login, ?ending, "the operator did not pick up: paused, the call goes to the next operator");
                            self.operator_missed(attempt, op.operator, &format!("{ending:?}"));
                        }
                    }
                    CallEnd::HungUpByThem | CallEnd::HungUpByUs => {
                        // The operator hung up: the callee's call ends too.
                        if let Some(c) = live {
                            c.control.hang_up();
                        }
                    }
                }
            }
        }
    }

    /// The callee's call ended: so does the operator's.
    pub(super) fn callee_gone(&mut self, attempt: AttemptId) {
        if let Some(op) = self.desk.legs.get(&attempt) {
            op.control.hang_up();
        }
    }

    /// What arrives on an operator's media: digits are the call's result.
    pub(super) fn on_operator_leg(&mut self, attempt: AttemptId, event: LegEvent) {
        let LegEvent::Digit(d) = event else {
            return;
        };
        let Some(op) = self.desk.legs.get(&attempt) else {
            return;
        };
        let operator = op.operator;
        let Some(kind) = disposition_of(d.digit) else {
            debug!(digit = %d.digit, "a digit that is no result");
            return;
        };
        if let Some(op) = self.desk.get_mut(operator) {
            op.dispositions += 1;
        }
        let login = self.desk.login(operator).to_string();
        let lead = self.calls.get(&attempt).map(|c| c.dial.lead.0 as i64);
        info!(attempt = %attempt, operator = %login, result = kind.as_str(), "result entered by DTMF");
        *self.results.entry(kind.as_str()).or_default() += 1;
        let Some(lead) = lead else {
            return;
        };
        let callback_ms = (kind == Kind::Callback).then(|| self.keyed_callback(lead));
        let d = crate::store::dispositions::NewDisposition {
            lead,
            attempt: self.attempt_rows.get(&attempt).map(|r| r.0),
            operator: Some(login),
            kind,
            items: None,
            sum_minor: None,
            callback_ms,
            note: Some("entered by DTMF".into()),
        };
        if let Some(store) = self.config.store.clone() {
            let events = self.config.events.clone();
            tokio::spawn(async move {
                let desk = crate::dispositions::Desk {
                    store: &store,
                    events: events.as_ref(),
                    // Applied above, while the call is still up.
                    engine: None,
                };
                if let Err(e) = crate::dispositions::enter(desk, &d).await {
                    warn!(error = %e, "the result could not be stored");
                }
            });
        }
    }

    /// A callback keyed during the call: agreed with the core at once (applied when the call
    /// ends), `callback_after` from now. Its time, in ms.
    fn keyed_callback(&mut self, lead: i64) -> i64 {
        let after = self
            .config
            .softphones
            .as_ref()
            .map_or(Duration::from_secs(3600), |s| s.callback_after);
        let at = self.now.plus(after);
        self.agree_callback(LeadId(lead as u64), at);
        at.millis()
    }

    /// A callback agreed with the callee (keyed on the phone, or entered through the API).
    pub(super) fn agree_callback(&mut self, lead: LeadId, at: Timestamp) {
        match ask(
            &mut self.scheduler,
            self.now,
            Event::CallbackAgreed { lead, at },
        ) {
            Ok(()) => {
                info!(%lead, at_ms = at.millis(), "callback agreed");
                self.persist_lead(lead);
            }
            Err(e) => warn!(%lead, error = %e, "the callback cannot be agreed"),
        }
    }

    /// A call from an operator's phone: feature codes set them ready (`*1`) or paused (`*2`);
    /// anything else is refused (softphones do not call out through our trunks).
    pub(super) fn on_incoming(&mut self, call: IncomingCall) {
        if call.trunk.is_some() {
            self.on_trunk_call(call);
            return;
        }
        let Some(login) = call.operator.clone() else {
            call.call.refuse(403, "Forbidden");
            return;
        };
        let (action, done) = match call.to.as_str() {
            "*1" => (super::OperatorAction::Ready, "Ready"),
            "*2" => (
                super::OperatorAction::Pause(Some("paused from the phone (*2)".into())),
                "Paused",
            ),
            _ => {
                warn!(operator = %login, "a softphone tried to call out: refused");
                call.call.refuse(403, "Softphones cannot call out");
                return;
            }
        };
        let ok = self.operator_action(&login, action);
        info!(operator = %login, code = %call.to, ok, "feature code");
        call.call
            .refuse(603, if ok { done } else { "Not logged in" });
    }
}
