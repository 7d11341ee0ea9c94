//! The control API (`axum`): REST/JSON under `/v1/`, its OpenAPI 3.1 document at
//! `/openapi.json` (generated from the handlers by `utoipa`), Prometheus metrics at `/metrics`.
//!
//! Every `/v1/` request carries `Authorization: Bearer TOKEN`. The admin token (every scope) is
//! `PREDIAL_ADMIN_TOKEN` when set, else made on first start into `DATA/admin.token` (mode
//! 0600). Other tokens are made by the admin with the scopes they need (`leads:write`,
//! `reports:read`, `admin`), may expire and be revoked; only their SHA-256 is stored. Admin
//! actions go to the audit log. As it faces the Internet, the API bounds bodies, requests'
//! time, idle connections and connections at once (`edge`, `limits`, `listener`).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::Mutex;
use utoipa::OpenApi;

use crate::leads::intake::Intake;
use crate::store::{Store, StoreError};

pub mod abandons;
pub mod audit;
pub mod auth;
pub mod campaigns;
pub mod edge;
pub mod error;
pub mod events;
pub mod leads;
pub mod limits;
pub mod listener;
pub mod operators;
pub mod preview;
pub mod queues;
pub mod recordings;
pub mod reports;
pub mod tokens;
pub mod trunks;
pub mod webhook;

use error::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    LeadsWrite,
    ReportsRead,
    Admin,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::LeadsWrite => "leads:write",
            Scope::ReportsRead => "reports:read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "leads:write" => Some(Scope::LeadsWrite),
            "reports:read" => Some(Scope::ReportsRead),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// The scopes of the request's token.
#[derive(Debug, Clone)]
pub struct Scopes(pub Vec<Scope>);

impl Scopes {
    /// The admin scope covers every other.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.contains(&scope) || self.0.contains(&Scope::Admin) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this token lacks the `{}` scope", scope.name()),
            ))
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub intake: Arc<Mutex<Intake>>,
    pub store: Store,
    /// SHA-256 (hex) of each token, with what it is.
    pub tokens: auth::Tokens,
    /// Limits, timeouts and policies of the Internet-facing side.
    pub edge: Arc<edge::EdgeSettings>,
    pub metrics: PrometheusHandle,
    /// What happens, for `/v1/events` listeners.
    pub events: tokio::sync::broadcast::Sender<events::Happening>,
    /// The trunk profiles the service was started with.
    pub trunks: Arc<Vec<crate::trunks::TrunkProfile>>,
    /// The registrar of operators' softphones, when SIP runs in this process.
    pub registrar: Option<Arc<std::sync::Mutex<crate::registrar::Registrar>>>,
    /// The engine, when it runs in this process: told of operators set ready or paused.
    pub engine: Option<tokio::sync::mpsc::UnboundedSender<crate::feed::Feed>>,
    /// The engine's live figures (inbound queues), when it runs in this process.
    pub figures: Option<tokio::sync::watch::Receiver<crate::feed::LiveFigures>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "predial",
        description = "The control API of predial, a SIP predictive dialer engine.",
        version = "1"
    ),
    paths(
        leads::create_lead,
        leads::create_leads_bulk,
        leads::get_lead,
        leads::cancel_lead,
        leads::find_leads,
        campaigns::list_campaigns,
        campaigns::create_campaign,
        campaigns::get_campaign,
        campaigns::set_policy,
        campaigns::set_state,
        tokens::create_token,
        tokens::list_tokens,
        tokens::revoke_token,
        audit::list_audit,
        webhook::set_webhook,
        webhook::get_webhook,
        reports::create_disposition,
        reports::kpis,
        abandons::list_abandons,
        recordings::list,
        recordings::download,
        events::events,
        queues::list_queues,
        queues::list_missed,
        operators::create_operator,
        operators::list_operators,
        operators::set_operator_state,
        operators::delete_operator,
        operators::set_password,
        preview::shown,
        preview::choose,
        trunks::list_trunks,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// The process's Prometheus recorder (one per process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder already installed (a test's): metrics go there.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The routes, with their state.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/leads", post(leads::create_lead).get(leads::find_leads))
        .route("/v1/leads:bulk", post(leads::create_leads_bulk))
        .route("/v1/leads/{id}", get(leads::get_lead))
        .route("/v1/leads/{id}/cancel", post(leads::cancel_lead))
        .route(
            "/v1/campaigns",
            get(campaigns::list_campaigns).post(campaigns::create_campaign),
        )
        .route("/v1/campaigns/{name}", get(campaigns::get_campaign))
        .route(
            "/v1/campaigns/{name}/policy",
            axum::routing::put(campaigns::set_policy),
        )
        .route("/v1/campaigns/{name}/{action}", post(campaigns::set_state))
        .route(
            "/v1/tokens",
            post(tokens::create_token).get(tokens::list_tokens),
        )
        .route("/v1/tokens/{id}", delete(tokens::revoke_token))
        .route("/v1/audit", get(audit::list_audit))
        .route("/v1/dispositions", post(reports::create_disposition))
        .route("/v1/reports/kpis", get(reports::kpis))
        .route("/v1/abandons", get(abandons::list_abandons))
        .route("/v1/recordings", get(recordings::list))
        .route("/v1/recordings/{attempt}", get(recordings::download))
        .route("/v1/events", get(events::events))
        .route("/v1/trunks", get(trunks::list_trunks))
        .route("/v1/queues", get(queues::list_queues))
        .route("/v1/missed-calls", get(queues::list_missed))
        .route(
            "/v1/operators",
            get(operators::list_operators).post(operators::create_operator),
        )
        .route("/v1/operators/{login}", delete(operators::delete_operator))
        .route(
            "/v1/operators/{login}/password",
            put(operators::set_password),
        )
        .route(
            "/v1/operators/{login}/preview",
            get(preview::shown).post(preview::choose),
        )
        .route(
            "/v1/operators/{login}/{action}",
            post(operators::set_operator_state),
        )
        .route(
            "/v1/webhook",
            get(webhook::get_webhook).put(webhook::set_webhook),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    Router::new()
        .merge(v1)
        .route("/openapi.json", get(openapi_json))
        .route("/metrics", get(metrics_text))
        .route("/health", get(|| async { "ok\n" }))
        .fallback(|| async { ApiError::not_found("such route: see /openapi.json") })
        // Bodies are bounded by `limits::limit_bodies`, counted as they stream.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::limit_bodies,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::time_limit,
        ))
        .layer(axum::middleware::from_fn(listener::in_progress))
        .with_state(state)
}

