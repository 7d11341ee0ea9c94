//! Leads on the way in, from the API and from files: the number normalised (or refused with the
//! reason), the campaign's duplicate rule applied, and the verdict written to the store in
//! batches by one writer task (group commit: many requests, one transaction).
//!
//! The duplicate check is the core's (`predial_core::dialer::dedup`), in memory; at start it is
//! rebuilt from the leads the store holds within the longest window.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use predial_core::Timestamp;
use predial_core::dialer::dedup::{Dedup, DedupVerdict};
use predial_core::dialer::policy::DedupPolicy;
use predial_core::dialer::{CampaignPolicy, LeadId, Phone};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::store::campaigns::{Campaign, DEFAULT};
use crate::store::leads::{LeadRow, RejectedRow};
use crate::store::{Store, StoreError, now_ms};

/// A lead as an integrator sends it (API JSON, NDJSON, CSV columns of the same names).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadIn {
    /// The buyer's number as typed: `+7 916 123-45-67`, `8 (916) 123-45-67`, `79161234567`.
    pub phone: String,
    /// The shop's order id (needed by dedup rule A).
    #[serde(default)]
    pub order_id: Option<String>,
    /// The campaign's name (default: `default`).
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub items: Option<Vec<String>>,
    /// Order total in minor units (kopecks).
    #[serde(default)]
    pub sum_minor: Option<i64>,
    /// The buyer's IANA zone when the shop knows it better than the number does.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Pickup reminders: the pickup point the parcel waits at (its number is said).
    #[serde(default)]
    pub pickup_point: Option<String>,
    /// Pickup reminders: until when the parcel is kept, `2026-12-05` (end of that day, in the
    /// campaign's zone) or an RFC 3339 time; the lead is not called after it.
    #[serde(default)]
    pub keep_until: Option<String>,
}

/// `keep_until` as ms since the epoch: a date is the end of that day in `tz`.
pub fn keep_until_ms(text: &str, tz: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Europe::Moscow);
    let end = date.and_hms_opt(23, 59, 59)?;
    end.and_local_timezone(tz)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// What became of a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verdict {
    Accepted {
        id: i64,
        /// E.164.
        phone: String,
    },
    Duplicate {
        duplicate_of: i64,
        message: String,
    },
    Invalid {
        /// invalid_phone, destination_refused, missing_order_id, unknown_campaign,
        /// invalid_time_zone, invalid_sum
        error: String,
        field: String,
        message: String,
        /// destination_refused: the rule that refused the number (`allow`, `refuse`,
        /// `premium_rate`, `shared_cost`, `personal_number`, `international_network`).
        #[serde(skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
    },
}

impl Verdict {
    fn invalid(error: &str, field: &str, message: String) -> Verdict {
        Verdict::Invalid {
            error: error.into(),
            field: field.into(),
            message,
            rule: None,
        }
    }
}

/// Counts of a batch.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub accepted: u64,
    pub duplicates: u64,
    pub invalid: u64,
    /// Numbers the campaign's destination policy does not call.
    pub destination_refused: u64,
}

impl Counts {
    pub fn add(&mut self, v: &Verdict) {
        match v {
            Verdict::Accepted { .. } => self.accepted += 1,
            Verdict::Duplicate { .. } => self.duplicates += 1,
            Verdict::Invalid { error, .. } if error == "destination_refused" => {
                self.destination_refused += 1
            }
            Verdict::Invalid { .. } => self.invalid += 1,
        }
    }
}

/// Where a lead comes from, as stored.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Api,
    Import,
    /// Made from a missed inbound call: dialled before the others.
    Callback,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Import => "import",
            Source::Callback => "callback",
        }
    }
}

/// The intake: campaigns known, the duplicate check, the next lead id, and the writer.
pub struct Intake {
    store: Store,
    campaigns: HashMap<String, Campaign>,
    dedup: Dedup,
    next_id: i64,
    writer: mpsc::Sender<Batch>,
    pending: Batch,
}

/// Rows to write, and who waits for them.
#[derive(Default)]
struct Batch {
    leads: Vec<LeadRow>,
    rejected: Vec<RejectedRow>,
    done: Vec<oneshot::Sender<Result<(), FlushError>>>,
}

/// Why leads taken were not stored. Every request waiting on the same write hears the same
/// error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FlushError {
    #[error("the store's writer stopped")]
    WriterStopped,
    #[error("{0}")]
    Store(Arc<StoreError>),
}

/// How many leads were read back at start, and how long it took.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rebuilt {
    pub leads: u64,
    pub ms: f64,
}

