//! The registrar for operators' softphones: REGISTER with digest authentication (RFC 3261
//! §22, RFC 7616: MD5 and SHA-256 both offered, MD5 first for the phones that read only the
//! first challenge), contact bindings with expiry.
//!
//! - Only HA1 = H(login:realm:password) is kept, never the password.
//! - Nonces are made from the time and an HMAC of it with a secret of this process: no nonce
//!   table to fill, a nonce from another server (or a forged one) is refused, and a nonce older
//!   than `NONCE_LIFE` is answered 401 with `stale=true` (the phone retries without asking the
//!   user).
//! - An unknown login and a wrong password get the same answer (403, same reason): no user
//!   enumeration. Repeated failures from one address are counted; past `MAX_FAILURES` within
//!   `FAILURE_WINDOW` the address is refused for `BLOCK_FOR` (and logged), fail2ban-style.
//! - One device per operator by default: a second contact while the first is bound is refused
//!   (403) unless several devices are allowed.
//!
//! The logic here is plain (time handed in); `crate::sip` carries the messages.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub mod accounts;
mod nonce_counts;
mod strikes;

use nonce_counts::NonceCounts;
use strikes::Strikes;

use crate::crypto::{hex, hmac_sha256};
use crate::digest;

/// The digest realm of operators' accounts.
pub const REALM: &str = "predial";
/// How long a nonce is good for.
pub const NONCE_LIFE: Duration = Duration::from_secs(300);
/// Wrong answers for one account from one address that block the pair.
pub const MAX_FAILURES: u32 = 5;
/// Wrong answers from one address, any accounts, that block the address.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// Wrong answers for one account from anywhere that close it to new addresses.
pub const MAX_FAILURES_PER_ACCOUNT: u32 = 30;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
pub const BLOCK_FOR: Duration = Duration::from_secs(300);
/// Registrations are kept between these (Expires asked is clamped).
pub const MIN_EXPIRES: u32 = 60;
pub const MAX_EXPIRES: u32 = 3600;

/// An operator's credentials, as kept.
#[derive(Debug, Clone, Default)]
pub struct Account {
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
}

impl Account {
    /// From a password (never kept).
    pub fn from_password(login: &str, password: &str) -> Account {
        Account {
            ha1_md5: Some(digest::ha1(login, REALM, password, false)),
            ha1_sha256: Some(digest::ha1(login, REALM, password, true)),
        }
    }
}

/// The connection a phone registered over (TCP, TLS, WebSocket): calls to it go down the same
/// one, since a phone behind NAT, or in a browser, cannot be reached any other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// `tcp`, `tls`, `ws` or `wss`.
    pub transport: &'static str,
    /// The phone's end of the connection.
    pub addr: SocketAddr,
}

/// A device registered for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI (`sip:ann@192.0.2.7:5060`).
    pub contact: String,
    pub source: IpAddr,
    /// The connection it registered over, when it was a stream.
    pub flow: Option<Flow>,
    /// Milliseconds (the caller's clock).
    pub expires_at_ms: i64,
}

/// What arrived.
#[derive(Debug, Clone)]
pub struct Register {
    /// The To header's user: whose registration this is.
    pub user: String,
    pub uri: String,
    /// The Contact URI (None: a query of the bindings), and `*` to remove them all.
    pub contact: Option<String>,
    /// Expires asked (the Contact's param or the header).
    pub expires: Option<u32>,
    /// The Authorization header's value.
    pub authorization: Option<String>,
    pub source: IpAddr,
    /// The source's address and port when it came over UDP (the binding is made reachable
    /// there); `None` over a stream.
    pub udp_source: Option<SocketAddr>,
    /// The connection it came over, when a stream.
    pub flow: Option<Flow>,
    /// Its User-Agent: phones known to give up on a SHA-256 challenge get MD5 alone.
    pub user_agent: Option<String>,
}

/// The answer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Extra headers: (name, value).
    pub headers: Vec<(String, String)>,
    /// What happened, for the log and the tests.
    pub event: RegEvent,
}

