//! Screening what arrives before the stack trusts it.
//!
//! The stack parses what it can and drops what it cannot; on top of that, every message that
//! reaches a transaction must:
//!
//! - carry Via, From, To, Call-ID and CSeq, with a CSeq of a number and a method, the method
//!   matching the request's own (RFC 3261 §8.1.1, §8.2.2);
//! - carry a body of exactly the Content-Length it announces (a datagram cut short, or a length
//!   that is not a number, §18.3);
//! - stay within size limits: at most `MAX_HEADERS` headers and `MAX_BODY` bytes of body;
//! - for a request, have a Request-URI of a scheme we take (`sip`, `sips`, `tel`), and
//!   Max-Forwards above 0 when present.
//!
//! A request that fails gets the matching 4xx (400, 413, 416, 483) when it can be answered (it
//! names where to: a Via); anything else is dropped. Nothing here panics on any input.

use std::future::Future;
use std::pin::Pin;

use rsipstack::sip::{Header, Method, Response, Scheme, SipMessage, StatusCode, Version};
use rsipstack::transaction::endpoint::TransportEventInspector;
use rsipstack::transport::TransportEvent;
use tracing::debug;

/// Headers a message may carry.
pub const MAX_HEADERS: usize = 256;
/// Body bytes a message may carry (SDP is a few hundred).
pub const MAX_BODY: usize = 32 * 1024;

/// Why a message was turned away, and the status to answer a request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub status: u16,
    pub reason: String,
}

fn no(status: u16, reason: impl Into<String>) -> Result<(), Rejected> {
    Err(Rejected {
        status,
        reason: reason.into(),
    })
}

/// Checks a parsed message; `Err` says why it must not go further.
pub fn screen(msg: &SipMessage) -> Result<(), Rejected> {
    let (headers, body) = match msg {
        SipMessage::Request(r) => (&r.headers, r.body.len()),
        SipMessage::Response(r) => (&r.headers, r.body.len()),
    };
    if headers.iter().count() > MAX_HEADERS {
        return no(400, "too many headers");
    }
    let (mut via, mut from, mut to, mut call_id) = (false, false, false, false);
    let mut cseq = None;
    let mut content_length = None;
    let mut max_forwards = None;
    for h in headers.iter() {
        match h {
            Header::Via(_) => via = true,
            Header::From(_) => from = true,
            Header::To(_) => to = true,
            Header::CallId(v) => call_id = !v.value().trim().is_empty(),
            Header::CSeq(v) => cseq = Some(v.value().to_string()),
            Header::ContentLength(v) => content_length = Some(v.value().to_string()),
            Header::MaxForwards(v) => max_forwards = Some(v.value().to_string()),
            _ => {}
        }
    }
    for (present, name) in [
        (via, "Via"),
        (from, "From"),
        (to, "To"),
        (call_id, "Call-ID"),
        (cseq.is_some(), "CSeq"),
    ] {
        if !present {
            return no(400, format!("missing {name}"));
        }
    }
    let cseq = cseq.unwrap_or_default();
    let mut parts = cseq.split_whitespace();
    let number = parts.next().and_then(|n| n.parse::<u32>().ok());
    let method = parts.next();
    if number.is_none_or(|n| n >= 1 << 31) || method.is_none() || parts.next().is_some() {
        return no(400, "bad CSeq");
    }
    if body > MAX_BODY {
        return no(413, "body too large");
    }
    match content_length.as_deref().map(str::trim) {
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n == body => {}
            Ok(n) if n > body => return no(400, "body shorter than Content-Length"),
            Ok(_) => return no(400, "body longer than Content-Length"),
            Err(_) => return no(400, "bad Content-Length"),
        },
        None if body > 0 => {
            // Allowed over UDP (the datagram ends the body); the parser already took it all.
        }
        None => {}
    }
    if let SipMessage::Request(r) = msg {
        if !method.is_some_and(|m| m.eq_ignore_ascii_case(&r.method.to_string())) {
            return no(400, "CSeq method differs from the request's");
        }
        match &r.uri.scheme {
            None | Some(Scheme::Sip) | Some(Scheme::Sips) => {}
            Some(Scheme::Other(s)) if s.eq_ignore_ascii_case("tel") => {}
            Some(Scheme::Other(_)) => return no(416, "unsupported URI scheme"),
        }
        if let Some(mf) = max_forwards {
            match mf.trim().parse::<u32>() {
                Ok(0) if r.method != Method::Options => return no(483, "Max-Forwards is 0"),
                Ok(n) if n <= 255 => {}
                _ => return no(400, "bad Max-Forwards"),
            }
        }
    }
    Ok(())
}

