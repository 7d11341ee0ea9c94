//! SDP: the offer predial sends (G.711 μ-law and A-law, RFC 4733 telephone events) and what it
//! reads from an answer (where to send RTP, with which codec). A bad answer is an error, never a
//! panic.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

/// An audio offer on `rtp`: PCMU, PCMA, telephone-event, 20 ms packets.
pub fn offer(session_id: u64, rtp: SocketAddr) -> Vec<u8> {
    offer_codecs(session_id, rtp, &["PCMU", "PCMA"])
}

/// An audio offer of `codecs` (PCMU, PCMA, in this order of preference; others are left out)
/// and telephone-event, 20 ms packets.
pub fn offer_codecs<S: AsRef<str>>(session_id: u64, rtp: SocketAddr, codecs: &[S]) -> Vec<u8> {
    let family = if rtp.is_ipv4() { "IP4" } else { "IP6" };
    let ip = rtp.ip();
    let mut types: Vec<(u8, &str)> = Vec::new();
    for c in codecs {
        let known = match c.as_ref().to_ascii_uppercase().as_str() {
            "PCMU" => Some((0, "PCMU")),
            "PCMA" => Some((8, "PCMA")),
            _ => None,
        };
        if let Some(t) = known.filter(|t| !types.contains(t)) {
            types.push(t);
        }
    }
    if types.is_empty() {
        types = vec![(0, "PCMU"), (8, "PCMA")];
    }
    let mut s = String::with_capacity(300);
    let _ = write!(
        s,
        "v=0\r\no=predial {session_id} {session_id} IN {family} {ip}\r\ns=predial\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP",
        rtp.port()
    );
    for (pt, _) in &types {
        let _ = write!(s, " {pt}");
    }
    s.push_str(" 101\r\n");
    for (pt, name) in &types {
        let _ = write!(s, "a=rtpmap:{pt} {name}/8000\r\n");
    }
    s.push_str(
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
    );
    s.into_bytes()
}

/// What an answer says about the audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Where the peer wants RTP (none when the stream is refused: port 0).
    pub rtp: Option<SocketAddr>,
    /// Payload types in the peer's order of preference.
    pub payload_types: Vec<u8>,
    /// The payload type of telephone-event, if offered back.
    pub telephone_event: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("no audio stream in the SDP answer")]
    NoAudio,
    #[error("no connection address (c=) for the audio stream")]
    NoConnection,
    #[error("bad line in the SDP answer: {0}")]
    BadLine(String),
}

/// Reads an SDP answer.
pub fn parse_answer(body: &[u8]) -> Result<Answer, SdpError> {
    let text = String::from_utf8_lossy(body);
    let mut session_ip: Option<IpAddr> = None;
    let mut media_ip: Option<IpAddr> = None;
    let mut audio: Option<(u16, Vec<u8>)> = None;
    let mut in_audio = false;
    let mut telephone_event = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((kind, value)) = line.split_once('=') else {
            return Err(SdpError::BadLine(line.chars().take(60).collect()));
        };
        match kind {
            "c" => {
                let ip = value
                    .split_whitespace()
                    .nth(2)
                    .and_then(|a| a.split('/').next()?.parse().ok());
                if audio.is_some() && in_audio {
                    media_ip = ip;
                } else if audio.is_none() {
                    session_ip = ip;
                }
            }
            "m" => {
                let mut parts = value.split_whitespace();
                let media = parts.next().unwrap_or("");
                in_audio = media == "audio" && audio.is_none();
                if in_audio {
                    let port: u16 = parts
                        .next()
                        .and_then(|p| p.split('/').next()?.parse().ok())
                        .ok_or_else(|| SdpError::BadLine(line.chars().take(60).collect()))?;
                    let _proto = parts.next();
                    let pts = parts.filter_map(|p| p.parse().ok()).collect();
                    audio = Some((port, pts));
                }
            }
            "a" if in_audio => {
                if let Some(rest) = value.strip_prefix("rtpmap:") {
                    let mut it = rest.splitn(2, ' ');
                    if let (Some(pt), Some(codec)) =
                        (it.next().and_then(|p| p.parse::<u8>().ok()), it.next())
                        && codec.to_ascii_lowercase().starts_with("telephone-event/")
                    {
                        telephone_event = Some(pt);
                    }
                }
            }
            _ => {}
        }
    }
    let (port, payload_types) = audio.ok_or(SdpError::NoAudio)?;
    let ip = media_ip.or(session_ip).ok_or(SdpError::NoConnection)?;
    Ok(Answer {
        rtp: (port != 0).then_some(SocketAddr::new(ip, port)),
        payload_types,
        telephone_event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offer_reads_back() {
        let body = offer(42, "127.0.0.1:16000".parse().unwrap());
        let a = parse_answer(&body).unwrap();
        assert_eq!(a.rtp, Some("127.0.0.1:16000".parse().unwrap()));
        assert_eq!(a.payload_types, [0, 8, 101]);
        assert_eq!(a.telephone_event, Some(101));
        let v6 = parse_answer(&offer(1, "[::1]:20000".parse().unwrap())).unwrap();
        let alaw = parse_answer(&offer_codecs(
            2,
            "127.0.0.1:20000".parse().unwrap(),
            &["pcma"],
        ))
        .unwrap();
        assert_eq!(alaw.payload_types, [8, 101]);
        assert_eq!(v6.rtp, Some("[::1]:20000".parse().unwrap()));
    }

    #[test]
    fn sipp_answers_and_bad_ones() {
        let sipp = b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let a = parse_answer(sipp).unwrap();
        assert_eq!(a.payload_types, [8, 101]);
        assert_eq!(a.rtp.unwrap().port(), 6000);
        assert_eq!(
            parse_answer(b"v=0\r\nc=IN IP4 1.2.3.4\r\n"),
            Err(SdpError::NoAudio)
        );
        assert_eq!(
            parse_answer(b"m=audio 5000 RTP/AVP 0\r\n"),
            Err(SdpError::NoConnection)
        );
        assert!(matches!(
            parse_answer(b"garbage"),
            Err(SdpError::BadLine(_))
        ));
        let refused = parse_answer(b"c=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n").unwrap();
        assert_eq!(refused.rtp, None);
    }

    proptest::proptest! {
        #[test]
        fn any_answer_is_read_without_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse_answer(&body);
        }
    }
}