impl Intake {
    /// Opens the intake on a store: the default campaign made sure of, the duplicate check
    /// rebuilt from stored leads, the writer task started.
    pub async fn open(store: Store) -> Result<(Intake, Rebuilt), StoreError> {
        let started = std::time::Instant::now();
        store.ensure_campaign(DEFAULT).await?;
        let mut campaigns = HashMap::new();
        let mut dedup = Dedup::default();
        let mut longest = Duration::from_secs(24 * 3600);
        for c in store.campaigns().await? {
            dedup.keep_at_least(c.policy.dedup.window);
            longest = longest.max(c.policy.dedup.window);
            campaigns.insert(c.name.clone(), c);
        }
        let by_id: HashMap<i64, CampaignPolicy> = campaigns
            .values()
            .map(|c| (c.id, c.policy.clone()))
            .collect();
        let since = now_ms() - i64::try_from(longest.as_millis()).unwrap_or(i64::MAX / 2);
        let leads = store
            .seen_leads(since, |l| {
                let (Some(policy), Some(phone)) =
                    (by_id.get(&l.campaign_id), Phone::from_e164(&l.phone))
                else {
                    return;
                };
                dedup.admit(
                    Timestamp::from_millis(l.created_ms),
                    &policy.dedup,
                    campaign_key(l.campaign_id),
                    phone.digits(),
                    l.order_id.as_deref(),
                    LeadId(l.id as u64),
                );
            })
            .await?;
        let next_id = store.next_lead_id().await?;
        let writer = spawn_writer(store.clone());
        Ok((
            Intake {
                store,
                campaigns,
                dedup,
                next_id,
                writer,
                pending: Batch::default(),
            },
            Rebuilt {
                leads,
                ms: started.elapsed().as_secs_f64() * 1000.0,
            },
        ))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The campaign of that name, as the intake knows it.
    pub fn campaign(&self, name: &str) -> Option<&Campaign> {
        self.campaigns.get(name)
    }

    /// Creates a campaign (or finds it) and makes the intake know it.
    pub async fn ensure_campaign(&mut self, name: &str) -> Result<(Campaign, bool), StoreError> {
        let (c, created) = self.store.ensure_campaign(name).await?;
        self.learn(c.clone());
        Ok((c, created))
    }

    /// Makes the intake know a campaign created or changed elsewhere.
    pub fn learn(&mut self, c: Campaign) {
        self.dedup.keep_at_least(c.policy.dedup.window);
        self.campaigns.insert(c.name.clone(), c);
    }

    /// Checks one lead and queues what to store; `flush` writes it.
    pub fn take(&mut self, lead: LeadIn, source: Source, now: i64) -> Verdict {
        let name = lead.campaign.as_deref().unwrap_or(DEFAULT);
        let Some(c) = self.campaigns.get(name) else {
            return Verdict::invalid(
                "unknown_campaign",
                "campaign",
                format!("there is no campaign `{name}`: create it first (POST /v1/campaigns)"),
            );
        };
        let (campaign_id, country, dedup) = (c.id, c.policy.country, c.policy.dedup);
        let zone = c.policy.time_zone.clone();
        let phone = Phone::parse(&lead.phone, country);
        let verdict = match phone {
            Err(e) => Verdict::invalid("invalid_phone", "phone", e.to_string()),
            Ok(p) => match c.policy.destinations.judge(p, country) {
                Err(refusal) => Verdict::Invalid {
                    error: "destination_refused".into(),
                    field: "phone".into(),
                    message: format!("{p} is not called: {refusal}"),
                    rule: Some(refusal.rule().into()),
                },
                Ok(()) => self.judge(&lead, p, campaign_id, dedup, now),
            },
        };
        match &verdict {
            Verdict::Accepted { id, phone } => self.pending.leads.push(LeadRow {
                id: *id,
                campaign_id,
                phone: phone.clone(),
                order_id: lead.order_id,
                name: lead.name,
                items: lead
                    .items
                    .map(|i| serde_json::to_string(&i).unwrap_or_default()),
                sum_minor: lead.sum_minor,
                keep_until_ms: lead
                    .keep_until
                    .as_deref()
                    .and_then(|t| keep_until_ms(t, lead.time_zone.as_deref().unwrap_or(&zone))),
                time_zone: lead.time_zone,
                pickup_point: lead.pickup_point,
                source: source.as_str(),
                created_ms: now,
            }),
            Verdict::Duplicate {
                duplicate_of,
                message,
            } => self.pending.rejected.push(RejectedRow {
                campaign_id,
                phone: lead.phone,
                order_id: lead.order_id,
                reason: "duplicate",
                message: message.clone(),
                duplicate_of: Some(*duplicate_of),
                source: source.as_str(),
                created_ms: now,
            }),
            Verdict::Invalid { error, message, .. } => self.pending.rejected.push(RejectedRow {
                campaign_id,
                phone: lead.phone,
                order_id: lead.order_id,
                reason: match error.as_str() {
                    "missing_order_id" => "missing_order_id",
                    "destination_refused" => "destination_refused",
                    _ => "invalid_phone",
                },
                message: message.clone(),
                duplicate_of: None,
                source: source.as_str(),
                created_ms: now,
            }),
        }
        verdict
    }

    fn judge(
        &mut self,
        lead: &LeadIn,
        phone: Phone,
        campaign: i64,
        dedup: DedupPolicy,
        now: i64,
    ) -> Verdict {
        if let Some(tz) = &lead.time_zone
            && predial_core::dialer::TzId::from_name(tz).is_none()
        {
            return Verdict::invalid(
                "invalid_time_zone",
                "time_zone",
                format!("`{tz}` is not an IANA time zone like Europe/Moscow"),
            );
        }
        if let Some(until) = &lead.keep_until
            && keep_until_ms(until, "Europe/Moscow").is_none()
        {
            return Verdict::invalid(
                "invalid_keep_until",
                "keep_until",
                format!(
                    "`{until}`: a date like 2026-12-05 or a time like 2026-12-05T18:00:00+03:00"
                ),
            );
        }
        if let Some(sum) = lead.sum_minor
            && sum < 0
        {
            return Verdict::invalid(
                "invalid_sum",
                "sum_minor",
                format!("{sum}: an order's sum cannot be negative"),
            );
        }
        let id = self.next_id;
        match self.dedup.admit(
            Timestamp::from_millis(now),
            &dedup,
            campaign_key(campaign),
            phone.digits(),
            lead.order_id.as_deref(),
            LeadId(id as u64),
        ) {
            DedupVerdict::New => {
                self.next_id += 1;
                Verdict::Accepted {
                    id,
                    phone: phone.to_string(),
                }
            }
            DedupVerdict::Duplicate(of) => Verdict::Duplicate {
                duplicate_of: of.0 as i64,
                message: match dedup.rule {
                    predial_core::dialer::policy::DedupRule::A => {
                        format!("the same order from {phone} is lead {}", of.0)
                    }
                    predial_core::dialer::policy::DedupRule::B => format!(
                        "{phone} was received within the campaign's {} window as lead {}",
                        predial_core::time::format_span(dedup.window),
                        of.0
                    ),
                },
            },
            DedupVerdict::MissingOrderId => Verdict::invalid(
                "missing_order_id",
                "order_id",
                "the campaign catches duplicates by order id (rule A): send order_id".into(),
            ),
        }
    }

    /// Writes what was taken since the last flush (with other requests' rows, by the writer)
    /// and waits until it is stored.
    pub async fn flush(&mut self) -> Result<(), FlushError> {
        let batch = self.start_flush();
        batch.wait().await
    }

    /// Hands what was taken to the writer without waiting: the intake can take more while it
    /// is written. Wait on the returned handle.
    pub fn start_flush(&mut self) -> Flush {
        let (tx, rx) = oneshot::channel();
        let mut batch = std::mem::take(&mut self.pending);
        if batch.leads.is_empty() && batch.rejected.is_empty() {
            let _ = tx.send(Ok(()));
            return Flush(rx);
        }
        batch.done.push(tx);
        if let Err(e) = self.writer.try_send(batch) {
            let batch = match e {
                mpsc::error::TrySendError::Full(b) | mpsc::error::TrySendError::Closed(b) => b,
            };
            // The writer is busy: it gets the batch as soon as it takes the next.
            let writer = self.writer.clone();
            tokio::spawn(async move {
                if let Err(mpsc::error::SendError(b)) = writer.send(batch).await {
                    for d in b.done {
                        let _ = d.send(Err(FlushError::WriterStopped));
                    }
                }
            });
        }
        Flush(rx)
    }
}

/// A batch on its way to the store.
pub struct Flush(oneshot::Receiver<Result<(), FlushError>>);

impl Flush {
    pub async fn wait(self) -> Result<(), FlushError> {
        self.0.await.unwrap_or(Err(FlushError::WriterStopped))
    }
}

/// Campaign ids as the core's duplicate check keys them.
fn campaign_key(id: i64) -> u32 {
    u32::try_from(id).unwrap_or(u32::MAX)
}

/// One task writes every batch; batches waiting when it gets to them are written together, in
/// one transaction.
fn spawn_writer(store: Store) -> mpsc::Sender<Batch> {
    let (tx, mut rx) = mpsc::channel::<Batch>(64);
    tokio::spawn(async move {
        while let Some(mut batch) = rx.recv().await {
            while batch.leads.len() < 50_000 {
                match rx.try_recv() {
                    Ok(more) => {
                        batch.leads.extend(more.leads);
                        batch.rejected.extend(more.rejected);
                        batch.done.extend(more.done);
                    }
                    Err(_) => break,
                }
            }
            let result = store
                .insert_leads(&batch.leads, &batch.rejected)
                .await
                .map_err(|e| FlushError::Store(Arc::new(e)));
            if let Err(e) = &result {
                tracing::error!(error = %e, leads = batch.leads.len(), "storing leads failed");
            }
            for d in batch.done {
                let _ = d.send(result.clone());
            }
        }
    });
    tx
}
