//! Missed inbound calls: who called, which queue, why nobody answered, the callback lead made
//! for them, and whether that callback reached them (recovered).

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, on_pool};

/// A missed call, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissedCall {
    pub id: i64,
    /// E.164 when it could be read, else as the trunk sent it.
    pub phone: String,
    pub queue: String,
    /// abandoned_in_queue, after_hours, max_wait, callback_asked
    pub reason: String,
    pub waited_ms: i64,
    pub at_ms: i64,
    /// The callback lead (a new one, or the number's lead that was open already).
    pub lead_id: Option<i64>,
    /// When the callback reached the caller.
    pub recovered_ms: Option<i64>,
}

/// Missed calls over a period.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct MissedFigures {
    pub missed: i64,
    pub recovered: i64,
    /// recovered / missed (0 without missed calls).
    pub recovered_share: f64,
}

impl Store {
    pub async fn add_missed_call(&self, m: &MissedCall) -> Result<i64, StoreError> {
        on_pool!(&self.db, |p| {
            Ok(sqlx::query_scalar(
                "INSERT INTO missed_calls (phone, queue, reason, waited_ms, at_ms, lead_id) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&m.phone)
            .bind(&m.queue)
            .bind(&m.reason)
            .bind(m.waited_ms)
            .bind(m.at_ms)
            .bind(m.lead_id)
            .fetch_one(p)
            .await?)
        })
    }

    /// Missed calls at or after `since_ms`, newest first.
    pub async fn missed_calls(
        &self,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<MissedCall>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT id, phone, queue, reason, waited_ms, at_ms, lead_id, recovered_ms \
                 FROM missed_calls WHERE at_ms >= $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(since_ms)
            .bind(limit)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(MissedCall {
                        id: r.try_get("id")?,
                        phone: r.try_get("phone")?,
                        queue: r.try_get("queue")?,
                        reason: r.try_get("reason")?,
                        waited_ms: r.try_get("waited_ms")?,
                        at_ms: r.try_get("at_ms")?,
                        lead_id: r.try_get("lead_id")?,
                        recovered_ms: r.try_get("recovered_ms")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    pub async fn missed_figures(&self, since_ms: i64) -> Result<MissedFigures, StoreError> {
        on_pool!(&self.db, |p| {
            let r = sqlx::query(
                "SELECT COUNT(*) AS missed, COUNT(recovered_ms) AS recovered \
                 FROM missed_calls WHERE at_ms >= $1",
            )
            .bind(since_ms)
            .fetch_one(p)
            .await?;
            let (missed, recovered): (i64, i64) = (r.try_get("missed")?, r.try_get("recovered")?);
            Ok(MissedFigures {
                missed,
                recovered,
                recovered_share: if missed == 0 {
                    0.0
                } else {
                    recovered as f64 / missed as f64
                },
            })
        })
    }
}