impl Reply {
    /// 403 to a blocked address or account.
    fn blocked() -> Reply {
        Reply {
            status: 403,
            headers: Vec::new(),
            event: RegEvent::Blocked,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegEvent {
    Challenged,
    Stale,
    Registered {
        user: String,
        expires: u32,
    },
    Unregistered {
        user: String,
    },
    Refused {
        why: &'static str,
    },
    Blocked,
    /// A digest answer already taken (replayed, or its count went back): a fresh challenge.
    Replayed,
}

/// Phones whose SIP library gives up on the whole challenge when one of its algorithms is
/// unknown to it (libre before SHA-256 support: baresip 1.x answers `ENOSYS`): they are
/// challenged with MD5 alone.
fn md5_only(user_agent: &str) -> bool {
    let ua = user_agent.to_ascii_lowercase();
    ["baresip", "libre"].iter().any(|k| ua.contains(k))
}

/// Entries each failure table holds at most.
const STRIKES_CAP: usize = 10_000;
/// Nonces whose counts are remembered at most.
const NONCES_CAP: usize = 50_000;
/// `Contact: *` (every binding removed) needs credentials answered to a nonce this young.
const FRESH_FOR_ALL: Duration = Duration::from_secs(30);

fn rule(limit: u32) -> strikes::Rule {
    strikes::Rule {
        limit,
        window_ms: FAILURE_WINDOW.as_millis() as i64,
        block_ms: BLOCK_FOR.as_millis() as i64,
    }
}

/// A digest answer that proved the password: whose, and when its nonce was made.
struct Proven {
    user: String,
    issued_ms: i64,
}

pub struct Registrar {
    secret: [u8; 32],
    accounts: HashMap<String, Account>,
    bindings: HashMap<String, Vec<Binding>>,
    /// Wrong answers for one account from one address: `MAX_FAILURES` block that pair.
    by_pair: Strikes<(IpAddr, String)>,
    /// Wrong answers from one address, whatever the account: guessing accounts blocks it.
    by_source: Strikes<IpAddr>,
    /// Wrong answers for one account, from anywhere: the account is then refused from
    /// addresses it is not registered from (its phone keeps working).
    by_account: Strikes<String>,
    counts: NonceCounts,
    /// Several devices per operator.
    pub many_devices: bool,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret and the HA1s stay out of logs.
        f.debug_struct("Registrar")
            .field("accounts", &self.accounts.len())
            .field("bindings", &self.bindings.len())
            .field("many_devices", &self.many_devices)
            .finish()
    }
}

impl Registrar {
    pub fn new(secret: [u8; 32]) -> Registrar {
        Registrar {
            secret,
            accounts: HashMap::new(),
            bindings: HashMap::new(),
            by_pair: Strikes::new(rule(MAX_FAILURES), STRIKES_CAP),
            by_source: Strikes::new(rule(MAX_FAILURES_PER_ADDRESS), STRIKES_CAP),
            by_account: Strikes::new(rule(MAX_FAILURES_PER_ACCOUNT), STRIKES_CAP),
            counts: NonceCounts::new(NONCE_LIFE.as_millis() as i64, NONCES_CAP),
            many_devices: false,
        }
    }

    pub fn set_account(&mut self, login: &str, account: Account) {
        self.accounts.insert(login.to_string(), account);
    }

    fn mac(&self, text: &str) -> String {
        hex(&hmac_sha256(&self.secret, &[text.as_bytes()])[..12])
    }

    /// A nonce for a request from `source` now: `TIME-MAC(TIME, SOURCE)`, good only from there.
    fn nonce(&self, now_ms: i64, source: IpAddr) -> String {
        let t = now_ms.to_string();
        format!("{t}-{}", self.mac(&format!("{t}|{source}")))
    }

    /// Whether a nonce is ours and made for `source` (Some: when it was made, and whether it
    /// is still fresh).
    fn check_nonce(&self, nonce: &str, source: IpAddr, now_ms: i64) -> Option<(i64, bool)> {
        let (t, mac) = nonce.split_once('-')?;
        if !subtle_eq(
            self.mac(&format!("{t}|{source}")).as_bytes(),
            mac.as_bytes(),
        ) {
            return None;
        }
        let at: i64 = t.parse().ok()?;
        Some((
            at,
            now_ms - at <= NONCE_LIFE.as_millis() as i64 && at <= now_ms + 5_000,
        ))
    }

    fn challenge(
        &self,
        now_ms: i64,
        source: IpAddr,
        stale: bool,
        md5_only: bool,
    ) -> Vec<(String, String)> {
        let nonce = self.nonce(now_ms, source);
        let stale = if stale { ", stale=true" } else { "" };
        // MD5 first: many softphones (and SIPp) answer only the first challenge and know no
        // other; phones that know SHA-256 find it second.
        let algorithms: &[&str] = if md5_only {
            &["MD5"]
        } else {
            &["MD5", "SHA-256"]
        };
        algorithms
            .iter()
            .map(|alg| {
                (
                    "WWW-Authenticate".to_string(),
                    format!(
                        "Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\"{stale}"
                    ),
                )
            })
            .collect()
    }

    /// Counts a failure of `user` (when it is an account) from `source`, and answers 403 (or
    /// `status` with a warning, for a malformed answer).
    fn refuse(&mut self, source: IpAddr, user: &str, now_ms: i64, why: &'static str) -> Reply {
        let pair = (source, user.to_string());
        if self.by_pair.strike(&pair, now_ms) {
            tracing::warn!(%source, user, "this account refused from this address for 5 minutes after repeated failures");
        }
        if self.by_source.strike(&source, now_ms) {
            tracing::warn!(%source, "registrations from this address refused for 5 minutes after failures for several accounts");
        }
        if self.accounts.contains_key(user) && self.by_account.strike(&user.to_string(), now_ms) {
            tracing::warn!(
                user,
                "this account refused from new addresses for 5 minutes after failures from many"
            );
        }
        Reply {
            status: 403,
            headers: Vec::new(),
            event: RegEvent::Refused { why },
        }
    }

    fn blocked(&self, source: IpAddr, user: Option<&str>, now_ms: i64) -> bool {
        if self.by_source.blocked(&source, now_ms) {
            return true;
        }
        let Some(user) = user else { return false };
        self.by_pair.blocked(&(source, user.to_string()), now_ms)
            || (self.by_account.blocked(&user.to_string(), now_ms)
                && !self.bindings(user).iter().any(|b| b.source == source))
    }

    /// Checks a request's digest answer (`Authorization`, or `Proxy-Authorization` for a call)
    /// at `now_ms`: the operator's login, or the reply to send (a challenge, a refusal). A
    /// challenge for a call is a 407 with Proxy-Authenticate. `request_uri` is the request's:
    /// the answer must be for it.
    pub fn authenticate(
        &mut self,
        authorization: Option<&str>,
        method: &str,
        request_uri: &str,
        source: IpAddr,
        user_agent: Option<&str>,
        now_ms: i64,
    ) -> Result<String, Reply> {
        self.prove(
            authorization,
            method,
            request_uri,
            source,
            user_agent,
            now_ms,
        )
        .map(|p| p.user)
    }

    fn prove(
        &mut self,
        authorization: Option<&str>,
        method: &str,
        request_uri: &str,
        source: IpAddr,
        user_agent: Option<&str>,
        now_ms: i64,
    ) -> Result<Proven, Reply> {
        let proxy = method != "REGISTER";
        let md5_only = user_agent.is_some_and(md5_only);
        let challenge = |this: &Self, stale: bool, event: RegEvent| {
            let mut headers = this.challenge(now_ms, source, stale, md5_only);
            if proxy {
                for h in &mut headers {
                    h.0 = "Proxy-Authenticate".into();
                }
            }
            Reply {
                status: if proxy { 407 } else { 401 },
                headers,
                event,
            }
        };
        if self.blocked(source, None, now_ms) {
            return Err(Reply::blocked());
        }
        let Some(auth) = authorization.and_then(digest::params) else {
            return Err(challenge(self, false, RegEvent::Challenged));
        };
        let get = |k: &str| auth.get(k).map(String::as_str).unwrap_or("");
        let nonce = get("nonce");
        let issued_ms = match self.check_nonce(nonce, source, now_ms) {
            None => return Err(challenge(self, false, RegEvent::Challenged)),
            Some((_, false)) => return Err(challenge(self, true, RegEvent::Stale)),
            Some((at, true)) => at,
        };
        let user = get("username").to_string();
        if self.blocked(source, Some(&user), now_ms) {
            return Err(Reply::blocked());
        }
        let sha256 = digest::is_sha256(&auth);
        let account = self.accounts.get(&user);
        let ha1 = account.and_then(|a| {
            if sha256 {
                a.ha1_sha256.clone()
            } else {
                a.ha1_md5.clone()
            }
        });
        // Compute the expected answer even for an unknown user, so both take the same time.
        let ha1 = ha1.unwrap_or_else(|| digest::ha1(&user, REALM, "-", sha256));
        let expected = digest::response(&auth, method, &ha1).unwrap_or_default();
        let matches = subtle_eq(expected.as_bytes(), get("response").as_bytes());
        if account.is_none() || !matches || get("realm") != REALM {
            return Err(self.refuse(source, &user, now_ms, "wrong credentials"));
        }
        // The answer is for this request, and taken once.
        if !same_request(get("uri"), request_uri) {
            let mut reply = self.refuse(source, &user, now_ms, "digest uri");
            reply.status = 400;
            reply.headers.push((
                "Warning".into(),
                "399 predial \"the digest uri is not the Request-URI\"".into(),
            ));
            return Err(reply);
        }
        let nc = if auth.contains_key("qop") {
            u32::from_str_radix(get("nc"), 16).unwrap_or(0)
        } else {
            1
        };
        if nc == 0 || !self.counts.accept(nonce, nc, issued_ms, now_ms) {
            return Err(challenge(self, true, RegEvent::Replayed));
        }
        Ok(Proven { user, issued_ms })
    }

    /// Answers a REGISTER at `now_ms`.
    pub fn register(&mut self, r: &Register, now_ms: i64) -> Reply {
        // Whose registration it is, is known before any answer: a blocked pair is told so at
        // once, not challenged.
        if self.blocked(r.source, Some(&r.user), now_ms) {
            return Reply::blocked();
        }
        let proven = match self.prove(
            r.authorization.as_deref(),
            "REGISTER",
            &r.uri,
            r.source,
            r.user_agent.as_deref(),
            now_ms,
        ) {
            Ok(p) => p,
            Err(reply) => return reply,
        };
        let user = proven.user;
        if user != r.user {
            return self.refuse(r.source, &user, now_ms, "credentials of another user");
        }
        // This account proved itself from here; others' failures from here still count.
        self.by_pair.clear(&(r.source, user.clone()));
        self.expire(now_ms);
        if r.contact.as_deref() == Some("*") {
            // RFC 3261 §10.3: `*` only with Expires: 0; and removing every device takes a
            // fresh answer, not one that could have been kept from earlier.
            if r.expires != Some(0) {
                return Reply {
                    status: 400,
                    headers: vec![(
                        "Warning".into(),
                        "399 predial \"Contact: * needs Expires: 0\"".into(),
                    )],
                    event: RegEvent::Refused { why: "contact *" },
                };
            }
            if now_ms - proven.issued_ms > FRESH_FOR_ALL.as_millis() as i64 {
                let md5_only = r.user_agent.as_deref().is_some_and(md5_only);
                return Reply {
                    status: 401,
                    headers: self.challenge(now_ms, r.source, true, md5_only),
                    event: RegEvent::Stale,
                };
            }
        }
        let contact = r.contact.as_deref().map(|c| {
            if c == "*" {
                c.to_string()
            } else {
                reachable(c, r.udp_source)
            }
        });
        let expires = r.expires.unwrap_or(MAX_EXPIRES).min(MAX_EXPIRES);
        let list = self.bindings.entry(user.clone()).or_default();
        match &contact {
            None => {}
            Some(c) if c == "*" || expires == 0 => {
                if c == "*" {
                    list.clear();
                } else {
                    list.retain(|b| &b.contact != c);
                }
                return Reply {
                    status: 200,
                    headers: Vec::new(),
                    event: RegEvent::Unregistered { user },
                };
            }
            Some(c) => {
                let expires = expires.max(MIN_EXPIRES);
                let other = list.iter().any(|b| &b.contact != c);
                if other && !self.many_devices {
                    return Reply {
                        status: 403,
                        headers: vec![(
                            "Warning".into(),
                            "399 predial \"another device is registered for this operator\"".into(),
                        )],
                        event: RegEvent::Refused {
                            why: "another device",
                        },
                    };
                }
                list.retain(|b| &b.contact != c);
                list.push(Binding {
                    contact: c.clone(),
                    source: r.source,
                    flow: r.flow,
                    expires_at_ms: now_ms + i64::from(expires) * 1000,
                });
                let headers = list
                    .iter()
                    .map(|b| {
                        (
                            "Contact".to_string(),
                            format!(
                                "<{}>;expires={}",
                                b.contact,
                                ((b.expires_at_ms - now_ms) / 1000).max(0)
                            ),
                        )
                    })
                    .collect();
                return Reply {
                    status: 200,
                    headers,
                    event: RegEvent::Registered { user, expires },
                };
            }
        }
        Reply {
            status: 200,
            headers: list
                .iter()
                .map(|b| ("Contact".into(), format!("<{}>", b.contact)))
                .collect(),
            event: RegEvent::Registered { user, expires: 0 },
        }
    }

    /// Drops expired bindings; returns the operators who lost their last one (logged out).
    pub fn expire(&mut self, now_ms: i64) -> Vec<String> {
        let mut gone = Vec::new();
        for (user, list) in &mut self.bindings {
            let had = !list.is_empty();
            list.retain(|b| b.expires_at_ms > now_ms);
            if had && list.is_empty() {
                gone.push(user.clone());
            }
        }
        gone
    }

    /// Operators with at least one device registered now.
    pub fn registered(&self, now_ms: i64) -> Vec<String> {
        self.bindings
            .iter()
            .filter(|(_, l)| l.iter().any(|b| b.expires_at_ms > now_ms))
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// An operator's devices now.
    pub fn bindings(&self, user: &str) -> &[Binding] {
        self.bindings.get(user).map_or(&[], Vec::as_slice)
    }
}

/// Whether a digest answer's `uri` is the request's Request-URI: as written (RFC 7616), or
/// without its user part (SIPp's `[authentication]` writes `sip:HOST:PORT`).
fn same_request(digest_uri: &str, request_uri: &str) -> bool {
    let (d, r) = (digest_uri.trim(), request_uri.trim());
    if d.eq_ignore_ascii_case(r) {
        return true;
    }
    match r
        .split_once(':')
        .and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?.1)))
    {
        Some((scheme, host)) => d.eq_ignore_ascii_case(&format!("{scheme}:{host}")),
        None => false,
    }
}

