//! Trunks: the lines calls leave by. Profiles (`sip-profiles/*.toml`), their limits (channels,
//! calls per second), their health (registered, failing, set aside) and the order calls try
//! them in.

mod load;
pub mod pool;
pub mod profile;

pub use load::{LoadedTrunk, NOT_TRUNKS, load_dir};
pub use pool::{Pick, Trunk, TrunkPool, TrunkState};
pub use profile::{Owner, TrunkProfile};

/// Where the trunks' inbound calls come from: each enabled trunk's address, its registrar's
/// (a registration-authenticated trunk calls from there), and its `inbound_from` entries.
/// Host names are looked up now; a port given in the address must match too.
pub async fn inbound_sources(profiles: &[TrunkProfile]) -> Vec<crate::sip::TrunkSource> {
    let mut out = Vec::new();
    for p in profiles.iter().filter(|p| p.enabled) {
        let mut targets = vec![p.address.clone()];
        if let Some(r) = p.registration.as_ref().and_then(|r| r.registrar.clone()) {
            targets.push(r);
        }
        targets.extend(p.inbound_from.iter().cloned());
        for t in targets {
            let t = t.trim_start_matches("sip:").to_string();
            let (host, port) = split_host_port(&t);
            let ips: Vec<std::net::IpAddr> = match host.parse() {
                Ok(ip) => vec![ip],
                Err(_) => {
                    match tokio::net::lookup_host((host.as_str(), port.unwrap_or(5060))).await {
                        Ok(addrs) => addrs.map(|a| a.ip()).collect(),
                        Err(e) => {
                            tracing::warn!(trunk = %p.name, host = %host, error = %e, "cannot look up a trunk's address: its inbound calls from there are refused");
                            Vec::new()
                        }
                    }
                }
            };
            for ip in ips {
                let source = crate::sip::TrunkSource {
                    trunk: p.name.clone(),
                    ip,
                    port,
                    digest: p.inbound_auth.as_ref().map(|a| {
                        let ha1 = a.ha1.clone().unwrap_or_else(|| {
                            crate::digest::ha1(
                                &a.user,
                                crate::registrar::REALM,
                                a.password.as_deref().unwrap_or(""),
                                false,
                            )
                        });
                        (a.user.clone(), ha1.to_ascii_lowercase())
                    }),
                };
                if !out.contains(&source) {
                    out.push(source);
                }
            }
        }
    }
    out
}

/// `host`, `host:port`, `[v6]:port` or a bare IPv6 address.
fn split_host_port(t: &str) -> (String, Option<u16>) {
    if let Some(rest) = t.strip_prefix('[') {
        let (h, after) = rest.split_once(']').unwrap_or((rest, ""));
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (h.to_string(), port);
    }
    if t.matches(':').count() > 1 {
        return (t.to_string(), None);
    }
    match t.rsplit_once(':') {
        Some((h, p)) => match p.parse() {
            Ok(port) => (h.to_string(), Some(port)),
            Err(_) => (t.to_string(), None),
        },
        None => (t.to_string(), None),
    }
}

/// The system's trusted certificates, where Debian keeps them.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The certificates (PEM) TLS trunks are verified with: the system's store and each TLS trunk's
/// own `[tls] ca`. Empty when no trunk uses TLS.
pub fn trusted_certificates(profiles: &[TrunkProfile]) -> Vec<u8> {
    let tls: Vec<&TrunkProfile> = profiles
        .iter()
        .filter(|p| p.transport == profile::Transport::Tls)
        .collect();
    if tls.is_empty() {
        return Vec::new();
    }
    let mut pem = std::fs::read(SYSTEM_CA_BUNDLE).unwrap_or_default();
    for p in tls {
        if let Some(ca) = p.tls.as_ref().and_then(|t| t.ca.as_ref())
            && let Ok(bytes) = std::fs::read(ca)
        {
            pem.push(b'\n');
            pem.extend_from_slice(&bytes);
        }
    }
    pem
}
