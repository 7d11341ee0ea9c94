//! The webhook outbox: notifications for the shop's CRM, stored in the same transaction as what
//! they tell of, delivered at least once by `crate::webhooks`, retried with back-off.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

/// Where webhooks go, and the secret that signs them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
}

/// A notification waiting to be delivered.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub event: String,
    pub key: String,
    pub payload: String,
    pub created_ms: i64,
    pub attempts: i64,
}

/// The outbox in figures.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct OutboxFigures {
    /// Not delivered yet (still being retried).
    pub backlog: i64,
    pub delivered: i64,
    /// Given up after the retry period.
    pub given_up: i64,
    /// The oldest undelivered notification's age.
    pub oldest_ms: Option<i64>,
    /// Why the newest undelivered notification that failed was not delivered (the receiver's
    /// status, no answer, or the URL refused); never the URL itself.
    pub last_error: Option<String>,
}

/// A notification given up on waits here.
pub const NEVER: i64 = i64::MAX / 4;

impl Store {
    pub async fn webhook_config(&self) -> Result<Option<WebhookConfig>, StoreError> {
        let rows: Vec<(String, String)> = on_pool!(&self.db, |p| {
            sqlx::query(
                "SELECT name, value FROM settings WHERE name IN ('webhook.url', 'webhook.secret')",
            )
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("value")?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        let get = |n: &str| rows.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        Ok(match (get("webhook.url"), get("webhook.secret")) {
            (Some(url), Some(secret)) if !url.is_empty() => Some(WebhookConfig { url, secret }),
            _ => None,
        })
    }

    /// A setting's value.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(&self.db, |p| {
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(p)
                .await?
        }))
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| {
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ($1, $2)                  ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    pub async fn set_webhook_config(&self, c: Option<&WebhookConfig>) -> Result<(), StoreError> {
        let (url, secret) = c.map_or((String::new(), String::new()), |c| {
            (c.url.clone(), c.secret.clone())
        });
        on_pool!(&self.db, |p| {
            let mut tx = p.begin().await?;
            for (name, value) in [("webhook.url", &url), ("webhook.secret", &secret)] {
                sqlx::query(
                    "INSERT INTO settings (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .bind(name)
                .bind(value)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Queues a notification (once per key).
    pub async fn enqueue_webhook(
        &self,
        event: &str,
        key: &str,
        payload: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        on_pool!(&self.db, |p| {
            sqlx::query(ENQUEUE)
                .bind(event)
                .bind(key)
                .bind(payload)
                .bind(now)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Notifications due now, oldest first.
    pub async fn due_webhooks(&self, limit: i64) -> Result<Vec<Pending>, StoreError> {
        let now = now_ms();
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT id, event, idempotency_key, payload, created_ms, attempts FROM webhook_outbox \
                 WHERE delivered_ms IS NULL AND next_at_ms <= $1 ORDER BY id LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(Pending {
                        id: r.try_get("id")?,
                        event: r.try_get("event")?,
                        key: r.try_get("idempotency_key")?,
                        payload: r.try_get("payload")?,
                        created_ms: r.try_get("created_ms")?,
                        attempts: r.try_get("attempts")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    pub async fn webhook_delivered(&self, id: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| {
            sqlx::query(
                "UPDATE webhook_outbox SET delivered_ms = $2, attempts = attempts + 1, \
                 last_error = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(now_ms())
            .execute(p)
            .await?;
        });
        Ok(())
    }

    pub async fn webhook_failed(
        &self,
        id: i64,
        next_at_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| {
            sqlx::query(
                "UPDATE webhook_outbox SET attempts = attempts + 1, next_at_ms = $2, last_error = $3 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(next_at_ms)
            .bind(error)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    pub async fn outbox_figures(&self) -> Result<OutboxFigures, StoreError> {
        let never = NEVER;
        let now = now_ms();
        on_pool!(&self.db, |p| {
            let r = sqlx::query(
                "SELECT \
                   COUNT(CASE WHEN delivered_ms IS NULL AND next_at_ms < $1 THEN 1 END) AS backlog, \
                   COUNT(delivered_ms) AS delivered, \
                   COUNT(CASE WHEN delivered_ms IS NULL AND next_at_ms >= $1 THEN 1 END) AS given_up, \
                   MIN(CASE WHEN delivered_ms IS NULL AND next_at_ms < $1 THEN created_ms END) AS oldest \
                 FROM webhook_outbox",
            )
            .bind(never)
            .fetch_one(p)
            .await?;
            let last_error: Option<String> = sqlx::query_scalar(
                "SELECT last_error FROM webhook_outbox \
                 WHERE delivered_ms IS NULL AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(p)
            .await?
            .flatten();
            let oldest: Option<i64> = r.try_get("oldest")?;
            Ok(OutboxFigures {
                backlog: r.try_get("backlog")?,
                delivered: r.try_get("delivered")?,
                given_up: r.try_get("given_up")?,
                oldest_ms: oldest.map(|o| now - o),
                last_error,
            })
        })
    }
}

/// Queues a notification; a second one with the same key is dropped.
pub const ENQUEUE: &str = "INSERT INTO webhook_outbox (event, idempotency_key, payload, created_ms, next_at_ms) \
     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (idempotency_key) DO NOTHING";
