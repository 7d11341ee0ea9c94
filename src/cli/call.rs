//! `predial call NUMBER`: one test call through a trunk, with its media: play prompts, send
//! digits, listen for digits and answering machines, record, and report what happened on the
//! line (SIP and RTP). For a PBX admin checking a trunk, and for the media tests.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use predial::engine::media::{MediaConfig, MediaPool};
use predial::media::leg::{Command, Event};
use predial::media::phrases::Lang;
use predial::media::prompt::{self, Player};
use predial::media::recorder::{CallKind, Recorder, RecordingName, Side};
use predial::sip::{
    CallEnd, CallEvent, Ending, Outbound, RegisterTo, RegistrationState, SipAgent, SipOptions,
    classify,
};
use predial::trunks;
use predial_core::dialer::Phone;
use serde::Serialize;
use tokio::sync::mpsc;

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The number to call (E.164, or national with the trunk profile's rules).
    number: String,
    /// The folder of trunk profiles.
    #[arg(long, value_name = "DIR", default_value = "sip-profiles")]
    profiles: PathBuf,
    /// The trunk to call through (default: the first in order).
    #[arg(long, value_name = "NAME")]
    trunk: Option<String>,
    /// Where predial listens for SIP (UDP and TCP); RTP uses the same address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5060")]
    sip_listen: String,
    /// RTP ports, FIRST-LAST (even ports are used).
    #[arg(long, value_name = "FIRST-LAST", default_value = "20000-29998")]
    rtp_ports: String,
    /// Prompts to play once answered, in order: names in sounds/<lang>/ (abandoned, hold,
    /// promo, ...) or WAV files.
    #[arg(long, value_name = "PROMPT")]
    play: Vec<String>,
    /// The language of the prompts.
    #[arg(long, value_name = "LANG", default_value = "ru")]
    lang: String,
    /// Digits to send (RFC 4733) once answered.
    #[arg(long, value_name = "DIGITS")]
    digits: Option<String>,
    /// Record the call into this folder (a stereo WAV named by the Call-ID).
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Run answering-machine detection on the callee's audio.
    #[arg(long)]
    amd: bool,
    #[command(flatten)]
    amd_flags: super::amd::AmdFlags,
    /// Stay on the line this long after the answer (default: until the prompts are played,
    /// plus two seconds for the digits and what comes back; 5 s when there is nothing to play).
    #[arg(long, value_name = "S")]
    hold_s: Option<f64>,
    /// Give up ringing after this long.
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    ring_timeout_s: f64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Default, Serialize)]
struct Amd {
    verdict: String,
    cause: String,
    decision_ms: u32,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    number: String,
    trunk: String,
    outcome: String,
    /// The final SIP status when not answered.
    sip_status: Option<u16>,
    rang: bool,
    answered: bool,
    call_id: Option<String>,
    setup_ms: Option<f64>,
    codec: Option<String>,
    remote_rtp: Option<String>,
    rtp_sent: u64,
    rtp_received: u64,
    rtp_lost: u64,
    digits: String,
    amd: Option<Amd>,
    played_ms: u64,
    recording: Option<String>,
    recording_s: Option<f64>,
    talk_ms: u64,
}

