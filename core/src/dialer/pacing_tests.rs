//! Scenario tests of the paced modes: predictive, power, preview, and what happens to an
//! answered call that finds no operator.

use std::time::Duration;

use super::*;
use crate::acd::{OperatorId, OperatorState};
use crate::pacing::{PacingMode, PacingPolicy};
use crate::time::Timestamp;

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

struct Floor {
    s: Scheduler,
    now: Timestamp,
    next_lead: u64,
    dials: Vec<Action>,
    others: Vec<Action>,
}

impl Floor {
    fn new(mode: PacingMode, operators: u32, pacing: PacingPolicy) -> Floor {
        let mut s = Scheduler::new();
        let now = at("2026-12-01T09:00:00Z");
        let policy = CampaignPolicy {
            mode,
            pacing,
            ..CampaignPolicy::default()
        };
        s.handle(
            now,
            Event::CampaignSaved {
                campaign: CampaignId(1),
                policy: Box::new(policy),
            },
        )
        .unwrap();
        let mut f = Floor {
            s,
            now,
            next_lead: 1,
            dials: Vec::new(),
            others: Vec::new(),
        };
        for op in 1..=operators {
            f.s.handle(
                now,
                Event::OperatorLogin {
                    operator: OperatorId(op),
                    campaigns: vec![CampaignId(1)],
                },
            )
            .unwrap();
            f.s.handle(
                now,
                Event::OperatorReady {
                    operator: OperatorId(op),
                },
            )
            .unwrap();
        }
        f
    }

    fn leads(&mut self, n: u64) {
        for _ in 0..n {
            let id = self.next_lead;
            self.next_lead += 1;
            let phone = format!("+749512{:05}", id);
            self.s
                .handle(
                    self.now,
                    Event::LeadAdded(Box::new(NewLead::new(id, 1, &phone, self.now))),
                )
                .unwrap();
        }
    }

    fn drain(&mut self) {
        while let Some(a) = self.s.poll_action() {
            match a {
                Action::Dial { .. } => self.dials.push(a),
                other => self.others.push(other),
            }
        }
    }

    fn tick(&mut self, ms: i64) {
        self.now = self.now.plus_millis(ms);
        self.s.handle(self.now, Event::Tick).unwrap();
        self.drain();
    }

    fn take_dials(&mut self) -> Vec<(AttemptId, Option<OperatorId>)> {
        self.dials
            .drain(..)
            .map(|a| match a {
                Action::Dial {
                    attempt, operator, ..
                } => (attempt, operator),
                _ => unreachable!("only dials are kept here"),
            })
            .collect()
    }

    fn event(&mut self, e: Event) {
        self.s.handle(self.now, e).unwrap();
        self.drain();
    }

    /// Teaches the campaign a day's worth of calls: a quarter answered after 10 s, 90 s talks.
    fn warm_up(&mut self) {
        let mut n = 0;
        while self.s.pacing_mode(CampaignId(1)) != Some(PacingMode::Predictive) && n < 400 {
            n += 1;
            self.leads(1);
            self.tick(1000);
            for (attempt, _) in self.take_dials() {
                if n % 4 == 0 {
                    self.tick(10_000);
                    self.event(Event::AttemptAnswered { attempt });
                    self.tick(90_000);
                    self.event(Event::AttemptFinished {
                        attempt,
                        outcome: Outcome::Contact,
                    });
                } else {
                    self.tick(3_000);
                    self.event(Event::AttemptFinished {
                        attempt,
                        outcome: Outcome::Busy,
                    });
                }
            }
            self.tick(11_000);
        }
        assert_eq!(
            self.s.pacing_mode(CampaignId(1)),
            Some(PacingMode::Predictive),
            "after {n} calls"
        );
        // Calls placed while it was still warming up end unanswered.
        for (attempt, _) in self.take_dials() {
            self.event(Event::AttemptFinished {
                attempt,
                outcome: Outcome::NoAnswer,
            });
        }
        self.dials.clear();
        self.others.clear();
    }
}

