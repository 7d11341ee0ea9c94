//! The conformance layer: every message that arrives, on any transport, is judged here on its
//! raw bytes before the SIP stack parses it, as RFC 3261 and the torture tests of RFC 4475 say.
//!
//! - A valid message is handed on, written in one spelling the stack reads (folding undone,
//!   compact and odd-case names made long, blanks around separators dropped, a datagram's
//!   trailing octets after its Content-Length cut off, RFC 3261 §18.3).
//! - An invalid request is answered with the code the RFCs name (400, 413, 415, 416, 420, 501,
//!   505, 406), with a `Warning` that says what was wrong; the answer goes back on the transport
//!   it came from, to its real source.
//! - An invalid response, or a request that names nowhere to answer (no Via), is dropped.
//!
//! Every refusal and drop is counted in `predial_sip_refused_total{reason}`. Nothing here panics
//! on any input (fuzzed and proptested).

use std::borrow::Cow;

mod fields;
mod message;
pub mod torture;

use fields::{
    canonical_value, check_address, check_via, long_name, scheme, single_valued, split_top,
};
pub use message::{MAX_BODY, MAX_FIELDS, MAX_HEADER_BYTES};

/// How the bytes arrived: a datagram is one message (what follows its body is noise); a stream's
/// framing already cut the message at its Content-Length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Datagram,
    Stream,
}

/// What is wrong with a message; a short, fixed label for the metric and a sentence for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooLarge,
    NoEmptyLine,
    NotText,
    BadRequestLine,
    UriInBrackets,
    UriWithHeaders,
    BadVersion,
    UnknownScheme,
    UnknownMethod,
    BadHeader,
    UnterminatedQuote,
    EmptyValue,
    BadAddress,
    BadDisplayName,
    BadVia,
    BadBranch,
    Missing(&'static str),
    Several(&'static str),
    BadCSeq,
    MethodMismatch,
    BadMaxForwards,
    TooManyHops,
    BadContentLength,
    ShortBody,
    RegisterNotSip,
    UnsupportedExtension,
    UnsupportedMedia,
    NotAcceptable,
    BadStatusLine,
    ResponseOutOfRange,
    BroadcastVia,
    Unanswerable,
}

impl Refusal {
    /// The metric's label: one of a fixed set.
    pub fn label(self) -> &'static str {
        use Refusal::*;
        match self {
            TooLarge => "too_large",
            NoEmptyLine => "no_empty_line",
            NotText => "not_text",
            BadRequestLine => "bad_request_line",
            UriInBrackets => "uri_in_brackets",
            UriWithHeaders => "uri_with_headers",
            BadVersion => "bad_version",
            UnknownScheme => "unknown_scheme",
            UnknownMethod => "unknown_method",
            BadHeader => "bad_header",
            UnterminatedQuote => "unterminated_quote",
            EmptyValue => "empty_value",
            BadAddress => "bad_address",
            BadDisplayName => "bad_display_name",
            BadVia => "bad_via",
            BadBranch => "bad_branch",
            Missing(_) => "missing_header",
            Several(_) => "several_values",
            BadCSeq => "bad_cseq",
            MethodMismatch => "method_mismatch",
            BadMaxForwards => "bad_max_forwards",
            TooManyHops => "too_many_hops",
            BadContentLength => "bad_content_length",
            ShortBody => "short_body",
            RegisterNotSip => "register_not_sip",
            UnsupportedExtension => "unsupported_extension",
            UnsupportedMedia => "unsupported_media",
            NotAcceptable => "not_acceptable",
            BadStatusLine => "bad_status_line",
            ResponseOutOfRange => "response_out_of_range",
            BroadcastVia => "broadcast_via",
            Unanswerable => "unanswerable",
        }
    }

    /// What a peer's admin reads in the answer's Warning.
    pub fn text(self) -> String {
        use Refusal::*;
        match self {
            TooLarge => format!(
                "message too large (at most {MAX_FIELDS} header fields, {MAX_HEADER_BYTES} bytes of header, {MAX_BODY} of body)"
            ),
            NoEmptyLine => "no empty line after the header fields".into(),
            NotText => "header fields are not UTF-8 text".into(),
            BadRequestLine => {
                "malformed Request-Line (one space between method, Request-URI and version)".into()
            }
            UriInBrackets => "Request-URI enclosed in <>".into(),
            UriWithHeaders => "Request-URI carries escaped headers".into(),
            BadVersion => "SIP version not supported (SIP/2.0 only)".into(),
            UnknownScheme => "Request-URI scheme not supported (sip, sips, tel)".into(),
            UnknownMethod => "method not implemented".into(),
            BadHeader => "malformed header field line".into(),
            UnterminatedQuote => "unterminated quoted string".into(),
            EmptyValue => "extra separator: empty header value or parameter".into(),
            BadAddress => {
                "malformed address (a URI with parameters or headers goes in <>, no spaces)".into()
            }
            BadDisplayName => "display name with non-token characters must be quoted".into(),
            BadVia => "malformed Via".into(),
            BadBranch => "Via branch z9hG4bK without a transaction identifier".into(),
            Missing(name) => format!("missing {name}"),
            Several(name) => format!("several values in single-value header {name}"),
            BadCSeq => "malformed CSeq (a number below 2^32 and a method)".into(),
            MethodMismatch => "CSeq method differs from the request's".into(),
            BadMaxForwards => "malformed Max-Forwards (0 to 255)".into(),
            TooManyHops => "Max-Forwards is 0 on an INVITE that would be carried on".into(),
            BadContentLength => "malformed Content-Length".into(),
            ShortBody => "body shorter than Content-Length".into(),
            RegisterNotSip => "REGISTER To must be a sip or sips URI".into(),
            UnsupportedExtension => "required extension not supported".into(),
            UnsupportedMedia => "body type not supported (application/sdp only)".into(),
            NotAcceptable => "Accept leaves out application/sdp".into(),
            BadStatusLine => "malformed Status-Line".into(),
            ResponseOutOfRange => "response field out of range".into(),
            BroadcastVia => "response with a broadcast Via".into(),
            Unanswerable => "nowhere to answer: no Via".into(),
        }
    }

    /// On a stream, whether the next message's start can no longer be found.
    pub fn loses_framing(self) -> bool {
        matches!(
            self,
            Refusal::BadContentLength
                | Refusal::Several("Content-Length")
                | Refusal::ShortBody
                | Refusal::TooLarge
                | Refusal::NoEmptyLine
        )
    }

    /// The status a request is answered with.
    pub fn status(self) -> u16 {
        use Refusal::*;
        match self {
            TooLarge => 413,
            BadVersion => 505,
            UnknownScheme => 416,
            UnknownMethod => 501,
            TooManyHops => 483,
            UnsupportedExtension => 420,
            UnsupportedMedia => 415,
            NotAcceptable => 406,
            _ => 400,
        }
    }
}

