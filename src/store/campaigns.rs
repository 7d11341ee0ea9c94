//! Campaigns: a name, a policy (the `[campaign]` settings of docs/defaults.md, kept as JSON)
//! and a state.

use predial_core::dialer::CampaignPolicy;
use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

/// The campaign every lead without one goes to.
pub const DEFAULT: &str = "default";

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub policy: CampaignPolicy,
    /// running, paused, stopped
    pub state: String,
    pub created_ms: i64,
}

const COLUMNS: &str = "id, name, policy, state, created_ms";

fn campaign(
    id: i64,
    name: String,
    policy: &str,
    state: String,
    created_ms: i64,
) -> Result<Campaign, StoreError> {
    let policy = serde_json::from_str(policy).map_err(|e| {
        StoreError::Data(format!(
            "campaign {name}: its stored policy cannot be read ({e})"
        ))
    })?;
    Ok(Campaign {
        id,
        name,
        policy,
        state,
        created_ms,
    })
}

macro_rules! from_row {
    ($row:expr) => {{
        let r = $row;
        campaign(
            r.try_get("id")?,
            r.try_get("name")?,
            &r.try_get::<String, _>("policy")?,
            r.try_get("state")?,
            r.try_get("created_ms")?,
        )
    }};
}

impl Store {
    pub async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM campaigns ORDER BY id"));
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(sql).fetch_all(p).await?;
            rows.iter().map(|r| from_row!(r)).collect()
        })
    }

    pub async fn campaign(&self, name: &str) -> Result<Option<Campaign>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM campaigns WHERE name = $1"));
        on_pool!(&self.db, |p| {
            match sqlx::query(sql).bind(name).fetch_optional(p).await? {
                Some(r) => Ok(Some(from_row!(&r)?)),
                None => Ok(None),
            }
        })
    }

    /// Creates a campaign; `None` when one of that name exists.
    pub async fn create_campaign(
        &self,
        name: &str,
        policy: &CampaignPolicy,
    ) -> Result<Option<Campaign>, StoreError> {
        let json = serde_json::to_string(policy).map_err(|e| StoreError::Data(e.to_string()))?;
        let now = now_ms();
        let id: Option<i64> = on_pool!(&self.db, |p| {
            sqlx::query_scalar(
                "INSERT INTO campaigns (name, policy, state, created_ms) VALUES ($1, $2, 'paused', $3) \
                 ON CONFLICT (name) DO NOTHING RETURNING id",
            )
            .bind(name)
            .bind(&json)
            .bind(now)
            .fetch_optional(p)
            .await?
        });
        Ok(id.map(|id| Campaign {
            id,
            name: name.to_string(),
            policy: policy.clone(),
            state: "paused".into(),
            created_ms: now,
        }))
    }

    /// The campaign of that name, created with the default policy if there is none (the
    /// second value says so).
    pub async fn ensure_campaign(&self, name: &str) -> Result<(Campaign, bool), StoreError> {
        if let Some(c) = self.campaign(name).await? {
            return Ok((c, false));
        }
        match self
            .create_campaign(name, &CampaignPolicy::default())
            .await?
        {
            Some(c) => Ok((c, true)),
            // Created by someone else in between.
            None => Ok((
                self.campaign(name)
                    .await?
                    .ok_or_else(|| StoreError::Data(format!("campaign {name} vanished")))?,
                false,
            )),
        }
    }

    pub async fn set_campaign_policy(
        &self,
        name: &str,
        policy: &CampaignPolicy,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(policy).map_err(|e| StoreError::Data(e.to_string()))?;
        let n = on_pool!(&self.db, |p| {
            sqlx::query("UPDATE campaigns SET policy = $1 WHERE name = $2")
                .bind(&json)
                .bind(name)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    pub async fn set_campaign_state(&self, name: &str, state: &str) -> Result<bool, StoreError> {
        let n = on_pool!(&self.db, |p| {
            sqlx::query("UPDATE campaigns SET state = $1 WHERE name = $2")
                .bind(state)
                .bind(name)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }
}
