//! What reports are made of: the leads that arrived in a period, with their attempts and
//! dispositions, the leads refused on the way in, and the inbound calls that rang operators.

use sqlx::Row;

use super::{Store, StoreError, on_pool};

#[derive(Debug, Clone)]
pub struct LeadFacts {
    pub id: i64,
    pub campaign: String,
    pub created_ms: i64,
    pub sum_minor: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct AttemptFacts {
    pub lead: i64,
    pub started_ms: i64,
    pub answered: bool,
    pub bridged: bool,
    pub outcome: Option<String>,
    pub operator: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DispositionFacts {
    pub lead: i64,
    pub kind: String,
    pub sum_minor: Option<i64>,
    pub created_ms: i64,
    pub operator: Option<String>,
}

/// An inbound queue call that rang an operator.
#[derive(Debug, Clone)]
pub struct OfferFacts {
    pub at_ms: i64,
    pub operator: String,
    pub queue: String,
    pub accepted: bool,
}

#[derive(Debug, Clone)]
pub struct RejectedFacts {
    pub campaign: String,
    pub created_ms: i64,
    pub reason: String,
}

/// Everything about the leads that arrived in `[from, to)`.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub leads: Vec<LeadFacts>,
    pub attempts: Vec<AttemptFacts>,
    pub dispositions: Vec<DispositionFacts>,
    pub rejected: Vec<RejectedFacts>,
    /// Inbound queue calls that rang operators in `[from, to)` (they have no lead).
    pub offers: Vec<OfferFacts>,
    /// Operator login -> group.
    pub groups: Vec<(String, Option<String>)>,
}

impl Store {
    pub async fn report_facts(&self, from_ms: i64, to_ms: i64) -> Result<Facts, StoreError> {
        let mut f = Facts::default();
        on_pool!(&self.db, |p| {
            for r in sqlx::query(
                "SELECT l.id, c.name, l.created_ms, l.sum_minor FROM leads l \
                 JOIN campaigns c ON c.id = l.campaign_id \
                 WHERE l.created_ms >= $1 AND l.created_ms < $2",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(p)
            .await?
            {
                f.leads.push(LeadFacts {
                    id: r.try_get(0)?,
                    campaign: r.try_get(1)?,
                    created_ms: r.try_get(2)?,
                    sum_minor: r.try_get(3)?,
                });
            }
            for r in sqlx::query(
                "SELECT a.lead_id, a.started_ms, a.answer_ms, a.bridge_ms, a.outcome, a.operator \
                 FROM attempts a JOIN leads l ON l.id = a.lead_id \
                 WHERE l.created_ms >= $1 AND l.created_ms < $2 ORDER BY a.id",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(p)
            .await?
            {
                f.attempts.push(AttemptFacts {
                    lead: r.try_get(0)?,
                    started_ms: r.try_get(1)?,
                    answered: r.try_get::<Option<i64>, _>(2)?.is_some(),
                    bridged: r.try_get::<Option<i64>, _>(3)?.is_some(),
                    outcome: r.try_get(4)?,
                    operator: r.try_get(5)?,
                });
            }
            for r in sqlx::query(
                "SELECT d.lead_id, d.kind, d.sum_minor, d.created_ms, d.operator \
                 FROM dispositions d JOIN leads l ON l.id = d.lead_id \
                 WHERE l.created_ms >= $1 AND l.created_ms < $2 ORDER BY d.id",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(p)
            .await?
            {
                f.dispositions.push(DispositionFacts {
                    lead: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    sum_minor: r.try_get(2)?,
                    created_ms: r.try_get(3)?,
                    operator: r.try_get(4)?,
                });
            }
            for r in sqlx::query(
                "SELECT c.name, r.created_ms, r.reason FROM rejected_leads r \
                 LEFT JOIN campaigns c ON c.id = r.campaign_id \
                 WHERE r.created_ms >= $1 AND r.created_ms < $2",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(p)
            .await?
            {
                f.rejected.push(RejectedFacts {
                    campaign: r.try_get::<Option<String>, _>(0)?.unwrap_or_default(),
                    created_ms: r.try_get(1)?,
                    reason: r.try_get(2)?,
                });
            }
            for r in sqlx::query(
                "SELECT at_ms, operator, queue, accepted FROM inbound_offers \
                 WHERE at_ms >= $1 AND at_ms < $2 ORDER BY id",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(p)
            .await?
            {
                f.offers.push(OfferFacts {
                    at_ms: r.try_get(0)?,
                    operator: r.try_get(1)?,
                    queue: r.try_get(2)?,
                    accepted: r.try_get::<i64, _>(3)? != 0,
                });
            }
            for r in sqlx::query("SELECT login, grp FROM operators")
                .fetch_all(p)
                .await?
            {
                f.groups.push((r.try_get(0)?, r.try_get(1)?));
            }
        });
        Ok(f)
    }
}
