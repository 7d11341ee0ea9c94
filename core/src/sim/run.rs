//! The simulation loop: a virtual clock, a queue of things that will happen (a lead arrives, a
//! callee answers, a call ends, a shift starts), and the very scheduler the engine runs, driven
//! exactly as the engine drives it.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::Duration;

use chrono::{Offset, TimeZone};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use rand_pcg::Pcg64Mcg;

use super::config::SimConfig;
use super::kpi::{Percentiles, Record, SimReport};
use super::phones::{junk_phone, random_phone};
use crate::acd::{OperatorId, OperatorState};
use crate::dialer::Scheduler;
use crate::dialer::calendar::local_instant;
use crate::dialer::event::{Action, AttemptId, Event, EventError};
use crate::dialer::lead::{CampaignId, LeadId, NewLead, Outcome};
use crate::dialer::phone::Phone;
use crate::dialer::priority::class_name;
use crate::dialer::zones::TzId;
use crate::pacing::AbandonAudit;
use crate::time::Timestamp;

const CAMPAIGN: CampaignId = CampaignId(1);

/// Something that will happen in the simulated world.
#[derive(Debug, Clone, Copy)]
enum Happening {
    Arrival,
    ShiftStart(u32),
    ShiftEnd(u32),
    Answered(AttemptId),
    /// An operator shown a lead (preview) dials it.
    PreviewDial(OperatorId),
    Ended {
        attempt: AttemptId,
        outcome: Outcome,
    },
}

#[derive(Debug)]
struct Pending {
    at: Timestamp,
    seq: u64,
    what: Happening,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    /// Earliest first (the heap is a max-heap), ties in the order they were planned.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// What the simulator knows of a lead.
#[derive(Debug, Clone)]
struct LeadFacts {
    phone: Phone,
    tz: TzId,
    dialable_at: Timestamp,
    first_dial: Option<Timestamp>,
    contacted: bool,
    /// Never answers (a fake order).
    fake: bool,
    /// The number does not exist.
    dead: bool,
}

/// An operator's time, by state.
#[derive(Debug, Clone, Copy)]
struct OperatorClock {
    state: OperatorState,
    since: Timestamp,
    logged_in_ms: i64,
    busy_ms: i64,
}

impl OperatorClock {
    fn switch(&mut self, to: OperatorState, now: Timestamp) {
        let spent = now.millis() - self.since.millis();
        if self.state != OperatorState::LoggedOut {
            self.logged_in_ms += spent;
        }
        if matches!(self.state, OperatorState::OnCall | OperatorState::WrapUp) {
            self.busy_ms += spent;
        }
        self.state = to;
        self.since = now;
    }
}

/// An attempt in progress: which lead, and its number.
#[derive(Debug, Clone, Copy)]
struct Call {
    lead: LeadId,
    attempt_no: u8,
}

pub struct Simulation<'a> {
    cfg: SimConfig,
    core: Scheduler,
    rng: Pcg64Mcg,
    queue: BinaryHeap<Pending>,
    seq: u64,
    now: Timestamp,
    end: Timestamp,
    leads: Vec<LeadFacts>,
    calls: rustc_hash::FxHashMap<AttemptId, Call>,
    operators: Vec<OperatorClock>,
    report: SimReport,
    latencies: Vec<f64>,
    talk: LogNormal<f64>,
    answer_after: LogNormal<f64>,
    sink: &'a mut dyn Sink,
}

/// Where a simulated day's events go as they happen.
pub trait Sink {
    /// A lead added, a dial, an outcome (`--events`).
    fn event(&mut self, _record: &Record) {}
    /// An abandoned call's audit record (`--abandon-log`).
    fn abandon(&mut self, _audit: &AbandonAudit) {}
}

/// A sink taking the events with a closure (and dropping abandon audits).
pub fn events(f: impl FnMut(&Record)) -> impl Sink {
    struct Events<F>(F);
    impl<F: FnMut(&Record)> Sink for Events<F> {
        fn event(&mut self, record: &Record) {
            (self.0)(record)
        }
    }
    Events(f)
}

/// Runs a simulated day and returns its figures; every event goes to `sink` as it happens.
pub fn run(cfg: &SimConfig, sink: &mut dyn Sink) -> Result<SimReport, EventError> {
    Simulation::new(cfg.clone(), sink)?.run()
}

fn lognormal(median: Duration, sigma: f64) -> LogNormal<f64> {
    LogNormal::new(median.as_secs_f64().max(0.001).ln(), sigma)
        .expect("sigma is checked to be 0..=3 and finite")
}

