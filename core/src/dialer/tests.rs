//! Scenario tests of the scheduler, each a short story told through events.

use std::time::Duration;

use super::*;
use crate::acd::{OperatorId, OperatorState};
use crate::dialer::calendar::{QuietHours, TimeOfDay};
use crate::dialer::event::CampaignRun;
use crate::time::Timestamp;

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// 12:00 Moscow on a Tuesday: open everywhere from Kaliningrad to Krasnoyarsk.
const NOON_MSK: &str = "2026-12-01T09:00:00Z";

struct World {
    s: Scheduler,
    now: Timestamp,
    next_lead: u64,
    /// Actions taken out while sleeping, handed out by the next `actions()`.
    backlog: Vec<Action>,
}

impl World {
    fn new(policy: CampaignPolicy) -> World {
        let mut s = Scheduler::new();
        let now = at(NOON_MSK);
        s.handle(
            now,
            Event::CampaignSaved {
                campaign: CampaignId(1),
                policy: Box::new(policy),
            },
        )
        .unwrap();
        World {
            s,
            now,
            next_lead: 1,
            backlog: Vec::new(),
        }
    }

    fn operators(&mut self, n: u32) {
        for op in 1..=n {
            self.s
                .handle(
                    self.now,
                    Event::OperatorLogin {
                        operator: OperatorId(op),
                        campaigns: vec![CampaignId(1)],
                    },
                )
                .unwrap();
            self.s
                .handle(
                    self.now,
                    Event::OperatorReady {
                        operator: OperatorId(op),
                    },
                )
                .unwrap();
        }
    }

    fn lead(&mut self, phone: &str) -> LeadId {
        let id = self.next_lead;
        self.next_lead += 1;
        self.s
            .handle(
                self.now,
                Event::LeadAdded(Box::new(NewLead::new(id, 1, phone, self.now))),
            )
            .unwrap();
        LeadId(id)
    }

    fn tick(&mut self, secs: u64) {
        self.now = self.now.plus(Duration::from_secs(secs));
        self.s.handle(self.now, Event::Tick).unwrap();
    }

    /// Sleeps as the scheduler asks (following its wake-ups, never past `secs`), collecting what
    /// it does; returns the time of the first dial.
    fn sleep_until_dial(&mut self, secs: u64) -> Option<Timestamp> {
        let end = self.now.plus(Duration::from_secs(secs));
        while let Some(wake) = self.s.poll_timeout().filter(|w| w.at <= end) {
            self.now = self.now.max(wake.at);
            self.s.handle(self.now, Event::Tick).unwrap();
            self.backlog
                .extend(std::iter::from_fn(|| self.s.poll_action()));
            if self.s.active_calls() > 0 {
                return Some(self.now);
            }
        }
        None
    }

    fn actions(&mut self) -> Vec<Action> {
        let mut out = std::mem::take(&mut self.backlog);
        out.extend(std::iter::from_fn(|| self.s.poll_action()));
        out
    }

    fn dials(&mut self) -> Vec<(AttemptId, LeadId, u8, u8)> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Dial {
                    attempt,
                    lead,
                    attempt_no,
                    class,
                    ..
                } => Some((attempt, lead, attempt_no, class)),
                _ => None,
            })
            .collect()
    }

    fn finish(&mut self, attempt: AttemptId, outcome: Outcome) {
        self.s
            .handle(self.now, Event::AttemptFinished { attempt, outcome })
            .unwrap();
    }
}

const MOSCOW_1: &str = "+74951234501";
const MOSCOW_2: &str = "+74951234502";
const MOSCOW_3: &str = "+74951234503";

#[test]
fn progressive_dials_one_call_per_free_operator() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(2);
    let l1 = w.lead(MOSCOW_1);
    let l2 = w.lead(MOSCOW_2);
    let l3 = w.lead(MOSCOW_3);
    let d = w.dials();
    assert_eq!(
        d.iter().map(|x| x.1).collect::<Vec<_>>(),
        [l1, l2],
        "oldest first, two operators"
    );
    assert_eq!(w.s.poll_action(), None);
    // Lead 1 is busy: its operator is free again and takes lead 3, not a retry of lead 1.
    w.finish(d[0].0, Outcome::Busy);
    let d2 = w.dials();
    assert_eq!(d2.iter().map(|x| x.1).collect::<Vec<_>>(), [l3]);
    let view = w.s.lead(l1).unwrap();
    assert_eq!(view.state, LeadState::Scheduled);
    assert_eq!(view.due, Some(w.now.plus(Duration::from_secs(600))));
    // The scheduler may wake early (the wheel moving entries down a level), never late.
    assert!(w.s.poll_timeout().unwrap().at <= w.now.plus(Duration::from_secs(600)));
}

