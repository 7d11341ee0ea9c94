//! Inbound calls in the engine: a trunk's call to one of our numbers is answered and goes to a
//! queue (the core spreads callers over operators and says when to tell them their position
//! and wait) or to the order-status bot. Waiting callers hear the announcement, a promo and
//! hold music; after the longest wait they are offered a callback (press 1). Calls abandoned
//! in a queue, timed out, or arriving after hours are missed calls: the integrator is notified
//! (`call.missed`) and a callback lead is made.

use super::{ask, tell};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use predial_core::acd::{OperatorId, QueueId};
use predial_core::dialer::{AttemptId, Event};
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{Engine, Note, Percentiles};
use crate::feed::QueueReport;
use crate::inbound::{InboundConfig, MissedCall, MissedReason, OrderInfo, Target};
use crate::media::leg::{Command, Event as LegEvent, Leg};
use crate::media::phrases;
use crate::media::prompt::Player;
use crate::media::recorder::{CallKind, Recorder, RecordingName, Side};
use crate::sip::{IncomingCall, ServerCall, sdp};
use crate::store::journal::Entry;

/// Tags of what an inbound call's leg plays.
const ANNOUNCEMENT: u32 = 10;
/// Played, then the call is hung up.
const GOODBYE: u32 = 11;
const BOT_STATUS: u32 = 12;
const CALLBACK_OFFER: u32 = 13;
const HOLD: u32 = 14;

/// How long a caller has to press a digit after a question (callback offer, the bot's "press 0").
const DIGIT_WAIT: Duration = Duration::from_secs(6);

/// Inbound settings of a run.
#[derive(Debug, Clone, Default)]
pub struct InboundSetup {
    pub config: Arc<InboundConfig>,
    /// Missed calls go here (to become callback leads).
    pub missed: Option<mpsc::UnboundedSender<MissedCall>>,
}

/// Where an inbound call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// With the order-status bot.
    Bot,
    /// Waiting in a queue.
    Queued,
    /// Given to an operator whose phone rings.
    Ringing,
    Talking,
    /// Offered a callback after the longest wait.
    Offered,
    /// Hearing a last message before the call ends.
    Leaving,
}

pub(crate) struct InboundLive {
    call: ServerCall,
    from: String,
    /// The queue (its index in the config), once queued.
    queue: Option<usize>,
    phase: Phase,
    leg: Option<Leg>,
    port: u16,
    queued_at: Option<Instant>,
    /// The first wait announced, ms.
    first_estimate_ms: Option<u64>,
    /// What Asterisk's app_queue formula would have announced then (the reference), ms.
    reference_estimate_ms: Option<u64>,
    /// When the caller could have been served: the later of their queueing and the moment the
    /// operator they were given became ready.
    dispatch_from: Option<Instant>,
    recorder: Option<Arc<Mutex<Recorder>>>,
    /// Reported as missed already.
    missed: bool,
}

/// What the engine measured of inbound calls.
#[derive(Debug, Default)]
pub(crate) struct InboundMeasures {
    pub calls: u64,
    pub refused: u64,
    pub bridged: u64,
    pub answer_to_operator_ms: Vec<f64>,
    /// Announced minus actual wait, s, for callers told a wait.
    pub ewt_error_s: Vec<f64>,
    /// The same for the reference formula (Asterisk app_queue's `announce-holdtime`: a running
    /// average of the queue's waits, `(3 * old + new) / 4`, minus the time already waited,
    /// the same for every position).
    pub reference_error_s: Vec<f64>,
    /// That running average, ms.
    pub reference_holdtime_ms: f64,
    pub after_hours: u64,
    pub callbacks_asked: u64,
    pub bot_calls: u64,
    pub bot_served: u64,
}

/// Inbound calls in a run's report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InboundReport {
    /// Calls taken from trunks (answered).
    pub calls: u64,
    /// Calls refused (no route for the number).
    pub refused: u64,
    /// Calls connected to an operator.
    pub bridged: u64,
    /// From the moment a caller could be served (queued, and their operator ready) to the
    /// operator's media bridged, ms.
    pub answer_to_operator_ms: Percentiles,
    /// Announced minus actual wait (s), callers told a wait: `median`, `p90`.
    pub ewt_error_s: Spread,
    /// The same, had the wait been announced by Asterisk app_queue's formula (the reference).
    pub reference_ewt_error_s: Spread,
    pub abandoned_in_queue: u64,
    pub timed_out: u64,
    pub after_hours: u64,
    pub callbacks_asked: u64,
    pub bot_calls: u64,
    /// Calls the bot served to the end (no operator asked for).
    pub bot_served: u64,
    pub queues: Vec<QueueReport>,
}

