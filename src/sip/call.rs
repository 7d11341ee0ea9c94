//! One outbound call: INVITE with an SDP offer, digest auth when challenged, provisional
//! responses, the ring timeout (CANCEL), the answer (ACK by the stack), re-INVITEs answered, and
//! the end (BYE from either side). Each call is a task that reports `CallUpdate`s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{DialogState, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::{Header, Method, StatusCode, Uri};
use rsipstack::transport::SipAddr;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info_span};

use super::outcome::Ending;

/// A call to place.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The caller's id for this call (the attempt), echoed in every update.
    pub id: u64,
    /// For the logs: the lead called and the trunk carrying the call.
    pub lead: u64,
    pub trunk: String,
    /// Whom to call: `sip:79161234567@trunk.example:5060`.
    pub request_uri: String,
    /// The caller id (From user) and the From host.
    pub from_user: String,
    pub from_host: String,
    /// Digest credentials, when the trunk challenges.
    pub credential: Option<Credentials>,
    /// Where to send the INVITE, when not to the Request-URI's host (an outbound proxy).
    pub next_hop: Option<SocketAddr>,
    /// Down this connection instead (a phone that registered over a stream).
    pub flow: Option<crate::registrar::Flow>,
    /// How to reach the next hop.
    pub transport: Transport,
    pub ring_timeout: Duration,
    pub sdp_offer: Vec<u8>,
    /// Extra headers (P-Asserted-Identity, ...), name and value.
    pub headers: Vec<(String, String)>,
}

/// The transport a call or registration goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The URI parameter naming it (`;transport=tcp`), empty for UDP.
    pub fn uri_param(self) -> &'static str {
        match self {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        }
    }

    pub(crate) fn stack(self) -> rsipstack::sip::transport::Transport {
        match self {
            Transport::Udp => rsipstack::sip::transport::Transport::Udp,
            Transport::Tcp => rsipstack::sip::transport::Transport::Tcp,
            Transport::Tls => rsipstack::sip::transport::Transport::Tls,
        }
    }
}

/// The stack's transport of a registered flow.
fn flow_transport(name: &str) -> rsipstack::sip::transport::Transport {
    use rsipstack::sip::transport::Transport as T;
    match name {
        "tls" => T::Tls,
        "ws" => T::Ws,
        "wss" => T::Wss,
        _ => T::Tcp,
    }
}

/// Digest credentials: a user, and its password or the HA1 stored instead of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub secret: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Password(String),
    /// H(user:realm:password), hex: MD5 (32 digits) or SHA-256 (64).
    Ha1(String),
}

