//! Fix-ups on messages as they cross the SIP stack, for what the stack (rsipstack 0.7.14) reads
//! or writes wrongly:
//!
//! - digest challenges with `algorithm=SHA-256` (RFC 7616/8760) fail to parse (it knows only
//!   `SHA256`), and a `qop="auth,auth-int"` list fails too: challenges are rewritten before the
//!   stack reads them (`SHA256`, `qop="auth"`), and our answers are written back with the standard
//!   `SHA-256` token. The algorithm name is not part of the digest, so the answer stays valid.
//! - answers for users known only by their HA1 are recomputed from it (`crate::digest`).

use std::sync::Arc;

use rsipstack::sip::{Header, SipMessage};
use rsipstack::transaction::endpoint::MessageInspector;
use rsipstack::transport::SipAddr;

use crate::digest::{Ha1Book, split_params};

pub struct Fixups {
    /// Users whose digest answers are recomputed from a stored HA1.
    pub ha1: Arc<Ha1Book>,
}

/// Rewrites a challenge's parameters into what the stack understands.
pub fn challenge_in(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, part) in split_params(value).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let trimmed = part.trim_start();
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("algorithm=") {
            let alg = trimmed["algorithm=".len()..].trim().trim_matches('"');
            let fixed = match alg.to_ascii_uppercase().as_str() {
                "SHA-256" => "SHA256",
                "SHA-256-SESS" => "SHA256-sess",
                "SHA-512-256" | "SHA-512" => "SHA512",
                _ => alg,
            };
            out.push_str(&part[..part.len() - trimmed.len()]);
            out.push_str("algorithm=");
            out.push_str(fixed);
        } else if lower.starts_with("qop=") {
            let list = trimmed["qop=".len()..].trim().trim_matches('"');
            let offers_auth = list
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth"));
            out.push_str(&part[..part.len() - trimmed.len()]);
            if offers_auth {
                out.push_str("qop=\"auth\"");
            } else {
                out.push_str(trimmed);
            }
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Writes our answer's algorithm with the standard token.
pub fn answer_out(value: &str) -> String {
    value
        .replace("algorithm=SHA256-sess", "algorithm=SHA-256-sess")
        .replace("algorithm=SHA256", "algorithm=SHA-256")
}

impl MessageInspector for Fixups {
    fn before_send(&self, mut msg: SipMessage, _dest: Option<&SipAddr>) -> SipMessage {
        if let SipMessage::Request(req) = &mut msg {
            let method = req.method.to_string();
            let book = (!self.ha1.is_empty()).then_some(&self.ha1);
            let fix = |value: &str| -> Option<String> {
                let standard = value
                    .contains("algorithm=SHA256")
                    .then(|| answer_out(value));
                let current = standard.as_deref().unwrap_or(value);
                match book.and_then(|b| b.rewrite(current, &method)) {
                    Some(v) => Some(v),
                    None => standard,
                }
            };
            for h in req.headers.iter_mut() {
                match h {
                    Header::Authorization(a) => {
                        if let Some(v) = fix(a.value()) {
                            *h = Header::Authorization(v.into());
                        }
                    }
                    Header::ProxyAuthorization(a) => {
                        if let Some(v) = fix(a.value()) {
                            *h = Header::ProxyAuthorization(v.into());
                        }
                    }
                    _ => {}
                }
            }
        }
        msg
    }

    fn after_received(&self, mut msg: SipMessage, _from: Option<&SipAddr>) -> SipMessage {
        if let SipMessage::Response(resp) = &mut msg {
            for h in resp.headers.iter_mut() {
                match h {
                    Header::WwwAuthenticate(c) => {
                        *h = Header::WwwAuthenticate(challenge_in(c.value()).into())
                    }
                    Header::ProxyAuthenticate(c) => {
                        *h = Header::ProxyAuthenticate(challenge_in(c.value()).into())
                    }
                    _ => {}
                }
            }
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_challenges_are_made_readable_and_answers_standard() {
        let c = r#"Digest realm="predial.test", nonce="abc,def", algorithm=SHA-256, qop="auth,auth-int""#;
        assert_eq!(
            challenge_in(c),
            r#"Digest realm="predial.test", nonce="abc,def", algorithm=SHA256, qop="auth""#
        );
        let md5 = r#"Digest realm="r", nonce="n", qop="auth", algorithm=MD5"#;
        assert_eq!(challenge_in(md5), md5);
        assert_eq!(
            answer_out(r#"Digest username="u", algorithm=SHA256, qop=auth"#),
            r#"Digest username="u", algorithm=SHA-256, qop=auth"#
        );
    }
}
