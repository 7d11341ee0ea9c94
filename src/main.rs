//! The `predial` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[global_allocator]
static ALLOCATOR: predial::bench::alloc::Counting = predial::bench::alloc::Counting;

#[derive(Parser)]
#[command(
    name = "predial",
    version,
    about = "SIP predictive dialer engine",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// See predial work: a built-in carrier and built-in operators on softphones, over real SIP
    /// and RTP on loopback, with sample leads and a live view (Ctrl-C stops it).
    Demo(cli::demo::DemoArgs),
    /// Simulate a day of dialing: the real scheduler on a virtual clock, with simulated callees,
    /// operators and arriving leads. Prints the KPIs.
    Sim(Box<cli::sim::SimArgs>),
    /// Run a campaign of leads from a file through the trunks, with stand-in operators, until
    /// every lead is closed.
    Dial(Box<cli::dial::DialArgs>),
    /// One test call through a trunk with its media: play prompts, send and hear digits,
    /// detect answering machines, record; reports SIP and RTP figures.
    Call(Box<cli::call::CallArgs>),
    /// Answering-machine detection on recordings of answered calls (WAV): human, machine or
    /// not sure, and how long it took to decide.
    Amd(cli::amd::AmdArgs),
    /// Check the trunk profiles: exit 0 when valid, else one line per problem,
    /// FILE:LINE: FIELD: what is wrong and what to do.
    CheckConfig(cli::check::CheckArgs),
    /// Run the control API (REST under /v1/, /openapi.json, /metrics) over the store.
    Serve(Box<cli::serve::ServeArgs>),
    /// Leads in the store.
    #[command(subcommand)]
    Leads(cli::leads::LeadsCommand),
    /// The business's numbers from the store (contact and approve rates, duplicates, fakes,
    /// average check, upsells, times to first attempt and confirmation, calls per operator),
    /// by date, hour, campaign, group or operator.
    Report(cli::report::ReportArgs),
    /// Measure a part of predial on this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The scheduler with a million queued leads: decisions per second, tick cost, memory.
    Scheduler(cli::bench::SchedulerArgs),
    /// Calls per second against a SIP peer (a SIPp UAS): N short calls (answered, held,
    /// hung up) offered at a rate; setup latency, failures, calls up at once.
    Cps(cli::bench::CpsArgs),
    /// Answering-machine detection on the project's labelled set (benches/amd): accuracy,
    /// humans taken for machines, decision time.
    Amd(cli::bench::AmdBenchArgs),
    /// Bridged calls relayed (and recorded) on loopback: CPU, packet loss, latency.
    Relay(cli::bench::RelayArgs),
    /// Leads taken in through the API and through a file import, with duplicate checks, into
    /// SQLite or PostgreSQL: leads per second; and the start-up rebuild from the store.
    Ingest(cli::bench::IngestArgs),
    /// Inbound callers (SIPp UACs) all at once into a queue of operators on softphones: time
    /// from answer to operator, announced against actual waits, calls per operator.
    Inbound(cli::bench::InboundArgs),
    /// The 49 torture messages of RFC 4475 sent to a SIP element over UDP and TCP: what it
    /// answers to each against what the RFC expects, and whether it still answers OPTIONS.
    Torture(cli::bench::TortureArgs),
    /// The simulated callers and operators of `bench relay` (started by it).
    #[command(hide = true)]
    RelayPeers(cli::bench::RelayPeersArgs),
}

/// Logs go to stderr (stdout is for results and `--json`). `PREDIAL_LOG` sets what is logged,
/// in `tracing` filter syntax; the default is predial's own notices and warnings, and only the
/// SIP stack's warnings.
fn start_logging(quiet: bool) {
    // The demo's live view redraws stderr: only warnings go there unless asked for.
    let default = if quiet {
        "predial=warn,rsipstack=error,warn"
    } else {
        "predial=info,rsipstack=warn,warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PREDIAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    start_logging(matches!(
        cli.command,
        Command::Demo(_) | Command::Bench(BenchCommand::Inbound(_))
    ));
    // One TLS crypto provider for the whole process (trunks over TLS, webhooks over https).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match cli.command {
        Command::Demo(args) => cli::demo::demo(args),
        Command::Sim(args) => cli::sim::run(*args),
        Command::Bench(BenchCommand::Scheduler(args)) => cli::bench::scheduler(args),
        Command::Bench(BenchCommand::Cps(args)) => cli::bench::cps(args),
        Command::Bench(BenchCommand::Amd(args)) => cli::bench::amd(args),
        Command::Bench(BenchCommand::Relay(args)) => cli::bench::relay(args),
        Command::Bench(BenchCommand::RelayPeers(args)) => cli::bench::relay_peers(args),
        Command::Bench(BenchCommand::Ingest(args)) => cli::bench::ingest(args),
        Command::Bench(BenchCommand::Inbound(args)) => cli::bench::inbound(args),
        Command::Bench(BenchCommand::Torture(args)) => cli::bench::torture(args),
        Command::CheckConfig(args) => cli::check::check(args),
        Command::Serve(args) => cli::serve::serve(*args),
        Command::Leads(cmd) => cli::leads::leads(cmd),
        Command::Report(args) => cli::report::report(args),
        Command::Dial(args) => cli::dial::dial(*args),
        Command::Amd(args) => cli::amd::amd(args),
        Command::Call(args) => cli::call::call(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Config problems are printed one per line, each naming its file, line and field.
            if let Some(errors) = e.downcast_ref::<predial::config::ConfigErrors>() {
                eprintln!("{errors}");
            } else if let Some(error) = e.downcast_ref::<predial::config::ConfigError>() {
                eprintln!("{error}");
            } else {
                eprintln!("predial: {e:#}");
            }
            ExitCode::from(1)
        }
    }
}
