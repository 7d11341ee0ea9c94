//! `predial demo`: predial on its embedded defaults (SQLite in a scratch folder), a built-in
//! carrier answering as callees would, and built-in operators on softphones — all over real SIP
//! and RTP on loopback — with sample leads and a live view. It shows the whole outbound path:
//! lead → dial → answer → operator → result.

pub mod peers;
mod view;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::media::MediaConfig;
use crate::engine::{OperatorReport, Percentiles, Service, ServiceConfig};
use crate::leads::file::Format;
use crate::leads::intake::Intake;
use crate::media::phrases::Lang;
use crate::registrar::{Account, Registrar};
use crate::sip::SipOptions;
use crate::store::Store;
use crate::trunks::TrunkProfile;
use peers::{Carrier, Dice, Habits, Softphone};

/// What stops the demo: its scratch folder, the store, the engine and the built-in peers.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo peer's RTP ports: {0}")]
    PeerPorts(crate::media::ports::PortsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Config(#[from] toml::de::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Import(#[from] crate::leads::import::ImportError),
    #[error(transparent)]
    Sip(#[from] crate::sip::SipError),
    #[error(transparent)]
    Service(#[from] crate::engine::ServiceError),
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Stop after this long (None: at Ctrl-C).
    pub duration: Option<Duration>,
    pub leads: u32,
    pub operators: u32,
    /// Keep the store here (default: a scratch folder removed at the end).
    pub data: Option<PathBuf>,
    /// Where predial's SIP listens (port 0: any free one).
    pub sip_listen: SocketAddr,
    /// Draw the live view (on stderr).
    pub live: bool,
    /// The last operator misses a call now and then (shows re-routing and `*1`).
    pub missed_calls: bool,
}

/// What the demo did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub leads: u64,
    pub calls: u64,
    pub answered: u64,
    pub bridged: u64,
    pub abandoned: u64,
    pub abandon_rate: f64,
    pub answer_to_bridge_ms: Percentiles,
    pub dial_lag_ms: Percentiles,
    pub operators: u64,
    pub operator_states: Vec<OperatorReport>,
    /// Results the operators keyed in, by kind.
    pub results: BTreeMap<&'static str, u64>,
    /// Leads by their state at the end (queued, scheduled, done, exhausted...).
    pub lead_states: BTreeMap<String, u64>,
    pub recordings: u64,
    pub duration_s: f64,
    /// Where the store and the recordings are (when kept with --data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// The campaign's policy for the demo: short back-offs so retries show within a minute, no
/// quiet hours (the demo may run at night), a short wrap-up.
const CAMPAIGN: &str = r#"
quiet_hours = { start = "00:00", end = "00:00" }
ring_timeout = "15s"
wrap_up = "2s"
max_attempts = 5
[backoff]
busy = ["8s"]
no_answer = ["8s"]
unreachable = ["15s"]
abandoned = ["8s"]
"#;

/// Sample buyers: the last digit picks what the demo carrier does (see `peers::Carrier`).
fn sample_leads(n: u32) -> String {
    let mut csv = String::from("phone,order_id\n");
    let mut dice = Dice::new(0xdead_beef);
    for i in 0..n {
        // Mostly answering numbers, some busy, unanswered, missing, hanging up early.
        let last = match dice.between(0, 20) {
            0..=10 => dice.between(0, 5),
            11..=12 => 9,
            13..=14 => 5,
            15..=17 => 6,
            _ => 8,
        };
        csv.push_str(&format!(
            "+7495{:03}{:03}{}, DEMO-{:05}\n",
            100 + i / 1000 % 900,
            (i * 7) % 1000,
            last,
            i + 1
        ));
    }
    csv
}

pub async fn run(opts: DemoOptions) -> Result<DemoReport, DemoError> {
    let started = Instant::now();
    let scratch = opts.data.is_none();
    let data = opts.data.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("predial-demo-{}", std::process::id()))
    });
    if scratch {
        let _ = std::fs::remove_dir_all(&data);
    }
    std::fs::create_dir_all(&data)?;
    let store = Store::open(None, &data).await?;
    let result = demo(&opts, store.clone(), &data, started).await;
    store.close().await;
    if scratch {
        let _ = std::fs::remove_dir_all(&data);
    }
    result
}