#[test]
fn a_busy_lead_is_retried_after_its_backoff_until_attempts_run_out() {
    let mut w = World::new(CampaignPolicy {
        max_attempts: 5,
        ..CampaignPolicy::default()
    });
    w.operators(1);
    let l = w.lead(MOSCOW_1);
    let mut dialled_at = w.now;
    let mut closed = Vec::new();
    for n in 1..=5u8 {
        let d = w.dials();
        assert_eq!(d.len(), 1, "attempt {n}");
        assert_eq!((d[0].1, d[0].2), (l, n));
        w.tick(5);
        w.finish(d[0].0, Outcome::Busy);
        let due = w.s.lead(l).unwrap().due;
        if n < 5 {
            let due = due.unwrap();
            assert_eq!(
                due,
                w.now.plus(
                    CampaignPolicy::default()
                        .backoff
                        .after(Outcome::Busy, n)
                        .unwrap()
                )
            );
            closed.extend(w.actions());
            dialled_at = w.sleep_until_dial(86_400).expect("the retry is dialled");
            assert_eq!(dialled_at, due, "attempt {} dialled when due", n + 1);
        }
    }
    let _ = dialled_at;
    closed.extend(w.actions());
    assert!(
        closed.contains(&Action::LeadClosed {
            lead: l,
            state: LeadState::Exhausted
        }),
        "{closed:?}"
    );
    assert_eq!(w.s.lead(l).unwrap().history.len(), 5);
    assert_eq!(w.s.stats().exhausted, 1);
    assert_eq!(w.sleep_until_dial(7 * 86_400), None);
}

#[test]
fn quiet_hours_hold_a_lead_until_the_callee_s_morning() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    // 13:00 UTC is 23:00 in Vladivostok and 16:00 in Moscow.
    w.now = at("2026-12-01T13:00:00Z");
    let far_east = w.lead("+74232123456");
    let moscow = w.lead(MOSCOW_1);
    let d = w.dials();
    assert_eq!(d.iter().map(|x| x.1).collect::<Vec<_>>(), [moscow]);
    w.finish(d[0].0, Outcome::Contact);
    w.tick(10); // wrap-up ends
    assert!(w.dials().is_empty(), "Vladivostok sleeps");
    assert_eq!(w.s.held_len(), 1);
    let wake = w.s.poll_timeout().unwrap();
    assert_eq!(
        (wake.at, wake.why),
        (at("2026-12-02T00:00:00Z"), TimerKind::QuietHoursEnd)
    );
    w.now = wake.at;
    w.s.handle(w.now, Event::Tick).unwrap();
    let d = w.dials();
    assert_eq!(d.iter().map(|x| x.1).collect::<Vec<_>>(), [far_east]);
    assert_eq!(w.s.lead(far_east).unwrap().tz.name(), "Asia/Vladivostok");
}

#[test]
fn quiet_hours_lifted_from_a_campaign_release_its_held_leads_at_once() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    // 23:00 in Moscow: the lead is held until 10:00.
    w.now = at("2026-12-01T20:00:00Z");
    let moscow = w.lead(MOSCOW_1);
    assert!(w.dials().is_empty(), "Moscow sleeps");
    assert_eq!(w.s.held_len(), 1);
    let policy = CampaignPolicy {
        quiet_hours: QuietHours::none(),
        ..CampaignPolicy::default()
    };
    w.s.handle(
        w.now,
        Event::CampaignSaved {
            campaign: CampaignId(1),
            policy: Box::new(policy),
        },
    )
    .unwrap();
    // Looked at again now, not at the old morning.
    assert!(w.s.poll_timeout().unwrap().at <= w.now);
    w.s.handle(w.now, Event::Tick).unwrap();
    let d = w.dials();
    assert_eq!(d.iter().map(|x| x.1).collect::<Vec<_>>(), [moscow]);
    assert_eq!(w.s.held_len(), 0);
}

