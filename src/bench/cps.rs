//! `predial bench cps`: how many calls per second predial's SIP side sets up against a SIP peer
//! (a SIPp UAS), and how fast: N short calls (INVITE, answered, held, BYE) offered at a fixed
//! rate.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::sip::{CallEnd, CallEvent, Ending, Outbound, SipAgent, SipError, SipOptions, sdp};

#[derive(Debug, Clone)]
pub struct Options {
    /// The peer's `host:port`.
    pub target: String,
    pub calls: u64,
    /// Calls offered per second.
    pub rate: f64,
    /// How long each answered call is held before our BYE.
    pub hold: Duration,
    /// Where predial's SIP side listens.
    pub listen: SocketAddr,
    /// Calls waiting for the peer's first answer (INVITE sent, no 180/183/200 yet), at most:
    /// past it the offered rate waits, so an overloaded peer (or predial) slows the calls down
    /// instead of drowning in retransmissions.
    pub max_pending: usize,
    /// Print progress on stderr once a second.
    pub progress: bool,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Millis {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    /// Calls placed.
    pub calls: u64,
    /// Answered, held, and hung up by our BYE, all acknowledged.
    pub completed: u64,
    /// Every other ending.
    pub failed: u64,
    /// The rate asked for.
    pub offered_cps: f64,
    /// Completed calls per second, from the first INVITE to the last answer.
    pub cps: f64,
    /// INVITE sent to 200 OK received.
    pub setup_ms: Millis,
    /// Calls up at once, at most.
    pub concurrent_max: u64,
    pub hold_ms: u64,
    pub duration_s: f64,
    /// Failures by how they ended (`503`, `timeout`, `hung_up_by_peer`, ...).
    pub failures: BTreeMap<String, u64>,
}

/// How one call went.
struct Done {
    setup: Option<Duration>,
    answered_at: Option<Instant>,
    end: CallEnd,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn failure_name(end: &CallEnd) -> String {
    match end {
        CallEnd::HungUpByUs => "none".into(),
        CallEnd::HungUpByThem => "hung_up_by_peer".into(),
        CallEnd::NotAnswered { ending, .. } => match ending {
            Ending::Status(code) => code.to_string(),
            Ending::RingTimeout => "ring_timeout".into(),
            Ending::NoResponse => "timeout".into(),
            Ending::LocalFailure => "not_sent".into(),
        },
    }
}

/// Runs the benchmark; must be called inside a tokio runtime.
pub async fn run(options: Options) -> Result<Report, SipError> {
    let agent = Arc::new(
        SipAgent::start(SipOptions {
            listen: options.listen,
            ..SipOptions::default()
        })
        .await?,
    );
    let live = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let started = Instant::now();
    let offer = sdp::offer(0, SocketAddr::new(agent.local_addr().ip(), 40_000));

    // The launcher: one call every 1/rate seconds, each run by its own task.
    let launcher = {
        let agent = agent.clone();
        let (live, peak) = (live.clone(), peak.clone());
        let options = options.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let pending = Arc::new(tokio::sync::Semaphore::new(options.max_pending));
            for i in 0..options.calls {
                let due = start + Duration::from_secs_f64(i as f64 / options.rate);
                if due > tokio::time::Instant::now() {
                    tokio::time::sleep_until(due).await;
                }
                let Ok(permit) = pending.clone().acquire_owned().await else {
                    return;
                };
                let (tx, mut rx) = mpsc::unbounded_channel();
                let control = agent.call(
                    Outbound {
                        id: i,
                        lead: i,
                        trunk: "bench".into(),
                        request_uri: format!(
                            "sip:{}@{}",
                            79_990_000_000u64 + i % 1_000_000,
                            options.target
                        ),
                        from_user: "bench".into(),
                        from_host: options.target.clone(),
                        credential: None,
                        next_hop: None,
                        flow: None,
                        transport: Default::default(),
                        ring_timeout: Duration::from_secs(30),
                        sdp_offer: offer.clone(),
                        headers: Vec::new(),
                    },
                    tx,
                );
                let now_live = live.fetch_add(1, Ordering::Relaxed) + 1;
                peak.fetch_max(now_live, Ordering::Relaxed);
                let (live, done_tx, hold) = (live.clone(), done_tx.clone(), options.hold);
                tokio::spawn(async move {
                    let mut permit = Some(permit);
                    let mut setup = None;
                    let mut answered_at = None;
                    // Far off until answered; then the end of the hold.
                    let hang_up_at = tokio::time::sleep(Duration::from_secs(86_400));
                    tokio::pin!(hang_up_at);
                    let end = loop {
                        tokio::select! {
                            u = rx.recv() => match u.map(|u| u.event) {
                                Some(CallEvent::Answered { setup: s, .. }) => {
                                    permit = None;
                                    setup = Some(s);
                                    answered_at = Some(Instant::now());
                                    hang_up_at.as_mut().reset(tokio::time::Instant::now() + hold);
                                }
                                Some(CallEvent::Ended(end)) => break end,
                                // The peer has the call: it no longer counts as pending.
                                Some(CallEvent::Ringing) => permit = None,
                                None => {
                                    break CallEnd::NotAnswered {
                                        ending: Ending::LocalFailure,
                                        rang: false,
                                    };
                                }
                            },
                            _ = &mut hang_up_at, if answered_at.is_some() => {
                                control.hang_up();
                                hang_up_at.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(86_400));
                            }
                        }
                    };
                    drop(permit);
                    live.fetch_sub(1, Ordering::Relaxed);
                    let _ = done_tx.send(Done {
                        setup,
                        answered_at,
                        end,
                    });
                });
            }
        })
    };

    let mut setups = Vec::with_capacity(options.calls as usize);
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut completed = 0u64;
    let mut last_answer = started;
    let mut finished = 0u64;
    let mut next_progress = Instant::now() + Duration::from_secs(1);
    // Every call ends by itself (answered calls by our BYE, the rest by a final response or
    // the transaction timeout); this bound only guards against a stuck peer.
    let bound = Duration::from_secs_f64(options.calls as f64 / options.rate)
        + options.hold
        + Duration::from_secs(70);
    let deadline = tokio::time::Instant::now() + bound;
    while finished < options.calls {
        let Ok(Some(done)) = tokio::time::timeout_at(deadline, done_rx.recv()).await else {
            break;
        };
        finished += 1;
        if let Some(s) = done.setup {
            setups.push(s.as_secs_f64() * 1000.0);
        }
        if let Some(at) = done.answered_at {
            last_answer = last_answer.max(at);
        }
        if done.end == CallEnd::HungUpByUs {
            completed += 1;
        } else {
            *failures.entry(failure_name(&done.end)).or_default() += 1;
        }
        if options.progress && Instant::now() >= next_progress {
            next_progress += Duration::from_secs(1);
            eprintln!(
                "bench cps: {finished}/{} calls ended, {completed} completed, {} up",
                options.calls,
                live.load(Ordering::Relaxed)
            );
        }
    }
    launcher.abort();
    let lost = options.calls - finished;
    if lost > 0 {
        *failures.entry("unfinished".into()).or_default() += lost;
    }
    agent.shutdown();
    setups.sort_by(f64::total_cmp);
    let window = last_answer.duration_since(started).as_secs_f64();
    let cps = if completed > 1 && window > 0.0 {
        completed as f64 / window
    } else {
        0.0
    };
    Ok(Report {
        target: options.target,
        calls: options.calls,
        completed,
        failed: options.calls - completed,
        offered_cps: options.rate,
        cps,
        setup_ms: Millis {
            p50: percentile(&setups, 0.50),
            p99: percentile(&setups, 0.99),
            max: setups.last().copied().unwrap_or(0.0),
        },
        concurrent_max: peak.load(Ordering::Relaxed),
        hold_ms: options.hold.as_millis() as u64,
        duration_s: started.elapsed().as_secs_f64(),
        failures,
    })
}
