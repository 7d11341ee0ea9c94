//! Where a request really came from: the transport's peer (the UDP datagram's source, the
//! TCP, TLS or WebSocket connection's peer). Every decision about who someone is (a trunk's
//! call, the registrar's bans and rate limits, an operator's login) takes it from here, never
//! from what the request says of itself (Via sent-by, `received`, `rport`, Contact, From).

use std::net::SocketAddr;

use rsipstack::transaction::Transaction;
use rsipstack::transport::SipConnection;

/// The transport's source of a request received on a server transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Source {
    pub addr: SocketAddr,
    /// Over TCP, TLS or WebSocket: the peer's port is one it picked for the connection, and says
    /// nothing about which of its SIP ports it is.
    pub stream: bool,
    /// `tcp`, `tls`, `ws` or `wss` for a stream.
    pub kind: &'static str,
}

impl Source {
    /// The connection a request came over, when a stream.
    pub fn flow(&self) -> Option<crate::registrar::Flow> {
        self.stream.then_some(crate::registrar::Flow {
            transport: self.kind,
            addr: self.addr,
        })
    }

    /// Whether this is a peer at `ip` (and, over UDP, at `port` when one is named).
    pub fn is(&self, ip: std::net::IpAddr, port: Option<u16>) -> bool {
        self.addr.ip() == ip && (self.stream || port.is_none_or(|p| p == self.addr.port()))
    }
}

pub(crate) fn of(tx: &Transaction) -> Option<Source> {
    let connection = tx.connection.as_ref()?;
    let addr = connection.get_remote_addr()?.get_socketaddr().ok()?;
    use rsipstack::sip::transport::Transport as T;
    let kind = match connection.get_remote_addr().and_then(|a| a.r#type) {
        Some(T::Tcp) => "tcp",
        Some(T::Tls) => "tls",
        Some(T::Ws) => "ws",
        Some(T::Wss) => "wss",
        _ => "udp",
    };
    Some(Source {
        addr,
        stream: !matches!(connection, SipConnection::Udp(_)),
        kind,
    })
}
