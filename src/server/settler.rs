//! The task that settles one tenant's interrupted writes (crash leftovers in the intent
//! journal) every request deadline, for as long as the app serving that tenant lives: a
//! reloaded configuration builds a new app with a new settler, and the old settler ends
//! when the last request on the old app has finished.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::service::users::UsersService;

/// A running settler; dropping it stops the task.
#[derive(Debug)]
pub struct Settler(JoinHandle<()>);

impl Settler {
    /// Settles `users`' journal every `period` (at least a second). The task holds the
    /// service only while it settles, so it never keeps a replaced app alive.
    pub fn spawn(users: &Arc<UsersService>, period: Duration) -> Self {
        let users = Arc::downgrade(users);
        Self(tokio::spawn(async move {
            loop {
                tokio::time::sleep(period.max(Duration::from_secs(1))).await;
                let Some(users) = users.upgrade() else {
                    return;
                };
                if let Err(e) = users.recover(period).await {
                    tracing::warn!(error = %e, "could not settle interrupted writes; will retry");
                }
            }
        }))
    }
}

impl Drop for Settler {
    /// Stops the task at its next await. Settling is journaled step by step, so stopping it
    /// midway leaves the entry for the next settler.
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::settings::Config;

    fn example() -> Config {
        let env = |name: &str| match name {
            "LEGACY_URL" => Some("http://127.0.0.1:9".to_owned()),
            "LEGACY_API_KEY" | "SCIM_TOKEN" => Some("0123456789abcdef0123".to_owned()),
            _ => None,
        };
        let text = crate::cli::demo::EXAMPLE_CONFIG.to_owned()
            + "[[tenants]]\nname = \"north\"\nauth = { issued_tokens = true }\n\
               [[tenants]]\nname = \"south\"\nauth = { issued_tokens = true }\n";
        Config::parse(
            "gateway.toml",
            &text.replace("bearer = [\"${SCIM_TOKEN}\"]", ""),
            &env,
        )
        .unwrap()
    }

    /// What a reload does to the old app: it is dropped once no request holds it, and with
    /// it every settler it started and its activity writer.
    #[tokio::test]
    async fn a_dropped_app_leaves_no_task_behind() {
        crate::crypto::install_provider();
        let config = example();
        assert_eq!(config.tenants.len(), 2);
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        for _ in 0..5 {
            let app = crate::server::app(&config, store.clone()).await.unwrap();
            assert_eq!(
                metrics.num_alive_tasks(),
                before + 3,
                "one settler per tenant, one activity writer"
            );
            drop(app);
            let settled = tokio::time::timeout(Duration::from_secs(1), async {
                while metrics.num_alive_tasks() > before {
                    tokio::task::yield_now().await;
                }
            })
            .await;
            assert!(settled.is_ok(), "{} tasks left", metrics.num_alive_tasks());
        }
    }
}
