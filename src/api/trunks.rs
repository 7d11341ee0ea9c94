//! `GET /v1/trunks`: the trunk profiles this service was started with (`--profiles`), and
//! their calls of the last hour as the store records them.

use axum::Extension;
use axum::extract::State;
use serde::Serialize;

use super::error::ApiError;
use super::{AppState, Scope, Scopes};
use crate::store::now_ms;
use crate::store::recordings::TrunkFigures;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrunkView {
    pub name: String,
    /// customer or own
    pub owner: String,
    pub address: String,
    pub transport: String,
    pub enabled: bool,
    /// Channels and calls per second allowed.
    pub channels: u32,
    pub cps_limit: f64,
    pub registers: bool,
    /// Its calls of the last hour.
    pub last_hour: TrunkFigures,
    /// The live state the engine placing the calls last wrote (every 2 s while it runs):
    /// state (up, failing, disabled), problem, registered, channels_in_use, calls,
    /// engine_running, at_ms, and its age_s. `null`: no engine has used this trunk.
    #[schema(value_type = Option<Object>)]
    pub live: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Trunks {
    pub trunks: Vec<TrunkView>,
}

/// The trunks, with their limits and last hour's calls.
#[utoipa::path(get, path = "/v1/trunks", tag = "trunks", responses((status = 200, body = Trunks)))]
pub async fn list_trunks(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
) -> Result<axum::Json<Trunks>, ApiError> {
    scopes.require(Scope::ReportsRead)?;
    let now = now_ms();
    let figures = st.store.trunk_figures(now - 3_600_000, now).await?;
    let live = st.store.trunk_live().await?;
    let trunks = st
        .trunks
        .iter()
        .map(|t| {
            let to_text = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
            TrunkView {
                name: t.name.clone(),
                owner: to_text(serde_json::to_value(t.owner).unwrap_or_default()),
                address: t.address.clone(),
                transport: to_text(serde_json::to_value(t.transport).unwrap_or_default()),
                enabled: t.enabled,
                channels: t.channels,
                cps_limit: t.cps,
                registers: t.registration.is_some(),
                last_hour: figures
                    .iter()
                    .find(|(n, _)| n == &t.name)
                    .map(|(_, f)| f.clone())
                    .unwrap_or_default(),
                live: live
                    .iter()
                    .find(|(n, _)| n == &t.name)
                    .and_then(|(_, v)| serde_json::from_str::<serde_json::Value>(v).ok())
                    .map(|mut v| {
                        let age = (now - v["at_ms"].as_i64().unwrap_or(now)) as f64 / 1000.0;
                        v["age_s"] = serde_json::json!(age);
                        v
                    }),
            }
        })
        .collect();
    Ok(axum::Json(Trunks { trunks }))
}