/// The median and 90th percentile of a set of signed samples.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Spread {
    pub median: f64,
    pub p90: f64,
    /// The 90th percentile of the absolute values.
    pub abs_p90: f64,
    pub samples: usize,
}

impl Spread {
    pub fn of(samples: &[f64]) -> Spread {
        if samples.is_empty() {
            return Spread::default();
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let mut abs: Vec<f64> = samples.iter().map(|x| x.abs()).collect();
        abs.sort_by(f64::total_cmp);
        Spread {
            median: super::quantile(&v, 0.5),
            p90: super::quantile(&v, 0.9),
            abs_p90: super::quantile(&abs, 0.9),
            samples: v.len(),
        }
    }
}

/// What happens to inbound calls besides SIP and media.
#[derive(Debug)]
pub(crate) enum InboundNote {
    /// The call is over (either side hung up).
    Ended(AttemptId),
    /// The caller did not answer the question in time.
    NoDigit(AttemptId, Phase),
    /// The bot's lookup of the caller's order.
    Order(AttemptId, Option<OrderInfo>),
    /// A last message had its time: hang up even if it did not finish.
    HangUp(AttemptId),
}

impl Engine {
    fn inbound_config(&self) -> Arc<InboundConfig> {
        self.config.inbound.config.clone()
    }

    /// A trunk's call: answered into its number's queue or the bot, or refused.
    pub(super) fn on_trunk_call(&mut self, c: IncomingCall) {
        let trunk = c.trunk.clone().unwrap_or_default();
        let config = self.inbound_config();
        let Some(route) = config.route(&c.to, &trunk) else {
            info!(%trunk, number = %c.to, "inbound call to a number with no route: refused (add it to inbound.toml)");
            self.refuse_inbound(&c, 404, "No route for this number");
            return;
        };
        let target = route.target.clone();
        let Some(id) = self.answer_inbound(c) else {
            return;
        };
        match target {
            Target::Queue(name) => match config.queue(&name) {
                Some((q, _)) => self.enqueue(id, q),
                None => self.leave(id, &["goodbye"]),
            },
            Target::Bot => self.bot(id),
        }
    }

    fn refuse_inbound(&mut self, c: &IncomingCall, code: u16, reason: &str) {
        self.inbound_measures.refused += 1;
        c.call.refuse(code, reason);
    }

