//! Property tests of the scheduler's rules: random sequences of events, checked after every step
//! against the invariants the business relies on.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use rustc_hash::FxHashMap;

use super::*;
use crate::acd::{OperatorId, OperatorState};
use crate::pacing::PacingMode;
use crate::time::Timestamp;

/// Numbers across Russia's zones, the CIS, and mobiles (some in nationwide ranges, which fall back
/// to the campaign's zone).
const PHONES: &[&str] = &[
    "+7401212{}",  // Kaliningrad, UTC+2
    "+7495123{}",  // Moscow, UTC+3
    "+7846212{}",  // Samara, UTC+4
    "+7343212{}",  // Yekaterinburg, UTC+5
    "+7381212{}",  // Omsk, UTC+6
    "+7383212{}",  // Novosibirsk, UTC+7
    "+7395212{}",  // Irkutsk, UTC+8
    "+7411212{}",  // Yakutsk, UTC+9
    "+7423212{}",  // Vladivostok, UTC+10
    "+7413212{}",  // Magadan, UTC+11
    "+7415212{}",  // Kamchatka, UTC+12
    "+7916123{}",  // Moscow mobile
    "+7913900{}",  // Novosibirsk mobile
    "+7954101{}",  // nationwide range: campaign zone
    "+37529123{}", // Belarus
    "+99890123{}", // Uzbekistan
];

fn phone(kind: usize, n: u32) -> String {
    PHONES[kind % PHONES.len()].replace("{}", &format!("{:04}", n % 10_000))
}

#[derive(Debug, Clone)]
enum Op {
    AddLead { campaign: u32, kind: usize, n: u32 },
    Advance { secs: u64 },
    Finish { pick: usize, outcome: usize },
    Answer { pick: usize },
    Callback { pick: usize, delay_min: u64 },
    Cancel { pick: usize },
    Ready { op: u32 },
    Preview { op: u32, dial: bool },
    Pause { op: u32 },
    Channels { n: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u32..=2, 0usize..PHONES.len(), 0u32..60).prop_map(|(campaign, kind, n)| Op::AddLead { campaign, kind, n }),
        5 => prop_oneof![0u64..120, 0u64..3600, 0u64..(20 * 3600)].prop_map(|secs| Op::Advance { secs }),
        6 => (any::<usize>(), 0usize..Outcome::ALL.len()).prop_map(|(pick, outcome)| Op::Finish { pick, outcome }),
        2 => any::<usize>().prop_map(|pick| Op::Answer { pick }),
        1 => (any::<usize>(), 0u64..3000).prop_map(|(pick, delay_min)| Op::Callback { pick, delay_min }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        2 => (1u32..=4).prop_map(|op| Op::Ready { op }),
        2 => (1u32..=4, any::<bool>()).prop_map(|(op, dial)| Op::Preview { op, dial }),
        1 => (1u32..=4).prop_map(|op| Op::Pause { op }),
        1 => (0u32..6).prop_map(|n| Op::Channels { n }),
    ]
}

fn policy(c: u32) -> CampaignPolicy {
    CampaignPolicy {
        priority: if c == 1 {
            PriorityVariant::One
        } else {
            PriorityVariant::Two
        },
        max_attempts: if c == 1 { 5 } else { 7 },
        time_zone: if c == 1 {
            "Europe/Moscow".into()
        } else {
            "Asia/Omsk".into()
        },
        ..CampaignPolicy::default()
    }
}

struct Checker {
    s: Scheduler,
    now: Timestamp,
    next_id: u64,
    leads: Vec<LeadId>,
    in_flight: Vec<(AttemptId, LeadId)>,
    dials_per_lead: FxHashMap<LeadId, u8>,
    phones: FxHashMap<LeadId, Phone>,
    lead_campaign: FxHashMap<LeadId, u32>,
    previewed: rustc_hash::FxHashSet<LeadId>,
}

