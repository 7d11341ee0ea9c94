//! The SIP user agent: one endpoint listening on UDP and TCP, placing calls and answering what
//! arrives outside a call. It wraps the SIP stack crate (rsipstack, see `docs/dependencies.md`);
//! nothing outside `src/sip/` names that crate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::platform::CancellationToken;
use rsipstack::platform::net::UdpSocket as PlatformUdpSocket;
use rsipstack::sip::{Header, Method, StatusCode};
use rsipstack::transaction::endpoint::{EndpointInnerRef, EndpointOption};
use rsipstack::transaction::{CallIdFormat, TransactionReceiver};
use rsipstack::transport::{SipAddr, TcpListenerConnection, TransportLayer, udp::UdpConnection};
use thiserror::Error;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::call::{CallControl, CallUpdate, Credentials, Outbound, Secret, run_call};
use super::inspect::Fixups;
use super::register::{self, KeepAlive, RegisterTo, Registered, RegistrationState};
use crate::digest::Ha1Book;

#[derive(Debug, Error)]
pub enum SipError {
    #[error("cannot listen for SIP on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("SIP stack: {0}")]
    Stack(String),
    /// A TLS connection failed: the stack's reason (an untrusted certificate, a name that
    /// does not match, no answer).
    #[error("{0}")]
    Tls(String),
    #[error("no TLS handshake within 10 s")]
    TlsTimeout,
}

/// What the agent needs to start.
#[derive(Debug, Clone)]
pub struct SipOptions {
    /// UDP and TCP on this address (port 0: any free port, the same for both).
    pub listen: SocketAddr,
    /// Sent in User-Agent.
    pub user_agent: String,
    /// The UDP socket's receive and send buffers, bytes (the kernel caps them at
    /// net.core.rmem_max / wmem_max). Bursts of calls overflow small buffers, and every lost
    /// datagram costs a retransmission.
    pub udp_buffer: usize,
    /// Certificates (PEM) trusted when connecting to trunks over TLS. Empty: TLS trunks cannot
    /// be verified, so they are refused.
    pub tls_trusted: Vec<u8>,
    /// Operators' softphones register here (REGISTER is refused without one).
    pub registrar: Option<Arc<std::sync::Mutex<crate::registrar::Registrar>>>,
    /// Calls arriving go here. With a registrar, only calls from operators who authenticate
    /// (digest, against their accounts) arrive; the others are challenged or refused.
    /// Without one, every call arrives. None: calls are refused.
    pub incoming: Option<mpsc::UnboundedSender<super::IncomingCall>>,
    /// SIP over WebSocket (RFC 7118, subprotocol `sip`) on this address too (browser phones).
    pub ws_listen: Option<SocketAddr>,
    /// SIP over TLS (RFC 3261 `sips`, RFC 5630) on this address too, with `tls_identity`.
    pub sips_listen: Option<SocketAddr>,
    /// SIP over WebSocket over TLS (RFC 7118 `wss`) on this address too, with `tls_identity`.
    pub wss_listen: Option<SocketAddr>,
    /// Our certificate for `sips_listen` and `wss_listen` (reloadable).
    pub tls_identity: Option<Arc<super::tls::TlsIdentity>>,
    /// Where trunks' calls come from: an INVITE from one of these arrives as the trunk's
    /// inbound call, without a digest challenge (carriers do not answer one).
    pub trunk_sources: Vec<TrunkSource>,
    /// Addresses the per-source limits do not apply to: the trunks'.
    pub unlimited: Vec<std::net::IpAddr>,
    /// The per-source limits (when facing operators: with a registrar).
    pub flood: super::flood::FloodLimits,
}

/// An address a trunk's calls come from: an IP, and the port when it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkSource {
    pub trunk: String,
    pub ip: std::net::IpAddr,
    /// None: any port.
    pub port: Option<u16>,
    /// The trunk's calls must also answer a digest challenge: (user, MD5 HA1 for realm
    /// `predial`).
    pub digest: Option<(String, String)>,
}