/// The answer to a request turned away: its Via, From, To, Call-ID and CSeq, and the status.
pub fn refusal(msg: &SipMessage, rejected: &Rejected) -> Option<SipMessage> {
    let SipMessage::Request(r) = msg else {
        return None;
    };
    if r.method == Method::Ack {
        return None;
    }
    let copied: Vec<Header> = r
        .headers
        .iter()
        .filter(|h| {
            matches!(
                h,
                Header::Via(_)
                    | Header::From(_)
                    | Header::To(_)
                    | Header::CallId(_)
                    | Header::CSeq(_)
            )
        })
        .cloned()
        .collect();
    if !copied.iter().any(|h| matches!(h, Header::Via(_))) {
        return None;
    }
    let mut headers: Vec<Header> = copied;
    headers.push(Header::ContentLength(0u32.into()));
    Some(SipMessage::Response(Response {
        status_code: StatusCode::from(rejected.status),
        wire_reason: None,
        version: Version::V2,
        headers: headers.into(),
        body: Vec::new(),
    }))
}

/// The screen, where the stack's transports hand over what they received.
pub struct Screen;

impl TransportEventInspector for Screen {
    fn handle<'a, 'b>(
        &'a self,
        event: TransportEvent,
    ) -> Pin<Box<dyn Future<Output = Option<TransportEvent>> + Send + 'b>>
    where
        'a: 'b,
    {
        Box::pin(async move {
            let TransportEvent::Incoming(msg, connection, from) = event else {
                return Some(event);
            };
            match screen(&msg) {
                Ok(()) => Some(TransportEvent::Incoming(msg, connection, from)),
                Err(rejected) => {
                    debug!(src = %from, status = rejected.status, reason = %rejected.reason, "message turned away");
                    if let Some(answer) = refusal(&msg, &rejected) {
                        let _ = connection.send(answer, Some(&from)).await;
                    }
                    None
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const INVITE: &str = "INVITE sip:+74951110000@127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:a@127.0.0.1>;tag=1\r\n\
        To: <sip:+74951110000@127.0.0.1>\r\n\
        Call-ID: abc@127.0.0.1\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\r\n\
        v=0\n";

    fn parse(text: &str) -> SipMessage {
        SipMessage::try_from(text.as_bytes()).expect("parses")
    }

    fn status(text: &str) -> Option<u16> {
        screen(&parse(text)).err().map(|r| r.status)
    }

    #[test]
    fn a_good_request_passes() {
        assert_eq!(status(INVITE), None);
        // Compact forms are the same headers.
        let compact = INVITE
            .replace("Via:", "v:")
            .replace("From:", "f:")
            .replace("To:", "t:")
            .replace("Call-ID:", "i:")
            .replace("Content-Length:", "l:");
        assert_eq!(status(&compact), None);
    }

    #[test]
    fn bad_requests_get_the_right_status() {
        assert_eq!(
            status(&INVITE.replace("Content-Length: 4", "Content-Length: 40")),
            Some(400)
        );
        assert_eq!(
            status(&INVITE.replace("Content-Length: 4", "Content-Length: x")),
            Some(400)
        );
        assert_eq!(
            status(&INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE")),
            Some(400)
        );
        assert_eq!(
            status(&INVITE.replace("CSeq: 1 INVITE", "CSeq: x INVITE")),
            Some(400)
        );
        assert_eq!(
            status(&INVITE.replace("Call-ID: abc@127.0.0.1\r\n", "")),
            Some(400)
        );
        assert_eq!(
            status(&INVITE.replace("Max-Forwards: 70", "Max-Forwards: 0")),
            Some(483)
        );
        assert_eq!(
            status(&INVITE.replacen("sip:+7", "mailto:+7", 1)),
            Some(416)
        );
        let big = INVITE.replace(
            "Content-Length: 4\r\n\r\nv=0\n",
            &format!("Content-Length: 40000\r\n\r\n{}", "a".repeat(40_000)),
        );
        assert_eq!(status(&big), Some(413));
    }

    #[test]
    fn a_refusal_answers_the_request_s_transaction() {
        let msg = parse(&INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE"));
        let r = screen(&msg).unwrap_err();
        let Some(SipMessage::Response(resp)) = refusal(&msg, &r) else {
            panic!("a response")
        };
        assert_eq!(resp.status_code.code(), 400);
        let text = resp.to_string();
        assert!(
            text.contains("branch=z9hG4bK-1") && text.contains("Call-ID: abc@127.0.0.1"),
            "{text}"
        );
        // Without a Via there is nowhere to answer.
        let msg =
            parse(&INVITE.replace("Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n", ""));
        let r = screen(&msg).unwrap_err();
        assert!(refusal(&msg, &r).is_none());
    }

    proptest! {
        /// No input makes the parser or the screen panic.
        #[test]
        fn any_bytes_are_handled(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(msg) = SipMessage::try_from(bytes.as_slice())
                && let Err(r) = screen(&msg)
            {
                let _ = refusal(&msg, &r);
            }
        }

        /// A good message with any one line mangled is handled without a panic.
        #[test]
        fn mangled_messages_are_handled(line in 0usize..10, cut in 0usize..40, junk in "[ -~]{0,20}") {
            let mut lines: Vec<String> = INVITE.split("\r\n").map(str::to_string).collect();
            let i = line % lines.len();
            let l = &mut lines[i];
            let at = l.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(l.len());
            l.replace_range(at.., &junk);
            let text = lines.join("\r\n");
            if let Ok(msg) = SipMessage::try_from(text.as_bytes())
                && let Err(r) = screen(&msg)
            {
                let _ = refusal(&msg, &r);
            }
        }
    }
}