/// The methods predial takes, in every `Allow` it sends; anything unknown gets 501.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, UPDATE, PRACK";
const KNOWN_METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "INFO",
    "UPDATE",
    "PRACK",
    "NOTIFY",
    "SUBSCRIBE",
    "REFER",
    "MESSAGE",
    "PUBLISH",
];

/// What to do with what arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Hand these bytes to the stack.
    Pass(Vec<u8>),
    /// Answer with these bytes (a response), to the transport's source; hand nothing on.
    Answer {
        status: u16,
        why: Refusal,
        bytes: Vec<u8>,
    },
    /// Hand nothing on, answer nothing.
    Drop(Refusal),
}

impl Judgement {
    /// Counts a refusal or drop in `/metrics`.
    pub fn count(&self) {
        let why = match self {
            Judgement::Pass(_) => return,
            Judgement::Answer { why, .. } | Judgement::Drop(why) => why,
        };
        metrics::counter!("predial_sip_refused_total", "reason" => why.label()).increment(1);
    }
}

/// Whether the SIP stack reads these bytes as a message (what the layer hands on must be; the
/// benchmark sets the layer's cost beside this one).
pub fn stack_reads(bytes: &[u8]) -> bool {
    rsipstack::sip::SipMessage::try_from(bytes).is_ok()
}

/// The stack's hook: each message's raw bytes, on every transport, judged before it parses them.
pub fn install() {
    rsipstack::transport::screen::set_raw_screen(screen_raw);
}

fn screen_raw(
    bytes: &[u8],
    framing: rsipstack::transport::screen::Framing,
) -> rsipstack::transport::screen::Screened {
    use rsipstack::transport::screen::{Framing as F, Screened};
    let framing = match framing {
        F::Datagram => Framing::Datagram,
        F::Stream => Framing::Stream,
    };
    let verdict = judge(bytes, framing);
    verdict.count();
    match verdict {
        Judgement::Pass(out) if out == bytes => Screened::Unchanged,
        Judgement::Pass(out) => Screened::Pass(out),
        Judgement::Answer { why, bytes, .. }
            if framing == Framing::Stream && why.loses_framing() =>
        {
            Screened::AnswerAndClose(bytes)
        }
        Judgement::Answer { bytes, .. } => Screened::Answer(bytes),
        Judgement::Drop(why) if framing == Framing::Stream && why.loses_framing() => {
            Screened::AnswerAndClose(Vec::new())
        }
        Judgement::Drop(_) => Screened::Drop,
    }
}

