//! A trunk profile: one `sip-profiles/*.toml` file per trunk, as a PBX admin writes it.
//!
//! ```toml
//! name = "customer-main"
//! owner = "customer"            # customer | own: the customer's own lines go first
//! address = "sip.customer.example:5060"
//! transport = "udp"             # udp | tcp | tls
//! order = 1                     # within the same owner, lower first
//! channels = 30                 # calls at once
//! cps = 10                      # new calls per second
//! caller_id = "+74951234567"
//! codecs = ["PCMU", "PCMA"]
//!
//! [caller_id_by_campaign]       # optional: another caller id per campaign id
//! 2 = "+74957654321"
//!
//! [number]                      # how the trunk wants numbers written
//! format = "e164"               # e164 (+79161234567) | digits (79161234567) | national (89161234567)
//! prefix = ""                   # put before the number (an outside-line digit, a route code)
//!
//! [auth]                        # digest credentials when the trunk challenges (401/407)
//! user = "predial"
//! password = "secret"           # or ha1 = "<hex of H(user:realm:password)>" instead
//! realm = "sip.customer.example"  # optional: the realm the ha1 was made for
//!
//! [tls]                         # with transport = "tls": trust this CA (else the system's)
//! ca = "customer-ca.pem"
//!
//! [registration]                # register to the trunk (else IP-authenticated peering)
//! expires = "300s"
//! registrar = "sip.customer.example:5060"   # default: address
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use predial_core::dialer::Phone;

use crate::sip::{Credentials, Secret};
use predial_core::time::span;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// The customer's own lines: used first.
    Customer,
    /// Ours: the backup.
    Own,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// `+79161234567`
    #[default]
    E164,
    /// `79161234567`
    Digits,
    /// The national form with the trunk prefix of Russia and the CIS: `89161234567`.
    National,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumberRule {
    pub format: NumberFormat,
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub user: String,
    pub password: Option<String>,
    /// MD5(user:realm:password), instead of the password.
    pub ha1: Option<String>,
    pub realm: Option<String>,
}

/// TLS settings (`transport = "tls"`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// Certificates (PEM) that may sign the trunk's certificate, when the trunk's CA is not in
    /// the system's store. A relative path is read from the profile's folder.
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    #[serde(with = "span", default = "default_expires")]
    pub expires: Duration,
    pub registrar: Option<String>,
}

fn default_expires() -> Duration {
    Duration::from_secs(300)
}

fn default_codecs() -> Vec<String> {
    vec!["PCMU".into(), "PCMA".into()]
}

fn default_failures() -> u32 {
    3
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkProfile {
    pub name: String,
    pub owner: Owner,
    pub address: String,
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub order: u32,
    pub channels: u32,
    pub cps: f64,
    pub caller_id: String,
    #[serde(default)]
    pub caller_id_by_campaign: BTreeMap<String, String>,
    #[serde(default = "default_codecs")]
    pub codecs: Vec<String>,
    #[serde(default)]
    pub number: NumberRule,
    pub auth: Option<Auth>,
    pub registration: Option<Registration>,
    pub tls: Option<TlsSettings>,
    /// Consecutive trunk failures (503 before ringing, no response, refused credentials) after
    /// which the trunk is set aside and calls go to the next one.
    #[serde(default = "default_failures")]
    pub failing_after: u32,
    /// Ask the trunk OPTIONS this often (0: never) and set it aside when it does not answer.
    #[serde(with = "span", default)]
    pub keepalive: Duration,
    /// `false` keeps the profile but takes the trunk out of use (state `disabled`).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Where the trunk's inbound calls come from besides its address (and its registrar):
    /// `IP` or `IP:PORT`. Calls from anywhere else are not the trunk's.
    #[serde(default)]
    pub inbound_from: Vec<String>,
    /// Inbound calls must also answer a digest challenge with these credentials (realm
    /// `predial`): a carrier that can, proves its calls are its own, not only by address.
    pub inbound_auth: Option<InboundAuth>,
}

/// The credentials a trunk's inbound calls answer our challenge with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundAuth {
    pub user: String,
    pub password: Option<String>,
    /// MD5(user:predial:password), instead of the password.
    pub ha1: Option<String>,
}

