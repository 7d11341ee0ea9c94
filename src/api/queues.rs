//! Inbound queues and missed calls: the queues' live figures (from the engine running in this
//! process) and the missed calls with their callbacks.

use axum::Extension;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{AppState, Scope, Scopes};
use crate::store::missed::{MissedCall, MissedFigures};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Queues {
    /// Per queue: `name`, `waiting` now, `longest_wait_ms`, `answered`, `answered_in_time`,
    /// `abandoned`, `timed_out`, `service_level` (answered within the threshold / offered),
    /// `handle_time_ms` learned.
    #[schema(value_type = Vec<Object>)]
    pub queues: Vec<crate::feed::QueueReport>,
}

/// The inbound queues now.
#[utoipa::path(get, path = "/v1/queues", tag = "inbound",
    responses((status = 200, body = Queues)))]
pub async fn list_queues(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
) -> Result<axum::Json<Queues>, ApiError> {
    scopes.require(Scope::ReportsRead)?;
    let queues = st
        .figures
        .as_ref()
        .map(|f| f.borrow().queues.clone())
        .unwrap_or_default();
    Ok(axum::Json(Queues { queues }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MissedQuery {
    /// From this time (ms since the epoch; default: the last 24 hours).
    pub since_ms: Option<i64>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MissedCalls {
    pub missed_calls: Vec<MissedCall>,
    /// Over the same period: missed, recovered (a callback reached the caller), their share.
    pub figures: MissedFigures,
}

/// Missed inbound calls (abandoned in a queue, after hours, waited too long), with their
/// callback leads and whether the callback reached the caller.
#[utoipa::path(get, path = "/v1/missed-calls", tag = "inbound", params(MissedQuery),
    responses((status = 200, body = MissedCalls)))]
pub async fn list_missed(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Query(q): Query<MissedQuery>,
) -> Result<axum::Json<MissedCalls>, ApiError> {
    scopes.require(Scope::ReportsRead)?;
    let since = q
        .since_ms
        .unwrap_or_else(|| crate::store::now_ms() - 86_400_000);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(axum::Json(MissedCalls {
        missed_calls: st.store.missed_calls(since, limit).await?,
        figures: st.store.missed_figures(since).await?,
    }))
}