impl Default for SipOptions {
    fn default() -> Self {
        SipOptions {
            listen: "127.0.0.1:5060".parse().expect("a valid constant"),
            user_agent: format!("predial/{}", env!("CARGO_PKG_VERSION")),
            udp_buffer: 4 << 20,
            tls_trusted: Vec::new(),
            registrar: None,
            incoming: None,
            ws_listen: None,
            sips_listen: None,
            wss_listen: None,
            tls_identity: None,
            trunk_sources: Vec::new(),
            unlimited: Vec::new(),
            flood: super::flood::FloodLimits::default(),
        }
    }
}

pub struct SipAgent {
    pub(crate) layer: Arc<DialogLayer>,
    endpoint: EndpointInnerRef,
    cancel: CancellationToken,
    local: SocketAddr,
    ha1: Arc<Ha1Book>,
    tls_trusted: Vec<u8>,
}

impl SipAgent {
    /// Starts listening and serving. Must run inside a tokio runtime.
    pub async fn start(options: SipOptions) -> Result<SipAgent, SipError> {
        super::conformance::install();
        let cancel = CancellationToken::new();
        let transports = TransportLayer::new(cancel.child_token());
        let listen_err = |reason: String| SipError::Listen {
            addr: options.listen,
            reason,
        };
        let socket = udp_socket(options.listen, options.udp_buffer)
            .map_err(|e| listen_err(e.to_string()))?;
        let udp = UdpConnection::from_socket(socket, None, Some(cancel.child_token()))
            .await
            .map_err(|e| listen_err(e.to_string()))?;
        let local = udp
            .get_addr()
            .get_socketaddr()
            .map_err(|e| listen_err(e.to_string()))?;
        transports.add_transport(udp.into());
        // TCP on the same port as UDP, so a trunk can reach us on either.
        let tcp = TcpListenerConnection::new(local, None)
            .await
            .map_err(|e| listen_err(e.to_string()))?;
        transports.add_transport(tcp.into());
        add_stream_listeners(&transports, &options).await?;
        if options.registrar.is_some() {
            // Facing operators (and so anyone): per-source limits, trunks exempt.
            super::flood::install(
                options.flood,
                options
                    .trunk_sources
                    .iter()
                    .map(|t| t.ip)
                    .chain(options.unlimited.iter().copied()),
            );
            transports.set_whitelist(super::flood::whitelist);
        }
        if !options.tls_trusted.is_empty() {
            transports.set_tls_config(rsipstack::transport::tls::TlsConfig {
                ca_certs: Some(options.tls_trusted.clone()),
                ..Default::default()
            });
        }
        let ha1 = Arc::new(Ha1Book::default());
        let endpoint = EndpointBuilder::new()
            .with_user_agent(&options.user_agent)
            .with_transport_layer(transports)
            .with_cancel_token(cancel.child_token())
            .with_inspector(Box::new(Fixups { ha1: ha1.clone() }))
            .with_option(EndpointOption {
                callid_format: CallIdFormat::Uuid,
                ..EndpointOption::default()
            })
            .build();
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| SipError::Stack(e.to_string()))?;
        let inner = endpoint.inner.clone();
        let layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        tokio::spawn(async move {
            if let Err(e) = inner.serve().await {
                warn!(error = %e, "SIP endpoint stopped");
            }
        });
        tokio::spawn(answer_incoming(
            incoming,
            layer.clone(),
            cancel.clone(),
            options.registrar.clone(),
            options.incoming.clone(),
            options.trunk_sources.clone(),
        ));
        // The TCP listener binds when the endpoint starts serving.
        tokio::task::yield_now().await;
        Ok(SipAgent {
            layer,
            endpoint: endpoint.inner.clone(),
            cancel,
            local,
            ha1,
            tls_trusted: options.tls_trusted.clone(),
        })
    }

    /// The address SIP is served on (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The address others reach us at (our Contact, the SDP's): the listening address, or,
    /// when listening on every interface (0.0.0.0, ::), the address of the interface of the
    /// default route (127.0.0.1 / ::1 without one).
    pub fn advertised_addr(&self) -> SocketAddr {
        SocketAddr::new(advertised_ip(self.local.ip()), self.local.port())
    }

    /// Places a call. Its progress comes as `CallUpdate`s on `updates`, ending with `Ended`.
    pub fn call(&self, call: Outbound, updates: mpsc::UnboundedSender<CallUpdate>) -> CallControl {
        self.remember(call.credential.as_ref());
        let (control, commands) = CallControl::new();
        let layer = self.layer.clone();
        let contact_addr = self.advertised_addr();
        tokio::spawn(run_call(layer, contact_addr, call, updates, commands));
        control
    }

    /// Registers to a registrar and keeps the registration fresh; `report` hears every
    /// outcome. Dropping the returned handle unregisters.
    pub fn keep_registered(
        &self,
        to: RegisterTo,
        report: impl FnMut(RegistrationState) + Send + 'static,
    ) -> Result<Registered, SipError> {
        self.remember(Some(&to.credentials));
        register::keep_registered(self.endpoint.clone(), to, &self.cancel, report)
    }

    /// Asks `target` (`host:port`) OPTIONS; the final status (408 when nothing came back).
    pub async fn options(&self, target: &str) -> Result<u16, SipError> {
        register::options(self.endpoint.clone(), target, "predial").await
    }

    /// Asks `target` OPTIONS every `every`; `report` hears each final status (408 when nothing
    /// came back). Dropping the handle stops it.
    pub fn keep_alive(
        &self,
        target: &str,
        every: Duration,
        report: impl FnMut(u16) + Send + 'static,
    ) -> KeepAlive {
        register::keep_alive(
            self.endpoint.clone(),
            target.to_string(),
            every,
            &self.cancel,
            report,
        )
    }

    /// Opens a TLS connection to `target` (`host:port`) and closes it: `Err` says why the
    /// handshake failed (an untrusted certificate, a name that does not match, no answer).
    pub async fn tls_check(&self, target: &str) -> Result<(), SipError> {
        let tls = |e: rsipstack::Error| SipError::Tls(e.to_string());
        let uri = rsipstack::sip::Uri::try_from(format!("sip:{target};transport=tls").as_str())
            .map_err(|e| SipError::Tls(e.to_string()))?;
        let mut addr = SipAddr::try_from(&uri).map_err(tls)?;
        addr.r#type = Some(rsipstack::sip::transport::Transport::Tls);
        let config = rsipstack::transport::tls::TlsConfig {
            ca_certs: (!self.tls_trusted.is_empty()).then(|| self.tls_trusted.clone()),
            ..Default::default()
        };
        let done = self.cancel.child_token();
        let connect = rsipstack::transport::tls::TlsConnection::connect(
            &addr,
            Some(&config),
            None,
            Some(done.clone()),
        );
        let result = match tokio::time::timeout(Duration::from_secs(10), connect).await {
            Ok(Ok(_connection)) => Ok(()),
            Ok(Err(e)) => Err(tls(e)),
            Err(_) => Err(SipError::TlsTimeout),
        };
        done.cancel();
        result
    }

    /// Puts an HA1 credential in the book its answers are recomputed from.
    fn remember(&self, credentials: Option<&Credentials>) {
        if let Some(Credentials {
            user,
            secret: Secret::Ha1(ha1),
        }) = credentials
        {
            self.ha1.insert(user, ha1);
        }
    }

    /// Calls (dialogs) the stack holds.
    pub fn dialogs(&self) -> usize {
        self.layer.len()
    }

    /// Stops listening; calls in progress end without signalling.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

