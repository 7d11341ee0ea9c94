//! Scenario tests of inbound queues: spreading callers over operators, announcements and
//! estimated waits, a ring that is not picked up, callers who hang up or wait too long, and
//! blending with a campaign that dials ahead of operators.

use std::collections::BTreeMap;
use std::time::Duration;

use super::lead::LeadState;
use super::*;
use crate::acd::{Distribution, OperatorId, OperatorState, QueueId, QueuePolicy};
use crate::pacing::{PacingMode, PacingPolicy};
use crate::time::Timestamp;

const Q: QueueId = QueueId(7);

struct Desk {
    s: Scheduler,
    now: Timestamp,
    next_call: u64,
    actions: Vec<Action>,
}

impl Desk {
    fn new(policy: QueuePolicy, operators: u32) -> Desk {
        Desk::blended(policy, operators, operators, PacingMode::Progressive)
    }

    /// `operators` take the campaign; the first `serving` of them serve the queue too.
    fn blended(policy: QueuePolicy, operators: u32, serving: u32, mode: PacingMode) -> Desk {
        let mut s = Scheduler::new();
        let now = Timestamp::parse_rfc3339("2026-12-01T09:00:00Z").unwrap();
        let campaign = CampaignPolicy {
            mode,
            pacing: PacingPolicy {
                power_ratio: 2.0,
                ..PacingPolicy::default()
            },
            ..CampaignPolicy::default()
        };
        s.handle(
            now,
            Event::CampaignSaved {
                campaign: CampaignId(1),
                policy: Box::new(campaign),
            },
        )
        .unwrap();
        s.handle(
            now,
            Event::QueueSaved {
                queue: Q,
                policy: Box::new(policy),
            },
        )
        .unwrap();
        let mut d = Desk {
            s,
            now,
            next_call: 1,
            actions: Vec::new(),
        };
        for op in 1..=operators {
            let operator = OperatorId(op);
            d.event(Event::OperatorLogin {
                operator,
                campaigns: vec![CampaignId(1)],
            });
            if op <= serving {
                d.event(Event::OperatorQueues {
                    operator,
                    queues: vec![Q],
                });
            }
            d.event(Event::OperatorReady { operator });
        }
        d.actions.clear();
        d
    }

    fn event(&mut self, e: Event) {
        self.s.handle(self.now, e).unwrap();
        self.actions
            .extend(std::iter::from_fn(|| self.s.poll_action()));
    }

    fn advance(&mut self, ms: i64) {
        let end = self.now.plus_millis(ms);
        while let Some(w) = self.s.poll_timeout().filter(|w| w.at <= end) {
            self.now = self.now.max(w.at);
            self.event(Event::Tick);
        }
        self.now = end;
        self.event(Event::Tick);
    }

    fn call(&mut self) -> AttemptId {
        let call = AttemptId::inbound(self.next_call);
        self.next_call += 1;
        self.event(Event::InboundQueued { call, queue: Q });
        call
    }

    /// Bridges given out since the last look: (call, operator).
    fn bridges(&mut self) -> Vec<(AttemptId, OperatorId)> {
        let mut out = Vec::new();
        self.actions.retain(|a| match a {
            Action::Bridge { attempt, operator } => {
                out.push((*attempt, *operator));
                false
            }
            _ => true,
        });
        out
    }

    fn figures(&self) -> crate::acd::QueueFigures {
        self.s.queue_figures(Q).unwrap()
    }
}