/// A parsed message, its fields under their long names.
struct Message<'a> {
    start: &'a str,
    fields: Vec<(&'a str, Cow<'a, str>)>,
    body: &'a [u8],
}

impl Message<'_> {
    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
    }
    fn one(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }
}

/// Judges one message.
pub fn judge(bytes: &[u8], framing: Framing) -> Judgement {
    let raw = match message::split(bytes) {
        Ok(raw) => raw,
        // Broken before a Via could be read: an answer could go nowhere reliable.
        Err(why) => return refuse_unsplit(bytes, why),
    };
    let msg = Message {
        start: raw.start,
        fields: raw
            .fields
            .into_iter()
            .map(|f| (long_name(f.name), f.value))
            .collect(),
        body: raw.body,
    };
    if msg.start.starts_with("SIP/") {
        return match check_response(&msg, framing) {
            Ok(body) => Judgement::Pass(write(&msg, body)),
            Err(why) => Judgement::Drop(why),
        };
    }
    match check_request(&msg, framing) {
        Ok(body) => Judgement::Pass(write(&msg, body)),
        Err(why) => answer(&msg, why),
    }
}

/// A message too broken to split: answered only when its Via can still be found.
fn refuse_unsplit(bytes: &[u8], why: Refusal) -> Judgement {
    let head = &bytes[..bytes.len().min(MAX_HEADER_BYTES)];
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let start = lines.next().unwrap_or_default();
    if start.starts_with("SIP/") {
        return Judgement::Drop(why);
    }
    let fields: Vec<(&str, Cow<'_, str>)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (long_name(n.trim()), Cow::Borrowed(v.trim())))
        .filter(|(n, _)| matches!(*n, "Via" | "From" | "To" | "Call-ID" | "CSeq"))
        .collect();
    let msg = Message {
        start,
        fields,
        body: &[],
    };
    answer(&msg, why)
}

/// The checks of a request, in the order the RFCs rank them. `Ok` is the body to hand on.
fn check_request<'a>(msg: &Message<'a>, framing: Framing) -> Result<&'a [u8], Refusal> {
    let parts: Vec<&str> = msg.start.split(' ').collect();
    if let Some(version) = parts.last()
        && let Some(number) = version.strip_prefix("SIP/")
        && number.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
        })
        && number != "2.0"
    {
        return Err(Refusal::BadVersion);
    }
    let [method, uri, version] = parts.as_slice() else {
        return Err(Refusal::BadRequestLine);
    };
    if *version != "SIP/2.0" || !message::is_token(method) || uri.is_empty() {
        return Err(Refusal::BadRequestLine);
    }
    if uri.starts_with('<') {
        return Err(Refusal::UriInBrackets);
    }
    let Some(uri_scheme) = scheme(uri) else {
        return Err(Refusal::BadRequestLine);
    };
    if !KNOWN_METHODS.contains(method) {
        return Err(Refusal::UnknownMethod);
    }
    check_fields(msg, method)?;
    let is_sip = uri_scheme.eq_ignore_ascii_case("sip") || uri_scheme.eq_ignore_ascii_case("sips");
    if !is_sip && !uri_scheme.eq_ignore_ascii_case("tel") {
        return Err(Refusal::UnknownScheme);
    }
    if is_sip && uri.contains('?') {
        return Err(Refusal::UriWithHeaders);
    }
    let body = body_of(msg, framing)?;
    check_semantics(msg, method, body)?;
    Ok(body)
}

