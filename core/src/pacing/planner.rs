//! The predictive planner: how many calls to launch now so that live answers arrive as operators
//! become free, with a safety margin that sets the abandon risk.
//!
//! For every second τ of the next half minute it computes, from live measurements:
//!
//! - F(τ): operators free by then: those ready now, those whose wrap-up ends (known exactly),
//!   and each one on a call with the probability that their conversation, already `e` seconds
//!   long, ends in time (a lognormal fitted to the campaign's calls, conditioned on `e`);
//! - A(τ): live answers by then from calls already ringing (each by how long it has rung) and
//!   calls answered and waiting for an operator;
//! - a(τ): what one new call adds: the live-answer rate times the share answered within τ.
//!
//! It launches the largest `k` such that, at every τ, the expected spare operators
//! F − A − k·a stay at least `z` standard deviations (of those sums of independent events)
//! above zero. `z` is the abandon controller's output (`budget.rs`): higher is safer, lower
//! keeps operators busier.

use super::stats::LiveStats;

/// An operator at work on the campaign, as the planner sees them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agent {
    Ready,
    /// Free in `left` seconds (wrap-up ends then).
    WrapUp {
        left: f64,
    },
    /// Talking for `elapsed` seconds; wrap-up follows.
    OnCall {
        elapsed: f64,
    },
}

/// The campaign's state at the moment of planning.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    pub agents: &'a [Agent],
    /// Seconds each call in progress has been ringing.
    pub ringing: &'a [f64],
    /// Answered calls waiting for an operator.
    pub waiting: u32,
    /// Wrap-up after a call, seconds.
    pub wrap_s: f64,
    /// How long an answered call may wait for an operator (an answer at τ can be taken by an
    /// operator free by τ + grace).
    pub grace_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Plan {
    /// Calls to launch now.
    pub dials: u32,
    /// The second ahead where the plan is tightest, and the spare operators expected there.
    pub binding_s: f64,
    pub spare: f64,
}

pub struct Planner;

/// Seconds ahead the plan looks at, and its step.
const HORIZON_S: usize = 44;
const STEP_S: usize = 1;

/// Values grouped by bucket (`width` seconds), with their counts: a hundred agents or calls
/// fall into a few dozen groups, which keeps a plan to microseconds.
fn grouped(values: impl Iterator<Item = f64>, width: f64) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values
        .map(|x| (x / width).floor() * width + width / 2.0)
        .collect();
    v.sort_by(f64::total_cmp);
    let mut out: Vec<(f64, f64)> = Vec::new();
    for x in v {
        match out.last_mut() {
            Some((last, n)) if *last == x => *n += 1.0,
            _ => out.push((x, 1.0)),
        }
    }
    out
}