/// Callers keep coming (more than operators); each talk lasts 60 s.
fn spread(distribution: Distribution) -> BTreeMap<OperatorId, u32> {
    let mut d = Desk::new(
        QueuePolicy {
            distribution,
            max_wait: Duration::from_secs(3600),
            ..QueuePolicy::default()
        },
        3,
    );
    let mut talking: Vec<(Timestamp, AttemptId)> = Vec::new();
    let mut taken = BTreeMap::new();
    for _ in 0..30 {
        d.call();
    }
    for _ in 0..2000 {
        for (call, op) in d.bridges() {
            *taken.entry(op).or_insert(0) += 1;
            talking.push((d.now.plus_millis(60_000), call));
        }
        talking.sort();
        let Some(&(end, call)) = talking.first() else {
            if d.figures().waiting == 0 {
                break;
            }
            // Operators in wrap-up.
            d.advance(1_000);
            continue;
        };
        talking.remove(0);
        d.advance(end.millis() - d.now.millis());
        d.event(Event::InboundEnded { call });
    }
    assert_eq!(taken.values().sum::<u32>(), 30, "{taken:?}");
    taken
}

#[test]
fn callers_are_spread_evenly_by_every_distribution() {
    for distribution in [
        Distribution::LongestIdle,
        Distribution::RoundRobin,
        Distribution::FewestCalls,
    ] {
        let taken = spread(distribution);
        assert_eq!(taken.len(), 3, "{distribution:?}: {taken:?}");
        assert!(
            taken.values().all(|&n| n == 10),
            "{distribution:?}: {taken:?}"
        );
    }
}

#[test]
fn round_robin_takes_operators_in_turn_even_when_all_are_idle() {
    let mut d = Desk::new(
        QueuePolicy {
            distribution: Distribution::RoundRobin,
            ..QueuePolicy::default()
        },
        3,
    );
    let mut order = Vec::new();
    for _ in 0..6 {
        let call = d.call();
        let b = d.bridges();
        order.push(b[0].1.0);
        d.event(Event::InboundEnded { call });
        d.advance(10_000);
    }
    assert_eq!(order, vec![1, 2, 3, 1, 2, 3]);
}

#[test]
fn a_waiting_caller_hears_position_and_wait_then_gets_the_first_free_operator() {
    let policy = QueuePolicy {
        handle_time: Duration::from_secs(120),
        wrap_up: Duration::from_secs(5),
        announce_every: Duration::from_secs(30),
        ..QueuePolicy::default()
    };
    let mut d = Desk::new(policy, 1);
    let first = d.call();
    assert_eq!(d.bridges().len(), 1);
    let second = d.call();
    let third = d.call();
    let announced: Vec<(AttemptId, u32, u64)> = d
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::QueueAnnounce {
                call,
                position,
                wait_estimate_ms,
            } => Some((*call, *position, *wait_estimate_ms)),
            _ => None,
        })
        .collect();
    // One operator, on a call that just began: free after one handle time and wrap-up, then
    // again one more later.
    assert_eq!(announced, vec![(second, 1, 125_000), (third, 2, 250_000)]);
    d.actions.clear();
    // 30 s on: announced again, 30 s less to wait.
    d.advance(30_000);
    let again: Vec<u64> = d
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::QueueAnnounce {
                call,
                wait_estimate_ms,
                ..
            } if *call == second => Some(*wait_estimate_ms),
            _ => None,
        })
        .collect();
    assert_eq!(again, vec![95_000]);
    let f = d.figures();
    assert_eq!((f.waiting, f.longest_wait_ms), (2, 30_000));
    // The first call ends; after the wrap-up the operator takes the one waiting longest.
    d.event(Event::InboundEnded { call: first });
    assert!(d.bridges().is_empty(), "wrap-up first");
    d.advance(5_000);
    assert_eq!(d.bridges(), vec![(second, OperatorId(1))]);
    assert_eq!(d.figures().waiting, 1);
}

