//! A message as it came off the wire, split into its start line, header fields (continuation
//! lines folded in, RFC 3261 §7.3.1) and body, before anything is trusted.

use std::borrow::Cow;

use super::Refusal;

/// Header fields one message may carry.
pub const MAX_FIELDS: usize = 256;
/// Bytes of the start line and header fields together.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Bytes of body (SDP is a few hundred; a multipart MESSAGE a few thousand).
pub const MAX_BODY: usize = 32 * 1024;

/// One header field: its name as written (trimmed) and its value with folding undone (borrowed
/// from the message unless continuation lines were folded in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    pub name: &'a str,
    pub value: Cow<'a, str>,
}

/// A message split into its parts.
#[derive(Debug)]
pub struct Raw<'a> {
    pub start: &'a str,
    pub fields: Vec<Field<'a>>,
    pub body: &'a [u8],
}

/// Where the header section ends: the index of the empty line's first byte and of the body.
fn header_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(nl) = bytes[i..].iter().position(|&b| b == b'\n') {
        let at = i + nl;
        let next = at + 1;
        match bytes.get(next) {
            Some(b'\n') => return Some((next, next + 1)),
            Some(b'\r') if bytes.get(next + 1) == Some(&b'\n') => return Some((next, next + 2)),
            _ => {}
        }
        i = next;
    }
    None
}

/// `token` characters of RFC 3261 §25.1.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Splits a message. Leading empty lines (keep-alives before a message on a stream) are skipped.
pub fn split(bytes: &[u8]) -> Result<Raw<'_>, Refusal> {
    let mut bytes = bytes;
    while let [b'\r' | b'\n', rest @ ..] = bytes {
        bytes = rest;
    }
    let (head_end, body_at) = header_end(bytes).ok_or(Refusal::NoEmptyLine)?;
    if head_end > MAX_HEADER_BYTES {
        return Err(Refusal::TooLarge);
    }
    let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| Refusal::NotText)?;
    let body = &bytes[body_at..];
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().unwrap_or_default();
    let mut fields: Vec<Field<'_>> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // A continuation line: folded into the field above (RFC 3261 §7.3.1).
            let Some(last) = fields.last_mut() else {
                return Err(Refusal::BadHeader);
            };
            let more = line.trim();
            if !more.is_empty() {
                let value = last.value.to_mut();
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(more);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Refusal::BadHeader);
        };
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(Refusal::BadHeader);
        }
        if fields.len() == MAX_FIELDS {
            return Err(Refusal::TooLarge);
        }
        fields.push(Field {
            name,
            value: Cow::Borrowed(value.trim()),
        });
    }
    Ok(Raw {
        start,
        fields,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_undone_and_names_kept() {
        let raw =
            split(b"OPTIONS sip:a@b SIP/2.0\r\nTO :\r\n sip:a@b ;\r\n  tag=1\r\nX: y\r\n\r\nbody")
                .unwrap();
        assert_eq!(raw.start, "OPTIONS sip:a@b SIP/2.0");
        assert_eq!(raw.fields[0].name, "TO");
        assert_eq!(raw.fields[0].value, "sip:a@b ; tag=1");
        assert_eq!(raw.fields[1].value, "y");
        assert_eq!(raw.body, b"body");
    }

    #[test]
    fn broken_sections_are_refused() {
        assert_eq!(
            split(b"OPTIONS sip:a@b SIP/2.0\r\nX: y\r\n").unwrap_err(),
            Refusal::NoEmptyLine
        );
        assert_eq!(
            split(b"OPTIONS sip:a@b SIP/2.0\r\n x\r\n\r\n").unwrap_err(),
            Refusal::BadHeader
        );
        assert_eq!(
            split(b"OPTIONS sip:a@b SIP/2.0\r\nno colon\r\n\r\n").unwrap_err(),
            Refusal::BadHeader
        );
        assert_eq!(
            split(b"OPTIONS sip:a@b SIP/2.0\r\nX\xff: y\r\n\r\n").unwrap_err(),
            Refusal::NotText
        );
    }
}
