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
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                message: message.into(),
                field: None,
                duplicate_of: None,
                rule: None,
            },
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        self.body.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {what}"))
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "API request failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the request could not be carried out: {e}; retry later"),
        )
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
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// A JSON body; a bad one is a 400 (not JSON) or 422 (a field of the wrong type or missing)
/// naming the field.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
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
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::new(r.status(), "invalid_body", r.body_text()))?;
        parse(&bytes).map(ApiJson)
    }
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
