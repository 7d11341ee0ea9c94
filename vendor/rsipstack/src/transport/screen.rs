//! A hook that judges each message's raw bytes before they are parsed, on every transport
//! (UDP, TCP, TLS, WebSocket). Added in the copy of rsipstack kept in predial's tree; without a
//! hook set, every message is parsed as before.

use std::sync::OnceLock;

/// How the bytes arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A whole message in one datagram or WebSocket frame.
    Datagram,
    /// One message cut from a byte stream at its Content-Length.
    Stream,
}

/// What the hook says.
#[derive(Debug)]
pub enum Screened {
    /// Parse the bytes as they are.
    Unchanged,
    /// Parse these bytes instead.
    Pass(Vec<u8>),
    /// Send these bytes back on the same transport and parse nothing.
    Answer(Vec<u8>),
    /// Send these bytes back, then close the connection (a stream whose framing is lost).
    AnswerAndClose(Vec<u8>),
    /// Parse nothing, answer nothing.
    Drop,
}

/// The hook: raw bytes in, a verdict out.
pub type RawScreen = fn(&[u8], Framing) -> Screened;

static SCREEN: OnceLock<RawScreen> = OnceLock::new();

/// Sets the hook for the whole process; a second call changes nothing.
pub fn set_raw_screen(screen: RawScreen) {
    let _ = SCREEN.set(screen);
}

/// A hook on each new stream connection (TCP, TLS, WebSocket): the peer's address and how many
/// connections it holds already in; false closes the new one at once.
pub type ConnectionGate = fn(std::net::IpAddr, usize) -> bool;

static GATE: OnceLock<ConnectionGate> = OnceLock::new();

/// Sets the connection hook for the whole process; a second call changes nothing.
pub fn set_connection_gate(gate: ConnectionGate) {
    let _ = GATE.set(gate);
}

pub(crate) fn connection_gate() -> Option<ConnectionGate> {
    GATE.get().copied()
}

pub(crate) fn screen(bytes: &[u8], framing: Framing) -> Screened {
    match SCREEN.get() {
        Some(f) => f(bytes, framing),
        None => Screened::Unchanged,
    }
}