fn default_enabled() -> bool {
    true
}

impl TrunkProfile {
    /// The transport calls and registrations use.
    pub fn sip_transport(&self) -> crate::sip::Transport {
        match self.transport {
            Transport::Udp => crate::sip::Transport::Udp,
            Transport::Tcp => crate::sip::Transport::Tcp,
            Transport::Tls => crate::sip::Transport::Tls,
        }
    }
}

impl Auth {
    /// The credentials calls and registrations answer challenges with.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            user: self.user.clone(),
            secret: match (&self.password, &self.ha1) {
                (Some(p), _) => Secret::Password(p.clone()),
                (None, Some(h)) => Secret::Ha1(h.clone()),
                (None, None) => Secret::Password(String::new()),
            },
        }
    }
}

/// A problem in a profile: the field, and what to do.
pub type Problem = (String, String);

impl TrunkProfile {
    /// Every problem, not just the first.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out: Vec<Problem> = Vec::new();
        let mut bad = |f: &str, m: &str| out.push((f.to_string(), m.to_string()));
        if self.name.trim().is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bad(
                "name",
                "use letters, digits, - _ . (it names the trunk in logs and reports)",
            );
        }
        if host_port(&self.address).is_none() {
            bad(
                "address",
                "write it as host:port, like sip.example.com:5060 or 127.0.0.1:5062 or [::1]:5060",
            );
        }
        if self.channels == 0 || self.channels > 100_000 {
            bad("channels", "use 1 to 100000 calls at once");
        }
        if !(self.cps > 0.0 && self.cps <= 10_000.0) {
            bad(
                "cps",
                "use more than 0 and at most 10000 new calls per second",
            );
        }
        if Phone::from_e164(&self.caller_id).is_none() {
            bad("caller_id", "write it in E.164, like +74951234567");
        }
        for (campaign, id) in &self.caller_id_by_campaign {
            if campaign.parse::<u32>().is_err() {
                bad(
                    &format!("caller_id_by_campaign.{campaign}"),
                    "the key is a campaign id (a number)",
                );
            }
            if Phone::from_e164(id).is_none() {
                bad(
                    &format!("caller_id_by_campaign.{campaign}"),
                    "write it in E.164, like +74951234567",
                );
            }
        }
        if self.codecs.is_empty() {
            bad("codecs", "give at least one: PCMU, PCMA");
        }
        for c in &self.codecs {
            if !["PCMU", "PCMA"].contains(&c.to_ascii_uppercase().as_str()) {
                bad(
                    "codecs",
                    &format!("`{c}` is not supported: use PCMU and/or PCMA (G.711)"),
                );
            }
        }
        if !self
            .number
            .prefix
            .chars()
            .all(|c| c.is_ascii_digit() || c == '+' || c == '*' || c == '#')
        {
            bad("number.prefix", "digits only (and + * #)");
        }
        if self.tls.is_some() && self.transport != Transport::Tls {
            bad(
                "tls",
                "[tls] settings apply to transport = \"tls\" only: remove them or set the transport",
            );
        }
        if let Some(a) = &self.auth {
            if a.user.trim().is_empty() {
                bad("auth.user", "give the user name the trunk expects");
            }
            match (&a.password, &a.ha1) {
                (Some(_), Some(_)) => bad("auth.ha1", "give either password or ha1, not both"),
                (None, None) => bad("auth.password", "give the password (or ha1)"),
                (None, Some(h)) => {
                    if !(h.len() == 32 || h.len() == 64)
                        || !h.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        bad(
                            "auth.ha1",
                            "write the hex digest of user:realm:password: 32 hex digits (MD5) or 64 (SHA-256)",
                        );
                    }
                }
                (Some(_), None) => {}
            }
        }
        if let Some(r) = &self.registration {
            if self.auth.is_none() {
                bad(
                    "registration",
                    "registering needs [auth] with the user and password",
                );
            }
            if r.expires < Duration::from_secs(30) || r.expires > Duration::from_secs(86_400) {
                bad("registration.expires", "use 30s to 24h (300s is usual)");
            }
            if let Some(reg) = &r.registrar
                && host_port(reg).is_none()
            {
                bad("registration.registrar", "write it as host:port");
            }
        }
        if self.failing_after == 0 {
            bad("failing_after", "at least 1");
        }
        if let Some(a) = &self.inbound_auth {
            if a.user.trim().is_empty() {
                bad(
                    "inbound_auth.user",
                    "the user name the carrier's calls give",
                );
            }
            match (&a.password, &a.ha1) {
                (Some(p), None) if p.len() >= 8 => {}
                (Some(_), None) => bad("inbound_auth.password", "at least 8 characters"),
                (None, Some(h)) if h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {}
                (None, Some(_)) => bad(
                    "inbound_auth.ha1",
                    "32 hex digits: MD5(user:predial:password)",
                ),
                _ => bad("inbound_auth", "give password or ha1, one of them"),
            }
        }
        if !self.keepalive.is_zero() && self.keepalive < Duration::from_secs(5) {
            bad("keepalive", "at least 5s (or 0s for none)");
        }
        out
    }

    /// The caller id for a campaign.
    pub fn caller_id_for(&self, campaign: u32) -> &str {
        self.caller_id_by_campaign
            .get(&campaign.to_string())
            .map_or(&self.caller_id, String::as_str)
    }

    /// The number as this trunk wants it written.
    pub fn dial_string(&self, phone: Phone) -> String {
        let digits = phone.digit_string();
        let number = match self.number.format {
            NumberFormat::E164 => format!("+{digits}"),
            NumberFormat::Digits => digits,
            NumberFormat::National => match digits.strip_prefix('7') {
                Some(rest) if rest.len() == 10 => format!("8{rest}"),
                // Outside Russia and Kazakhstan: the international form they dial (810 + number).
                _ => format!("810{digits}"),
            },
        };
        format!("{}{}", self.number.prefix, number)
    }
}

