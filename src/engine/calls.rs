//! Calls in the engine: placing a dial through a trunk (or waiting for the trunk's next
//! calls-per-second token), moving a call that a trunk failed to the next trunk, and turning a
//! call's end into the attempt's outcome.

use super::tell;
use std::net::SocketAddr;
use std::time::Instant;

use predial_core::dialer::{AttemptId, Event, LeadId, Outcome, Phone};
use tracing::{debug, info, warn};

use super::Engine;
use super::routing::{CallEnded, Finished, RouteCommand};
use crate::sip::{CallControl, CallEvent, CallUpdate, Outbound};
use crate::store::journal::Entry;

/// A dial the core asked for, not yet on a trunk.
#[derive(Debug, Clone)]
pub(crate) struct PendingDial {
    pub attempt: AttemptId,
    pub lead: LeadId,
    pub campaign: u32,
    pub phone: Phone,
    /// Trunks this call already failed on.
    pub tried: Vec<usize>,
    /// When it became due (for the dial-lag measure).
    pub due: Instant,
}

/// A call on a trunk.
pub struct LiveCall {
    pub(crate) dial: PendingDial,
    pub trunk: usize,
    pub control: CallControl,
    pub answered: bool,
    pub bridged: bool,
    pub abandoned: bool,
    /// The RTP port of its offer, until the answer hands it to the leg.
    pub(crate) rtp: Option<super::media::Reserved>,
    pub(crate) port: u16,
    pub(crate) leg: Option<crate::media::leg::Leg>,
    pub(crate) call_id: Option<String>,
    pub(crate) recorder: Option<std::sync::Arc<std::sync::Mutex<crate::media::recorder::Recorder>>>,
    /// Answered, and the answering-machine detector is still listening.
    pub(crate) detecting: bool,
    /// The detector said: a machine.
    pub(crate) machine: bool,
    /// When the core was told a person answered.
    pub(crate) person_at: Option<Instant>,
}

impl Engine {
    pub(crate) fn dial(&mut self, dial: PendingDial) {
        self.routing.dial(Instant::now(), dial);
        self.route();
    }

    /// Carries out what routing decided: INVITEs sent, dials not placed, trunks set aside.
    pub(crate) fn route(&mut self) {
        while let Some(c) = self.routing.poll_command() {
            match c {
                RouteCommand::Place { dial, trunk } => self.place(dial, trunk),
                RouteCommand::NotPlaced(dial) => {
                    debug!(attempt = %dial.attempt, "no trunk channel free");
                    self.not_placed(&dial);
                }
                RouteCommand::SetAside { trunk, why } => {
                    let name = &self.routing.pool.trunks[trunk].profile.name;
                    warn!(trunk = %name, problem = %why, "trunk failing: set aside, calls go to the next trunk in order");
                }
                RouteCommand::NextTrunk { attempt, failed } => {
                    let name = &self.routing.pool.trunks[failed].profile.name;
                    info!(%attempt, trunk = %name, "trunk failed the call: next trunk");
                }
            }
        }
    }

    /// A dial that could not be placed on our side: a trunk failure, the lead retried soon.
    pub(crate) fn not_placed(&mut self, dial: &PendingDial) {
        self.journal(dial.attempt, |row, _| Entry::Ended {
            attempt: row,
            at_ms: self.now.millis(),
            outcome: Outcome::TrunkFailure,
            trunk: None,
            sip_code: None,
            recording: None,
        });
        self.attempt_rows.remove(&dial.attempt);
        tell(
            &mut self.scheduler,
            self.now,
            Event::AttemptFinished {
                attempt: dial.attempt,
                outcome: Outcome::TrunkFailure,
            },
        );
        self.persist_open_lead(dial.lead);
    }

    /// Writes a lead after an attempt, unless it closed: `Action::LeadClosed` writes those.
    fn persist_open_lead(&self, lead: LeadId) {
        if self
            .scheduler
            .lead(lead)
            .is_some_and(|v| !v.state.is_final())
        {
            self.persist_lead(lead);
        }
    }

    /// Dials whose trunk's calls-per-second token came due are placed.
    pub(crate) fn retry_waiting(&mut self) {
        self.routing.handle_timeout(Instant::now());
        self.route();
    }

