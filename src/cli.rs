//! The `scim-gateway` command line: one module per command (serve, demo, check, explain,
//! token, reconcile, rules apply, the sample legacy API); `main.rs` only calls [`main`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::server;
use crate::service::users::UsersService;
use crate::settings::{Config, TenantConfig};
use crate::store::Store;
use crate::telemetry::logs::{self, LogFormat};

mod check;
pub mod demo;
pub mod explain;
mod legacy;
mod reconcile;
mod rules;
mod serve;
pub mod token;

use explain::ExplainRequest;

/// A SCIM 2.0 gateway in front of a proprietary user API.
#[derive(Parser)]
#[command(name = "scim-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve SCIM as gateway.toml describes, until Ctrl-C or SIGTERM.
    Serve {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// Log lines as readable text or as one JSON object each.
        #[arg(long, value_enum, default_value_t)]
        log_format: LogFormat,
    },
    /// Start the sample legacy API and the gateway in front of it, and print a Tenant URL and
    /// Secret Token to try with curl or Entra ID.
    Demo {
        /// Where the gateway listens (another free port is taken if this one is busy).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The gateway.toml to run instead of the bundled one; the demo sets LEGACY_URL,
        /// LEGACY_API_KEY and SCIM_TOKEN for it, and keeps its store in memory.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Log lines as readable text or as one JSON object each.
        #[arg(long, value_enum, default_value_t)]
        log_format: LogFormat,
    },
    /// Show the downstream calls one SCIM request would make (method, URL, body; secrets
    /// masked) without making any write: reads are sent, since a write is computed from
    /// what they return, and the gateway's store is not changed.
    Explain {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// The tenant (needed when several are configured).
        #[arg(long)]
        tenant: Option<String>,
        /// The SCIM method, as with curl: GET by default, POST when there is a body.
        #[arg(short = 'X', long = "request")]
        method: Option<String>,
        /// The path under the Tenant URL, e.g. /Users/42 or /Groups/<id>.
        path: String,
        /// The request body: JSON, @file.json, or @- for standard input.
        #[arg(short = 'd', long = "data")]
        data: Option<String>,
        /// Print the calls as the JSON a `?dry_run=true` request is answered with.
        #[arg(long)]
        json: bool,
    },
    /// Check a gateway.toml and report every problem, each with its line:col and key; exit
    /// status 1 when there is one.
    Check {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// Stand in for unset ${NAME}s (a URL for names ending in URL, else text).
        #[arg(long)]
        allow_missing_env: bool,
    },
    /// Print the JSON Schema (draft-07) of gateway.toml, for editors that complete and check
    /// TOML with one (Taplo, Even Better TOML).
    #[command(
        after_help = "Example:\n  scim-gateway schema > gateway.schema.json\n  # then, as the first line of gateway.toml:\n  #:schema ./gateway.schema.json"
    )]
    Schema,
    /// Write a first, commented gateway.toml from the product's OpenAPI document.
    Init(crate::init::InitArgs),
    /// Run the sample legacy API alone.
    Legacy {
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: SocketAddr,
        /// The X-Api-Key clients must send.
        #[arg(long, env = "LEGACY_API_KEY", hide_env_values = true)]
        api_key: String,
    },
    /// Compare the store with the downstream (missing and orphaned users); --fix repairs.
    Reconcile {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// The tenant to check (needed when several are configured).
        #[arg(long)]
        tenant: Option<String>,
        /// Drop correlations whose record is gone and adopt uncorrelated records.
        #[arg(long)]
        fix: bool,
    },
    /// Group rules: apply the configured rules to users already provisioned.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Issue, list, revoke and rotate a tenant's Secret Tokens (the tenant needs
    /// `issued_tokens = true`). A running gateway sees every change on its next request.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Run a provisioning cycle the way Microsoft Entra ID does (match, create, PATCH; delta;
    /// disable) against a Tenant URL, verify the end state through SCIM and print the figures.
    /// It WRITES: --users users are created (or matched) and left disabled in the tenant unless
    /// --cleanup deletes them; a Tenant URL not on this machine needs --yes.
    #[command(
        after_help = "Example:\n  SCIM_TOKEN=... scim-gateway entra-cycle --url http://127.0.0.1:8080/scim/v2 --users 100 --cleanup"
    )]
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
        /// Run against a Tenant URL that is not on this machine (it writes users there).
        #[arg(long)]
        yes: bool,
        /// Delete every user the cycle made or matched once it is verified.
        #[arg(long)]
        cleanup: bool,
    },
    /// Probe a deployed SCIM endpoint (this gateway or any SCIM server) the way Entra ID uses
    /// it: discovery, Test Connection, then one test user and group through Entra's request
    /// shapes, each check PASS or FAIL; everything it makes is deleted at the end. Exit status
    /// 1 when a check fails.
    #[command(
        after_help = "Example:\n  SCIM_TOKEN=... scim-gateway verify --url https://scim.example.com/scim/v2"
    )]
    Verify {
        /// Tenant URL, e.g. https://scim.example.com/scim/v2.
        #[arg(long)]
        url: String,
        /// Secret Token (never printed; SCIM_TOKEN may give it).
        #[arg(long, env = "SCIM_TOKEN", hide_env_values = true)]
        token: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Give every user the role and licences its groups earn under gateway.toml's rules (as a
    /// reload that changes the rules does); only users who change are written.
    Apply {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// The tenant (needed when several are configured).
        #[arg(long)]
        tenant: Option<String>,
        /// List who would change (userName, old -> new role and licences); write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(clap::Args)]
struct TokenTarget {
    #[arg(long, default_value = "gateway.toml")]
    config: PathBuf,
    /// The tenant (needed when several are configured).
    #[arg(long)]
    tenant: Option<String>,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token and print it once (only its SHA-256 is kept).
    Create {
        #[command(flatten)]
        target: TokenTarget,
        /// What the token is for, e.g. entra-prod.
        #[arg(long, default_value = "scim-client")]
        name: String,
        /// Lifetime, e.g. 90d, 12w, 24h; no expiry when absent.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List a tenant's tokens: name, prefix, state, created, expiry, last use.
    List {
        #[command(flatten)]
        target: TokenTarget,
    },
    /// Revoke the tokens with this name or prefix, at once.
    Revoke {
        #[command(flatten)]
        target: TokenTarget,
        /// A token name, or a prefix as `token list` shows it (sgw_1234abcd).
        token: String,
    },
    /// Issue a successor of the valid tokens with this name or prefix; the old ones keep
    /// working for the overlap window, then expire.
    Rotate {
        #[command(flatten)]
        target: TokenTarget,
        token: String,
        /// How long the old token keeps working, e.g. 24h.
        #[arg(long, default_value = "24h")]
        overlap: String,
        /// Lifetime of the new token, e.g. 90d.
        #[arg(long)]
        expires: Option<String>,
    },
}

/// Parses the command line, runs the command and says how it ended.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logs::init(match &cli.command {
        Command::Serve { log_format, .. } | Command::Demo { log_format, .. } => *log_format,
        _ => LogFormat::Text,
    });
    crate::crypto::install_provider();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command to its end.
async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve { config, .. } => serve::run(config).await,
        Command::Demo { listen, config, .. } => demo::run(listen, config.as_deref()).await,
        Command::Check {
            config,
            allow_missing_env,
        } => check::run(&config, allow_missing_env),
        Command::Schema => serde_json::to_string_pretty(&crate::config::schema::json_schema())
            .map(|schema| println!("{schema}"))
            .map_err(|e| e.to_string()),
        Command::Init(args) => crate::init::run(&args)
            .map(|summary| print!("{summary}"))
            .map_err(|e| e.to_string()),
        Command::Explain {
            config,
            tenant,
            method,
            path,
            data,
            json,
        } => {
            let request = ExplainRequest {
                config,
                tenant,
                method,
                path,
                data,
            };
            explain::command(&request, json).await
        }
        Command::Legacy { listen, api_key } => legacy::run(listen, api_key).await,
        Command::Reconcile {
            config,
            tenant,
            fix,
        } => reconcile::run(config, tenant, fix).await,
        Command::Token { command } => token::command(command).await,
        Command::Rules {
            command:
                RulesCommand::Apply {
                    config,
                    tenant,
                    dry_run,
                },
        } => rules::apply(config, tenant, dry_run).await,
        Command::EntraCycle {
            url,
            token,
            users,
            concurrency,
            prefix,
            yes,
            cleanup,
        } => {
            let options = crate::tools::cycle::CycleOptions {
                users,
                concurrency,
                prefix,
                remote: yes,
                cleanup,
                ..crate::tools::cycle::CycleOptions::new(url, token)
            };
            crate::tools::cycle::run_cli(options).await
        }
        Command::Verify { url, token, json } => {
            let options = crate::tools::verify::VerifyOptions { url, token };
            crate::tools::verify::run_cli(&options, json).await
        }
    }
}

/// The store `config` names and `tenant`'s Users service over it, for the commands that work
/// on a tenant's users (`reconcile`, `rules apply`); the caller closes the store.
async fn users_of(
    config: &Config,
    tenant: &TenantConfig,
) -> Result<(Store, Arc<UsersService>), String> {
    let store = server::open_store(config)
        .await
        .map_err(|e| e.to_string())?;
    let users = server::users_service(config, tenant, store.clone()).map_err(|e| e.to_string())?;
    Ok((store, users))
}