#[test]
fn quiet_hours_lengthened_keep_a_held_lead_until_the_new_end() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    w.now = at("2026-12-01T20:00:00Z"); // 23:00 in Moscow
    let moscow = w.lead(MOSCOW_1);
    assert!(w.dials().is_empty());
    let policy = CampaignPolicy {
        quiet_hours: QuietHours {
            start: TimeOfDay::hm(21, 0),
            end: TimeOfDay::hm(11, 0),
        },
        ..CampaignPolicy::default()
    };
    w.s.handle(
        w.now,
        Event::CampaignSaved {
            campaign: CampaignId(1),
            policy: Box::new(policy),
        },
    )
    .unwrap();
    w.s.handle(w.now, Event::Tick).unwrap();
    assert!(w.dials().is_empty(), "still night");
    let wake = w.s.poll_timeout().unwrap();
    assert_eq!(
        (wake.at, wake.why),
        (at("2026-12-02T08:00:00Z"), TimerKind::QuietHoursEnd),
        "11:00 in Moscow"
    );
    w.now = wake.at;
    w.s.handle(w.now, Event::Tick).unwrap();
    assert_eq!(w.dials().iter().map(|x| x.1).collect::<Vec<_>>(), [moscow]);
}

#[test]
fn variant_one_orders_new_one_attempt_callback_redial() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(4);
    let redial = w.lead("+74951234510");
    let callback = w.lead("+74951234511");
    let once = w.lead("+74951234512");
    let d = w.dials();
    assert_eq!(
        d.iter().map(|x| x.1).collect::<Vec<_>>(),
        [redial, callback, once]
    );
    w.finish(d[0].0, Outcome::NoAnswer); // retried in 20 min
    w.s.handle(
        w.now,
        Event::CallbackAgreed {
            lead: callback,
            at: w.now.plus(Duration::from_secs(3 * 3600)),
        },
    )
    .unwrap();
    w.finish(d[1].0, Outcome::Contact);
    w.finish(d[2].0, Outcome::AnsweringMachine); // retried in 2 h
    w.tick(20 * 60 + 10);
    let d = w.dials();
    assert_eq!(
        d.iter().map(|x| (x.1, x.2)).collect::<Vec<_>>(),
        [(redial, 2)]
    );
    w.finish(d[0].0, Outcome::NoAnswer);
    // No channels for a while: everything comes due together, and a new lead arrives.
    w.s.handle(w.now, Event::ChannelLimit { channels: 0 })
        .unwrap();
    w.tick(4 * 3600);
    let fresh = w.lead("+74951234513");
    assert!(w.dials().is_empty());
    w.s.handle(w.now, Event::ChannelLimit { channels: 10 })
        .unwrap();
    let order: Vec<(LeadId, u8)> = w.dials().iter().map(|x| (x.1, x.3)).collect();
    assert_eq!(
        order,
        [
            (fresh, priority::NEW),
            (once, priority::ONE_ATTEMPT),
            (callback, priority::CALLBACK),
            (redial, priority::REDIAL)
        ]
    );
}

#[test]
fn variant_two_dials_fewest_attempts_first() {
    let mut w = World::new(CampaignPolicy {
        priority: PriorityVariant::Two,
        ..CampaignPolicy::default()
    });
    w.operators(2);
    let a = w.lead("+74951234520");
    let b = w.lead("+74951234521");
    let d = w.dials();
    w.finish(d[0].0, Outcome::NoAnswer);
    w.finish(d[1].0, Outcome::NoAnswer);
    w.tick(21 * 60);
    let d = w.dials();
    w.finish(d.iter().find(|x| x.1 == a).unwrap().0, Outcome::NoAnswer); // a: 2 attempts
    w.s.handle(w.now, Event::ChannelLimit { channels: 0 })
        .unwrap();
    w.finish(d.iter().find(|x| x.1 == b).unwrap().0, Outcome::Busy); // b: 2 attempts
    w.tick(6 * 3600);
    let c = w.lead("+74951234522");
    w.s.handle(w.now, Event::ChannelLimit { channels: 10 })
        .unwrap();
    let order: Vec<(LeadId, u8)> = w.dials().iter().map(|x| (x.1, x.3)).collect();
    // Both have two attempts; b's busy retry (20 min) came due before a's no-answer (40 min).
    assert_eq!(order, [(c, 0), (b, 2)]);
}

