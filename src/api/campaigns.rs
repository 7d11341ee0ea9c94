//! Campaigns through the API: list, create, read, change the policy, start / pause / stop.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use predial_core::dialer::CampaignPolicy;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::{AppState, Scope, Scopes};
use crate::store::campaigns::Campaign;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    pub id: i64,
    pub name: String,
    /// running, paused, stopped
    pub state: String,
    /// The `[campaign]` settings of docs/defaults.md.
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    pub created_ms: i64,
    /// Open leads (queued, scheduled, dialling).
    pub open_leads: Option<i64>,
    /// How late its most overdue open lead is, seconds (0: none overdue).
    pub oldest_due_lag_s: Option<f64>,
}

impl From<Campaign> for CampaignView {
    fn from(c: Campaign) -> Self {
        CampaignView {
            id: c.id,
            name: c.name,
            state: c.state,
            policy: serde_json::to_value(&c.policy).unwrap_or_default(),
            created_ms: c.created_ms,
            open_leads: None,
            oldest_due_lag_s: None,
        }
    }
}

/// The views with their queue figures.
async fn with_figures(st: &AppState, list: Vec<Campaign>) -> Result<Vec<CampaignView>, ApiError> {
    let figures = st.store.queue_figures(crate::store::now_ms()).await?;
    Ok(list
        .into_iter()
        .map(|c| {
            let f = figures.iter().find(|(n, _, _)| n == &c.name).cloned();
            let mut v = CampaignView::from(c);
            v.open_leads = Some(f.as_ref().map_or(0, |f| f.1));
            v.oldest_due_lag_s = Some(f.map_or(0.0, |f| f.2 as f64 / 1000.0));
            v
        })
        .collect())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Campaigns {
    pub campaigns: Vec<CampaignView>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    pub name: String,
    /// Settings that differ from the defaults (docs/defaults.md), e.g.
    /// `{"max_attempts": 5, "dedup": {"rule": "A", "window": "24h"}}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub policy: Option<serde_json::Value>,
}

/// List campaigns.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns",
    responses((status = 200, body = Campaigns)))]
pub async fn list_campaigns(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
) -> Result<axum::Json<Campaigns>, ApiError> {
    scopes
        .require(Scope::ReportsRead)
        .or_else(|_| scopes.require(Scope::LeadsWrite))?;
    let campaigns = st.store.campaigns().await?;
    Ok(axum::Json(Campaigns {
        campaigns: with_figures(&st, campaigns).await?,
    }))
}

/// Read a policy sent as JSON: the defaults with what was sent on top, checked.
fn policy(value: Option<serde_json::Value>) -> Result<CampaignPolicy, ApiError> {
    let policy: CampaignPolicy = match value {
        None => CampaignPolicy::default(),
        Some(v) => {
            let text = v.to_string();
            super::error::parse(text.as_bytes()).map_err(|mut e| {
                e.body.field = Some(match e.body.field {
                    Some(f) => format!("policy.{f}"),
                    None => "policy".into(),
                });
                e
            })?
        }
    };
    if let Err(errors) = policy.clone().validate() {
        let first = &errors[0];
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_policy",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
        .field(format!("policy.{}", first.field)));
    }
    Ok(policy)
}

fn valid_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            format!("`{name}`: a campaign's name is 1-64 letters, digits, - _ or ."),
        )
        .field("name"))
    }
}

/// Create a campaign (paused).
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", request_body = NewCampaign,
    responses((status = 201, body = CampaignView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_campaign(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Extension(caller): Extension<Caller>,
    ApiJson(req): ApiJson<NewCampaign>,
) -> Result<(StatusCode, axum::Json<CampaignView>), ApiError> {
    scopes.require(Scope::Admin)?;
    valid_name(&req.name)?;
    let policy = policy(req.policy)?;
    match st.store.create_campaign(&req.name, &policy).await? {
        Some(c) => {
            st.intake.lock().await.learn(c.clone());
            let view = CampaignView::from(c);
            let detail = serde_json::json!({"policy": view.policy});
            super::audit::record(
                &st,
                &caller,
                "campaign.create",
                Some(&view.name),
                Some(detail),
            )
            .await;
            Ok((StatusCode::CREATED, axum::Json(view)))
        }
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "campaign_exists",
            format!("a campaign named `{}` exists", req.name),
        )
        .field("name")),
    }
}

/// Read a campaign.
#[utoipa::path(get, path = "/v1/campaigns/{name}", tag = "campaigns",
    params(("name" = String, Path, description = "the campaign's name")),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody)))]
pub async fn get_campaign(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Path(name): Path<String>,
) -> Result<axum::Json<CampaignView>, ApiError> {
    scopes
        .require(Scope::ReportsRead)
        .or_else(|_| scopes.require(Scope::LeadsWrite))?;
    match st.store.campaign(&name).await? {
        Some(c) => Ok(axum::Json(
            with_figures(&st, vec![c])
                .await?
                .pop()
                .ok_or_else(|| ApiError::internal("the campaign vanished"))?,
        )),
        None => Err(ApiError::not_found(&format!("campaign `{name}`"))),
    }
}

/// Replace a campaign's policy (settings not sent take their defaults).
#[utoipa::path(put, path = "/v1/campaigns/{name}/policy", tag = "campaigns",
    params(("name" = String, Path, description = "the campaign's name")),
    request_body(content = Object, description = "the [campaign] settings of docs/defaults.md"),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn set_policy(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<axum::Json<CampaignView>, ApiError> {
    scopes.require(Scope::Admin)?;
    let policy = policy(Some(body))?;
    if !st.store.set_campaign_policy(&name, &policy).await? {
        return Err(ApiError::not_found(&format!("campaign `{name}`")));
    }
    let c = st
        .store
        .campaign(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("campaign `{name}`")))?;
    st.intake.lock().await.learn(c.clone());
    let view = CampaignView::from(c);
    let detail = serde_json::json!({"policy": view.policy});
    super::audit::record(&st, &caller, "campaign.policy", Some(&name), Some(detail)).await;
    Ok(axum::Json(view))
}

/// Start, pause or stop a campaign (`action` is `start`, `pause` or `stop`).
#[utoipa::path(post, path = "/v1/campaigns/{name}/{action}", tag = "campaigns",
    params(("name" = String, Path, description = "the campaign's name"),
        ("action" = String, Path, description = "start, pause or stop")),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody)))]
pub async fn set_state(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Extension(caller): Extension<Caller>,
    Path((name, action)): Path<(String, String)>,
) -> Result<axum::Json<CampaignView>, ApiError> {
    scopes.require(Scope::Admin)?;
    let state = match action.as_str() {
        "start" => "running",
        "pause" => "paused",
        "stop" => "stopped",
        _ => return Err(ApiError::not_found("such action: start, pause or stop")),
    };
    if !st.store.set_campaign_state(&name, state).await? {
        return Err(ApiError::not_found(&format!("campaign `{name}`")));
    }
    let c = st
        .store
        .campaign(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("campaign `{name}`")))?;
    let detail = serde_json::json!({"state": state});
    super::audit::record(&st, &caller, "campaign.state", Some(&name), Some(detail)).await;
    Ok(axum::Json(c.into()))
}
