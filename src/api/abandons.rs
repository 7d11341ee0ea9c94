//! `GET /v1/abandons`: a campaign's abandoned calls from the abandon log, as JSON or CSV
//! (`Accept: text/csv`), for the regulator's audit.

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody};
use super::{AppState, Scope, Scopes};
use crate::store::abandons::AbandonRecord;

/// Rows answered when `limit` is not given, and the most a request may ask for.
const DEFAULT_LIMIT: i64 = 1_000;
const MAX_LIMIT: i64 = 10_000;
/// The period when `from` is not given: the FTC's window.
const DEFAULT_PERIOD_MS: i64 = 30 * 86_400_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AbandonQuery {
    /// The campaign's name.
    pub campaign: Option<String>,
    /// Abandoned at or after this time, RFC 3339 (`2026-11-01T00:00:00Z`); default: 30 days
    /// before `to`.
    pub from: Option<String>,
    /// Abandoned before this time, RFC 3339; default: now.
    pub to: Option<String>,
    /// At most this many, oldest first (default 1000, at most 10000).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub limit: Option<String>,
}

/// One abandoned call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AbandonView {
    pub id: i64,
    pub attempt: Option<i64>,
    pub lead: i64,
    pub campaign: String,
    /// The number called (E.164).
    pub phone: Option<String>,
    /// The caller id presented (E.164).
    pub caller_id: Option<String>,
    /// When the person answered (RFC 3339, UTC).
    pub answered_at: String,
    /// When no operator had come and the call was abandoned.
    pub abandoned_at: String,
    /// Whether the abandoned-call message was played (null: a row older than this field).
    pub message_played: Option<bool>,
    /// When the message began.
    pub message_at: Option<String>,
    /// When the call was hung up (null while it goes on).
    pub hung_up_at: Option<String>,
    /// From the answer to the abandon.
    pub waited_ms: Option<i64>,
    /// From the answer to the hang-up.
    pub answer_to_hang_up_ms: Option<i64>,
    /// `ftc` or `ofcom`.
    pub regulator: Option<String>,
    /// The campaign's live answers and abandons over the regulator's window, this call
    /// included, and their rate (a fraction).
    pub answered_in_window: Option<i64>,
    pub abandoned_in_window: Option<i64>,
    pub window_rate: Option<f64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Abandons {
    pub campaign: String,
    pub from: String,
    pub to: String,
    /// Abandons answered (at most `limit`).
    pub count: usize,
    pub limit: i64,
    /// More abandons lie in the period than were answered: ask again from the last one's
    /// `abandoned_at` (or with a larger `limit`).
    pub truncated: bool,
    pub abandons: Vec<AbandonView>,
}

/// The CSV's columns, in the JSON's names.
const CSV_HEADER: &str = "id,attempt,lead,campaign,phone,caller_id,answered_at,abandoned_at,\
message_played,message_at,hung_up_at,waited_ms,answer_to_hang_up_ms,regulator,\
answered_in_window,abandoned_in_window,window_rate";

fn unprocessable(error: &str, field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error, message).field(field)
}

/// `ms` as RFC 3339 in UTC, to the millisecond.
fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// An RFC 3339 time of the query, in ms.
fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            unprocessable(
                "invalid_time",
                field,
                format!(
                    "`{text}`: give an RFC 3339 time with its offset, like 2026-11-01T00:00:00Z \
                     or 2026-11-01T03:00:00+03:00"
                ),
            )
        })
}

