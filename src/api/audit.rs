//! The audit log through the API: admin actions are written as they are done, and
//! `GET /v1/audit` reads them back (admins only).

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::{AppState, Scope, Scopes};
use crate::store::audit::{AuditEntry, NewAudit};

/// Writes what `caller` did. A failure to write is logged and counted; the action stands.
pub async fn record(
    st: &AppState,
    caller: &Caller,
    action: &str,
    target: Option<&str>,
    detail: Option<serde_json::Value>,
) {
    let entry = NewAudit {
        at_ms: crate::store::now_ms(),
        actor: &caller.name,
        token_id: caller.token_id,
        action,
        target,
        detail,
    };
    if let Err(e) = st.store.add_audit(&entry).await {
        metrics::counter!("predial_audit_failures_total").increment(1);
        tracing::error!(action, actor = %caller.name, error = %e, "the audit log was not written");
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries at or after this time, Unix milliseconds (default: all).
    pub since_ms: Option<i64>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Audit {
    pub entries: Vec<AuditEntry>,
}

/// Read the audit log: who did what to what, when (newest first).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Audit), (status = 403, body = ErrorBody)))]
pub async fn list_audit(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Audit>, ApiError> {
    scopes.require(Scope::Admin)?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let entries = st.store.audit(q.since_ms.unwrap_or(0), limit).await?;
    Ok(axum::Json(Audit { entries }))
}
