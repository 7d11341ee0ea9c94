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
use predial_core::pacing::{AbandonAudit, PacingMode};
use predial_core::sim::{self, Record, SimConfig, SimReport};

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
    /// How calls are paced: preview, progressive, power, predictive, or vicidial (the
    /// reference).
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    mode: Option<PacingMode>,
    /// Compare pacers on the same days: a list such as progressive,vicidial,predictive.
    #[arg(long, value_name = "PACERS", value_delimiter = ',', value_parser = parse_mode)]
    compare: Vec<PacingMode>,
    /// With --compare: how many days (seeds S, S+1, ...) each pacer runs.
    #[arg(long, value_name = "K", default_value_t = 5)]
    seeds: u32,
    /// Also write every abandoned call's audit record to FILE as NDJSON.
    #[arg(long, value_name = "FILE")]
    abandon_log: Option<PathBuf>,
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

fn parse_mode(text: &str) -> Result<PacingMode, String> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_string())).map_err(|_| {
        format!(
            "`{text}` is not a pacing mode: use preview, progressive, power, predictive or vicidial"
        )
    })
}

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
        // Pacers are compared on a day with more leads than operators can call.
        None if !args.compare.is_empty() => sim::compare::comparison_day(SimConfig::default()),
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
    if let Some(m) = args.mode {
        cfg.campaign.mode = m;
    }
    if file.is_none() && !args.compare.is_empty() {
        // The comparison day's lead supply follows the number of operators.
        cfg = sim::compare::fit_to_team(cfg);
        if let Some(r) = args.leads_per_hour {
            cfg.arrivals.leads_per_hour = r;
        }
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
    if !args.compare.is_empty() {
        return compare(&args, &cfg);
    }
    let mut sink = Files {
        events: open(args.events.as_deref(), "--events")?,
        abandons: open(args.abandon_log.as_deref(), "--abandon-log")?,
        error: None,
    };
    let report = sim::run(&cfg, &mut sink).context("the simulation stopped")?;
    sink.finish()?;
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

/// An NDJSON file being written.
struct Ndjson {
    flag: &'static str,
    path: PathBuf,
    out: BufWriter<File>,
}

fn open(path: Option<&std::path::Path>, flag: &'static str) -> anyhow::Result<Option<Ndjson>> {
    let Some(path) = path else { return Ok(None) };
    let file =
        File::create(path).with_context(|| format!("{flag}: cannot create {}", path.display()))?;
    Ok(Some(Ndjson {
        flag,
        path: path.to_path_buf(),
        out: BufWriter::new(file),
    }))
}

/// Writes the simulation's events and abandon audits as they happen; the first write error is
/// kept and reported at the end.
struct Files {
    events: Option<Ndjson>,
    abandons: Option<Ndjson>,
    error: Option<anyhow::Error>,
}

impl Files {
    fn write(
        file: &mut Option<Ndjson>,
        error: &mut Option<anyhow::Error>,
        value: &impl serde::Serialize,
    ) {
        let Some(f) = file.as_mut() else { return };
        if error.is_some() {
            return;
        }
        let line = serde_json::to_string(value).expect("records serialise");
        if let Err(e) = writeln!(f.out, "{line}") {
            *error = Some(anyhow::anyhow!(
                "{}: writing {} failed: {e}",
                f.flag,
                f.path.display()
            ));
        }
    }

    fn finish(mut self) -> anyhow::Result<()> {
        for f in [self.events.as_mut(), self.abandons.as_mut()]
            .into_iter()
            .flatten()
        {
            if self.error.is_none()
                && let Err(e) = f.out.flush()
            {
                self.error = Some(anyhow::anyhow!(
                    "{}: writing {} failed: {e}",
                    f.flag,
                    f.path.display()
                ));
            }
        }
        self.error.map_or(Ok(()), Err)
    }
}

impl sim::Sink for Files {
    fn event(&mut self, record: &Record) {
        Files::write(&mut self.events, &mut self.error, record);
    }

    fn abandon(&mut self, audit: &AbandonAudit) {
        Files::write(&mut self.abandons, &mut self.error, audit);
    }
}

fn compare(args: &SimArgs, cfg: &SimConfig) -> anyhow::Result<ExitCode> {
    if args.seeds == 0 || args.seeds > 1000 {
        bail!("--seeds: use 1 to 1000 days per pacer");
    }
    let total = args.seeds as usize * args.compare.len();
    let mut done = 0usize;
    let result = sim::compare::compare(cfg, &args.compare, args.seeds, |mode, k| {
        done += 1;
        eprint!(
            "\rpredial sim: {}/{} days ({} seed {k})   ",
            done,
            total,
            mode.as_str()
        );
    })
    .context("the simulation stopped")?;
    eprintln!();
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&result).expect("the comparison serialises")
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "predial sim --compare: {} operators, answer rate {:.2}, {} h days, {} seeds from {}",
        cfg.operators.count, cfg.population.answer_rate, cfg.hours, args.seeds, cfg.seed
    );
    println!(
        "  {:<12} {:>15} {:>15} {:>11} {:>22}",
        "pacer", "occupancy", "abandon rate", "calls/agent", "first dial (p50/p99)"
    );
    println!(
        "  {:<12} {:>15} {:>15} {:>11} {:>22}",
        "", "mean / min", "mean / max", "hour", "seconds"
    );
    for mode in &args.compare {
        let s = &result.pacers[mode.as_str()];
        println!(
            "  {:<12} {:>7.3} / {:.3} {:>7.4} / {:.4} {:>11.1} {:>14.1} / {:.1}",
            mode.as_str(),
            s.occupancy.mean,
            s.occupancy.min,
            s.abandon_rate.mean,
            s.abandon_rate.max,
            s.calls_per_agent_hour,
            s.first_dial_latency_s.p50,
            s.first_dial_latency_s.p99
        );
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
