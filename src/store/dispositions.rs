//! What the operator's desk says of a call, and what it changes: the lead closed (confirmed,
//! upsell, refused, wrong number, fake), a call-back agreed, a complaint raised.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

/// The kinds of result an operator enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Confirmed,
    Upsell,
    Callback,
    Refused,
    WrongNumber,
    Fake,
    Complaint,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Confirmed => "confirmed",
            Kind::Upsell => "upsell",
            Kind::Callback => "callback",
            Kind::Refused => "refused",
            Kind::WrongNumber => "wrong_number",
            Kind::Fake => "fake",
            Kind::Complaint => "complaint",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        [
            Kind::Confirmed,
            Kind::Upsell,
            Kind::Callback,
            Kind::Refused,
            Kind::WrongNumber,
            Kind::Fake,
            Kind::Complaint,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// Whether the order is approved by it.
    pub fn approves(self) -> bool {
        matches!(self, Kind::Confirmed | Kind::Upsell)
    }

    /// Whether it closes the lead.
    pub fn closes(self) -> bool {
        !matches!(self, Kind::Callback | Kind::Complaint)
    }
}

/// A disposition to store (checked by the API).
#[derive(Debug, Clone)]
pub struct NewDisposition {
    pub lead: i64,
    pub attempt: Option<i64>,
    pub operator: Option<String>,
    pub kind: Kind,
    pub items: Option<String>,
    pub sum_minor: Option<i64>,
    pub callback_ms: Option<i64>,
    pub note: Option<String>,
}

impl Store {
    /// Stores a disposition and applies it to the lead, with the notification (if any) in the
    /// same transaction. `None`: no such lead.
    pub async fn add_disposition(
        &self,
        d: &NewDisposition,
        webhooks: Vec<(String, String, String)>,
    ) -> Result<Option<i64>, StoreError> {
        let now = now_ms();
        on_pool!(&self.db, |p| {
            let mut tx = p.begin().await?;
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM leads WHERE id = $1")
                .bind(d.lead)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Ok(None);
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO dispositions (attempt_id, lead_id, operator, kind, items, sum_minor, \
                 callback_ms, note, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(d.attempt)
            .bind(d.lead)
            .bind(&d.operator)
            .bind(d.kind.as_str())
            .bind(&d.items)
            .bind(d.sum_minor)
            .bind(d.callback_ms)
            .bind(&d.note)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            if d.kind.closes() {
                sqlx::query(
                    "UPDATE leads SET state = 'done', closed_ms = COALESCE(closed_ms, $2), \
                     sum_minor = COALESCE($3, sum_minor), items = COALESCE($4, items) WHERE id = $1",
                )
                .bind(d.lead)
                .bind(now)
                .bind(if d.kind.approves() { d.sum_minor } else { None })
                .bind(if d.kind.approves() { d.items.clone() } else { None })
                .execute(&mut *tx)
                .await?;
            }
            if let (Kind::Callback, Some(at)) = (d.kind, d.callback_ms) {
                sqlx::query(
                    "INSERT INTO callbacks (lead_id, at_ms, operator, created_ms) VALUES ($1, $2, $3, $4)",
                )
                .bind(d.lead)
                .bind(at)
                .bind(&d.operator)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE leads SET state = 'scheduled', next_at_ms = $2, closed_ms = NULL WHERE id = $1",
                )
                .bind(d.lead)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            for (event, key, payload) in &webhooks {
                sqlx::query(super::webhooks::ENQUEUE)
                    .bind(event)
                    .bind(key)
                    .bind(payload)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Some(id))
        })
    }

    /// A lead's dispositions, oldest first.
    pub async fn dispositions_of(&self, lead: i64) -> Result<Vec<NewDisposition>, StoreError> {
        on_pool!(&self.db, |p| {
            let rows = sqlx::query(
                "SELECT attempt_id, operator, kind, items, sum_minor, callback_ms, note \
                 FROM dispositions WHERE lead_id = $1 ORDER BY id",
            )
            .bind(lead)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    let kind: String = r.try_get("kind")?;
                    Ok(NewDisposition {
                        lead,
                        attempt: r.try_get("attempt_id")?,
                        operator: r.try_get("operator")?,
                        kind: Kind::from_name(&kind).ok_or_else(|| {
                            StoreError::Data(format!("a disposition of unknown kind `{kind}`"))
                        })?,
                        items: r.try_get("items")?,
                        sum_minor: r.try_get("sum_minor")?,
                        callback_ms: r.try_get("callback_ms")?,
                        note: r.try_get("note")?,
                    })
                })
                .collect()
        })
    }

    /// A lead's order fields, for notifications: (order id, phone, sum).
    pub async fn lead_order(
        &self,
        lead: i64,
    ) -> Result<Option<(Option<String>, String, Option<i64>)>, StoreError> {
        on_pool!(&self.db, |p| {
            let r = sqlx::query("SELECT order_id, phone, sum_minor FROM leads WHERE id = $1")
                .bind(lead)
                .fetch_optional(p)
                .await?;
            match r {
                Some(r) => Ok(Some((
                    r.try_get("order_id")?,
                    r.try_get("phone")?,
                    r.try_get("sum_minor")?,
                ))),
                None => Ok(None),
            }
        })
    }
}