/// Every field: its grammar, the single-value ones once, the required ones there.
fn check_fields(msg: &Message<'_>, method: &str) -> Result<(), Refusal> {
    for &(name, ref value) in &msg.fields {
        let values = match name {
            n if fields::is_address(n) || n == "Via" => split_top(value, ',')?,
            _ => vec![value.as_ref()],
        };
        if let Some(single) = single_valued(name)
            && (values.len() > 1 || msg.all(name).count() > 1)
        {
            return Err(Refusal::Several(single));
        }
        for v in &values {
            if fields::is_address(name) {
                if v.trim().is_empty() {
                    return Err(Refusal::EmptyValue);
                }
                check_address(v)?;
            } else if name == "Via" {
                if v.trim().is_empty() {
                    return Err(Refusal::EmptyValue);
                }
                check_via(v)?;
            }
        }
    }
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if msg.one(name).is_none_or(|v| v.trim().is_empty()) {
            return Err(Refusal::Missing(name));
        }
    }
    let cseq = msg.one("CSeq").unwrap_or_default();
    let mut words = cseq.split_whitespace();
    let (number, cseq_method) = (words.next().unwrap_or_default(), words.next());
    if number.is_empty()
        || number.len() > 10
        || !number.bytes().all(|b| b.is_ascii_digit())
        || number
            .parse::<u64>()
            .map_or(true, |n| n > u64::from(u32::MAX))
        || cseq_method.is_none()
        || words.next().is_some()
    {
        return Err(Refusal::BadCSeq);
    }
    if cseq_method != Some(method) {
        return Err(Refusal::MethodMismatch);
    }
    match msg.one("Max-Forwards").map(|mf| mf.parse::<u32>()) {
        Some(Ok(n)) if n > 255 => Err(Refusal::BadMaxForwards),
        Some(Err(_)) => Err(Refusal::BadMaxForwards),
        // An INVITE is carried on to an operator's phone, as a proxy would forward it; a request
        // predial answers itself is processed (RFC 4475 §3.3.11).
        Some(Ok(0)) if method == "INVITE" => Err(Refusal::TooManyHops),
        _ => Ok(()),
    }
}

/// The body, from the Content-Length: a datagram's trailing octets are noise (RFC 3261 §18.3).
fn body_of<'a>(msg: &Message<'a>, framing: Framing) -> Result<&'a [u8], Refusal> {
    if msg.body.len() > MAX_BODY {
        return Err(Refusal::TooLarge);
    }
    let Some(length) = msg.one("Content-Length") else {
        // Without one, a datagram's body is the rest of it; a stream's framing said none.
        return Ok(msg.body);
    };
    if length.is_empty() || length.len() > 10 || !length.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::BadContentLength);
    }
    let length: usize = length.parse().map_err(|_| Refusal::BadContentLength)?;
    match msg.body.len().cmp(&length) {
        std::cmp::Ordering::Less => Err(Refusal::ShortBody),
        std::cmp::Ordering::Equal => Ok(msg.body),
        std::cmp::Ordering::Greater if framing == Framing::Datagram => Ok(&msg.body[..length]),
        std::cmp::Ordering::Greater => Err(Refusal::BadContentLength),
    }
}

/// What a UAS checks of a well-formed request (RFC 3261 §8.2.2, §8.2.3, §10.3).
fn check_semantics(msg: &Message<'_>, method: &str, body: &[u8]) -> Result<(), Refusal> {
    if method == "REGISTER"
        && let Some(to) = msg.one("To")
        && let Ok(uri) = check_address(to)
        && !scheme(&uri)
            .is_some_and(|s| s.eq_ignore_ascii_case("sip") || s.eq_ignore_ascii_case("sips"))
    {
        return Err(Refusal::RegisterNotSip);
    }
    if !matches!(method, "ACK" | "CANCEL") && msg.all("Require").any(|v| !v.trim().is_empty()) {
        return Err(Refusal::UnsupportedExtension);
    }
    if method == "INVITE" {
        if !body.is_empty()
            && let Some(kind) = msg.one("Content-Type")
            && !media_type(kind).eq_ignore_ascii_case("application/sdp")
        {
            return Err(Refusal::UnsupportedMedia);
        }
        if msg
            .all("Content-Encoding")
            .any(|e| !e.trim().eq_ignore_ascii_case("identity"))
        {
            return Err(Refusal::UnsupportedMedia);
        }
        let accepts: Vec<&str> = msg
            .all("Accept")
            .flat_map(|v| v.split(','))
            .map(media_type)
            .filter(|t| !t.is_empty())
            .collect();
        if !accepts.is_empty()
            && !accepts.iter().any(|t| {
                ["application/sdp", "application/*", "*/*"]
                    .iter()
                    .any(|ok| t.eq_ignore_ascii_case(ok))
            })
        {
            return Err(Refusal::NotAcceptable);
        }
    }
    Ok(())
}

fn media_type(value: &str) -> &str {
    value.split(';').next().unwrap_or_default().trim()
}

