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

/// What the store tells of calls now, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct CallFigures {
    /// (campaign, trunk or "", calls in progress)
    pub in_progress: Vec<(String, String, i64)>,
    pub started_last_minute: i64,
    /// Over the last hour: attempts ended, answered, abandoned.
    pub ended_hour: i64,
    pub answered_hour: i64,
    pub abandoned_hour: i64,
    /// Over the last 24 hours: answered, abandoned.
    pub answered_day: i64,
    pub abandoned_day: i64,
}

impl Store {
    pub async fn call_figures(&self, now_ms: i64) -> Result<CallFigures, StoreError> {
        let (minute, hour, day) = (now_ms - 60_000, now_ms - 3_600_000, now_ms - 86_400_000);
        on_pool!(&self.db, |p| {
            let mut f = CallFigures::default();
            for r in sqlx::query(
                "SELECT c.name, COALESCE(a.trunk, ''), COUNT(*) FROM attempts a \
                 JOIN campaigns c ON c.id = a.campaign_id WHERE a.end_ms IS NULL \
                 GROUP BY c.name, COALESCE(a.trunk, '')",
            )
            .fetch_all(p)
            .await?
            {
                f.in_progress
                    .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
            }
            f.started_last_minute =
                sqlx::query_scalar("SELECT COUNT(*) FROM attempts WHERE started_ms >= $1")
                    .bind(minute)
                    .fetch_one(p)
                    .await?;
            let r = sqlx::query(
                "SELECT COUNT(end_ms), COUNT(answer_ms) FROM attempts WHERE end_ms >= $1",
            )
            .bind(hour)
            .fetch_one(p)
            .await?;
            f.ended_hour = r.try_get(0)?;
            f.answered_hour = r.try_get(1)?;
            f.answered_day =
                sqlx::query_scalar("SELECT COUNT(*) FROM attempts WHERE answer_ms >= $1")
                    .bind(day)
                    .fetch_one(p)
                    .await?;
            let r = sqlx::query(
                "SELECT COUNT(CASE WHEN ended_ms >= $1 THEN 1 END), COUNT(*) FROM abandon_log \
                 WHERE ended_ms >= $2",
            )
            .bind(hour)
            .bind(day)
            .fetch_one(p)
            .await?;
            f.abandoned_hour = r.try_get(0)?;
            f.abandoned_day = r.try_get(1)?;
            Ok(f)
        })
    }

    /// The trunks' live state as the engine last wrote it: (name, JSON).
    pub async fn trunk_live(&self) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query("SELECT name, value FROM settings WHERE name LIKE 'trunk.%'")
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    let name: String = r.try_get(0)?;
                    Ok((name.trim_start_matches("trunk.").to_string(), r.try_get(1)?))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }
}

/// A call's start or end, for the event stream.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallChange {
    pub event: &'static str,
    pub attempt: i64,
    pub lead: i64,
    pub campaign: String,
    pub trunk: Option<String>,
    pub outcome: Option<String>,
    pub operator: Option<String>,
    pub at_ms: i64,
}

impl Store {
    /// Calls started or ended in `[from_ms, to_ms)`, in time order.
    pub async fn call_changes(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<CallChange>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT a.id, a.lead_id, c.name, a.trunk, a.outcome, a.operator, a.started_ms, a.end_ms \
                 FROM attempts a JOIN campaigns c ON c.id = a.campaign_id \
                 WHERE (a.started_ms >= $1 AND a.started_ms < $2) OR (a.end_ms >= $1 AND a.end_ms < $2)",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(p)
            .await?;
            let mut out = Vec::new();
            for r in &rows {
                let started: i64 = r.try_get(6)?;
                let ended: Option<i64> = r.try_get(7)?;
                let base = |event: &'static str, at_ms: i64| -> Result<CallChange, sqlx::Error> {
                    Ok(CallChange {
                        event,
                        attempt: r.try_get(0)?,
                        lead: r.try_get(1)?,
                        campaign: r.try_get(2)?,
                        trunk: r.try_get(3)?,
                        outcome: if event == "call.ended" {
                            r.try_get(4)?
                        } else {
                            None
                        },
                        operator: r.try_get(5)?,
                        at_ms,
                    })
                };
                if (from_ms..to_ms).contains(&started) {
                    out.push(base("call.started", started)?);
                }
                if let Some(e) = ended.filter(|e| (from_ms..to_ms).contains(e)) {
                    out.push(base("call.ended", e)?);
                }
            }
            out.sort_by_key(|c| c.at_ms);
            Ok(out)
        })
    }
}
