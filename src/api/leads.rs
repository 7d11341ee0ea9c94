//! Leads through the API: one, many (a JSON array or NDJSON, up to 100,000 per request, read as
//! it streams in), get, cancel, search by phone or order id.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::TryStreamExt;
use predial_core::dialer::{CampaignPolicy, Phone};
use serde::{Deserialize, Serialize};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::io::StreamReader;

use super::error::{ApiError, ApiJson, ErrorBody, parse};
use super::{AppState, Scope, Scopes};
use crate::leads::intake::{Counts, Flush, LeadIn, Source, Verdict};
use crate::store::leads::Lead;
use crate::store::now_ms;

/// Leads per bulk request at most.
pub const BULK_MAX: usize = 100_000;
/// Leads checked per turn of the intake's lock (others' requests interleave between turns).
const TURN: usize = 5_000;

fn counted(v: &Verdict) {
    let result = match v {
        Verdict::Accepted { .. } => "accepted",
        Verdict::Duplicate { .. } => "duplicate",
        Verdict::Invalid { .. } => "invalid",
    };
    metrics::counter!("predial_leads_received_total", "result" => result).increment(1);
}

/// Add a lead.
///
/// 201 with the lead's id when it is taken; 409 with `duplicate_of` when the campaign's
/// duplicate rule catches it; 422 with `field` when a field is wrong (an impossible phone
/// number is `invalid_phone` on `phone`).
#[utoipa::path(post, path = "/v1/leads", tag = "leads", request_body = LeadIn,
    responses((status = 201, body = Verdict), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 400, body = ErrorBody)))]
pub async fn create_lead(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    ApiJson(lead): ApiJson<LeadIn>,
) -> Result<(StatusCode, axum::Json<Verdict>), ApiError> {
    scopes.require(Scope::LeadsWrite)?;
    let now = now_ms();
    let (verdict, flush) = {
        let mut intake = st.intake.lock().await;
        let v = intake.take(lead, Source::Api, now);
        (v, intake.start_flush())
    };
    flush.wait().await.map_err(ApiError::internal)?;
    counted(&verdict);
    if let Verdict::Accepted { id, phone } = &verdict {
        super::events::publish(
            &st.events,
            "lead.accepted",
            serde_json::json!({"id": id, "phone": phone, "source": "api"}),
        );
    }
    match verdict {
        Verdict::Accepted { .. } => Ok((StatusCode::CREATED, axum::Json(verdict))),
        Verdict::Duplicate {
            duplicate_of,
            message,
        } => {
            let mut e = ApiError::new(StatusCode::CONFLICT, "duplicate", message).field("phone");
            e.body.duplicate_of = Some(duplicate_of);
            Err(e)
        }
        Verdict::Invalid {
            error,
            field,
            message,
            rule,
        } => {
            let mut e =
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, &error, message).field(field);
            e.body.rule = rule;
            Err(e)
        }
    }
}

/// A lead of a bulk request that was not taken.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rejected {
    /// 1-based: the item of the array, or the line of NDJSON.
    pub index: u64,
    pub error: String,
    pub field: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<i64>,
    /// destination_refused: the rule that refused the number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    pub received: u64,
    #[serde(flatten)]
    pub counts: Counts,
    pub rejected: Vec<Rejected>,
}

/// Add many leads.
///
/// The body is a JSON array of leads (`Content-Type: application/json`) or NDJSON, one lead
/// per line (`application/x-ndjson`), up to 100,000 leads. Every lead is judged on its own: the
/// answer counts them and lists those not taken with the reason.
#[utoipa::path(post, path = "/v1/leads:bulk", tag = "leads",
    request_body(content = Vec<LeadIn>, description = "JSON array, or NDJSON lines of the same objects"),
    responses((status = 200, body = BulkResult), (status = 413, body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn create_leads_bulk(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<BulkResult>, ApiError> {
    scopes.require(Scope::LeadsWrite)?;
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let records = if kind.contains("ndjson") || kind.contains("jsonl") {
        read_ndjson(body).await?
    } else if kind.starts_with("application/json") {
        read_array(body).await?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send a JSON array (application/json) or NDJSON (application/x-ndjson)",
        ));
    };
    let mut result = BulkResult {
        received: records.len() as u64,
        counts: Counts::default(),
        rejected: Vec::new(),
    };
    let mut in_flight: Option<Flush> = None;
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let now = now_ms();
        let flush = {
            let mut intake = st.intake.lock().await;
            for (index, record) in records.by_ref().take(TURN) {
                let lead = match record {
                    Ok(lead) => lead,
                    Err(e) => {
                        result.counts.invalid += 1;
                        result.rejected.push(Rejected {
                            index,
                            error: e.body.error,
                            field: e.body.field,
                            message: e.body.message,
                            duplicate_of: None,
                            rule: None,
                        });
                        continue;
                    }
                };
                let verdict = intake.take(lead, Source::Api, now);
                counted(&verdict);
                result.counts.add(&verdict);
                match verdict {
                    Verdict::Accepted { .. } => {}
                    Verdict::Duplicate {
                        duplicate_of,
                        message,
                    } => result.rejected.push(Rejected {
                        index,
                        error: "duplicate".into(),
                        field: Some("phone".into()),
                        message,
                        duplicate_of: Some(duplicate_of),
                        rule: None,
                    }),
                    Verdict::Invalid {
                        error,
                        field,
                        message,
                        rule,
                    } => result.rejected.push(Rejected {
                        index,
                        error,
                        field: Some(field),
                        message,
                        duplicate_of: None,
                        rule,
                    }),
                }
            }
            intake.start_flush()
        };
        if let Some(previous) = in_flight.replace(flush) {
            previous.wait().await.map_err(ApiError::internal)?;
        }
    }
    if let Some(last) = in_flight {
        last.wait().await.map_err(ApiError::internal)?;
    }
    super::events::publish(
        &st.events,
        "leads.bulk",
        serde_json::json!({"received": result.received, "accepted": result.counts.accepted,
            "duplicates": result.counts.duplicates, "invalid": result.counts.invalid}),
    );
    Ok(axum::Json(result))
}

