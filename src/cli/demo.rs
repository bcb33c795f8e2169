//! `scim-gateway demo`: the sample legacy API and the gateway in front of it, in one process,
//! configured by the bundled gateway.toml (or a given one), with a fresh Secret Token printed
//! once.

use std::net::SocketAddr;
use std::path::Path;

use tokio::net::TcpListener;

use sha2::{Digest, Sha256};

use crate::admin;
use crate::auth::generate_token;
use crate::server;
use crate::server::serving::ServingState;
use crate::settings::Config;
use crate::tools::legacy;

/// The example gateway.toml shipped at the top of the repository.
pub const EXAMPLE_CONFIG: &str = include_str!("../../gateway.toml");

/// The gateway.toml a demo runs: its name in messages and banner, the folder its relative
/// paths are resolved against, and its text.
struct DemoConfig {
    name: String,
    dir: std::path::PathBuf,
    text: String,
}

impl DemoConfig {
    /// `file`, or the bundled gateway.toml when `None`.
    fn read(file: Option<&Path>) -> Result<Self, String> {
        let Some(file) = file else {
            return Ok(Self {
                name: "gateway.toml (bundled)".into(),
                dir: std::path::PathBuf::new(),
                text: EXAMPLE_CONFIG.into(),
            });
        };
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {name}: {e}"))?;
        let absolute = std::fs::canonicalize(file).map_err(|e| format!("{name}: {e}"))?;
        let dir = absolute.parent().unwrap_or(Path::new("/")).to_path_buf();
        Ok(Self { name, dir, text })
    }
}

/// Runs the demo until Ctrl-C or SIGTERM, with the gateway configured by `config_file` (the
/// bundled gateway.toml when `None`): a vendor can try a mapping of their own against the
/// sample API (its accounts, or its members resource, which stores any fields) without
/// running it separately. The file reaches the sample API through `${LEGACY_URL}` and
/// `${LEGACY_API_KEY}`, and the token through `${SCIM_TOKEN}`, all set by the demo. With
/// `admin`, the operator console is served too, on loopback, with a fresh admin token.
pub async fn run(
    listen: SocketAddr,
    config_file: Option<&Path>,
    admin: bool,
) -> Result<(), String> {
    let source = DemoConfig::read(config_file)?;
    let api_key = generate_token().map_err(|e| format!("no randomness for a key: {e}"))?;
    let token = generate_token().map_err(|e| format!("no randomness for a token: {e}"))?;
    let legacy_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen for the sample API: {e}"))?;
    let legacy_addr = legacy_listener.local_addr().map_err(|e| e.to_string())?;
    let gateway_listener = bind_gateway(listen).await?;
    let gateway_addr = gateway_listener.local_addr().map_err(|e| e.to_string())?;
    let legacy_url = format!("http://{legacy_addr}");
    let env = |name: &str| match name {
        "LEGACY_URL" => Some(legacy_url.clone()),
        "LEGACY_API_KEY" => Some(api_key.clone()),
        "SCIM_TOKEN" => Some(token.clone()),
        other => std::env::var(other).ok(),
    };
    let mut config = Config::parse_in(&source.name, &source.dir, &source.text, &env)
        .map_err(|e| e.to_string())?;
    // The demo's sample API forgets everything on exit; so does its store (whatever the
    // file's [store] says, so a demo never writes into a real gateway's store).
    config.store_url = "sqlite::memory:".into();
    let store = server::open_store(&config)
        .await
        .map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::watch::channel(());
    let (app, console) = app_and_console(&mut config, &store, admin, &stopped).await?;

    let legacy_task = tokio::spawn(legacy::serve(
        legacy_listener,
        legacy::LegacyApi::new(api_key.clone()),
        when_stopped(&stopped),
    ));
    let gateway = server::serve(
        gateway_listener,
        server::LiveApp::new(app),
        &config.server,
        when_stopped(&stopped),
    )
    .map_err(|e| e.to_string())?;
    let gateway_task = tokio::spawn(gateway);

    let tenant_url = format!(
        "{}://{gateway_addr}{}",
        config.server.scheme(),
        config.server.base_path
    );
    println!("{}", banner(&tenant_url, &token, &legacy_url, &source.name));
    if let Some((url, admin_token, _)) = &console {
        println!(
            "\nOperator console: {url}\n  Admin token:   {admin_token}\n                 \
             (sign in with it; shown once)\n"
        );
    }
    crate::signals::stop_requested().await;
    println!("stopping...");
    let _ = stop.send(());
    servers_stopped(legacy_task.await, gateway_task.await)?;
    if let Some((_, _, task)) = console {
        let _ = task.await;
    }
    store.close().await;
    Ok(())
}

