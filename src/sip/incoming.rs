//! Calls that arrive: an INVITE outside any dialog, handed to whoever takes calls on this agent
//! (the engine, for operators' feature codes; the demo's callees and softphones) as an
//! `IncomingCall` to ring, answer, refuse, and hang up later. Its end comes on `ended`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rsipstack::dialog::dialog::{DialogState, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

/// A call arriving.
pub struct IncomingCall {
    /// The number (or feature code) called: the Request-URI's user part.
    pub to: String,
    /// The caller: the From user part.
    pub from: String,
    pub call_id: String,
    /// The caller's SDP offer (empty when it made none).
    pub offer: Vec<u8>,
    /// Where the INVITE came from.
    pub source: IpAddr,
    /// The operator who authenticated it (digest against the registrar), when one did.
    pub operator: Option<String>,
    /// The trunk it came from (by its source address), when it came from one.
    pub trunk: Option<String>,
    pub call: ServerCall,
    /// Fires once the call is over (either side hung up, it was refused or cancelled):
    /// whether the caller hung up (true) or we did (false).
    pub ended: oneshot::Receiver<bool>,
}

/// Our side of an arriving call.
#[derive(Clone)]
pub struct ServerCall {
    dialog: InviteDialog,
}

impl ServerCall {
    /// 180 Ringing.
    pub fn ringing(&self) {
        let _ = self.dialog.ringing(None, None);
    }

    /// 200 OK with our SDP answer.
    pub fn answer(&self, sdp: Vec<u8>) {
        let ct = Header::ContentType("application/sdp".into());
        let _ = self.dialog.accept(Some(vec![ct]), Some(sdp));
    }

    /// A final refusal (`reason`: the status line's phrase).
    pub fn refuse(&self, code: u16, reason: &str) {
        let _ = self
            .dialog
            .reject(Some(StatusCode::Other(code, reason.into())), None);
    }

    /// BYE (once answered).
    pub fn hang_up(&self) {
        let d = self.dialog.clone();
        tokio::spawn(async move {
            let _ = d.bye().await;
        });
    }
}

/// Makes the server side of an INVITE transaction and hands it over on `calls`.
pub(crate) fn take(
    mut tx: Transaction,
    layer: Arc<DialogLayer>,
    operator: Option<String>,
    trunk: Option<String>,
    calls: &mpsc::UnboundedSender<IncomingCall>,
) {
    let request = &tx.original;
    let to = request.uri.user().unwrap_or_default().to_string();
    let from = request
        .from_header()
        .ok()
        .and_then(|f| f.uri().ok())
        .and_then(|u| u.user().map(str::to_string))
        .unwrap_or_default();
    let call_id = request
        .call_id_header()
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let offer = request.body.clone();
    let source = super::source::of(&tx).map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |s| s.addr.ip());
    let (state_tx, mut states) = layer.new_dialog_state_channel();
    let dialog = match layer.get_or_create_server_invite(&tx, state_tx, None, None) {
        Ok(d) => d,
        Err(e) => {
            debug!(error = %e, "cannot take the call");
            tokio::spawn(async move {
                let _ = tx.reply(StatusCode::ServerInternalError).await;
            });
            return;
        }
    };
    let (ended_tx, ended) = oneshot::channel();
    let mut serving = dialog.clone();
    tokio::spawn(async move {
        let _ = serving.handle(&mut tx).await;
    });
    let layer2 = layer.clone();
    tokio::spawn(async move {
        let mut ended_tx = Some(ended_tx);
        while let Some(state) = states.recv().await {
            match state {
                DialogState::Updated(_, _, handle)
                | DialogState::Info(_, _, handle)
                | DialogState::Options(_, _, handle) => {
                    tokio::spawn(async move {
                        let _ = handle.reply(StatusCode::OK).await;
                    });
                }
                DialogState::Terminated(id, reason) => {
                    layer2.remove_dialog(&id);
                    let theirs = matches!(
                        reason,
                        TerminatedReason::UacBye | TerminatedReason::UacCancel
                    );
                    if let Some(tx) = ended_tx.take() {
                        let _ = tx.send(theirs);
                    }
                    break;
                }
                _ => {}
            }
        }
    });
    let _ = calls.send(IncomingCall {
        to,
        from,
        call_id,
        offer,
        source,
        operator,
        trunk,
        call: ServerCall { dialog },
        ended,
    });
}
