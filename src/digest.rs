//! Digest authentication's arithmetic (RFC 2617, RFC 7616), for both sides: the registrar
//! checking operators' answers, and the SIP agent answering trunks from a stored HA1 instead
//! of a password. It names neither `sip` nor `registrar`.
//!
//! PBX admins often keep only HA1 = H(user:realm:password) for a trunk, not the password. The
//! SIP stack computes digest answers from a password only, so for such trunks it answers with a
//! placeholder and the answer is recomputed here, on its way out, from the HA1: the header's
//! own nonce, uri, qop, nc and cnonce are kept, only `response` changes.

use std::collections::HashMap;
use std::sync::RwLock;

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::crypto::hex;

/// The HA1 of the users whose digest answers are recomputed.
#[derive(Debug, Default)]
pub struct Ha1Book {
    by_user: RwLock<HashMap<String, String>>,
}

impl Ha1Book {
    pub fn insert(&self, user: &str, ha1: &str) {
        if let Ok(mut map) = self.by_user.write() {
            map.insert(user.to_string(), ha1.to_ascii_lowercase());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_user.read().map_or(true, |m| m.is_empty())
    }

    /// The header value with its `response` recomputed, when its user has an HA1 here.
    pub fn rewrite(&self, header: &str, method: &str) -> Option<String> {
        let params = params(header)?;
        let user = params.get("username")?;
        let ha1 = self.by_user.read().ok()?.get(user.as_str())?.clone();
        answer_with_ha1(header, method, &ha1)
    }
}

/// H() of the algorithm named in the header (MD5 unless SHA-256).
fn hash(sha256: bool, text: &str) -> String {
    if sha256 {
        hex(&Sha256::digest(text.as_bytes()))
    } else {
        hex(&Md5::digest(text.as_bytes()))
    }
}

/// `Digest a="b", c=d` as a map of lower-case names to unquoted values.
pub(crate) fn params(header: &str) -> Option<HashMap<String, String>> {
    let rest = header.trim_start().strip_prefix("Digest")?;
    let mut out = HashMap::new();
    for part in split_params(rest) {
        let (name, value) = part.split_once('=')?;
        out.insert(
            name.trim().to_ascii_lowercase(),
            value.trim().trim_matches('"').to_string(),
        );
    }
    Some(out)
}

/// Splits `Digest realm="a,b", nonce="x"` at commas outside quotes.
pub(crate) fn split_params(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// Recomputes the `response` of an Authorization / Proxy-Authorization value from `ha1`.
/// `None` when the header is not a digest answer or the HA1 does not fit its algorithm.
pub fn answer_with_ha1(header: &str, method: &str, ha1: &str) -> Option<String> {
    let response = response(&params(header)?, method, ha1)?;
    // Replace the value of the response parameter, quoted as before.
    let mut out = String::with_capacity(header.len());
    let rest = header.trim_start().strip_prefix("Digest")?;
    out.push_str("Digest");
    let mut replaced = false;
    for (i, part) in split_params(rest).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let name = part
            .split_once('=')
            .map(|(n, _)| n.trim().to_ascii_lowercase());
        if name.as_deref() == Some("response") {
            let lead = &part[..part.len() - part.trim_start().len()];
            out.push_str(&format!("{lead}response=\"{response}\""));
            replaced = true;
        } else {
            out.push_str(part);
        }
    }
    replaced.then_some(out)
}

/// Whether an answer's algorithm is SHA-256 (else MD5).
pub(crate) fn is_sha256(p: &HashMap<String, String>) -> bool {
    let algorithm = p
        .get("algorithm")
        .map_or("MD5", String::as_str)
        .to_ascii_uppercase();
    algorithm.starts_with("SHA-256") || algorithm.starts_with("SHA256")
}

/// The digest `response` an answer with these parameters (an Authorization header's) must
/// carry for `method`, from `ha1` (RFC 2617, RFC 7616; MD5, SHA-256 and their -sess forms).
/// `None` when a parameter is missing or the HA1 does not fit the algorithm.
pub(crate) fn response(p: &HashMap<String, String>, method: &str, ha1: &str) -> Option<String> {
    let sha256 = is_sha256(p);
    if ha1.len() != if sha256 { 64 } else { 32 } || !ha1.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (nonce, uri) = (p.get("nonce")?, p.get("uri")?);
    let mut ha1 = ha1.to_ascii_lowercase();
    if p.get("algorithm")
        .is_some_and(|a| a.to_ascii_uppercase().ends_with("-SESS"))
    {
        ha1 = hash(sha256, &format!("{ha1}:{nonce}:{}", p.get("cnonce")?));
    }
    let ha2 = hash(sha256, &format!("{method}:{uri}"));
    Some(match p.get("qop") {
        Some(qop) => hash(
            sha256,
            &format!(
                "{ha1}:{nonce}:{}:{}:{qop}:{ha2}",
                p.get("nc")?,
                p.get("cnonce")?
            ),
        ),
        None => hash(sha256, &format!("{ha1}:{nonce}:{ha2}")),
    })
}

/// HA1 = H(user:realm:password), as a PBX admin would compute it to store.
pub fn ha1(user: &str, realm: &str, password: &str, sha256: bool) -> String {
    hash(sha256, &format!("{user}:{realm}:{password}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2617_example() {
        // RFC 2617 section 3.5: Mufasa / "Circle Of Life".
        let ha1 = ha1("Mufasa", "testrealm@host.com", "Circle Of Life", false);
        let header = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="0000", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let out = answer_with_ha1(header, "GET", &ha1).unwrap();
        assert!(
            out.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{out}"
        );
        assert!(out.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#));
    }

    #[test]
    fn rfc_7616_sha256_example() {
        // RFC 7616 section 3.9.1: Mufasa / "Circle of Life", SHA-256.
        let ha1 = ha1("Mufasa", "http-auth@example.org", "Circle of Life", true);
        let header = r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="x", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let out = answer_with_ha1(header, "GET", &ha1).unwrap();
        assert!(
            out.contains(
                r#"response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1""#
            ),
            "{out}"
        );
    }

    #[test]
    fn the_book_rewrites_only_its_users() {
        let book = Ha1Book::default();
        book.insert("predial", &ha1("predial", "r", "secret", false));
        let theirs = r#"Digest username="other", realm="r", nonce="n", uri="sip:x", response="y""#;
        assert_eq!(book.rewrite(theirs, "INVITE"), None);
        let ours = theirs.replace("other", "predial");
        let out = book.rewrite(&ours, "INVITE").unwrap();
        let expected = hash(
            false,
            &format!(
                "{}:n:{}",
                ha1("predial", "r", "secret", false),
                hash(false, "INVITE:sip:x")
            ),
        );
        assert!(out.contains(&expected), "{out}");
        // A SHA-256 answer with an MD5 HA1 cannot be computed.
        let sha = ours.replace("response", "algorithm=SHA-256, response");
        assert_eq!(book.rewrite(&sha, "INVITE"), None);
    }
}
