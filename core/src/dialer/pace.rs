//! Pacing in the scheduler: for each campaign, the mode in force, and for paced campaigns
//! (predictive, power, the VICIdial reference) how many calls to place ahead of operators.

use chrono::{TimeZone, Timelike};

use super::attempt::Attempt;
use super::event::Action;
use super::scheduler::Scheduler;
use crate::acd::OperatorState;
use crate::pacing::{Agent, PacingMode, Planner, Snapshot, vicidial};
use crate::time::Timestamp;

/// A predictive plan is redone at most this often (and at every pacing tick).
const REPLAN_MS: i64 = 250;
const TICK_MS: i64 = 1_000;

/// A campaign's floor at this instant.
#[derive(Default)]
struct Floor {
    agents: Vec<Agent>,
    ringing: Vec<f64>,
    waiting: u32,
    talking: u32,
    paused: u32,
    /// Operators waiting for a call dialled for them (progressive, preview).
    reserved: u32,
}

impl Scheduler {
    /// Whether any campaign dials ahead of operators (then the pacing tick runs).
    pub(crate) fn any_paced(&self) -> bool {
        self.campaigns
            .iter()
            .any(|c| !c.policy.policy.mode.is_operator_bound())
    }

    fn floor(&self, c: u16) -> Floor {
        let now = self.now;
        let mut f = Floor::default();
        for &op in &self.campaigns[usize::from(c)].operators {
            let o = &self.operators.slots[op as usize];
            match o.state {
                OperatorState::Ready => f.agents.push(Agent::Ready),
                OperatorState::WrapUp => f.agents.push(Agent::WrapUp {
                    left: o.wrap_until.since(now).as_secs_f64(),
                }),
                OperatorState::OnCall => {
                    f.talking += 1;
                    f.agents.push(Agent::OnCall {
                        elapsed: now.since(o.busy_since).as_secs_f64(),
                    })
                }
                // Waiting for the call dialled for them (progressive, preview): they take its
                // answer, which the planner counts among the ringing calls, or become ready.
                OperatorState::Reserved => f.reserved += 1,
                OperatorState::Paused => f.paused += 1,
                OperatorState::LoggedOut => {}
            }
        }
        for a in self.attempts.live().filter(|a| a.campaign() == c) {
            match a {
                Attempt::Ringing { dialed_at, .. } => {
                    f.ringing.push(now.since(dialed_at).as_secs_f64())
                }
                Attempt::Waiting { .. } => f.waiting += 1,
                _ => {}
            }
        }
        f
    }

    /// The mode in force: a predictive campaign dials progressively while it learns, with too
    /// few operators to predict for, and while its abandon rate is at the cap.
    fn effective_mode(&self, c: u16, at_work: usize) -> PacingMode {
        let camp = &self.campaigns[usize::from(c)];
        let mode = camp.policy.policy.mode;
        let p = &camp.policy.policy.pacing;
        // A fixed margin (an experiment) ignores the cap, by its `danger_` name.
        let at_cap = p.danger_fixed_margin.is_none() && camp.pacing.budget.at_cap(self.now, p);
        match mode {
            PacingMode::Predictive
                if camp.pacing.stats.calls_seen < u64::from(p.warmup_calls)
                    || at_work < p.min_operators as usize
                    || at_cap =>
            {
                PacingMode::Progressive
            }
            PacingMode::Power if at_cap => PacingMode::Progressive,
            other => other,
        }
    }