/// A response: well formed, in range, and not one to bounce to a broadcast address.
fn check_response<'a>(msg: &Message<'a>, framing: Framing) -> Result<&'a [u8], Refusal> {
    let mut parts = msg.start.splitn(3, ' ');
    let (version, code) = (parts.next(), parts.next());
    if version != Some("SIP/2.0")
        || !code.is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
        || !code
            .and_then(|c| c.parse::<u16>().ok())
            .is_some_and(|c| (100..700).contains(&c))
    {
        return Err(Refusal::BadStatusLine);
    }
    for &(name, ref value) in &msg.fields {
        if name == "Via" {
            for v in split_top(value, ',')? {
                // Answering it would send to many (RFC 4475 §3.3.10).
                let host = check_via(v)?;
                if host.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
                    std::net::IpAddr::V4(v4) => v4.is_broadcast() || v4.is_multicast(),
                    std::net::IpAddr::V6(v6) => v6.is_multicast(),
                }) {
                    return Err(Refusal::BroadcastVia);
                }
            }
        }
    }
    let cseq = msg.one("CSeq").unwrap_or_default();
    let number = cseq.split_whitespace().next().unwrap_or_default();
    if number.len() > 10
        || number
            .parse::<u64>()
            .map_or(true, |n| n > u64::from(u32::MAX))
    {
        return Err(Refusal::ResponseOutOfRange);
    }
    if msg.one("Via").is_none() || msg.one("Call-ID").is_none() {
        return Err(Refusal::Missing("Via"));
    }
    body_of(msg, framing)
}

/// The message in one spelling, with this body and a Content-Length that matches it.
fn write(msg: &Message<'_>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.start.len() + 64 * msg.fields.len() + body.len());
    out.extend_from_slice(msg.start.trim_end().as_bytes());
    out.extend_from_slice(b"\r\n");
    for &(name, ref value) in &msg.fields {
        if name == "Content-Length" {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(canonical_value(name, value).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

fn phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        406 => "Not Acceptable",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        483 => "Too Many Hops",
        501 => "Not Implemented",
        505 => "Version Not Supported",
        _ => "Refused",
    }
}

/// The answer to a refused request: its Via, From, To (with a tag), Call-ID and CSeq, a Warning
/// that says why, and what the status calls for (Allow, Unsupported, Accept).
fn answer(msg: &Message<'_>, why: Refusal) -> Judgement {
    let method = msg.start.split(' ').next().unwrap_or_default();
    if method == "ACK" {
        return Judgement::Drop(why);
    }
    let vias: Vec<&str> = msg.all("Via").collect();
    if vias.is_empty() || vias.iter().all(|v| v.trim().is_empty()) {
        return Judgement::Drop(Refusal::Unanswerable);
    }
    let status = why.status();
    let mut out = format!("SIP/2.0 {status} {}\r\n", phrase(status));
    for v in vias {
        out.push_str(&format!("Via: {}\r\n", one_line(v)));
    }
    for name in ["From", "To", "Call-ID", "CSeq"] {
        if let Some(v) = msg.one(name) {
            let mut v = one_line(v);
            if name == "To" && !v.to_ascii_lowercase().contains("tag=") {
                v.push_str(&format!(";tag={}", tag(msg)));
            }
            out.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    match why {
        Refusal::UnknownMethod => out.push_str(&format!("Allow: {ALLOW}\r\n")),
        Refusal::UnsupportedExtension => {
            let tags: Vec<String> = msg.all("Require").map(one_line).collect();
            out.push_str(&format!("Unsupported: {}\r\n", tags.join(", ")));
        }
        Refusal::UnsupportedMedia | Refusal::NotAcceptable => {
            out.push_str("Accept: application/sdp\r\n")
        }
        _ => {}
    }
    out.push_str(&format!(
        "Warning: 399 predial \"{}\"\r\nContent-Length: 0\r\n\r\n",
        why.text().replace('"', "'")
    ));
    Judgement::Answer {
        status,
        why,
        bytes: out.into_bytes(),
    }
}

/// A value safe to write on one header line (no CR or LF of the sender's survives).
fn one_line(value: &str) -> String {
    value.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// A To tag for a refusal: the same request gets the same tag, so retransmissions match.
fn tag(msg: &Message<'_>) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    msg.one("Call-ID").hash(&mut h);
    msg.one("Via").hash(&mut h);
    format!("pr{:x}", h.finish())
}

#[cfg(test)]
mod tests;
