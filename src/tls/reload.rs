//! Certificate renewal without a restart: the resolver hands every new handshake the current
//! pair, and a watcher thread swaps in a new pair once both files change and parse.

use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::pem::{TlsError, TlsFiles};
use crate::config::stamp::{FileStamp, stamp as file_stamp};

/// How often the watcher looks at the files' modification times.
const POLL: Duration = Duration::from_secs(1);

/// Gives each handshake the pair loaded last; established connections keep the one they got.
#[derive(Debug)]
pub struct ReloadingResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingResolver {
    pub fn new(pair: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(pair)),
        }
    }

    fn swap(&self, pair: CertifiedKey) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(pair);
    }
}

impl ResolvesServerCert for ReloadingResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// What the watcher compares between polls: the stamp of each file.
type Stamp = [FileStamp; 2];

fn stamp(files: &TlsFiles) -> Stamp {
    [file_stamp(&files.cert), file_stamp(&files.key)]
}

/// Loads the pair and starts a thread that reloads it when the files change, for as long as
/// the returned resolver is in use (polled: see [`crate::config::stamp`] for why).
pub fn watch(files: TlsFiles) -> Result<Arc<ReloadingResolver>, TlsError> {
    // Stamped before loading, so a change during the load is seen on the first poll.
    let mut seen = stamp(&files);
    let resolver = Arc::new(ReloadingResolver::new(files.load()?));
    let weak = Arc::downgrade(&resolver);
    std::thread::Builder::new()
        .name("tls-reload".to_owned())
        .spawn(move || {
            loop {
                #[expect(
                    clippy::disallowed_methods,
                    reason = "the watcher's own thread, not a tokio worker"
                )]
                std::thread::sleep(POLL);
                if !poll(&weak, &files, &mut seen) {
                    return;
                }
            }
        })
        .map_err(TlsError::Watcher)?;
    Ok(resolver)
}

/// One look at the files; false once the listener has dropped the resolver.
fn poll(resolver: &Weak<ReloadingResolver>, files: &TlsFiles, seen: &mut Stamp) -> bool {
    let Some(resolver) = resolver.upgrade() else {
        return false;
    };
    let now = stamp(files);
    if now == *seen {
        return true;
    }
    // Remembered even when the load fails: a bad pair is reported once, not every second.
    *seen = now;
    match files.load() {
        Ok(pair) => {
            resolver.swap(pair);
            tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
        }
        Err(e) => {
            tracing::warn!(error = %e, "new TLS certificate not used; still serving the previous one");
        }
    }
    true
}
