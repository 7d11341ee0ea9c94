//! The grammar of the header fields the dialer reads (RFC 3261 §25.1): names in their long
//! form, addresses (`name-addr` / `addr-spec`), Via, and values written back in one spelling.

use std::borrow::Cow;

use super::Refusal;
use super::message::is_token;

/// The long name of a header field (compact forms of RFC 3261 §7.3.3 and the registry),
/// spelled as the RFC spells it; unknown names are kept as written.
pub fn long_name(name: &str) -> &str {
    const KNOWN: &[&str] = &[
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Authentication-Info",
        "Authorization",
        "Call-ID",
        "Call-Info",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Date",
        "Error-Info",
        "Event",
        "Expires",
        "From",
        "In-Reply-To",
        "Max-Forwards",
        "Min-Expires",
        "MIME-Version",
        "Organization",
        "Priority",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "Record-Route",
        "Reply-To",
        "Require",
        "Retry-After",
        "Route",
        "Server",
        "Subject",
        "Supported",
        "Timestamp",
        "To",
        "Unsupported",
        "User-Agent",
        "Via",
        "Warning",
        "WWW-Authenticate",
    ];
    let compact = match name.to_ascii_lowercase().as_str() {
        "i" => Some("Call-ID"),
        "m" => Some("Contact"),
        "e" => Some("Content-Encoding"),
        "l" => Some("Content-Length"),
        "c" => Some("Content-Type"),
        "f" => Some("From"),
        "s" => Some("Subject"),
        "k" => Some("Supported"),
        "t" => Some("To"),
        "v" => Some("Via"),
        "o" => Some("Event"),
        _ => None,
    };
    if let Some(long) = compact {
        return long;
    }
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map_or(name, |k| k)
}

/// Header fields that carry one value only (RFC 3261 §7.3.1, §20): the name, when `name` is one.
pub fn single_valued(name: &str) -> Option<&'static str> {
    const SINGLE: &[&str] = &[
        "Call-ID",
        "CSeq",
        "From",
        "To",
        "Max-Forwards",
        "Content-Length",
        "Content-Type",
        "Expires",
        "Min-Expires",
        "Date",
        "Timestamp",
        "Reply-To",
    ];
    SINGLE.iter().find(|n| **n == name).copied()
}

/// Header fields whose values are addresses.
pub fn is_address(name: &str) -> bool {
    matches!(
        name,
        "From" | "To" | "Contact" | "Route" | "Record-Route" | "Reply-To"
    )
}

/// Header fields whose grammar is known well enough to write them in one spelling.
fn is_structured(name: &str) -> bool {
    is_address(name)
        || matches!(
            name,
            "Via"
                | "CSeq"
                | "Call-ID"
                | "Max-Forwards"
                | "Content-Length"
                | "Content-Type"
                | "Expires"
                | "Min-Expires"
                | "Require"
                | "Proxy-Require"
                | "Supported"
                | "Allow"
                | "Accept"
        )
}

/// A scan's place with respect to quoted strings (RFC 3261 §25.1 `quoted-string`, `\` escapes).
#[derive(Default)]
struct Quoting {
    quoted: bool,
    escaped: bool,
}

impl Quoting {
    /// Takes the next character; true when it stands inside a quoted string (its closing quote
    /// included). An opening quote is not inside: it starts the string.
    fn step(&mut self, c: char) -> bool {
        if !self.quoted {
            self.quoted = c == '"';
            return false;
        }
        match (self.escaped, c) {
            (true, _) => self.escaped = false,
            (false, '\\') => self.escaped = true,
            (false, '"') => self.quoted = false,
            _ => {}
        }
        true
    }
}

