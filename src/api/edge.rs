//! The API's settings as an Internet-facing service: body limits, request and idle timeouts,
//! the connection cap, the `/metrics` token, and which webhook URLs are allowed.

use std::time::Duration;

use crate::webhooks::url::UrlPolicy;

/// Bulk lead uploads (`/v1/leads:bulk`) at most this many bytes by default: 16 MiB.
pub const BULK_BODY_MAX: usize = 16 * 1024 * 1024;
/// Every other body at most this many bytes by default: 1 MiB.
pub const BODY_MAX: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// The largest bulk lead upload, bytes.
    pub bulk_body_max: usize,
    /// The largest other body, bytes.
    pub body_max: usize,
    /// From a request's head to its answer's head (the event stream is exempt).
    pub request_timeout: Duration,
    /// A connection with no byte in or out and no request in progress this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// When set, `GET /metrics` needs `Authorization: Bearer` this.
    pub metrics_token: Option<String>,
    /// Which webhook URLs are taken and delivered to.
    pub webhook_urls: UrlPolicy,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            bulk_body_max: BULK_BODY_MAX,
            body_max: BODY_MAX,
            request_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            metrics_token: None,
            webhook_urls: UrlPolicy::default(),
        }
    }
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ (both
/// are hashed first, so neither does it depend on their lengths).
pub fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("metrics-token-1", "metrics-token-1"));
        assert!(!same_secret("metrics-token-1", "metrics-token-2"));
        assert!(!same_secret("metrics-token-1", "metrics-token-10"));
        assert!(!same_secret("", "x"));
    }
}
