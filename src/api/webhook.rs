//! `PUT /v1/webhook`, `GET /v1/webhook`: where notifications go, and how delivery stands.
//! The URL is checked against serve's webhook policy (`crate::webhooks::url`) and shown back
//! with any credentials in it masked.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::{AppState, Scope, Scopes, new_token};
use crate::store::webhooks::{OutboxFigures, WebhookConfig};
use crate::webhooks::url::{check, masked_text};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetWebhook {
    /// The https:// URL the notifications are POSTed to (http:// and internal addresses only
    /// when serve allows them); empty turns them off.
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
    /// A user name and password in it are shown as `***`.
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
    Extension(caller): Extension<Caller>,
    ApiJson(req): ApiJson<SetWebhook>,
) -> Result<axum::Json<WebhookView>, ApiError> {
    scopes.require(Scope::Admin)?;
    let url = req.url.trim().to_string();
    if !url.is_empty() {
        valid_url(&st, &url)?;
    }
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
        let detail = serde_json::json!({"url": null, "alert_sum_minor": alert_sum_minor});
        super::audit::record(&st, &caller, "webhook.set", None, Some(detail)).await;
        return Ok(axum::Json(WebhookView {
            alert_sum_minor,
            url: None,
            secret: None,
            outbox: st.store.outbox_figures().await?,
        }));
    }
    let secret_given = req.secret.is_some();
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
    let shown = masked_text(&url);
    let detail = serde_json::json!({"url": shown, "alert_sum_minor": alert_sum_minor,
        "secret_given": secret_given});
    super::audit::record(&st, &caller, "webhook.set", None, Some(detail)).await;
    Ok(axum::Json(WebhookView {
        alert_sum_minor,
        url: Some(shown),
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
        url: st
            .store
            .webhook_config()
            .await?
            .map(|c| masked_text(&c.url)),
        secret: None,
        outbox: st.store.outbox_figures().await?,
    }))
}

/// 422 `invalid_webhook_url` on `url` unless serve's policy takes it.
fn valid_url(st: &AppState, url: &str) -> Result<(), ApiError> {
    let refuse = |message: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_webhook_url",
            message,
        )
        .field("url")
    };
    if url.len() > 2000 {
        return Err(refuse("the URL is longer than 2000 characters".into()));
    }
    check(url, st.edge.webhook_urls)
        .map(|_| ())
        .map_err(|e| refuse(e.0))
}

async fn alert_sum(st: &AppState) -> Result<Option<i64>, ApiError> {
    Ok(st
        .store
        .setting("alert.sum_minor")
        .await?
        .and_then(|v| v.parse().ok()))
}
