//! Recordings as the attempts table knows them.

use sqlx::Row;

use super::{Store, StoreError, on_pool};

#[derive(Debug, Clone)]
pub struct RecordingRow {
    pub attempt: i64,
    pub lead: i64,
    pub started_ms: i64,
    pub call_id: Option<String>,
    pub path: String,
}

impl Store {
    pub async fn recordings_of(&self, lead: i64) -> Result<Vec<RecordingRow>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT id, lead_id, started_ms, call_id, recording FROM attempts \
                 WHERE lead_id = $1 AND recording IS NOT NULL ORDER BY id",
            )
            .bind(lead)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(RecordingRow {
                        attempt: r.try_get(0)?,
                        lead: r.try_get(1)?,
                        started_ms: r.try_get(2)?,
                        call_id: r.try_get(3)?,
                        path: r.try_get(4)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    pub async fn recording_path(&self, attempt: i64) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(&self.db, |p| {
            sqlx::query_scalar::<_, Option<String>>("SELECT recording FROM attempts WHERE id = $1")
                .bind(attempt)
                .fetch_optional(p)
                .await?
                .flatten()
        }))
    }

    /// Open leads per campaign, and how late the most overdue one is (ms; 0 when none is
    /// overdue): the SLA gauge.
    pub async fn queue_figures(&self, now_ms: i64) -> Result<Vec<(String, i64, i64)>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT c.name, COUNT(l.id), \
                 MIN(CASE WHEN l.state IN ('queued', 'scheduled') THEN COALESCE(l.next_at_ms, l.created_ms) END) \
                 FROM campaigns c LEFT JOIN leads l ON l.campaign_id = c.id AND l.closed_ms IS NULL \
                 GROUP BY c.name",
            )
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    let due: Option<i64> = r.try_get(2)?;
                    Ok((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        due.map_or(0, |d| (now_ms - d).max(0)),
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }
}

/// A trunk's calls over a recent period, as the attempts table tells.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct TrunkFigures {
    pub calls: i64,
    pub answered: i64,
    /// Calls the trunk failed (5xx, no answer from it, refused credentials).
    pub trunk_failures: i64,
    /// Calls per second over the period.
    pub cps: f64,
}

impl Store {
    /// Per trunk name: its calls ended since `since_ms`.
    pub async fn trunk_figures(
        &self,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<(String, TrunkFigures)>, StoreError> {
        let seconds = ((now_ms - since_ms) as f64 / 1000.0).max(1.0);
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT trunk, COUNT(*), COUNT(answer_ms), \
                 COUNT(CASE WHEN outcome = 'trunk_failure' THEN 1 END) \
                 FROM attempts WHERE trunk IS NOT NULL AND started_ms >= $1 GROUP BY trunk",
            )
            .bind(since_ms)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    let calls: i64 = r.try_get(1)?;
                    Ok((
                        r.try_get(0)?,
                        TrunkFigures {
                            calls,
                            answered: r.try_get(2)?,
                            trunk_failures: r.try_get(3)?,
                            cps: calls as f64 / seconds,
                        },
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Operators per state.
    pub async fn operator_states(&self) -> Result<Vec<(String, i64)>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query("SELECT state, COUNT(*) FROM operators GROUP BY state")
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }
}
