//! Trunks: the lines calls leave by. Profiles (`sip-profiles/*.toml`), their limits (channels,
//! calls per second), their health (registered, failing, set aside) and the order calls try
//! them in.

mod load;
pub mod pool;
pub mod profile;

pub use load::{LoadedTrunk, load_dir};
pub use pool::{Pick, Trunk, TrunkPool, TrunkState};
pub use profile::{Owner, TrunkProfile};

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
