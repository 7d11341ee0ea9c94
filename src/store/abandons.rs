//! The abandon log: every abandoned call as the regulators ask to see it (FTC Telemarketing
//! Sales Rule, Ofcom's persistent-misuse policy; docs/storage.md). Rows are only ever added:
//! triggers refuse UPDATE and DELETE on `abandon_log` in both databases.
//!
//! Also what a restart needs to put the dialing core's abandon-rate window back: a campaign's
//! live answers, abandons and machine hang-ups per hour over the last 30 days.

use sqlx::Row;

use super::{Store, StoreError, on_pool};

/// One hour.
const HOUR_MS: i64 = 3_600_000;

/// An abandoned call, as the engine writes it when the abandoned-call message starts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAbandon {
    pub attempt: i64,
    pub lead: i64,
    pub campaign: i64,
    /// The number called (E.164).
    pub phone: String,
    /// The caller id the trunk presented (E.164), when known.
    pub caller_id: Option<String>,
    pub answered_ms: i64,
    /// When no operator had come: the call was abandoned.
    pub abandoned_ms: i64,
    /// When the abandoned-call message began; none when it could not be played.
    pub message_ms: Option<i64>,
    /// From the live answer to the abandon.
    pub waited_ms: i64,
    /// `ftc` or `ofcom`.
    pub regulator: String,
    /// The campaign's figures over the regulator's window, this call included.
    pub answered_in_window: i64,
    pub abandoned_in_window: i64,
    pub window_rate: f64,
}

/// A row of the abandon log with its call's hang-up (from the attempt's end).
#[derive(Debug, Clone, PartialEq)]
pub struct AbandonRecord {
    pub id: i64,
    pub attempt: Option<i64>,
    pub lead: i64,
    pub campaign: String,
    pub phone: Option<String>,
    pub caller_id: Option<String>,
    pub answered_ms: i64,
    pub abandoned_ms: i64,
    pub message_ms: Option<i64>,
    pub hung_up_ms: Option<i64>,
    pub waited_ms: Option<i64>,
    pub regulator: Option<String>,
    pub answered_in_window: Option<i64>,
    pub abandoned_in_window: Option<i64>,
    pub window_rate: Option<f64>,
}

/// A campaign's calls of one hour (`start_ms`, a multiple of an hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PastHour {
    pub start_ms: i64,
    /// Live answers that were not abandoned.
    pub connected: i64,
    /// Abandon log rows.
    pub abandoned: i64,
    /// Calls answering-machine detection hung up on.
    pub machines: i64,
}

pub(crate) const INSERT: &str = "INSERT INTO abandon_log (attempt_id, lead_id, campaign_id, \
     answered_ms, ended_ms, reason, phone, caller_id, message_ms, waited_ms, regulator, \
     answered_in_window, abandoned_in_window, window_rate) \
     VALUES ($1, $2, $3, $4, $5, 'no operator free', $6, $7, $8, $9, $10, $11, $12, $13)";

/// The abandon log's rows of a campaign in `[from, to)`, oldest first.
const SELECT: &str = "SELECT l.id, l.attempt_id, l.lead_id, c.name AS campaign, l.phone, \
     l.caller_id, l.answered_ms, l.ended_ms, l.message_ms, a.end_ms AS hung_up_ms, l.waited_ms, \
     l.regulator, l.answered_in_window, l.abandoned_in_window, l.window_rate \
     FROM abandon_log l JOIN campaigns c ON c.id = l.campaign_id \
     LEFT JOIN attempts a ON a.id = l.attempt_id \
     WHERE l.campaign_id = $1 AND l.ended_ms >= $2 AND l.ended_ms < $3 \
     ORDER BY l.ended_ms, l.id LIMIT $4";

