//! The `scim-gateway` command line: one module per command (serve, demo, check, explain,
//! token, reconcile, rules apply, the sample legacy API, completions and the man page);
//! `main.rs` only calls [`main`]. One-shot commands log only warnings unless `-v`; `serve`
//! and `demo` log from `info` on.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{ArgAction, Parser, Subcommand};

use crate::server;
use crate::service::users::UsersService;
use crate::settings::{Config, TenantConfig};
use crate::store::Store;
use crate::telemetry::logs::{self, LogFormat};

mod check;
pub mod demo;
mod docs;
pub mod explain;
mod legacy;
mod reconcile;
mod rules;
mod serve;
pub mod token;

use explain::ExplainRequest;

/// A SCIM 2.0 gateway in front of a proprietary user API.
#[derive(Parser)]
#[command(
    name = "scim-gateway",
    version,
    about,
    after_help = "Examples:\n  scim-gateway demo                        # try it: the sample API and a gateway in front\n  scim-gateway check -c gateway.toml       # is the file right?\n  scim-gateway serve -c gateway.toml       # serve SCIM\n\nEvery command that reads gateway.toml takes -c/--config FILE, or SCIM_GATEWAY_CONFIG."
)]
struct Cli {
    /// Log more: one-shot commands log from info on (-v), everything from debug on (-vv).
    /// RUST_LOG filters when -v is not given.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// The gateway.toml a command reads.
#[derive(clap::Args)]
struct ConfigFile {
    /// The gateway.toml to read; relative paths in it are relative to its folder.
    #[arg(
        short = 'c',
        long = "config",
        env = "SCIM_GATEWAY_CONFIG",
        default_value = "gateway.toml",
        value_name = "FILE"
    )]
    file: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Serve SCIM as gateway.toml describes, until Ctrl-C or SIGTERM.
    #[command(
        after_help = "Examples:\n  scim-gateway serve -c /etc/scim-gateway/gateway.toml\n  SCIM_GATEWAY_CONFIG=gateway.toml scim-gateway serve --log-format json"
    )]
    Serve {
        #[command(flatten)]
        config: ConfigFile,
        /// Log lines as readable text or as one JSON object each.
        #[arg(long, value_enum, default_value_t)]
        log_format: LogFormat,
    },
    /// Start the sample legacy API and the gateway in front of it, and print a Tenant URL and
    /// Secret Token to try with curl or Entra ID.
    #[command(
        after_help = "Examples:\n  scim-gateway demo\n  scim-gateway demo --listen 0.0.0.0:8080 -c examples/names-and-email/gateway.toml"
    )]
    Demo {
        /// Where the gateway listens (another free port is taken if this one is busy).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The gateway.toml to run instead of the bundled one; the demo sets LEGACY_URL,
        /// LEGACY_API_KEY and SCIM_TOKEN for it, and keeps its store in memory.
        #[arg(short = 'c', long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Also serve the operator console on loopback (127.0.0.1:9091, or a free port), with
        /// an admin token printed at start, and let the tenants use issued tokens.
        #[arg(long)]
        admin: bool,
        /// Log lines as readable text or as one JSON object each.
        #[arg(long, value_enum, default_value_t)]
        log_format: LogFormat,
    },
    /// Show the downstream calls one SCIM request would make (method, URL, body; secrets
    /// masked) without making any write: reads are sent, since a write is computed from
    /// what they return, and the gateway's store is not changed.
    #[command(
        after_help = "Examples:\n  scim-gateway explain -c gateway.toml /Users/42\n  scim-gateway explain -c gateway.toml -X POST /Users -d @user.json\n  scim-gateway explain -X PATCH /Users/42 -d '{\"Operations\":[{\"op\":\"replace\",\"path\":\"active\",\"value\":false}]}' --json"
    )]
    Explain {
        #[command(flatten)]
        config: ConfigFile,
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
    #[command(
        after_help = "Examples:\n  scim-gateway check -c gateway.toml\n  scim-gateway check --allow-missing-env   # in CI, without production secrets"
    )]
    Check {
        #[command(flatten)]
        config: ConfigFile,
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
    #[command(
        after_help = "Examples:\n  scim-gateway init --openapi openapi.yaml\n  scim-gateway init --openapi api.json --resource employees -o gateway.toml --force"
    )]
    Init(crate::init::InitArgs),
    /// Run the sample legacy API alone.
    #[command(
        after_help = "Example:\n  LEGACY_API_KEY=secret scim-gateway legacy --listen 127.0.0.1:9090"
    )]
    Legacy {
        /// Where the sample API listens.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: SocketAddr,
        /// The X-Api-Key clients must send.
        #[arg(long, env = "LEGACY_API_KEY", hide_env_values = true)]
        api_key: String,
    },
    /// Compare the store with the downstream (missing and orphaned users); --fix repairs.
    /// Exit status 0 when both agree, 1 when they differ (also when --fix repaired it), 2 on
    /// an error. Progress goes to stderr, the report to stdout.
    #[command(
        after_help = "Examples:\n  scim-gateway reconcile -c gateway.toml\n  scim-gateway reconcile --tenant acme --fix\n  scim-gateway reconcile || echo \"drift (1) or error (2): $?\""
    )]
    Reconcile {
        #[command(flatten)]
        config: ConfigFile,
        /// The tenant to check (needed when several are configured).
        #[arg(long)]
        tenant: Option<String>,
        /// Drop correlations whose record is gone and adopt uncorrelated records.
        #[arg(long)]
        fix: bool,
    },
    /// Group rules: apply the configured rules to users already provisioned.
    #[command(after_help = "Example:\n  scim-gateway rules apply -c gateway.toml --dry-run")]
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Issue, list, revoke and rotate a tenant's Secret Tokens (the tenant needs
    /// `issued_tokens = true`). A running gateway sees every change on its next request.
    #[command(
        after_help = "Examples:\n  scim-gateway token create --name entra --expires 365d\n  scim-gateway token list\n  scim-gateway token rotate entra --overlap 24h"
    )]
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
    /// Print a shell completion script to stdout.
    #[command(
        after_help = "Examples:\n  scim-gateway completions bash > /etc/bash_completion.d/scim-gateway\n  scim-gateway completions zsh > \"${fpath[1]}/_scim-gateway\"\n  scim-gateway completions fish > ~/.config/fish/completions/scim-gateway.fish"
    )]
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout.
    #[command(
        after_help = "Examples:\n  scim-gateway man | man -l -\n  scim-gateway man > /usr/local/share/man/man1/scim-gateway.1"
    )]
    Man,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Give every user the role and licences its groups earn under gateway.toml's rules (as a
    /// reload that changes the rules does); only users who change are written.
    #[command(
        after_help = "Examples:\n  scim-gateway rules apply -c gateway.toml --dry-run\n  scim-gateway rules apply --tenant acme"
    )]
    Apply {
        #[command(flatten)]
        config: ConfigFile,
        /// The tenant (needed when several are configured).
        #[arg(long)]
        tenant: Option<String>,
        /// List who would change (userName, old -> new role and licences); write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The gateway.toml and tenant a token command works on.
#[derive(clap::Args)]
struct TokenTarget {
    #[command(flatten)]
    config: ConfigFile,
    /// The tenant (needed when several are configured).
    #[arg(long)]
    tenant: Option<String>,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token and print it once (only its SHA-256 is kept).
    #[command(
        after_help = "Examples:\n  scim-gateway token create --name entra-prod --expires 365d\n  scim-gateway token create -c gateway.toml --tenant acme --name okta"
    )]
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
    #[command(after_help = "Example:\n  scim-gateway token list -c gateway.toml --tenant acme")]
    List {
        #[command(flatten)]
        target: TokenTarget,
    },
    /// Revoke the tokens with this name or prefix, at once.
    #[command(
        after_help = "Examples:\n  scim-gateway token revoke entra-prod\n  scim-gateway token revoke sgw_1234abcd"
    )]
    Revoke {
        #[command(flatten)]
        target: TokenTarget,
        /// A token name, or a prefix as `token list` shows it (sgw_1234abcd).
        token: String,
    },
    /// Issue a successor of the valid tokens with this name or prefix; the old ones keep
    /// working for the overlap window, then expire.
    #[command(
        after_help = "Examples:\n  scim-gateway token rotate entra-prod\n  scim-gateway token rotate sgw_1234abcd --overlap 1h --expires 90d"
    )]
    Rotate {
        #[command(flatten)]
        target: TokenTarget,
        /// The token to replace: its name, or its prefix as `token list` shows it
        /// (sgw_1234abcd).
        token: String,
        /// How long the old token keeps working, e.g. 24h.
        #[arg(long, default_value = "24h")]
        overlap: String,
        /// Lifetime of the new token, e.g. 90d; the old token's lifetime when absent.
        #[arg(long)]
        expires: Option<String>,
    },
}

