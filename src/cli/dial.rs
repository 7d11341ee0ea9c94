//! `predial dial`: run a campaign of leads from a file through the configured trunks, with
//! stand-in operators, until every lead is closed (or the time is up). For trying trunks and
//! policies against real SIP peers; the service itself is `predial serve` (later).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use predial::config::ConfigFile;
use predial::engine::media::MediaConfig;
use predial::engine::{Engine, EngineConfig};
use predial::media::phrases::{Lang, Prompts};
use predial::sip::SipOptions;
use predial::trunks;
use predial_core::Timestamp;
use predial_core::dialer::{CampaignPolicy, LeadId, NewLead};

#[derive(Debug, Args)]
pub struct DialArgs {
    /// Leads, one per line: PHONE[,ORDER_ID]. Lines starting with # are skipped.
    #[arg(long, value_name = "FILE")]
    leads: PathBuf,
    /// The folder of trunk profiles.
    #[arg(long, value_name = "DIR", default_value = "sip-profiles")]
    profiles: PathBuf,
    /// The campaign's policy: a TOML file with the `[campaign]` settings of docs/defaults.md.
    #[arg(long, value_name = "FILE")]
    campaign: Option<PathBuf>,
    /// Where predial listens for SIP (UDP and TCP).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5060")]
    sip_listen: String,
    /// Stand-in operators taking answered calls.
    #[arg(long, value_name = "N", default_value_t = 5)]
    operators: u32,
    /// How long a stand-in operator talks before hanging up, seconds.
    #[arg(long, value_name = "S", default_value_t = 3.0)]
    talk_s: f64,
    /// Stop after this long even if leads are still open, seconds.
    #[arg(long, value_name = "S", default_value_t = 300.0)]
    timeout_s: f64,
    /// Record bridged calls into this folder (stereo WAV named by the Call-ID: callee left,
    /// operator right). Without it calls are not recorded.
    #[arg(long, value_name = "DIR")]
    recordings: Option<PathBuf>,
    /// Delete recordings older than this many days (checked at start and hourly).
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    keep_recordings_days: u32,
    /// RTP ports, FIRST-LAST (even ports are used).
    #[arg(long, value_name = "FIRST-LAST", default_value = "20000-29998")]
    rtp_ports: String,
    /// The prompts folder (sounds/<lang>/*.wav).
    #[arg(long, value_name = "DIR")]
    sounds: Option<PathBuf>,
    /// The language of the prompts (ru or en).
    #[arg(long, value_name = "LANG", default_value = "ru")]
    lang: String,
    /// The number the abandoned-call message gives to call back.
    #[arg(long, value_name = "NUMBER")]
    callback_number: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `FIRST-LAST` RTP ports.
pub fn rtp_ports(flag: &str, text: &str) -> anyhow::Result<(u16, u16)> {
    let parsed = text
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)));
    match parsed {
        Some((a, b)) if a < b && a % 2 == 0 => Ok((a, b)),
        _ => bail!("{flag}: write FIRST-LAST with an even first port, like 20000-29998"),
    }
}

/// A campaign file: the settings under `[campaign]`, as in the other config files.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    #[serde(default)]
    campaign: CampaignPolicy,
}

fn read_leads(path: &Path) -> anyhow::Result<Vec<NewLead>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--leads: cannot read {}", path.display()))?;
    let now = Timestamp::from_utc(chrono::Utc::now());
    let mut leads = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split(',');
        let phone = cols.next().unwrap_or("").trim();
        if phone.is_empty() {
            bail!(
                "{}:{}: phone: empty; write one lead per line as PHONE[,ORDER_ID]",
                path.display(),
                n + 1
            );
        }
        let mut lead = NewLead::new(leads.len() as u64 + 1, 1, phone, now);
        lead.order_id = cols
            .next()
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty());
        leads.push(lead);
    }
    Ok(leads)
}

fn seconds(flag: &str, v: f64) -> anyhow::Result<Duration> {
    if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
        bail!("{flag}: use a number of seconds above 0 (at most 86400)");
    }
    Ok(Duration::from_secs_f64(v))
}

pub fn dial(args: DialArgs) -> anyhow::Result<ExitCode> {
    let profiles = trunks::load_dir(&args.profiles)?;
    if profiles.iter().all(|t| !t.profile.enabled) {
        bail!(
            "{}: every trunk is disabled (enabled = false): enable one to place calls",
            args.profiles.display()
        );
    }
    let campaign: CampaignPolicy = match &args.campaign {
        Some(path) => {
            let file = ConfigFile::read(path)?;
            let parsed: CampaignFile = file.parse()?;
            if let Err(errors) = parsed.campaign.clone().validate() {
                let lines = errors
                    .iter()
                    .map(|e| file.error(&format!("campaign.{}", e.field), &e.message))
                    .collect();
                return Err(predial::config::ConfigErrors(lines).into());
            }
            parsed.campaign
        }
        None => CampaignPolicy::default(),
    };
    let listen = args.sip_listen.parse().with_context(|| {
        format!(
            "--sip-listen: `{}` is not an address like 127.0.0.1:5060",
            args.sip_listen
        )
    })?;
    let leads = read_leads(&args.leads)?;
    let config = EngineConfig {
        sip: SipOptions {
            listen,
            ..SipOptions::default()
        },
        trunks: profiles.into_iter().map(|t| t.profile).collect(),
        campaign,
        operators: args.operators,
        talk: seconds("--talk-s", args.talk_s)?,
        deadline: seconds("--timeout-s", args.timeout_s)?,
        media: MediaConfig {
            ports: rtp_ports("--rtp-ports", &args.rtp_ports)?,
            recordings: args.recordings.clone(),
            keep_recordings: std::time::Duration::from_secs(
                u64::from(args.keep_recordings_days.max(1)) * 86_400,
            ),
            prompts: args
                .sounds
                .as_deref()
                .map_or_else(Prompts::shipped, Prompts::new),
            lang: Lang::parse(&args.lang)
                .with_context(|| format!("--lang: `{}`: use ru or en", args.lang))?,
            callback_number: args.callback_number.clone(),
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let mut engine = Engine::start(config).await?;
        let ids: Vec<LeadId> = leads.iter().map(|l| l.id).collect();
        let refused = engine.add_leads(leads);
        anyhow::Ok(engine.run(ids, refused).await)
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serialises")
        );
    } else {
        for l in &report.leads {
            println!(
                "lead {:>4}  {:<16} {:<10} {} attempts: {}",
                l.lead,
                l.phone,
                l.state,
                l.attempts,
                l.outcomes.join(", ")
            );
            for r in &l.recordings {
                println!("           recording {r}");
            }
            if !l.digits.is_empty() {
                println!("           digits {}", l.digits);
            }
        }
        for (phone, why) in &report.refused {
            println!("refused   {phone:<16} {why}");
        }
        for t in &report.trunks {
            let state = serde_json::to_value(t.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            match &t.problem {
                Some(why) => println!("trunk {:<20} {state}, {} calls: {why}", t.name, t.calls),
                None => println!("trunk {:<20} {state}, {} calls", t.name, t.calls),
            }
        }
        println!(
            "{} calls, {} answered{}",
            report.calls,
            report.answered,
            if report.finished {
                ""
            } else {
                " (stopped at --timeout-s with leads open)"
            }
        );
    }
    Ok(if report.finished {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
