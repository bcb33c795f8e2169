//! TLS termination for the SCIM listener: TLS 1.2 and 1.3 with the ring provider, ALPN `h2`
//! and `http/1.1`, and a certificate re-read from disk when it is renewed.

mod pem;
mod reload;
pub mod settings;

use std::sync::Arc;

use rustls::crypto::ring;
use tokio_rustls::TlsAcceptor;

pub use pem::{TlsError, TlsFiles, cert_chain, certified_key, private_key};

/// ALPN protocol id of HTTP/2 (RFC 9113 §3.2).
pub(super) const ALPN_H2: &[u8] = b"h2";
/// ALPN protocol id of HTTP/1.1 (RFC 7301 §6).
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The handshake side of the listener, serving the pair in `files` and whatever replaces it.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let resolver = reload::watch(files.clone())?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Settings)?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
