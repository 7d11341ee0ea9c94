//! Leads in the store: written in batches (one transaction, multi-row inserts), read one at a
//! time for the API, and read back whole at start-up to rebuild what is kept in memory.

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, on_pool};

/// A lead to store (its phone already in E.164).
#[derive(Debug, Clone)]
pub struct LeadRow {
    pub id: i64,
    pub campaign_id: i64,
    pub phone: String,
    pub order_id: Option<String>,
    pub name: Option<String>,
    /// JSON array, as sent.
    pub items: Option<String>,
    pub sum_minor: Option<i64>,
    pub time_zone: Option<String>,
    pub pickup_point: Option<String>,
    pub keep_until_ms: Option<i64>,
    pub source: &'static str,
    pub created_ms: i64,
}

/// A lead refused on the way in.
#[derive(Debug, Clone)]
pub struct RejectedRow {
    pub campaign_id: i64,
    pub phone: String,
    pub order_id: Option<String>,
    pub reason: &'static str,
    pub message: String,
    pub duplicate_of: Option<i64>,
    pub source: &'static str,
    pub created_ms: i64,
}

/// A stored lead, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Lead {
    pub id: i64,
    pub campaign: String,
    /// E.164.
    pub phone: String,
    pub order_id: Option<String>,
    pub name: Option<String>,
    #[schema(value_type = Option<Vec<String>>)]
    pub items: Option<serde_json::Value>,
    pub sum_minor: Option<i64>,
    pub time_zone: Option<String>,
    /// Pickup reminders: the point, and until when the parcel is kept (ms).
    pub pickup_point: Option<String>,
    pub keep_until_ms: Option<i64>,
    /// queued, calling, done, exhausted, cancelled
    pub state: String,
    pub attempts: i64,
    pub created_ms: i64,
    pub closed_ms: Option<i64>,
    pub source: String,
}

/// What start-up needs of a lead to rebuild the duplicate check.
#[derive(Debug, Clone)]
pub struct SeenLead {
    pub id: i64,
    pub campaign_id: i64,
    pub phone: String,
    pub order_id: Option<String>,
    pub created_ms: i64,
}

/// Rows per multi-row INSERT: 12 columns x 1,000 = 12,000 parameters, under SQLite's 32,766.
const CHUNK: usize = 1000;

const LEAD_COLUMNS: &str = "l.id, c.name AS campaign, l.phone, l.order_id, l.name, l.items, \
     l.sum_minor, l.time_zone, l.pickup_point, l.keep_until_ms, l.state, l.attempts, l.created_ms, \
     l.closed_ms, l.source";

macro_rules! lead_from_row {
    ($r:expr) => {{
        let r = $r;
        let items: Option<String> = r.try_get("items")?;
        Lead {
            id: r.try_get("id")?,
            campaign: r.try_get("campaign")?,
            phone: r.try_get("phone")?,
            order_id: r.try_get("order_id")?,
            name: r.try_get("name")?,
            items: items.and_then(|s| serde_json::from_str(&s).ok()),
            sum_minor: r.try_get("sum_minor")?,
            time_zone: r.try_get("time_zone")?,
            pickup_point: r.try_get("pickup_point")?,
            keep_until_ms: r.try_get("keep_until_ms")?,
            state: r.try_get("state")?,
            attempts: r.try_get("attempts")?,
            created_ms: r.try_get("created_ms")?,
            closed_ms: r.try_get("closed_ms")?,
            source: r.try_get("source")?,
        }
    }};
}

impl Store {
    /// The id the next lead takes (ids are given by predial, so a batch needs no round trip).
    pub async fn next_lead_id(&self) -> Result<i64, StoreError> {
        let max: Option<i64> = on_pool!(&self.db, |p| {
            sqlx::query_scalar("SELECT MAX(id) FROM leads")
                .fetch_one(p)
                .await?
        });
        Ok(max.unwrap_or(0) + 1)
    }