/// The console's URL, admin token and task.
type ConsoleTask = (String, String, tokio::task::JoinHandle<std::io::Result<()>>);

/// The gateway's app over `store` and, with `admin`, the console beside it (which first lets
/// the tenants take issued tokens).
async fn app_and_console(
    config: &mut Config,
    store: &crate::store::Store,
    admin: bool,
    stopped: &tokio::sync::watch::Receiver<()>,
) -> Result<(axum::Router, Option<ConsoleTask>), String> {
    let admin_token = match admin {
        true => Some(console_credential(config)?),
        false => None,
    };
    let (app, tenants) = server::app_with_tenants(config, store.clone())
        .await
        .map_err(|e| e.to_string())?;
    let console = match admin_token {
        Some(admin_token) => {
            let serving = ServingState::new(config.clone(), tenants);
            let (url, task) = console(serving, store, when_stopped(stopped)).await?;
            Some((url, admin_token, task))
        }
        None => None,
    };
    Ok((app, console))
}

/// Resolves when the demo's stop signal is sent.
fn when_stopped(stopped: &tokio::sync::watch::Receiver<()>) -> impl Future<Output = ()> + use<> {
    let mut stopped = stopped.clone();
    async move {
        let _ = stopped.changed().await;
    }
}

/// The gateway's listener on `listen`, or on a free port of the same address when it is taken.
async fn bind_gateway(listen: SocketAddr) -> Result<TcpListener, String> {
    match TcpListener::bind(listen).await {
        Ok(l) => Ok(l),
        Err(e) => {
            tracing::warn!("{listen} is not available ({e}); taking a free port");
            TcpListener::bind(SocketAddr::new(listen.ip(), 0))
                .await
                .map_err(|e| format!("cannot listen for the gateway: {e}"))
        }
    }
}

/// How the sample API's and the gateway's tasks ended: an error if either failed.
fn servers_stopped(
    legacy: Result<std::io::Result<()>, tokio::task::JoinError>,
    gateway: Result<(), tokio::task::JoinError>,
) -> Result<(), String> {
    match (legacy, gateway) {
        (Ok(Ok(())), Ok(())) => Ok(()),
        (Ok(Err(e)), _) => Err(e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(format!("a server task failed: {e}")),
    }
}

/// A fresh admin token for the console, its digest set in `config`, whose tenants then take
/// issued tokens too.
fn console_credential(config: &mut Config) -> Result<String, String> {
    let admin_token = generate_token().map_err(|e| format!("no randomness for a token: {e}"))?;
    config.admin.credential.token_sha256 = Some(Sha256::digest(admin_token.as_bytes()).into());
    for tenant in &mut config.tenants {
        tenant.auth.issued_tokens = true;
    }
    Ok(admin_token)
}

/// Serves the operator console on 127.0.0.1:9091 (or a free loopback port); returns its URL
/// and its task.
async fn console(
    serving: ServingState,
    store: &crate::store::Store,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(String, tokio::task::JoinHandle<std::io::Result<()>>), String> {
    let listener = match TcpListener::bind("127.0.0.1:9091").await {
        Ok(l) => l,
        Err(_) => TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen for the console: {e}"))?,
    };
    let url = format!(
        "http://{}/",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let router = admin::router(serving, store.clone()).map_err(|e| e.to_string())?;
    let task = tokio::spawn(admin::serve(listener, router, stop));
    Ok((url, task))
}

fn banner(tenant_url: &str, token: &str, legacy_url: &str, config_name: &str) -> String {
    let user = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann.lee@example.com","name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"ann.lee@example.com","type":"work","primary":true}],"active":true}"#;
    format!(
        "scim-gateway demo is running\n\
         \n  Mapping:       {config_name}\
         \n  Tenant URL:    {tenant_url}\
         \n  Secret Token:  {token}\
         \n                 (shown once: it exists only in this process)\
         \n  Sample legacy API behind it: {legacy_url}/api/v1/accounts\
         \n                 (and {legacy_url}/api/v1/members, which stores any fields)\
         \n\nTry it:\
         \n  curl -s -H 'Authorization: Bearer {token}' '{tenant_url}/Users'\
         \n  curl -s -X POST -H 'Authorization: Bearer {token}' -H 'Content-Type: application/scim+json' \\\
         \n       -d '{user}' '{tenant_url}/Users'\
         \n\nIn Entra ID: Enterprise application > Provisioning > Admin Credentials: paste the Tenant\
         \nURL and Secret Token (the URL must be reachable from Microsoft: put it behind HTTPS).\
         \n\nCtrl-C stops the demo."
    )
}