/// A Contact made reachable at the request's real source (`source`: over UDP; streams keep the
/// Contact, their connection is the way back). A phone behind NAT writes its private address,
/// and a Contact naming somewhere else would steer the operator's calls there: the binding
/// takes the source's address and port instead, keeping the user and the parameters.
fn reachable(contact: &str, source: Option<SocketAddr>) -> String {
    let Some(source) = source else {
        return contact.to_string();
    };
    let Some((scheme, rest)) = contact.split_once(':') else {
        return contact.to_string();
    };
    let (user, hostport) = match rest.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (hp, params) = hostport.split_at(hostport.find(';').unwrap_or(hostport.len()));
    let here = source.to_string();
    if hp.eq_ignore_ascii_case(&here) || (source.port() == 5060 && hp == source.ip().to_string()) {
        return contact.to_string();
    }
    match user {
        Some(u) => format!("{scheme}:{u}@{here}{params}"),
        None => format!("{scheme}:{here}{params}"),
    }
}

/// Equal without telling how much matched through timing.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    /// A softphone's answer to a challenge, as RFC 7616 computes it.
    fn answer(challenge: &str, user: &str, password: &str, sha256: bool) -> String {
        let p = digest::params(challenge).unwrap();
        let nonce = &p["nonce"];
        let uri = "sip:127.0.0.1";
        let hash = |t: String| {
            use sha2::Digest;
            if sha256 {
                hex(&sha2::Sha256::digest(t.as_bytes()))
            } else {
                hex(&md5::Md5::digest(t.as_bytes()))
            }
        };
        let ha1 = hash(format!("{user}:{REALM}:{password}"));
        let ha2 = hash(format!("REGISTER:{uri}"));
        let resp = hash(format!("{ha1}:{nonce}:00000001:abc:auth:{ha2}"));
        let alg = if sha256 { "SHA-256" } else { "MD5" };
        format!(
            "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={alg}, qop=auth, nc=00000001, cnonce=\"abc\""
        )
    }

    fn reg(user: &str, auth: Option<String>) -> Register {
        Register {
            user: user.into(),
            uri: "sip:127.0.0.1".into(),
            contact: Some(format!("sip:{user}@192.0.2.7:5060")),
            expires: Some(300),
            authorization: auth,
            source: IP,
            udp_source: Some(SocketAddr::new(IP, 5060)),
            flow: None,
            user_agent: None,
        }
    }

    fn registrar() -> Registrar {
        let mut r = Registrar::new([7; 32]);
        r.set_account("ann", Account::from_password("ann", "s3cret-pass"));
        r
    }

    #[test]
    fn md5_and_sha256_answers_register_the_phone() {
        for sha256 in [false, true] {
            let mut r = registrar();
            let c = r.register(&reg("ann", None), 1000);
            assert_eq!(c.status, 401);
            assert_eq!(c.headers.len(), 2, "SHA-256 and MD5 offered");
            let ch = &c.headers[usize::from(sha256)].1;
            let ok = r.register(
                &reg("ann", Some(answer(ch, "ann", "s3cret-pass", sha256))),
                2000,
            );
            assert_eq!(ok.status, 200, "{ok:?}");
            assert_eq!(r.bindings("ann").len(), 1);
            assert!(ok.headers[0].1.ends_with(";expires=300"), "{ok:?}");
        }
    }

    #[test]
    fn unknown_users_and_wrong_passwords_look_alike_and_get_blocked() {
        let mut r = registrar();
        let ch = r.register(&reg("ann", None), 0).headers[0].1.clone();
        let wrong = r.register(&reg("ann", Some(answer(&ch, "ann", "nope", false))), 10);
        let unknown = r.register(&reg("zed", Some(answer(&ch, "zed", "nope", false))), 20);
        assert_eq!(
            (wrong.status, &wrong.headers),
            (unknown.status, &unknown.headers)
        );
        assert_eq!(wrong.status, 403);
        for i in 0..4 {
            r.register(&reg("ann", Some(answer(&ch, "ann", "nope", false))), 30 + i);
        }
        // Five failures: even the right password is refused from that address for a while.
        let blocked = r.register(
            &reg("ann", Some(answer(&ch, "ann", "s3cret-pass", false))),
            100,
        );
        assert_eq!(blocked.event, RegEvent::Blocked);
        let later = BLOCK_FOR.as_millis() as i64 + 1000;
        let ch = r.register(&reg("ann", None), later).headers[0].1.clone();
        let ok = r.register(
            &reg("ann", Some(answer(&ch, "ann", "s3cret-pass", false))),
            later + 10,
        );
        assert_eq!(ok.status, 200);
    }

    #[test]
    fn old_and_forged_nonces() {
        let mut r = registrar();
        let ch = r.register(&reg("ann", None), 0).headers[0].1.clone();
        let late = NONCE_LIFE.as_millis() as i64 + 1;
        let stale = r.register(
            &reg("ann", Some(answer(&ch, "ann", "s3cret-pass", false))),
            late,
        );
        assert_eq!(stale.status, 401);
        assert!(stale.headers[0].1.contains("stale=true"));
        let other = Registrar::new([9; 32]);
        let forged = other.challenge(0, IP, false, false)[0].1.clone();
        let r2 = r.register(
            &reg("ann", Some(answer(&forged, "ann", "s3cret-pass", false))),
            10,
        );
        assert_eq!(r2.event, RegEvent::Challenged);
    }

    #[test]
    fn one_device_unless_allowed_and_bindings_expire() {
        let mut r = registrar();
        let ch = r.register(&reg("ann", None), 0).headers[0].1.clone();
        let a = |nc| Some(answer_with(&ch, "s3cret-pass", "sip:127.0.0.1", nc));
        assert_eq!(r.register(&reg("ann", a(1)), 10).status, 200);
        // A second phone, over a stream (its Contact is kept as written).
        let mut second = reg("ann", a(2));
        second.contact = Some("sip:ann@192.0.2.8:5060".into());
        second.udp_source = None;
        assert_eq!(r.register(&second, 20).status, 403);
        r.many_devices = true;
        second.authorization = a(3);
        assert_eq!(r.register(&second, 30).status, 200);
        assert_eq!(r.bindings("ann").len(), 2);
        assert_eq!(
            r.expire(301_000),
            vec!["ann".to_string()],
            "logged out when they expire"
        );
        assert!(r.bindings("ann").is_empty());
    }

    /// An answer to a challenge, with the uri and count given.
    fn answer_with(challenge: &str, password: &str, uri: &str, nc: u32) -> String {
        let p = digest::params(challenge).unwrap();
        let nonce = &p["nonce"];
        use sha2::Digest;
        let md5 = |t: String| hex(&md5::Md5::digest(t.as_bytes()));
        let ha1 = md5(format!("ann:{REALM}:{password}"));
        let ha2 = md5(format!("REGISTER:{uri}"));
        let resp = md5(format!("{ha1}:{nonce}:{nc:08x}:abc:auth:{ha2}"));
        let _ = sha2::Sha256::digest(b"");
        format!(
            "Digest username=\"ann\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5, qop=auth, nc={nc:08x}, cnonce=\"abc\""
        )
    }

    #[test]
    fn an_answer_is_taken_once_from_where_its_nonce_was_given_for_its_request() {
        let mut r = registrar();
        let ch = r.register(&reg("ann", None), 0).headers[0].1.clone();
        let a = answer_with(&ch, "s3cret-pass", "sip:127.0.0.1", 1);
        assert_eq!(r.register(&reg("ann", Some(a.clone())), 10).status, 200);
        // Replayed as captured: a fresh challenge, nothing registered anew.
        let replay = r.register(&reg("ann", Some(a.clone())), 20);
        assert_eq!((replay.status, &replay.event), (401, &RegEvent::Replayed));
        assert!(replay.headers[0].1.contains("stale=true"));
        // The next count on the same nonce is fine; going back is not.
        let a2 = answer_with(&ch, "s3cret-pass", "sip:127.0.0.1", 2);
        assert_eq!(r.register(&reg("ann", Some(a2)), 30).status, 200);
        assert_eq!(
            r.register(&reg("ann", Some(a)), 40).event,
            RegEvent::Replayed
        );
        // From another address the nonce is not ours at all.
        let mut elsewhere = reg(
            "ann",
            Some(answer_with(&ch, "s3cret-pass", "sip:127.0.0.1", 3)),
        );
        elsewhere.source = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9));
        assert_eq!(r.register(&elsewhere, 50).event, RegEvent::Challenged);
        // An answer computed for another Request-URI is refused.
        assert!(same_request("sip:127.0.0.1:5060", "sip:*2@127.0.0.1:5060"));
        assert!(!same_request("sip:127.0.0.1:5061", "sip:*2@127.0.0.1:5060"));
        let other_uri = answer_with(&ch, "s3cret-pass", "sip:elsewhere.example", 4);
        let bad = r.register(&reg("ann", Some(other_uri)), 60);
        assert_eq!(bad.status, 400, "{bad:?}");
    }

    #[test]
    fn removing_every_device_needs_expires_0_and_a_fresh_answer() {
        let mut r = registrar();
        let ch = r.register(&reg("ann", None), 0).headers[0].1.clone();
        let ok = answer_with(&ch, "s3cret-pass", "sip:127.0.0.1", 1);
        assert_eq!(r.register(&reg("ann", Some(ok)), 10).status, 200);
        let mut all = reg(
            "ann",
            Some(answer_with(&ch, "s3cret-pass", "sip:127.0.0.1", 2)),
        );
        all.contact = Some("*".into());
        assert_eq!(r.register(&all, 20).status, 400, "Expires is not 0");
        all.expires = Some(0);
        all.authorization = Some(answer_with(&ch, "s3cret-pass", "sip:127.0.0.1", 3));
        let late = r.register(&all, 40_000);
        assert_eq!((late.status, &late.event), (401, &RegEvent::Stale));
        assert_eq!(r.bindings("ann").len(), 1, "not removed");
        let ch = late.headers[0].1.clone();
        all.authorization = Some(answer_with(&ch, "s3cret-pass", "sip:127.0.0.1", 1));
        assert_eq!(r.register(&all, 40_010).status, 200);
        assert!(r.bindings("ann").is_empty());
    }

    #[test]
    fn a_binding_points_where_the_register_came_from() {
        let mut r = registrar();
        let ch = r.register(&reg("ann", None), 0).headers[0].1.clone();
        let mut natted = reg(
            "ann",
            Some(answer_with(&ch, "s3cret-pass", "sip:127.0.0.1", 1)),
        );
        natted.contact = Some("sip:ann@10.0.0.5:5062;transport=udp".into());
        natted.udp_source = Some("192.0.2.7:40123".parse().unwrap());
        assert_eq!(r.register(&natted, 10).status, 200);
        assert_eq!(
            r.bindings("ann")[0].contact,
            "sip:ann@192.0.2.7:40123;transport=udp"
        );
        assert_eq!(
            reachable("sip:ann@192.0.2.7", Some("192.0.2.7:5060".parse().unwrap())),
            "sip:ann@192.0.2.7"
        );
        assert_eq!(
            reachable("sip:ann@x.invalid;transport=ws", None),
            "sip:ann@x.invalid;transport=ws"
        );
    }

    #[test]
    fn one_account_proving_itself_does_not_clear_another_s_failures() {
        let mut r = registrar();
        r.set_account("zed", Account::from_password("zed", "zed-pass-123"));
        let ch = r.register(&reg("ann", None), 0).headers[0].1.clone();
        for i in 0..4 {
            r.register(
                &reg("zed", Some(answer(&ch, "zed", "guess", false))),
                10 + i,
            );
        }
        // Ann registers from the same address (an office behind one NAT).
        let ok = r.register(
            &reg("ann", Some(answer(&ch, "ann", "s3cret-pass", false))),
            20,
        );
        assert_eq!(ok.status, 200);
        // Zed's fifth failure still blocks zed from here...
        r.register(&reg("zed", Some(answer(&ch, "zed", "guess", false))), 30);
        let zed = r.register(&reg("zed", None), 40);
        assert_eq!(zed.event, RegEvent::Blocked, "told at once, not challenged");
        // ... and not ann.
        let ch3 = r.register(&reg("ann", None), 60).headers[0].1.clone();
        let ann = r.register(
            &reg("ann", Some(answer(&ch3, "ann", "s3cret-pass", false))),
            70,
        );
        assert_eq!(ann.status, 200, "{ann:?}");
    }
}