#[test]
fn a_missed_calls_callback_is_dialled_before_every_waiting_lead_in_both_variants() {
    for priority in [PriorityVariant::One, PriorityVariant::Two] {
        let mut w = World::new(CampaignPolicy {
            priority,
            ..CampaignPolicy::default()
        });
        w.s.handle(w.now, Event::ChannelLimit { channels: 0 })
            .unwrap();
        w.operators(1);
        let waiting: Vec<LeadId> = (0..3).map(|i| w.lead(&format!("+7495123453{i}"))).collect();
        let caller = w.lead("+74951234539");
        w.s.handle(w.now, Event::MissedCallback { lead: caller })
            .unwrap();
        w.s.handle(w.now, Event::ChannelLimit { channels: 1 })
            .unwrap();
        w.tick(1);
        let d = w.dials();
        // The callback's class is the lead's own (a new lead: 0); it is dialled first anyway.
        assert_eq!(
            d.iter().map(|x| (x.1, x.3)).collect::<Vec<_>>(),
            [(caller, 0)],
            "{priority:?}"
        );
        // Only its next attempt: after it, the waiting leads in their order.
        w.finish(d[0].0, Outcome::Contact);
        w.tick(30);
        let d = w.dials();
        assert_eq!(d.iter().map(|x| x.1).collect::<Vec<_>>(), [waiting[0]]);
    }
}

#[test]
fn an_answered_call_goes_to_its_operator_who_wraps_up_then_is_ready() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    let l = w.lead(MOSCOW_1);
    let d = w.dials();
    let attempt = d[0].0;
    w.s.handle(w.now, Event::AttemptAnswered { attempt })
        .unwrap();
    assert_eq!(
        w.actions(),
        [Action::Bridge {
            attempt,
            operator: OperatorId(1)
        }]
    );
    assert_eq!(w.s.operators_in(OperatorState::OnCall), 1);
    w.tick(90);
    w.finish(attempt, Outcome::Contact);
    let a = w.actions();
    assert!(a.contains(&Action::OperatorState {
        operator: OperatorId(1),
        state: OperatorState::WrapUp
    }));
    assert!(a.contains(&Action::LeadClosed {
        lead: l,
        state: LeadState::Done
    }));
    let wake = w.s.poll_timeout().unwrap();
    assert_eq!(
        (wake.at, wake.why),
        (w.now.plus(Duration::from_secs(10)), TimerKind::WrapUpEnd)
    );
    w.tick(10);
    assert_eq!(
        w.actions(),
        [Action::OperatorState {
            operator: OperatorId(1),
            state: OperatorState::Ready
        }]
    );
}

#[test]
fn an_answer_with_no_operator_is_abandoned_and_retried() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    let l = w.lead(MOSCOW_1);
    let attempt = w.dials()[0].0;
    // The operator walked away while it rang: the pause waits for the call, so it is bridged.
    w.s.handle(
        w.now,
        Event::OperatorPaused {
            operator: OperatorId(1),
        },
    )
    .unwrap();
    w.s.handle(w.now, Event::AttemptAnswered { attempt })
        .unwrap();
    assert_eq!(
        w.actions(),
        [Action::Bridge {
            attempt,
            operator: OperatorId(1)
        }]
    );
    w.finish(attempt, Outcome::Contact);
    assert_eq!(w.s.operators_in(OperatorState::Paused), 1);
    // A lead dialled and answered when nobody can take it: abandoned, then retried later.
    let l2 = w.lead(MOSCOW_2);
    w.s.handle(
        w.now,
        Event::OperatorReady {
            operator: OperatorId(1),
        },
    )
    .unwrap();
    let attempt = w.dials()[0].0;
    w.s.handle(
        w.now,
        Event::OperatorLogout {
            operator: OperatorId(1),
        },
    )
    .unwrap();
    w.s.handle(
        w.now,
        Event::AttemptFinished {
            attempt,
            outcome: Outcome::NoAnswer,
        },
    )
    .unwrap();
    assert_eq!(w.s.operators_in(OperatorState::LoggedOut), 1);
    let _ = (l, l2);
}

