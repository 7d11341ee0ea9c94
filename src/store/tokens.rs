//! API tokens besides the admin's: a name, scopes, the token's SHA-256 (never the token), when
//! it expires (if ever) and when it was last used.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

/// A stored token, without its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredToken {
    pub id: i64,
    pub name: String,
    #[serde(skip)]
    pub sha256: String,
    /// Space-separated scopes.
    #[serde(skip)]
    pub scopes: String,
    pub created_ms: i64,
    /// Refused from then on; none: never expires.
    pub expires_ms: Option<i64>,
    /// To the minute; none: never used.
    pub last_used_ms: Option<i64>,
}

impl Store {
    /// Every token, oldest first.
    pub async fn api_tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT id, name, sha256, scopes, created_ms, expires_ms, last_used_ms \
                 FROM api_tokens ORDER BY id",
            )
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(StoredToken {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        sha256: r.try_get("sha256")?,
                        scopes: r.try_get("scopes")?,
                        created_ms: r.try_get("created_ms")?,
                        expires_ms: r.try_get("expires_ms")?,
                        last_used_ms: r.try_get("last_used_ms")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Stores a token; its id.
    pub async fn add_api_token(
        &self,
        name: &str,
        sha256: &str,
        scopes: &str,
        expires_ms: Option<i64>,
    ) -> Result<StoredToken, StoreError> {
        let created_ms = now_ms();
        let id: i64 = on_pool!(&self.db, |p| {
            sqlx::query_scalar(
                "INSERT INTO api_tokens (name, sha256, scopes, created_ms, expires_ms) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(name)
            .bind(sha256)
            .bind(scopes)
            .bind(created_ms)
            .bind(expires_ms)
            .fetch_one(p)
            .await?
        });
        Ok(StoredToken {
            id,
            name: name.into(),
            sha256: sha256.into(),
            scopes: scopes.into(),
            created_ms,
            expires_ms,
            last_used_ms: None,
        })
    }

    /// Deletes a token; its SHA-256, or `None` when there is no such token.
    pub async fn revoke_api_token(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(&self.db, |p| {
            sqlx::query_scalar("DELETE FROM api_tokens WHERE id = $1 RETURNING sha256")
                .bind(id)
                .fetch_optional(p)
                .await?
        }))
    }

    /// Notes that a token was used at `at_ms`.
    pub async fn touch_api_token(&self, id: i64, at_ms: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| {
            sqlx::query("UPDATE api_tokens SET last_used_ms = $2 WHERE id = $1")
                .bind(id)
                .bind(at_ms)
                .execute(p)
                .await?;
        });
        Ok(())
    }
}
