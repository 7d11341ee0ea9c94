//! `PUT /v1/webhook`, `GET /v1/webhook`: where notifications go, and how delivery stands.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiJson, ErrorBody};
use super::{AppState, Scope, Scopes, new_token};
use crate::store::webhooks::{OutboxFigures, WebhookConfig};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetWebhook {
    /// http:// or https:// URL the notifications are POSTed to; empty turns them off.
    pub url: String,
    /// The HMAC-SHA256 secret (at least 16 characters); made by predial when not given.
    #[serde(default)]
    pub secret: Option<String>,
    /// An `alert` is sent for every order confirmed at this sum or more (minor units).
    #[serde(default)]
    pub alert_sum_minor: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub url: Option<String>,
    pub alert_sum_minor: Option<i64>,
    /// Only in the answer to PUT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub outbox: OutboxFigures,
}

/// Set where notifications go (call.ended, lead.closed), signed with a secret.
#[utoipa::path(put, path = "/v1/webhook", tag = "webhooks", request_body = SetWebhook,
    responses((status = 200, body = WebhookView), (status = 422, body = ErrorBody)))]
pub async fn set_webhook(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    ApiJson(req): ApiJson<SetWebhook>,
) -> Result<axum::Json<WebhookView>, ApiError> {
    scopes.require(Scope::Admin)?;
    let url = req.url.trim().to_string();
    if let Some(limit) = req.alert_sum_minor {
        if limit <= 0 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_sum",
                "an alert threshold is a positive sum in minor units",
            )
            .field("alert_sum_minor"));
        }
        st.store
            .set_setting("alert.sum_minor", &limit.to_string())
            .await?;
    }
    let alert_sum_minor = alert_sum(&st).await?;
    if url.is_empty() {
        st.store.set_webhook_config(None).await?;
        return Ok(axum::Json(WebhookView {
            alert_sum_minor,
            url: None,
            secret: None,
            outbox: st.store.outbox_figures().await?,
        }));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2000 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_url",
            format!("`{url}`: give an http:// or https:// URL"),
        )
        .field("url"));
    }
    let secret = match req.secret {
        Some(s) if s.len() >= 16 => s,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "weak_secret",
                "a secret of at least 16 characters, or none to have one made",
            )
            .field("secret"));
        }
        None => new_token().map_err(ApiError::internal)?,
    };
    let config = WebhookConfig {
        url: url.clone(),
        secret: secret.clone(),
    };
    st.store.set_webhook_config(Some(&config)).await?;
    Ok(axum::Json(WebhookView {
        alert_sum_minor,
        url: Some(url),
        secret: Some(secret),
        outbox: st.store.outbox_figures().await?,
    }))
}

/// Where notifications go, and the outbox: waiting, delivered, given up.
#[utoipa::path(get, path = "/v1/webhook", tag = "webhooks",
    responses((status = 200, body = WebhookView)))]
pub async fn get_webhook(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
) -> Result<axum::Json<WebhookView>, ApiError> {
    scopes
        .require(Scope::ReportsRead)
        .or_else(|_| scopes.require(Scope::Admin))?;
    Ok(axum::Json(WebhookView {
        alert_sum_minor: alert_sum(&st).await?,
        url: st.store.webhook_config().await?.map(|c| c.url),
        secret: None,
        outbox: st.store.outbox_figures().await?,
    }))
}

async fn alert_sum(st: &AppState) -> Result<Option<i64>, ApiError> {
    Ok(st
        .store
        .setting("alert.sum_minor")
        .await?
        .and_then(|v| v.parse().ok()))
}