#[test]
fn callbacks_reopen_a_done_lead_and_count_as_attempts() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    let l = w.lead(MOSCOW_1);
    let a = w.dials()[0].0;
    w.s.handle(w.now, Event::AttemptAnswered { attempt: a })
        .unwrap();
    w.finish(a, Outcome::Contact);
    assert_eq!(w.s.lead(l).unwrap().state, LeadState::Done);
    // The operator enters "call back tomorrow at 15:00" during wrap-up.
    let when = at("2026-12-02T12:00:00Z");
    w.s.handle(w.now, Event::CallbackAgreed { lead: l, at: when })
        .unwrap();
    let v = w.s.lead(l).unwrap();
    assert_eq!(
        (v.state, v.due, v.callback),
        (LeadState::Scheduled, Some(when), true)
    );
    w.now = when;
    w.s.handle(when, Event::Tick).unwrap();
    let d = w.dials();
    assert_eq!(
        d.iter().map(|x| (x.1, x.2, x.3)).collect::<Vec<_>>(),
        [(l, 2, priority::CALLBACK)]
    );
}

#[test]
fn cancelled_leads_are_never_dialled() {
    let mut w = World::new(CampaignPolicy::default());
    let l = w.lead(MOSCOW_1);
    w.s.handle(w.now, Event::LeadCancelled { lead: l }).unwrap();
    assert_eq!(
        w.actions(),
        [Action::LeadClosed {
            lead: l,
            state: LeadState::Cancelled
        }]
    );
    w.operators(1);
    assert!(w.dials().is_empty());
    assert!(matches!(
        w.s.handle(w.now, Event::LeadCancelled { lead: l }),
        Err(EventError::UnknownLead(_))
    ));
}

#[test]
fn invalid_numbers_and_duplicates_are_refused_and_counted() {
    let mut w = World::new(CampaignPolicy::default());
    let bad = w.s.handle(
        w.now,
        Event::LeadAdded(Box::new(NewLead::new(10, 1, "8 (000) 000", w.now))),
    );
    assert!(matches!(bad, Err(EventError::InvalidPhone(_))), "{bad:?}");
    let first = w.lead("8 (916) 123-45-67");
    let dup = w.s.handle(
        w.now,
        Event::LeadAdded(Box::new(NewLead::new(11, 1, "+79161234567", w.now))),
    );
    assert_eq!(
        dup,
        Err(EventError::Duplicate {
            duplicate_of: first
        })
    );
    let unknown = w.s.handle(
        w.now,
        Event::LeadAdded(Box::new(NewLead::new(12, 9, "+79161234567", w.now))),
    );
    assert_eq!(unknown, Err(EventError::UnknownCampaign(CampaignId(9))));
    let stats = w.s.stats();
    assert_eq!((stats.leads_in, stats.invalid, stats.duplicates), (1, 1, 1));
}

#[test]
fn the_channel_limit_caps_calls_in_progress() {
    let mut w = World::new(CampaignPolicy::default());
    w.s.handle(w.now, Event::ChannelLimit { channels: 2 })
        .unwrap();
    w.operators(5);
    for n in 0..5 {
        w.lead(&format!("+7495123450{n}"));
    }
    let d = w.dials();
    assert_eq!(d.len(), 2);
    assert_eq!(w.s.active_calls(), 2);
    w.finish(d[0].0, Outcome::Busy);
    assert_eq!(w.dials().len(), 1);
}

#[test]
fn a_paused_campaign_dials_nothing_until_resumed() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    w.s.handle(
        w.now,
        Event::CampaignRun {
            campaign: CampaignId(1),
            run: CampaignRun::Paused,
        },
    )
    .unwrap();
    w.lead(MOSCOW_1);
    assert!(w.dials().is_empty());
    w.s.handle(
        w.now,
        Event::CampaignRun {
            campaign: CampaignId(1),
            run: CampaignRun::Running,
        },
    )
    .unwrap();
    assert_eq!(w.dials().len(), 1);
}

