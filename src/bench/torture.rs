//! The RFC 4475 torture messages sent to a SIP element (predial, Kamailio, anything): what it
//! answers to each, against what the RFC expects, and whether it still answers a plain OPTIONS
//! after each one.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::sip::conformance::torture::{MESSAGES, Rfc, Torture};

/// UDP or TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// The name in the JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// One message's fate.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub section: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    /// What the RFC expects, in words: `process`, `drop`, or the codes (`400`, `501/405`...),
    /// with `or process` where the RFC lets an element accept it.
    pub rfc: String,
    /// The status of the first answer, `null` for none within the wait.
    pub answer: Option<u16>,
    /// The element's answer to a valid OPTIONS sent right after.
    pub options_after: Option<u16>,
    /// Whether the answer is one the RFC allows.
    pub agrees: bool,
}

/// Words for what the RFC expects.
pub fn expected(rfc: Rfc) -> String {
    match rfc {
        Rfc::Process => "process".into(),
        Rfc::Response => "drop (a valid response)".into(),
        Rfc::Drop => "drop".into(),
        Rfc::Refuse { codes, lenient } => {
            let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
            let codes = codes.join("/");
            if lenient {
                format!("{codes} or process")
            } else {
                codes
            }
        }
    }
}

/// Whether `answer` is what the RFC allows; a processed request's answer is any that is not a
/// refusal of the message itself (for a stranger's INVITE a challenge, for OPTIONS 200).
pub fn agrees(rfc: Rfc, answer: Option<u16>) -> bool {
    const MALFORMED: &[u16] = &[400, 413, 416, 505];
    match (rfc, answer) {
        (Rfc::Process, Some(code)) => !MALFORMED.contains(&code),
        (Rfc::Process, None) => false,
        (Rfc::Response | Rfc::Drop, answer) => answer.is_none(),
        (Rfc::Refuse { codes, .. }, Some(code)) if codes.contains(&code) => true,
        (Rfc::Refuse { lenient, .. }, Some(code)) => lenient && !MALFORMED.contains(&code),
        (Rfc::Refuse { .. }, None) => false,
    }
}

/// The status code of a response's first line.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next()?;
    let mut words = line.split(' ');
    (words.next()? == "SIP/2.0").then_some(())?;
    words.next()?.parse().ok()
}

/// A valid OPTIONS from `from`, with a fresh branch and Call-ID.
fn options(target: SocketAddr, from: SocketAddr, transport: Transport, n: usize) -> Vec<u8> {
    let proto = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    };
    format!(
        "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/{proto} {from};branch=z9hG4bK-alive-{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:torture@{from}>;tag=alive{n}\r\nTo: <sip:{target}>\r\n\
         Call-ID: alive-{n}@predial.torture\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Sends `bytes` and waits up to `wait` for the first answer (100 Trying is passed over).
fn exchange_udp(
    socket: &UdpSocket,
    target: SocketAddr,
    bytes: &[u8],
    wait: Duration,
) -> Option<u16> {
    socket.send_to(bytes, target).ok()?;
    let until = Instant::now() + wait;
    let mut buf = vec![0u8; 65_536];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        match socket.recv_from(&mut buf) {
            Ok((n, src)) if src == target => match status_of(&buf[..n]) {
                Some(100) | None => continue,
                code => return code,
            },
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Reads answers on a stream until one that is not 100 Trying, or the wait ends.
fn exchange_tcp(stream: &mut TcpStream, bytes: &[u8], wait: Duration) -> Option<u16> {
    stream.write_all(bytes).ok()?;
    let until = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        while let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = got.drain(..end + 4).collect();
            match status_of(&head) {
                Some(100) | None => continue,
                code => return code,
            }
        }
    }
    None
}

/// Sends every message, each from a fresh socket (UDP) or connection (TCP), then an OPTIONS.
/// First a plain OPTIONS: with no answer to it there is no element to test, and an error says so.
pub fn run(
    target: SocketAddr,
    transport: Transport,
    wait: Duration,
) -> std::io::Result<Vec<Outcome>> {
    let bind = if target.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let probe = match transport {
        Transport::Udp => {
            let socket = UdpSocket::bind(bind)?;
            let from = socket.local_addr()?;
            exchange_udp(
                &socket,
                target,
                &options(target, from, transport, usize::MAX),
                wait,
            )
        }
        Transport::Tcp => {
            let mut s = TcpStream::connect_timeout(&target, wait)?;
            let from = s.local_addr()?;
            exchange_tcp(&mut s, &options(target, from, transport, usize::MAX), wait)
        }
    };
    if probe.is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "no answer to a plain OPTIONS within {} ms over {}",
                wait.as_millis(),
                transport.name()
            ),
        ));
    }
    let mut out = Vec::with_capacity(MESSAGES.len());
    for (i, t) in MESSAGES.iter().enumerate() {
        let (answer, options_after) = match transport {
            Transport::Udp => {
                let socket = UdpSocket::bind(bind)?;
                let from = socket.local_addr()?;
                let answer = exchange_udp(&socket, target, t.bytes, wait);
                let after =
                    exchange_udp(&socket, target, &options(target, from, transport, i), wait);
                (answer, after)
            }
            Transport::Tcp => {
                let answer = match TcpStream::connect_timeout(&target, wait) {
                    Ok(mut s) => exchange_tcp(&mut s, t.bytes, wait),
                    Err(_) => None,
                };
                let mut s = TcpStream::connect_timeout(&target, wait)?;
                let from = s.local_addr()?;
                let after = exchange_tcp(&mut s, &options(target, from, transport, i), wait);
                (answer, after)
            }
        };
        let rfc = match transport {
            Transport::Tcp if incomplete_on_a_stream(t.bytes) => Rfc::Drop,
            _ => t.rfc,
        };
        out.push(outcome(t, rfc, answer, options_after));
    }
    Ok(out)
}

/// Over a stream, a message with no empty line after its header fields, or with a body shorter
/// than its Content-Length, is not finished: the element waits for the rest (RFC 4475 §3.1.2.2)
/// and answers nothing.
pub fn incomplete_on_a_stream(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return true;
    };
    let head = String::from_utf8_lossy(&bytes[..end]);
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l"))
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    length.is_some_and(|n| n > bytes.len() - end - 4)
}

fn outcome(t: &Torture, rfc: Rfc, answer: Option<u16>, options_after: Option<u16>) -> Outcome {
    let words = match (rfc, t.rfc) {
        (Rfc::Drop, r) if r != Rfc::Drop => "wait (unfinished on a stream)".to_string(),
        _ => expected(rfc),
    };
    Outcome {
        section: t.section,
        name: t.name,
        title: t.title,
        rfc: words,
        answer,
        options_after,
        agrees: agrees(rfc, answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_agrees_with_the_rfc() {
        assert!(agrees(Rfc::Process, Some(407)));
        assert!(!agrees(Rfc::Process, Some(400)));
        assert!(!agrees(Rfc::Process, None));
        assert!(agrees(Rfc::Drop, None));
        let strict = Rfc::Refuse {
            codes: &[505],
            lenient: false,
        };
        assert!(agrees(strict, Some(505)) && !agrees(strict, Some(200)) && !agrees(strict, None));
        let lenient = Rfc::Refuse {
            codes: &[400],
            lenient: true,
        };
        assert!(
            agrees(lenient, Some(200)) && agrees(lenient, Some(400)) && !agrees(lenient, Some(416))
        );
        assert_eq!(status_of(b"SIP/2.0 501 Not Implemented\r\n"), Some(501));
    }
}