impl Credentials {
    /// What the stack is given: the password, or a placeholder the answer is recomputed from
    /// (the HA1 is put in the agent's book when the call or registration starts).
    pub(crate) fn for_stack(&self) -> Credential {
        Credential {
            username: self.user.clone(),
            password: match &self.secret {
                Secret::Password(p) => p.clone(),
                Secret::Ha1(_) => String::new(),
            },
            realm: None,
            auth_username: None,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEnd {
    /// Never answered: how, and whether it rang first.
    NotAnswered { ending: Ending, rang: bool },
    /// Answered, then we hung up.
    HungUpByUs,
    /// Answered, then the callee hung up.
    HungUpByThem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// 180 or 183 (with or without early media).
    Ringing,
    /// 200 OK: the callee's SDP answer, and how long after the INVITE it came.
    Answered {
        sdp: Vec<u8>,
        setup: Duration,
        /// The call's SIP Call-ID (recordings are named by it).
        call_id: String,
    },
    Ended(CallEnd),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallUpdate {
    pub id: u64,
    pub event: CallEvent,
}

pub(crate) enum Command {
    HangUp,
}

/// Controls a call in progress.
#[derive(Clone)]
pub struct CallControl {
    commands: mpsc::UnboundedSender<Command>,
}

impl CallControl {
    pub(crate) fn new() -> (CallControl, mpsc::UnboundedReceiver<Command>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (CallControl { commands: tx }, rx)
    }

    /// Ends the call: CANCEL while it rings, BYE once answered.
    pub fn hang_up(&self) {
        let _ = self.commands.send(Command::HangUp);
    }
}

fn parse_uri(text: &str) -> Option<Uri> {
    Uri::try_from(text).ok()
}

pub(crate) async fn run_call(
    layer: Arc<DialogLayer>,
    contact_addr: SocketAddr,
    call: Outbound,
    updates: mpsc::UnboundedSender<CallUpdate>,
    commands: mpsc::UnboundedReceiver<Command>,
) {
    let span = info_span!(
        "call",
        attempt = call.id,
        lead = call.lead,
        trunk = %call.trunk,
        call_id = tracing::field::Empty,
        to = %mask(&call.request_uri)
    );
    let id = call.id;
    let end = place(layer, contact_addr, call, &updates, commands)
        .instrument(span)
        .await;
    let _ = updates.send(CallUpdate {
        id,
        event: CallEvent::Ended(end),
    });
}

/// The Request-URI with the number masked, for logs (phone numbers are personal data).
fn mask(uri: &str) -> String {
    let (head, tail) = uri.split_once('@').unwrap_or((uri, ""));
    let digits = head.len().saturating_sub(4);
    format!(
        "{}{}@{tail}",
        &head[..head.len().min(8)],
        "*".repeat(digits.saturating_sub(4))
    )
}

async fn place(
    layer: Arc<DialogLayer>,
    contact_addr: SocketAddr,
    call: Outbound,
    updates: &mpsc::UnboundedSender<CallUpdate>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> CallEnd {
    let failed = CallEnd::NotAnswered {
        ending: Ending::LocalFailure,
        rang: false,
    };
    let (Some(callee), Some(caller), Some(contact)) = (
        parse_uri(&call.request_uri),
        parse_uri(&format!("sip:{}@{}", call.from_user, call.from_host)),
        parse_uri(&format!("sip:{}@{}", call.from_user, contact_addr)),
    ) else {
        debug!("bad address for the call");
        return failed;
    };
    let option = InviteOption {
        caller,
        callee,
        contact,
        destination: match call.flow {
            Some(f) => Some(SipAddr {
                r#type: Some(flow_transport(f.transport)),
                addr: f.addr.into(),
            }),
            None => call.next_hop.map(|a| SipAddr {
                r#type: Some(call.transport.stack()),
                addr: a.into(),
            }),
        },
        content_type: Some("application/sdp".into()),
        offer: Some(call.sdp_offer.clone()),
        credential: call.credential.as_ref().map(Credentials::for_stack),
        headers: (!call.headers.is_empty()).then(|| {
            call.headers
                .iter()
                .map(|(n, v)| Header::Other(n.clone(), v.clone()))
                .collect()
        }),
        ..InviteOption::default()
    };
    let (state_tx, mut states) = layer.new_dialog_state_channel();
    let started = Instant::now();
    let (dialog, invite) = match layer.do_invite_async(option, state_tx) {
        Ok(x) => x,
        Err(e) => {
            debug!(error = %e, "INVITE not sent");
            return failed;
        }
    };
    tracing::Span::current().record("call_id", dialog.id().call_id.as_str());
    debug!("INVITE sent");
    let ring_deadline = tokio::time::Instant::now() + call.ring_timeout;
    let mut rang = false;
    let mut answered = false;
    let mut timed_out = false;
    let mut we_hung_up = false;
    let mut final_status: Option<u16> = None;
    let mut dialog_id = dialog.id();
    let mut invite = Some(invite);
    loop {
        tokio::select! {
            state = states.recv() => {
                let Some(state) = state else { break };
                match state {
                    DialogState::Early(_, _) if !rang => {
                        rang = true;
                        let _ = updates.send(CallUpdate { id: call.id, event: CallEvent::Ringing });
                    }
                    DialogState::Confirmed(id, resp) if !answered => {
                        answered = true;
                        dialog_id = id;
                        let _ = updates.send(CallUpdate {
                            id: call.id,
                            event: CallEvent::Answered {
                                sdp: resp.body.clone(),
                                setup: started.elapsed(),
                                call_id: dialog_id.call_id.clone(),
                            },
                        });
                    }
                    DialogState::Updated(_, _req, handle) => {
                        // A re-INVITE (hold, codec change): answer with our offer again.
                        let ct = Header::ContentType("application/sdp".into());
                        let _ = handle.respond(StatusCode::OK, Some(vec![ct]), Some(call.sdp_offer.clone())).await;
                    }
                    DialogState::Terminated(id, reason) => {
                        layer.remove_dialog(&id);
                        if let TerminatedReason::UasOther(code) | TerminatedReason::UacOther(code) | TerminatedReason::ProxyError(code) = &reason {
                            final_status.get_or_insert(code.code());
                        }
                        if matches!(reason, TerminatedReason::UasBusy) {
                            final_status.get_or_insert(486);
                        }
                        if matches!(reason, TerminatedReason::UasDecline) {
                            final_status.get_or_insert(603);
                        }
                        if matches!(reason, TerminatedReason::ProxyAuthRequired) {
                            final_status.get_or_insert(407);
                        }
                        break;
                    }
                    _ => {}
                }
            }
            result = async { invite.as_mut().expect("polled only while pending").await }, if invite.is_some() => {
                invite = None;
                match result {
                    Ok(Ok((id, resp))) => {
                        dialog_id = id;
                        if let Some(r) = resp {
                            let code = r.status_code.code();
                            if code >= 300 {
                                final_status = Some(code);
                            }
                        } else if !answered {
                            // No final response at all.
                            break;
                        }
                    }
                    Ok(Err(e)) => {
                        debug!(error = %e, "INVITE failed");
                        if !answered {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            _ = tokio::time::sleep_until(ring_deadline), if !answered && !timed_out => {
                timed_out = true;
                let d = dialog.clone();
                tokio::spawn(async move { let _ = d.cancel().await; });
            }
            cmd = commands.recv(), if !we_hung_up => {
                match cmd {
                    Some(Command::HangUp) | None => {
                        we_hung_up = true;
                        if answered {
                            // BYE, keeping its response (the stack's bye() drops it).
                            let d = dialog.clone();
                            let l = layer.clone();
                            let id = dialog_id.clone();
                            let result = d.request(Method::Bye, None, None).await;
                            l.remove_dialog(&id);
                            if let Ok(Some(resp)) = &result {
                                debug!(status = resp.status_code.code(), "BYE answered");
                            }
                            return CallEnd::HungUpByUs;
                        }
                        let d = dialog.clone();
                        tokio::spawn(async move { let _ = d.cancel().await; });
                    }
                }
            }
        }
    }
    layer.remove_dialog(&dialog_id);
    if answered {
        return if we_hung_up {
            CallEnd::HungUpByUs
        } else {
            CallEnd::HungUpByThem
        };
    }
    let ending = if timed_out && matches!(final_status, None | Some(487)) {
        Ending::RingTimeout
    } else {
        match final_status {
            Some(code) => Ending::Status(code),
            None => Ending::NoResponse,
        }
    };
    CallEnd::NotAnswered { ending, rang }
}
