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
use std::net::IpAddr;
use std::time::Duration;

pub mod accounts;

use crate::crypto::{hex, hmac_sha256};
use crate::sip::digest;

/// The digest realm of operators' accounts.
pub const REALM: &str = "predial";
/// How long a nonce is good for.
pub const NONCE_LIFE: Duration = Duration::from_secs(300);
pub const MAX_FAILURES: u32 = 5;
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

/// A device registered for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI (`sip:ann@192.0.2.7:5060`).
    pub contact: String,
    pub source: IpAddr,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegEvent {
    Challenged,
    Stale,
    Registered { user: String, expires: u32 },
    Unregistered { user: String },
    Refused { why: &'static str },
    Blocked,
}

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    since_ms: i64,
    blocked_until_ms: i64,
}

/// Phones whose SIP library gives up on the whole challenge when one of its algorithms is
/// unknown to it (libre before SHA-256 support: baresip 1.x answers `ENOSYS`): they are
/// challenged with MD5 alone.
fn md5_only(user_agent: &str) -> bool {
    let ua = user_agent.to_ascii_lowercase();
    ["baresip", "libre"].iter().any(|k| ua.contains(k))
}

pub struct Registrar {
    secret: [u8; 32],
    accounts: HashMap<String, Account>,
    bindings: HashMap<String, Vec<Binding>>,
    failures: HashMap<IpAddr, Failures>,
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
            failures: HashMap::new(),
            many_devices: false,
        }
    }

    pub fn set_account(&mut self, login: &str, account: Account) {
        self.accounts.insert(login.to_string(), account);
    }

    fn mac(&self, text: &str) -> String {
        hex(&hmac_sha256(&self.secret, &[text.as_bytes()])[..12])
    }

    /// A nonce for now: `TIME-MAC`.
    fn nonce(&self, now_ms: i64) -> String {
        let t = now_ms.to_string();
        format!("{t}-{}", self.mac(&t))
    }

    /// Whether a nonce is ours (Some) and fresh (true).
    fn check_nonce(&self, nonce: &str, now_ms: i64) -> Option<bool> {
        let (t, mac) = nonce.split_once('-')?;
        if self.mac(t) != mac {
            return None;
        }
        let at: i64 = t.parse().ok()?;
        Some(now_ms - at <= NONCE_LIFE.as_millis() as i64 && at <= now_ms + 5_000)
    }

    fn challenge(&self, now_ms: i64, stale: bool, md5_only: bool) -> Vec<(String, String)> {
        let nonce = self.nonce(now_ms);
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

    fn refuse(&mut self, source: IpAddr, now_ms: i64, why: &'static str) -> Reply {
        let f = self.failures.entry(source).or_default();
        if now_ms - f.since_ms > FAILURE_WINDOW.as_millis() as i64 {
            *f = Failures {
                count: 0,
                since_ms: now_ms,
                blocked_until_ms: f.blocked_until_ms,
            };
        }
        f.count += 1;
        if f.count >= MAX_FAILURES {
            f.blocked_until_ms = now_ms + BLOCK_FOR.as_millis() as i64;
            tracing::warn!(%source, failures = f.count, "registrations from this address refused for 5 minutes after repeated failures");
        }
        Reply {
            status: 403,
            headers: Vec::new(),
            event: RegEvent::Refused { why },
        }
    }

    /// Checks a request's digest answer (`Authorization`, or `Proxy-Authorization` for a call)
    /// at `now_ms`: the operator's login, or the reply to send (a challenge, a refusal). A
    /// challenge for a call is a 407 with Proxy-Authenticate.
    pub fn authenticate(
        &mut self,
        authorization: Option<&str>,
        method: &str,
        source: IpAddr,
        user_agent: Option<&str>,
        now_ms: i64,
    ) -> Result<String, Reply> {
        let proxy = method != "REGISTER";
        let md5_only = user_agent.is_some_and(md5_only);
        let challenge = |this: &Self, stale: bool, event: RegEvent| {
            let mut headers = this.challenge(now_ms, stale, md5_only);
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
        if self
            .failures
            .get(&source)
            .is_some_and(|f| f.blocked_until_ms > now_ms)
        {
            return Err(Reply {
                status: 403,
                headers: Vec::new(),
                event: RegEvent::Blocked,
            });
        }
        let Some(auth) = authorization.and_then(digest::params) else {
            return Err(challenge(self, false, RegEvent::Challenged));
        };
        let get = |k: &str| auth.get(k).map(String::as_str).unwrap_or("");
        match self.check_nonce(get("nonce"), now_ms) {
            None => return Err(challenge(self, false, RegEvent::Challenged)),
            Some(false) => return Err(challenge(self, true, RegEvent::Stale)),
            Some(true) => {}
        }
        let user = get("username").to_string();
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
            return Err(self.refuse(source, now_ms, "wrong credentials"));
        }
        Ok(user)
    }

    /// Answers a REGISTER at `now_ms`.
    pub fn register(&mut self, r: &Register, now_ms: i64) -> Reply {
        let user = match self.authenticate(
            r.authorization.as_deref(),
            "REGISTER",
            r.source,
            r.user_agent.as_deref(),
            now_ms,
        ) {
            Ok(user) => user,
            Err(reply) => return reply,
        };
        if user != r.user {
            return self.refuse(r.source, now_ms, "credentials of another user");
        }
        self.failures.remove(&r.source);
        self.expire(now_ms);
        let expires = r.expires.unwrap_or(MAX_EXPIRES).min(MAX_EXPIRES);
        let list = self.bindings.entry(user.clone()).or_default();
        match &r.contact {
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
        for i in 0..3 {
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
        let forged = other.challenge(0, false, false)[0].1.clone();
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
        let a = answer(&ch, "ann", "s3cret-pass", false);
        assert_eq!(r.register(&reg("ann", Some(a.clone())), 10).status, 200);
        let mut second = reg("ann", Some(a.clone()));
        second.contact = Some("sip:ann@192.0.2.8:5060".into());
        assert_eq!(r.register(&second, 20).status, 403);
        r.many_devices = true;
        assert_eq!(r.register(&second, 30).status, 200);
        assert_eq!(r.bindings("ann").len(), 2);
        assert_eq!(
            r.expire(301_000),
            vec!["ann".to_string()],
            "logged out when they expire"
        );
        assert!(r.bindings("ann").is_empty());
    }
}
