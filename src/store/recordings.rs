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
