//! The audit log: what admins did through the API (tokens made and revoked, operators made,
//! deleted or given a new password, campaigns changed, the webhook set), by whom, when.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, on_pool};

/// One admin action.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    /// The name of the token used (`admin` for the admin token).
    pub actor: String,
    /// The id of the token used; none for the admin token.
    pub token_id: Option<i64>,
    /// `token.create`, `token.revoke`, `operator.create`, `operator.delete`,
    /// `operator.password`, `campaign.create`, `campaign.policy`, `campaign.state`,
    /// `webhook.set`.
    pub action: String,
    /// What it was done to: a token's id, an operator's login, a campaign's name.
    pub target: Option<String>,
    /// More of what was done (JSON); never a secret.
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

/// An action to write.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub at_ms: i64,
    pub actor: &'a str,
    pub token_id: Option<i64>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: Option<serde_json::Value>,
}

impl Store {
    pub async fn add_audit(&self, a: &NewAudit<'_>) -> Result<(), StoreError> {
        let detail = a.detail.as_ref().map(|d| d.to_string());
        on_pool!(&self.db, |p| {
            sqlx::query(
                "INSERT INTO audit_log (at_ms, actor, token_id, action, target, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(a.at_ms)
            .bind(a.actor)
            .bind(a.token_id)
            .bind(a.action)
            .bind(a.target)
            .bind(&detail)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Entries at or after `since_ms`, newest first, at most `limit`.
    pub async fn audit(&self, since_ms: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT id, at_ms, actor, token_id, action, target, detail FROM audit_log \
                 WHERE at_ms >= $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(since_ms)
            .bind(limit)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    let detail: Option<String> = r.try_get("detail")?;
                    Ok(AuditEntry {
                        id: r.try_get("id")?,
                        at_ms: r.try_get("at_ms")?,
                        actor: r.try_get("actor")?,
                        token_id: r.try_get("token_id")?,
                        action: r.try_get("action")?,
                        target: r.try_get("target")?,
                        detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }
}