impl Planner {
    /// Plans at most `max_new` new calls with safety margin `z`.
    pub fn plan(snapshot: &Snapshot<'_>, stats: &LiveStats, z: f64, max_new: u32) -> Plan {
        if max_new == 0 || snapshot.agents.is_empty() {
            return Plan::default();
        }
        let p = stats.live_rate();
        let ready = snapshot
            .agents
            .iter()
            .filter(|a| matches!(a, Agent::Ready))
            .count() as f64;
        let wrapping = grouped(
            snapshot.agents.iter().filter_map(|a| match a {
                Agent::WrapUp { left } => Some(*left),
                _ => None,
            }),
            1.0,
        );
        let talking = grouped(
            snapshot.agents.iter().filter_map(|a| match a {
                Agent::OnCall { elapsed } => Some(*elapsed),
                _ => None,
            }),
            2.0,
        );
        let ringing = grouped(snapshot.ringing.iter().copied(), 1.0);
        let horizon = (stats.delay_horizon() as usize + 2).clamp(10, HORIZON_S);
        let mut best = Plan {
            dials: max_new,
            binding_s: 0.0,
            spare: f64::INFINITY,
        };
        for step in (STEP_S..=horizon).step_by(STEP_S) {
            let tau = step as f64;
            let a = p * stats.delay_cdf(tau);
            if a < 0.02 * p {
                // New calls cannot be answered this soon: nothing to decide here.
                continue;
            }
            let by = tau + snapshot.grace_s;
            let (mut free, mut var) = (ready, 0.0);
            for &(left, n) in &wrapping {
                if left <= by {
                    free += n;
                }
            }
            for &(elapsed, n) in &talking {
                let q = stats.talk_ends_within(elapsed, by - snapshot.wrap_s);
                free += n * q;
                var += n * q * (1.0 - q);
            }
            let mut answers = f64::from(snapshot.waiting);
            for &(rung, n) in &ringing {
                let q = stats.answer_within(rung, tau);
                answers += n * q;
                var += n * q * (1.0 - q);
            }
            let margin = free - answers;
            let b = a * (1.0 - a);
            let fits = |k: f64| margin - k * a >= z * (var + k * b).sqrt();
            let k = if !fits(0.0) {
                0
            } else {
                // Largest k that fits, by bisection (the test is monotone in k).
                let (mut lo, mut hi) = (0u32, best.dials);
                if fits(f64::from(hi)) {
                    lo = hi;
                }
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if fits(f64::from(mid)) {
                        lo = mid
                    } else {
                        hi = mid
                    }
                }
                lo
            };
            if k < best.dials || (k == best.dials && margin - f64::from(k) * a < best.spare) {
                best = Plan {
                    dials: k,
                    binding_s: tau,
                    spare: margin - f64::from(k) * a,
                };
            }
            if best.dials == 0 {
                break;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stats(live: f64) -> LiveStats {
        let mut s = LiveStats::default();
        let every = (1.0 / live).round() as usize;
        for i in 0..6000 {
            if i % every == 0 {
                s.answered(Duration::from_secs(9 + (i % 5) as u64));
            } else {
                s.unanswered(Duration::from_secs(if i % 3 == 0 { 2 } else { 25 }));
            }
            if i % 10 == 0 {
                s.talked(Duration::from_secs(80 + (i % 21) as u64));
            }
        }
        s.refresh();
        s
    }

    #[test]
    fn idle_operators_get_calls_in_proportion_to_the_answer_rate() {
        let s = stats(0.25);
        let agents = [Agent::Ready; 10];
        let plan = Planner::plan(
            &Snapshot {
                agents: &agents,
                ringing: &[],
                waiting: 0,
                wrap_s: 10.0,
                grace_s: 0.0,
            },
            &s,
            0.0,
            100,
        );
        // 10 free operators, one call in four answered: about 40 calls.
        assert!((30..=45).contains(&plan.dials), "{plan:?}");
        let careful = Planner::plan(
            &Snapshot {
                agents: &agents,
                ringing: &[],
                waiting: 0,
                wrap_s: 10.0,
                grace_s: 0.0,
            },
            &s,
            2.0,
            100,
        );
        assert!(careful.dials < plan.dials, "{careful:?}");
    }

    #[test]
    fn calls_already_ringing_count() {
        let s = stats(0.25);
        let agents = [Agent::Ready; 10];
        let ringing = [2.0; 40];
        let plan = Planner::plan(
            &Snapshot {
                agents: &agents,
                ringing: &ringing,
                waiting: 0,
                wrap_s: 10.0,
                grace_s: 0.0,
            },
            &s,
            0.0,
            100,
        );
        assert!(plan.dials <= 3, "{plan:?}");
    }

    #[test]
    fn busy_operators_about_to_finish_are_dialled_for() {
        let s = stats(0.25);
        let just_started = [Agent::OnCall { elapsed: 1.0 }; 10];
        let ending = [Agent::OnCall { elapsed: 150.0 }; 10];
        let wrapping = [Agent::WrapUp { left: 3.0 }; 10];
        let plan = |agents: &[Agent]| {
            Planner::plan(
                &Snapshot {
                    agents,
                    ringing: &[],
                    waiting: 0,
                    wrap_s: 2.0,
                    grace_s: 0.0,
                },
                &s,
                0.5,
                100,
            )
            .dials
        };
        assert_eq!(plan(&just_started), 0);
        assert!(plan(&ending) > plan(&just_started));
        assert!(plan(&wrapping) >= 20, "{}", plan(&wrapping));
    }

    #[test]
    fn never_more_than_allowed() {
        let s = stats(0.1);
        let agents = [Agent::Ready; 50];
        let plan = Planner::plan(
            &Snapshot {
                agents: &agents,
                ringing: &[],
                waiting: 0,
                wrap_s: 10.0,
                grace_s: 0.0,
            },
            &s,
            -1.0,
            30,
        );
        assert_eq!(plan.dials, 30);
        assert_eq!(
            Planner::plan(
                &Snapshot {
                    agents: &[],
                    ringing: &[],
                    waiting: 0,
                    wrap_s: 10.0,
                    grace_s: 0.0
                },
                &s,
                0.0,
                30
            )
            .dials,
            0
        );
    }
}
