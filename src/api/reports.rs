//! `POST /v1/dispositions` (the operator's desk) and `GET /v1/reports/kpis`.

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiJson, ErrorBody};
use super::{AppState, Scope, Scopes};
use crate::reports::{self, By, Row};
use crate::store::dispositions::{Kind, NewDisposition};
use crate::store::now_ms;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispositionIn {
    pub lead: i64,
    pub attempt: Option<i64>,
    pub operator: Option<String>,
    pub kind: Kind,
    /// Upsell: the order's items now.
    #[serde(default)]
    pub items: Option<Vec<String>>,
    /// Confirmed / upsell: the order's sum now, in minor units.
    #[serde(default)]
    pub sum_minor: Option<i64>,
    /// Callback: when, as RFC 3339 (`2026-11-28T15:00:00+03:00`).
    #[serde(default)]
    pub callback_at: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DispositionOut {
    pub id: i64,
    pub lead: i64,
    pub kind: Kind,
}

fn unprocessable(error: &str, field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error, message).field(field)
}

/// Enter a call's result: confirmed, upsell (with items and the new sum), callback at a time,
/// refused, wrong number, fake, complaint.
#[utoipa::path(post, path = "/v1/dispositions", tag = "operators", request_body = DispositionIn,
    responses((status = 201, body = DispositionOut), (status = 422, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn create_disposition(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    ApiJson(d): ApiJson<DispositionIn>,
) -> Result<(StatusCode, axum::Json<DispositionOut>), ApiError> {
    scopes.require(Scope::LeadsWrite)?;
    if let Some(s) = d.sum_minor
        && s < 0
    {
        return Err(unprocessable(
            "invalid_sum",
            "sum_minor",
            "a sum cannot be negative",
        ));
    }
    if d.kind == Kind::Upsell {
        if d.items.as_ref().is_none_or(|i| i.is_empty()) {
            return Err(unprocessable(
                "missing_items",
                "items",
                "an upsell names the order's items now",
            ));
        }
        if d.sum_minor.is_none() {
            return Err(unprocessable(
                "missing_sum",
                "sum_minor",
                "an upsell gives the order's new sum",
            ));
        }
    }
    let callback_ms = match (&d.callback_at, d.kind) {
        (Some(at), Kind::Callback) => {
            let t = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| {
                unprocessable(
                    "invalid_time",
                    "callback_at",
                    format!("`{at}`: give a time like 2026-11-28T15:00:00+03:00"),
                )
            })?;
            let ms = t.timestamp_millis();
            if ms <= now_ms() {
                return Err(unprocessable(
                    "callback_in_the_past",
                    "callback_at",
                    "a call-back is agreed for a time still to come",
                ));
            }
            Some(ms)
        }
        (None, Kind::Callback) => {
            return Err(unprocessable(
                "missing_time",
                "callback_at",
                "a call-back needs the time agreed",
            ));
        }
        (Some(_), _) => {
            return Err(unprocessable(
                "unexpected_field",
                "callback_at",
                "only a callback has a time",
            ));
        }
        (None, _) => None,
    };
    let new = NewDisposition {
        lead: d.lead,
        attempt: d.attempt,
        operator: d.operator.clone(),
        kind: d.kind,
        items: d
            .items
            .as_ref()
            .map(|i| serde_json::to_string(i).unwrap_or_default()),
        sum_minor: d.sum_minor,
        callback_ms,
        note: d.note.clone(),
    };
    let desk = crate::dispositions::Desk {
        store: &st.store,
        events: Some(&st.events),
        engine: st.engine.as_ref(),
    };
    match crate::dispositions::enter(desk, &new).await? {
        Some(id) => Ok((
            StatusCode::CREATED,
            axum::Json(DispositionOut {
                id,
                lead: d.lead,
                kind: d.kind,
            }),
        )),
        None => Err(ApiError::not_found(&format!("lead {}", d.lead))),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KpiQuery {
    /// From this date (2026-11-01, midnight in `tz`) or time (RFC 3339).
    pub from: String,
    /// Up to (not including) this date or time.
    pub to: String,
    /// date, hour, campaign, group or operator (default date).
    pub by: Option<String>,
    /// The zone dates and hours are counted in (default Europe/Moscow).
    pub tz: Option<String>,
    /// json (default) or csv.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Kpis {
    pub from_ms: i64,
    pub to_ms: i64,
    pub by: String,
    pub rows: Vec<Row>,
    pub total: Row,
}

/// The business's numbers over the leads that arrived in a period, grouped.
#[utoipa::path(get, path = "/v1/reports/kpis", tag = "reports", params(KpiQuery),
    responses((status = 200, body = Kpis), (status = 422, body = ErrorBody)))]
pub async fn kpis(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    query: Result<Query<KpiQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    scopes.require(Scope::ReportsRead)?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let tz_name = q.tz.as_deref().unwrap_or("Europe/Moscow");
    let tz: chrono_tz::Tz = tz_name.parse().map_err(|_| {
        unprocessable(
            "invalid_time_zone",
            "tz",
            format!("`{tz_name}` is not an IANA zone"),
        )
    })?;
    let from = reports::parse_time(&q.from, tz)
        .map_err(|m| unprocessable("invalid_time", "from", m.to_string()))?;
    let to = reports::parse_time(&q.to, tz)
        .map_err(|m| unprocessable("invalid_time", "to", m.to_string()))?;
    if to <= from {
        return Err(unprocessable(
            "empty_period",
            "to",
            "`to` comes after `from`",
        ));
    }
    let by_name = q.by.as_deref().unwrap_or("date");
    let by: By =
        serde_json::from_value(serde_json::Value::String(by_name.into())).map_err(|_| {
            unprocessable(
                "invalid_group",
                "by",
                format!("`{by_name}`: date, hour, campaign, group or operator"),
            )
        })?;
    let facts = st.store.report_facts(from, to).await?;
    let (rows, total) = reports::compute(&facts, by, tz);
    match q.format.as_deref().unwrap_or("json") {
        "csv" => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            reports::csv(&rows, &total),
        )
            .into_response()),
        "json" => Ok(axum::Json(Kpis {
            from_ms: from,
            to_ms: to,
            by: by_name.into(),
            rows,
            total,
        })
        .into_response()),
        other => Err(unprocessable(
            "invalid_format",
            "format",
            format!("`{other}`: json or csv"),
        )),
    }
}
