//! The order status the bot reads out: from the integrator's HTTP endpoint when one is
//! configured (`GET URL` with `{phone}` replaced; JSON `{"status": "...", "order_id": "..."}`),
//! else from the store (the caller's newest **open** lead: its order was accepted). A closed
//! lead says nothing (an old order is not a stranger's business, nor is it news to the buyer),
//! and neither source ever gives the bot a name or an address to say: only a status and an
//! order number.

use std::time::Duration;

use serde::Deserialize;

use crate::media::phrases::OrderStatus;
use crate::store::Store;

/// What the bot says of a caller's order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderInfo {
    /// The order number, when it is a number (said digit groups as a number).
    pub number: Option<u64>,
    pub status: OrderStatus,
}

#[derive(Debug, Deserialize)]
struct Reply {
    status: String,
    #[serde(default)]
    order_id: Option<serde_json::Value>,
}

/// A status word as integrators write it.
pub fn status_of(word: &str) -> OrderStatus {
    match word.trim().to_ascii_lowercase().as_str() {
        "accepted" | "new" | "confirmed" | "processing" | "paid" => OrderStatus::Accepted,
        "shipped" | "sent" | "in_transit" | "delivering" => OrderStatus::Shipped,
        "pickup" | "at_pickup_point" | "ready_for_pickup" | "arrived" => OrderStatus::AtPickupPoint,
        "collected" | "delivered" | "done" | "completed" => OrderStatus::Collected,
        _ => OrderStatus::Unknown,
    }
}

fn order_number(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().trim_start_matches('#').parse().ok(),
        _ => None,
    }
}

/// The caller's order: None when they have none (or it cannot be read).
pub async fn lookup(
    store: Option<&Store>,
    url: Option<&str>,
    timeout: Duration,
    phone_e164: &str,
) -> Option<OrderInfo> {
    if let Some(url) = url {
        let url = url.replace("{phone}", phone_e164.trim_start_matches('+'));
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok()?;
        let resp = client.get(&url).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body = resp.bytes().await.ok()?;
        let r: Reply = serde_json::from_slice(&body).ok()?;
        return Some(OrderInfo {
            number: r.order_id.as_ref().and_then(order_number),
            status: status_of(&r.status),
        });
    }
    let leads = store?.find_leads(Some(phone_e164), None, 20).await.ok()?;
    let lead = leads.into_iter().find(|l| l.closed_ms.is_none())?;
    Some(OrderInfo {
        number: lead
            .order_id
            .as_deref()
            .and_then(|o| o.trim_start_matches('#').parse().ok()),
        status: OrderStatus::Accepted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leads::intake::{Intake, LeadIn, Source, Verdict};

    #[tokio::test]
    async fn the_bot_reads_only_an_open_lead() {
        let dir = std::env::temp_dir().join(format!("predial-status-{}", std::process::id()));
        let store = Store::open(None, &dir).await.unwrap();
        let (mut intake, _) = Intake::open(store.clone()).await.unwrap();
        let lead = LeadIn {
            phone: "+79161234567".into(),
            order_id: Some("1042".into()),
            name: Some("Anna Petrova".into()),
            ..LeadIn::default()
        };
        let Verdict::Accepted { id, .. } = intake.take(lead, Source::Api, 1) else {
            panic!("taken");
        };
        intake.flush().await.unwrap();
        let open = lookup(Some(&store), None, Duration::from_secs(1), "+79161234567").await;
        assert_eq!(
            open,
            Some(OrderInfo {
                number: Some(1042),
                status: OrderStatus::Accepted
            })
        );
        store.cancel_lead(id, 2).await.unwrap();
        let closed = lookup(Some(&store), None, Duration::from_secs(1), "+79161234567").await;
        assert_eq!(closed, None, "a closed lead says nothing");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
