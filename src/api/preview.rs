//! Preview dialing through the API: what lead an operator is shown, and their choice (dial it
//! or pass). The engine dials a preview campaign's lead only when its operator accepts it.

use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::{AppState, Scope, Scopes};
use crate::feed::Feed;
use crate::feed::{PreviewChoice, PreviewRefusal, PreviewRequest, Shown};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// The lead shown to the operator (its id).
    pub lead: u64,
    /// `accept`: dial it now; `skip`: pass, it goes back to its queue.
    pub action: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewOut {
    pub login: String,
    pub lead: u64,
    pub phone: String,
    pub campaign: Option<String>,
    /// When it was shown (RFC 3339).
    pub shown_at: String,
    /// What was done with it: `shown` (GET), `accepted` or `skipped`.
    pub status: String,
}

/// How long the API waits for the engine's answer.
const ENGINE_ANSWER: Duration = Duration::from_secs(5);

/// The lead shown to an operator now (preview dialing).
#[utoipa::path(get, path = "/v1/operators/{login}/preview", tag = "operators",
    params(("login" = String, Path, description = "the operator's login")),
    responses((status = 200, body = PreviewOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn shown(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Path(login): Path<String>,
) -> Result<axum::Json<PreviewOut>, ApiError> {
    scopes.require(Scope::Admin)?;
    let engine = running(&st)?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    let _ = engine.send(Feed::ShownPreview {
        login: login.clone(),
        reply,
    });
    let shown = wait(answer)
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("lead shown to operator `{login}`")))?;
    Ok(axum::Json(out(&st, login, shown, "shown").await))
}

/// The operator accepts (dial it now) or skips (back to its queue) the lead shown to them.
#[utoipa::path(post, path = "/v1/operators/{login}/preview", tag = "operators",
    params(("login" = String, Path, description = "the operator's login")),
    request_body = PreviewIn,
    responses((status = 200, body = PreviewOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn choose(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Extension(caller): Extension<Caller>,
    Path(login): Path<String>,
    ApiJson(req): ApiJson<PreviewIn>,
) -> Result<axum::Json<PreviewOut>, ApiError> {
    scopes.require(Scope::Admin)?;
    let choice = match req.action.as_str() {
        "accept" => PreviewChoice::Accept,
        "skip" => PreviewChoice::Skip,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "action: give `accept` (dial the lead) or `skip` (pass it)",
            )
            .field("action"));
        }
    };
    let engine = running(&st)?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    let _ = engine.send(Feed::Preview(PreviewRequest {
        login: login.clone(),
        lead: predial_core::dialer::LeadId(req.lead),
        choice,
        reply,
    }));
    let shown = wait(answer).await?.map_err(refusal)?;
    let status = match choice {
        PreviewChoice::Accept => "accepted",
        PreviewChoice::Skip => "skipped",
    };
    let detail = serde_json::json!({"lead": req.lead, "action": req.action});
    super::audit::record(&st, &caller, "operator.preview", Some(&login), Some(detail)).await;
    Ok(axum::Json(out(&st, login, shown, status).await))
}

fn running(st: &AppState) -> Result<&tokio::sync::mpsc::UnboundedSender<Feed>, ApiError> {
    st.engine.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_engine",
            "no dialer runs in this process: start it with `predial serve`",
        )
    })
}

async fn wait<T>(answer: tokio::sync::oneshot::Receiver<T>) -> Result<T, ApiError> {
    match tokio::time::timeout(ENGINE_ANSWER, answer).await {
        Ok(Ok(v)) => Ok(v),
        _ => Err(ApiError::internal(
            "the engine did not answer a preview request",
        )),
    }
}

fn refusal(r: PreviewRefusal) -> ApiError {
    match r {
        PreviewRefusal::UnknownOperator(login) => {
            ApiError::not_found(&format!("operator `{login}` logged in to the dialer"))
        }
        other => ApiError::new(StatusCode::CONFLICT, "not_shown", other.to_string()),
    }
}

async fn out(st: &AppState, login: String, shown: Shown, status: &str) -> PreviewOut {
    let campaign = st
        .store
        .campaigns()
        .await
        .ok()
        .and_then(|cs| {
            cs.into_iter()
                .find(|c| c.id == i64::from(shown.campaign_id))
        })
        .map(|c| c.name);
    let shown_at = chrono::DateTime::from_timestamp_millis(shown.shown_at_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    PreviewOut {
        login,
        lead: shown.lead,
        phone: shown.phone,
        campaign,
        shown_at,
        status: status.into(),
    }
}
