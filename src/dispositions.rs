//! A call's result, entered by the operator at the desk (`POST /v1/dispositions`) or keyed on
//! the phone during the call (DTMF, docs/operators.md): one way in for both, so both store the
//! same row, queue the same notifications for the CRM (`lead.confirmed`, the `alert`s),
//! publish the same `disposition` event, and a callback reaches the running engine.

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::feed::Feed;
use crate::happenings::Happening;
use crate::store::dispositions::{Kind, NewDisposition};
use crate::store::{Store, StoreError, now_ms};
use predial_core::Timestamp;
use predial_core::dialer::LeadId;

/// Where a result goes besides the store.
#[derive(Clone, Copy)]
pub struct Desk<'a> {
    pub store: &'a Store,
    /// The API's live stream (`GET /v1/events`).
    pub events: Option<&'a broadcast::Sender<Happening>>,
    /// The running engine, told of an agreed callback. None when the engine applies the
    /// result itself (a result keyed during the call).
    pub engine: Option<&'a mpsc::UnboundedSender<Feed>>,
}

/// Stores the result with its notifications (one transaction), publishes it, and tells the
/// engine of a callback. `Ok(None)`: there is no such lead.
pub async fn enter(desk: Desk<'_>, d: &NewDisposition) -> Result<Option<i64>, StoreError> {
    let Some((order_id, phone, lead_sum)) = desk.store.lead_order(d.lead).await? else {
        return Ok(None);
    };
    let webhooks = if desk.store.webhook_config().await?.is_some() {
        let large = large_order_limit(desk.store).await?;
        notifications(d, order_id, phone, d.sum_minor.or(lead_sum), large)
    } else {
        Vec::new()
    };
    let Some(id) = desk.store.add_disposition(d, webhooks).await? else {
        return Ok(None);
    };
    if let Some(events) = desk.events {
        crate::happenings::publish(
            events,
            "disposition",
            json!({"id": id, "lead": d.lead, "kind": d.kind, "operator": d.operator}),
        );
    }
    if let (Some(engine), Kind::Callback, Some(at)) = (desk.engine, d.kind, d.callback_ms) {
        // The engine may be gone (stopping): the store has the callback for the next start.
        let _ = engine.send(Feed::CallbackAgreed {
            lead: LeadId(d.lead as u64),
            at: Timestamp::from_millis(at),
        });
    }
    Ok(Some(id))
}

/// The sum from which an approved order raises a `large_order` alert (`PUT /v1/webhook`).
async fn large_order_limit(store: &Store) -> Result<Option<i64>, StoreError> {
    Ok(store
        .setting("alert.sum_minor")
        .await?
        .and_then(|v| v.parse::<i64>().ok()))
}

/// The CRM's notifications of a result: approvals (`lead.confirmed`), complaints and large
/// orders (`alert`), each with the order. (event, key, payload) as the outbox stores them.
fn notifications(
    d: &NewDisposition,
    order_id: Option<String>,
    phone: String,
    sum: Option<i64>,
    large_from: Option<i64>,
) -> Vec<(String, String, String)> {
    let items: Option<Value> = d
        .items
        .as_deref()
        .and_then(|i| serde_json::from_str(i).ok());
    let data = json!({
        "lead": d.lead, "order_id": order_id, "phone": phone, "kind": d.kind,
        "items": items, "sum_minor": sum, "operator": d.operator, "note": d.note,
    });
    let large = d.kind.approves() && sum.zip(large_from).is_some_and(|(s, limit)| s >= limit);
    let mut events: Vec<(&str, Option<&str>)> = Vec::new();
    if d.kind.approves() {
        events.push(("lead.confirmed", None));
    }
    if d.kind == Kind::Complaint {
        events.push(("alert", Some("complaint")));
    }
    if large {
        events.push(("alert", Some("large_order")));
    }
    let now = now_ms();
    events
        .into_iter()
        .map(|(event, alert)| {
            let key = format!("{event}:{}:{}:{now}", alert.unwrap_or("-"), d.lead);
            let mut data = data.clone();
            if let Some(a) = alert {
                data["alert"] = json!(a);
            }
            let payload = crate::webhooks::payload(event, &key, now, data);
            (event.to_string(), key, payload)
        })
        .collect()
}
