//! predial's own certificate for SIP over TLS and WebSocket over TLS: the chain and the private
//! key read from PEM files, and a certificate resolver that hands each new TLS connection the
//! pair loaded last. `reload` reads the files again (on SIGHUP): a good new pair is used for the
//! connections that come after it, connections already open keep theirs, and a bad pair leaves
//! the old one in place. The listeners' rustls `ServerConfig` is made once and never changes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::Digest;

/// Why a certificate and key pair cannot be used; the message names the file and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFileError(pub String);

impl fmt::Display for TlsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsFileError {}

/// What was loaded, for the logs: the leaf certificate's SHA-256 fingerprint (as
/// `openssl x509 -noout -fingerprint -sha256` prints it) and how many certificates the chain has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub fingerprint: String,
    pub chain: usize,
}

impl fmt::Display for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SHA-256 fingerprint {}, {} certificate(s) in the chain",
            self.fingerprint, self.chain
        )
    }
}

/// The certificate and key files, and the pair read from them last.
pub struct TlsIdentity {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish()
    }
}

impl TlsIdentity {
    /// Reads the chain (`cert`, leaf first) and the private key (`key`: PKCS#8, PKCS#1 or
    /// SEC1) and checks that they belong together.
    pub fn load(cert: &Path, key: &Path) -> Result<(Arc<TlsIdentity>, Loaded), TlsFileError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (pair, loaded) = read_pair(cert, key, &provider)?;
        let identity = TlsIdentity {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            current: RwLock::new(pair),
        };
        Ok((Arc::new(identity), loaded))
    }

    /// Reads the files again; on success new connections get the new pair. On failure the
    /// pair in use stays.
    pub fn reload(&self) -> Result<Loaded, TlsFileError> {
        let (pair, loaded) = read_pair(&self.cert, &self.key, &self.provider)?;
        match self.current.write() {
            Ok(mut current) => *current = pair,
            Err(poisoned) => *poisoned.into_inner() = pair,
        }
        Ok(loaded)
    }

    /// The files it reads.
    pub fn files(&self) -> (&Path, &Path) {
        (&self.cert, &self.key)
    }

    /// The TLS server config of the listeners: no client certificates, TLS 1.2 and 1.3, the
    /// certificate from this identity at each handshake.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsFileError> {
        let config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsFileError(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for TlsIdentity {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = match self.current.read() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        Some(current.clone())
    }
}

/// Reads and checks a chain and its key.
fn read_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<(Arc<CertifiedKey>, Loaded), TlsFileError> {
    let cert_pem = read(cert, "certificate chain")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            TlsFileError(format!(
                "{}: not a PEM certificate chain ({e}); give the PEM file of the certificate and its intermediates (Let's Encrypt: fullchain.pem)",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(TlsFileError(format!(
            "{}: no certificate in it (no -----BEGIN CERTIFICATE----- block); give the PEM file of the certificate and its intermediates (Let's Encrypt: fullchain.pem)",
            cert.display()
        )));
    }
    let key_pem = read(key, "private key")?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        TlsFileError(format!(
            "{}: no private key in it ({e}); give the PEM file of the certificate's unencrypted private key (Let's Encrypt: privkey.pem)",
            key.display()
        ))
    })?;
    let fingerprint = fingerprint(&chain[0]);
    let count = chain.len();
    let pair = CertifiedKey::from_der(chain, private, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsFileError(format!(
            "{} does not go with {} (the key's public half is not the certificate's); give the key the certificate was made for",
            key.display(),
            cert.display()
        )),
        other => TlsFileError(format!(
            "{}: the private key cannot be used ({other}); give an RSA, ECDSA (P-256, P-384) or Ed25519 key",
            key.display()
        )),
    })?;
    Ok((
        Arc::new(pair),
        Loaded {
            fingerprint,
            chain: count,
        },
    ))
}

/// A file's bytes, or an error naming it.
fn read(path: &Path, what: &str) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => "check the path",
            std::io::ErrorKind::PermissionDenied => {
                "let the user predial runs as read it (for instance group-readable, mode 0640)"
            }
            _ => "check the file",
        };
        TlsFileError(format!(
            "{}: cannot read the {what} ({e}); {hint}",
            path.display()
        ))
    })
}

/// SHA-256 of a certificate's DER, as colon-separated upper-case hex.
fn fingerprint(cert: &CertificateDer<'_>) -> String {
    sha2::Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named() {
        let e = TlsIdentity::load(
            Path::new("/nonexistent/predial.crt"),
            Path::new("/nonexistent/predial.key"),
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("/nonexistent/predial.crt: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn a_file_without_a_certificate_is_named() {
        let dir = std::env::temp_dir().join(format!("predial-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("empty.crt");
        std::fs::write(&cert, "not a certificate\n").unwrap();
        let e = TlsIdentity::load(&cert, &dir.join("none.key")).unwrap_err();
        assert!(e.0.contains("empty.crt: no certificate in it"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
