//! `predial bench ...`.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use predial::bench::scheduler;

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Leads to queue.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    leads: u64,
    /// Operators taking calls.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    operators: u32,
    /// One-second ticks to measure.
    #[arg(long, value_name = "N", default_value_t = 7200)]
    ticks: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn scheduler(args: SchedulerArgs) -> anyhow::Result<ExitCode> {
    if args.leads == 0 || args.leads > 50_000_000 {
        bail!("--leads: use 1 to 50000000");
    }
    if args.operators == 0 || args.operators > 1_000_000 {
        bail!("--operators: use 1 to 1000000");
    }
    let r = scheduler::run(&scheduler::Options {
        leads: args.leads,
        operators: args.operators,
        tick_seconds: args.ticks,
        progress: true,
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&r).expect("the report serialises")
        );
    } else {
        println!(
            "predial bench scheduler: {} leads ({} accepted), {} operators",
            r.leads, r.leads_accepted, r.operators
        );
        println!(
            "  load                {:>12.0} leads/s  ({:.1} s)",
            r.load_leads_per_s, r.load_s
        );
        println!(
            "  decisions           {:>12.0} per s    ({} dials)",
            r.decisions_per_s, r.decisions
        );
        println!(
            "  tick                p50 {:.1} us   p99 {:.1} us   max {:.1} us  ({} ticks, {} dials)",
            r.tick_us.p50, r.tick_us.p99, r.tick_max_us, r.ticks, r.tick_dials
        );
        println!(
            "  handle              {:>12.0} ns per event",
            r.handle_ns_per_event
        );
        println!(
            "  memory              {:>12.0} bytes per lead",
            r.bytes_per_lead
        );
    }
    Ok(ExitCode::SUCCESS)
}
