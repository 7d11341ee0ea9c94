//! `GET /v1/events`: a live stream of what happens (Server-Sent Events), one JSON object per
//! event: leads taken or cancelled, dispositions, operators' states, and calls started and
//! ended (read from the store's journal, whichever process's engine writes it, about a second
//! after they happen).

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast;

use super::error::ApiError;
use super::{AppState, Scope, Scopes};
pub use crate::happenings::{Happening, publish};

/// A live stream of events (text/event-stream). A listener too slow to keep up is told how
/// many events it missed (`lagged`).
#[utoipa::path(get, path = "/v1/events", tag = "events",
    responses((status = 200, content_type = "text/event-stream", body = String)))]
pub async fn events(
    State(st): State<AppState>,
    Extension(scopes): Extension<Scopes>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    scopes.require(Scope::ReportsRead)?;
    let rx = st.events.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(h) => Event::default()
                .event(h.event.clone())
                .data(serde_json::to_string(&h).unwrap_or_default()),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Publishes the calls the journal records, for as long as the process runs: each turn reads
/// the calls started or ended up to a second ago (the journal's writes have landed by then).
pub async fn follow_calls(store: crate::store::Store, tx: broadcast::Sender<Happening>) {
    let mut from = crate::store::now_ms() - 1000;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let to = crate::store::now_ms() - 1000;
        if to <= from {
            continue;
        }
        match store.call_changes(from, to).await {
            Ok(changes) => {
                for c in changes {
                    let _ = tx.send(Happening {
                        event: c.event.to_string(),
                        at_ms: c.at_ms,
                        data: serde_json::to_value(&c).unwrap_or_default(),
                    });
                }
                from = to;
            }
            Err(e) => tracing::warn!(error = %e, "events: cannot read the calls"),
        }
    }
}