/// The period and limit asked for.
fn period(q: &AbandonQuery) -> Result<(i64, i64, i64), ApiError> {
    let to = match &q.to {
        Some(t) => parse_time("to", t)?,
        None => crate::store::now_ms(),
    };
    let from = match &q.from {
        Some(t) => parse_time("from", t)?,
        None => to - DEFAULT_PERIOD_MS,
    };
    if to <= from {
        return Err(unprocessable(
            "empty_period",
            "to",
            "`to` comes after `from`",
        ));
    }
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                unprocessable(
                    "invalid_limit",
                    "limit",
                    format!("`{l}`: give a whole number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    Ok((from, to, limit))
}

fn view(r: AbandonRecord) -> AbandonView {
    AbandonView {
        id: r.id,
        attempt: r.attempt,
        lead: r.lead,
        campaign: r.campaign,
        phone: r.phone,
        caller_id: r.caller_id,
        answered_at: time(r.answered_ms),
        abandoned_at: time(r.abandoned_ms),
        message_played: r.regulator.as_ref().map(|_| r.message_ms.is_some()),
        message_at: r.message_ms.map(time),
        hung_up_at: r.hung_up_ms.map(time),
        waited_ms: r.waited_ms,
        answer_to_hang_up_ms: r.hung_up_ms.map(|h| h - r.answered_ms),
        regulator: r.regulator,
        answered_in_window: r.answered_in_window,
        abandoned_in_window: r.abandoned_in_window,
        window_rate: r.window_rate,
    }
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn field(out: &mut String, value: Option<String>) {
    let v = value.unwrap_or_default();
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&v);
    }
}

/// The header row, then one row per abandon.
pub fn csv(abandons: &[AbandonView]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    let s = |v: &dyn ToString| Some(v.to_string());
    for a in abandons {
        let cells = [
            s(&a.id),
            a.attempt.map(|v| v.to_string()),
            s(&a.lead),
            Some(a.campaign.clone()),
            a.phone.clone(),
            a.caller_id.clone(),
            Some(a.answered_at.clone()),
            Some(a.abandoned_at.clone()),
            a.message_played.map(|v| v.to_string()),
            a.message_at.clone(),
            a.hung_up_at.clone(),
            a.waited_ms.map(|v| v.to_string()),
            a.answer_to_hang_up_ms.map(|v| v.to_string()),
            a.regulator.clone(),
            a.answered_in_window.map(|v| v.to_string()),
            a.abandoned_in_window.map(|v| v.to_string()),
            a.window_rate.map(|v| v.to_string()),
        ];
        for (i, c) in cells.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, c);
        }
        out.push('\n');
    }
    out
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/csv"))
}

/// A campaign's abandoned calls over a period, oldest first: JSON, or CSV with
/// `Accept: text/csv` (a header row, then one row per abandon, the JSON's keys as columns).
#[utoipa::path(get, path = "/v1/abandons", tag = "reports", params(AbandonQuery),
    responses(
        (status = 200, description = "JSON, or with Accept: text/csv the same rows as CSV",
            content((Abandons = "application/json"), (String = "text/csv"))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_abandons(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    headers: HeaderMap,
    query: Result<Query<AbandonQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    scopes.require(Scope::ReportsRead)?;
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            format!(
                "{}: the parameters are campaign, from, to (RFC 3339) and limit",
                e.body_text()
            ),
        )
    })?;
    let Some(name) = q.campaign.as_deref().filter(|n| !n.is_empty()) else {
        return Err(unprocessable(
            "missing_campaign",
            "campaign",
            "name the campaign: ?campaign=NAME",
        ));
    };
    let (from, to, limit) = period(&q)?;
    let Some(campaign) = st.store.campaign(name).await? else {
        return Err(ApiError::not_found(&format!("campaign `{name}`")));
    };
    // One more than asked: whether the period holds more.
    let mut rows = st.store.abandons(campaign.id, from, to, limit + 1).await?;
    let truncated = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let abandons: Vec<AbandonView> = rows.into_iter().map(view).collect();
    if wants_csv(&headers) {
        return Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&abandons),
        )
            .into_response());
    }
    Ok(axum::Json(Abandons {
        campaign: campaign.name,
        from: time(from),
        to: time(to),
        count: abandons.len(),
        limit,
        truncated,
        abandons,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_header_and_quotes_what_needs_it() {
        let a = AbandonView {
            id: 1,
            attempt: Some(7),
            lead: 3,
            campaign: "shop, north".into(),
            phone: Some("+79161234567".into()),
            caller_id: None,
            answered_at: time(0),
            abandoned_at: time(2_000),
            message_played: Some(true),
            message_at: Some(time(2_000)),
            hung_up_at: None,
            waited_ms: Some(2_000),
            answer_to_hang_up_ms: None,
            regulator: Some("ftc".into()),
            answered_in_window: Some(10),
            abandoned_in_window: Some(1),
            window_rate: Some(0.1),
        };
        let text = csv(&[a]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(
            lines[1],
            "1,7,3,\"shop, north\",+79161234567,,1970-01-01T00:00:00.000Z,\
             1970-01-01T00:00:02.000Z,true,1970-01-01T00:00:02.000Z,,2000,,ftc,10,1,0.1"
        );
        assert_eq!(
            lines[0].split(',').count(),
            lines[1].replace("\"shop, north\"", "x").split(',').count()
        );
    }
}