async fn openapi_json() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], doc.clone()).into_response()
}

/// `/metrics`: open, or with `Authorization: Bearer` the metrics token when one is set.
async fn metrics_text(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &st.edge.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        if !edge::same_secret(given, expected) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send Authorization: Bearer METRICS_TOKEN (serve's metrics_token)",
            )
            .into_response();
        }
    }
    let now = crate::store::now_ms();
    if let Ok(queues) = st.store.queue_figures(now).await {
        for (campaign, open, lag_ms) in queues {
            metrics::gauge!("predial_leads_open", "campaign" => campaign.clone()).set(open as f64);
            metrics::gauge!("predial_oldest_due_lead_lag_seconds", "campaign" => campaign)
                .set(lag_ms as f64 / 1000.0);
        }
    }
    if let Ok(f) = st.store.outbox_figures().await {
        metrics::gauge!("predial_webhook_backlog").set(f.backlog as f64);
    }
    if let Ok(f) = st.store.call_figures(now).await {
        for (campaign, trunk, n) in &f.in_progress {
            metrics::gauge!("predial_calls_in_progress", "campaign" => campaign.clone(), "trunk" => trunk.clone())
                .set(*n as f64);
        }
        metrics::gauge!("predial_attempts_per_second").set(f.started_last_minute as f64 / 60.0);
        let rate = |a: i64, b: i64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        metrics::gauge!("predial_answer_rate", "window" => "1h")
            .set(rate(f.answered_hour, f.ended_hour));
        metrics::gauge!("predial_abandon_rate", "window" => "1h")
            .set(rate(f.abandoned_hour, f.answered_hour));
        metrics::gauge!("predial_abandon_rate", "window" => "24h")
            .set(rate(f.abandoned_day, f.answered_day));
    }
    if let Ok(live) = st.store.trunk_live().await {
        for (name, v) in live {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&v) {
                let fresh = v["engine_running"].as_bool().unwrap_or(false)
                    && now - v["at_ms"].as_i64().unwrap_or(0) < 30_000;
                let in_use = if fresh {
                    v["channels_in_use"].as_f64().unwrap_or(0.0)
                } else {
                    0.0
                };
                metrics::gauge!("predial_trunk_channels_in_use", "trunk" => name.clone())
                    .set(in_use);
                let up = fresh && v["state"] == "up";
                metrics::gauge!("predial_trunk_up", "trunk" => name).set(if up {
                    1.0
                } else {
                    0.0
                });
            }
        }
    }
    if let Ok(states) = st.store.operator_states().await {
        for state in [
            "logged_out",
            "ready",
            "reserved",
            "on_call",
            "wrap_up",
            "paused",
        ] {
            let n = states
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            metrics::gauge!("predial_operators", "state" => state).set(n as f64);
        }
    }
    st.metrics.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

pub use crate::crypto::{random_token as new_token, sha256_hex};

/// Why the admin token cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The admin token: `PREDIAL_ADMIN_TOKEN`, else `DATA/admin.token`, made (mode 0600) when
/// missing. The second value says whether it was made now.
pub fn admin_token(data: &Path) -> Result<(String, bool), AdminTokenError> {
    if let Ok(t) = std::env::var("PREDIAL_ADMIN_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok((t.trim().to_string(), false));
    }
    let path = data.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok((t.trim().to_string(), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(AdminTokenError::Read { path, source }),
    }
    std::fs::create_dir_all(data)?;
    let token = new_token()?;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| AdminTokenError::Write {
            path: path.clone(),
            source,
        })?;
    writeln!(f, "{token}")?;
    Ok((token, true))
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let edge = state.edge.clone();
    let listener = listener::EdgeListener::new(listener, edge.max_connections, edge.idle_timeout);
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<listener::Peer>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The state of a running API: the store opened, the intake rebuilt, the tokens loaded.
pub async fn state(store: Store, admin: &str) -> Result<AppState, StoreError> {
    let (intake, rebuilt) = Intake::open(store.clone()).await?;
    tracing::info!(
        leads = rebuilt.leads,
        ms = rebuilt.ms,
        "duplicate check rebuilt from the store"
    );
    let tokens = auth::load(&store, admin).await?;
    Ok(AppState {
        intake: Arc::new(Mutex::new(intake)),
        store,
        tokens,
        edge: Arc::new(edge::EdgeSettings::default()),
        metrics: metrics_handle(),
        events: tokio::sync::broadcast::channel(4096).0,
        trunks: Arc::new(Vec::new()),
        registrar: None,
        engine: None,
        figures: None,
    })
}