#[test]
fn predictive_starts_progressive_then_dials_ahead_of_operators() {
    let mut f = Floor::new(PacingMode::Predictive, 10, PacingPolicy::default());
    assert_eq!(f.s.pacing_mode(CampaignId(1)), Some(PacingMode::Predictive));
    f.leads(50);
    f.tick(1000);
    // Warming up: progressive, one call per operator, each for an operator.
    let first = f.take_dials();
    assert_eq!(first.len(), 10);
    assert!(first.iter().all(|d| d.1.is_some()));
    assert_eq!(
        f.s.pacing_mode(CampaignId(1)),
        Some(PacingMode::Progressive)
    );
    for (attempt, _) in first {
        f.event(Event::AttemptFinished {
            attempt,
            outcome: Outcome::Busy,
        });
    }
    f.warm_up();
    // Learned: a quarter of calls answered. With ten operators ready it places several calls
    // per operator, none of them bound to an operator.
    f.leads(200);
    f.tick(1000);
    let dials = f.take_dials();
    assert!(
        dials.len() > 10,
        "{} calls for 10 ready operators: {dials:?}",
        dials.len()
    );
    assert!(
        dials.iter().all(|d| d.1.is_none()),
        "{dials:?} mode {:?}",
        f.s.pacing_mode(CampaignId(1))
    );
    // Never more than max_ratio calls per operator at work.
    assert!(dials.len() <= 50);
}

#[test]
fn an_answered_call_waits_two_seconds_for_an_operator_then_is_abandoned_with_an_audit_record() {
    let mut f = Floor::new(
        PacingMode::Power,
        1,
        PacingPolicy {
            power_ratio: 3.0,
            ..PacingPolicy::default()
        },
    );
    f.leads(10);
    f.tick(1000);
    let dials = f.take_dials();
    assert_eq!(dials.len(), 3, "power: 3 calls for the one ready operator");
    let (a, b, c) = (dials[0].0, dials[1].0, dials[2].0);
    f.event(Event::AttemptAnswered { attempt: a });
    assert!(
        f.others
            .iter()
            .any(|x| matches!(x, Action::Bridge { attempt, .. } if *attempt == a))
    );
    // The second answer finds nobody: it waits...
    f.others.clear();
    f.event(Event::AttemptAnswered { attempt: b });
    assert!(
        f.others
            .iter()
            .all(|x| !matches!(x, Action::Bridge { .. } | Action::Abandon { .. }))
    );
    assert!(f.s.poll_timeout().unwrap().at <= f.now.plus_millis(2000));
    // ...and nobody frees up (the operator is talking): after 2 s it is abandoned.
    f.tick(1999);
    assert!(!f.others.iter().any(|x| matches!(x, Action::Abandon { .. })));
    f.tick(1);
    let audit = f
        .others
        .iter()
        .find_map(|x| match x {
            Action::Abandon { attempt, audit } if *attempt == b => Some(audit.clone()),
            _ => None,
        })
        .expect("abandoned after 2 s");
    assert_eq!(audit.waited_ms, 2000);
    assert_eq!(
        (audit.answered_in_window, audit.abandoned_in_window),
        (2, 1)
    );
    assert_eq!(f.s.abandon_window(CampaignId(1)), Some((2, 1, 0.5)));
    // The third is answered while the operator talks; the operator ends the call 1 s later and
    // wraps up; nobody is free: abandoned too. Then the lead is retried later.
    f.event(Event::AttemptAnswered { attempt: c });
    f.event(Event::AttemptFinished {
        attempt: b,
        outcome: Outcome::Abandoned,
    });
    assert_eq!(f.s.stats().abandoned, 1);
}

#[test]
fn an_operator_freed_within_the_grace_takes_the_waiting_call() {
    let mut f = Floor::new(
        PacingMode::Power,
        2,
        PacingPolicy {
            power_ratio: 2.0,
            ..PacingPolicy::default()
        },
    );
    f.leads(10);
    f.tick(1000);
    let dials = f.take_dials();
    assert_eq!(dials.len(), 4);
    f.event(Event::AttemptAnswered {
        attempt: dials[0].0,
    });
    f.event(Event::AttemptAnswered {
        attempt: dials[1].0,
    });
    f.others.clear();
    f.event(Event::AttemptAnswered {
        attempt: dials[2].0,
    });
    // Waiting; an operator ends their call and (instead of wrapping up) says ready at once.
    f.tick(500);
    f.event(Event::AttemptFinished {
        attempt: dials[0].0,
        outcome: Outcome::Contact,
    });
    f.event(Event::OperatorReady {
        operator: OperatorId(1),
    });
    assert!(
        f.others.iter().any(|x| matches!(x, Action::Bridge { attempt, operator } if *attempt == dials[2].0 && *operator == OperatorId(1))),
        "{:?}",
        f.others
    );
    f.tick(3000);
    assert!(!f.others.iter().any(|x| matches!(x, Action::Abandon { .. })));
}

