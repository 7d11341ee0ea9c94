//! Requests outside calls: registering to a trunk (and keeping the registration fresh), and
//! asking a trunk OPTIONS to see that it is alive.

use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::registration::Registration;
use rsipstack::platform::CancellationToken;
use rsipstack::sip::{Header, Method, SipMessage, StatusCodeKind, Uri, typed};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::make_tag;
use rsipstack::transaction::transaction::Transaction;
use tokio::sync::Notify;
use tracing::{info, warn};

use super::SipError;
use super::call::{Credentials, Transport};

/// Where and as whom to register.
#[derive(Debug, Clone)]
pub struct RegisterTo {
    /// `host:port` of the registrar.
    pub registrar: String,
    pub credentials: Credentials,
    pub transport: Transport,
    pub expires: Duration,
}

/// What a REGISTER came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationState {
    /// Registered for this many seconds.
    Registered { expires: u32 },
    /// The registrar said no (wrong credentials: 401/403).
    Rejected { status: u16 },
    /// No answer, or it could not be sent.
    Unreachable { reason: String },
}

/// Keeps a registration alive; dropping it (or `stop`) unregisters.
pub struct Registered {
    stop: CancellationToken,
    now: Arc<Notify>,
}

impl Registered {
    /// Registers again at once (after the registrar was seen restarting, say).
    pub fn refresh_now(&self) {
        self.now.notify_one();
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The stack's error, as ours.
fn stack(e: impl std::fmt::Display) -> SipError {
    SipError::Stack(e.to_string())
}

/// 1 s doubling to 60 s between failed attempts.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs((1u64 << failures.min(6)).min(60))
}

pub(crate) fn keep_registered(
    endpoint: EndpointInnerRef,
    to: RegisterTo,
    parent: &CancellationToken,
    mut report: impl FnMut(RegistrationState) + Send + 'static,
) -> Result<Registered, SipError> {
    let server =
        Uri::try_from(format!("sip:{}{}", to.registrar, to.transport.uri_param()).as_str())
            .map_err(stack)?;
    let stop = parent.child_token();
    let now = Arc::new(Notify::new());
    let handle = Registered {
        stop: stop.clone(),
        now: now.clone(),
    };
    let credential = to.credentials.for_stack();
    let mut expires = u32::try_from(to.expires.as_secs()).unwrap_or(3600);
    tokio::spawn(async move {
        let mut reg = Registration::new(endpoint, Some(credential));
        let mut failures = 0u32;
        loop {
            let wait = match reg.register(server.clone(), Some(expires)).await {
                Ok(resp) if resp.status_code.kind() == StatusCodeKind::Successful => {
                    failures = 0;
                    let granted = reg.granted_expires.filter(|g| *g > 0).unwrap_or(expires);
                    info!(registrar = %to.registrar, user = %to.credentials.user, expires = granted, "registered");
                    report(RegistrationState::Registered { expires: granted });
                    Duration::from_millis((u64::from(granted) * 750).max(1000))
                }
                Ok(resp) if resp.status_code.code() == 423 => {
                    // Interval Too Brief: ask again for at least the registrar's minimum.
                    let min = resp.headers.iter().find_map(|h| match h {
                        Header::MinExpires(v) => v.value().trim().parse::<u32>().ok(),
                        Header::Other(name, value) if name.eq_ignore_ascii_case("Min-Expires") => {
                            value.trim().parse::<u32>().ok()
                        }
                        _ => None,
                    });
                    match min {
                        Some(min) if min > expires && failures == 0 => {
                            info!(registrar = %to.registrar, min, "registrar wants a longer expiry");
                            expires = min;
                            failures += 1;
                            Duration::ZERO
                        }
                        _ => {
                            failures += 1;
                            report(RegistrationState::Rejected { status: 423 });
                            backoff(failures)
                        }
                    }
                }
                Ok(resp) => {
                    failures += 1;
                    let status = resp.status_code.code();
                    warn!(registrar = %to.registrar, user = %to.credentials.user, status, "registration refused");
                    report(RegistrationState::Rejected { status });
                    backoff(failures)
                }
                Err(e) => {
                    failures += 1;
                    warn!(registrar = %to.registrar, error = %e, "registrar unreachable");
                    report(RegistrationState::Unreachable {
                        reason: e.to_string(),
                    });
                    backoff(failures)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = now.notified() => {}
                _ = stop.cancelled() => {
                    let _ = tokio::time::timeout(Duration::from_secs(2), reg.register(server.clone(), Some(0))).await;
                    return;
                }
            }
        }
    });
    Ok(handle)
}

/// Sends OPTIONS to `target` (`host:port`) and returns the final status (408 when nothing came
/// back in time).
pub(crate) async fn options(
    endpoint: EndpointInnerRef,
    target: &str,
    from_user: &str,
) -> Result<u16, SipError> {
    let uri = Uri::try_from(format!("sip:{target}").as_str()).map_err(stack)?;
    let from_uri = Uri::try_from(format!("sip:{from_user}@{target}").as_str()).map_err(stack)?;
    let via = endpoint.get_via(None, None).map_err(stack)?;
    let from = typed::From {
        display_name: None,
        uri: from_uri,
        params: vec![],
    }
    .with_tag(make_tag());
    let to = typed::To {
        display_name: None,
        uri: uri.clone(),
        params: vec![],
    };
    let req = endpoint.make_request(Method::Options, uri, via, from, to, 1, None);
    let key = TransactionKey::from_request(&req, TransactionRole::Client).map_err(stack)?;
    let mut tx = Transaction::new_client(key, req, endpoint.clone(), None);
    tx.send().await.map_err(stack)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(33);
    loop {
        match tokio::time::timeout_at(deadline, tx.receive()).await {
            Ok(Some(SipMessage::Response(r)))
                if r.status_code.kind() != StatusCodeKind::Provisional =>
            {
                return Ok(r.status_code.code());
            }
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return Ok(408),
        }
    }
}

/// Asks a trunk OPTIONS at a steady pace while it lives; dropping it stops.
pub struct KeepAlive {
    stop: CancellationToken,
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub(crate) fn keep_alive(
    endpoint: EndpointInnerRef,
    target: String,
    every: Duration,
    parent: &CancellationToken,
    mut report: impl FnMut(u16) + Send + 'static,
) -> KeepAlive {
    let stop = parent.child_token();
    let handle = KeepAlive { stop: stop.clone() };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            let status = tokio::select! {
                s = options(endpoint.clone(), &target, "predial") => s.unwrap_or(408),
                _ = stop.cancelled() => return,
            };
            report(status);
        }
    });
    handle
}
