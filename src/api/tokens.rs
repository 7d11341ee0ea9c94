//! `POST /v1/tokens`: the admin makes a token for an integrator, with only the scopes it needs.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiJson, ErrorBody};
use super::{AppState, Scope, Scopes, new_token, sha256_hex};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Who it is for (`crm`, `wallboard`).
    pub name: String,
    /// Some of `leads:write`, `reports:read`, `admin`.
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenMade {
    pub name: String,
    /// Shown once: only its SHA-256 is kept.
    pub token: String,
    pub scopes: Vec<String>,
}

/// Make an API token.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = TokenMade), (status = 422, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn create_token(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    ApiJson(req): ApiJson<NewToken>,
) -> Result<(StatusCode, axum::Json<TokenMade>), ApiError> {
    scopes.require(Scope::Admin)?;
    if req.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            "give the token a name",
        )
        .field("name"));
    }
    let mut parsed = Vec::new();
    for (i, s) in req.scopes.iter().enumerate() {
        match Scope::parse(s) {
            Some(scope) => parsed.push(scope),
            None => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_scope",
                    format!("`{s}` is not a scope: leads:write, reports:read or admin"),
                )
                .field(format!("scopes[{i}]")));
            }
        }
    }
    if parsed.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scope",
            "give at least one scope",
        )
        .field("scopes"));
    }
    let token = new_token().map_err(ApiError::internal)?;
    let hash = sha256_hex(&token);
    let names: Vec<String> = parsed.iter().map(|s| s.name().to_string()).collect();
    st.store
        .add_api_token(req.name.trim(), &hash, &names.join(" "))
        .await?;
    if let Ok(mut t) = st.tokens.write() {
        t.insert(hash, parsed);
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenMade {
            name: req.name.trim().to_string(),
            token,
            scopes: names,
        }),
    ))
}
