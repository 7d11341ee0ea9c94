//! Operators through the API: make an account, list them, set ready / pause / log out,
//! change a password, delete an account.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::{AppState, Scope, Scopes};
use crate::store::operators::{NewOperator, Operator};

use crate::registrar::Account;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorIn {
    /// The SIP user name the softphone registers with: letters, digits, `.`, `-`, `_`.
    pub login: String,
    pub name: Option<String>,
    pub group: Option<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    /// At least 8 characters; only its digest HA1s (MD5 and SHA-256) are kept.
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Operators {
    pub operators: Vec<Operator>,
}

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateIn {
    /// For a pause: why (lunch, training).
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordIn {
    /// At least 8 characters; only its digest HA1s are kept.
    pub password: String,
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < 8 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            "a password of at least 8 characters",
        )
        .field("password"));
    }
    Ok(())
}

/// Make an operator account.
#[utoipa::path(post, path = "/v1/operators", tag = "operators", request_body = OperatorIn,
    responses((status = 201, body = Operator), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_operator(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Extension(caller): Extension<Caller>,
    ApiJson(o): ApiJson<OperatorIn>,
) -> Result<(StatusCode, axum::Json<Operator>), ApiError> {
    scopes.require(Scope::Admin)?;
    let ok_login = !o.login.is_empty()
        && o.login.len() <= 64
        && o.login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok_login {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_login",
            format!("`{}`: 1-64 letters, digits, . - or _", o.login),
        )
        .field("login"));
    }
    check_password(&o.password)?;
    let account = Account::from_password(&o.login, &o.password);
    let new = NewOperator {
        login: o.login.clone(),
        name: o.name.clone(),
        group: o.group.clone(),
        skills: o.skills.clone(),
        ha1_md5: account.ha1_md5.clone(),
        ha1_sha256: account.ha1_sha256.clone(),
    };
    match st.store.add_operator(&new).await? {
        Some(_) => {
            if let Some(r) = &st.registrar
                && let Ok(mut r) = r.lock()
            {
                r.set_account(&o.login, account);
            }
            let made = st
                .store
                .operators()
                .await?
                .into_iter()
                .find(|x| x.login == o.login)
                .ok_or_else(|| ApiError::internal("the operator vanished"))?;
            let detail = serde_json::json!({"name": made.name, "group": made.group,
                "skills": made.skills});
            super::audit::record(
                &st,
                &caller,
                "operator.create",
                Some(&o.login),
                Some(detail),
            )
            .await;
            Ok((StatusCode::CREATED, axum::Json(made)))
        }
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "login_taken",
            format!("an operator `{}` exists", o.login),
        )
        .field("login")),
    }
}

/// List operators with their state.
#[utoipa::path(get, path = "/v1/operators", tag = "operators",
    responses((status = 200, body = Operators)))]
pub async fn list_operators(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
) -> Result<axum::Json<Operators>, ApiError> {
    scopes.require(Scope::ReportsRead)?;
    Ok(axum::Json(Operators {
        operators: st.store.operators().await?,
    }))
}

/// Set an operator ready, paused (with a reason) or logged out (`action`: ready, pause, logout).
#[utoipa::path(post, path = "/v1/operators/{login}/{action}", tag = "operators",
    params(("login" = String, Path, description = "the operator's login"),
        ("action" = String, Path, description = "ready, pause or logout")),
    request_body(content = Option<StateIn>, description = "a pause's reason"),
    responses((status = 200, body = Operator), (status = 404, body = ErrorBody)))]
pub async fn set_operator_state(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Path((login, action)): Path<(String, String)>,
    body: axum::body::Body,
) -> Result<axum::Json<Operator>, ApiError> {
    scopes.require(Scope::Admin)?;
    let body = super::error::read_body(body).await?;
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        super::error::parse::<StateIn>(&body)?.reason
    };
    let state = match action.as_str() {
        "ready" => "ready",
        "pause" => "paused",
        "logout" => "logged_out",
        _ => return Err(ApiError::not_found("such action: ready, pause or logout")),
    };
    let reason = if state == "paused" {
        Some(reason.unwrap_or_else(|| "pause".into()))
    } else {
        None
    };
    if !st
        .store
        .set_operator_state(&login, state, reason.as_deref())
        .await?
    {
        return Err(ApiError::not_found(&format!("operator `{login}`")));
    }
    if let Some(engine) = &st.engine {
        let action = match state {
            "ready" => crate::feed::OperatorAction::Ready,
            "paused" => crate::feed::OperatorAction::Pause(reason.clone()),
            _ => crate::feed::OperatorAction::Logout,
        };
        let _ = engine.send(crate::feed::Feed::Operator {
            login: login.clone(),
            action,
        });
    }
    super::events::publish(
        &st.events,
        "operator.state",
        serde_json::json!({"login": login, "state": state, "reason": reason}),
    );
    let op = st
        .store
        .operators()
        .await?
        .into_iter()
        .find(|x| x.login == login)
        .ok_or_else(|| ApiError::not_found(&format!("operator `{login}`")))?;
    Ok(axum::Json(op))
}

/// Give an operator a new password (their softphones register with it from now on).
#[utoipa::path(put, path = "/v1/operators/{login}/password", tag = "operators",
    params(("login" = String, Path, description = "the operator's login")),
    request_body = PasswordIn,
    responses((status = 204, description = "changed"), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn set_password(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Extension(caller): Extension<Caller>,
    Path(login): Path<String>,
    ApiJson(req): ApiJson<PasswordIn>,
) -> Result<StatusCode, ApiError> {
    scopes.require(Scope::Admin)?;
    check_password(&req.password)?;
    let account = Account::from_password(&login, &req.password);
    let (Some(md5), Some(sha256)) = (&account.ha1_md5, &account.ha1_sha256) else {
        return Err(ApiError::internal("no digest made of the password"));
    };
    if !st.store.set_operator_password(&login, md5, sha256).await? {
        return Err(ApiError::not_found(&format!("operator `{login}`")));
    }
    if let Some(r) = &st.registrar
        && let Ok(mut r) = r.lock()
    {
        r.set_account(&login, account);
    }
    super::audit::record(&st, &caller, "operator.password", Some(&login), None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete an operator's account: logged out, and their softphones no longer get in. Their
/// past calls and dispositions keep the login. (An operator of `operators.toml` comes back at
/// the next start unless taken out of that file.)
#[utoipa::path(delete, path = "/v1/operators/{login}", tag = "operators",
    params(("login" = String, Path, description = "the operator's login")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete_operator(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Extension(caller): Extension<Caller>,
    Path(login): Path<String>,
) -> Result<StatusCode, ApiError> {
    scopes.require(Scope::Admin)?;
    if !st.store.delete_operator(&login).await? {
        return Err(ApiError::not_found(&format!("operator `{login}`")));
    }
    if let Some(engine) = &st.engine {
        let _ = engine.send(crate::feed::Feed::Operator {
            login: login.clone(),
            action: crate::feed::OperatorAction::Logout,
        });
    }
    // The registrar keeps the login with a random password nobody knows: nothing registers
    // as them any more, and their bindings lapse.
    if let Some(r) = &st.registrar {
        let password = super::new_token().map_err(ApiError::internal)?;
        if let Ok(mut r) = r.lock() {
            r.set_account(&login, Account::from_password(&login, &password));
        }
    }
    super::events::publish(
        &st.events,
        "operator.state",
        serde_json::json!({"login": login, "state": "deleted", "reason": null}),
    );
    super::audit::record(&st, &caller, "operator.delete", Some(&login), None).await;
    Ok(StatusCode::NO_CONTENT)
}