#[test]
fn the_abandon_lockout_holds_the_number_back() {
    let pacing = PacingPolicy {
        power_ratio: 2.0,
        abandon_lockout: Duration::from_secs(72 * 3600),
        ..PacingPolicy::default()
    };
    let mut f = Floor::new(PacingMode::Power, 1, pacing);
    f.leads(2);
    f.tick(1000);
    let dials = f.take_dials();
    f.event(Event::AttemptAnswered {
        attempt: dials[0].0,
    });
    f.event(Event::AttemptAnswered {
        attempt: dials[1].0,
    });
    f.tick(2000);
    f.event(Event::AttemptFinished {
        attempt: dials[1].0,
        outcome: Outcome::Abandoned,
    });
    let view = f.s.lead(LeadId(2)).unwrap();
    assert_eq!(view.due, Some(f.now.plus(Duration::from_secs(72 * 3600))));
}

#[test]
fn small_teams_are_dialled_progressively() {
    let mut f = Floor::new(
        PacingMode::Predictive,
        2,
        PacingPolicy {
            warmup_calls: 0,
            ..PacingPolicy::default()
        },
    );
    f.leads(20);
    f.tick(1000);
    let dials = f.take_dials();
    assert_eq!(dials.len(), 2);
    assert!(dials.iter().all(|d| d.1.is_some()));
    assert_eq!(
        f.s.pacing_mode(CampaignId(1)),
        Some(PacingMode::Progressive)
    );
}

#[test]
fn preview_shows_the_lead_then_dials_it_for_the_operator() {
    let mut f = Floor::new(PacingMode::Preview, 1, PacingPolicy::default());
    f.leads(2);
    f.tick(1000);
    assert!(f.dials.is_empty());
    let shown = f.others.iter().find_map(|a| match a {
        Action::Preview { operator, lead, .. } => Some((*operator, *lead)),
        _ => None,
    });
    assert_eq!(shown, Some((OperatorId(1), LeadId(1))));
    assert_eq!(f.s.operators_in(OperatorState::Reserved), 1);
    // Skip: the lead goes back, the next one is shown.
    f.others.clear();
    f.event(Event::PreviewSkip {
        operator: OperatorId(1),
    });
    let shown: Vec<LeadId> = f
        .others
        .iter()
        .filter_map(|a| match a {
            Action::Preview { lead, .. } => Some(*lead),
            _ => None,
        })
        .collect();
    assert_eq!(shown.len(), 1);
    f.event(Event::PreviewDial {
        operator: OperatorId(1),
    });
    let dials = f.take_dials();
    assert_eq!(dials.len(), 1);
    assert_eq!(dials[0].1, Some(OperatorId(1)));
    assert!(matches!(
        f.s.handle(
            f.now,
            Event::PreviewDial {
                operator: OperatorId(1)
            }
        ),
        Err(EventError::NothingPreviewed(_))
    ));
}

#[test]
fn a_campaign_switches_mode_while_running() {
    let mut f = Floor::new(PacingMode::Progressive, 2, PacingPolicy::default());
    f.leads(20);
    f.tick(1000);
    assert_eq!(f.take_dials().len(), 2);
    let power = CampaignPolicy {
        mode: PacingMode::Power,
        pacing: PacingPolicy {
            power_ratio: 3.0,
            ..PacingPolicy::default()
        },
        ..CampaignPolicy::default()
    };
    f.event(Event::CampaignSaved {
        campaign: CampaignId(1),
        policy: Box::new(power),
    });
    // Both operators are reserved by progressive calls: power mode places nothing more yet.
    f.tick(1000);
    assert_eq!(f.s.pacing_mode(CampaignId(1)), Some(PacingMode::Power));
}