/// An `AbandonRecord` from a row of `SELECT` (either database's), `?` on a bad column.
macro_rules! record {
    ($r:expr) => {
        AbandonRecord {
            id: $r.try_get("id")?,
            attempt: $r.try_get("attempt_id")?,
            lead: $r.try_get("lead_id")?,
            campaign: $r.try_get("campaign")?,
            phone: $r.try_get("phone")?,
            caller_id: $r.try_get("caller_id")?,
            answered_ms: $r.try_get("answered_ms")?,
            abandoned_ms: $r.try_get("ended_ms")?,
            message_ms: $r.try_get("message_ms")?,
            hung_up_ms: $r.try_get("hung_up_ms")?,
            waited_ms: $r.try_get("waited_ms")?,
            regulator: $r.try_get("regulator")?,
            answered_in_window: $r.try_get("answered_in_window")?,
            abandoned_in_window: $r.try_get("abandoned_in_window")?,
            window_rate: $r.try_get("window_rate")?,
        }
    };
}

/// `INSERT` with `$a`'s values bound (a macro: the query's type differs by database).
macro_rules! bind_abandon {
    ($q:expr, $a:expr) => {{
        let a: &$crate::store::abandons::NewAbandon = $a;
        $q.bind(a.attempt)
            .bind(a.lead)
            .bind(a.campaign)
            .bind(a.answered_ms)
            .bind(a.abandoned_ms)
            .bind(a.phone.clone())
            .bind(a.caller_id.clone())
            .bind(a.message_ms)
            .bind(a.waited_ms)
            .bind(a.regulator.clone())
            .bind(a.answered_in_window)
            .bind(a.abandoned_in_window)
            .bind(a.window_rate)
    }};
}
pub(crate) use bind_abandon;

impl Store {
    /// A campaign's abandoned calls abandoned in `[from_ms, to_ms)`, oldest first, at most
    /// `limit`.
    pub async fn abandons(
        &self,
        campaign: i64,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<AbandonRecord>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(SELECT)
                .bind(campaign)
                .bind(from_ms)
                .bind(to_ms)
                .bind(limit)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| Ok(record!(r)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// A campaign's calls per hour since `since_ms`, oldest first: live answers that reached
    /// an operator (attempts ended `contact`, by their answer), abandons (the abandon log, by
    /// when they were abandoned), machine hang-ups (by the attempt's end). What the dialing
    /// core's abandon-rate window is rebuilt from after a restart.
    pub async fn abandon_history(
        &self,
        campaign: i64,
        since_ms: i64,
    ) -> Result<Vec<PastHour>, StoreError> {
        let queries = [
            "SELECT answer_ms / 3600000 AS hour, COUNT(*) AS n FROM attempts \
             WHERE campaign_id = $1 AND outcome = 'contact' AND answer_ms >= $2 \
             GROUP BY answer_ms / 3600000",
            "SELECT ended_ms / 3600000 AS hour, COUNT(*) AS n FROM abandon_log \
             WHERE campaign_id = $1 AND ended_ms >= $2 GROUP BY ended_ms / 3600000",
            "SELECT end_ms / 3600000 AS hour, COUNT(*) AS n FROM attempts \
             WHERE campaign_id = $1 AND outcome = 'answering_machine' AND end_ms >= $2 \
             GROUP BY end_ms / 3600000",
        ];
        let mut hours: std::collections::BTreeMap<i64, PastHour> = Default::default();
        for (kind, sql) in queries.iter().enumerate() {
            let counts: Vec<(i64, i64)> = on_pool!(&self.db, |p| {
                let rows = sqlx::query(*sql)
                    .bind(campaign)
                    .bind(since_ms)
                    .fetch_all(p)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("hour")?, r.try_get("n")?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()?
            });
            for (hour, n) in counts {
                let h = hours.entry(hour).or_insert(PastHour {
                    start_ms: hour * HOUR_MS,
                    ..PastHour::default()
                });
                match kind {
                    0 => h.connected += n,
                    1 => h.abandoned += n,
                    _ => h.machines += n,
                }
            }
        }
        Ok(hours.into_values().collect())
    }
}