impl<'a> Simulation<'a> {
    fn new(cfg: SimConfig, sink: &'a mut dyn Sink) -> Result<Self, EventError> {
        let start = cfg.start;
        let end = start.plus_millis((cfg.hours * 3_600_000.0) as i64);
        let mut core = Scheduler::new();
        let mut policy = cfg.campaign.clone();
        if policy.destinations.allow.is_empty() {
            // The simulated shop sells across the CIS: a campaign that names no prefixes
            // calls the countries its buyers are in.
            policy.destinations.allow = super::phones::country_prefixes();
        }
        core.handle(
            start,
            Event::CampaignSaved {
                campaign: CAMPAIGN,
                policy: Box::new(policy),
            },
        )?;
        if cfg.channels > 0 {
            core.handle(
                start,
                Event::ChannelLimit {
                    channels: cfg.channels,
                },
            )?;
        }
        let p = &cfg.population;
        let talk = lognormal(p.talk_median, p.talk_sigma);
        let answer_after = lognormal(p.answer_after, 0.5);
        let report = SimReport {
            agents: cfg.operators.count,
            hours: cfg.hours,
            seed: cfg.seed,
            start,
            ..SimReport::default()
        };
        let operators = vec![
            OperatorClock {
                state: OperatorState::LoggedOut,
                since: start,
                logged_in_ms: 0,
                busy_ms: 0
            };
            cfg.operators.count as usize
        ];
        let rng = Pcg64Mcg::seed_from_u64(cfg.seed);
        Ok(Simulation {
            cfg,
            core,
            rng,
            queue: BinaryHeap::new(),
            seq: 0,
            now: start,
            end,
            leads: Vec::new(),
            calls: rustc_hash::FxHashMap::default(),
            operators,
            report,
            latencies: Vec::new(),
            talk,
            answer_after,
            sink,
        })
    }

    fn plan(&mut self, at: Timestamp, what: Happening) {
        self.seq += 1;
        self.queue.push(Pending {
            at,
            seq: self.seq,
            what,
        });
    }

    fn run(mut self) -> Result<SimReport, EventError> {
        self.plan_shifts();
        for _ in 0..self.cfg.arrivals.backlog {
            // Overnight orders, all waiting at the start.
            self.arrive(true)?;
        }
        self.plan_next_arrival();
        self.drain()?;
        loop {
            let next_world = self.queue.peek().map(|p| p.at);
            let next_core = self.core.poll_timeout().map(|w| w.at);
            let next = match (next_world, next_core) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > self.end {
                break;
            }
            self.now = self.now.max(next);
            self.core.handle(self.now, Event::Tick)?;
            self.drain()?;
            while self.queue.peek().is_some_and(|p| p.at <= self.now) {
                let Some(p) = self.queue.pop() else { break };
                self.happen(p.what)?;
                self.drain()?;
            }
        }
        self.now = self.end;
        self.core.handle(self.end, Event::Tick)?;
        self.drain()?;
        Ok(self.finish())
    }

