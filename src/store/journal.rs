//! The engine's journal: what happens to calls and leads, written to the store by one task in
//! batches (group commit: whatever is waiting goes in one transaction). An attempt is written as
//! started before its INVITE leaves (the engine waits for that write); the rest is written
//! without making the engine wait.
//!
//! At start-up, attempts a crash left open are closed as `interrupted` (they do not count as
//! attempts: the lead is dialled again), and the campaign's open leads are read back with their
//! attempts, outcomes and next due time.

use futures_util::TryStreamExt;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use predial_core::dialer::{LeadId, LeadState, Outcome};

use super::{Store, StoreError, now_ms, on_pool};

/// A lead's id as the store's row id.
fn row_id(lead: LeadId) -> i64 {
    i64::try_from(lead.0).unwrap_or(i64::MAX)
}

/// One thing to write.
#[derive(Debug, Clone)]
pub enum Entry {
    Started {
        attempt: i64,
        lead: i64,
        campaign: i64,
        at_ms: i64,
    },
    Rang {
        attempt: i64,
        at_ms: i64,
    },
    Answered {
        attempt: i64,
        at_ms: i64,
        call_id: String,
    },
    Bridged {
        attempt: i64,
        at_ms: i64,
        operator: String,
    },
    Ended {
        attempt: i64,
        at_ms: i64,
        outcome: Outcome,
        trunk: Option<String>,
        sip_code: Option<i64>,
        recording: Option<String>,
    },
    Lead {
        lead: LeadId,
        state: LeadState,
        attempts: i64,
        history: String,
        next_at_ms: Option<i64>,
        closed_ms: Option<i64>,
    },
    /// An inbound queue call rang an operator: answered (`accepted`) or not.
    InboundOffer {
        at_ms: i64,
        operator: String,
        queue: String,
        accepted: bool,
    },
    /// A callback made from a missed call reached the caller: the missed call is recovered.
    MissedRecovered {
        lead: LeadId,
        at_ms: i64,
    },
    /// An abandoned call for the abandon log (append-only: written once, never changed).
    Abandoned(Box<super::abandons::NewAbandon>),
    /// A notification for the shop's CRM (the webhook outbox), stored with what it tells of.
    Webhook {
        event: String,
        key: String,
        payload: String,
        at_ms: i64,
    },
    /// A lead closed that the engine no longer holds (cancelled).
    LeadClosed {
        lead: LeadId,
        state: LeadState,
        at_ms: i64,
    },
    /// The trunk a started attempt went out through.
    Placed {
        attempt: i64,
        trunk: String,
    },
    /// A trunk's live state as the engine sees it (JSON), for the API and metrics.
    TrunkState {
        name: String,
        state: String,
    },
    /// An operator's state as the engine sees it.
    OperatorState {
        login: String,
        state: String,
        reason: Option<String>,
    },
    /// Nothing: written to know that everything before it is.
    Sync,
}

/// A lead read back at start-up.
#[derive(Debug, Clone)]
pub struct OpenLead {
    pub id: i64,
    pub phone: String,
    pub order_id: Option<String>,
    pub time_zone: Option<String>,
    pub created_ms: i64,
    pub attempts: i64,
    pub history: String,
    pub next_at_ms: Option<i64>,
    /// api, import, or callback (made from a missed inbound call: dialled first).
    pub source: String,
    /// Pickup reminders: the point, and until when the parcel is kept.
    pub pickup_point: Option<String>,
    pub keep_until_ms: Option<i64>,
}

/// An `OpenLead` from a row of `leads` (either database's), `?` on a bad column.
macro_rules! open_lead {
    ($r:expr) => {
        OpenLead {
            id: $r.try_get("id")?,
            phone: $r.try_get("phone")?,
            order_id: $r.try_get("order_id")?,
            time_zone: $r.try_get("time_zone")?,
            created_ms: $r.try_get("created_ms")?,
            attempts: $r.try_get("attempts")?,
            history: $r.try_get("history")?,
            next_at_ms: $r.try_get("next_at_ms")?,
            source: $r.try_get("source")?,
            pickup_point: $r.try_get("pickup_point")?,
            keep_until_ms: $r.try_get("keep_until_ms")?,
        }
    };
}