/// `host:port`, `[v6]:port`: (host, port).
pub fn host_port(text: &str) -> Option<(String, u16)> {
    let text = text.trim();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        (format!("[{h}]"), p)
    } else {
        let (h, p) = text.rsplit_once(':')?;
        if h.contains(':') {
            return None;
        }
        (h.to_string(), p)
    };
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c));
    host_ok.then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> TrunkProfile {
        toml::from_str(
            r#"
            name = "customer-main"
            owner = "customer"
            address = "127.0.0.1:5062"
            channels = 30
            cps = 10
            caller_id = "+74951234567"
            [number]
            format = "national"
            prefix = "9"
            [auth]
            user = "predial"
            password = "secret"
            [registration]
            expires = "300s"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn a_good_profile_has_no_problems() {
        let p = profile();
        assert!(p.problems().is_empty(), "{:?}", p.problems());
        assert_eq!(p.codecs, ["PCMU", "PCMA"]);
        assert_eq!(p.failing_after, 3);
    }

    #[test]
    fn numbers_are_written_as_the_trunk_wants() {
        let mut p = profile();
        let ru = Phone::from_e164("+79161234567").unwrap();
        let by = Phone::from_e164("+375291234567").unwrap();
        assert_eq!(p.dial_string(ru), "989161234567");
        assert_eq!(p.dial_string(by), "9810375291234567");
        p.number = NumberRule {
            format: NumberFormat::E164,
            prefix: String::new(),
        };
        assert_eq!(p.dial_string(ru), "+79161234567");
        p.number.format = NumberFormat::Digits;
        assert_eq!(p.dial_string(ru), "79161234567");
    }

    #[test]
    fn every_problem_is_named() {
        let mut p = profile();
        p.address = "nowhere".into();
        p.channels = 0;
        p.caller_id = "8 495 123".into();
        p.codecs = vec!["opus".into()];
        p.auth.as_mut().unwrap().ha1 = Some("abc".into());
        let fields: Vec<String> = p.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            ["address", "channels", "caller_id", "codecs", "auth.ha1"]
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(
            host_port("sip.example.com:5060"),
            Some(("sip.example.com".into(), 5060))
        );
        assert_eq!(host_port("[::1]:5070"), Some(("[::1]".into(), 5070)));
        assert_eq!(host_port("::1:5070"), None);
        assert_eq!(host_port("host"), None);
        assert_eq!(host_port("host:0"), None);
    }
}
