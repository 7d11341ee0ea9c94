//! Webhooks: the outbox's notifications POSTed to the shop's CRM, signed, at least once.
//!
//! Each POST carries the notification as JSON and:
//! - `X-Predial-Event`: `call.ended`, `lead.closed`, ...
//! - `X-Predial-Delivery`: the idempotency key (the same on every retry of one notification);
//! - `X-Predial-Timestamp`: Unix seconds of this try;
//! - `X-Predial-Signature`: `sha256=` + hex HMAC-SHA256 of `TIMESTAMP.BODY` with the secret.
//!
//! A 2xx answer delivers it. Anything else (or no answer in 10 s) is retried after 10 s, 20 s,
//! 40 s ... doubling up to an hour between tries, for 72 hours; then it is given up (and
//! counted). Retries survive restarts: the outbox is in the store.
//!
//! The URL is checked again at every try (`url`): its scheme, and every address its host
//! resolves to then; one refused is a failed try, retried like any other.

use std::time::Duration;

use serde_json::Value;

use crate::store::webhooks::{NEVER, Pending, WebhookConfig};
use crate::store::{Store, now_ms};

pub mod url;

use url::UrlPolicy;

/// How long a notification is retried.
pub const RETRY_FOR_MS: i64 = 72 * 3_600_000;
/// The longest wait between two tries.
const MAX_WAIT_MS: i64 = 3_600_000;

/// `sha256=HEX` of HMAC-SHA256(secret, "TIMESTAMP.BODY").
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    format!(
        "sha256={}",
        hmac_hex(secret.as_bytes(), &[ts.as_bytes(), b".", body])
    )
}

/// Hex HMAC-SHA256 of the parts, one after the other.
fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    crate::crypto::hex(&crate::crypto::hmac_sha256(key, parts))
}

/// The body of a notification.
pub fn payload(event: &str, key: &str, at_ms: i64, data: Value) -> String {
    serde_json::json!({"event": event, "id": key, "created_ms": at_ms, "data": data}).to_string()
}

/// The wait before try `n + 1` after `n` failed tries (n >= 1).
pub fn backoff_ms(first_ms: i64, failed: i64) -> i64 {
    let doubled = first_ms.saturating_mul(1i64 << (failed - 1).clamp(0, 30));
    doubled.min(MAX_WAIT_MS.max(first_ms))
}

/// Delivers what is due, for as long as the process runs. `first_retry` is the first wait
/// after a failure (10 s in service; tests shorten it); `policy` says which URLs are posted to.
pub async fn deliver_forever(store: Store, first_retry: Duration, policy: UrlPolicy) {
    let client = match reqwest::Client::builder()
        .dns_resolver(url::resolver(policy))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("predial/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: no HTTP client; nothing will be delivered");
            return;
        }
    };
    let first_ms = first_retry.as_millis() as i64;
    loop {
        let mut worked = false;
        match store.webhook_config().await {
            Ok(Some(config)) => match store.due_webhooks(100).await {
                Ok(due) => {
                    worked = !due.is_empty();
                    for n in due {
                        deliver(&store, &client, &config, n, first_ms, policy).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhooks: cannot read the outbox"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "webhooks: cannot read the settings"),
        }
        if let Ok(f) = store.outbox_figures().await {
            metrics::gauge!("predial_webhook_backlog").set(f.backlog as f64);
            metrics::gauge!("predial_webhook_oldest_seconds")
                .set(f.oldest_ms.unwrap_or(0) as f64 / 1000.0);
        }
        if !worked {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

async fn deliver(
    store: &Store,
    client: &reqwest::Client,
    config: &WebhookConfig,
    n: Pending,
    first_ms: i64,
    policy: UrlPolicy,
) {
    let error = match url::check(&config.url, policy) {
        Ok(_) => post(client, config, &n).await,
        Err(refused) => Some(format!("the URL is refused: {refused}")),
    };
    settle(store, n, first_ms, error).await;
}

/// One try; what went wrong, if anything (never the URL, which may hold credentials).
async fn post(client: &reqwest::Client, config: &WebhookConfig, n: &Pending) -> Option<String> {
    let ts = now_ms() / 1000;
    let result = client
        .post(&config.url)
        .header("content-type", "application/json")
        .header("x-predial-event", &n.event)
        .header("x-predial-delivery", &n.key)
        .header("x-predial-timestamp", ts.to_string())
        .header(
            "x-predial-signature",
            signature(&config.secret, ts, n.payload.as_bytes()),
        )
        .body(n.payload.clone())
        .send()
        .await;
    match result {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("the receiver answered {}", r.status())),
        Err(e) => Some(format!("no answer: {}", error_chain(&e.without_url()))),
    }
}

/// An error and its causes, `: `-separated.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text += &format!(": {c}");
        cause = c.source();
    }
    text
}

/// Marks a try delivered, or failed and when to try again.
async fn settle(store: &Store, n: Pending, first_ms: i64, error: Option<String>) {
    match error {
        None => {
            metrics::counter!("predial_webhooks_delivered_total").increment(1);
            if let Err(e) = store.webhook_delivered(n.id).await {
                tracing::warn!(error = %e, "webhooks: delivered but not marked (it will be sent again)");
            }
        }
        Some(why) => {
            metrics::counter!("predial_webhook_failures_total").increment(1);
            let failed = n.attempts + 1;
            let now = now_ms();
            let next = if now - n.created_ms > RETRY_FOR_MS {
                tracing::error!(key = %n.key, error = %why, "webhook given up after 72 h of failures");
                NEVER
            } else {
                now + backoff_ms(first_ms, failed)
            };
            tracing::info!(key = %n.key, tries = failed, error = %why, "webhook not delivered: retried later");
            let _ = store.webhook_failed(n.id, next, &why).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_and_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            signature("Jefe", 17, b"{}"),
            format!("sha256={}", hmac_hex(b"Jefe", &[b"17.{}"]))
        );
    }

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        assert_eq!(backoff_ms(10_000, 1), 10_000);
        assert_eq!(backoff_ms(10_000, 2), 20_000);
        assert_eq!(backoff_ms(10_000, 4), 80_000);
        assert_eq!(backoff_ms(10_000, 20), 3_600_000);
    }
}
