//! `predial bench scheduler`: the real-time core under a million queued leads.
//!
//! 1. Load: N leads across four campaigns (both priority variants) and callees in every Russian
//!    zone and the CIS, with the operators paused, so every lead is queued.
//! 2. Decisions: 1,000 operators become ready; dial, end every call (no answer or busy, so each
//!    lead goes back to wait for its retry), one round per simulated second, until nothing
//!    dialable is left. Decisions per second = dials / time spent in `poll_action`. Rounds a
//!    second apart spread the retries over time as a real day does.
//! 3. Ticks: two hours of one-second ticks with the million leads queued: retries come due,
//!    Moscow's and Kaliningrad's mornings release their held leads. A tick is `handle(Tick)` plus
//!    the dial decisions it allows; calls end at once (measured as events, not in the tick).
//!
//! The start instant (06:30 UTC) is chosen so that part of the callees are in quiet hours.

use std::time::{Duration, Instant};

use predial_core::acd::OperatorId;
use predial_core::dialer::{
    Action, AttemptId, CampaignId, CampaignPolicy, Event, NewLead, Outcome, PriorityVariant,
};
use predial_core::{Scheduler, Timestamp};
use serde::Serialize;

use super::alloc;

/// Number starts that span the zones; each lead gets the next start and a serial number.
const NUMBERING: &[(&str, usize)] = &[
    ("7900", 7),
    ("7902", 7),
    ("7903", 7),
    ("7904", 7),
    ("7905", 7),
    ("7908", 7),
    ("7909", 7),
    ("7910", 7),
    ("7911", 7),
    ("7912", 7),
    ("7913", 7),
    ("7914", 7),
    ("7915", 7),
    ("7916", 7),
    ("7917", 7),
    ("7918", 7),
    ("7919", 7),
    ("7920", 7),
    ("7921", 7),
    ("7922", 7),
    ("7923", 7),
    ("7924", 7),
    ("7925", 7),
    ("7926", 7),
    ("7927", 7),
    ("7928", 7),
    ("7929", 7),
    ("7950", 7),
    ("7951", 7),
    ("7952", 7),
    ("7953", 7),
    ("7960", 7),
    ("7961", 7),
    ("7962", 7),
    ("7964", 7),
    ("7983", 7),
    ("7984", 7),
    ("7985", 7),
    ("7987", 7),
    ("7999", 7),
    ("74012", 6),
    ("7495", 7),
    ("78122", 6),
    ("78462", 6),
    ("7343", 7),
    ("7381", 7),
    ("7383", 7),
    ("7391", 7),
    ("7395", 7),
    ("7411", 7),
    ("7423", 7),
    ("7413", 7),
    ("7415", 7),
    ("375291", 6),
    ("99890", 7),
    ("7701", 7),
    ("996555", 6),
    ("37477", 6),
    ("99450", 7),
];

