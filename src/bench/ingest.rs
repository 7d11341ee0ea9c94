//! `predial bench ingest`: N leads taken in with duplicate checks and stored, through the API
//! (`POST /v1/leads:bulk`, NDJSON, 100,000 per request, over loopback HTTP) and through a file
//! import (the code of `predial leads import`), each into a fresh database; then the start-up
//! rebuild (every stored lead read back into the duplicate check).
//!
//! The leads are a web shop's: Russian mobile numbers written in several ways, 5% sent twice
//! (caught by rule B) and 3% impossible numbers.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api;
use crate::leads::file::Format;
use crate::leads::import::ImportError;
use crate::leads::import::import;
use crate::leads::intake::Intake;
use crate::store::{Store, StoreError};

/// What stops the ingest benchmark: its databases, the import, the API and the rebuilds.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("--database {url}")]
    Connect { url: String, source: sqlx::Error },
    #[error("--database {0}: give a postgres:// URL (SQLite is the default)")]
    NotPostgres(String),
    #[error("no default campaign")]
    NoDefaultCampaign,
    #[error("{0}")]
    CampaignRefused(predial_core::EventError),
    #[error("{0} stored leads were refused by the scheduler")]
    LeadsRefused(u64),
    #[error("the API's answer has no body")]
    NoBody,
    #[error("the API answered {0}")]
    Answered(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    Api,
    Cli,
    Both,
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub leads: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub invalid: u64,
    pub seconds: f64,
    pub leads_per_s: f64,
    /// Every stored lead read back into the duplicate check, as at start-up.
    pub rebuild_ms: f64,
    pub rebuilt_leads: u64,
    /// The campaign's open leads read back into the dialing core's scheduler, as at start-up.
    pub scheduler_rebuild_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub leads: u64,
    /// The slower of the paths run.
    pub leads_per_s: f64,
    pub duplicates: u64,
    pub invalid: u64,
    /// sqlite or postgres
    pub database: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<Run>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cli: Option<Run>,
}

/// Leads per API request.
const PER_REQUEST: u64 = 100_000;

/// The test leads as NDJSON lines.
pub fn make_leads(n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n as usize * 64);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..n {
        let r = next();
        let phone = if r % 100 < 3 {
            // Impossible: a Russian number in an unused range.
            format!(
                "+7 000 {:03} {:02} {:02}",
                i % 1000,
                i % 100,
                (i / 100) % 100
            )
        } else {
            // 5% repeat an earlier lead's number.
            let k = if r % 100 < 8 && i > 0 {
                (r >> 8) % i
            } else {
                i
            };
            let sub = 1_000_000 + k % 9_000_000;
            let code = 900 + (k / 9_000_000) % 100;
            match k % 3 {
                0 => format!("+7{code}{sub}"),
                1 => format!("8 ({code}) {}-{:04}", sub / 10_000, sub % 10_000),
                _ => format!("+7 {code} {}-{:04}", sub / 10_000, sub % 10_000),
            }
        };
        let _ = writeln!(
            out,
            "{{\"phone\":\"{phone}\",\"order_id\":\"W-{i}\",\"name\":\"Buyer {i}\",\"sum_minor\":{}}}",
            (r >> 16) % 1_000_000
        );
    }
    out
}

/// A fresh database for one run: a SQLite file in a temporary folder, or a new database on the
/// PostgreSQL server of `url` (dropped by `Fresh::drop_db`).
struct Fresh {
    url: String,
    admin_url: Option<String>,
    name: String,
    dir: PathBuf,
}

impl Fresh {
    async fn new(database: Option<&str>, tag: &str) -> Result<Fresh, IngestError> {
        let unique = format!(
            "predial_bench_{}_{}_{tag}",
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        );
        let dir = std::env::temp_dir().join(&unique);
        std::fs::create_dir_all(&dir)?;
        match database {
            None => Ok(Fresh {
                url: format!("sqlite:{}", dir.join("predial.db").display()),
                admin_url: None,
                name: unique,
                dir,
            }),
            Some(url) if url.starts_with("postgres") => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(url).await.map_err(|source| {
                    IngestError::Connect {
                        url: url.to_string(),
                        source,
                    }
                })?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {unique}")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                Ok(Fresh {
                    url: replace_db_name(url, &unique),
                    admin_url: Some(url.to_string()),
                    name: unique,
                    dir,
                })
            }
            Some(url) => Err(IngestError::NotPostgres(url.to_string())),
        }
    }

    async fn drop_db(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(admin) = &self.admin_url {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .execute(&mut conn)
                .await;
                let _ = conn.close().await;
            }
        }
    }
}

/// `postgres://u@h:5432/postgres?x=y` with the database `name`.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

async fn rebuild(store: &Store) -> Result<(f64, u64), IngestError> {
    let started = Instant::now();
    let (_, rebuilt) = Intake::open(store.clone()).await?;
    Ok((started.elapsed().as_secs_f64() * 1000.0, rebuilt.leads))
}

