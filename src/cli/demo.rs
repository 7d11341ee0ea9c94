//! `predial demo`: the whole outbound path on loopback, with a built-in carrier and built-in
//! operators on softphones; a live view, or one JSON object at the end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use predial::demo::{DemoOptions, run};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this many seconds (0: run until Ctrl-C).
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    duration: f64,
    /// Sample leads loaded.
    #[arg(long, value_name = "N", default_value_t = 40)]
    leads: u32,
    /// Demo operators (softphones).
    #[arg(long, value_name = "N", default_value_t = 4)]
    operators: u32,
    /// Keep the store and the recordings in this folder (default: a scratch folder, removed).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Where predial's SIP listens (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    sip_listen: String,
    /// The last operator misses one call in four and dials *1 a few seconds later: shows a
    /// call moved on from an operator who does not pick up (or abandoned, when nobody else is
    /// free), and the feature codes.
    #[arg(long)]
    missed_calls: bool,
    /// Print one JSON object at the end instead of the live view.
    #[arg(long)]
    json: bool,
}

pub fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if !(args.duration.is_finite() && (0.0..=86_400.0).contains(&args.duration)) {
        bail!("--duration: use seconds from 0 (until Ctrl-C) to 86400");
    }
    if args.leads == 0 || args.leads > 100_000 {
        bail!("--leads: use 1 to 100000");
    }
    if args.operators == 0 || args.operators > 20 {
        bail!("--operators: use 1 to 20");
    }
    let sip_listen = args.sip_listen.parse().with_context(|| {
        format!(
            "--sip-listen: `{}` is not an address like 127.0.0.1:5060",
            args.sip_listen
        )
    })?;
    let options = DemoOptions {
        duration: (args.duration > 0.0).then(|| Duration::from_secs_f64(args.duration)),
        leads: args.leads,
        operators: args.operators,
        data: args.data,
        sip_listen,
        live: !args.json,
        missed_calls: args.missed_calls,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(options))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} leads, {} calls, {} answered, {} bridged to operators, {} abandoned ({:.1}%)",
            report.leads,
            report.calls,
            report.answered,
            report.bridged,
            report.abandoned,
            report.abandon_rate * 100.0
        );
        println!(
            "answer to operator: p50 {:.0} ms, p99 {:.0} ms; dial lag: p50 {:.1} ms, p99 {:.1} ms",
            report.answer_to_bridge_ms.p50,
            report.answer_to_bridge_ms.p99,
            report.dial_lag_ms.p50,
            report.dial_lag_ms.p99
        );
        let results: Vec<String> = report
            .results
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!("results keyed in by the operators: {}", results.join(", "));
        let states: Vec<String> = report
            .lead_states
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!("leads now: {}", states.join(", "));
        println!("{} calls recorded", report.recordings);
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(ExitCode::SUCCESS)
}
