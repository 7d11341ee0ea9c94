//! Which webhook URLs predial posts to: `https` unless `http` is allowed, and never an address
//! inside the machine or its networks (loopback, link-local, private, CGNAT, unspecified,
//! multicast, ...) unless private addresses are allowed (an on-site CRM). The address is
//! checked when the URL is set (a literal IP) and again at each delivery, on every address the
//! name resolves to then (so a name that later resolves inside is refused: DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;

/// What webhook URLs may be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// `http://` is taken too (else only `https://`).
    pub allow_http: bool,
    /// Private, loopback and link-local addresses are taken too.
    pub allow_private: bool,
}

/// Why a URL is refused, for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlRefused(pub String);

/// Whether `ip` is an address of this machine or of a network not on the Internet.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // 0.0.0.0/8: this network
        || (a == 100 && (64..128).contains(&b)) // 100.64.0.0/10: carrier-grade NAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // 192.0.0.0/24: protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // 198.18.0.0/15: benchmarking
        || a >= 240 // 240.0.0.0/4: reserved
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local() // fc00::/7
        || ip.is_unicast_link_local() // fe80::/10
        || (first & 0xffc0) == 0xfec0 // fec0::/10: site-local (deprecated)
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // 2001:db8::/32: documentation
        // 64:ff9b::/96 (NAT64) and ::a.b.c.d (IPv4-compatible): the IPv4 address inside.
        || (ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && internal_v4(embedded_v4(ip)))
        || (ip.segments()[..6] == [0; 6] && internal_v4(embedded_v4(ip)))
}

fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

/// Checks a webhook URL as it is set: the scheme, a host, and a literal IP's range. A name is
/// checked at each delivery, as it resolves then.
pub fn check(text: &str, policy: UrlPolicy) -> Result<Url, UrlRefused> {
    let url = Url::parse(text).map_err(|e| {
        UrlRefused(format!(
            "`{}` is not a URL ({e}): give https://HOST/PATH",
            masked_text(text)
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => {
            return Err(UrlRefused(
                "give an https:// URL (http:// is taken only when serve's webhook_allow_http \
                 is set)"
                    .into(),
            ));
        }
        other => {
            return Err(UrlRefused(format!(
                "`{other}:` URLs are not taken: give an https:// URL"
            )));
        }
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(UrlRefused(
            "the URL has no host: give https://HOST/PATH".into(),
        ));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        check_ip(ip, policy)?;
    }
    let lower = bare.to_ascii_lowercase();
    if !policy.allow_private && (lower == "localhost" || lower.ends_with(".localhost")) {
        return Err(private_refused(bare));
    }
    Ok(url)
}

fn check_ip(ip: IpAddr, policy: UrlPolicy) -> Result<(), UrlRefused> {
    if !policy.allow_private && is_internal(ip) {
        return Err(private_refused(&ip.to_string()));
    }
    Ok(())
}

fn private_refused(host: &str) -> UrlRefused {
    UrlRefused(format!(
        "`{host}` is a loopback, private, link-local or otherwise internal address: give the \
         CRM's public address (an on-site CRM needs serve's webhook_allow_private)"
    ))
}

/// The URL as shown back: a user name and password in it become `***`.
pub fn masked(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("***");
    shown.to_string()
}

/// [`masked`] of a text that may not parse: the part before `@` of its authority is hidden.
pub fn masked_text(text: &str) -> String {
    match Url::parse(text) {
        Ok(url) => masked(&url),
        Err(_) => match text.split_once("://") {
            Some((scheme, rest)) => {
                let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                match rest[..end].rfind('@') {
                    Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                    None => text.to_string(),
                }
            }
            None => text.to_string(),
        },
    }
}

/// The resolver of the webhook client: a name's addresses, refused when one is internal and
/// private addresses are not allowed. reqwest connects only to what this answers, so the
/// address checked is the address used.
#[derive(Debug, Clone, Copy)]
pub struct CheckedResolver {
    pub policy: UrlPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| check_ip(a.ip(), policy).is_err()) {
                let why = format!(
                    "`{host}` resolves to {}, an internal address: not delivered",
                    bad.ip()
                );
                return Err(why.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The resolver, shared.
pub fn resolver(policy: UrlPolicy) -> Arc<CheckedResolver> {
    Arc::new(CheckedResolver { policy })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlPolicy = UrlPolicy {
        allow_http: false,
        allow_private: false,
    };

    #[test]
    fn internal_ranges_are_known() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "100.128.0.1",
            "100.63.255.255",
            "172.32.0.1",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_need_https_and_a_public_address_unless_allowed() {
        assert!(check("https://crm.example.com/hook", STRICT).is_ok());
        assert!(check("https://8.8.8.8/hook", STRICT).is_ok());
        assert!(check("http://crm.example.com/hook", STRICT).is_err());
        assert!(check("ftp://crm.example.com/", STRICT).is_err());
        assert!(check("https://127.0.0.1/", STRICT).is_err());
        assert!(check("https://[::1]:8443/", STRICT).is_err());
        assert!(check("https://[::ffff:192.168.0.1]/", STRICT).is_err());
        assert!(check("https://localhost/", STRICT).is_err());
        assert!(
            check("https://2130706433/", STRICT).is_err(),
            "127.0.0.1 as a number"
        );
        let open = UrlPolicy {
            allow_http: true,
            allow_private: true,
        };
        assert!(check("http://127.0.0.1:8080/", open).is_ok());
        assert!(check("https://localhost/", open).is_ok());
    }

    #[test]
    fn credentials_are_masked() {
        let url = Url::parse("https://crm:s3cret@crm.example.com/hook?x=1").unwrap();
        let shown = masked(&url);
        assert!(
            !shown.contains("s3cret") && !shown.contains("crm:"),
            "{shown}"
        );
        assert_eq!(shown, "https://***@crm.example.com/hook?x=1");
        assert_eq!(
            masked_text("https://u:p@bad host/"),
            "https://***@bad host/"
        );
        assert_eq!(
            masked(&Url::parse("https://crm.example.com/").unwrap()),
            "https://crm.example.com/"
        );
    }

    #[tokio::test]
    async fn names_that_resolve_inside_are_refused_at_delivery() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(resolver(STRICT).resolve(name).await.is_err());
        let open = UrlPolicy {
            allow_http: true,
            allow_private: true,
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(resolver(open).resolve(name).await.is_ok());
    }
}
