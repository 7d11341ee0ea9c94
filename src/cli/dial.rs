//! `predial dial`: run a campaign of leads through the configured trunks, with stand-in
//! operators, until every lead is closed (or the time is up). Without `--data` / `--database`
//! everything is in memory; with them the leads, attempts and outcomes are stored, and a run
//! stopped by a crash goes on where it stopped.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use predial::config::ConfigFile;
use predial::engine::media::MediaConfig;
use predial::engine::{Engine, EngineConfig, RunReport};
use predial::leads::file::Format;
use predial::leads::import::import;
use predial::leads::intake::Intake;
use predial::media::phrases::{Lang, Prompts};
use predial::sip::SipOptions;
use predial::store::Store;
use predial::trunks;
use predial_core::Timestamp;
use predial_core::dialer::{CampaignId, CampaignPolicy, LeadId, NewLead};

#[derive(Debug, Args)]
pub struct DialArgs {
    /// Leads, one per line: PHONE[,ORDER_ID]. Lines starting with # are skipped. With a store,
    /// they are imported (CSV or NDJSON as `predial leads import`) and the campaign's open
    /// leads are dialled.
    #[arg(long, value_name = "FILE")]
    leads: Option<PathBuf>,
    /// Keep leads, attempts and outcomes in the store of this data folder (DIR/predial.db).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The store's database instead: postgres://USER@HOST/NAME or sqlite:PATH.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// With a store: the campaign dialled (made if missing).
    #[arg(long, value_name = "NAME", default_value = "default")]
    campaign_name: String,
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

/// A run over the store: leads imported, attempts a crash left open closed, open leads dialled.
async fn run_stored(args: &DialArgs, mut config: EngineConfig) -> anyhow::Result<RunReport> {
    let data = args.data.clone().unwrap_or_else(|| PathBuf::from("data"));
    let store = Store::open(args.database.as_deref(), &data).await?;
    let (mut intake, _) = Intake::open(store.clone()).await?;
    let (campaign, _) = intake.ensure_campaign(&args.campaign_name).await?;
    if args.campaign.is_some() {
        store
            .set_campaign_policy(&args.campaign_name, &config.campaigns[0].1)
            .await?;
    } else {
        config.campaigns[0].1 = campaign.policy.clone();
    }
    let id = CampaignId(u32::try_from(campaign.id).context("campaign id")?);
    config.campaigns[0].0 = id;
    let mut refused = Vec::new();
    if let Some(path) = &args.leads {
        let file = std::fs::File::open(path)
            .with_context(|| format!("--leads: cannot read {}", path.display()))?;
        let imported = import(
            &mut intake,
            std::io::BufReader::new(file),
            Format::of(path),
            &args.campaign_name,
            |_| {},
        )
        .await?;
        for bad in imported.bad_lines {
            refused.push((format!("{}:{}", path.display(), bad.line), bad.message));
        }
        if imported.counts.duplicates > 0 {
            tracing::info!(
                duplicates = imported.counts.duplicates,
                "leads already in the store were not added again"
            );
        }
    }
    drop(intake);
    let (journal, recovered) = store.open_journal().await?;
    if recovered.interrupted_attempts > 0 {
        tracing::warn!(
            attempts = recovered.interrupted_attempts,
            "attempts left open by an earlier run were closed as interrupted; their leads are dialled again"
        );
    }
    config.journal = Some(journal.clone());
    let mut engine = Engine::start(config).await?;
    let open = store.open_leads(campaign.id).await?;
    let (ids, more) = engine.restore_leads(id, open);
    engine.restore_abandon_window(&store, id).await?;
    refused.extend(more);
    let mut report = engine.run(ids, refused).await;
    report.recovered = Some(recovered);
    // Everything the run wrote is stored before the process ends.
    journal.sync().await;
    store.close().await;
    Ok(report)
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
    let stored = args.data.is_some() || args.database.is_some();
    let leads = match (&args.leads, stored) {
        (Some(path), false) => read_leads(path)?,
        (None, false) => bail!("--leads: give a file of leads (or --data DIR to dial stored ones)"),
        (_, true) => Vec::new(),
    };
    let config = EngineConfig {
        sip: SipOptions {
            listen,
            ..SipOptions::default()
        },
        trunks: profiles.into_iter().map(|t| t.profile).collect(),
        campaigns: vec![(CampaignId(1), campaign)],
        operators: args.operators,
        talk: seconds("--talk-s", args.talk_s)?,
        softphones: None,
        deadline: seconds("--timeout-s", args.timeout_s)?,
        keep_running: false,
        store: None,
        events: None,
        inbound: Default::default(),
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
        journal: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        if stored {
            return run_stored(&args, config).await;
        }
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