    /// How many calls a paced campaign places now.
    fn replan(&mut self, c: u16) {
        let f = self.floor(c);
        let at_work = f.agents.len() + f.reserved as usize;
        let effective = self.effective_mode(c, at_work);
        let now = self.now;
        let camp = &mut self.campaigns[usize::from(c)];
        camp.pacing.effective = effective;
        camp.pacing.planned_at = Some(now);
        let p = &camp.policy.policy.pacing;
        let in_flight = f.ringing.len() as u32 + f.waiting;
        let cap = ((p.max_ratio * at_work as f64).floor() as u32).saturating_sub(in_flight);
        let ready = f
            .agents
            .iter()
            .filter(|a| matches!(a, Agent::Ready))
            .count() as u32;
        camp.pacing.allowance = match effective {
            PacingMode::Predictive => {
                camp.pacing.stats.refresh();
                let snapshot = Snapshot {
                    agents: &f.agents,
                    ringing: &f.ringing,
                    waiting: f.waiting,
                    wrap_s: camp.policy.policy.wrap_up.as_secs_f64(),
                    grace_s: p.abandon_after.as_secs_f64(),
                };
                let z = p.danger_fixed_margin.unwrap_or(camp.pacing.budget.z);
                Planner::plan(&snapshot, &camp.pacing.stats, z, cap).dials
            }
            PacingMode::Power => {
                let goal =
                    (p.power_ratio * f64::from(ready.saturating_sub(f.waiting))).ceil() as u32;
                goal.saturating_sub(f.ringing.len() as u32).min(cap)
            }
            PacingMode::Vicidial => camp.pacing.vicidial.calls_to_place(vicidial::Floor {
                dialable: ready + f.talking,
                calls: in_flight + f.talking,
                ..vicidial::Floor::default()
            }),
            PacingMode::Preview | PacingMode::Progressive => 0,
        };
    }

    /// The next call a paced campaign planned, if any.
    pub(crate) fn next_paced_dial(&mut self) -> Option<Action> {
        for c in 0..self.campaigns.len() as u16 {
            let camp = &self.campaigns[usize::from(c)];
            if !camp.running || camp.ready.is_empty() || camp.policy.policy.mode.is_operator_bound()
            {
                continue;
            }
            let every = if camp.policy.policy.mode == PacingMode::Vicidial {
                vicidial::DIAL_EVERY_MS
            } else {
                REPLAN_MS
            };
            let stale = camp
                .pacing
                .planned_at
                .is_none_or(|t| self.now.millis() - t.millis() >= every);
            if camp.pacing.allowance == 0 && stale {
                self.replan(c);
            }
            let camp = &self.campaigns[usize::from(c)];
            if camp.pacing.allowance == 0 || camp.pacing.effective.is_operator_bound() {
                continue;
            }
            // Blending: callers wait for this campaign's operators; calls placed now could
            // only be answered into an operator shortage.
            if self.inbound_holds_back(c) {
                continue;
            }
            if let Some((lead, class)) = self.pop_dialable(c) {
                self.campaigns[usize::from(c)].pacing.allowance -= 1;
                return Some(self.start_attempt(None, c, lead, class));
            }
        }
        None
    }

    /// Once a second: the VICIdial reference samples the floor, and every paced campaign's
    /// plan is redone at the next chance.
    pub(crate) fn pacing_tick(&mut self) {
        let now = self.now;
        self.pacing_due = self.any_paced().then(|| now.plus_millis(TICK_MS));
        for c in 0..self.campaigns.len() as u16 {
            let mode = self.campaigns[usize::from(c)].policy.policy.mode;
            if mode.is_operator_bound() {
                continue;
            }
            let f = self.floor(c);
            let at_work = f.agents.len() + f.reserved as usize;
            self.campaigns[usize::from(c)].pacing.effective = self.effective_mode(c, at_work);
            if mode == PacingMode::Vicidial {
                let camp = &mut self.campaigns[usize::from(c)];
                // VICIdial reads the server's clock; the campaign's zone stands for it.
                let local = camp
                    .policy
                    .default_tz
                    .tz()
                    .from_utc_datetime(&now.to_utc().naive_utc());
                let hhmm_now = i64::from(local.hour() * 100 + local.minute());
                let end = camp.policy.policy.pacing.vicidial_day_end.time();
                let hhmm_end = i64::from(end.hour() * 100 + end.minute());
                let ready = f
                    .agents
                    .iter()
                    .filter(|a| matches!(a, Agent::Ready))
                    .count() as u32;
                let p = &camp.policy.policy.pacing;
                camp.pacing.vicidial.tick(
                    now,
                    vicidial::Floor {
                        ready,
                        waiting: f.waiting,
                        logged_in: at_work as u32 + f.paused,
                        ..vicidial::Floor::default()
                    },
                    p.abandon_cap,
                    p.max_ratio.min(3.0),
                    hhmm_now,
                    hhmm_end,
                );
            } else {
                self.campaigns[usize::from(c)].pacing.planned_at = None;
            }
            self.dial_check = true;
        }
    }
}

/// When the first pacing tick runs after a paced campaign appears.
pub(crate) fn first_tick(now: Timestamp) -> Timestamp {
    now.plus_millis(TICK_MS)
}