#[test]
fn an_operator_who_does_not_pick_up_is_paused_and_the_caller_goes_to_the_next() {
    let mut d = Desk::new(QueuePolicy::default(), 2);
    let call = d.call();
    let (c, first) = d.bridges()[0];
    assert_eq!(c, call);
    d.event(Event::BridgeFailed { attempt: call });
    let (_, second) = d.bridges()[0];
    assert_ne!(first, second);
    assert_eq!(d.s.operators_in(OperatorState::Paused), 1);
    // Nobody else: the caller waits at the head of the line.
    d.event(Event::BridgeFailed { attempt: call });
    assert!(d.bridges().is_empty());
    assert_eq!(d.figures().waiting, 1);
    assert_eq!(d.figures().answered, 0);
    d.event(Event::OperatorReady { operator: first });
    assert_eq!(d.bridges(), vec![(call, first)]);
}

#[test]
fn a_caller_who_hangs_up_while_waiting_is_a_missed_call() {
    let mut d = Desk::new(QueuePolicy::default(), 1);
    let busy = d.call();
    let gone = d.call();
    d.bridges();
    d.advance(12_000);
    d.event(Event::InboundEnded { call: gone });
    assert!(d.actions.iter().any(|a| matches!(a,
        Action::QueueAbandoned { call, waited_ms: 12_000, .. } if *call == gone)));
    let f = d.figures();
    assert_eq!((f.waiting, f.abandoned, f.answered), (0, 1, 1));
    assert_eq!(f.service_level, 0.5);
    d.event(Event::InboundEnded { call: busy });
    d.advance(10_000);
    assert!(d.bridges().is_empty());
}

#[test]
fn a_caller_who_waits_the_longest_allowed_leaves_the_line() {
    let mut d = Desk::new(
        QueuePolicy {
            max_wait: Duration::from_secs(70),
            announce_every: Duration::from_secs(30),
            ..QueuePolicy::default()
        },
        1,
    );
    let busy = d.call();
    let waiting = d.call();
    d.bridges();
    d.advance(69_000);
    let announcements = d
        .actions
        .iter()
        .filter(|a| matches!(a, Action::QueueAnnounce { .. }))
        .count();
    assert_eq!(announcements, 3, "at 0, 30 and 60 s");
    assert!(
        !d.actions
            .iter()
            .any(|a| matches!(a, Action::QueueTimeout { .. }))
    );
    d.advance(1_000);
    assert!(d.actions.iter().any(|a| matches!(a,
        Action::QueueTimeout { call, waited_ms: 70_000, .. } if *call == waiting)));
    // Out of line: the free operator does not get it; its end is no abandon.
    d.event(Event::InboundEnded { call: busy });
    d.advance(10_000);
    assert!(d.bridges().is_empty());
    d.event(Event::InboundEnded { call: waiting });
    let f = d.figures();
    assert_eq!((f.timed_out, f.abandoned, f.waiting), (1, 0, 0));
}

#[test]
fn inbound_callers_come_before_outbound_work_and_hold_back_paced_dialling() {
    let dials_with = |hold_back_outbound_at: u32| {
        let mut d = Desk::blended(
            QueuePolicy {
                hold_back_outbound_at,
                ..QueuePolicy::default()
            },
            3,
            2,
            PacingMode::Power,
        );
        // The two operators who serve the queue on inbound calls, one caller waiting; the
        // third takes only the campaign.
        d.call();
        d.call();
        d.call();
        for id in 1..=20u64 {
            let phone = format!("+749512{id:05}");
            d.event(Event::LeadAdded(Box::new(NewLead::new(
                id, 1, &phone, d.now,
            ))));
        }
        d.advance(3_000);
        d.actions
            .iter()
            .filter(|a| matches!(a, Action::Dial { .. }))
            .count()
    };
    assert_eq!(dials_with(1), 0, "callers wait: no calls placed ahead");
    assert!(
        dials_with(0) > 0,
        "without the threshold the campaign dials"
    );
}