/// The default campaign's open leads into a fresh scheduler; milliseconds.
async fn rebuild_scheduler(store: &Store) -> Result<f64, IngestError> {
    use predial_core::dialer::{CampaignId, CampaignPolicy, Event};
    let started = Instant::now();
    let campaign = store
        .campaign(crate::store::campaigns::DEFAULT)
        .await?
        .ok_or(IngestError::NoDefaultCampaign)?;
    let mut scheduler = predial_core::Scheduler::new();
    let now = predial_core::Timestamp::from_millis(crate::store::now_ms());
    let policy: CampaignPolicy = campaign.policy.clone();
    scheduler
        .handle(
            now,
            Event::CampaignSaved {
                campaign: CampaignId(1),
                policy: Box::new(policy),
            },
        )
        .map_err(IngestError::CampaignRefused)?;
    let mut refused = 0u64;
    for l in store.open_leads(campaign.id).await? {
        if scheduler
            .handle(now, crate::engine::restore_event(l, CampaignId(1)))
            .is_err()
        {
            refused += 1;
        }
    }
    if refused > 0 {
        return Err(IngestError::LeadsRefused(refused));
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

async fn via_cli(data: &[u8], n: u64, fresh: &Fresh) -> Result<Run, IngestError> {
    let file = fresh.dir.join("leads.ndjson");
    std::fs::write(&file, data)?;
    let store = Store::open(Some(&fresh.url), &fresh.dir).await?;
    let started = Instant::now();
    let (mut intake, _) = Intake::open(store.clone()).await?;
    let input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&file)?);
    let report = import(&mut intake, input, Format::Ndjson, "default", |_| {}).await?;
    let seconds = started.elapsed().as_secs_f64();
    drop(intake);
    let (rebuild_ms, rebuilt_leads) = rebuild(&store).await?;
    let scheduler_rebuild_ms = rebuild_scheduler(&store).await?;
    store.close().await;
    Ok(Run {
        scheduler_rebuild_ms,
        leads: n,
        accepted: report.counts.accepted,
        duplicates: report.counts.duplicates,
        invalid: report.counts.invalid,
        seconds,
        leads_per_s: n as f64 / seconds,
        rebuild_ms,
        rebuilt_leads,
    })
}

async fn via_api(data: &[u8], n: u64, fresh: &Fresh) -> Result<Run, IngestError> {
    let store = Store::open(Some(&fresh.url), &fresh.dir).await?;
    let token = api::new_token()?;
    let started = Instant::now();
    let state = api::state(store.clone(), &token).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    // Requests of 100,000 lines, two at a time.
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut lines = 0u64;
    for (i, b) in data.iter().enumerate() {
        if *b == b'\n' {
            lines += 1;
            if lines.is_multiple_of(PER_REQUEST) {
                chunks.push(&data[start..=i]);
                start = i + 1;
            }
        }
    }
    if start < data.len() {
        chunks.push(&data[start..]);
    }
    let (mut accepted, mut duplicates, mut invalid) = (0, 0, 0);
    for pair in chunks.chunks(2) {
        let mut handles = Vec::new();
        for chunk in pair {
            let body = chunk.to_vec();
            let token = token.clone();
            handles.push(tokio::spawn(
                async move { post_bulk(addr, &token, &body).await },
            ));
        }
        for h in handles {
            let v = h.await??;
            accepted += v["accepted"].as_u64().unwrap_or(0);
            duplicates += v["duplicates"].as_u64().unwrap_or(0);
            invalid += v["invalid"].as_u64().unwrap_or(0);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    let _ = server.await;
    let (rebuild_ms, rebuilt_leads) = rebuild(&store).await?;
    let scheduler_rebuild_ms = rebuild_scheduler(&store).await?;
    store.close().await;
    Ok(Run {
        scheduler_rebuild_ms,
        leads: n,
        accepted,
        duplicates,
        invalid,
        seconds,
        leads_per_s: n as f64 / seconds,
        rebuild_ms,
        rebuilt_leads,
    })
}

/// One POST of NDJSON over a plain HTTP/1.1 connection; the answer's JSON.
async fn post_bulk(
    addr: std::net::SocketAddr,
    token: &str,
    body: &[u8],
) -> Result<serde_json::Value, IngestError> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST /v1/leads:bulk HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    let (head, json) = text.split_once("\r\n\r\n").ok_or(IngestError::NoBody)?;
    if !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or("");
        return Err(IngestError::Answered(status.to_string()));
    }
    Ok(serde_json::from_str(json)?)
}

pub async fn run(n: u64, database: Option<&str>, via: Via) -> Result<Report, IngestError> {
    let data = make_leads(n);
    let kind = if database.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let mut report = Report {
        leads: n,
        leads_per_s: f64::INFINITY,
        duplicates: 0,
        invalid: 0,
        database: kind.into(),
        api: None,
        cli: None,
    };
    if matches!(via, Via::Cli | Via::Both) {
        let fresh = Fresh::new(database, "cli").await?;
        let r = via_cli(&data, n, &fresh).await;
        fresh.drop_db().await;
        report.cli = Some(r?);
    }
    if matches!(via, Via::Api | Via::Both) {
        let fresh = Fresh::new(database, "api").await?;
        let r = via_api(&data, n, &fresh).await;
        fresh.drop_db().await;
        report.api = Some(r?);
    }
    for r in [&report.cli, &report.api].into_iter().flatten() {
        if r.leads_per_s < report.leads_per_s {
            report.leads_per_s = r.leads_per_s;
            report.duplicates = r.duplicates;
            report.invalid = r.invalid;
        }
    }
    Ok(report)
}