#[test]
fn time_never_steps_back() {
    let mut w = World::new(CampaignPolicy::default());
    let before = w.now;
    w.s.handle(before.plus_millis(-3_600_000), Event::Tick)
        .unwrap();
    assert_eq!(w.s.now(), before);
}

#[test]
fn stale_events_are_refused_without_harm() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    w.lead(MOSCOW_1);
    let a = w.dials()[0].0;
    w.finish(a, Outcome::Busy);
    assert_eq!(
        w.s.handle(
            w.now,
            Event::AttemptFinished {
                attempt: a,
                outcome: Outcome::Busy
            }
        ),
        Err(EventError::UnknownAttempt(a))
    );
    assert_eq!(
        w.s.handle(w.now, Event::AttemptAnswered { attempt: a }),
        Err(EventError::UnknownAttempt(a))
    );
    assert!(
        w.s.handle(
            w.now,
            Event::OperatorReady {
                operator: OperatorId(77)
            }
        )
        .is_err()
    );
    assert_eq!(w.s.active_calls(), 0);
}

#[test]
fn rule_a_needs_an_order_id() {
    let policy = CampaignPolicy {
        dedup: policy::DedupPolicy {
            rule: policy::DedupRule::A,
            window: Duration::from_secs(30 * 86_400),
        },
        ..CampaignPolicy::default()
    };
    let mut w = World::new(policy);
    let e = w.s.handle(
        w.now,
        Event::LeadAdded(Box::new(NewLead::new(1, 1, MOSCOW_1, w.now))),
    );
    assert_eq!(e, Err(EventError::MissingOrderId));
    let mut lead = NewLead::new(2, 1, MOSCOW_1, w.now);
    lead.order_id = Some("ORD-1".into());
    w.s.handle(w.now, Event::LeadAdded(Box::new(lead.clone())))
        .unwrap();
    lead.id = LeadId(3);
    assert_eq!(
        w.s.handle(w.now, Event::LeadAdded(Box::new(lead.clone()))),
        Err(EventError::Duplicate {
            duplicate_of: LeadId(2)
        })
    );
    lead.id = LeadId(4);
    lead.order_id = Some("ORD-2".into());
    w.s.handle(w.now, Event::LeadAdded(Box::new(lead))).unwrap();
}

#[test]
fn a_lead_may_carry_its_own_zone() {
    let mut w = World::new(CampaignPolicy::default());
    let mut lead = NewLead::new(1, 1, "+79161234567", w.now);
    lead.time_zone = Some("Asia/Omsk".into());
    w.s.handle(w.now, Event::LeadAdded(Box::new(lead.clone())))
        .unwrap();
    assert_eq!(w.s.lead(LeadId(1)).unwrap().tz.name(), "Asia/Omsk");
    lead.id = LeadId(2);
    lead.phone = "+79161234568".into();
    lead.time_zone = Some("Omsk".into());
    assert_eq!(
        w.s.handle(w.now, Event::LeadAdded(Box::new(lead))),
        Err(EventError::InvalidTimeZone("Omsk".into()))
    );
}

#[test]
fn a_restored_lead_waits_for_its_due_time_and_keeps_its_attempts() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    let mut history = History::default();
    history.push(Outcome::Busy);
    history.push(Outcome::NoAnswer);
    let created = w.now.plus_millis(-3_600_000);
    w.s.handle(
        w.now,
        Event::LeadRestored {
            lead: Box::new(NewLead::new(7, 1, MOSCOW_1, created)),
            attempts: 2,
            history,
            due: w.now.plus(Duration::from_secs(600)),
        },
    )
    .unwrap();
    assert!(w.dials().is_empty(), "not before it is due");
    let view = w.s.lead(LeadId(7)).unwrap();
    assert_eq!((view.state, view.attempts), (LeadState::Scheduled, 2));
    assert!(w.sleep_until_dial(700).is_some());
    let dials = w.dials();
    assert_eq!(dials.len(), 1);
    assert_eq!(
        (dials[0].1, dials[0].2),
        (LeadId(7), 3),
        "the third attempt"
    );

    // Its number is remembered from when it arrived: the same number again is a duplicate.
    let again = w.s.handle(
        w.now,
        Event::LeadAdded(Box::new(NewLead::new(8, 1, MOSCOW_1, w.now))),
    );
    assert!(
        matches!(again, Err(EventError::Duplicate { duplicate_of }) if duplicate_of == LeadId(7))
    );

    // A lead with every attempt used is not taken back.
    let mut spent = History::default();
    for _ in 0..7 {
        spent.push(Outcome::NoAnswer);
    }
    let r = w.s.handle(
        w.now,
        Event::LeadRestored {
            lead: Box::new(NewLead::new(9, 1, MOSCOW_2, created)),
            attempts: 7,
            history: spent,
            due: w.now,
        },
    );
    assert!(matches!(r, Err(EventError::NoAttemptsLeft(..))));
}