/// Splits at `sep` where it stands outside quoted strings and `<...>`. `Err` for a quote that
/// never ends.
pub fn split_top(value: &str, sep: char) -> Result<Vec<&str>, Refusal> {
    let mut parts = Vec::new();
    let (mut start, mut quoting, mut angle) = (0, Quoting::default(), false);
    for (i, c) in value.char_indices() {
        if !angle && quoting.step(c) {
            continue;
        }
        match c {
            '<' => angle = true,
            '>' => angle = false,
            c if c == sep && !angle => {
                parts.push(&value[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if quoting.quoted {
        return Err(Refusal::UnterminatedQuote);
    }
    parts.push(&value[start..]);
    Ok(parts)
}

/// Checks `;name[=value]` parameters written after an address or a Via's sent-by.
fn check_params(params: &str) -> Result<Vec<(String, String)>, Refusal> {
    let params = params.trim();
    if params.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = params.strip_prefix(';') else {
        return Err(Refusal::BadAddress);
    };
    let mut out = Vec::new();
    for p in split_top(rest, ';')? {
        let p = p.trim();
        if p.is_empty() {
            return Err(Refusal::EmptyValue);
        }
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (p, ""),
        };
        if !is_token(name) {
            return Err(Refusal::BadAddress);
        }
        out.push((name.to_ascii_lowercase(), value.to_string()));
    }
    Ok(out)
}

/// The scheme of a URI, when it has one of the right shape (RFC 3986 §3.1).
pub fn scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// One address value (`name-addr` or `addr-spec` with parameters): its URI.
pub fn check_address(value: &str) -> Result<String, Refusal> {
    let value = value.trim();
    if value == "*" {
        return Ok("*".to_string());
    }
    // Where the URI is: between the first `<` outside quotes and its `>`.
    let mut quoting = Quoting::default();
    let open = value
        .char_indices()
        .find(|&(_, c)| !quoting.step(c) && c == '<')
        .map(|(i, _)| i);
    let Some(open) = open else {
        // addr-spec: a URI with `,`, `?` or `;` inside must be in `<>` (RFC 3261 §20.10),
        // so everything after the first `;` is parameters.
        let (uri, params) = value.split_at(value.find(';').unwrap_or(value.len()));
        let uri = uri.trim();
        if uri.is_empty() || uri.contains([' ', '\t', '"', '?']) {
            return Err(Refusal::BadAddress);
        }
        check_params(params)?;
        return Ok(uri.to_string());
    };
    let display = value[..open].trim();
    let quoted_name = display.len() >= 2 && display.starts_with('"') && display.ends_with('"');
    if !display.is_empty()
        && !quoted_name
        && !display
            .split([' ', '\t'])
            .filter(|w| !w.is_empty())
            .all(is_token)
    {
        return Err(Refusal::BadDisplayName);
    }
    let rest = &value[open + 1..];
    let Some(close) = rest.find('>') else {
        return Err(Refusal::BadAddress);
    };
    let uri = &rest[..close];
    if uri.is_empty() || uri.contains([' ', '\t', '<']) {
        return Err(Refusal::BadAddress);
    }
    check_params(&rest[close + 1..])?;
    Ok(uri.to_string())
}

/// One Via value: `SIP / 2.0 / transport sent-by *( ; param )`; its sent-by host.
pub fn check_via(value: &str) -> Result<String, Refusal> {
    let value = value.trim();
    let (proto, rest) = match value.find([';']) {
        Some(i) => value.split_at(i),
        None => (value, ""),
    };
    let mut parts = proto.splitn(3, '/');
    let (name, version, tail) = (
        parts.next().unwrap_or_default().trim(),
        parts.next().unwrap_or_default().trim(),
        parts.next().unwrap_or_default().trim(),
    );
    if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
        return Err(Refusal::BadVia);
    }
    let mut words = tail.split_whitespace();
    let (transport, sent_by) = (words.next(), words.next());
    let (Some(transport), Some(sent_by), None) = (transport, sent_by, words.next()) else {
        return Err(Refusal::BadVia);
    };
    if !is_token(transport) || sent_by.is_empty() {
        return Err(Refusal::BadVia);
    }
    let params = check_params(rest).map_err(|e| match e {
        Refusal::BadAddress => Refusal::BadVia,
        e => e,
    })?;
    if params
        .iter()
        .any(|(n, v)| n == "branch" && (v.is_empty() || v.eq_ignore_ascii_case("z9hG4bK")))
    {
        return Err(Refusal::BadBranch);
    }
    let host = match sent_by.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => sent_by.split(':').next().unwrap_or_default(),
    };
    Ok(host.to_string())
}

/// A value written in one spelling: folding and runs of blanks made one space, no blanks around
/// `;`, `=`, `,` (and `/` in Via), all outside quoted strings. Unknown fields keep their text.
pub fn canonical_value<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if !is_structured(name) || !value.contains([' ', '\t']) {
        return Cow::Borrowed(value);
    }
    let tight: &[char] = if name == "Via" {
        &[';', '=', ',', '/']
    } else {
        &[';', '=', ',']
    };
    let mut out = String::with_capacity(value.len());
    let (mut quoting, mut pending_space) = (Quoting::default(), false);
    for c in value.chars() {
        if quoting.step(c) {
            out.push(c);
            continue;
        }
        if c == ' ' || c == '\t' {
            pending_space = true;
            continue;
        }
        let last_tight = out.chars().last().is_some_and(|l| tight.contains(&l));
        if pending_space && !out.is_empty() && !tight.contains(&c) && !last_tight {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_long() {
        assert_eq!(long_name("v"), "Via");
        assert_eq!(long_name("MaX-fOrWaRdS"), "Max-Forwards");
        assert_eq!(long_name("cseq"), "CSeq");
        assert_eq!(long_name("NewFangledHeader"), "NewFangledHeader");
    }

    #[test]
    fn addresses() {
        assert_eq!(
            check_address(r#""J Rosenberg \\\"" <sip:jdrosen@example.com> ; tag = 98asjd8"#),
            Ok("sip:jdrosen@example.com".into())
        );
        assert_eq!(
            check_address("caller<sip:c@example.com>;tag=3"),
            Ok("sip:c@example.com".into())
        );
        assert_eq!(
            check_address("sip:a@b ;   tag    = 1"),
            Ok("sip:a@b".into())
        );
        assert_eq!(
            check_address("Bell, Alexander <sip:a@b>").unwrap_err(),
            Refusal::BadDisplayName
        );
        assert_eq!(
            check_address(r#""W" < sip:t@example.org >"#).unwrap_err(),
            Refusal::BadAddress
        );
        assert_eq!(
            check_address("sip:u@e.com?Route=%3Csip:x%3E").unwrap_err(),
            Refusal::BadAddress
        );
        assert_eq!(
            check_address(r#""Joe" <sip:joe@example.org>;;;;"#).unwrap_err(),
            Refusal::EmptyValue
        );
        assert_eq!(
            split_top(r#""Mr. J. User <sip:j@e.com>"#, ',').unwrap_err(),
            Refusal::UnterminatedQuote
        );
    }

    #[test]
    fn vias() {
        assert_eq!(
            check_via("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw"),
            Ok("192.0.2.2".into())
        );
        assert_eq!(
            check_via("SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1"),
            Ok("::1".into())
        );
        assert_eq!(
            check_via("SIP/2.0/UDP 192.0.2.15;;").unwrap_err(),
            Refusal::EmptyValue
        );
        assert_eq!(
            check_via("SIP/2.0/UDP h;branch=z9hG4bK").unwrap_err(),
            Refusal::BadBranch
        );
        assert_eq!(check_via("SIP/3.0/UDP h").unwrap_err(), Refusal::BadVia);
    }

    #[test]
    fn values_are_written_in_one_spelling() {
        assert_eq!(
            canonical_value(
                "Via",
                "SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8"
            ),
            "SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8"
        );
        assert_eq!(
            canonical_value(
                "Contact",
                r#""Quoted string \"\"" <sip:j@e.com> ; newparam = newvalue ; q = 0.33"#
            ),
            r#""Quoted string \"\"" <sip:j@e.com>;newparam=newvalue;q=0.33"#
        );
        assert_eq!(canonical_value("CSeq", "0009  INVITE"), "0009 INVITE");
        assert_eq!(canonical_value("X-Odd", ";;,, a"), ";;,, a");
    }
}
