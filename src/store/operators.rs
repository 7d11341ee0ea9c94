//! Operator accounts: login, name, group, skills, digest HA1s (never the password), and the
//! state last set.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Operator {
    pub login: String,
    pub name: Option<String>,
    pub group: Option<String>,
    /// Campaigns and queues they take.
    pub skills: Vec<String>,
    /// logged_out, ready, paused
    pub state: String,
    pub pause_reason: Option<String>,
    pub created_ms: i64,
}

/// An operator to make.
#[derive(Debug, Clone)]
pub struct NewOperator {
    pub login: String,
    pub name: Option<String>,
    pub group: Option<String>,
    pub skills: Vec<String>,
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
}

impl Store {
    /// Makes an operator; `None` when the login is taken.
    pub async fn add_operator(&self, o: &NewOperator) -> Result<Option<i64>, StoreError> {
        let skills = serde_json::to_string(&o.skills).unwrap_or_else(|_| "[]".into());
        Ok(on_pool!(&self.db, |p| {
            sqlx::query_scalar(
                "INSERT INTO operators (login, name, grp, skills, ha1_md5, ha1_sha256, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (login) DO NOTHING RETURNING id",
            )
            .bind(&o.login)
            .bind(&o.name)
            .bind(&o.group)
            .bind(&skills)
            .bind(&o.ha1_md5)
            .bind(&o.ha1_sha256)
            .bind(now_ms())
            .fetch_optional(p)
            .await?
        }))
    }

    pub async fn operators(&self) -> Result<Vec<Operator>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT login, name, grp, skills, state, pause_reason, created_ms FROM operators ORDER BY login",
            )
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    let skills: String = r.try_get(3)?;
                    Ok(Operator {
                        login: r.try_get(0)?,
                        name: r.try_get(1)?,
                        group: r.try_get(2)?,
                        skills: serde_json::from_str(&skills).unwrap_or_default(),
                        state: r.try_get(4)?,
                        pause_reason: r.try_get(5)?,
                        created_ms: r.try_get(6)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Sets an operator's state; false when there is no such operator.
    pub async fn set_operator_state(
        &self,
        login: &str,
        state: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(&self.db, |p| {
            sqlx::query("UPDATE operators SET state = $2, pause_reason = $3 WHERE login = $1")
                .bind(login)
                .bind(state)
                .bind(reason)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }
}

impl Store {
    /// Deletes an operator's account; false when there is no such operator. Their past calls
    /// and dispositions keep the login.
    pub async fn delete_operator(&self, login: &str) -> Result<bool, StoreError> {
        let n = on_pool!(&self.db, |p| {
            sqlx::query("DELETE FROM operators WHERE login = $1")
                .bind(login)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Replaces an operator's digest HA1s; false when there is no such operator.
    pub async fn set_operator_password(
        &self,
        login: &str,
        ha1_md5: &str,
        ha1_sha256: &str,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(&self.db, |p| {
            sqlx::query("UPDATE operators SET ha1_md5 = $2, ha1_sha256 = $3 WHERE login = $1")
                .bind(login)
                .bind(ha1_md5)
                .bind(ha1_sha256)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Every operator's login and digest HA1s, for the registrar.
    pub async fn operator_credentials(
        &self,
    ) -> Result<Vec<(String, Option<String>, Option<String>)>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query("SELECT login, ha1_md5, ha1_sha256 FROM operators")
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }
}