#[test]
fn a_freed_operator_takes_the_waiting_caller_before_a_new_outbound_call() {
    let mut d = Desk::new(QueuePolicy::default(), 1);
    let first = d.call();
    let second = d.call();
    d.bridges();
    d.event(Event::LeadAdded(Box::new(NewLead::new(
        1,
        1,
        "+74951200001",
        d.now,
    ))));
    d.event(Event::InboundEnded { call: first });
    d.advance(6_000);
    assert_eq!(d.bridges(), vec![(second, OperatorId(1))]);
    assert!(!d.actions.iter().any(|a| matches!(a, Action::Dial { .. })));
}

/// A scheduler with one pickup-reminder campaign (3) holding `lead`.
fn reminders(now: Timestamp, lead: NewLead) -> Scheduler {
    let mut s = Scheduler::new();
    let policy = CampaignPolicy {
        kind: CampaignKind::PickupReminder,
        ..CampaignPolicy::default()
    };
    s.handle(
        now,
        Event::CampaignSaved {
            campaign: CampaignId(3),
            policy: Box::new(policy),
        },
    )
    .unwrap();
    s.handle(now, Event::LeadAdded(Box::new(lead))).unwrap();
    s
}

#[test]
fn pickup_reminders_call_daily_without_operators_until_the_deadline() {
    let mut now = Timestamp::parse_rfc3339("2026-12-01T09:00:00Z").unwrap();
    let mut lead = NewLead::new(1, 3, "+74951234501", now);
    // Kept at the pickup point for two and a half days.
    lead.until = Some(now.plus(Duration::from_secs(60 * 3600)));
    let mut s = reminders(now, lead);
    let mut heard = 0;
    for _day in 0..5 {
        s.handle(now, Event::Tick).unwrap();
        let actions: Vec<Action> = std::iter::from_fn(|| s.poll_action()).collect();
        let Some(attempt) = actions.iter().find_map(|a| match a {
            Action::Dial {
                attempt, operator, ..
            } => {
                assert_eq!(*operator, None, "no operator for a bot's call");
                Some(*attempt)
            }
            _ => None,
        }) else {
            break;
        };
        s.handle(now, Event::AttemptAnswered { attempt }).unwrap();
        let said: Vec<Action> = std::iter::from_fn(|| s.poll_action()).collect();
        assert!(
            said.iter().any(|a| matches!(
                a,
                Action::Remind {
                    lead: LeadId(1),
                    ..
                }
            )),
            "{said:?}"
        );
        assert!(!said.iter().any(|a| matches!(a, Action::Bridge { .. })));
        now = now.plus(Duration::from_secs(30));
        s.handle(
            now,
            Event::AttemptFinished {
                attempt,
                outcome: Outcome::Contact,
            },
        )
        .unwrap();
        heard += 1;
        let view = s.lead(LeadId(1)).unwrap();
        if view.state.is_final() {
            assert_eq!(view.state, LeadState::Exhausted, "the deadline passed");
            break;
        }
        assert_eq!(view.due, Some(now.plus(Duration::from_secs(24 * 3600))));
        now = view.due.unwrap();
    }
    // Day 1, day 2, day 3 (the deadline falls before day 4's call).
    assert_eq!(heard, 3);
}

#[test]
fn a_collected_parcel_is_not_reminded_again() {
    let now = Timestamp::parse_rfc3339("2026-12-01T09:00:00Z").unwrap();
    let mut s = reminders(now, NewLead::new(1, 3, "+74951234501", now));
    let dial = std::iter::from_fn(|| s.poll_action()).find_map(|a| match a {
        Action::Dial { attempt, .. } => Some(attempt),
        _ => None,
    });
    let attempt = dial.expect("a reminder is dialled");
    s.handle(now, Event::AttemptAnswered { attempt }).unwrap();
    s.handle(now, Event::LeadCancelled { lead: LeadId(1) })
        .unwrap();
    s.handle(
        now,
        Event::AttemptFinished {
            attempt,
            outcome: Outcome::Contact,
        },
    )
    .unwrap();
    assert!(s.lead(LeadId(1)).is_none(), "closed and forgotten");
}
