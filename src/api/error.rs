//! The API's errors: a status and `{"error": CODE, "message": TEXT, "field": NAME}`, and a JSON
//! body extractor whose errors say which field is wrong.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The body of every 4xx and 5xx answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: `invalid_body`, `invalid_phone`, `duplicate`, `not_found`, `unauthorized`,
    /// `forbidden`, ...
    pub error: String,
    /// What is wrong and what to do, for a person.
    pub message: String,
    /// The request's field at fault, when one is (`phone`, `items[2]`).
    pub field: Option<String>,
    /// A duplicate lead: the lead it duplicates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<i64>,
    /// `destination_refused`: the campaign's rule that refused the number (`allow`, `refuse`,
    /// `premium_rate`, `shared_cost`, `personal_number`, `international_network`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A 5xx: the id the service's log gives the cause under (the cause is never answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Boxed: the body is large, and errors travel in every handler's `Result`.
    pub body: Box<ErrorBody>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error: error.into(),
                message: message.into(),
                field: None,
                duplicate_of: None,
                rule: None,
                error_id: None,
            }),
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        self.body.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {what}"))
    }

    /// A failure of the service itself: the cause goes to the log under a new error id, the
    /// answer carries only that id.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        let id = error_id();
        tracing::error!(error_id = %id, error = %e, "API request failed");
        let mut err = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!(
                "the request could not be carried out; retry later, or give the administrator \
                 error id {id} (the service's log says what failed)"
            ),
        );
        err.body.error_id = Some(id);
        err
    }

    /// A body larger than `limit` bytes.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the body is too large: the limit is {limit} bytes; split it into smaller requests"
            ),
        )
    }
}

/// 16 random bytes as hex, else the time and a counter (both unique within the process).
fn error_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    match crate::crypto::random_bytes::<16>() {
        Ok(b) => crate::crypto::hex(&b),
        Err(_) => format!(
            "{:x}-{:x}",
            crate::store::now_ms(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ),
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("predial_api_errors_total", "error" => self.body.error.clone())
            .increment(1);
        (self.status, axum::Json(*self.body)).into_response()
    }
}

/// A JSON body; a bad one is a 400 (not JSON) or 422 (a field of the wrong type or missing)
/// naming the field.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = read_body(req.into_body()).await?;
        parse(&bytes).map(ApiJson)
    }
}

/// The whole body; 413 when it passes its route's limit (`super::limits`), 400 when it breaks
/// off.
pub async fn read_body(body: axum::body::Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
        match super::limits::too_large_in(&e) {
            Some(limit) => ApiError::too_large(limit),
            None => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "the body could not be read to its end: send it again",
            ),
        }
    })
}

/// Reads JSON, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let status = if inner.is_data() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut err = ApiError::new(status, "invalid_body", inner.to_string());
        if path != "." {
            err = err.field(path);
        } else if let Some(f) = missing_field(&inner.to_string()) {
            err = err.field(f);
        }
        err
    })
}

/// `missing field `phone` at line 1 column 2` -> `phone`; `unknown field `x`` -> `x`.
fn missing_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_answer_an_id_and_not_the_cause() {
        let a = ApiError::internal("database: no such table: secret_table (os error 13)");
        let b = ApiError::internal("database: no such table: secret_table (os error 13)");
        assert!(a.status.is_server_error());
        let text = serde_json::to_string(&a.body).unwrap();
        assert!(
            !text.contains("secret_table") && !text.contains("os error"),
            "{text}"
        );
        let id = a.body.error_id.clone().expect("an error id");
        assert_eq!(id.len(), 32);
        assert!(a.body.message.contains(&id), "{text}");
        assert_ne!(a.body.error_id, b.body.error_id, "each failure its own id");
        let shown = serde_json::to_value(&a.body).unwrap();
        assert!(shown["field"].is_null() && shown.get("field").is_some());
    }

    #[test]
    fn other_errors_carry_no_error_id() {
        let e = ApiError::not_found("lead 5");
        let shown = serde_json::to_value(&e.body).unwrap();
        assert!(shown.get("error_id").is_none(), "{shown}");
    }
}