    fn place(&mut self, dial: PendingDial, trunk: usize) {
        let profile = &self.routing.pool.trunks[trunk].profile;
        let number = profile.dial_string(dial.phone);
        let transport = profile.sip_transport();
        let next_hop: Option<SocketAddr> = profile.address.parse().ok();
        let credential = profile.auth.as_ref().map(|a| a.credentials());
        let caller = profile
            .caller_id_for(dial.campaign)
            .trim_start_matches('+')
            .to_string();
        let reserved = match self.media.reserve() {
            Ok(r) => r,
            Err(e) => {
                warn!(attempt = %dial.attempt, error = %e, "no RTP port for the call");
                self.routing.pool.release(trunk);
                self.not_placed(&dial);
                return;
            }
        };
        let profile = &self.routing.pool.trunks[trunk].profile;
        let tag = super::party::Party::Callee(dial.attempt).tag();
        let sdp_offer = self.media.offer(tag, &reserved, &profile.codecs);
        let call = Outbound {
            id: tag,
            lead: dial.lead.0,
            trunk: profile.name.clone(),
            request_uri: format!("sip:{number}@{}{}", profile.address, transport.uri_param()),
            transport,
            from_user: caller,
            from_host: profile.address.clone(),
            credential,
            next_hop,
            flow: None,
            ring_timeout: self.policy(dial.campaign).ring_timeout,
            sdp_offer,
            headers: Vec::new(),
        };
        debug!(attempt = %dial.attempt, lead = %dial.lead, trunk = %profile.name, "INVITE");
        if dial.tried.is_empty() {
            let lag = dial.due.elapsed().as_secs_f64();
            self.measures.dial_lag_ms.push(lag * 1000.0);
            metrics::histogram!("predial_dial_lag_seconds").record(lag);
            if lag > 0.05 {
                debug!(attempt = %dial.attempt, lag_ms = lag * 1000.0, waited = self.routing.waiting(), "late dial");
            }
        }
        let trunk_name = profile.name.clone();
        self.journal(dial.attempt, |row, _| Entry::Placed {
            attempt: row,
            trunk: trunk_name,
        });
        self.placed += 1;
        let control = self.sip.call(call, self.updates_tx.clone());
        self.calls.insert(
            dial.attempt,
            LiveCall {
                dial,
                trunk,
                control,
                answered: false,
                bridged: false,
                abandoned: false,
                port: reserved.port,
                rtp: Some(reserved),
                leg: None,
                call_id: None,
                recorder: None,
                detecting: false,
                machine: false,
                person_at: None,
            },
        );
    }

    pub(crate) fn on_update(&mut self, update: CallUpdate) {
        let attempt = match super::party::Party::of_tag(update.id) {
            super::party::Party::Operator(attempt) => {
                return self.on_operator_update(attempt, update.event);
            }
            super::party::Party::Callee(attempt) | super::party::Party::Caller(attempt) => attempt,
        };
        match update.event {
            CallEvent::Ringing => self.journal(attempt, |row, _| Entry::Rang {
                attempt: row,
                at_ms: self.now.millis(),
            }),
            CallEvent::Answered { sdp, call_id, .. } => {
                self.answered += 1;
                self.journal(attempt, |row, _| Entry::Answered {
                    attempt: row,
                    at_ms: self.now.millis(),
                    call_id: call_id.clone(),
                });
                let detect = self
                    .calls
                    .get(&attempt)
                    .and_then(|c| self.policy(c.dial.campaign).amd.clone());
                if let Some(call) = self.calls.get_mut(&attempt) {
                    call.answered = true;
                    call.call_id = Some(call_id);
                    let profile = &self.routing.pool.trunks[call.trunk].profile;
                    let signalling = profile.address.parse::<SocketAddr>().ok().map(|a| a.ip());
                    if let Some(r) = call.rtp.take() {
                        match self.media.start(
                            super::party::Party::Callee(attempt).tag(),
                            r,
                            &sdp,
                            &profile.codecs,
                            signalling,
                        ) {
                            Ok(leg) => {
                                if let Some(settings) = detect {
                                    // The core hears of the answer once the detector has
                                    // spoken: a machine never reaches an operator.
                                    leg.command(crate::media::leg::Command::DetectMachine(
                                        settings,
                                    ));
                                    call.detecting = true;
                                }
                                call.leg = Some(leg);
                            }
                            Err(e) => {
                                warn!(attempt = %attempt, error = %e, "no media for the call")
                            }
                        }
                    }
                    if call.detecting {
                        return;
                    }
                }
                self.person_answered(attempt);
            }
            CallEvent::Ended(end) => {
                let Some(call) = self.calls.remove(&attempt) else {
                    return;
                };
                self.callee_gone(attempt);
                self.media.release(call.port);
                // Where the recording is, before finishing it takes it out of the call.
                let recording = call
                    .recorder
                    .as_ref()
                    .and_then(|r| r.lock().ok().map(|r| r.path().display().to_string()))
                    .filter(|p| !p.is_empty());
                self.finish_media(&call);
                let how = CallEnded {
                    end,
                    machine: call.machine,
                    abandoned: call.abandoned,
                };
                let finished = self
                    .routing
                    .ended(Instant::now(), &call.dial, call.trunk, how);
                self.route();
                // Moved to the next trunk: the attempt goes on.
                let Some(Finished { outcome, sip_code }) = finished else {
                    return;
                };
                let trunk = self.routing.pool.trunks[call.trunk].profile.name.clone();
                if let Some((row, _)) = self.attempt_rows.get(&attempt) {
                    self.notify(
                        "call.ended",
                        format!("call.ended:{row}"),
                        serde_json::json!({
                            "attempt": row,
                            "lead": call.dial.lead.0,
                            "phone": call.dial.phone.to_string(),
                            "outcome": outcome.as_str(),
                            "trunk": trunk,
                            "sip_code": sip_code,
                            "call_id": call.call_id,
                            "recording": recording,
                        }),
                    );
                }
                self.journal(attempt, |row, _| Entry::Ended {
                    attempt: row,
                    at_ms: self.now.millis(),
                    outcome,
                    trunk: Some(trunk),
                    sip_code,
                    recording,
                });
                self.attempt_rows.remove(&attempt);
                *self.outcomes.entry(outcome.as_str()).or_default() += 1;
                tell(
                    &mut self.scheduler,
                    self.now,
                    Event::AttemptFinished { attempt, outcome },
                );
                self.persist_open_lead(call.dial.lead);
            }
        }
    }
}