    /// Writes accepted and refused leads in one transaction.
    pub async fn insert_leads(
        &self,
        leads: &[LeadRow],
        rejected: &[RejectedRow],
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| {
            let mut tx = p.begin().await?;
            for chunk in leads.chunks(CHUNK) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO leads (id, campaign_id, phone, order_id, name, items, sum_minor, \
                     time_zone, pickup_point, keep_until_ms, source, created_ms) ",
                );
                qb.push_values(chunk, |mut b, l| {
                    b.push_bind(l.id)
                        .push_bind(l.campaign_id)
                        .push_bind(&l.phone)
                        .push_bind(&l.order_id)
                        .push_bind(&l.name)
                        .push_bind(&l.items)
                        .push_bind(l.sum_minor)
                        .push_bind(&l.time_zone)
                        .push_bind(&l.pickup_point)
                        .push_bind(l.keep_until_ms)
                        .push_bind(l.source)
                        .push_bind(l.created_ms);
                });
                qb.build().execute(&mut *tx).await?;
            }
            for chunk in rejected.chunks(CHUNK) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO rejected_leads (campaign_id, phone, order_id, reason, message, \
                     duplicate_of, source, created_ms) ",
                );
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.campaign_id)
                        .push_bind(&r.phone)
                        .push_bind(&r.order_id)
                        .push_bind(r.reason)
                        .push_bind(&r.message)
                        .push_bind(r.duplicate_of)
                        .push_bind(r.source)
                        .push_bind(r.created_ms);
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn lead(&self, id: i64) -> Result<Option<Lead>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {LEAD_COLUMNS} FROM leads l JOIN campaigns c ON c.id = l.campaign_id \
             WHERE l.id = $1"
        ));
        on_pool!(&self.db, |p| {
            match sqlx::query(sql).bind(id).fetch_optional(p).await? {
                Some(r) => Ok(Some(lead_from_row!(&r))),
                None => Ok(None),
            }
        })
    }

    /// Leads by phone (E.164) and / or order id, newest first.
    pub async fn find_leads(
        &self,
        phone: Option<&str>,
        order_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Lead>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {LEAD_COLUMNS} FROM leads l JOIN campaigns c ON c.id = l.campaign_id \
             WHERE ($1 IS NULL OR l.phone = $1) AND ($2 IS NULL OR l.order_id = $2) \
             ORDER BY l.id DESC LIMIT $3"
        ));
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(sql)
                .bind(phone)
                .bind(order_id)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(lead_from_row!(r));
            }
            Ok(out)
        })
    }

    /// Cancels an open lead. `Ok(None)`: no such lead; `Ok(Some(false))`: already closed.
    pub async fn cancel_lead(&self, id: i64, now_ms: i64) -> Result<Option<bool>, StoreError> {
        let n = on_pool!(&self.db, |p| {
            sqlx::query(
                "UPDATE leads SET state = 'cancelled', closed_ms = $2 \
                 WHERE id = $1 AND closed_ms IS NULL",
            )
            .bind(id)
            .bind(now_ms)
            .execute(p)
            .await?
            .rows_affected()
        });
        if n > 0 {
            return Ok(Some(true));
        }
        Ok(self.lead(id).await?.map(|_| false))
    }

    /// Leads created since `since_ms`, oldest first, handed to `each` as they are read.
    pub async fn seen_leads(
        &self,
        since_ms: i64,
        mut each: impl FnMut(SeenLead),
    ) -> Result<u64, StoreError> {
        let mut n = 0u64;
        on_pool!(&self.db, |p| {
            let mut rows = sqlx::query(
                "SELECT id, campaign_id, phone, order_id, created_ms FROM leads \
                 WHERE created_ms >= $1 ORDER BY id",
            )
            .bind(since_ms)
            .fetch(p);
            while let Some(r) = rows.try_next().await? {
                n += 1;
                each(SeenLead {
                    id: r.try_get("id")?,
                    campaign_id: r.try_get("campaign_id")?,
                    phone: r.try_get("phone")?,
                    order_id: r.try_get("order_id")?,
                    created_ms: r.try_get("created_ms")?,
                });
            }
        });
        Ok(n)
    }

    /// Counts of leads: (stored, refused as duplicates, refused as invalid).
    /// How many leads are in each state.
    pub async fn lead_states(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT state, COUNT(*) FROM leads GROUP BY state")
                    .fetch_all(p)
                    .await?;
            Ok(rows.into_iter().map(|(s, n)| (s, n as u64)).collect())
        })
    }

    pub async fn lead_counts(&self) -> Result<(i64, i64, i64), StoreError> {
        on_pool!(&self.db, |p| {
            let leads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM leads")
                .fetch_one(p)
                .await?;
            let dups: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM rejected_leads WHERE reason = 'duplicate'",
            )
            .fetch_one(p)
            .await?;
            let invalid: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM rejected_leads WHERE reason <> 'duplicate'",
            )
            .fetch_one(p)
            .await?;
            Ok((leads, dups, invalid))
        })
    }
}
