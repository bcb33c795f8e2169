//! Hot reload of gateway.toml in `serve`: on SIGHUP or when the file changes, it is read and
//! checked again, a new app is built from it and new requests go there (see [`LiveApp`]);
//! requests in flight finish on the app they started with, whose settlers stop when the last
//! of them is done. A file that does not load, or an app that cannot be built, leaves the
//! running configuration in place, with the error (file:line:col) in the log. Settings bound
//! at start-up keep their running values, with a warning (see `Config::keep_restart_settings`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{LiveApp, StartError};
use crate::config::watch::ConfigWatch;
use crate::config::{Config, ConfigError};
use crate::store::Store;

/// Why a new gateway.toml was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The file does not read or check: the operator's to fix.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The gateway cannot start on it (e.g. the store fails while settling interrupted
    /// writes); the next change or SIGHUP tries again.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Keeps `live` serving what `path` says, reloading whenever `watch` fires; `running` is the
/// configuration `live` was built from. Runs until dropped.
pub async fn follow(
    path: PathBuf,
    mut watch: ConfigWatch,
    mut running: Config,
    store: Arc<dyn Store>,
    live: LiveApp,
) {
    loop {
        let trigger = watch.changed().await;
        match reload(&path, &running, &store, &live).await {
            Ok(config) => {
                let tenants: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
                tracing::info!(%trigger, tenants = %tenants.join(", "), "configuration reloaded");
                running = config;
            }
            Err(e) => tracing::error!(
                %trigger,
                error = %e,
                "gateway.toml not reloaded; still serving the previous configuration"
            ),
        }
    }
}

/// Loads `path`, builds its app and sends new requests to it; returns the configuration
/// now served.
pub async fn reload(
    path: &Path,
    running: &Config,
    store: &Arc<dyn Store>,
    live: &LiveApp,
) -> Result<Config, ReloadError> {
    let mut config = Config::load(path)?;
    for key in config.keep_restart_settings(running) {
        tracing::warn!(
            key,
            "changed in gateway.toml, but takes effect only after a restart; the running value stays"
        );
    }
    let app = super::app(&config, store.clone()).await?;
    live.replace(app);
    Ok(config)
}
