//! `scim-gateway serve`: the gateway as gateway.toml describes it, reloaded when the file
//! changes, until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use crate::admin;
use crate::config::watch::ConfigWatch;
use crate::server;
use crate::server::serving::ServingState;
use crate::settings::Config;
use crate::signals::stop_requested;

/// Serves until a stop is requested, then drains and closes the store.
pub(super) async fn run(path: PathBuf) -> Result<(), String> {
    // Watched from before the first read, so that no change is missed.
    let watch = ConfigWatch::new(&path);
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let store = server::open_store(&config)
        .await
        .map_err(|e| e.to_string())?;
    let (app, tenants) = server::app_with_tenants(&config, store.clone())
        .await
        .map_err(|e| e.to_string())?;
    let app = server::LiveApp::new(app);
    let serving = ServingState::new(config.clone(), tenants);
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    for tenant in &config.tenants {
        tracing::info!(
            listen = %bound,
            scheme = config.server.scheme(),
            public_url = config.server.public_url.as_deref().unwrap_or("-"),
            tenant = %tenant.name,
            base_path = %tenant.base_path,
            "scim-gateway serving"
        );
    }
    let console = admin::start(&serving, &store, stop_requested()).await?;
    let reloads = tokio::spawn(server::reload::follow(
        path,
        watch,
        serving,
        store.clone(),
        app.clone(),
    ));
    // Stops accepting at once, lets requests in flight finish within `shutdown_grace_ms`,
    // then closes the store (SQLite checkpoints its write-ahead log).
    let served = match server::serve(listener, app, &config.server, stop_requested()) {
        Ok(serving) => {
            serving.await;
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    };
    reloads.abort();
    if let Some(console) = console {
        console.abort();
    }
    store.close().await;
    tracing::info!("store closed; stopped");
    served
}