#[test]
fn an_operator_who_does_not_pick_up_is_paused_and_the_call_goes_on() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(2);
    w.lead(MOSCOW_1);
    let attempt = w.dials()[0].0;
    w.s.handle(w.now, Event::AttemptAnswered { attempt })
        .unwrap();
    let first = match w.actions().as_slice() {
        [Action::Bridge { operator, .. }] => *operator,
        other => panic!("{other:?}"),
    };
    // Their phone did not answer: paused, and the call goes to the other operator.
    w.s.handle(w.now, Event::BridgeFailed { attempt }).unwrap();
    let a = w.actions();
    assert!(a.contains(&Action::OperatorState {
        operator: first,
        state: OperatorState::Paused
    }));
    let second = a
        .iter()
        .find_map(|x| match x {
            Action::Bridge { operator, .. } => Some(*operator),
            _ => None,
        })
        .expect("given to the next ready operator");
    assert_ne!(second, first);
    // Nobody else: the call waits out the rest of abandon_after (2 s from the answer), then
    // the callee hears the abandoned-call message.
    w.tick(1);
    w.s.handle(w.now, Event::BridgeFailed { attempt }).unwrap();
    assert!(
        !w.actions()
            .iter()
            .any(|x| matches!(x, Action::Abandon { .. }))
    );
    w.tick(1);
    let a = w.actions();
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::Abandon { attempt: at, .. } if *at == attempt)),
        "{a:?}"
    );
    assert_eq!(w.s.operators_in(OperatorState::Paused), 2);
    assert_eq!(w.s.stats().abandoned, 1);
}

#[test]
fn a_premium_rate_number_is_refused_and_never_dialled() {
    let mut w = World::new(CampaignPolicy::default());
    w.operators(1);
    let refused = w.s.handle(
        w.now,
        Event::LeadAdded(Box::new(NewLead::new(20, 1, "+7 809 123-45-67", w.now))),
    );
    match refused {
        Err(EventError::DestinationRefused { refusal, .. }) => {
            assert_eq!(refusal.rule(), "premium_rate")
        }
        other => panic!("{other:?}"),
    }
    let abroad = w.s.handle(
        w.now,
        Event::LeadAdded(Box::new(NewLead::new(21, 1, "+375 29 123-45-67", w.now))),
    );
    assert!(
        matches!(&abroad, Err(EventError::DestinationRefused { refusal, .. }) if refusal.rule() == "allow"),
        "{abroad:?}"
    );
    assert!(w.dials().is_empty());
    let stats = w.s.stats();
    assert_eq!((stats.leads_in, stats.destination_refused), (0, 2));
}

#[test]
fn a_lead_whose_destination_a_new_policy_refuses_is_closed_without_a_call() {
    let mut w = World::new(CampaignPolicy::default());
    let l = w.lead(MOSCOW_1);
    let mut policy = CampaignPolicy::default();
    policy.destinations.refuse = vec!["+7495".into()];
    w.s.handle(
        w.now,
        Event::CampaignSaved {
            campaign: CampaignId(1),
            policy: Box::new(policy),
        },
    )
    .unwrap();
    w.operators(1);
    let actions = w.actions();
    assert!(
        actions.contains(&Action::LeadClosed {
            lead: l,
            state: LeadState::Refused
        }),
        "{actions:?}"
    );
    assert!(!actions.iter().any(|a| matches!(a, Action::Dial { .. })));
    assert_eq!(w.s.stats().refused, 1);
}

