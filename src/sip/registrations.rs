//! A REGISTER read for the registrar (`crate::registrar`): whose, which contact, how long,
//! the credentials, and where it came from.

use rsipstack::sip::{Header, Request};

use crate::registrar::Register;

/// The user part of `"Ann" <sip:ann@host>;tag=x` (or `sip:ann@host`).
fn user_of(value: &str) -> Option<String> {
    let start = value.find("sip:").or_else(|| value.find("sips:"))?;
    let rest = &value[start..];
    let rest = &rest[rest.find(':')? + 1..];
    let end = rest.find(['@', '>', ';'])?;
    // No `@` first: the URI has no user part.
    (rest.as_bytes()[end] == b'@' && end > 0).then(|| rest[..end].to_string())
}

/// The URI inside `<...>` (or the value up to `;`).
fn uri_of(value: &str) -> String {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => value[a + 1..b].to_string(),
        _ => value.split(';').next().unwrap_or("").trim().to_string(),
    }
}

/// A request's User-Agent.
pub(crate) fn user_agent(req: &Request) -> Option<String> {
    req.headers.iter().find_map(|h| match h {
        Header::UserAgent(v) => Some(v.value().to_string()),
        Header::Other(n, v) if n.eq_ignore_ascii_case("User-Agent") => Some(v.clone()),
        _ => None,
    })
}

/// A request's Proxy-Authorization (a call's digest answer).
pub(crate) fn proxy_authorization(req: &Request) -> Option<String> {
    req.headers.iter().find_map(|h| match h {
        Header::ProxyAuthorization(v) => Some(v.value().to_string()),
        Header::Other(n, v) if n.eq_ignore_ascii_case("Proxy-Authorization") => Some(v.clone()),
        _ => None,
    })
}

/// A REGISTER as the registrar reads it; `source` is the transport's (`source::of`).
pub fn read(req: &Request, source: super::source::Source) -> Option<Register> {
    let mut user = None;
    let mut contact = None;
    let mut expires = None;
    let mut contact_expires = None;
    let mut authorization = None;
    for h in req.headers.iter() {
        match h {
            Header::To(v) => user = user_of(v.value()),
            Header::Contact(v) => {
                let v = v.value().trim();
                if v == "*" {
                    contact = Some("*".to_string());
                } else {
                    contact = Some(uri_of(v));
                    for p in v.split(';').skip(1) {
                        if let Some(e) = p.trim().strip_prefix("expires=") {
                            contact_expires = e.trim().parse().ok();
                        }
                    }
                }
            }
            Header::Expires(v) => expires = v.value().trim().parse().ok(),
            Header::Authorization(v) => authorization = Some(v.value().to_string()),
            _ => {}
        }
    }
    Some(Register {
        user: user?,
        uri: req.uri.to_string(),
        contact,
        expires: contact_expires.or(expires),
        authorization,
        source: source.addr.ip(),
        udp_source: (!source.stream).then_some(source.addr),
        flow: source.flow(),
        user_agent: user_agent(req),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_the_way_phones_write_them() {
        assert_eq!(
            user_of("\"Ann\" <sip:ann@127.0.0.1>;tag=1").as_deref(),
            Some("ann")
        );
        assert_eq!(user_of("sip:1001@pbx.example.com").as_deref(), Some("1001"));
        assert_eq!(user_of("<sip:pbx.example.com>;tag=1"), None, "no user part");
        assert_eq!(
            uri_of("<sip:ann@10.0.0.5:5060;transport=udp>;expires=60"),
            "sip:ann@10.0.0.5:5060;transport=udp"
        );
    }
}