/// The i-th benchmark number: distinct for every i below 10^6 per numbering start.
pub fn bench_phone(i: u64) -> String {
    let (start, digits) = NUMBERING[(i % NUMBERING.len() as u64) as usize];
    let serial = (i / NUMBERING.len() as u64) % 10u64.pow(digits as u32);
    format!("+{start}{serial:0digits$}")
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Micros {
    pub p50: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchedulerBench {
    pub leads: u64,
    /// Dial decisions per second of CPU spent deciding.
    pub decisions_per_s: f64,
    /// One tick with the leads queued (`handle(Tick)` and the dials it allows), microseconds.
    pub tick_us: Micros,
    /// Mean cost of `handle` for an attempt-finished event, nanoseconds.
    pub handle_ns_per_event: f64,
    /// Heap bytes per queued lead (scheduler state, indexes, dedup memory).
    pub bytes_per_lead: f64,
    /// Leads accepted (some bench numbers are not valid and are refused, as in real life).
    pub leads_accepted: u64,
    pub load_s: f64,
    pub load_leads_per_s: f64,
    pub decisions: u64,
    pub ticks: u64,
    pub tick_dials: u64,
    pub tick_max_us: f64,
    pub held_by_quiet_hours_at_start: u64,
    pub operators: u32,
    /// Reference on the same machine: a plain binary heap holding `leads` due times, pop + push
    /// per second (what a naive scheduler's queue costs).
    pub reference_heap_pop_push_per_s: f64,
}

/// Pop + push per second on a binary heap of `n` random due times (the reference).
pub fn heap_reference(n: usize) -> f64 {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = (0..n as u32)
        .map(|i| Reverse((next() % 86_400, i)))
        .collect();
    let rounds = n.max(1) * 2;
    let t = Instant::now();
    for _ in 0..rounds {
        if let Some(Reverse((due, id))) = heap.pop() {
            heap.push(Reverse((due + 600 + next() % 7200, id)));
        }
    }
    rounds as f64 / t.elapsed().as_secs_f64().max(1e-9)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

pub struct Options {
    pub leads: u64,
    pub operators: u32,
    pub tick_seconds: u64,
    /// Progress lines on stderr.
    pub progress: bool,
}

fn say(opts: &Options, text: &str) {
    if opts.progress {
        eprintln!("bench scheduler: {text}");
    }
}

/// The instant the benchmark starts: 06:30 UTC, when Moscow and Kaliningrad are still in quiet
/// hours and Siberia and the Far East are open.
pub fn bench_start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-12-01T06:30:00Z").expect("a valid constant")
}

const CAMPAIGNS: u32 = 4;

/// A scheduler with four campaigns (both priority variants) and `leads` queued leads, and
/// `operators` operators logged in (paused). Returns it with the number of leads accepted.
pub fn loaded(leads: u64, operators: u32, progress: bool) -> (Scheduler, u64) {
    let start = bench_start();
    let mut s = Scheduler::new();
    for c in 1..=CAMPAIGNS {
        let policy = CampaignPolicy {
            priority: if c % 2 == 1 {
                PriorityVariant::One
            } else {
                PriorityVariant::Two
            },
            max_attempts: 10,
            // The bench's numbers are Russia's and the CIS's.
            destinations: predial_core::dialer::Destinations {
                allow: ["+7", "+375", "+998", "+996", "+374", "+994"]
                    .map(String::from)
                    .to_vec(),
                ..Default::default()
            },
            ..CampaignPolicy::default()
        };
        s.handle(
            start,
            Event::CampaignSaved {
                campaign: CampaignId(c),
                policy: Box::new(policy),
            },
        )
        .expect("the bench policy is valid");
    }
    let mut accepted = 0u64;
    for i in 0..leads {
        let campaign = (i % u64::from(CAMPAIGNS)) as u32 + 1;
        let lead = NewLead::new(i + 1, campaign, &bench_phone(i), start);
        if s.handle(start, Event::LeadAdded(Box::new(lead))).is_ok() {
            accepted += 1;
        }
        if progress && i > 0 && i % 250_000 == 0 {
            eprintln!("bench scheduler:   {i} loaded");
        }
    }
    let all: Vec<CampaignId> = (1..=CAMPAIGNS).map(CampaignId).collect();
    for op in 0..operators {
        let mut skills = all.clone();
        skills.rotate_left((op % CAMPAIGNS) as usize);
        s.handle(
            start,
            Event::OperatorLogin {
                operator: OperatorId(op + 1),
                campaigns: skills,
            },
        )
        .expect("campaigns exist");
    }
    while s.poll_action().is_some() {}
    (s, accepted)
}

/// Ends calls at once, a third busy and the rest unanswered, so each lead waits for a retry.
pub fn end_calls(s: &mut Scheduler, now: Timestamp, calls: &mut Vec<AttemptId>) -> u64 {
    let n = calls.len() as u64;
    for (k, attempt) in calls.drain(..).enumerate() {
        let outcome = if k % 3 == 0 {
            Outcome::Busy
        } else {
            Outcome::NoAnswer
        };
        let _ = s.handle(now, Event::AttemptFinished { attempt, outcome });
    }
    n
}

/// Takes every action out; the dials' attempts go to `calls`.
pub fn take_dials(s: &mut Scheduler, calls: &mut Vec<AttemptId>) {
    while let Some(a) = s.poll_action() {
        if let Action::Dial { attempt, .. } = a {
            calls.push(attempt);
        }
    }
}

pub fn run(opts: &Options) -> SchedulerBench {
    let start = bench_start();
    let heap_before = alloc::start_counting();

    // 1. Load.
    say(opts, &format!("loading {} leads...", opts.leads));
    let t = Instant::now();
    let (mut s, accepted) = loaded(opts.leads, opts.operators, opts.progress);
    let load_s = t.elapsed().as_secs_f64();
    let heap_after = alloc::in_use();
    let bytes_per_lead = match (heap_before, heap_after) {
        (Some(a), Some(b)) if accepted > 0 => b.wrapping_sub(a) as f64 / accepted as f64,
        _ => 0.0,
    };
    let held = s.held_len() as u64;

    // Operators: logged in and paused while loading, ready now.
    for op in 0..opts.operators {
        s.handle(
            start,
            Event::OperatorReady {
                operator: OperatorId(op + 1),
            },
        )
        .expect("operator logged in");
    }

    // 2. Decisions.
    say(opts, "dialling every dialable lead once...");
    let mut decide = Duration::ZERO;
    let mut finish = Duration::ZERO;
    let mut decisions = 0u64;
    let mut finished = 0u64;
    let mut calls: Vec<AttemptId> = Vec::with_capacity(opts.operators as usize);
    let mut now = start;
    loop {
        now = now.plus_millis(1000);
        s.handle(now, Event::Tick)
            .expect("ticks are always accepted");
        let t = Instant::now();
        take_dials(&mut s, &mut calls);
        decide += t.elapsed();
        if calls.is_empty() {
            break;
        }
        decisions += calls.len() as u64;
        let t = Instant::now();
        finished += end_calls(&mut s, now, &mut calls);
        finish += t.elapsed();
    }

    // 3. Ticks.
    say(
        opts,
        &format!(
            "{} one-second ticks with the leads queued...",
            opts.tick_seconds
        ),
    );
    let mut ticks = Vec::with_capacity(opts.tick_seconds as usize);
    let mut tick_dials = 0u64;
    for _ in 0..opts.tick_seconds {
        now = now.plus_millis(1000);
        let t = Instant::now();
        s.handle(now, Event::Tick)
            .expect("ticks are always accepted");
        take_dials(&mut s, &mut calls);
        ticks.push(t.elapsed().as_secs_f64() * 1e6);
        tick_dials += calls.len() as u64;
        let t = Instant::now();
        finished += end_calls(&mut s, now, &mut calls);
        finish += t.elapsed();
    }
    ticks.sort_by(f64::total_cmp);
    drop(s);
    say(opts, "reference: a binary heap of the same size...");
    let reference = heap_reference(opts.leads as usize);

    SchedulerBench {
        leads: opts.leads,
        decisions_per_s: if decide.is_zero() {
            0.0
        } else {
            decisions as f64 / decide.as_secs_f64()
        },
        tick_us: Micros {
            p50: percentile(&ticks, 0.5),
            p99: percentile(&ticks, 0.99),
        },
        handle_ns_per_event: if finished == 0 {
            0.0
        } else {
            finish.as_nanos() as f64 / finished as f64
        },
        bytes_per_lead,
        leads_accepted: accepted,
        load_s,
        load_leads_per_s: accepted as f64 / load_s.max(1e-9),
        decisions,
        ticks: ticks.len() as u64,
        tick_dials,
        tick_max_us: ticks.last().copied().unwrap_or(0.0),
        held_by_quiet_hours_at_start: held,
        operators: opts.operators,
        reference_heap_pop_push_per_s: reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_numbers_are_distinct_and_mostly_valid() {
        let phones: std::collections::BTreeSet<String> = (0..5000).map(bench_phone).collect();
        assert_eq!(phones.len(), 5000);
        let ru = Some("RU".parse().unwrap());
        let valid = phones
            .iter()
            .filter(|p| predial_core::dialer::Phone::parse(p, ru).is_ok())
            .count();
        assert!(valid > 4500, "{valid} of 5000 valid");
    }

    #[test]
    fn a_small_run_reports_every_figure() {
        let r = run(&Options {
            leads: 2000,
            operators: 100,
            tick_seconds: 60,
            progress: false,
        });
        assert!(r.leads_accepted > 1800);
        assert!(r.decisions > 0 && r.decisions_per_s > 0.0);
        assert_eq!(r.ticks, 60);
        assert!(r.handle_ns_per_event > 0.0);
    }
}
