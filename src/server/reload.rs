//! Hot reload of gateway.toml in `serve`: on SIGHUP or when the file changes, it is read and
//! checked again, a new app is built from it and new requests go there (see [`LiveApp`]);
//! requests in flight finish on the app they started with, whose settlers stop when the last
//! of them is done. A file that does not load, or an app that cannot be built, leaves the
//! running configuration in place, with the error (file:line:col) in the log. Settings bound
//! at start-up keep their running values, with a warning (see `Config::keep_restart_settings`).
//! A tenant whose group rules changed has them applied to its existing users in the
//! background (see [`crate::service::users::rules`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::serving::ServingState;
use super::{AppState, LiveApp, StartError};
use crate::config::watch::ConfigWatch;
use crate::service::users::UsersService;
use crate::settings::{Config, ConfigError, TenantConfig};
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

/// Keeps `live` serving what `path` says, reloading whenever `watch` fires; `serving` holds
/// the configuration `live` was built from, and is told of every reload, taken or refused.
/// Runs until dropped.
pub async fn follow(
    path: PathBuf,
    mut watch: ConfigWatch,
    serving: ServingState,
    store: Store,
    live: LiveApp,
) {
    // One run per tenant: a newer reload's run replaces an older one, which could otherwise
    // write the older rules after the newer.
    let mut runs: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        let trigger = watch.changed().await.to_string();
        let running = serving.now().config.clone();
        match reload(&path, &running, &store, &live).await {
            Ok(Reloaded {
                config,
                tenants,
                rules_changed,
            }) => {
                let names: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
                tracing::info!(%trigger, tenants = %names.join(", "), "configuration reloaded");
                for (tenant, service) in rules_changed {
                    if let Some(previous) =
                        runs.insert(tenant.clone(), apply_rules(tenant, service))
                    {
                        previous.abort();
                    }
                }
                serving.reloaded(config, tenants, &trigger);
            }
            Err(e) => {
                tracing::error!(
                    %trigger,
                    error = %e,
                    "gateway.toml not reloaded; still serving the previous configuration"
                );
                serving.refused(&trigger, e.to_string());
            }
        }
    }
}

/// A configuration taken by [`reload`].
pub struct Reloaded {
    /// The configuration now served.
    pub config: Config,
    /// The state of each tenant now served.
    pub tenants: Vec<Arc<AppState>>,
    /// The Users services (by tenant) of the tenants whose group rules changed: their users
    /// are to be re-evaluated.
    pub rules_changed: Vec<(String, Arc<UsersService>)>,
}

/// Loads `path`, builds its app and sends new requests to it.
pub async fn reload(
    path: &Path,
    running: &Config,
    store: &Store,
    live: &LiveApp,
) -> Result<Reloaded, ReloadError> {
    let mut config = Config::load(path)?;
    for key in config.keep_restart_settings(running) {
        tracing::warn!(
            key,
            "changed in gateway.toml, but takes effect only after a restart; the running value stays"
        );
    }
    let (app, tenants) = super::app_with_tenants(&config, store.clone()).await?;
    live.replace(app);
    let changed = tenants
        .iter()
        .filter(|state| {
            let before = running.tenants.iter().find(|t| t.name == state.tenant);
            matches!(before, Some(b) if rules_changed(b, &state.settings))
        })
        .map(|state| (state.tenant.clone(), state.users.clone()))
        .collect();
    Ok(Reloaded {
        config,
        tenants,
        rules_changed: changed,
    })
}

/// True when a tenant's users may get another role or licences under `after`.
fn rules_changed(before: &TenantConfig, after: &TenantConfig) -> bool {
    let (b, a) = (&before.groups, &after.groups);
    b.rules != a.rules || b.role_target != a.role_target || b.licence_target != a.licence_target
}

/// Applies a tenant's new group rules to its existing users, in the background.
fn apply_rules(tenant: String, users: Arc<UsersService>) -> JoinHandle<()> {
    tokio::spawn(async move {
        match users.apply_rules(false).await {
            Ok(report) => {
                for change in &report.changes {
                    tracing::info!(%tenant, %change, "group rules applied to a user");
                }
                for (user, error) in &report.failed {
                    tracing::warn!(%tenant, %user, %error, "group rules not applied to a user; `scim-gateway rules apply` retries");
                }
                tracing::info!(
                    %tenant,
                    checked = report.checked,
                    changed = report.changes.len(),
                    failed = report.failed.len(),
                    "group rules changed: existing users re-evaluated"
                );
            }
            Err(e) => {
                tracing::error!(%tenant, error = %e, "group rules changed, but existing users could not be re-evaluated; run `scim-gateway rules apply`")
            }
        }
    })
}
