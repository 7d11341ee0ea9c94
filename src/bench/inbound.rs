//! `predial bench inbound`: N buyers call at once (SIPp UACs through a trunk) into one queue of M
//! operators on softphones (in-process, registered with digest, auto-answering, talking a few
//! seconds each). Measured: from the moment a caller could be served (queued, and their
//! operator ready) to the operator bridged; announced minus actual waits; callers lost in the
//! queue; how evenly the calls were spread.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use predial_core::acd::{Distribution, QueuePolicy};
use serde::Serialize;

use crate::demo::peers::{Habits, Softphone};
use crate::engine::inbound::Spread;
use crate::engine::media::MediaConfig;
use crate::engine::{Percentiles, Service, ServiceConfig};
use crate::inbound::config::{BotConfig, InboundConfig, NumberRoute, QueueConfig, Target};
use crate::media::phrases::Lang;
use crate::registrar::{Account, Registrar};
use crate::sip::SipOptions;
use crate::store::Store;
use crate::trunks::TrunkProfile;

/// What stops the inbound benchmark: SIPp, the engine, the softphones and their sockets.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("sipp is not installed: apt-get install sip-tester (the callers are SIPp UACs)")]
    NoSipp,
    #[error("only {ready} of {operators} operators registered within 30 s")]
    NotRegistered { ready: usize, operators: usize },
    #[error(transparent)]
    Bench(#[from] super::BenchError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Address(#[from] std::net::AddrParseError),
    #[error(transparent)]
    Trunk(#[from] toml::de::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Service(#[from] crate::engine::ServiceError),
    #[error(transparent)]
    Softphone(#[from] crate::demo::DemoError),
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

/// The SIPp caller: waits on the line until predial (the operator) hangs up.
const CALLER: &str = include_str!("../../tests/sipp/uac-inbound-until-bye.xml");

#[derive(Debug, Clone)]
pub struct Options {
    pub callers: u32,
    pub operators: u32,
    /// Each call's talk time, seconds (lo, hi), drawn per call.
    pub talk_s: (u64, u64),
    /// Wrap-up after each call.
    pub wrap_up: Duration,
    /// The queue's first guess of a call's length (then learned from the calls).
    pub handle_time: Duration,
    pub distribution: Distribution,
    /// Callers dialled per second by SIPp.
    pub rate: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct MinMax {
    pub min: u64,
    pub max: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct InboundBench {
    pub callers: u32,
    pub operators: u32,
    /// Calls answered by predial (queued).
    pub calls: u64,
    /// Calls that reached an operator.
    pub bridged: u64,
    /// From the moment a caller could be served (queued, and the operator they were given
    /// ready) to the operator's media bridged (the operator's phone rang and answered), ms.
    pub answer_to_operator_ms: Percentiles,
    /// Announced wait (the first announcement) minus the actual wait, seconds.
    pub ewt_error_s: Spread,
    /// The same, had the waits been announced by Asterisk app_queue's `announce-holdtime`
    /// formula (the queue's running average wait, minus the time already waited).
    pub reference_ewt_error_s: Spread,
    pub abandoned_in_queue: u64,
    pub calls_per_operator: MinMax,
    /// The queue's service level (answered within 20 s).
    pub service_level: f64,
    /// The handle time the queue learned, s.
    pub handle_time_learned_s: f64,
    pub talk_s: (u64, u64),
    pub handle_time_guess_s: f64,
    pub wall_s: f64,
    /// Whether SIPp saw every call go as its scenario expects.
    pub sipp_ok: bool,
}

/// A scratch folder, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_udp_port() -> std::io::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub async fn run(opts: &Options) -> Result<InboundBench, InboundError> {
    super::raise_open_files(4 * opts.callers as usize + 1024)?;
    let found = Command::new("sh")
        .args(["-c", "command -v sipp"])
        .stdout(Stdio::null())
        .status()?;
    if !found.success() {
        return Err(InboundError::NoSipp);
    }
    let dir = std::env::temp_dir().join(format!("predial-bench-inbound-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let scratch = Scratch(dir.clone());
    let store = Store::open(None, &dir).await?;

    // Operators: accounts in the registrar.
    let secret = crate::crypto::random_bytes::<32>()?;
    let mut registrar = Registrar::new(secret);
    let mut accounts = Vec::new();
    for i in 1..=opts.operators {
        let login = format!("op-{i}");
        let password = crate::crypto::random_token()?;
        registrar.set_account(&login, Account::from_password(&login, &password));
        accounts.push((login, password));
    }
    // The callers' trunk: SIPp sends from this port.
    let sipp_port = free_udp_port()?;
    let trunk: TrunkProfile = toml::from_str(&format!(
        "name = \"callers\"\nowner = \"own\"\naddress = \"127.0.0.1:{sipp_port}\"\nchannels = 1\ncps = 1\ncaller_id = \"+74950000000\"\nenabled = true\n"
    ))?;
    let inbound = InboundConfig {
        queues: vec![QueueConfig {
            name: "bench".into(),
            policy: QueuePolicy {
                distribution: opts.distribution,
                max_wait: Duration::from_secs(3600),
                announce_every: Duration::from_secs(30),
                service_level: Duration::from_secs(20),
                wrap_up: opts.wrap_up,
                handle_time: opts.handle_time,
                hold_back_outbound_at: 1,
            },
            ring_timeout: Duration::from_secs(15),
            promo: false,
            callback_campaign: None,
            hours: None,
            time_zone: chrono_tz::Europe::Moscow,
        }],
        numbers: vec![NumberRoute {
            number: "*".into(),
            trunk: None,
            target: Target::Queue("bench".into()),
        }],
        bot: BotConfig::default(),
        email: None,
        missed_burst: Default::default(),
    };
    let service = Service::start(ServiceConfig {
        store: store.clone(),
        trunks: vec![trunk],
        registrar: Arc::new(Mutex::new(registrar)),
        operators: accounts
            .iter()
            .map(|(l, _)| (l.clone(), Vec::new()))
            .collect(),
        sip: SipOptions {
            listen: "127.0.0.1:0".parse()?,
            ..SipOptions::default()
        },
        media: MediaConfig {
            ports: (46_000, 49_998),
            recordings: None,
            lang: Lang::En,
            ..MediaConfig::default()
        },
        answer_timeout: Duration::from_secs(15),
        dtmf_callback_after: Duration::from_secs(3600),
        events: None,
        inbound: Arc::new(inbound),
        intake: None,
    })
    .await?;
    let mut phones = Vec::new();
    for (i, (login, password)) in accounts.iter().enumerate() {
        let first = 50_000 + (i as u16 % 40) * 200;
        phones.push(
            Softphone::start(
                login,
                password,
                service.sip_addr,
                (first, first + 198),
                Habits {
                    talk_s: opts.talk_s,
                    misses_one_in: 0,
                },
                0xbe7c_0000 + i as u64,
            )
            .await?,
        );
    }
    // Every operator registered and ready.
    let mut figures = service.figures.clone();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = figures
            .borrow()
            .operators
            .iter()
            .filter(|o| o.state == "ready")
            .count();
        if ready == accounts.len() {
            break;
        }
        if Instant::now() >= until {
            return Err(InboundError::NotRegistered {
                ready,
                operators: accounts.len(),
            });
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), figures.changed()).await;
    }
    // The callers' RTP goes to one sink.
    let sink = UdpSocket::bind("127.0.0.1:0")?;
    let sink_port = sink.local_addr()?.port();
    sink.set_read_timeout(Some(Duration::from_millis(200)))?;
    let draining = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let d = draining.clone();
    let drain = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while d.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = sink.recv(&mut buf);
        }
    });
    let scenario = dir.join("caller.xml");
    std::fs::write(&scenario, CALLER)?;
    let csv = dir.join("callers.csv");
    let mut lines = String::from("SEQUENTIAL\n");
    for i in 0..opts.callers {
        lines += &format!("7916{:07};100;{sink_port}\n", 1_000_000 + i);
    }
    std::fs::write(&csv, lines)?;
    // A bound on the whole run: every caller served, one operator round after another.
    let rounds = u64::from(opts.callers.div_ceil(opts.operators.max(1)));
    let bound = Duration::from_secs(
        rounds * (opts.talk_s.1 + opts.wrap_up.as_secs() + 20) + opts.callers as u64 / 10 + 60,
    );
    let started = Instant::now();
    let target: SocketAddr = service.sip_addr;
    let sipp = run_sipp(
        &scenario,
        &csv,
        target,
        sipp_port,
        opts.callers,
        opts.rate,
        bound,
        &dir,
    );
    let sipp_ok = tokio::task::spawn_blocking(sipp).await??;
    let wall_s = started.elapsed().as_secs_f64();
    draining.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = drain.join();
    let report = service.stop().await?;
    drop(phones);
    store.close().await;
    drop(scratch);
    let calls: Vec<u64> = report.operators.iter().map(|o| o.calls).collect();
    let q = report.inbound.queues.first();
    Ok(InboundBench {
        callers: opts.callers,
        operators: opts.operators,
        calls: report.inbound.calls,
        bridged: report.inbound.bridged,
        answer_to_operator_ms: report.inbound.answer_to_operator_ms,
        ewt_error_s: report.inbound.ewt_error_s,
        reference_ewt_error_s: report.inbound.reference_ewt_error_s,
        abandoned_in_queue: report.inbound.abandoned_in_queue,
        calls_per_operator: MinMax {
            min: calls.iter().copied().min().unwrap_or(0),
            max: calls.iter().copied().max().unwrap_or(0),
        },
        service_level: q.map_or(0.0, |q| q.figures.service_level),
        handle_time_learned_s: q.map_or(0.0, |q| q.figures.handle_time_ms as f64 / 1000.0),
        talk_s: opts.talk_s,
        handle_time_guess_s: opts.handle_time.as_secs_f64(),
        wall_s: (wall_s * 10.0).round() / 10.0,
        sipp_ok,
    })
}

/// Runs the SIPp callers; true when every call went as the scenario expects.
#[allow(clippy::too_many_arguments)]
fn run_sipp(
    scenario: &Path,
    csv: &Path,
    target: SocketAddr,
    port: u16,
    callers: u32,
    rate: f64,
    bound: Duration,
    dir: &Path,
) -> impl FnOnce() -> std::io::Result<bool> + Send + 'static {
    let mut cmd = Command::new("sipp");
    cmd.arg("-sf")
        .arg(scenario)
        .arg("-inf")
        .arg(csv)
        .arg(target.to_string())
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-m", &callers.to_string(), "-l", &callers.to_string()])
        .args(["-r", &format!("{}", rate.max(1.0) as u64), "-rp", "1000"])
        .args(["-nostdin", "-timeout", &format!("{}s", bound.as_secs())])
        .args(["-max_socket", &(callers + 64).to_string()])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    move || {
        let status = cmd.status()?;
        Ok(status.success())
    }
}
