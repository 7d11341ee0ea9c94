//! Per-source limits at the SIP edge, by the transport's real source address: how fast one
//! address may send (every UDP datagram, every new stream connection and every request over a
//! stream takes a token from its bucket), and how many TCP, TLS or WebSocket connections it may
//! hold at once. What is over the limit is dropped without an answer (an answer to a forged
//! UDP source would make predial a reflector) and counted in `/metrics`:
//! `predial_sip_rate_limited_total{transport}` (`datagram`: UDP datagrams and new connections;
//! `stream`: requests over a connection), `predial_sip_connections_refused_total`.
//!
//! Trunks' addresses are not limited: a carrier's traffic is theirs to size (`channels`, `cps`).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// The limits (the defaults are docs/defaults.md's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimits {
    /// Messages and new connections a second, sustained, from one address.
    pub per_second: f64,
    /// How many may come at once above that.
    pub burst: f64,
    /// Stream connections one address may hold.
    pub connections: usize,
}

impl Default for FloodLimits {
    fn default() -> Self {
        FloodLimits {
            per_second: 100.0,
            burst: 400.0,
            connections: 256,
        }
    }
}

/// Addresses remembered at most; when full, those whose bucket has refilled are forgotten.
const MAX_SOURCES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Guard {
    limits: FloodLimits,
    exempt: HashSet<IpAddr>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

static GUARD: OnceLock<Guard> = OnceLock::new();

/// Sets the limits for the process (the first call wins) and hooks the stack's connection
/// gate; `exempt` are the trunks' addresses.
pub fn install(limits: FloodLimits, exempt: impl IntoIterator<Item = IpAddr>) {
    let _ = GUARD.set(Guard {
        limits,
        exempt: exempt.into_iter().collect(),
        buckets: Mutex::new(HashMap::new()),
    });
    rsipstack::transport::screen::set_connection_gate(connection_gate);
}

/// Whether one more message (or new connection) from `ip` is taken now; `transport` names the
/// counter's label.
pub fn allow(ip: IpAddr, transport: &'static str) -> bool {
    let Some(g) = GUARD.get() else {
        return true;
    };
    if g.exempt.contains(&ip) {
        return true;
    }
    let Ok(mut buckets) = g.buckets.lock() else {
        return true;
    };
    let now = Instant::now();
    if buckets.len() >= MAX_SOURCES && !buckets.contains_key(&ip) {
        let l = g.limits;
        buckets.retain(|_, b| refill(*b, now, l) < l.burst);
        if buckets.len() >= MAX_SOURCES {
            buckets.clear();
        }
    }
    let b = buckets.entry(ip).or_insert(Bucket {
        tokens: g.limits.burst,
        at: now,
    });
    b.tokens = refill(*b, now, g.limits);
    b.at = now;
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        true
    } else {
        metrics::counter!("predial_sip_rate_limited_total", "transport" => transport).increment(1);
        false
    }
}

fn refill(b: Bucket, now: Instant, l: FloodLimits) -> f64 {
    (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * l.per_second).min(l.burst)
}

/// The stack's hook on a new stream connection from `ip`, which holds `live` already.
fn connection_gate(ip: IpAddr, live: usize) -> bool {
    let Some(g) = GUARD.get() else {
        return true;
    };
    if g.exempt.contains(&ip) {
        return true;
    }
    if live >= g.limits.connections {
        metrics::counter!("predial_sip_connections_refused_total").increment(1);
        tracing::debug!(%ip, live, "stream connection refused: too many from this address");
        return false;
    }
    true
}

/// The stack's whitelist, asked for each UDP datagram and each new stream connection (before
/// the gate above): one token each.
pub async fn whitelist(ip: IpAddr) -> bool {
    allow(ip, "datagram")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_its_rate_and_never_past_its_burst() {
        let l = FloodLimits {
            per_second: 10.0,
            burst: 5.0,
            connections: 2,
        };
        let t0 = Instant::now();
        let b = Bucket {
            tokens: 0.0,
            at: t0,
        };
        assert!((refill(b, t0 + std::time::Duration::from_millis(200), l) - 2.0).abs() < 1e-9);
        assert_eq!(refill(b, t0 + std::time::Duration::from_secs(60), l), 5.0);
    }
}
