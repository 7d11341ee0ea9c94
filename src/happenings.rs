//! Happenings for the API's live stream (`GET /v1/events`): what the engine, the desk and the
//! dispositions publish, and what the stream sends. It names neither `engine` nor `api`.

use serde::Serialize;
use tokio::sync::broadcast;

/// One happening, as streamed.
#[derive(Debug, Clone, Serialize)]
pub struct Happening {
    /// `lead.accepted`, `lead.cancelled`, `disposition`, ...
    pub event: String,
    pub at_ms: i64,
    pub data: serde_json::Value,
}

/// Publishes a happening to whoever listens (nobody: dropped).
pub fn publish(tx: &broadcast::Sender<Happening>, event: &str, data: serde_json::Value) {
    let _ = tx.send(Happening {
        event: event.into(),
        at_ms: crate::store::now_ms(),
        data,
    });
}
