//! Bounds on each request: its body counted in bytes as it streams in (413 past its route's
//! limit, whether the length was declared or not), and a time from its head to its answer.

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::AppState;
use super::error::ApiError;

/// Reading a body failed because it passed its limit.
#[derive(Debug, Clone, Copy)]
pub struct TooLarge {
    pub limit: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the body passed its limit of {} bytes", self.limit)
    }
}

impl std::error::Error for TooLarge {}

/// The limit of the request's route: bulk uploads have their own.
fn limit_of(st: &AppState, path: &str) -> usize {
    if path.starts_with("/v1/leads:bulk") {
        st.edge.bulk_body_max
    } else {
        st.edge.body_max
    }
}

/// Middleware: a body declared longer than the limit is refused before it is read; any other
/// is counted as it streams, and reading past the limit fails with [`TooLarge`].
pub async fn limit_bodies(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let limit = limit_of(&st, req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return refused(limit);
    }
    let (parts, body) = req.into_parts();
    let body = if body.is_end_stream() {
        body
    } else {
        counted(body, limit)
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return close_after(response);
    }
    response
}

/// The 413 answer; the connection is closed after it (the rest of the body is not read).
fn refused(limit: usize) -> Response {
    close_after(ApiError::too_large(limit).into_response())
}

fn close_after(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The body, failing with [`TooLarge`] once more than `limit` bytes have come.
fn counted(body: Body, limit: usize) -> Body {
    let mut seen = 0usize;
    Body::from_stream(body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(axum::BoxError::from)?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            Err(axum::BoxError::from(TooLarge { limit }))
        } else {
            Ok(chunk)
        }
    }))
}

/// The limit a body read error reports, when it is [`TooLarge`] (however deeply wrapped).
pub fn too_large_in(e: &(dyn std::error::Error + 'static)) -> Option<usize> {
    let mut e = e;
    for _ in 0..16 {
        if let Some(t) = e.downcast_ref::<TooLarge>() {
            return Some(t.limit);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            e = inner;
            continue;
        }
        e = e.source()?;
    }
    None
}

/// Middleware: a request not answered within the request timeout gets 408 (the event stream,
/// which lasts, is exempt).
pub async fn time_limit(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/v1/events" {
        return next.run(req).await;
    }
    let limit = st.edge.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("predial_http_timeouts_total").increment(1);
            close_after(
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    format!(
                        "the request was not done within {} s (its body came too slowly, or \
                         the service is busy): retry, or send less at once",
                        limit.as_secs_f64()
                    ),
                )
                .into_response(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_counted_body_fails_past_its_limit_and_says_so() {
        let body = Body::from(vec![b'x'; 100]);
        let err = axum::body::to_bytes(counted(body, 99), usize::MAX)
            .await
            .unwrap_err();
        assert_eq!(too_large_in(&err), Some(99));
        let io = std::io::Error::other(err);
        assert_eq!(too_large_in(&io), Some(99));
        let body = Body::from(vec![b'x'; 100]);
        let bytes = axum::body::to_bytes(counted(body, 100), usize::MAX)
            .await
            .unwrap();
        assert_eq!(bytes.len(), 100);
    }
}
