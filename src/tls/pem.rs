//! Reading the listener's certificate chain and private key from PEM files into the pair rustls
//! signs handshakes with. Used at config load (to refuse bad files early) and on every reload.

use std::path::{Path, PathBuf};

use rustls::crypto::ring;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// Where the listener's certificate chain and private key live (`[server] tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, end-entity certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) of the end-entity certificate.
    pub key: PathBuf,
}

/// Why the certificate or key cannot be used. Each variant names the file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file cannot be read: missing, unreadable or a directory.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate, or a malformed one.
    #[error("{path}: {message}")]
    Cert { path: PathBuf, message: String },
    /// The key file holds no PEM private key, or a malformed one.
    #[error("{path}: {message}")]
    Key { path: PathBuf, message: String },
    /// Both files parse but do not make a usable pair: the key belongs to another certificate,
    /// the certificate is not valid X.509, or the key type is one rustls cannot sign with.
    #[error("{cert} and {key} are not a usable pair: {source}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    /// rustls refused the server settings; not a problem of the files.
    #[error("cannot build the TLS settings: {0}")]
    Settings(rustls::Error),
    /// The thread that watches the files for renewals cannot start.
    #[error("cannot start the certificate watcher: {0}")]
    Watcher(std::io::Error),
}

impl TlsFiles {
    /// Reads and checks both files: the pair the listener would serve.
    pub fn load(&self) -> Result<CertifiedKey, TlsError> {
        certified_key(self, cert_chain(&self.cert)?, private_key(&self.key)?)
    }
}

/// The certificate chain in the PEM file at `path`, end-entity first.
pub fn cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = read(path)?;
    let cert_error = |message: String| TlsError::Cert {
        path: path.to_owned(),
        message,
    };
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(format!("malformed PEM: {}", pem_message(e))))?;
    if chain.is_empty() {
        return Err(cert_error(
            "no certificate found: expected a -----BEGIN CERTIFICATE----- block".to_owned(),
        ));
    }
    Ok(chain)
}

/// The first private key in the PEM file at `path`.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = read(path)?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| TlsError::Key {
        path: path.to_owned(),
        message: match e {
            pem::Error::NoItemsFound => "no private key found: expected a -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY) block".to_owned(),
            other => format!("malformed PEM: {}", pem_message(other)),
        },
    })
}

/// Checks that `key` belongs to the first certificate of `chain` and that rustls (with the
/// ring provider) can sign with it.
pub fn certified_key(
    files: &TlsFiles,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<CertifiedKey, TlsError> {
    CertifiedKey::from_der(chain, key, &ring::default_provider()).map_err(|source| TlsError::Pair {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// A PEM error without the raw bytes `Debug` would print for a bad line.
fn pem_message(e: pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no -----END line".to_owned(),
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".to_owned(),
        other => other.to_string(),
    }
}
