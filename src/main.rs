//! The `scim-gateway` command line: serve, demo, check and the sample legacy API.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use scim_gateway::auth::issued::NewToken;
use scim_gateway::config::Config;
use scim_gateway::config::watch::ConfigWatch;
use scim_gateway::explain::{self, ExplainRequest};
use scim_gateway::signals::stop_requested;
use scim_gateway::telemetry::logs::{self, LogFormat};
use scim_gateway::{demo, legacy, server, token_admin};

/// mimalloc instead of the system allocator: a request allocates and frees many small JSON
/// values, and glibc's malloc spent a fifth of a GET's instructions on them (callgrind, 2,000
/// GETs: 21% fewer instructions in all with mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Check a gateway.toml and report the first problem with its line:col.
    Check {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// Stand in for unset ${NAME}s (a URL for names ending in URL, else text).
        #[arg(long)]
        allow_missing_env: bool,
    },
    /// Write a first, commented gateway.toml from the product's OpenAPI document.
    Init(scim_gateway::init::InitArgs),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    logs::init(match &cli.command {
        Command::Serve { log_format, .. } | Command::Demo { log_format, .. } => *log_format,
        _ => LogFormat::Text,
    });
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
            Command::Serve { config, .. } => run_serve(config).await,
            Command::Demo { listen, config, .. } => demo::run(listen, config.as_deref()).await,
            Command::Init(args) => scim_gateway::init::run(&args)
                .map(|summary| print!("{summary}"))
                .map_err(|e| e.to_string()),
            Command::Check {
                config,
                allow_missing_env,
            } => Config::load_with(&config, &check_env(allow_missing_env))
                .map(|c| {
                    println!("{}: ok", config.display());
                    println!("  listen: {}", c.server.listen);
                    println!("  store: {}", scim_gateway::store::redact_url(&c.store_url));
                    for t in &c.tenants {
                        println!(
                            "  tenant {}: SCIM at {}, {} attribute rules",
                            t.name,
                            t.base_path,
                            t.users.mapping.rules.len()
                        );
                    }
                })
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
                run_explain(&request, json).await
            }
            Command::Legacy { listen, api_key } => run_legacy(listen, api_key).await,
            Command::Reconcile {
                config,
                tenant,
                fix,
            } => run_reconcile(config, tenant, fix).await,
            Command::Token { command } => run_token(command).await,
            Command::Rules {
                command:
                    RulesCommand::Apply {
                        config,
                        tenant,
                        dry_run,
                    },
            } => run_rules_apply(config, tenant, dry_run).await,
            Command::EntraCycle {
                url,
                token,
                users,
                concurrency,
                prefix,
                yes,
                cleanup,
            } => {
                let options = scim_gateway::cycle::CycleOptions {
                    users,
                    concurrency,
                    prefix,
                    remote: yes,
                    cleanup,
                    ..scim_gateway::cycle::CycleOptions::new(url, token)
                };
                scim_gateway::cycle::run_cli(options).await
            }
            Command::Verify { url, token, json } => {
                let options = scim_gateway::verify::VerifyOptions { url, token };
                scim_gateway::verify::run_cli(&options, json).await
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

/// How `check` resolves `${NAME}`s.
fn check_env(allow_missing: bool) -> impl Fn(&str) -> Option<String> {
    use scim_gateway::config::interpolate;
    move |name| match allow_missing {
        true => interpolate::from_env_or_stand_in(name),
        false => interpolate::from_env(name),
    }
}

async fn run_serve(path: PathBuf) -> Result<(), String> {
    // Watched from before the first read, so that no change is missed.
    let watch = ConfigWatch::new(&path);
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let store = server::open_store(&config)
        .await
        .map_err(|e| e.to_string())?;
    let app = server::LiveApp::new(
        server::app(&config, store.clone())
            .await
            .map_err(|e| e.to_string())?,
    );
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    for tenant in &config.tenants {
        tracing::info!(
            listen = %bound,
            scheme = config.server.scheme(),
            tenant = %tenant.name,
            base_path = %tenant.base_path,
            "scim-gateway serving"
        );
    }
    let reloads = tokio::spawn(server::reload::follow(
        path,
        watch,
        config.clone(),
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
    store.close().await;
    tracing::info!("store closed; stopped");
    served
}

async fn run_explain(request: &ExplainRequest, json: bool) -> Result<(), String> {
    let explained = explain::run(request).await.map_err(|e| e.to_string())?;
    if json {
        let doc = explained.explanation.to_json();
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", explained.render());
    }
    Ok(())
}

async fn run_reconcile(path: PathBuf, tenant: Option<String>, fix: bool) -> Result<(), String> {
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let tenant = config
        .select_tenant(tenant.as_deref())
        .map_err(|e| e.to_string())?;
    let store = server::open_store(&config)
        .await
        .map_err(|e| e.to_string())?;
    let users = server::users_service(&config, tenant, store.clone()).map_err(|e| e.to_string())?;
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

async fn run_rules_apply(
    path: PathBuf,
    tenant: Option<String>,
    dry_run: bool,
) -> Result<(), String> {
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let tenant = config
        .select_tenant(tenant.as_deref())
        .map_err(|e| e.to_string())?;
    if !tenant.groups.rules.is_active() {
        println!(
            "tenant {}: no group rules configured; nobody's role or licences are touched",
            tenant.name
        );
        return Ok(());
    }
    let store = server::open_store(&config)
        .await
        .map_err(|e| e.to_string())?;
    let users = server::users_service(&config, tenant, store.clone()).map_err(|e| e.to_string())?;
    let report = users.apply_rules(dry_run).await;
    store.close().await;
    let report = report.map_err(|e| e.to_string())?;
    let verb = if dry_run { "would change" } else { "changed" };
    for change in &report.changes {
        println!("  {change}");
    }
    for (user, error) in &report.failed {
        println!("  failed {user}: {error}");
    }
    println!(
        "tenant {}: checked {} users, {} {verb}{}",
        tenant.name,
        report.checked,
        report.changes.len(),
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    match report.failed.len() {
        0 => Ok(()),
        n => Err(format!(
            "{n} users could not be updated; run again to retry them"
        )),
    }
}

async fn run_legacy(listen: SocketAddr, api_key: String) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!(
        "sample legacy API on http://{listen}/api/v1 (X-Api-Key required, or a bearer token \
         from http://{listen}{} for client id {})",
        legacy::OAUTH_TOKEN_PATH,
        legacy::OAUTH_CLIENT_ID
    );
    let api = legacy::LegacyApi::new(api_key);
    let reporter = tokio::spawn(report_pace(api.clone()));
    let served = legacy::serve(listener, api.clone(), stop_requested()).await;
    reporter.abort();
    println!("{}", pace_line(&api));
    served.map_err(|e| e.to_string())
}

/// Every 10 s with new requests, one line on the pace the sample API sees: what a gateway's
/// `[downstream] rate_limit` is checked against (scripts/bench.sh reads it).
async fn report_pace(api: legacy::LegacyApi) {
    let mut reported = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        let total = api.request_count().total();
        if total != reported {
            reported = total;
            println!("{}", pace_line(&api));
        }
    }
}

fn pace_line(api: &legacy::LegacyApi) -> String {
    format!(
        "sample legacy API: {} requests, peak {} requests in one second",
        api.request_count().total(),
        api.peak_per_second()
    )
}

async fn run_token(command: TokenCommand) -> Result<(), String> {
    let target = match &command {
        TokenCommand::Create { target, .. }
        | TokenCommand::List { target }
        | TokenCommand::Revoke { target, .. }
        | TokenCommand::Rotate { target, .. } => target,
    };
    let config = Config::load(&target.config).map_err(|e| e.to_string())?;
    let tenant = token_admin::tenant(&config, target.tenant.as_deref())?;
    let store = scim_gateway::store::open(&config.store_url)
        .await
        .map_err(|e| e.to_string())?;
    let result = token_command(&command, store.as_ref(), tenant).await;
    store.close().await;
    result
}

async fn token_command(
    command: &TokenCommand,
    store: &dyn scim_gateway::store::Store,
    tenant: &scim_gateway::config::TenantConfig,
) -> Result<(), String> {
    let lifetime = |e: &Option<String>| e.as_deref().map(token_admin::parse_duration).transpose();
    match command {
        TokenCommand::Create { name, expires, .. } => {
            let token = token_admin::create(store, &tenant.name, name, lifetime(expires)?).await?;
            print_new_token(tenant, &token);
        }
        TokenCommand::List { .. } => {
            let now = scim_gateway::auth::issued::unix_now();
            let tokens = store
                .list_tokens(&tenant.name)
                .await
                .map_err(|e| e.to_string())?;
            if tokens.is_empty() {
                println!("tenant {} has no issued tokens", tenant.name);
            }
            for token in &tokens {
                println!("{}", token_admin::describe(token, now));
            }
        }
        TokenCommand::Revoke { token, .. } => {
            let revoked = token_admin::revoke(store, &tenant.name, token).await?;
            if revoked.is_empty() {
                println!("nothing to revoke: {token} was revoked already");
            }
            for t in &revoked {
                println!("revoked {} ({}…): refused from now on", t.name, t.prefix);
            }
        }
        TokenCommand::Rotate {
            token,
            overlap,
            expires,
            ..
        } => {
            let overlap = token_admin::parse_duration(overlap)?;
            let (new, old) =
                token_admin::rotate(store, &tenant.name, token, overlap, lifetime(expires)?)
                    .await?;
            print_new_token(tenant, &new);
            let until = scim_gateway::auth::issued::unix_now()
                .saturating_add(scim_gateway::auth::issued::duration_secs(overlap));
            for t in &old {
                println!(
                    "old token {}… keeps working until {}",
                    t.prefix,
                    token_admin::timestamp(Some(until))
                );
            }
        }
    }
    Ok(())
}

/// The one time a secret is shown: on stdout, for the operator to paste into Entra ID.
fn print_new_token(tenant: &scim_gateway::config::TenantConfig, token: &NewToken) {
    println!(
        "tenant {}: token {:?} ({}…), expires {}",
        tenant.name,
        token.record.name,
        token.record.prefix,
        token_admin::timestamp(token.record.expires_at)
    );
    println!("Secret Token (shown once, store it now):");
    println!("{}", token.secret);
}
