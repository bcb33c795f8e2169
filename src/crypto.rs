//! The process's rustls crypto provider. The crate is built without a default one (to keep the
//! dependency tree lean), so whoever starts the process installs *ring* once, before any TLS
//! client is built: the CLI entry does, and so do the tests and benches. Building an HTTP client
//! goes through [`http_client`], which refuses with an error, rather than letting reqwest
//! panic, when nobody did.

use thiserror::Error;

/// Installs *ring* as the process's rustls provider. Idempotent: later calls find it installed.
pub fn install_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// No rustls provider was installed before an HTTP client was built.
#[derive(Debug, Error)]
#[error("no TLS crypto provider is installed (call scim_gateway::crypto::install_provider first)")]
pub struct NoProvider;

/// A reqwest client builder, once a rustls provider is installed (reqwest panics otherwise).
pub fn http_client() -> Result<reqwest::ClientBuilder, NoProvider> {
    match rustls::crypto::CryptoProvider::get_default() {
        Some(_) => Ok(reqwest::Client::builder()),
        None => Err(NoProvider),
    }
}
