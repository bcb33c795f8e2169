//! The `scim-gateway` command line: serve, demo, check and the sample legacy API.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use scim_gateway::config::Config;
use scim_gateway::{demo, legacy, server};
use tracing_subscriber::EnvFilter;

/// A SCIM 2.0 gateway in front of a proprietary user API.
#[derive(Parser)]
#[command(name = "scim-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve SCIM as gateway.toml describes.
    Serve {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
    },
    /// Start the sample legacy API and the gateway in front of it, and print a Tenant URL and
    /// Secret Token to try with curl or Entra ID.
    Demo {
        /// Where the gateway listens (another free port is taken if this one is busy).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Check a gateway.toml and report the first problem with its line:col.
    Check {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
    },
    /// Run the sample legacy API alone.
    Legacy {
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: SocketAddr,
        /// The X-Api-Key clients must send.
        #[arg(long, env = "LEGACY_API_KEY", hide_env_values = true)]
        api_key: String,
    },
    /// Run a provisioning cycle the way Microsoft Entra ID does (match, create, PATCH; delta;
    /// disable) against a Tenant URL, verify the end state through SCIM and print the figures.
    /// Compare the store with the downstream (missing and orphaned users); --fix repairs.
    Reconcile {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// Drop correlations whose record is gone and adopt uncorrelated records.
        #[arg(long)]
        fix: bool,
    },
    EntraCycle {
        /// Tenant URL, e.g. http://127.0.0.1:8080/scim/v2.
        #[arg(long)]
        url: String,
        /// Secret Token (never printed; SCIM_TOKEN may give it).
        #[arg(long, env = "SCIM_TOKEN", hide_env_values = true)]
        token: String,
        /// Users provisioned: <prefix>-1@example.com .. <prefix>-N@example.com.
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// Users in flight at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Start of every userName.
        #[arg(long, default_value = "cycle")]
        prefix: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    scim_gateway::downstream::client::install_crypto_provider();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { config } => run_serve(config).await,
            Command::Demo { listen } => demo::run(listen).await,
            Command::Check { config } => Config::load(&config)
                .map(|c| {
                    println!(
                        "{}: ok ({} attribute rules, SCIM at {})",
                        config.display(),
                        c.users.mapping.rules.len(),
                        c.server.base_path
                    );
                })
                .map_err(|e| e.to_string()),
            Command::Legacy { listen, api_key } => run_legacy(listen, api_key).await,
            Command::Reconcile { config, fix } => run_reconcile(config, fix).await,
            Command::EntraCycle {
                url,
                token,
                users,
                concurrency,
                prefix,
            } => {
                let options = scim_gateway::cycle::CycleOptions {
                    users,
                    concurrency,
                    prefix,
                    ..scim_gateway::cycle::CycleOptions::new(url, token)
                };
                scim_gateway::cycle::run_cli(options).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run_serve(path: PathBuf) -> Result<(), String> {
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let store = server::open_store(&config)
        .await
        .map_err(|e| e.to_string())?;
    let app = server::app(&config, store.clone())
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.listen))?;
    tracing::info!(
        listen = %config.server.listen,
        scheme = config.server.scheme(),
        base_path = %config.server.base_path,
        "scim-gateway serving"
    );
    let served = match server::serve(listener, app, &config.server, demo::ctrl_c()) {
        Ok(serving) => {
            serving.await;
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    };
    store.close().await;
    served
}

async fn run_reconcile(path: PathBuf, fix: bool) -> Result<(), String> {
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let store = server::open_store(&config)
        .await
        .map_err(|e| e.to_string())?;
    let users = server::users_service(&config, store.clone()).map_err(|e| e.to_string())?;
    let report = users.reconcile(fix).await;
    store.close().await;
    let report = report.map_err(|e| e.to_string())?;
    println!(
        "checked {} downstream users: {} missing (correlated, but gone downstream), {} orphaned (downstream, never correlated)",
        report.checked,
        report.missing.len(),
        report.orphans.len()
    );
    for id in &report.missing {
        println!("  missing  SCIM id {id}");
    }
    for id in &report.orphans {
        println!("  orphaned downstream id {id}");
    }
    let clean = report.missing.is_empty() && report.orphans.is_empty();
    match (clean, fix) {
        (true, _) => {}
        (false, true) => println!("fixed: missing correlations dropped, orphans correlated"),
        (false, false) => println!("run again with --fix to repair"),
    }
    Ok(())
}

async fn run_legacy(listen: SocketAddr, api_key: String) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!("sample legacy API on http://{listen}/api/v1 (X-Api-Key required)");
    legacy::serve(listener, legacy::LegacyApi::new(api_key), demo::ctrl_c())
        .await
        .map_err(|e| e.to_string())
}
