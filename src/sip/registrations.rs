//! A REGISTER read for the registrar (`crate::registrar`): whose, which contact, how long,
//! the credentials, and where it came from.

use std::net::IpAddr;

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

/// The Via's `received` address, else its sent-by host.
fn source_of(via: &str) -> Option<IpAddr> {
    for part in via.split(';').skip(1) {
        if let Some(v) = part.trim().strip_prefix("received=") {
            return v.trim().parse().ok();
        }
    }
    let sent_by = via.split_whitespace().nth(1)?.split(';').next()?;
    let host = sent_by.trim_start_matches('[');
    let host = match host.rfind("]:") {
        Some(i) => &host[..i],
        None => host
            .rsplit_once(':')
            .map_or(host, |(h, _)| h)
            .trim_end_matches(']'),
    };
    host.parse().ok()
}

/// Where a request came from: its top Via's `received`, else its sent-by host.
pub(crate) fn source(req: &Request) -> Option<IpAddr> {
    req.headers.iter().find_map(|h| match h {
        Header::Via(v) => Some(source_of(v.value())),
        _ => None,
    })?
}

/// Where a request came from, with the port: the Via's `received` (else its sent-by host), and
/// its `rport` value (else its sent-by port, else 5060).
pub(crate) fn source_with_port(req: &Request) -> Option<(IpAddr, u16)> {
    let via = req.headers.iter().find_map(|h| match h {
        Header::Via(v) => Some(v.value().to_string()),
        _ => None,
    })?;
    let ip = source_of(&via)?;
    let rport = via.split(';').skip(1).find_map(|p| {
        p.trim()
            .strip_prefix("rport=")
            .and_then(|v| v.trim().parse::<u16>().ok())
    });
    let sent_by_port = via
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.rsplit_once(':'))
        .filter(|(h, _)| !h.ends_with(':') && (h.starts_with('[') || !h.contains(':')))
        .and_then(|(_, p)| p.trim_end_matches(']').parse::<u16>().ok());
    Some((ip, rport.or(sent_by_port).unwrap_or(5060)))
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

pub fn read(req: &Request) -> Option<Register> {
    let mut user = None;
    let mut contact = None;
    let mut expires = None;
    let mut contact_expires = None;
    let mut authorization = None;
    let mut source = None;
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
            Header::Via(v) if source.is_none() => source = source_of(v.value()),
            _ => {}
        }
    }
    Some(Register {
        user: user?,
        uri: req.uri.to_string(),
        contact,
        expires: contact_expires.or(expires),
        authorization,
        source: source?,
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
        assert_eq!(
            source_of("SIP/2.0/UDP 10.0.0.5:5060;branch=z9;rport;received=192.0.2.1"),
            "192.0.2.1".parse().ok()
        );
        assert_eq!(
            source_of("SIP/2.0/UDP 10.0.0.5:5060;branch=z9"),
            "10.0.0.5".parse().ok()
        );
        assert_eq!(
            source_of("SIP/2.0/UDP [::1]:5060;branch=z9"),
            "::1".parse().ok()
        );
    }
}
