//! API tokens besides the admin's: a name, scopes, and the token's SHA-256 (never the token).

use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

impl Store {
    /// Every token: (SHA-256 hex, space-separated scopes).
    pub async fn api_tokens(&self) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query("SELECT sha256, scopes FROM api_tokens")
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("sha256")?, r.try_get("scopes")?)))
                .collect()
        })
    }

    pub async fn add_api_token(
        &self,
        name: &str,
        sha256: &str,
        scopes: &str,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| {
            sqlx::query(
                "INSERT INTO api_tokens (name, sha256, scopes, created_ms) VALUES ($1, $2, $3, $4)",
            )
            .bind(name)
            .bind(sha256)
            .bind(scopes)
            .bind(now_ms())
            .execute(p)
            .await?;
        });
        Ok(())
    }
}