/// The engine's handle on the journal.
#[derive(Debug, Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<(Entry, Option<oneshot::Sender<bool>>)>,
    /// Attempt rows made by this run are numbered after this (the largest stored).
    pub attempt_offset: i64,
    /// Whether notifications for the shop's CRM are queued (a webhook is configured).
    /// (The service's feeder looks again every few seconds: a webhook set through the API
    /// takes effect without a restart.)
    pub webhooks: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Journal {
    /// Writes `entry` soon, with others.
    pub fn write(&self, entry: Entry) {
        let _ = self.tx.send((entry, None));
    }

    /// Waits until everything written before is stored.
    pub async fn sync(&self) {
        let _ = self.write_and_confirm(Entry::Sync).await;
    }

    /// Writes `entry`; the receiver says whether it is stored.
    pub fn write_and_confirm(&self, entry: Entry) -> oneshot::Receiver<bool> {
        let (tx, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError((_, Some(tx)))) = self.tx.send((entry, Some(tx))) {
            let _ = tx.send(false);
        }
        rx
    }
}

/// What start-up found.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Recovered {
    /// Attempts a crash left open, now closed as interrupted.
    pub interrupted_attempts: u64,
}

impl Store {
    /// Closes attempts left open (a crash) as interrupted and starts the journal's writer.
    pub async fn open_journal(&self) -> Result<(Journal, Recovered), StoreError> {
        let now = now_ms();
        let (interrupted, max) = on_pool!(&self.db, |p| {
            let mut tx = p.begin().await?;
            let leads: Vec<i64> = sqlx::query_scalar(
                "UPDATE attempts SET end_ms = $1, outcome = 'interrupted' \
                 WHERE end_ms IS NULL RETURNING lead_id",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            for lead in &leads {
                sqlx::query(
                    "UPDATE leads SET state = CASE WHEN attempts = 0 THEN 'queued' ELSE 'scheduled' END, \
                     next_at_ms = $2 WHERE id = $1 AND closed_ms IS NULL",
                )
                .bind(lead)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM attempts")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            (leads.len() as u64, max.unwrap_or(0))
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer(self.clone(), rx));
        Ok((
            Journal {
                tx,
                attempt_offset: max,
                webhooks: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
                    self.webhook_config().await?.is_some(),
                )),
            },
            Recovered {
                interrupted_attempts: interrupted,
            },
        ))
    }

    /// Open leads of every campaign after lead `after` (the newest the engine has), oldest
    /// first, at most `limit`: (campaign, lead).
    pub async fn open_leads_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, OpenLead)>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT campaign_id, id, phone, order_id, time_zone, created_ms, attempts, history,                  next_at_ms, source, pickup_point, keep_until_ms FROM leads WHERE id > $1 AND closed_ms IS NULL ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await?;
            let leads = rows
                .iter()
                .map(|r| Ok((r.try_get("campaign_id")?, open_lead!(r))))
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            Ok(leads)
        })
    }

    /// Leads cancelled (through the API) at or after `since_ms`.
    pub async fn cancelled_since(&self, since_ms: i64) -> Result<Vec<i64>, StoreError> {
        on_pool!(&self.db, |p| {
            Ok(sqlx::query_scalar(
                "SELECT id FROM leads WHERE state = 'cancelled' AND closed_ms >= $1 ORDER BY id",
            )
            .bind(since_ms)
            .fetch_all(p)
            .await?)
        })
    }

    /// The campaign's open leads, oldest first.
    pub async fn open_leads(&self, campaign: i64) -> Result<Vec<OpenLead>, StoreError> {
        on_pool!(&self.db, |p| {
            let mut rows = sqlx::query(
                "SELECT id, phone, order_id, time_zone, created_ms, attempts, history, next_at_ms, source, \
                 pickup_point, keep_until_ms \
                 FROM leads WHERE campaign_id = $1 AND closed_ms IS NULL ORDER BY id",
            )
            .bind(campaign)
            .fetch(p);
            let mut out = Vec::new();
            while let Some(r) = rows.try_next().await? {
                out.push(open_lead!(r));
            }
            Ok(out)
        })
    }

    /// A lead's attempts: (outcome, start, end), oldest first.
    pub async fn attempts_of(
        &self,
        lead: i64,
    ) -> Result<Vec<(Option<String>, i64, Option<i64>)>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT outcome, started_ms, end_ms FROM attempts WHERE lead_id = $1 ORDER BY id",
            )
            .bind(lead)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("outcome")?,
                        r.try_get("started_ms")?,
                        r.try_get("end_ms")?,
                    ))
                })
                .collect()
        })
    }

    async fn write_entries(&self, entries: &[Entry]) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| {
            let mut tx = p.begin().await?;
            for e in entries {
                let q = match e {
                    Entry::Sync => continue,
                    Entry::LeadClosed { lead, state, at_ms } => sqlx::query(
                        "UPDATE leads SET state = $2, closed_ms = COALESCE(closed_ms, $3) WHERE id = $1",
                    )
                    .bind(row_id(*lead))
                    .bind(state.as_str())
                    .bind(at_ms),
                    Entry::InboundOffer {
                        at_ms,
                        operator,
                        queue,
                        accepted,
                    } => sqlx::query(
                        "INSERT INTO inbound_offers (at_ms, operator, queue, accepted) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(at_ms)
                    .bind(operator)
                    .bind(queue)
                    .bind(i64::from(*accepted)),
                    Entry::MissedRecovered { lead, at_ms } => sqlx::query(
                        "UPDATE missed_calls SET recovered_ms = $2 \
                         WHERE lead_id = $1 AND recovered_ms IS NULL",
                    )
                    .bind(row_id(*lead))
                    .bind(at_ms),
                    Entry::Placed { attempt, trunk } => {
                        sqlx::query("UPDATE attempts SET trunk = $2 WHERE id = $1")
                            .bind(attempt)
                            .bind(trunk)
                    }
                    Entry::OperatorState {
                        login,
                        state,
                        reason,
                    } => sqlx::query(
                        "UPDATE operators SET state = $2, pause_reason = $3 WHERE login = $1",
                    )
                    .bind(login)
                    .bind(state)
                    .bind(reason),
                    Entry::TrunkState { name, state } => sqlx::query(
                        "INSERT INTO settings (name, value) VALUES ($1, $2) \
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    )
                    .bind(format!("trunk.{name}"))
                    .bind(state),
                    Entry::Webhook {
                        event,
                        key,
                        payload,
                        at_ms,
                    } => sqlx::query(super::webhooks::ENQUEUE)
                        .bind(event)
                        .bind(key)
                        .bind(payload)
                        .bind(at_ms),
                    Entry::Started {
                        attempt,
                        lead,
                        campaign,
                        at_ms,
                    } => {
                        sqlx::query("UPDATE leads SET state = 'dialing' WHERE id = $1")
                            .bind(lead)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(
                            "INSERT INTO attempts (id, lead_id, campaign_id, started_ms) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(attempt)
                        .bind(lead)
                        .bind(campaign)
                        .bind(at_ms)
                    }
                    Entry::Rang { attempt, at_ms } => {
                        sqlx::query("UPDATE attempts SET ring_ms = $2 WHERE id = $1")
                            .bind(attempt)
                            .bind(at_ms)
                    }
                    Entry::Answered {
                        attempt,
                        at_ms,
                        call_id,
                    } => sqlx::query(
                        "UPDATE attempts SET answer_ms = $2, call_id = $3 WHERE id = $1",
                    )
                    .bind(attempt)
                    .bind(at_ms)
                    .bind(call_id),
                    Entry::Bridged {
                        attempt,
                        at_ms,
                        operator,
                    } => sqlx::query(
                        "UPDATE attempts SET bridge_ms = $2, operator = $3 WHERE id = $1",
                    )
                    .bind(attempt)
                    .bind(at_ms)
                    .bind(operator),
                    Entry::Ended {
                        attempt,
                        at_ms,
                        outcome,
                        trunk,
                        sip_code,
                        recording,
                    } => sqlx::query(
                        "UPDATE attempts SET end_ms = $2, outcome = $3, trunk = $4, sip_code = $5, \
                         recording = $6 WHERE id = $1",
                    )
                    .bind(attempt)
                    .bind(at_ms)
                    .bind(outcome.as_str())
                    .bind(trunk)
                    .bind(sip_code)
                    .bind(recording),
                    Entry::Lead {
                        lead,
                        state,
                        attempts,
                        history,
                        next_at_ms,
                        closed_ms,
                    } => sqlx::query(
                        "UPDATE leads SET state = $2, attempts = $3, history = $4, next_at_ms = $5, \
                         closed_ms = $6 WHERE id = $1",
                    )
                    .bind(row_id(*lead))
                    .bind(state.as_str())
                    .bind(attempts)
                    .bind(history)
                    .bind(next_at_ms)
                    .bind(closed_ms),
                    Entry::Abandoned(a) => {
                        super::abandons::bind_abandon!(sqlx::query(super::abandons::INSERT), a)
                    }
                };
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

type Queued = (Entry, Option<oneshot::Sender<bool>>);

/// At most this many entries per transaction: a dial waiting for its start to be stored waits
/// for its batch, so batches stay short under load (a commit in WAL mode is cheap).
const BATCH: usize = 256;

async fn writer(store: Store, mut rx: mpsc::UnboundedReceiver<Queued>) {
    let mut entries = Vec::new();
    let mut acks = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some((e, ack)) = next.take() {
            entries.push(e);
            acks.extend(ack);
            if entries.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        let ok = match store.write_entries(&entries).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, entries = entries.len(), "the journal could not be written");
                false
            }
        };
        entries.clear();
        for a in acks.drain(..) {
            let _ = a.send(ok);
        }
    }
}
