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

#[derive(Debug, Args)]
pub struct CpsArgs {
    /// The SIP peer to call, HOST:PORT (a SIPp UAS: `sipp -sn uas -i 127.0.0.1 -p 5090`).
    #[arg(long, value_name = "HOST:PORT")]
    target: String,
    /// Calls to place.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    calls: u64,
    /// Calls offered per second.
    #[arg(long, value_name = "R", default_value_t = 2_000.0)]
    rate: f64,
    /// How long each answered call is held before predial hangs up, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2_000)]
    hold_ms: u64,
    /// Where predial listens for SIP (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    sip_listen: String,
    /// Calls waiting for the peer's first answer (INVITE sent, no 180/183/200 yet), at most;
    /// past it the offered rate waits instead of overloading the peer or predial.
    #[arg(long, value_name = "N", default_value_t = 200)]
    max_pending: usize,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn cps(args: CpsArgs) -> anyhow::Result<ExitCode> {
    if predial::trunks::profile::host_port(&args.target).is_none() {
        bail!(
            "--target: `{}` is not HOST:PORT (like 127.0.0.1:5090)",
            args.target
        );
    }
    if args.calls == 0 || args.calls > 10_000_000 {
        bail!("--calls: use 1 to 10000000");
    }
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 100_000.0) {
        bail!("--rate: use more than 0 and at most 100000 calls per second");
    }
    if args.hold_ms > 3_600_000 {
        bail!("--hold-ms: at most 3600000 (an hour)");
    }
    let listen = args.sip_listen.parse().map_err(|_| {
        anyhow::anyhow!(
            "--sip-listen: `{}` is not an address like 127.0.0.1:0",
            args.sip_listen
        )
    })?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    if threads == 0 || threads > 256 {
        bail!("--threads: use 1 to 256");
    }
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    let r = runtime.block_on(predial::bench::cps::run(predial::bench::cps::Options {
        target: args.target,
        calls: args.calls,
        rate: args.rate,
        hold: std::time::Duration::from_millis(args.hold_ms),
        listen,
        max_pending: args.max_pending.max(1),
        progress: !args.json,
    }));
    // Answered calls leave their INVITE transactions draining for 32 s (RFC 6026); nothing
    // waits for them.
    runtime.shutdown_background();
    let r = r?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&r).expect("the report serialises")
        );
    } else {
        println!(
            "predial bench cps: {} calls to {} offered at {}/s, held {} ms",
            r.calls, r.target, r.offered_cps, r.hold_ms
        );
        println!(
            "  completed           {:>8}  failed {}{}",
            r.completed,
            r.failed,
            if r.failures.is_empty() {
                String::new()
            } else {
                format!(" ({:?})", r.failures)
            }
        );
        println!("  calls per second    {:>8.0}", r.cps);
        println!(
            "  setup (INVITE->200) p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
            r.setup_ms.p50, r.setup_ms.p99, r.setup_ms.max
        );
        println!("  calls up at once    {:>8}", r.concurrent_max);
    }
    // Failures are a result of the measurement, reported above, not an error of the command.
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct AmdBenchArgs {
    /// The labelled set: a folder with labels.tsv and set/ (default: the project's own,
    /// benches/amd).
    #[arg(long, value_name = "DIR")]
    set: Option<std::path::PathBuf>,
    #[command(flatten)]
    flags: super::amd::AmdFlags,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn amd(args: AmdBenchArgs) -> anyhow::Result<ExitCode> {
    let settings = args.flags.settings()?;
    let dir = args.set.unwrap_or_else(|| {
        let here = std::path::PathBuf::from("benches/amd");
        if here.join("labels.tsv").exists() {
            here
        } else {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/amd")
        }
    });
    let r = predial::bench::amd::run(&dir, &settings).map_err(|e| anyhow::anyhow!("--set: {e}"))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&r).expect("the report serialises")
        );
    } else {
        println!("predial bench amd: {} samples in {}", r.samples, r.set);
        println!("  accuracy            {:>6.1}%", r.accuracy * 100.0);
        println!("  humans as machines  {:>6.1}%", r.human_as_machine * 100.0);
        println!("  machines as humans  {:>6.1}%", r.machine_as_human * 100.0);
        println!("  not sure            {:>6.1}%", r.not_sure * 100.0);
        println!(
            "  decision            median {:.0} ms, p90 {:.0} ms",
            r.median_decision_ms, r.p90_decision_ms
        );
        for (g, v) in &r.by_group {
            println!(
                "  {g:<10} {}/{} right, humans as machines {}, machines as humans {}",
                v.correct, v.samples, v.human_as_machine, v.machine_as_human
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Bridged calls (two media legs each).
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    calls: usize,
    /// How long the calls talk.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    seconds: f64,
    /// Do not record the calls (recording is on by default, as in production).
    #[arg(long)]
    no_record: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn relay(args: RelayArgs) -> anyhow::Result<ExitCode> {
    if args.calls == 0 || args.calls > 20_000 {
        bail!("--calls: use 1 to 20000");
    }
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        bail!("--seconds: use more than 0 and at most 3600");
    }
    predial::bench::raise_open_files(4 * args.calls + 100)?;
    let r = predial::bench::relay::run(args.calls, args.seconds, !args.no_record)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&r).expect("the report serialises")
        );
    } else {
        println!(
            "predial bench relay: {} bridged calls for {} s{}",
            r.calls,
            r.seconds,
            if r.recorded { ", recorded" } else { "" }
        );
        println!(
            "  packets             {} sent, {} lost ({:.4}%)",
            r.packets_sent,
            r.packets_lost,
            r.loss_ratio * 100.0
        );
        println!(
            "  relay CPU           {:.1}% of a core, {:.1} us per call-second",
            r.cpu_percent, r.cpu_us_per_call_second
        );
        println!(
            "  latency             p50 {:.0} us, p99 {:.0} us through the relay (direct: p50 {:.0} us, p99 {:.0} us)",
            r.added_latency_us.p50,
            r.added_latency_us.p99,
            r.direct_latency_us.p50,
            r.direct_latency_us.p99
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct RelayPeersArgs {
    #[arg(long)]
    calls: usize,
    #[arg(long)]
    seconds: f64,
}

pub fn relay_peers(args: RelayPeersArgs) -> anyhow::Result<ExitCode> {
    predial::bench::raise_open_files(2 * args.calls + 100)?;
    predial::bench::relay::peers(args.calls, args.seconds)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct IngestArgs {
    /// How many leads (5% of them sent twice, 3% impossible numbers).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    leads: u64,
    /// A PostgreSQL server (postgres://USER@HOST/DB): each run gets a fresh database there,
    /// dropped afterwards. Default: SQLite in a temporary folder.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Through the API, a file import, or both.
    #[arg(long, value_enum, default_value = "both")]
    via: predial::bench::ingest::Via,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
    if args.leads == 0 || args.leads > 100_000_000 {
        bail!("--leads: use 1 to 100000000");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(predial::bench::ingest::run(
        args.leads,
        args.database.as_deref(),
        args.via,
    ))?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "predial bench ingest: {} leads into {}",
            r.leads, r.database
        );
        for (name, run) in [("file import", &r.cli), ("API", &r.api)] {
            if let Some(run) = run {
                println!(
                    "  {name:<12} {:>9.0} leads/s ({:.1} s): {} accepted, {} duplicates, {} invalid; \
                     start-up rebuild of {} leads {:.0} ms",
                    run.leads_per_s,
                    run.seconds,
                    run.accepted,
                    run.duplicates,
                    run.invalid,
                    run.rebuilt_leads,
                    run.rebuild_ms
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct InboundArgs {
    /// Buyers calling at once (SIPp UACs through a trunk), all into one queue.
    #[arg(long, value_name = "N", default_value_t = 200)]
    callers: u32,
    /// Operators serving the queue (softphones registered to predial, auto-answering).
    #[arg(long, value_name = "M", default_value_t = 20)]
    operators: u32,
    /// Each call's talk time, seconds, LO-HI (drawn per call).
    #[arg(long, value_name = "LO-HI", default_value = "4-8")]
    talk_s: String,
    /// Operators' wrap-up after each call, seconds.
    #[arg(long, value_name = "S", default_value_t = 1)]
    wrap_up_s: u64,
    /// The queue's first guess of a call's length, seconds (then learned from the calls)
    /// [default: the middle of --talk-s].
    #[arg(long, value_name = "S")]
    handle_time_s: Option<f64>,
    /// longest_idle, round_robin or fewest_calls.
    #[arg(long, value_name = "HOW", default_value = "longest_idle")]
    distribution: String,
    /// Callers dialled per second.
    #[arg(long, value_name = "R", default_value_t = 100.0)]
    rate: f64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn inbound(args: InboundArgs) -> anyhow::Result<ExitCode> {
    use predial::bench::inbound;
    if args.callers == 0 || args.callers > 5_000 {
        bail!("--callers: use 1 to 5000");
    }
    if args.operators == 0 || args.operators > 200 {
        bail!("--operators: use 1 to 200");
    }
    let talk_s = args
        .talk_s
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)))
        .filter(|(a, b)| *a >= 1 && a <= b && *b <= 600)
        .ok_or_else(|| anyhow::anyhow!("--talk-s: `{}`: LO-HI seconds, like 4-8", args.talk_s))?;
    if args.wrap_up_s > 300 {
        bail!("--wrap-up-s: at most 300");
    }
    let handle = args
        .handle_time_s
        .unwrap_or((talk_s.0 + talk_s.1) as f64 / 2.0);
    if !(handle.is_finite() && handle > 0.0 && handle <= 3600.0) {
        bail!("--handle-time-s: more than 0 and at most 3600");
    }
    let distribution = match args.distribution.as_str() {
        "longest_idle" => predial_core::acd::Distribution::LongestIdle,
        "round_robin" => predial_core::acd::Distribution::RoundRobin,
        "fewest_calls" => predial_core::acd::Distribution::FewestCalls,
        other => bail!("--distribution: `{other}`: longest_idle, round_robin or fewest_calls"),
    };
    if !(args.rate.is_finite() && args.rate >= 1.0 && args.rate <= 1_000.0) {
        bail!("--rate: 1 to 1000 callers per second");
    }
    let opts = inbound::Options {
        callers: args.callers,
        operators: args.operators,
        talk_s,
        wrap_up: std::time::Duration::from_secs(args.wrap_up_s),
        handle_time: std::time::Duration::from_secs_f64(handle),
        distribution,
        rate: args.rate,
    };
    if !args.json {
        eprintln!(
            "predial bench inbound: {} callers into a queue of {} operators (talk {}-{} s)...",
            opts.callers, opts.operators, talk_s.0, talk_s.1
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let r = rt.block_on(inbound::run(&opts))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&r).expect("the report serialises")
        );
    } else {
        println!(
            "predial bench inbound: {} callers, {} operators, {:.0} s",
            r.callers, r.operators, r.wall_s
        );
        println!(
            "  answer to operator   p50 {:.1} ms   p99 {:.1} ms  ({} calls bridged)",
            r.answer_to_operator_ms.p50, r.answer_to_operator_ms.p99, r.bridged
        );
        println!(
            "  announced - actual   median {:+.1} s   p90 {:+.1} s   |p90| {:.1} s  ({} announced)",
            r.ewt_error_s.median, r.ewt_error_s.p90, r.ewt_error_s.abs_p90, r.ewt_error_s.samples
        );
        println!(
            "  Asterisk's formula   median {:+.1} s   p90 {:+.1} s   |p90| {:.1} s  (the reference)",
            r.reference_ewt_error_s.median,
            r.reference_ewt_error_s.p90,
            r.reference_ewt_error_s.abs_p90
        );
        println!(
            "  calls per operator   min {}   max {}",
            r.calls_per_operator.min, r.calls_per_operator.max
        );
        println!(
            "  abandoned in queue   {}   service level {:.2}   SIPp {}",
            r.abandoned_in_queue,
            r.service_level,
            if r.sipp_ok { "ok" } else { "saw failures" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct TortureArgs {
    /// The SIP element to send the RFC 4475 torture messages to (predial, Kamailio, ...).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5060")]
    target: std::net::SocketAddr,
    /// udp, tcp, or both.
    #[arg(long, value_name = "T", default_value = "both")]
    transport: String,
    /// How long to wait for each answer, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    wait_ms: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn torture(args: TortureArgs) -> anyhow::Result<ExitCode> {
    use predial::bench::torture::{self, Transport};
    let transports = match args.transport.as_str() {
        "udp" => vec![Transport::Udp],
        "tcp" => vec![Transport::Tcp],
        "both" => vec![Transport::Udp, Transport::Tcp],
        other => bail!("--transport: `{other}`: udp, tcp or both"),
    };
    if !(10..=30_000).contains(&args.wait_ms) {
        bail!("--wait-ms: use 10 to 30000");
    }
    let wait = std::time::Duration::from_millis(args.wait_ms);
    let mut runs = serde_json::Map::new();
    for t in transports {
        let outcomes = torture::run(args.target, t, wait).map_err(|e| {
            anyhow::anyhow!("{}: {e} (is a SIP element listening there?)", args.target)
        })?;
        let agree = outcomes.iter().filter(|o| o.agrees).count();
        let alive = outcomes
            .iter()
            .filter(|o| o.options_after == Some(200))
            .count();
        let name = t.name().to_string();
        if !args.json {
            println!(
                "{} over {name}: {agree} of {} answered as RFC 4475 says; a valid OPTIONS answered 200 after {alive}",
                args.target,
                outcomes.len()
            );
            for o in &outcomes {
                let answer = o.answer.map_or("-".to_string(), |c| c.to_string());
                let mark = if o.agrees { " " } else { "!" };
                println!(
                    "{mark} {:<9} {:<11} rfc {:<18} answer {answer:<4} {}",
                    o.section, o.name, o.rfc, o.title
                );
            }
        }
        runs.insert(
            name,
            serde_json::json!({
                "messages": outcomes,
                "agree": agree,
                "total": outcomes.len(),
                "options_alive": alive,
            }),
        );
    }
    if args.json {
        let mut out = serde_json::Map::new();
        out.insert("target".into(), args.target.to_string().into());
        out.insert("wait_ms".into(), args.wait_ms.into());
        out.extend(runs);
        println!("{}", serde_json::Value::Object(out));
    }
    Ok(ExitCode::SUCCESS)
}
