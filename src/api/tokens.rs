//! Tokens for integrators, made by the admin with only the scopes they need and, if wanted, a
//! time they expire: `POST /v1/tokens` makes one, `GET /v1/tokens` lists them (never their
//! secrets), `DELETE /v1/tokens/{id}` revokes one at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::{Caller, TokenEntry};
use super::error::{ApiError, ApiJson, ErrorBody};
use super::{AppState, Scope, Scopes, new_token, sha256_hex};
use crate::store::now_ms;

/// The longest life a token may be given: ten years.
const LONGEST_S: i64 = 10 * 366 * 86_400;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Who it is for (`crm`, `wallboard`).
    pub name: String,
    /// Some of `leads:write`, `reports:read`, `admin`.
    pub scopes: Vec<String>,
    /// It expires this many seconds from now (at most ten years).
    #[serde(default)]
    pub expires_in_s: Option<i64>,
    /// It expires at this time (RFC 3339, e.g. `2027-01-31T00:00:00Z`); not with `expires_in_s`.
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenMade {
    /// For `DELETE /v1/tokens/{id}`.
    pub id: i64,
    pub name: String,
    /// Shown once: only its SHA-256 is kept.
    pub token: String,
    pub scopes: Vec<String>,
    /// When it expires, Unix milliseconds; none: never.
    pub expires_ms: Option<i64>,
}

/// A token as listed: no secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_ms: i64,
    /// None: never expires.
    pub expires_ms: Option<i64>,
    /// Whether it is past its expiry (refused).
    pub expired: bool,
    /// When it was last used (to the minute across restarts); none: never.
    pub last_used_ms: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

fn invalid(error: &str, message: impl Into<String>, field: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error, message).field(field)
}

fn scopes_of(names: &[String]) -> Result<Vec<Scope>, ApiError> {
    let mut parsed = Vec::new();
    for (i, s) in names.iter().enumerate() {
        match Scope::parse(s) {
            Some(scope) => parsed.push(scope),
            None => {
                return Err(invalid(
                    "invalid_scope",
                    format!("`{s}` is not a scope: leads:write, reports:read or admin"),
                    &format!("scopes[{i}]"),
                ));
            }
        }
    }
    if parsed.is_empty() {
        return Err(invalid(
            "invalid_scope",
            "give at least one scope",
            "scopes",
        ));
    }
    Ok(parsed)
}

/// When a new token expires, from `expires_in_s` or `expires_at`.
fn expiry(req: &NewToken, now: i64) -> Result<Option<i64>, ApiError> {
    match (req.expires_in_s, &req.expires_at) {
        (Some(_), Some(_)) => Err(invalid(
            "invalid_expiry",
            "give expires_in_s or expires_at, not both",
            "expires_at",
        )),
        (Some(s), None) if (1..=LONGEST_S).contains(&s) => Ok(Some(now + s * 1000)),
        (Some(_), None) => Err(invalid(
            "invalid_expiry",
            format!("expires_in_s: from 1 to {LONGEST_S} seconds (ten years)"),
            "expires_in_s",
        )),
        (None, Some(text)) => {
            let at = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
                invalid(
                    "invalid_expiry",
                    format!("`{text}` is not an RFC 3339 time like 2027-01-31T00:00:00Z"),
                    "expires_at",
                )
            })?;
            let ms = at.timestamp_millis();
            if ms <= now || ms > now + LONGEST_S * 1000 {
                return Err(invalid(
                    "invalid_expiry",
                    "expires_at: a time to come, within ten years",
                    "expires_at",
                ));
            }
            Ok(Some(ms))
        }
        (None, None) => Ok(None),
    }
}

/// Make an API token.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = TokenMade), (status = 422, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn create_token(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Extension(caller): Extension<Caller>,
    ApiJson(req): ApiJson<NewToken>,
) -> Result<(StatusCode, axum::Json<TokenMade>), ApiError> {
    scopes.require(Scope::Admin)?;
    let name = req.name.trim().to_string();
    if name.is_empty() || name.len() > 100 {
        return Err(invalid(
            "invalid_name",
            "give the token a name of 1-100 characters",
            "name",
        ));
    }
    let parsed = scopes_of(&req.scopes)?;
    let expires_ms = expiry(&req, now_ms())?;
    let token = new_token().map_err(ApiError::internal)?;
    let hash = sha256_hex(&token);
    let names: Vec<String> = parsed.iter().map(|s| s.name().to_string()).collect();
    let stored = st
        .store
        .add_api_token(&name, &hash, &names.join(" "), expires_ms)
        .await?;
    if let Ok(mut t) = st.tokens.write() {
        t.insert(hash, Arc::new(TokenEntry::stored(&stored)));
    }
    super::audit::record(
        &st,
        &caller,
        "token.create",
        Some(&stored.id.to_string()),
        Some(serde_json::json!({"name": name, "scopes": names, "expires_ms": expires_ms})),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenMade {
            id: stored.id,
            name,
            token,
            scopes: names,
            expires_ms,
        }),
    ))
}

/// List the tokens made (not the admin token), without their secrets.
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
) -> Result<axum::Json<TokenList>, ApiError> {
    scopes.require(Scope::Admin)?;
    let now = now_ms();
    let stored = st.store.api_tokens().await?;
    let live = st.tokens.read().map(|t| t.clone()).unwrap_or_default();
    let tokens = stored
        .into_iter()
        .map(|t| {
            // This process's view of the last use is fresher than the store's.
            let seen = live
                .get(&t.sha256)
                .map_or(0, |e| e.last_used_ms.load(Ordering::Relaxed));
            let last_used_ms = match t.last_used_ms {
                Some(s) => Some(s.max(seen)),
                None => (seen > 0).then_some(seen),
            };
            TokenView {
                id: t.id,
                scopes: t.scopes.split_whitespace().map(str::to_string).collect(),
                name: t.name,
                created_ms: t.created_ms,
                expires_ms: t.expires_ms,
                expired: t.expires_ms.is_some_and(|at| at <= now),
                last_used_ms,
            }
        })
        .collect();
    Ok(axum::Json(TokenList { tokens }))
}

/// Revoke a token: refused from now on.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path, description = "the token's id")),
    responses((status = 204, description = "revoked"), (status = 404, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn revoke_token(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    scopes.require(Scope::Admin)?;
    let id: i64 = id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!("`{id}` is not a token id (a number, from GET /v1/tokens)"),
        )
        .field("id")
    })?;
    let Some(hash) = st.store.revoke_api_token(id).await? else {
        return Err(ApiError::not_found(&format!("token {id}")));
    };
    // Kept, marked, until the next reading of the store drops it (`auth::refresh_forever`).
    if let Ok(t) = st.tokens.read()
        && let Some(e) = t.get(&hash)
    {
        e.revoked.store(true, Ordering::Relaxed);
    }
    super::audit::record(&st, &caller, "token.revoke", Some(&id.to_string()), None).await;
    Ok(StatusCode::NO_CONTENT)
}
