//! What the gateway serves right now, for the operator console: the configuration (its
//! version and masked text), each tenant's live state (its downstream's breaker and pause,
//! the services the playground runs on) and how the last reload went. `serve` publishes it at
//! start and on every reload, taken or refused; the console reads the latest on each page, so
//! it follows hot reloads without a restart of its own.

use std::sync::Arc;

use tokio::sync::watch;

use super::AppState;
use crate::settings::Config;

/// The configuration being served and the tenants built from it.
pub struct Serving {
    pub config: Arc<Config>,
    pub tenants: Vec<Arc<AppState>>,
    /// When this configuration began serving, in Unix seconds.
    pub since: i64,
    /// The last reload tried, taken or refused; `None` before the first.
    pub last_reload: Option<ReloadOutcome>,
}

impl Serving {
    /// The state of the tenant called `name`.
    pub fn tenant(&self, name: &str) -> Option<&Arc<AppState>> {
        self.tenants.iter().find(|t| t.tenant == name)
    }
}

/// How one reload went.
#[derive(Debug, Clone)]
pub struct ReloadOutcome {
    /// Unix seconds.
    pub at: i64,
    /// What set it off (a file change, SIGHUP).
    pub trigger: String,
    /// Why the file was not taken; `None` when it was.
    pub error: Option<String>,
}

/// Where the serving state is published and read. Cheap to clone.
#[derive(Clone)]
pub struct ServingState(Arc<watch::Sender<Arc<Serving>>>);

impl ServingState {
    /// Starts with `config`, served by `tenants`.
    pub fn new(config: Config, tenants: Vec<Arc<AppState>>) -> Self {
        Self(Arc::new(watch::Sender::new(Arc::new(Serving {
            config: Arc::new(config),
            tenants,
            since: now(),
            last_reload: None,
        }))))
    }

    /// What is served now.
    pub fn now(&self) -> Arc<Serving> {
        self.0.borrow().clone()
    }

    /// A reload set off by `trigger` took `config`, now served by `tenants`.
    pub fn reloaded(&self, config: Config, tenants: Vec<Arc<AppState>>, trigger: &str) {
        let at = now();
        self.0.send_replace(Arc::new(Serving {
            config: Arc::new(config),
            tenants,
            since: at,
            last_reload: Some(ReloadOutcome {
                at,
                trigger: trigger.to_owned(),
                error: None,
            }),
        }));
    }

    /// A reload set off by `trigger` was refused with `error`; what ran goes on.
    pub fn refused(&self, trigger: &str, error: String) {
        self.0.send_modify(|serving| {
            *serving = Arc::new(Serving {
                config: serving.config.clone(),
                tenants: serving.tenants.clone(),
                since: serving.since,
                last_reload: Some(ReloadOutcome {
                    at: now(),
                    trigger: trigger.to_owned(),
                    error: Some(error),
                }),
            });
        });
    }
}

fn now() -> i64 {
    crate::auth::issued::unix_now()
}
