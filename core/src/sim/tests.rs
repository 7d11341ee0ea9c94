//! Simulated days, each with a step limit (the simulated clock always ends).

use super::*;

fn day(agents: u32, answer_rate: f64, seed: u64) -> SimConfig {
    let mut cfg = SimConfig {
        seed,
        ..SimConfig::default()
    };
    cfg.operators.count = agents;
    cfg.population.answer_rate = answer_rate;
    cfg
}

#[test]
fn a_default_day_runs_and_respects_quiet_hours() {
    let mut count = 0usize;
    let r = run(&SimConfig::default(), &mut events(|_| count += 1)).unwrap();
    assert!(r.leads_in > 500, "{r:?}");
    assert!(r.attempts >= r.leads_in / 2);
    assert!(
        r.contacts > 0 && r.contact_rate > 0.2 && r.contact_rate < 0.6,
        "{r:?}"
    );
    assert_eq!(r.quiet_hour_violations, 0);
    assert!(
        r.held_by_quiet_hours > 0,
        "leads in Kaliningrad and Kamchatka wait for morning"
    );
    assert!(r.callee_utc_offsets >= 5, "{r:?}");
    assert!(r.agent_occupancy > 0.2 && r.agent_occupancy < 1.0, "{r:?}");
    assert!(r.leads_invalid > 0 && r.leads_duplicate > 0);
    assert_eq!(r.abandoned, 0, "progressive dialing never abandons");
    assert!(count as u64 >= r.leads_in + r.attempts);
}

#[test]
fn the_same_seed_gives_the_same_day() {
    let a = run(&day(5, 0.4, 42), &mut events(|_| {})).unwrap();
    let b = run(&day(5, 0.4, 42), &mut events(|_| {})).unwrap();
    let c = run(&day(5, 0.4, 43), &mut events(|_| {})).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn enough_operators_meet_the_sla() {
    let mut cfg = day(20, 0.5, 3);
    cfg.arrivals.leads_per_hour = 60.0;
    let r = run(&cfg, &mut events(|_| {})).unwrap();
    assert_eq!(r.sla_misses, 0, "{r:?}");
    // Leads that arrived in their callee's night go out over the morning spread (5 min).
    assert!(r.first_dial_latency_s.p99 <= 5.0 * 60.0 + 1.0, "{r:?}");
    assert!(r.first_dial_latency_s.p50 < 1.0, "{r:?}");
}

#[test]
fn too_few_operators_miss_the_sla_and_say_so() {
    let mut cfg = day(1, 0.5, 3);
    cfg.arrivals.leads_per_hour = 100.0;
    let r = run(&cfg, &mut events(|_| {})).unwrap();
    assert!(r.sla_misses > 0, "{r:?}");
    assert!(r.leads_pending > 0);
    assert!(r.agent_occupancy > 0.5, "{r:?}");
}

#[test]
fn traffic_doubling_over_three_days() {
    let mut cfg = day(10, 0.5, 9).doubling();
    cfg.arrivals.leads_per_hour = 40.0;
    let mut per_day = [0u64; 3];
    let start = cfg.start;
    let r = run(
        &cfg,
        &mut events(|rec| {
            if rec.event == "lead_added" {
                let d = (rec.at.since(start).as_secs() / 86_400) as usize;
                per_day[d.min(2)] += 1;
            }
        }),
    )
    .unwrap();
    assert_eq!(r.quiet_hour_violations, 0);
    let growth = per_day[2] as f64 / per_day[0] as f64;
    assert!(growth > 1.5 && growth < 2.6, "{per_day:?}");
}

#[test]
fn bad_settings_are_named() {
    let mut cfg = SimConfig::default();
    cfg.population.answer_rate = 50.0;
    cfg.campaign.max_attempts = 2;
    let errors = cfg.validate().unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "population.answer_rate",
            "population.machine_rate",
            "campaign.max_attempts"
        ]
    );
}
