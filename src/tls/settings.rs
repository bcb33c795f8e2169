//! The `server.tls` section compiled: paths resolved against gateway.toml's folder and the
//! pair checked at load.

use std::path::Path;

use crate::config::Spanned;

use super::{self as tls, TlsFiles};
use crate::config::Interp;
use crate::config::error::{ConfigError, Source};
use crate::config::raw;

/// Resolves `server.tls` paths against gateway.toml's folder and checks that the files make a
/// certificate and key pair, so a bad file fails at start-up rather than at the first handshake.
pub fn compile_tls(
    raw: &Spanned<raw::RawTls>,
    dir: &Path,
    src: &Source,
    interp: &Interp,
) -> Result<TlsFiles, ConfigError> {
    let tls = raw.get_ref();
    let files = TlsFiles {
        cert: dir.join(interp("server.tls.cert", &tls.cert)?),
        key: dir.join(interp("server.tls.key", &tls.key)?),
    };
    let chain = tls::cert_chain(&files.cert)
        .map_err(|e| src.invalid(tls.cert.span(), "server.tls.cert", e.to_string()))?;
    let key = tls::private_key(&files.key)
        .map_err(|e| src.invalid(tls.key.span(), "server.tls.key", e.to_string()))?;
    tls::certified_key(&files, chain, key)
        .map_err(|e| src.invalid(raw.span(), "server.tls", e.to_string()))?;
    Ok(files)
}