/// A power campaign's calls over a few hours, over the abandon cap: each round the one
/// operator takes the first answer; every fifteenth round a second answer finds nobody and is
/// abandoned. Returns what the store would have kept: per hour, connected and abandoned calls.
fn over_the_cap(f: &mut Floor) -> Vec<crate::pacing::PastCalls> {
    let mut past: Vec<crate::pacing::PastCalls> = Vec::new();
    let mut count = |at: Timestamp, abandoned: bool| {
        let hour = Timestamp::from_millis(at.millis().div_euclid(3_600_000) * 3_600_000);
        if past.last().is_none_or(|p| p.at != hour) {
            past.push(crate::pacing::PastCalls {
                at: hour,
                ..Default::default()
            });
        }
        let p = past.last_mut().expect("pushed");
        if abandoned {
            p.abandoned += 1;
        } else {
            p.connected += 1;
        }
    };
    for round in 0.. {
        if f.s
            .abandon_window(CampaignId(1))
            .is_some_and(|w| w.0 >= 1000)
        {
            break;
        }
        f.leads(2);
        f.tick(1000);
        let dials = f.take_dials();
        assert_eq!(
            dials.len(),
            2,
            "round {round}: power 2 for the ready operator"
        );
        let (a, b) = (dials[0].0, dials[1].0);
        f.event(Event::AttemptAnswered { attempt: a });
        count(f.now, false);
        if round % 15 == 0 {
            f.event(Event::AttemptAnswered { attempt: b });
            f.tick(2000);
            count(f.now, true);
            f.event(Event::AttemptFinished {
                attempt: b,
                outcome: Outcome::Abandoned,
            });
        } else {
            f.event(Event::AttemptFinished {
                attempt: b,
                outcome: Outcome::Busy,
            });
        }
        f.tick(1000);
        f.event(Event::AttemptFinished {
            attempt: a,
            outcome: Outcome::Contact,
        });
        f.tick(11_000);
        f.others.clear();
    }
    past
}

#[test]
fn a_restored_abandon_window_holds_the_pacer_back_like_the_live_one() {
    let pacing = PacingPolicy {
        power_ratio: 2.0,
        ..PacingPolicy::default()
    };
    let mut live = Floor::new(PacingMode::Power, 1, pacing.clone());
    let past = over_the_cap(&mut live);
    let window = live.s.abandon_window(CampaignId(1)).unwrap();
    assert!(window.0 >= 1000 && window.2 > 0.03, "{window:?}");

    // After a restart: the same campaign, its history read back from the store.
    let mut restarted = Floor::new(PacingMode::Power, 1, pacing.clone());
    restarted.now = live.now;
    restarted.event(Event::AbandonHistoryRestored {
        campaign: CampaignId(1),
        history: past,
    });
    assert_eq!(restarted.s.abandon_window(CampaignId(1)), Some(window));
    // And one that forgot: it would dial ahead again.
    let mut forgot = Floor::new(PacingMode::Power, 1, pacing);
    forgot.now = live.now;

    // (The live campaign dialled its one call as soon as its operator was free again.)
    for f in [&mut live, &mut restarted, &mut forgot] {
        f.leads(4);
        f.tick(1000);
    }
    let (l, r, n) = (
        live.take_dials(),
        restarted.take_dials(),
        forgot.take_dials(),
    );
    assert_eq!(
        live.s.pacing_mode(CampaignId(1)),
        Some(PacingMode::Progressive)
    );
    assert_eq!(
        restarted.s.pacing_mode(CampaignId(1)),
        Some(PacingMode::Progressive)
    );
    assert_eq!(forgot.s.pacing_mode(CampaignId(1)), Some(PacingMode::Power));
    // At the cap: one call, for the operator, in both; two unbound calls without the history.
    assert_eq!(l.len(), 1);
    assert_eq!(r.len(), 1);
    assert!(l[0].1.is_some() && r[0].1.is_some());
    assert_eq!(n.len(), 2);
    assert!(n.iter().all(|d| d.1.is_none()));
}

#[test]
fn the_history_of_an_unknown_campaign_is_refused() {
    let mut s = Scheduler::new();
    let e = s.handle(
        at("2026-12-01T09:00:00Z"),
        Event::AbandonHistoryRestored {
            campaign: CampaignId(9),
            history: Vec::new(),
        },
    );
    assert_eq!(e, Err(EventError::UnknownCampaign(CampaignId(9))));
}