#[test]
fn one_number_gets_at_most_its_daily_calls_across_campaigns() {
    let mut policy = CampaignPolicy::default();
    policy.destinations.calls_per_number_per_day = 2;
    let mut w = World::new(policy.clone());
    w.s.handle(
        w.now,
        Event::CampaignSaved {
            campaign: CampaignId(2),
            policy: Box::new(policy),
        },
    )
    .unwrap();
    for op in 1..=3 {
        w.s.handle(
            w.now,
            Event::OperatorLogin {
                operator: OperatorId(op),
                campaigns: vec![CampaignId(1), CampaignId(2)],
            },
        )
        .unwrap();
        w.s.handle(
            w.now,
            Event::OperatorReady {
                operator: OperatorId(op),
            },
        )
        .unwrap();
    }
    // The same number, three times, in two campaigns (dedup is per campaign, and the
    // callbacks' campaign differs from the shop's).
    let a = w.lead(MOSCOW_1);
    let first = w.dials();
    assert_eq!(first.len(), 1);
    w.finish(first[0].0, Outcome::Busy);
    let b = w.s.handle(
        w.now,
        Event::LeadAdded(Box::new(NewLead::new(50, 2, MOSCOW_1, w.now))),
    );
    assert!(b.is_ok(), "{b:?}");
    let second = w.dials();
    assert_eq!(second.iter().map(|d| d.1).collect::<Vec<_>>(), [LeadId(50)]);
    w.finish(second[0].0, Outcome::Busy);
    // Lead a's busy back-off (10 minutes) ends: the number has had its two calls today.
    assert_eq!(w.sleep_until_dial(3600), None);
    assert!(w.s.stats().held_by_daily_cap >= 1);
    let view = w.s.lead(a).unwrap();
    let due = view.due.expect("a is scheduled");
    let next_day = (w.now.millis() / 86_400_000 + 1) * 86_400_000;
    assert!(
        due.millis() >= next_day,
        "a waits for the next day: {due:?}"
    );
}

#[test]
fn a_lead_read_back_that_the_policy_now_refuses_is_closed_at_once() {
    let mut w = World::new(CampaignPolicy::default());
    w.s.handle(
        w.now,
        Event::LeadRestored {
            lead: Box::new(NewLead::new(30, 1, "+78091234567", w.now)),
            attempts: 1,
            history: History::default(),
            due: w.now,
        },
    )
    .unwrap();
    w.operators(1);
    let actions = w.actions();
    assert!(
        actions.contains(&Action::LeadClosed {
            lead: LeadId(30),
            state: LeadState::Refused
        }),
        "{actions:?}"
    );
    assert!(!actions.iter().any(|a| matches!(a, Action::Dial { .. })));
}

#[test]
fn a_number_that_becomes_shared_counts_the_calls_its_first_lead_made() {
    let mut w = World::new(CampaignPolicy::default());
    w.s.handle(
        w.now,
        Event::CampaignSaved {
            campaign: CampaignId(2),
            policy: Box::new(CampaignPolicy::default()),
        },
    )
    .unwrap();
    w.operators(1);
    let a = w.lead(MOSCOW_1);
    let first = w.dials();
    assert_eq!(first.len(), 1);
    w.finish(first[0].0, Outcome::Busy);
    let phone = Phone::from_e164(MOSCOW_1).unwrap();
    // Alone, its calls are not counted per number (it cannot pass the cap by itself).
    assert_eq!(w.s.calls_per_number.next_free(phone, 1, w.now), None);
    w.s.handle(
        w.now,
        Event::LeadAdded(Box::new(NewLead::new(60, 2, MOSCOW_1, w.now))),
    )
    .unwrap();
    // Shared now: the first lead's call counts as today's, and both are marked.
    assert!(w.s.calls_per_number.next_free(phone, 1, w.now).is_some());
    let i = w.s.leads.find(a).unwrap();
    assert_ne!(w.s.leads.get(i).flags & super::table::SHARED, 0);
    let j = w.s.leads.find(LeadId(60)).unwrap();
    assert_ne!(w.s.leads.get(j).flags & super::table::SHARED, 0);
}