/// Parses the command line, runs the command and says how it ended: 0 when it did what was
/// asked, 1 when it failed (2 for `reconcile`, whose 1 means drift).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let (format, serving) = match &cli.command {
        Command::Serve { log_format, .. } | Command::Demo { log_format, .. } => (*log_format, true),
        _ => (LogFormat::Text, false),
    };
    logs::init(format, logs::Verbosity::new(serving, cli.verbose));
    crate::crypto::install_provider();
    let failed = match cli.command {
        Command::Reconcile { .. } => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return failed;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            failed
        }
    }
}

/// Runs one command to its end; its exit status when it did not fail.
async fn run(command: Command) -> Result<ExitCode, String> {
    let done = |result: Result<(), String>| result.map(|()| ExitCode::SUCCESS);
    match command {
        Command::Serve { config, .. } => done(serve::run(config.file).await),
        Command::Demo {
            listen,
            config,
            admin,
            ..
        } => done(demo::run(listen, config.as_deref(), admin).await),
        Command::Check {
            config,
            allow_missing_env,
        } => done(check::run(&config.file, allow_missing_env)),
        Command::Schema => done(print_schema()),
        Command::Init(args) => done(init(&args)),
        Command::Explain {
            config,
            tenant,
            method,
            path,
            data,
            json,
        } => {
            let request = ExplainRequest {
                config: config.file,
                tenant,
                method,
                path,
                data,
            };
            done(explain::command(&request, json).await)
        }
        Command::Legacy { listen, api_key } => done(legacy::run(listen, api_key).await),
        Command::Reconcile {
            config,
            tenant,
            fix,
        } => reconcile::run(config.file, tenant, fix).await,
        Command::Token { command } => done(token::command(command).await),
        Command::Rules {
            command:
                RulesCommand::Apply {
                    config,
                    tenant,
                    dry_run,
                },
        } => done(rules::apply(config.file, tenant, dry_run).await),
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
            done(crate::tools::cycle::run_cli(options).await)
        }
        Command::Verify { url, token, json } => {
            let options = crate::tools::verify::VerifyOptions { url, token };
            done(crate::tools::verify::run_cli(&options, json).await)
        }
        Command::Completions { shell } => done(docs::completions(shell)),
        Command::Man => done(docs::man()),
    }
}

/// `schema`: gateway.toml's JSON Schema on stdout.
fn print_schema() -> Result<(), String> {
    serde_json::to_string_pretty(&crate::config::schema::json_schema())
        .map(|schema| println!("{schema}"))
        .map_err(|e| e.to_string())
}

/// `init`: writes the draft and prints its summary.
fn init(args: &crate::init::InitArgs) -> Result<(), String> {
    crate::init::run(args)
        .map(|summary| print!("{summary}"))
        .map_err(|e| e.to_string())
}

/// The command line's definition, for completions and the man page.
fn definition() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
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

#[cfg(test)]
mod tests {
    use super::definition;

    #[test]
    fn the_command_line_is_consistent() {
        definition().debug_assert();
    }

    /// Every command shows examples under `--help` and every argument says what it is for.
    #[test]
    fn every_command_has_examples_and_every_argument_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if command.get_after_help().is_none() {
                missing.push(format!("{path}: no examples (after_help)"));
            }
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("{path}: {} has no help", arg.get_id()));
                }
            }
            // clap's own `help` subcommand is not ours to document.
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        let mut command = definition();
        command.build();
        walk(&command, "scim-gateway", &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
    }
}