pub fn call(args: CallArgs) -> anyhow::Result<ExitCode> {
    let lang = Lang::parse(&args.lang)
        .with_context(|| format!("--lang: `{}`: use ru or en", args.lang))?;
    let amd = args.amd.then(|| args.amd_flags.settings()).transpose()?;
    let profiles = trunks::load_dir(&args.profiles)?;
    let pool = trunks::TrunkPool::new(
        profiles.into_iter().map(|t| t.profile).collect(),
        std::time::Instant::now(),
    );
    let trunk = match &args.trunk {
        Some(name) => pool
            .trunks
            .iter()
            .find(|t| &t.profile.name == name)
            .with_context(|| {
                format!(
                    "--trunk: no trunk named `{name}` in {}",
                    args.profiles.display()
                )
            })?,
        None => pool
            .trunks
            .iter()
            .find(|t| t.profile.enabled)
            .with_context(|| format!("{}: every trunk is disabled", args.profiles.display()))?,
    }
    .profile
    .clone();
    let phone = Phone::parse(&args.number, Some("RU".parse().expect("RU is a country")))
        .map_err(|e| anyhow::anyhow!("NUMBER: `{}`: {e}", args.number))?;
    let listen: std::net::SocketAddr = args.sip_listen.parse().with_context(|| {
        format!(
            "--sip-listen: `{}` is not an address like 127.0.0.1:5060",
            args.sip_listen
        )
    })?;
    let config = MediaConfig {
        ports: super::dial::rtp_ports("--rtp-ports", &args.rtp_ports)?,
        recordings: args.record.clone(),
        lang,
        ..MediaConfig::default()
    };
    let mut prompts = Vec::new();
    for p in &args.play {
        let audio = if p.ends_with(".wav") {
            prompt::load(std::path::Path::new(p))?
        } else {
            config.prompts.get(lang, p)?
        };
        prompts.push(audio);
    }
    let player = (!prompts.is_empty()).then(|| Player::new(prompts, false));
    let hold = match args.hold_s {
        Some(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Duration::from_secs_f64(s),
        Some(_) => bail!("--hold-s: use more than 0 and at most 3600 seconds"),
        None => match &player {
            Some(p) => Duration::from_millis(p.duration_ms() + 2000),
            None => Duration::from_secs(5),
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async move {
        let sip = SipAgent::start(SipOptions {
            listen,
            tls_trusted: trunks::trusted_certificates(std::slice::from_ref(&trunk)),
            ..SipOptions::default()
        })
        .await?;
        let mut report = Report {
            number: phone.to_string(),
            trunk: trunk.name.clone(),
            ..Report::default()
        };
        // A trunk that registers is registered to first.
        let _registration = match (&trunk.registration, &trunk.auth) {
            (Some(reg), Some(auth)) => {
                let (tx, mut rx) = mpsc::unbounded_channel();
                let handle = sip.keep_registered(
                    RegisterTo {
                        registrar: reg.registrar.clone().unwrap_or_else(|| trunk.address.clone()),
                        credentials: auth.credentials(),
                        transport: trunk.sip_transport(),
                        expires: reg.expires,
                    },
                    move |s| {
                        let _ = tx.send(s);
                    },
                )?;
                match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
                    Ok(Some(RegistrationState::Registered { .. })) => {}
                    Ok(Some(other)) => bail!("trunk `{}`: registration failed: {other:?}", trunk.name),
                    _ => bail!("trunk `{}`: no answer to REGISTER within 15 s", trunk.name),
                }
                Some(handle)
            }
            _ => None,
        };
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let mut media = MediaPool::new(config, sip.advertised_addr().ip(), events_tx)?;
        let reserved = media.reserve()?;
        let offer = media.offer(1, &reserved, &trunk.codecs);
        let transport = trunk.sip_transport();
        let (updates_tx, mut updates) = mpsc::unbounded_channel();
        let control = sip.call(
            Outbound {
                id: 1,
                lead: 0,
                trunk: trunk.name.clone(),
                request_uri: format!("sip:{}@{}{}", trunk.dial_string(phone), trunk.address, transport.uri_param()),
                from_user: trunk.caller_id_for(0).trim_start_matches('+').to_string(),
                from_host: trunk.address.clone(),
                credential: trunk.auth.as_ref().map(|a| a.credentials()),
                next_hop: trunk.address.parse().ok(),
                flow: None,
                transport,
                ring_timeout: Duration::from_secs_f64(args.ring_timeout_s.clamp(1.0, 600.0)),
                sdp_offer: offer,
                headers: Vec::new(),
            },
            updates_tx,
        );
        let signalling: Option<IpAddr> = trunk.address.parse::<std::net::SocketAddr>().ok().map(|a| a.ip());
        let mut reserved = Some(reserved);
        let mut leg = None;
        let mut recorder: Option<Arc<Mutex<Recorder>>> = None;
        let mut answered_at = None;
        let mut hang_up_at: Option<tokio::time::Instant> = None;
        let mut player = player;
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.ring_timeout_s + 5.0) + hold + Duration::from_secs(40);
        loop {
            let wake = hang_up_at.unwrap_or(deadline).min(deadline);
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {
                    if tokio::time::Instant::now() >= deadline { break; }
                    hang_up_at = None;
                    control.hang_up();
                }
                u = updates.recv() => match u.map(|u| u.event) {
                    Some(CallEvent::Ringing) => report.rang = true,
                    Some(CallEvent::Answered { sdp, setup, call_id }) => {
                        report.answered = true;
                        report.setup_ms = Some(setup.as_secs_f64() * 1000.0);
                        report.call_id = Some(call_id.clone());
                        answered_at = Some(Instant::now());
                        hang_up_at = Some(tokio::time::Instant::now() + hold);
                        let Some(r) = reserved.take() else { continue };
                        match media.start(1, r, &sdp, &trunk.codecs, signalling) {
                            Ok(l) => {
                                report.remote_rtp = l.out.remote().map(|a| a.to_string());
                                if let Ok(a) = predial::sip::sdp::parse_answer(&sdp) {
                                    report.codec = a.payload_types.iter().filter_map(|&pt| predial::media::g711::Codec::from_payload_type(pt)).next().map(|c| c.name().to_string());
                                }
                                if let Some(dir) = &args.record {
                                    let r = Arc::new(Mutex::new(Recorder::create(dir, &RecordingName::new(CallKind::Test, 1, std::time::SystemTime::now()), Instant::now())?));
                                    l.command(Command::Record { recorder: r.clone(), side: Side::Callee });
                                    recorder = Some(r);
                                }
                                if let Some(s) = &amd {
                                    l.command(Command::DetectMachine(s.clone()));
                                }
                                if let Some(p) = player.take() {
                                    l.command(Command::Play { player: p, tag: 1 });
                                }
                                if let Some(d) = &args.digits {
                                    l.command(Command::SendDigits(d.clone()));
                                }
                                leg = Some(l);
                            }
                            Err(e) => {
                                eprintln!("predial call: no media: {e}");
                                control.hang_up();
                            }
                        }
                    }
                    Some(CallEvent::Ended(end)) => {
                        match end {
                            CallEnd::NotAnswered { ending, rang } => {
                                let (outcome, _) = classify(ending, rang);
                                report.outcome = outcome.as_str().to_string();
                                if let Ending::Status(code) = ending {
                                    report.sip_status = Some(code);
                                }
                            }
                            CallEnd::HungUpByUs | CallEnd::HungUpByThem => report.outcome = "contact".into(),
                        }
                        break;
                    }
                    None => break,
                },
                e = events.recv() => match e.map(|(_, e)| e) {
                    Some(Event::Digit(d)) => report.digits.push(d.digit),
                    Some(Event::Machine(d)) => {
                        let text = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
                        report.amd = Some(Amd {
                            verdict: text(serde_json::to_value(d.verdict).unwrap_or_default()),
                            cause: text(serde_json::to_value(d.cause).unwrap_or_default()),
                            decision_ms: d.after_ms,
                        });
                    }
                    Some(Event::Played { .. }) => {
                        if let Some(t) = answered_at {
                            report.played_ms = t.elapsed().as_millis() as u64;
                        }
                    }
                    _ => {}
                },
            }
        }
        if let Some(t) = answered_at {
            report.talk_ms = t.elapsed().as_millis() as u64;
        }
        if report.outcome.is_empty() {
            report.outcome = "unfinished".into();
        }
        // Close the leg and collect its figures.
        if let Some(l) = leg.take() {
            drop(l);
            while let Ok(Some((_, e))) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await {
                match e {
                    Event::Closed(st) => {
                        report.rtp_sent = st.sent;
                        report.rtp_received = st.received;
                        report.rtp_lost = st.lost;
                        break;
                    }
                    Event::Digit(d) => report.digits.push(d.digit),
                    _ => {}
                }
            }
        }
        if let Some(r) = recorder.and_then(|r| Arc::try_unwrap(r).ok()).and_then(|m| m.into_inner().ok()) {
            let (path, length) = r.finish()?;
            report.recording = Some(path.display().to_string());
            report.recording_s = Some(length.as_secs_f64());
        }
        sip.shutdown();
        anyhow::Ok(report)
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serialises")
        );
    } else {
        println!("{} via {}: {}", report.number, report.trunk, report.outcome);
        if report.answered {
            println!(
                "  answered after {:.0} ms, codec {}, RTP {} sent / {} received ({} lost), talked {} ms",
                report.setup_ms.unwrap_or(0.0),
                report.codec.as_deref().unwrap_or("?"),
                report.rtp_sent,
                report.rtp_received,
                report.rtp_lost,
                report.talk_ms
            );
        }
        if !report.digits.is_empty() {
            println!("  digits heard: {}", report.digits);
        }
        if let Some(a) = &report.amd {
            println!(
                "  answering machine detection: {} ({}, {} ms)",
                a.verdict, a.cause, a.decision_ms
            );
        }
        if let Some(r) = &report.recording {
            println!("  recording: {r}");
        }
    }
    Ok(if report.outcome == "contact" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    })
}