impl Checker {
    fn new(start: Timestamp, modes: [PacingMode; 2]) -> Checker {
        let mut s = Scheduler::new();
        for c in 1..=2 {
            let mut p = policy(c);
            p.mode = modes[c as usize - 1];
            // Predictive from the first call, so its decisions are exercised too.
            p.pacing.warmup_calls = 0;
            p.pacing.min_operators = 1;
            s.handle(
                start,
                Event::CampaignSaved {
                    campaign: CampaignId(c),
                    policy: Box::new(p),
                },
            )
            .unwrap();
        }
        for op in 1..=4 {
            s.handle(
                start,
                Event::OperatorLogin {
                    operator: OperatorId(op),
                    campaigns: vec![CampaignId(1), CampaignId(2)],
                },
            )
            .unwrap();
            s.handle(
                start,
                Event::OperatorReady {
                    operator: OperatorId(op),
                },
            )
            .unwrap();
        }
        Checker {
            s,
            now: start,
            next_id: 1,
            leads: Vec::new(),
            in_flight: Vec::new(),
            dials_per_lead: FxHashMap::default(),
            phones: FxHashMap::default(),
            lead_campaign: FxHashMap::default(),
            previewed: Default::default(),
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let now = self.now;
        match *op {
            Op::AddLead { campaign, kind, n } => {
                let id = self.next_id;
                self.next_id += 1;
                let p = phone(kind, n);
                if self
                    .s
                    .handle(
                        now,
                        Event::LeadAdded(Box::new(NewLead::new(id, campaign, &p, now))),
                    )
                    .is_ok()
                {
                    self.leads.push(LeadId(id));
                    self.phones
                        .insert(LeadId(id), Phone::parse(&p, None).unwrap());
                    self.lead_campaign.insert(LeadId(id), campaign);
                }
            }
            Op::Advance { secs } => {
                self.now = now.plus(Duration::from_secs(secs));
                self.s.handle(self.now, Event::Tick).unwrap();
            }
            Op::Finish { pick, outcome } if !self.in_flight.is_empty() => {
                let (attempt, lead) = self.in_flight.swap_remove(pick % self.in_flight.len());
                let outcome = Outcome::ALL[outcome];
                if outcome == Outcome::TrunkFailure {
                    // Not an attempt on the callee: the next dial has the same number.
                    if let Some(n) = self.dials_per_lead.get_mut(&lead) {
                        *n -= 1;
                    }
                }
                self.s
                    .handle(now, Event::AttemptFinished { attempt, outcome })
                    .unwrap();
            }
            Op::Answer { pick } if !self.in_flight.is_empty() => {
                let (attempt, _) = self.in_flight[pick % self.in_flight.len()];
                self.s
                    .handle(now, Event::AttemptAnswered { attempt })
                    .unwrap();
            }
            Op::Callback { pick, delay_min } if !self.leads.is_empty() => {
                let lead = self.leads[pick % self.leads.len()];
                let at = now.plus(Duration::from_secs(delay_min * 60));
                let _ = self.s.handle(now, Event::CallbackAgreed { lead, at });
            }
            Op::Cancel { pick } if !self.leads.is_empty() => {
                let lead = self.leads[pick % self.leads.len()];
                let _ = self.s.handle(now, Event::LeadCancelled { lead });
            }
            Op::Ready { op } => self
                .s
                .handle(
                    now,
                    Event::OperatorReady {
                        operator: OperatorId(op),
                    },
                )
                .unwrap(),
            Op::Preview { op, dial } => {
                let operator = OperatorId(op);
                let e = if dial {
                    Event::PreviewDial { operator }
                } else {
                    Event::PreviewSkip { operator }
                };
                match self.s.handle(now, e) {
                    Ok(()) | Err(EventError::NothingPreviewed(_) | EventError::QuietHours(_)) => {}
                    Err(other) => prop_assert!(false, "preview: {other}"),
                }
            }
            Op::Pause { op } => self
                .s
                .handle(
                    now,
                    Event::OperatorPaused {
                        operator: OperatorId(op),
                    },
                )
                .unwrap(),
            Op::Channels { n } => self
                .s
                .handle(now, Event::ChannelLimit { channels: n })
                .unwrap(),
            _ => {}
        }
        self.drain()
    }

    /// A dial (or a preview) from `class` must not pass over a better class with a dialable
    /// lead.
    fn check_priority(&mut self, campaign: CampaignId, class: u8) -> Result<(), TestCaseError> {
        let by_class = self.s.dialable_by_class(campaign);
        for (better, leads) in by_class.iter().enumerate().take(usize::from(class)) {
            prop_assert!(
                leads.is_empty(),
                "class {} dialled while class {} holds {:?}",
                class,
                better,
                leads
            );
        }
        Ok(())
    }

    /// Takes every action out, checking each dial.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(action) = self.s.poll_action() {
            if let Action::Preview {
                lead,
                campaign,
                class,
                ..
            } = action
            {
                // Preview: the choice is made when the lead is shown; the operator dials it
                // later, perhaps after better leads arrived.
                self.previewed.insert(lead);
                self.check_priority(campaign, class)?;
                continue;
            }
            let Action::Dial {
                attempt,
                lead,
                campaign,
                tz,
                attempt_no,
                class,
                ..
            } = action
            else {
                continue;
            };
            self.in_flight.push((attempt, lead));
            let p = policy(campaign.0).validate().unwrap();
            // Never in the callee's quiet hours, with the zone the number tells.
            let (expected_tz, _) =
                ZoneTable::builtin().resolve(self.phones[&lead], None, p.default_tz);
            prop_assert_eq!(tz, expected_tz, "lead {} dialled with the wrong zone", lead);
            prop_assert!(
                p.policy.quiet_hours.is_open(tz.tz(), self.now),
                "lead {} dialled at {} in {} quiet hours",
                lead,
                self.now,
                tz
            );
            // Never more than the campaign's attempts.
            let n = self.dials_per_lead.entry(lead).or_default();
            *n += 1;
            prop_assert_eq!(*n, attempt_no);
            prop_assert!(
                attempt_no <= p.policy.max_attempts,
                "lead {} dialled {} times",
                lead,
                attempt_no
            );
            // Never a lower class while a higher one has a dialable lead.
            if !self.previewed.remove(&lead) {
                self.check_priority(campaign, class)?;
            }
        }
        // Work-conserving (progressive): with an operator free and a channel free, nothing
        // dialable waits. Paced modes hold calls back on purpose; preview waits for the operator.
        let channels_free = self.s.active_calls() < self.s.channel_limit;
        let all_progressive =
            (1..=2).all(|c| self.s.pacing_mode(CampaignId(c)) == Some(PacingMode::Progressive));
        if channels_free && all_progressive && self.s.operators_in(OperatorState::Ready) > 0 {
            for c in 1..=2 {
                let waiting: Vec<LeadId> = self
                    .s
                    .dialable_by_class(CampaignId(c))
                    .into_iter()
                    .flatten()
                    .collect();
                prop_assert!(
                    waiting.is_empty(),
                    "operator idle while campaign {} has {:?}",
                    c,
                    waiting
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn scheduler_rules_hold(
        start_hour in 0i64..24,
        modes in proptest::array::uniform2(prop_oneof![
            Just(PacingMode::Progressive),
            Just(PacingMode::Predictive),
            Just(PacingMode::Power),
            Just(PacingMode::Preview),
            Just(PacingMode::Vicidial),
        ]),
        ops in proptest::collection::vec(op(), 1..150),
    ) {
        let start = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap().plus_millis(start_hour * 3_600_000);
        let mut c = Checker::new(start, modes);
        for op in &ops {
            c.apply(op)?;
        }
        let _ = &c.lead_campaign;
    }

    /// With more operators than leads and short calls, every new lead is dialled within the SLA
    /// of becoming dialable (its arrival, or the end of its callee's quiet hours).
    #[test]
    fn new_leads_meet_the_sla_when_capacity_exists(
        start_hour in 0i64..24,
        arrivals in proptest::collection::vec((0u64..600, 0usize..PHONES.len()), 1..40),
    ) {
        let start = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap().plus_millis(start_hour * 3_600_000);
        let mut s = Scheduler::new();
        let p = policy(1);
        let sla = p.first_attempt_sla;
        let quiet = p.quiet_hours;
        s.handle(start, Event::CampaignSaved { campaign: CampaignId(1), policy: Box::new(p.clone()) }).unwrap();
        for op in 1..=50 {
            s.handle(start, Event::OperatorLogin { operator: OperatorId(op), campaigns: vec![CampaignId(1)] }).unwrap();
            s.handle(start, Event::OperatorReady { operator: OperatorId(op) }).unwrap();
        }
        let mut now = start;
        let mut dialable_at: BTreeMap<LeadId, Timestamp> = BTreeMap::new();
        let mut first_dial: BTreeMap<LeadId, Timestamp> = BTreeMap::new();
        let mut calls: Vec<(Timestamp, AttemptId)> = Vec::new();
        let mut events: Vec<(Timestamp, u64, usize)> = Vec::new();
        let mut t = start;
        for (i, (gap, kind)) in arrivals.iter().enumerate() {
            t = t.plus(Duration::from_secs(*gap));
            events.push((t, i as u64 + 1, *kind));
        }
        let end = t.plus(Duration::from_secs(2 * 86_400));
        let mut next_event = 0;
        loop {
            // The next thing to happen: an arrival, a call ending, or the scheduler's wake-up.
            let mut next = end;
            if let Some(e) = events.get(next_event) { next = next.min(e.0); }
            if let Some(c) = calls.iter().map(|c| c.0).min() { next = next.min(c); }
            if let Some(w) = s.poll_timeout() { next = next.min(w.at); }
            if next >= end { break; }
            now = now.max(next);
            s.handle(now, Event::Tick).unwrap();
            while let Some(&(at, id, kind)) = events.get(next_event).filter(|e| e.0 <= now) {
                let ph = phone(kind, id as u32);
                if s.handle(at.max(now), Event::LeadAdded(Box::new(NewLead::new(id, 1, &ph, now)))).is_ok() {
                    let (tz, _) = ZoneTable::builtin().resolve(Phone::parse(&ph, None).unwrap(), None, TzId::from_name("Europe/Moscow").unwrap());
                    let w = quiet.window(tz.tz(), now);
                    dialable_at.insert(LeadId(id), if w.open { now } else { w.until });
                }
                next_event += 1;
            }
            let mut ended = Vec::new();
            calls.retain(|&(at, a)| if at <= now { ended.push(a); false } else { true });
            for a in ended {
                s.handle(now, Event::AttemptFinished { attempt: a, outcome: Outcome::NoAnswer }).unwrap();
            }
            while let Some(action) = s.poll_action() {
                if let Action::Dial { attempt, lead, .. } = action {
                    first_dial.entry(lead).or_insert(now);
                    calls.push((now.plus(Duration::from_secs(20)), attempt));
                }
            }
        }
        for (lead, ready) in &dialable_at {
            let dialled = first_dial.get(lead).copied();
            prop_assert!(dialled.is_some(), "lead {} never dialled", lead);
            let late = dialled.unwrap().since(*ready);
            prop_assert!(late <= sla, "lead {} first dialled {:?} after it became dialable", lead, late);
        }
    }

    /// Duplicate checks match the rule as written, against a plain model.
    #[test]
    fn dedup_matches_the_rules(
        rule_a in any::<bool>(),
        leads in proptest::collection::vec((0u32..5, 0u32..3, 0u64..(30 * 3600)), 1..60),
    ) {
        let window = Duration::from_secs(24 * 3600);
        let mut p = policy(1);
        p.dedup = policy::DedupPolicy { rule: if rule_a { policy::DedupRule::A } else { policy::DedupRule::B }, window };
        let start = Timestamp::parse_rfc3339("2026-12-01T09:00:00Z").unwrap();
        let mut s = Scheduler::new();
        s.handle(start, Event::CampaignSaved { campaign: CampaignId(1), policy: Box::new(p) }).unwrap();
        let mut model: BTreeMap<(u32, u32), (Timestamp, LeadId)> = BTreeMap::new();
        let mut now = start;
        for (i, (phone_n, order, gap)) in leads.into_iter().enumerate() {
            now = now.plus(Duration::from_secs(gap));
            let id = LeadId(i as u64 + 1);
            let mut lead = NewLead::new(id.0, 1, &phone(1, phone_n), now);
            lead.order_id = Some(format!("ORD-{order}"));
            let key = if rule_a { (phone_n, order) } else { (phone_n, 0) };
            let expected = match model.get(&key) {
                Some(&(at, of)) if now.since(at) < window => Err(EventError::Duplicate { duplicate_of: of }),
                _ => Ok(()),
            };
            let got = s.handle(now, Event::LeadAdded(Box::new(lead)));
            prop_assert_eq!(&got, &expected);
            if got.is_ok() {
                model.insert(key, (now, id));
            }
        }
    }
}

proptest! {
    /// A lead that is never reached is dialled exactly `max_attempts` times, whatever the
    /// outcomes, callbacks and waits, and then closed as exhausted.
    #[test]
    fn attempts_are_capped(
        max in 5u8..=10,
        outcomes in proptest::collection::vec((1usize..Outcome::ALL.len(), any::<bool>()), 12),
    ) {
        let start = Timestamp::parse_rfc3339("2026-12-01T09:00:00Z").unwrap();
        let mut s = Scheduler::new();
        let p = CampaignPolicy { max_attempts: max, ..CampaignPolicy::default() };
        s.handle(start, Event::CampaignSaved { campaign: CampaignId(1), policy: Box::new(p) }).unwrap();
        s.handle(start, Event::OperatorLogin { operator: OperatorId(1), campaigns: vec![CampaignId(1)] }).unwrap();
        s.handle(start, Event::OperatorReady { operator: OperatorId(1) }).unwrap();
        s.handle(start, Event::LeadAdded(Box::new(NewLead::new(1, 1, "+74951234567", start)))).unwrap();
        let mut now = start;
        let mut dials = 0u8;
        let mut trunk_failures = 0usize;
        let mut closed = None;
        for _ in 0..200 {
            while let Some(a) = s.poll_action() {
                match a {
                    Action::Dial { attempt, attempt_no, .. } => {
                        dials += 1;
                        prop_assert_eq!(attempt_no, dials);
                        let (o, callback) = outcomes[(usize::from(dials - 1) + trunk_failures) % outcomes.len()];
                        let outcome = match Outcome::ALL[o] {
                            Outcome::InvalidNumber | Outcome::Contact => Outcome::Busy,
                            other => other,
                        };
                        if outcome == Outcome::TrunkFailure {
                            // Does not count: the callee never heard it.
                            dials -= 1;
                            trunk_failures += 1;
                        }
                        if callback {
                            let _ = s.handle(now, Event::CallbackAgreed { lead: LeadId(1), at: now.plus(Duration::from_secs(600)) });
                        }
                        s.handle(now, Event::AttemptFinished { attempt, outcome }).unwrap();
                    }
                    Action::LeadClosed { state, .. } => closed = Some(state),
                    _ => {}
                }
            }
            match s.poll_timeout() {
                Some(w) => {
                    now = now.max(w.at);
                    s.handle(now, Event::Tick).unwrap();
                }
                None => break,
            }
        }
        prop_assert_eq!(dials, max);
        prop_assert_eq!(closed, Some(LeadState::Exhausted));
    }
}