    /// Answers a trunk's call with our SDP and starts its media; its end comes as a note.
    fn answer_inbound(&mut self, c: IncomingCall) -> Option<AttemptId> {
        let offer = sdp::parse_answer(&c.offer).ok();
        let codec = offer.as_ref().and_then(|o| {
            o.payload_types.iter().find_map(|pt| match pt {
                0 => Some("PCMU"),
                8 => Some("PCMA"),
                _ => None,
            })
        });
        let Some(codec) = codec else {
            warn!(call_id = %c.call_id, "inbound call without a G.711 offer: refused");
            self.refuse_inbound(&c, 488, "Not Acceptable Here");
            return None;
        };
        let reserved = match self.media.reserve() {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "no RTP port for an inbound call: refused");
                self.refuse_inbound(&c, 503, "Service Unavailable");
                return None;
            }
        };
        self.inbound_made += 1;
        let id = AttemptId::inbound(self.inbound_made);
        let port = reserved.port;
        let answer = sdp::offer_codecs(
            super::party::Party::Caller(id).tag(),
            std::net::SocketAddr::new(self.sip.advertised_addr().ip(), port),
            &[codec],
        );
        let leg = match self.media.start(
            super::party::Party::Caller(id).tag(),
            reserved,
            &c.offer,
            &[codec.to_string()],
            Some(c.source),
        ) {
            Ok(leg) => leg,
            Err(e) => {
                warn!(error = %e, "no media for an inbound call: refused");
                self.media.release(port);
                self.refuse_inbound(&c, 488, "Not Acceptable Here");
                return None;
            }
        };
        c.call.answer(answer);
        self.inbound_measures.calls += 1;
        metrics::counter!("predial_inbound_calls_total").increment(1);
        let tx = self.notes_tx.clone();
        let ended = c.ended;
        tokio::spawn(async move {
            let _ = ended.await;
            let _ = tx.send(Note::Inbound(InboundNote::Ended(id)));
        });
        info!(call = %id, call_id = %c.call_id, number = %c.to, "inbound call answered");
        self.inbound.insert(
            id,
            InboundLive {
                call: c.call,
                from: c.from,
                queue: None,
                phase: Phase::Bot,
                leg: Some(leg),
                port,
                queued_at: None,
                first_estimate_ms: None,
                reference_estimate_ms: None,
                dispatch_from: None,
                recorder: None,
                missed: false,
            },
        );
        Some(id)
    }

    /// Puts a caller in queue `q` (outside its hours: a missed call at once).
    fn enqueue(&mut self, id: AttemptId, q: usize) {
        let config = self.inbound_config();
        let queue = &config.queues[q];
        let Some(live) = self.inbound.get_mut(&id) else {
            return;
        };
        live.queue = Some(q);
        if queue.hours.is_some_and(|h| !h.open_at(chrono::Utc::now())) {
            info!(call = %id, queue = %queue.name, "inbound call after hours");
            self.inbound_measures.after_hours += 1;
            self.report_missed(id, MissedReason::AfterHours, 0);
            self.leave(id, &["closed"]);
            return;
        }
        live.phase = Phase::Queued;
        live.queued_at = Some(Instant::now());
        // Hold music from the first moment (the announcement replaces it when it comes).
        self.hold_music(id, false);
        let call = id;
        let queue = QueueId(q as u32 + 1);
        if let Err(e) = ask(
            &mut self.scheduler,
            self.now,
            Event::InboundQueued { call, queue },
        ) {
            warn!(call = %id, error = %e, "the queue cannot take the call");
            self.leave(id, &["goodbye"]);
        }
    }

    /// Plays hold music (after the promo, when the queue has one) until something replaces it.
    fn hold_music(&mut self, id: AttemptId, promo: bool) {
        let cfg = &self.config.media;
        let Some(leg) = self.inbound.get(&id).and_then(|l| l.leg.as_ref()) else {
            return;
        };
        if promo && let Ok(p) = cfg.prompts.get(cfg.lang, "promo") {
            leg.command(Command::Play {
                player: Player::new(vec![p], false),
                tag: HOLD,
            });
            return;
        }
        if let Ok(music) = cfg.prompts.get(cfg.lang, "music/hold") {
            leg.command(Command::Play {
                player: Player::new(vec![music], true),
                tag: HOLD,
            });
        }
    }

    /// Plays prompts, then hangs up (at the latest when their time is up).
    fn leave(&mut self, id: AttemptId, names: &[&str]) {
        let cfg = &self.config.media;
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let Some(live) = self.inbound.get_mut(&id) else {
            return;
        };
        live.phase = Phase::Leaving;
        match (cfg.prompts.sequence(cfg.lang, &names), &live.leg) {
            (Ok(audio), Some(leg)) => {
                let limit = super::legs::play_last(leg, audio, GOODBYE);
                self.inbound_later(limit, InboundNote::HangUp(id));
            }
            _ => live.call.hang_up(),
        }
    }

    fn inbound_later(&mut self, after: Duration, note: InboundNote) {
        self.note_later(after, Note::Inbound(note));
    }

    /// The core's inbound actions.
    pub(super) fn queue_announce(&mut self, id: AttemptId, position: u32, wait_ms: u64) {
        let cfg = &self.config.media;
        let Some(live) = self.inbound.get_mut(&id) else {
            return;
        };
        let mut names = Vec::new();
        if live.first_estimate_ms.is_none() {
            live.first_estimate_ms = Some(wait_ms);
            live.reference_estimate_ms = Some(self.inbound_measures.reference_holdtime_ms as u64);
            // "Please hold, an operator will answer shortly", the first time.
            names.push("hold".to_string());
        }
        debug!(call = %id, position, wait_ms, "queue announcement");
        names.extend(phrases::queue_position(position, wait_ms, cfg.lang));
        if let (Ok(audio), Some(leg)) = (cfg.prompts.sequence(cfg.lang, &names), &live.leg) {
            leg.command(Command::Play {
                player: Player::new(audio, false),
                tag: ANNOUNCEMENT,
            });
        }
    }

    pub(super) fn queue_timeout(&mut self, id: AttemptId) {
        let Some(live) = self.inbound.get_mut(&id) else {
            return;
        };
        live.phase = Phase::Offered;
        let cfg = &self.config.media;
        if let (Ok(audio), Some(leg)) = (cfg.prompts.get(cfg.lang, "press-1-callback"), &live.leg) {
            leg.command(Command::Play {
                player: Player::new(vec![audio], false),
                tag: CALLBACK_OFFER,
            });
        } else {
            self.inbound_later(DIGIT_WAIT, InboundNote::NoDigit(id, Phase::Offered));
        }
    }

    pub(super) fn queue_abandoned(&mut self, id: AttemptId, waited_ms: u64) {
        self.report_missed(id, MissedReason::AbandonedInQueue, waited_ms);
    }

    /// The core gave the caller to an operator: their phone rings.
    pub(super) fn inbound_to_operator(&mut self, id: AttemptId, operator: OperatorId) {
        let ready_at = self.desk.get(operator).and_then(|o| o.ready_at);
        if let Some(live) = self.inbound.get_mut(&id) {
            live.phase = Phase::Ringing;
            live.dispatch_from = match (live.queued_at, ready_at) {
                (Some(q), Some(r)) => Some(q.max(r)),
                (q, r) => q.or(r),
            };
        }
    }

    /// The caller (its number as sent) and the ring timeout, for ringing an operator.
    pub(super) fn inbound_caller(&self, id: AttemptId) -> Option<(String, Duration)> {
        let live = self.inbound.get(&id)?;
        let ring = live
            .queue
            .and_then(|q| self.config.inbound.config.queues.get(q))
            .map_or(Duration::from_secs(15), |q| q.ring_timeout);
        Some((live.from.clone(), ring))
    }

    /// The operator picked up: both legs bridged, recorded, measured.
    pub(super) fn inbound_operator_answered(&mut self, id: AttemptId, answer: &[u8]) {
        let Some(op) = self.desk.legs.get_mut(&id) else {
            return;
        };
        op.answered = true;
        let operator = op.operator;
        let Some(live) = self.inbound.get_mut(&id) else {
            op.control.hang_up();
            return;
        };
        super::operators::join_operator(&self.media, id, op, answer, live.leg.as_ref());
        live.phase = Phase::Talking;
        let now = Instant::now();
        if let Some(from) = live.dispatch_from {
            let ms = now.duration_since(from).as_secs_f64() * 1000.0;
            self.inbound_measures.answer_to_operator_ms.push(ms);
            metrics::histogram!("predial_inbound_answer_to_operator_seconds").record(ms / 1000.0);
        }
        if let (Some(estimate), Some(queued)) = (live.first_estimate_ms, live.queued_at) {
            let actual = now.duration_since(queued).as_secs_f64();
            self.inbound_measures
                .ewt_error_s
                .push(estimate as f64 / 1000.0 - actual);
            if let Some(reference) = live.reference_estimate_ms {
                self.inbound_measures
                    .reference_error_s
                    .push(reference as f64 / 1000.0 - actual);
            }
        }
        if let Some(queued) = live.queued_at {
            let m = &mut self.inbound_measures;
            let wait = now.duration_since(queued).as_secs_f64() * 1000.0;
            m.reference_holdtime_ms = (3.0 * m.reference_holdtime_ms + wait) / 4.0;
        }
        self.inbound_measures.bridged += 1;
        if let Some(o) = self.desk.get_mut(operator) {
            o.calls += 1;
        }
        self.note_inbound_offer(id, operator, true);
        let login = self.desk.login(operator).to_string();
        info!(call = %id, operator = %login, "inbound call bridged to the operator");
        // Recorded like outbound calls (stereo: caller left, operator right).
        if let Some(dir) = self.config.media.recordings.clone()
            && let Some(live) = self.inbound.get_mut(&id)
            && let Some(leg) = &live.leg
        {
            let name = RecordingName::new(
                CallKind::Inbound,
                id.0 & (AttemptId::INBOUND - 1),
                std::time::SystemTime::now(),
            );
            match Recorder::create(&dir, &name, now) {
                Ok(r) => {
                    let r = Arc::new(Mutex::new(r));
                    leg.command(Command::Record {
                        recorder: r.clone(),
                        side: Side::Callee,
                    });
                    if let Some(oper) = self.desk.legs.get(&id).and_then(|o| o.leg.as_ref()) {
                        oper.command(Command::Record {
                            recorder: r.clone(),
                            side: Side::Operator,
                        });
                    }
                    live.recorder = Some(r);
                }
                Err(e) => warn!(call = %id, error = %e, "cannot record the call"),
            }
        }
    }

    /// An operator's phone rang with a queue's caller: stored as accepted (answered) or missed,
    /// for the reports' per-operator figures.
    pub(super) fn note_inbound_offer(&self, id: AttemptId, operator: OperatorId, accepted: bool) {
        let (Some(journal), Some(live)) = (&self.config.journal, self.inbound.get(&id)) else {
            return;
        };
        let queue = live
            .queue
            .and_then(|q| self.config.inbound.config.queues.get(q))
            .map_or_else(String::new, |q| q.name.clone());
        journal.write(Entry::InboundOffer {
            at_ms: chrono::Utc::now().timestamp_millis(),
            operator: self.desk.login(operator).to_string(),
            queue,
            accepted,
        });
    }

    /// The operator's call ended before it was bridged (`missed`), or after (the caller is
    /// hung up too).
    pub(super) fn inbound_operator_gone(&mut self, id: AttemptId, missed: bool) {
        let Some(live) = self.inbound.get(&id) else {
            return;
        };
        if !missed {
            live.call.hang_up();
        }
    }

    /// What the caller's media says: digits answer questions; a message played moves on.
    pub(super) fn on_inbound_leg(&mut self, id: AttemptId, event: LegEvent) {
        match event {
            LegEvent::Digit(d) => {
                let Some(phase) = self.inbound.get(&id).map(|l| l.phase) else {
                    return;
                };
                debug!(call = %id, digit = %d.digit, ?phase, "inbound DTMF");
                match (phase, d.digit) {
                    (Phase::Offered, '1') => {
                        self.inbound_measures.callbacks_asked += 1;
                        let waited = self.waited_ms(id);
                        self.report_missed(id, MissedReason::CallbackAsked, waited);
                        self.leave(id, &["callback-promised"]);
                    }
                    (Phase::Bot, '0') => self.bot_to_queue(id),
                    _ => {}
                }
            }
            LegEvent::Played {
                tag,
                finished: true,
            } => match tag {
                ANNOUNCEMENT => {
                    let promo = self
                        .inbound
                        .get(&id)
                        .and_then(|l| l.queue)
                        .and_then(|q| self.config.inbound.config.queues.get(q))
                        .is_some_and(|q| q.promo);
                    self.hold_music(id, promo);
                }
                HOLD => self.hold_music(id, false),
                GOODBYE => {
                    if let Some(live) = self.inbound.get(&id) {
                        live.call.hang_up();
                    }
                }
                BOT_STATUS => self.inbound_later(DIGIT_WAIT, InboundNote::NoDigit(id, Phase::Bot)),
                CALLBACK_OFFER => {
                    self.inbound_later(DIGIT_WAIT, InboundNote::NoDigit(id, Phase::Offered))
                }
                _ => {}
            },
            LegEvent::Closed(_) | LegEvent::Played { .. } | LegEvent::Machine(_) => {}
        }
    }

    fn waited_ms(&self, id: AttemptId) -> u64 {
        self.inbound
            .get(&id)
            .and_then(|l| l.queued_at)
            .map_or(0, |q| q.elapsed().as_millis() as u64)
    }

    pub(super) fn on_inbound_note(&mut self, note: InboundNote) {
        match note {
            InboundNote::Ended(id) => self.inbound_ended(id),
            InboundNote::NoDigit(id, asked) => {
                let Some(phase) = self.inbound.get(&id).map(|l| l.phase) else {
                    return;
                };
                if phase != asked {
                    return;
                }
                match phase {
                    Phase::Offered => {
                        let waited = self.waited_ms(id);
                        self.report_missed(id, MissedReason::MaxWait, waited);
                        self.leave(id, &["goodbye"]);
                    }
                    Phase::Bot => {
                        self.inbound_measures.bot_served += 1;
                        metrics::counter!("predial_bot_served_total").increment(1);
                        self.leave(id, &["goodbye"]);
                    }
                    _ => {}
                }
            }
            InboundNote::Order(id, order) => self.bot_says(id, order),
            InboundNote::HangUp(id) => {
                if let Some(live) = self.inbound.get(&id) {
                    live.call.hang_up();
                }
            }
        }
    }

    /// The call is over: the core hears of it (an abandon in the queue comes back as an
    /// action), the operator's call ends too, the media closes, the recording is written.
    fn inbound_ended(&mut self, id: AttemptId) {
        let Some(live) = self.inbound.remove(&id) else {
            return;
        };
        debug!(call = %id, phase = ?live.phase, "inbound call ended");
        if live.phase == Phase::Offered && !live.missed {
            // Hung up during the callback offer: still a missed call.
            let waited = live.queued_at.map_or(0, |q| q.elapsed().as_millis() as u64);
            self.send_missed(id, &live.from, live.queue, MissedReason::MaxWait, waited);
        }
        if live.phase == Phase::Queued {
            // The core reports the abandon as an action: it needs the caller.
            self.inbound_gone
                .insert(id, (live.from.clone(), live.queue));
        }
        if live.queued_at.is_some() {
            tell(
                &mut self.scheduler,
                self.now,
                Event::InboundEnded { call: id },
            );
        }
        if let Some(op) = self.desk.legs.get(&id) {
            op.control.hang_up();
        }
        if let Some(leg) = &live.leg {
            leg.command(Command::Close);
        }
        self.media.release(live.port);
        if let Some(rec) = &live.recorder {
            super::legs::finish_recording(rec);
        }
    }

    /// Reports a missed call (once): the integrator's notification and the callback lead.
    fn report_missed(&mut self, id: AttemptId, reason: MissedReason, waited_ms: u64) {
        if let Some(live) = self.inbound.get_mut(&id) {
            if live.missed {
                return;
            }
            live.missed = true;
            let (from, queue) = (live.from.clone(), live.queue);
            self.send_missed(id, &from, queue, reason, waited_ms);
        } else if let Some((from, queue)) = self.inbound_gone.remove(&id) {
            self.send_missed(id, &from, queue, reason, waited_ms);
        }
    }

    fn send_missed(
        &mut self,
        id: AttemptId,
        from: &str,
        queue: Option<usize>,
        reason: MissedReason,
        waited_ms: u64,
    ) {
        let config = self.inbound_config();
        let q = queue.and_then(|q| config.queues.get(q));
        let name = q.map_or_else(|| "bot".to_string(), |q| q.name.clone());
        let now = chrono::Utc::now();
        let tz = q.map_or(chrono_tz::Europe::Moscow, |q| q.time_zone);
        let local = now.with_timezone(&tz);
        info!(call = %id, queue = %name, reason = reason.as_str(), waited_ms, "missed call");
        metrics::counter!("predial_missed_calls_total", "reason" => reason.as_str()).increment(1);
        let phone = crate::inbound::missed::e164(from).unwrap_or_else(|| from.to_string());
        self.notify(
            "call.missed",
            format!("call.missed:{}:{}", phone, now.timestamp_millis()),
            serde_json::json!({
                "phone": phone,
                "queue": name,
                "reason": reason.as_str(),
                "waited_s": waited_ms as f64 / 1000.0,
                "at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "date": local.format("%Y-%m-%d").to_string(),
                "time": local.format("%H:%M:%S").to_string(),
                "time_zone": tz.name(),
            }),
        );
        if let Some(tx) = &self.config.inbound.missed {
            let _ = tx.send(MissedCall {
                phone: from.to_string(),
                queue: name,
                reason,
                waited_ms,
                at_ms: now.timestamp_millis(),
                campaign: q.and_then(|q| q.callback_campaign.clone()),
                time_zone: tz,
            });
        }
    }

    // ----- the order-status bot -----

    fn bot(&mut self, id: AttemptId) {
        self.inbound_measures.bot_calls += 1;
        let Some(live) = self.inbound.get(&id) else {
            return;
        };
        let phone = crate::inbound::missed::e164(&live.from);
        let store = self.config.store.clone();
        let bot = self.config.inbound.config.bot.clone();
        let tx = self.notes_tx.clone();
        tokio::spawn(async move {
            let order = match phone {
                Some(p) => {
                    crate::inbound::status::lookup(
                        store.as_ref(),
                        bot.status_url.as_deref(),
                        bot.timeout,
                        &p,
                    )
                    .await
                }
                None => None,
            };
            let _ = tx.send(Note::Inbound(InboundNote::Order(id, order)));
        });
    }

    /// The bot says the order's status and offers an operator (0); a caller with no order
    /// goes to the operators.
    fn bot_says(&mut self, id: AttemptId, order: Option<OrderInfo>) {
        let cfg = &self.config.media;
        let has_queue = self.config.inbound.config.bot.queue.is_some();
        let Some(live) = self.inbound.get(&id) else {
            return;
        };
        if live.phase != Phase::Bot {
            return;
        }
        let Some(order) = order else {
            info!(call = %id, "the bot found no order for the caller: to the operators");
            if has_queue {
                self.bot_to_queue(id);
            } else {
                self.leave(id, &["goodbye"]);
            }
            return;
        };
        let mut names = phrases::order_status(order.number, order.status, cfg.lang);
        if has_queue {
            names.push("press-0".into());
        }
        match (cfg.prompts.sequence(cfg.lang, &names), &live.leg) {
            (Ok(audio), Some(leg)) => leg.command(Command::Play {
                player: Player::new(audio, false),
                tag: BOT_STATUS,
            }),
            _ => self.inbound_later(DIGIT_WAIT, InboundNote::NoDigit(id, Phase::Bot)),
        }
    }

    fn bot_to_queue(&mut self, id: AttemptId) {
        let config = self.inbound_config();
        match config.bot.queue.as_deref().and_then(|q| config.queue(q)) {
            Some((q, _)) => self.enqueue(id, q),
            None => self.leave(id, &["goodbye"]),
        }
    }

    /// Hangs up every inbound call (the engine stops).
    pub(super) fn hang_up_inbound(&self) {
        for live in self.inbound.values() {
            live.call.hang_up();
        }
    }

    /// Each queue's figures now, from the core.
    pub(super) fn queue_reports(&self) -> Vec<QueueReport> {
        self.config
            .inbound
            .config
            .queues
            .iter()
            .enumerate()
            .filter_map(|(i, q)| {
                Some(QueueReport {
                    name: q.name.clone(),
                    figures: self.scheduler.queue_figures(QueueId(i as u32 + 1))?,
                })
            })
            .collect()
    }

    /// What the run measured of inbound calls (its percentiles sort every sample: for the
    /// end of a run, not for the live figures).
    pub(super) fn inbound_report(&self) -> InboundReport {
        let m = &self.inbound_measures;
        let queues = self.queue_reports();
        InboundReport {
            calls: m.calls,
            refused: m.refused,
            bridged: m.bridged,
            answer_to_operator_ms: Percentiles::of(&m.answer_to_operator_ms),
            ewt_error_s: Spread::of(&m.ewt_error_s),
            reference_ewt_error_s: Spread::of(&m.reference_error_s),
            abandoned_in_queue: queues.iter().map(|q| q.figures.abandoned).sum(),
            timed_out: queues.iter().map(|q| q.figures.timed_out).sum(),
            after_hours: m.after_hours,
            callbacks_asked: m.callbacks_asked,
            bot_calls: m.bot_calls,
            bot_served: m.bot_served,
            queues,
        }
    }

    /// Queue figures as metrics.
    pub(super) fn queue_metrics(&self) {
        for q in self.queue_reports() {
            let f = q.figures;
            let name = q.name;
            metrics::gauge!("predial_queue_waiting", "queue" => name.clone())
                .set(f64::from(f.waiting));
            metrics::gauge!("predial_queue_longest_wait_seconds", "queue" => name.clone())
                .set(f.longest_wait_ms as f64 / 1000.0);
            metrics::gauge!("predial_queue_service_level", "queue" => name.clone())
                .set(f.service_level);
            metrics::gauge!("predial_queue_abandoned", "queue" => name.clone())
                .set(f.abandoned as f64);
            metrics::gauge!("predial_queue_answered", "queue" => name).set(f.answered as f64);
        }
    }
}

/// Callers gone while the core may still report them (abandoned in the queue).
pub(crate) type Gone = HashMap<AttemptId, (String, Option<usize>)>;
