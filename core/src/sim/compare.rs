//! Pacers side by side: the same simulated days (same seeds), once per pacer.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Timelike};
use serde::Serialize;

use super::config::SimConfig;
use super::kpi::Percentiles;
use super::run::{Sink, run};
use crate::dialer::calendar::TimeOfDay;
use crate::dialer::event::EventError;
use crate::pacing::PacingMode;
use crate::time::Timestamp;

/// The day pacers are compared on: eight working hours from 10:00 Moscow time, answering-machine
/// detection on (3 s, a tenth of calls answered by machines), conversations ~90 s lognormal,
/// wrap-up 10 s, ringing up to 25 s. `fit_to_team` then sizes the lead supply.
pub fn comparison_day(mut cfg: SimConfig) -> SimConfig {
    cfg.start = Timestamp::parse_rfc3339("2026-12-01T07:00:00Z").expect("a valid constant");
    cfg.hours = 8.0;
    cfg.population.amd = true;
    cfg.population.amd_delay = Duration::from_secs(3);
    cfg.population.machine_rate = 0.1;
    cfg.population.ring_timeout = Duration::from_secs(25);
    cfg
}

/// Sizes a comparison day to its team: more leads than the operators can call, so that pacing,
/// not the lead supply, sets the pace; and the VICIdial reference's end of day at the day's end.
pub fn fit_to_team(mut cfg: SimConfig) -> SimConfig {
    cfg.population.machine_rate = cfg
        .population
        .machine_rate
        .min(1.0 - cfg.population.answer_rate);
    let agents = f64::from(cfg.operators.count);
    // Enough fresh leads to keep every operator busy on first attempts alone: a quarter more
    // than the calls they could take at full occupancy, over the live-answer rate.
    let handle_s = cfg.population.talk_median.as_secs_f64()
        * (cfg.population.talk_sigma.powi(2) / 2.0).exp()
        + cfg.campaign.wrap_up.as_secs_f64();
    let live = cfg.population.answer_rate.max(0.05);
    cfg.arrivals.leads_per_hour = 1.25 * agents * 3600.0 / handle_s.max(1.0) / live;
    cfg.arrivals.backlog = cfg.operators.count * 5;
    // The VICIdial reference's day ends with the simulated day, as its admin would set it.
    let end = cfg.start.plus_millis((cfg.hours * 3_600_000.0) as i64);
    if let Some(tz) = crate::dialer::zones::TzId::from_name(&cfg.campaign.time_zone) {
        let local = tz.tz().from_utc_datetime(&end.to_utc().naive_utc());
        cfg.campaign.pacing.vicidial_day_end = TimeOfDay::hm(local.hour(), local.minute());
    }
    cfg
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MeanMin {
    pub mean: f64,
    pub min: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MeanMax {
    pub mean: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct P50P99 {
    pub p50: f64,
    pub p99: f64,
}

/// One pacer over all seeds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PacerSummary {
    pub occupancy: MeanMin,
    pub abandon_rate: MeanMax,
    pub calls_per_agent_hour: f64,
    /// From the runs' first-dial latencies (the p50 and p99 of each run, averaged).
    pub first_dial_latency_s: P50P99,
    pub seeds: u32,
    pub contacts: u64,
    pub attempts: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Comparison {
    pub pacers: BTreeMap<String, PacerSummary>,
}

struct Nothing;
impl Sink for Nothing {}

/// Runs `seeds` days (seeds `cfg.seed`, `cfg.seed + 1`, ...) for each pacer.
pub fn compare(
    cfg: &SimConfig,
    pacers: &[PacingMode],
    seeds: u32,
    mut progress: impl FnMut(PacingMode, u32),
) -> Result<Comparison, EventError> {
    let mut out = Comparison::default();
    for &mode in pacers {
        let mut s = PacerSummary {
            seeds,
            occupancy: MeanMin {
                mean: 0.0,
                min: f64::MAX,
            },
            ..PacerSummary::default()
        };
        let mut latencies: Vec<Percentiles> = Vec::new();
        for k in 0..seeds {
            let mut day = cfg.clone();
            day.seed = cfg.seed.wrapping_add(u64::from(k));
            day.campaign.mode = mode;
            let r = run(&day, &mut Nothing)?;
            progress(mode, k + 1);
            s.occupancy.mean += r.agent_occupancy;
            s.occupancy.min = s.occupancy.min.min(r.agent_occupancy);
            s.abandon_rate.mean += r.abandon_rate;
            s.abandon_rate.max = s.abandon_rate.max.max(r.abandon_rate);
            s.calls_per_agent_hour += r.calls_per_agent_hour;
            s.contacts += r.contacts;
            s.attempts += r.attempts;
            latencies.push(r.first_dial_latency_s);
        }
        let n = f64::from(seeds.max(1));
        s.occupancy.mean /= n;
        s.abandon_rate.mean /= n;
        s.calls_per_agent_hour /= n;
        if seeds == 0 {
            s.occupancy.min = 0.0;
        }
        s.first_dial_latency_s = P50P99 {
            p50: latencies.iter().map(|p| p.p50).sum::<f64>() / n,
            p99: latencies.iter().map(|p| p.p99).sum::<f64>() / n,
        };
        out.pacers.insert(mode.as_str().to_string(), s);
    }
    Ok(out)
}