type Records = Vec<(u64, Result<LeadIn, ApiError>)>;

fn too_many() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_leads",
        format!("at most {BULK_MAX} leads per request: split the file"),
    )
}

async fn read_ndjson(body: Body) -> Result<Records, ApiError> {
    let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let mut lines = FramedRead::new(reader, LinesCodec::new_with_max_length(64 * 1024));
    let mut out = Vec::new();
    let mut line_no = 0u64;
    loop {
        let line = match lines.try_next().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "line_too_long",
                    format!("line {}: longer than 64 KiB", line_no + 1),
                ));
            }
            Err(LinesCodecError::Io(e)) => {
                if let Some(limit) = super::limits::too_large_in(&e) {
                    return Err(ApiError::too_large(limit));
                }
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    format!(
                        "the body could not be read to its end after line {line_no}: send it again"
                    ),
                ));
            }
        };
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        if out.len() == BULK_MAX {
            return Err(too_many());
        }
        out.push((line_no, parse::<LeadIn>(line.as_bytes())));
    }
    Ok(out)
}

async fn read_array(body: Body) -> Result<Records, ApiError> {
    let bytes = super::error::read_body(body).await?;
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("expected a JSON array of leads: {e}"),
        )
    })?;
    if items.len() > BULK_MAX {
        return Err(too_many());
    }
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, raw)| (i as u64 + 1, parse::<LeadIn>(raw.get().as_bytes())))
        .collect())
}

/// Read a lead.
#[utoipa::path(get, path = "/v1/leads/{id}", tag = "leads",
    params(("id" = i64, Path, description = "the lead's id")),
    responses((status = 200, body = Lead), (status = 404, body = ErrorBody)))]
pub async fn get_lead(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Path(id): Path<String>,
) -> Result<axum::Json<Lead>, ApiError> {
    read_scope(&scopes)?;
    let id = lead_id(&id)?;
    match st.store.lead(id).await? {
        Some(l) => Ok(axum::Json(l)),
        None => Err(ApiError::not_found(&format!("lead {id}"))),
    }
}

fn read_scope(scopes: &Scopes) -> Result<(), ApiError> {
    scopes
        .require(Scope::ReportsRead)
        .or_else(|_| scopes.require(Scope::LeadsWrite))
}

fn lead_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!("`{text}` is not a lead id (a number)"),
        )
        .field("id")
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cancelled {
    pub id: i64,
    pub state: String,
}

/// Cancel a lead: it is not called again.
#[utoipa::path(post, path = "/v1/leads/{id}/cancel", tag = "leads",
    params(("id" = i64, Path, description = "the lead's id")),
    responses((status = 200, body = Cancelled), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn cancel_lead(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    Path(id): Path<String>,
) -> Result<axum::Json<Cancelled>, ApiError> {
    scopes.require(Scope::LeadsWrite)?;
    let id = lead_id(&id)?;
    match st.store.cancel_lead(id, now_ms()).await? {
        Some(true) => {
            super::events::publish(&st.events, "lead.cancelled", serde_json::json!({"id": id}));
            if st.store.webhook_config().await?.is_some() {
                let key = format!("lead.closed:{id}");
                let payload = crate::webhooks::payload(
                    "lead.closed",
                    &key,
                    now_ms(),
                    serde_json::json!({"lead": id, "state": "cancelled"}),
                );
                st.store
                    .enqueue_webhook("lead.closed", &key, &payload)
                    .await?;
            }
            Ok(axum::Json(Cancelled {
                id,
                state: "cancelled".into(),
            }))
        }
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "lead_closed",
            format!("lead {id} is closed already"),
        )),
        None => Err(ApiError::not_found(&format!("lead {id}"))),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// The phone number, written any way a buyer writes it.
    pub phone: Option<String>,
    pub order_id: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Found {
    pub leads: Vec<Lead>,
}

/// Find leads by phone or order id.
#[utoipa::path(get, path = "/v1/leads", tag = "leads", params(Search),
    responses((status = 200, body = Found), (status = 422, body = ErrorBody)))]
pub async fn find_leads(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
    query: Result<Query<Search>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Found>, ApiError> {
    read_scope(&scopes)?;
    let Query(q) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    if q.phone.is_none() && q.order_id.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_query",
            "give phone=... or order_id=...",
        )
        .field("phone"));
    }
    let phone = match &q.phone {
        Some(p) => Some(
            Phone::parse(p, CampaignPolicy::default().country)
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_phone",
                        e.to_string(),
                    )
                    .field("phone")
                })?
                .to_string(),
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let leads = st
        .store
        .find_leads(phone.as_deref(), q.order_id.as_deref(), limit)
        .await?;
    Ok(axum::Json(Found { leads }))
}
