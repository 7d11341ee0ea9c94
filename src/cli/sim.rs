//! `predial sim`: a simulated day, from flags and/or a config file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use predial::config::{ConfigError, ConfigErrors, ConfigFile};
use predial_core::Timestamp;
use predial_core::sim::{self, SimConfig, SimReport};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scenario {
    /// One steady day (the default).
    Steady,
    /// Seed 000's New Year: traffic doubles in two days. Three days, shifts 09:00-21:00.
    Doubling,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// A TOML file with the simulation's settings (see docs/simulator.md); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Operators logged in.
    #[arg(long, value_name = "N")]
    agents: Option<u32>,
    /// Share of attempts a live person answers (a fraction: 0.5).
    #[arg(long, value_name = "P")]
    answer_rate: Option<f64>,
    /// Length of the simulated run.
    #[arg(long, value_name = "H")]
    hours: Option<f64>,
    /// Seed of the random generator: the same seed gives the same day.
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Mean leads arriving per hour (default: 12 per operator).
    #[arg(long, value_name = "R")]
    leads_per_hour: Option<f64>,
    /// When the run starts, RFC 3339 (default 2026-12-01T05:00:00Z, 08:00 in Moscow).
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    #[arg(long, value_enum)]
    scenario: Option<Scenario>,
    /// Median conversation length, seconds.
    #[arg(long, value_name = "T")]
    talk_s: Option<f64>,
    /// Operator wrap-up after each call, seconds.
    #[arg(long, value_name = "W")]
    wrap_s: Option<f64>,
    /// Calls the trunks carry at once (0: no limit).
    #[arg(long, value_name = "N")]
    channels: Option<u32>,
    /// Also write every event (lead added, dial, outcome) to FILE as NDJSON.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Which flag sets a config field, for errors about values given on the command line.
const FLAGS: &[(&str, &str)] = &[
    ("operators.count", "--agents"),
    ("population.answer_rate", "--answer-rate"),
    ("population.machine_rate", "--answer-rate"),
    ("hours", "--hours"),
    ("arrivals.leads_per_hour", "--leads-per-hour"),
    ("population.talk_median", "--talk-s"),
    ("campaign.wrap_up", "--wrap-s"),
];

fn seconds(flag: &str, v: f64) -> anyhow::Result<Duration> {
    if !(v.is_finite() && (0.0..=86_400.0).contains(&v)) {
        bail!("{flag}: {v} is not a number of seconds from 0 to 86400");
    }
    Ok(Duration::from_secs_f64(v))
}

fn build_config(args: &SimArgs) -> anyhow::Result<SimConfig> {
    let file = args.config.as_deref().map(ConfigFile::read).transpose()?;
    let mut cfg: SimConfig = match &file {
        Some(f) => f.parse()?,
        None => SimConfig::default(),
    };
    if let Some(Scenario::Doubling) = args.scenario {
        cfg = cfg.doubling();
    }
    if let Some(n) = args.agents {
        cfg.operators.count = n;
    }
    if let Some(p) = args.answer_rate {
        cfg.population.answer_rate = p;
    }
    if let Some(h) = args.hours {
        cfg.hours = h;
    }
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if let Some(r) = args.leads_per_hour {
        cfg.arrivals.leads_per_hour = r;
    }
    if let Some(t) = &args.start {
        cfg.start = Timestamp::parse_rfc3339(t).map_err(|e| anyhow::anyhow!("--start: {e}"))?;
    }
    if let Some(t) = args.talk_s {
        cfg.population.talk_median = seconds("--talk-s", t)?;
    }
    if let Some(w) = args.wrap_s {
        cfg.campaign.wrap_up = seconds("--wrap-s", w)?;
    }
    if let Some(c) = args.channels {
        cfg.channels = c;
    }
    if let Err(errors) = cfg.validate() {
        let lines = errors
            .into_iter()
            .map(|e| {
                let flag = FLAGS
                    .iter()
                    .find(|(f, _)| *f == e.field)
                    .map(|(_, flag)| *flag);
                match (&file, flag) {
                    (Some(f), _) if predial::config::find_line(&f.text, &e.field).is_some() => {
                        f.error(&e.field, &e.message)
                    }
                    (_, Some(flag)) => ConfigError {
                        file: PathBuf::new(),
                        line: 0,
                        field: flag.to_string(),
                        message: e.message,
                    },
                    (Some(f), None) => f.error(&e.field, &e.message),
                    (None, None) => ConfigError {
                        file: PathBuf::new(),
                        line: 0,
                        field: e.field,
                        message: e.message,
                    },
                }
            })
            .collect();
        return Err(ConfigErrors(lines).into());
    }
    Ok(cfg)
}

pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let cfg = build_config(&args)?;
    let mut writer = match &args.events {
        Some(path) => {
            Some(BufWriter::new(File::create(path).with_context(|| {
                format!("--events: cannot create {}", path.display())
            })?))
        }
        None => None,
    };
    let mut write_error: Option<std::io::Error> = None;
    let report = sim::run(
        &cfg,
        &mut sim::events(|record| {
            if let (Some(w), None) = (writer.as_mut(), write_error.as_ref()) {
                let line = serde_json::to_string(record).expect("records serialise");
                if let Err(e) = writeln!(w, "{line}") {
                    write_error = Some(e);
                }
            }
        }),
    )
    .context("the simulation stopped")?;
    if let Some(w) = writer.as_mut()
        && write_error.is_none()
        && let Err(e) = w.flush()
    {
        write_error = Some(e);
    }
    if let (Some(e), Some(path)) = (write_error, &args.events) {
        bail!("--events: writing {} failed: {e}", path.display());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serialises")
        );
    } else {
        print_table(&cfg, &report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(cfg: &SimConfig, r: &SimReport) {
    let l = &r.first_dial_latency_s;
    println!(
        "predial sim: {} h from {}, {} operators, answer rate {:.2}, seed {}",
        r.hours, r.start, r.agents, cfg.population.answer_rate, r.seed
    );
    println!(
        "  leads in               {:>8}   (submitted {}, invalid {}, duplicates {})",
        r.leads_in, r.leads_submitted, r.leads_invalid, r.leads_duplicate
    );
    println!(
        "  attempts               {:>8}   ({:.2} per lead)",
        r.attempts, r.attempts_per_lead
    );
    println!(
        "  contacts               {:>8}   (contact rate {:.3}; leads reached {:.3})",
        r.contacts, r.contact_rate, r.lead_contact_rate
    );
    println!(
        "  first dial latency     p50 {:.1} s   p95 {:.1} s   p99 {:.1} s   max {:.1} s",
        l.p50, l.p95, l.p99, l.max
    );
    println!(
        "  SLA misses             {:>8}   (first attempt within {})",
        r.sla_misses,
        predial_core::time::format_span(cfg.campaign.first_attempt_sla)
    );
    println!("  quiet-hour violations  {:>8}", r.quiet_hour_violations);
    println!(
        "  agent occupancy        {:>8.3}   ({:.1} conversations per agent hour)",
        r.agent_occupancy, r.calls_per_agent_hour
    );
    println!(
        "  abandoned              {:>8}   (abandon rate {:.3})",
        r.abandoned, r.abandon_rate
    );
    println!(
        "  leads done / exhausted / waiting   {} / {} / {}",
        r.leads_done, r.leads_exhausted, r.leads_pending
    );
    println!(
        "  held by quiet hours    {:>8}   (callees in {} zones, {} UTC offsets)",
        r.held_by_quiet_hours, r.callee_zones, r.callee_utc_offsets
    );
}