/// The listeners beside UDP and TCP: WebSocket, TLS and WebSocket over TLS, each bound here
/// first so that a port in use is told at start.
async fn add_stream_listeners(
    transports: &TransportLayer,
    options: &SipOptions,
) -> Result<(), SipError> {
    use rsipstack::transport::tls::TlsListenerConnection;
    use rsipstack::transport::websocket::WebSocketListenerConnection;
    let check = |addr: SocketAddr| {
        std::net::TcpListener::bind(addr)
            .map(drop)
            .map_err(|e| SipError::Listen {
                addr,
                reason: e.to_string(),
            })
    };
    let stack_err = |addr: SocketAddr| {
        move |e: rsipstack::Error| SipError::Listen {
            addr,
            reason: e.to_string(),
        }
    };
    if let Some(ws) = options.ws_listen {
        check(ws)?;
        let listener = WebSocketListenerConnection::new(ws, None, false)
            .await
            .map_err(stack_err(ws))?;
        transports.add_transport(listener.into());
    }
    let secure = [options.sips_listen, options.wss_listen];
    if secure.iter().all(Option::is_none) {
        return Ok(());
    }
    let Some(identity) = &options.tls_identity else {
        return Err(SipError::Stack(
            "SIP over TLS and WebSocket over TLS need a certificate and its key".into(),
        ));
    };
    let config = identity
        .server_config()
        .map_err(|e| SipError::Stack(e.to_string()))?;
    if let Some(sips) = options.sips_listen {
        check(sips)?;
        let listener = TlsListenerConnection::with_server_config(sips, None, config.clone())
            .await
            .map_err(stack_err(sips))?;
        transports.add_transport(listener.into());
    }
    if let Some(wss) = options.wss_listen {
        check(wss)?;
        let listener = WebSocketListenerConnection::with_tls(wss, None, config)
            .await
            .map_err(stack_err(wss))?;
        transports.add_transport(listener.into());
    }
    Ok(())
}