    /// Logs operators in and out at their shift times, or in for the whole run.
    fn plan_shifts(&mut self) {
        let count = self.cfg.operators.count;
        let Some(shift) = self.cfg.operators.shift else {
            for op in 0..count {
                self.plan(self.now, Happening::ShiftStart(op));
            }
            return;
        };
        let tz = TzId::from_name(&self.cfg.campaign.time_zone).map_or(chrono_tz::UTC, TzId::tz);
        let first_day = tz
            .from_utc_datetime(&self.now.to_utc().naive_utc())
            .date_naive();
        let mut day = first_day.pred_opt().unwrap_or(first_day);
        while local_instant(tz, day, shift.start.time()) < self.end {
            let start = local_instant(tz, day, shift.start.time());
            let end_day = if shift.end > shift.start {
                day
            } else {
                day.succ_opt().unwrap_or(day)
            };
            let end = local_instant(tz, end_day, shift.end.time());
            if end > self.now {
                for op in 0..count {
                    self.plan(start.max(self.now), Happening::ShiftStart(op));
                    self.plan(end, Happening::ShiftEnd(op));
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
    }

    /// Arrival rate (per hour) at an instant: the mean rate, shaped by the hour of day in the
    /// campaign's zone, grown as the scenario says.
    fn rate_at(&self, t: Timestamp) -> f64 {
        let tz = TzId::from_name(&self.cfg.campaign.time_zone).map_or(chrono_tz::UTC, TzId::tz);
        let hour = tz
            .from_utc_datetime(&t.to_utc().naive_utc())
            .format("%H")
            .to_string();
        let hour: usize = hour.parse().unwrap_or(0);
        let curve = &self.cfg.arrivals.daily_curve;
        let mean = curve.iter().sum::<f64>() / curve.len() as f64;
        let shape = curve[hour % curve.len()] / mean;
        let a = &self.cfg.arrivals;
        let elapsed_h = t.since(self.cfg.start).as_secs_f64() / 3600.0;
        let growth = 1.0 + (a.growth - 1.0) * (elapsed_h / a.growth_hours).min(1.0);
        self.cfg.leads_per_hour() * shape * growth
    }

    /// The next arrival, by thinning a Poisson stream at the highest rate.
    fn plan_next_arrival(&mut self) {
        let a = &self.cfg.arrivals;
        let mean = a.daily_curve.iter().sum::<f64>() / a.daily_curve.len() as f64;
        let peak = a.daily_curve.iter().cloned().fold(0.0, f64::max) / mean;
        let max_rate = self.cfg.leads_per_hour() * peak * a.growth.max(1.0) / 3600.0; // per second
        if max_rate <= 0.0 {
            return;
        }
        let mut t = self.now;
        loop {
            let gap = -(1.0 - self.rng.random::<f64>()).ln() / max_rate;
            t = t.plus_millis((gap * 1000.0).ceil() as i64);
            if t > self.end {
                return;
            }
            if self.rng.random::<f64>() * max_rate * 3600.0 <= self.rate_at(t) {
                self.plan(t, Happening::Arrival);
                return;
            }
        }
    }

    fn happen(&mut self, what: Happening) -> Result<(), EventError> {
        let now = self.now;
        match what {
            Happening::Arrival => {
                self.arrive(false)?;
                self.plan_next_arrival();
            }
            Happening::ShiftStart(op) => {
                let operator = OperatorId(op + 1);
                self.core.handle(
                    now,
                    Event::OperatorLogin {
                        operator,
                        campaigns: vec![CAMPAIGN],
                    },
                )?;
                self.core.handle(now, Event::OperatorReady { operator })?;
            }
            Happening::ShiftEnd(op) => {
                self.core.handle(
                    now,
                    Event::OperatorLogout {
                        operator: OperatorId(op + 1),
                    },
                )?;
            }
            Happening::PreviewDial(operator) => {
                // The operator may have logged out meanwhile: then there is nothing to dial.
                let _ = self.core.handle(now, Event::PreviewDial { operator });
            }
            Happening::Answered(attempt) => {
                self.core.handle(now, Event::AttemptAnswered { attempt })?;
            }
            Happening::Ended { attempt, outcome } => {
                let Some(call) = self.calls.remove(&attempt) else {
                    return Ok(());
                };
                if outcome == Outcome::Contact
                    && self.rng.random_bool(self.cfg.population.callback_rate)
                {
                    let later = self.rng.random_range(3600..86_400) as i64;
                    // The lead may have run out of attempts: then there is no callback to agree.
                    let _ = self.core.handle(
                        now,
                        Event::CallbackAgreed {
                            lead: call.lead,
                            at: now.plus_millis(later * 1000),
                        },
                    );
                }
                self.core
                    .handle(now, Event::AttemptFinished { attempt, outcome })?;
                let facts = &mut self.leads[(call.lead.0 - 1) as usize];
                if outcome == Outcome::Contact {
                    self.report.contacts += 1;
                    facts.contacted = true;
                }
                let record = Record {
                    at: now,
                    event: "outcome",
                    lead: call.lead,
                    phone: facts.phone,
                    attempt: Some(call.attempt_no),
                    tz: Some(facts.tz.name()),
                    class: None,
                    outcome: Some(outcome.as_str()),
                };
                self.sink.event(&record);
            }
        }
        Ok(())
    }

    /// A lead arrives (or a junk or duplicate submission).
    fn arrive(&mut self, backlog: bool) -> Result<(), EventError> {
        self.report.leads_submitted += 1;
        let now = self.now;
        let a = &self.cfg.arrivals;
        let r: f64 = self.rng.random();
        let phone_text = if r < a.invalid_share {
            junk_phone(&mut self.rng).to_string()
        } else if r < a.invalid_share + a.duplicate_share && !self.leads.is_empty() {
            // Someone orders again soon after: the same phone as a recent lead.
            let back = self.rng.random_range(0..self.leads.len().min(50));
            self.leads[self.leads.len() - 1 - back].phone.to_string()
        } else {
            random_phone(&mut self.rng).to_string()
        };
        let id = LeadId(self.leads.len() as u64 + 1);
        let created = if backlog {
            now.plus_millis(-self.rng.random_range(0..8 * 3_600_000))
        } else {
            now
        };
        let mut lead = NewLead::new(id.0, CAMPAIGN.0, &phone_text, created);
        lead.order_id = Some(format!("ORD-{}", self.report.leads_submitted));
        match self.core.handle(now, Event::LeadAdded(Box::new(lead))) {
            Ok(()) => {}
            Err(EventError::InvalidPhone(_)) => {
                self.report.leads_invalid += 1;
                return Ok(());
            }
            Err(EventError::Duplicate { .. }) => {
                self.report.leads_duplicate += 1;
                return Ok(());
            }
            Err(EventError::DestinationRefused { .. }) => {
                self.report.leads_destination_refused += 1;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        self.report.leads_in += 1;
        let view = self.core.lead(id).expect("a lead just accepted is held");
        let window = self.cfg.campaign.quiet_hours.window(view.tz.tz(), now);
        let p = &self.cfg.population;
        let facts = LeadFacts {
            phone: view.phone,
            tz: view.tz,
            dialable_at: if window.open { now } else { window.until },
            first_dial: None,
            contacted: false,
            fake: self.rng.random_bool(p.fake_rate),
            dead: self.rng.random_bool(p.dead_number_rate),
        };
        self.sink.event(&Record {
            at: now,
            event: "lead_added",
            lead: id,
            phone: facts.phone,
            attempt: None,
            tz: Some(facts.tz.name()),
            class: None,
            outcome: None,
        });
        self.leads.push(facts);
        Ok(())
    }

    /// Takes every action out of the scheduler and plays the world's answer to it.
    fn drain(&mut self) -> Result<(), EventError> {
        while let Some(action) = self.core.poll_action() {
            let now = self.now;
            match action {
                Action::Dial {
                    attempt,
                    lead,
                    phone,
                    tz,
                    attempt_no,
                    class,
                    operator,
                    ..
                } => {
                    self.report.attempts += 1;
                    if let Some(op) = operator {
                        self.operator_state(op, OperatorState::Reserved);
                    }
                    if !self.cfg.campaign.quiet_hours.is_open(tz.tz(), now) {
                        self.report.quiet_hour_violations += 1;
                    }
                    let facts = &mut self.leads[(lead.0 - 1) as usize];
                    if facts.first_dial.is_none() {
                        facts.first_dial = Some(now);
                        self.latencies
                            .push(now.since(facts.dialable_at).as_secs_f64());
                    }
                    let (fake, dead) = (facts.fake, facts.dead);
                    self.sink.event(&Record {
                        at: now,
                        event: "dial",
                        lead,
                        phone,
                        attempt: Some(attempt_no),
                        tz: Some(tz.name()),
                        class: Some(class_name(self.cfg.campaign.priority, class)),
                        outcome: None,
                    });
                    self.calls.insert(attempt, Call { lead, attempt_no });
                    self.place_call(attempt, fake, dead);
                }
                Action::Bridge { attempt, operator } => {
                    self.operator_state(operator, OperatorState::OnCall);
                    let talk = self.talk.sample(&mut self.rng).clamp(1.0, 4.0 * 3600.0);
                    let at = now.plus_millis((talk * 1000.0) as i64);
                    self.plan(
                        at,
                        Happening::Ended {
                            attempt,
                            outcome: Outcome::Contact,
                        },
                    );
                }
                Action::Abandon { attempt, audit } => {
                    self.report.abandoned += 1;
                    self.sink.abandon(&audit);
                    let at = now.plus(self.cfg.population.abandon_message);
                    self.plan(
                        at,
                        Happening::Ended {
                            attempt,
                            outcome: Outcome::Abandoned,
                        },
                    );
                }
                Action::LeadClosed { state, .. } => match state {
                    crate::dialer::lead::LeadState::Done => self.report.leads_done += 1,
                    crate::dialer::lead::LeadState::Exhausted => self.report.leads_exhausted += 1,
                    _ => {}
                },
                Action::OperatorState { operator, state } => self.operator_state(operator, state),
                Action::Preview { operator, .. } => {
                    self.operator_state(operator, OperatorState::Reserved);
                    let at = now.plus(self.cfg.population.preview_think);
                    self.plan(at, Happening::PreviewDial(operator));
                }
                // A pickup reminder takes about 15 s to say; then the bot hangs up.
                Action::Remind { attempt, .. } => {
                    self.plan(
                        now.plus_millis(15_000),
                        Happening::Ended {
                            attempt,
                            outcome: Outcome::Contact,
                        },
                    );
                }
                // The simulator has no inbound callers.
                Action::QueueAnnounce { .. }
                | Action::QueueTimeout { .. }
                | Action::QueueAbandoned { .. } => {}
            }
        }
        Ok(())
    }

    /// Decides how the callee answers an attempt, and when.
    fn place_call(&mut self, attempt: AttemptId, fake: bool, dead: bool) {
        let now = self.now;
        let p = &self.cfg.population;
        let ring_timeout = p.ring_timeout.as_secs_f64();
        let (after_s, happening) = if dead {
            (
                1.0,
                Happening::Ended {
                    attempt,
                    outcome: Outcome::InvalidNumber,
                },
            )
        } else {
            let r: f64 = self.rng.random();
            let answer_rate = if fake { 0.0 } else { p.answer_rate };
            let ring = self
                .answer_after
                .sample(&mut self.rng)
                .clamp(1.0, ring_timeout - 0.5);
            if r < answer_rate {
                // With answering-machine detection on, the person is handed over when it has
                // decided.
                let amd = if p.amd {
                    p.amd_delay.as_secs_f64()
                } else {
                    0.0
                };
                (ring + amd, Happening::Answered(attempt))
            } else if r < answer_rate + p.machine_rate {
                (
                    ring + p.amd_delay.as_secs_f64(),
                    Happening::Ended {
                        attempt,
                        outcome: Outcome::AnsweringMachine,
                    },
                )
            } else {
                let u: f64 = self.rng.random();
                if u < p.busy_share {
                    (
                        2.0,
                        Happening::Ended {
                            attempt,
                            outcome: Outcome::Busy,
                        },
                    )
                } else if u < p.busy_share + p.unreachable_share {
                    (
                        3.0,
                        Happening::Ended {
                            attempt,
                            outcome: Outcome::Unreachable,
                        },
                    )
                } else {
                    (
                        ring_timeout,
                        Happening::Ended {
                            attempt,
                            outcome: Outcome::NoAnswer,
                        },
                    )
                }
            }
        };
        self.plan(now.plus_millis((after_s * 1000.0) as i64), happening);
    }

    fn operator_state(&mut self, operator: OperatorId, state: OperatorState) {
        let now = self.now;
        let index = (operator.0 as usize).wrapping_sub(1);
        if let Some(clock) = self.operators.get_mut(index) {
            clock.switch(state, now);
        }
    }

    fn finish(mut self) -> SimReport {
        let end = self.end;
        for clock in &mut self.operators {
            let state = clock.state;
            clock.switch(state, end);
        }
        let sla = self.cfg.campaign.first_attempt_sla.as_secs_f64();
        let mut r = self.report;
        let mut zones = BTreeSet::new();
        let mut offsets = BTreeSet::new();
        for facts in &self.leads {
            zones.insert(facts.tz);
            let offset = facts
                .tz
                .tz()
                .offset_from_utc_datetime(&self.cfg.start.to_utc().naive_utc())
                .fix();
            offsets.insert(offset.local_minus_utc());
            match facts.first_dial {
                Some(t) if t.since(facts.dialable_at).as_secs_f64() > sla => r.sla_misses += 1,
                None if end.since(facts.dialable_at).as_secs_f64() > sla => r.sla_misses += 1,
                _ => {}
            }
        }
        r.callee_zones = zones.len() as u64;
        r.callee_utc_offsets = offsets.len() as u64;
        r.first_dial_latency_s = Percentiles::of(&mut self.latencies);
        r.leads_contacted = self.leads.iter().filter(|l| l.contacted).count() as u64;
        r.leads_pending = r.leads_in.saturating_sub(r.leads_done + r.leads_exhausted);
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        r.contact_rate = ratio(r.contacts, r.attempts);
        r.lead_contact_rate = ratio(r.leads_contacted, r.leads_in);
        r.attempts_per_lead = ratio(r.attempts, r.leads_in);
        r.abandon_rate = ratio(r.abandoned, self.core.stats().answered);
        r.held_by_quiet_hours = self.core.stats().held_by_quiet_hours;
        let logged_in: i64 = self.operators.iter().map(|c| c.logged_in_ms).sum();
        let busy: i64 = self.operators.iter().map(|c| c.busy_ms).sum();
        r.agent_occupancy = if logged_in > 0 {
            busy as f64 / logged_in as f64
        } else {
            0.0
        };
        r.calls_per_agent_hour = if logged_in > 0 {
            r.contacts as f64 / (logged_in as f64 / 3_600_000.0)
        } else {
            0.0
        };
        r
    }
}
