//! Recordings by call: listed for a lead, downloaded (with HTTP range requests, so players can
//! seek).

use axum::Extension;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use super::error::{ApiError, ErrorBody};
use super::{AppState, Scope, Scopes};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ByLead {
    pub lead: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Recording {
    pub attempt: i64,
    pub lead: i64,
    pub started_ms: i64,
    pub call_id: Option<String>,
    pub bytes: Option<u64>,
    /// Where to download it.
    pub url: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Recordings {
    pub recordings: Vec<Recording>,
}

/// The recordings of a lead's calls.
#[utoipa::path(get, path = "/v1/recordings", tag = "recordings", params(ByLead),
    responses((status = 200, body = Recordings)))]
pub async fn list(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    query: Result<Query<ByLead>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Recordings>, ApiError> {
    scopes.require(Scope::ReportsRead)?;
    let Query(q) = query.map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()).field("lead")
    })?;
    let rows = st.store.recordings_of(q.lead).await?;
    Ok(axum::Json(Recordings {
        recordings: rows
            .into_iter()
            .map(|r| Recording {
                bytes: std::fs::metadata(&r.path).ok().map(|m| m.len()),
                url: format!("/v1/recordings/{}", r.attempt),
                attempt: r.attempt,
                lead: r.lead,
                started_ms: r.started_ms,
                call_id: r.call_id,
            })
            .collect(),
    }))
}

/// Download a call's recording (audio/wav; `Range: bytes=...` answered with 206).
#[utoipa::path(get, path = "/v1/recordings/{attempt}", tag = "recordings",
    params(("attempt" = i64, Path, description = "the call attempt's id")),
    responses((status = 200, content_type = "audio/wav", body = Vec<u8>),
        (status = 206, content_type = "audio/wav", body = Vec<u8>),
        (status = 404, body = ErrorBody)))]
pub async fn download(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Path(attempt): Path<i64>,
    req: Request,
) -> Result<Response, ApiError> {
    scopes.require(Scope::ReportsRead)?;
    // The path comes from the store, never from the request.
    let Some(path) = st.store.recording_path(attempt).await? else {
        return Err(ApiError::not_found(&format!(
            "recording of attempt {attempt}"
        )));
    };
    if !std::path::Path::new(&path).is_file() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "recording_deleted",
            format!("the recording of attempt {attempt} is no longer kept (retention)"),
        ));
    }
    let answer = tower_http::services::ServeFile::new_with_mime(
        &path,
        &"audio/wav".parse().expect("a MIME type"),
    )
    .oneshot(req)
    .await
    .map_err(ApiError::internal)?;
    Ok(answer.map(axum::body::Body::new))
}