async fn demo(
    opts: &DemoOptions,
    store: Store,
    data: &std::path::Path,
    started: Instant,
) -> Result<DemoReport, DemoError> {
    // The campaign and its leads.
    let policy: predial_core::dialer::CampaignPolicy = toml::from_str(CAMPAIGN)?;
    let (mut intake, _) = Intake::open(store.clone()).await?;
    let campaign = crate::store::campaigns::DEFAULT;
    store.set_campaign_policy(campaign, &policy).await?;
    store.set_campaign_state(campaign, "running").await?;
    let imported = crate::leads::import::import(
        &mut intake,
        Cursor::new(sample_leads(opts.leads)),
        Format::Csv,
        campaign,
        |_| {},
    )
    .await?;
    drop(intake);
    // The operators: accounts with fresh passwords, in the store and the registrar.
    let secret = crate::crypto::random_bytes::<32>()?;
    let mut registrar = Registrar::new(secret);
    let mut accounts = Vec::new();
    for i in 1..=opts.operators {
        let login = format!("demo-{i}");
        let password = crate::crypto::random_token()?;
        let account = Account::from_password(&login, &password);
        store
            .add_operator(&crate::store::operators::NewOperator {
                login: login.clone(),
                name: Some(format!("Demo operator {i}")),
                group: Some("demo".into()),
                skills: Vec::new(),
                ha1_md5: account.ha1_md5.clone(),
                ha1_sha256: account.ha1_sha256.clone(),
            })
            .await?;
        registrar.set_account(&login, account);
        accounts.push((login, password));
    }
    // The carrier, and a trunk to it.
    let carrier = Carrier::start((40_000, 44_998)).await?;
    let trunk: TrunkProfile = toml::from_str(&format!(
        "name = \"demo-carrier\"\nowner = \"own\"\naddress = \"{}\"\nchannels = 30\ncps = 10\ncaller_id = \"+74950000000\"\n",
        carrier.addr()
    ))?;
    let recordings = data.join("recordings");
    let service = Service::start(ServiceConfig {
        store: store.clone(),
        trunks: vec![trunk],
        registrar: Arc::new(Mutex::new(registrar)),
        operators: accounts
            .iter()
            .map(|(l, _)| (l.clone(), Vec::new()))
            .collect(),
        sip: SipOptions {
            listen: opts.sip_listen,
            ..SipOptions::default()
        },
        media: MediaConfig {
            ports: (30_000, 34_998),
            recordings: Some(recordings.clone()),
            lang: Lang::En,
            ..MediaConfig::default()
        },
        answer_timeout: Duration::from_secs(4),
        dtmf_callback_after: Duration::from_secs(3600),
        events: None,
        inbound: Arc::default(),
        intake: None,
    })
    .await?;
    // The operators' softphones register and wait for calls.
    let mut phones = Vec::new();
    for (i, (login, password)) in accounts.iter().enumerate() {
        let habits = Habits {
            talk_s: (4, 10),
            // With --missed-calls the last operator misses one call in four (and comes back
            // with *1): the call goes to another operator or is abandoned.
            misses_one_in: if opts.missed_calls && i + 1 == accounts.len() && accounts.len() > 1 {
                4
            } else {
                0
            },
        };
        let first = 45_000 + (i as u16 % 20) * 250;
        phones.push(
            Softphone::start(
                login,
                password,
                service.sip_addr,
                (first, first + 248),
                habits,
                0x0abc_0000 + i as u64,
            )
            .await?,
        );
    }
    // The live view until the time is up or Ctrl-C.
    let until = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let mut figures = service.figures.clone();
    let mut view = view::View::new(opts.live, imported.counts.accepted);
    loop {
        let stop = async {
            match until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop => break,
            _ = tokio::signal::ctrl_c() => break,
            changed = figures.changed() => {
                if changed.is_err() {
                    break;
                }
                let f = figures.borrow_and_update().clone();
                view.draw(&f, started.elapsed());
            }
        }
    }
    view.finish();
    let report = service.stop().await?;
    drop(phones);
    drop(carrier);
    let counts = store.lead_states().await.unwrap_or_default();
    let recordings_made = std::fs::read_dir(&recordings)
        .map(|d| d.filter_map(Result::ok).count() as u64)
        .unwrap_or(0);
    Ok(DemoReport {
        leads: imported.counts.accepted,
        calls: report.calls,
        answered: report.answered,
        bridged: report.bridged,
        abandoned: report.abandoned,
        abandon_rate: if report.answered > 0 {
            ((report.abandoned as f64 / report.answered as f64) * 10_000.0).round() / 10_000.0
        } else {
            0.0
        },
        answer_to_bridge_ms: report.answer_to_bridge_ms,
        dial_lag_ms: report.dial_lag_ms,
        operators: report.operators.len() as u64,
        operator_states: report.operators,
        results: report.results,
        lead_states: counts,
        recordings: recordings_made,
        duration_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        data: opts.data.as_ref().map(|d| d.display().to_string()),
    })
}