/// `listen` itself, or for an unspecified address the one of the default route's interface
/// (found by the kernel's route lookup for a documentation address: nothing is sent).
pub fn advertised_ip(listen: std::net::IpAddr) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    if !listen.is_unspecified() {
        return listen;
    }
    let (bind, probe, fallback): (SocketAddr, SocketAddr, IpAddr) = if listen.is_ipv4() {
        (
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 9)),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        )
    } else {
        (
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
            SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9)),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        )
    };
    std::net::UdpSocket::bind(bind)
        .and_then(|s| {
            s.connect(probe)?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(fallback)
}

/// A UDP socket on `addr` with large buffers, for the stack.
fn udp_socket(addr: SocketAddr, buffer: usize) -> std::io::Result<Arc<dyn PlatformUdpSocket>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer than asked for still works.
    let _ = socket.set_recv_buffer_size(buffer);
    let _ = socket.set_send_buffer_size(buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(Arc::new(tokio::net::UdpSocket::from_std(socket.into())?))
}

impl Drop for SipAgent {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Sends the registrar's answer (a challenge, a refusal, a registration) to a request.
fn send_reply(
    mut tx: rsipstack::transaction::transaction::Transaction,
    reply: crate::registrar::Reply,
) {
    tokio::spawn(async move {
        let headers = reply
            .headers
            .into_iter()
            .map(|(n, v)| Header::Other(n, v))
            .collect();
        let _ = tx
            .reply_with(StatusCode::from(reply.status), headers, None)
            .await;
    });
}

/// For each trunk whose calls must answer a digest challenge, a registrar holding its one
/// account: the same nonces, counts and failure limits as operators get.
fn trunk_checks(
    trunks: &[TrunkSource],
) -> std::collections::HashMap<String, std::sync::Mutex<crate::registrar::Registrar>> {
    let mut out = std::collections::HashMap::new();
    for t in trunks {
        let Some((user, ha1)) = &t.digest else {
            continue;
        };
        out.entry(t.trunk.clone()).or_insert_with(|| {
            let secret = crate::crypto::random_bytes::<32>().expect("the OS gives random bytes");
            let mut r = crate::registrar::Registrar::new(secret);
            r.set_account(
                user,
                crate::registrar::Account {
                    ha1_md5: Some(ha1.clone()),
                    ha1_sha256: None,
                },
            );
            std::sync::Mutex::new(r)
        });
    }
    out
}

/// Answers requests that arrive outside a call we placed: in-dialog requests go to their dialog
/// (BYE, re-INVITE); OPTIONS is answered 200 (trunks use it as keep-alive); a new call is a
/// trunk's when it comes from a trunk's address (the transport's source), else an operator's
/// who proves who they are; anything else gets 481 or 405.
async fn answer_incoming(
    mut incoming: TransactionReceiver,
    layer: Arc<DialogLayer>,
    cancel: CancellationToken,
    registrar: Option<Arc<std::sync::Mutex<crate::registrar::Registrar>>>,
    calls: Option<mpsc::UnboundedSender<super::IncomingCall>>,
    trunks: Vec<TrunkSource>,
) {
    let trunk_checks = trunk_checks(&trunks);
    loop {
        let tx = tokio::select! {
            _ = cancel.cancelled() => return,
            tx = incoming.recv() => match tx { Some(tx) => tx, None => return },
        };
        let mut tx = tx;
        // Requests over a connection take a token of their source's bucket (datagrams took
        // theirs on arrival); over the limit they are dropped.
        if let Some(from) = super::source::of(&tx)
            && from.stream
            && !super::flood::allow(from.addr.ip(), "stream")
        {
            continue;
        }
        if let Some(mut dialog) = layer.match_dialog(&tx) {
            tokio::spawn(async move {
                if let Err(e) = dialog.handle(&mut tx).await {
                    debug!(error = %e, "in-dialog request failed");
                }
            });
            continue;
        }
        if let (Method::Register, Some(reg)) = (&tx.original.method, &registrar) {
            let request = super::source::of(&tx)
                .and_then(|from| super::registrations::read(&tx.original, from));
            let now = chrono::Utc::now().timestamp_millis();
            let reply = match (request, reg.lock()) {
                (Some(r), Ok(mut registrar)) => registrar.register(&r, now),
                _ => crate::registrar::Reply {
                    status: 400,
                    headers: Vec::new(),
                    event: crate::registrar::RegEvent::Refused { why: "malformed" },
                },
            };
            debug!(event = ?reply.event, status = reply.status, "REGISTER");
            send_reply(tx, reply);
            continue;
        }
        if let (Method::Invite, Some(calls)) = (&tx.original.method, &calls) {
            // A trunk's call: known by where it comes from.
            let Some(from) = super::source::of(&tx) else {
                continue;
            };
            if let Some(t) = trunks.iter().find(|t| from.is(t.ip, t.port)) {
                if let Some(check) = trunk_checks.get(&t.trunk) {
                    let auth = super::registrations::proxy_authorization(&tx.original);
                    let now = chrono::Utc::now().timestamp_millis();
                    let checked = match check.lock() {
                        Ok(mut r) => r.authenticate(
                            auth.as_deref(),
                            "INVITE",
                            &tx.original.uri.to_string(),
                            from.addr.ip(),
                            None,
                            now,
                        ),
                        Err(_) => continue,
                    };
                    if let Err(reply) = checked {
                        debug!(trunk = %t.trunk, status = reply.status, "trunk's call challenged");
                        send_reply(tx, reply);
                        continue;
                    }
                }
                super::incoming::take(tx, layer.clone(), None, Some(t.trunk.clone()), calls);
                continue;
            }
            // Toll fraud stops here: with a registrar, a call must come from an operator who
            // proves who they are; nobody else's INVITE goes any further.
            let operator = match &registrar {
                None => None,
                Some(reg) => {
                    let auth = super::registrations::proxy_authorization(&tx.original);
                    let source = from.addr.ip();
                    let now = chrono::Utc::now().timestamp_millis();
                    let ua = super::registrations::user_agent(&tx.original);
                    let checked = match reg.lock() {
                        Ok(mut r) => r.authenticate(
                            auth.as_deref(),
                            "INVITE",
                            &tx.original.uri.to_string(),
                            source,
                            ua.as_deref(),
                            now,
                        ),
                        Err(_) => continue,
                    };
                    match checked {
                        Ok(login) => Some(login),
                        Err(reply) => {
                            debug!(event = ?reply.event, status = reply.status, %source, "INVITE not authenticated");
                            send_reply(tx, reply);
                            continue;
                        }
                    }
                }
            };
            super::incoming::take(tx, layer.clone(), operator, None, calls);
            continue;
        }
        let status = match tx.original.method {
            Method::Options => StatusCode::OK,
            Method::Invite => StatusCode::Forbidden,
            Method::Bye | Method::Cancel | Method::Info | Method::Update | Method::PRack => {
                StatusCode::CallTransactionDoesNotExist
            }
            Method::Ack => continue,
            _ => StatusCode::MethodNotAllowed,
        };
        tokio::spawn(async move {
            let allow = Header::Other("Allow".into(), super::conformance::ALLOW.into());
            let _ = tx.reply_with(status, vec![allow], None).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::advertised_ip;

    #[test]
    fn an_unspecified_listen_address_is_never_advertised() {
        let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(advertised_ip(ip), ip);
        let any = advertised_ip("0.0.0.0".parse().unwrap());
        assert!(!any.is_unspecified() && any.is_ipv4(), "{any}");
        let any6 = advertised_ip("::".parse().unwrap());
        assert!(!any6.is_unspecified(), "{any6}");
    }
}
