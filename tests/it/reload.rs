//! Hot reload of gateway.toml in `serve`: SIGHUP or a change of the file applies a new
//! mapping to the next request, a broken file leaves the running configuration serving (and
//! the log names file:line:col), settings bound at start-up wait for a restart, and a request
//! in flight finishes on the configuration it started with.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use scim_gateway::cli::demo::EXAMPLE_CONFIG;
use scim_gateway::server::{self, LiveApp};
use scim_gateway::settings::Config;
use tokio::net::TcpListener;

use crate::durability::with_store;
use crate::support::process::{SpawnedGateway, TempDir, free_port, spawn_gateway};
use crate::support::{Stack, TOKEN, entra_user};

const GIVEN_NAME: &str = "\"name.givenName\" = \"/first_name\"";
const GIVEN_NAME_UPPER: &str = "\"name.givenName\" = { path = \"/first_name\", case = \"upper\" }";

/// A spawned gateway on a config file, in front of the sample API.
struct Served {
    stack: Stack,
    gateway: SpawnedGateway,
    config: PathBuf,
    log: PathBuf,
    base: String,
    port: u16,
    _dir: TempDir,
}

impl Served {
    async fn start() -> Self {
        Self::start_with("").await
    }

    /// [`Served::start`], with `extra` at the end of the file.
    async fn start_with(extra: &str) -> Self {
        let dir = TempDir::new("reload");
        let stack = Stack::start().await;
        let port = free_port();
        let config = dir.0.join("gateway.toml");
        let text = with_store(EXAMPLE_CONFIG, &dir.0.join("gateway.db")).replace(
            "listen = \"127.0.0.1:8080\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        ) + extra;
        std::fs::write(&config, text).unwrap();
        let log = dir.0.join("gateway.log");
        let gateway = spawn_gateway(&config, stack.legacy_env(), port, Some(&log)).await;
        Self {
            stack,
            gateway,
            config,
            log,
            base: format!("http://127.0.0.1:{port}/scim/v2"),
            port,
            _dir: dir,
        }
    }

    fn edit(&self, edit: impl FnOnce(&str) -> String) -> String {
        let text = edit(&std::fs::read_to_string(&self.config).unwrap());
        std::fs::write(&self.config, &text).unwrap();
        text
    }

    fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.gateway.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has `n` lines containing `needle`; returns the log.
    async fn wait_for_log(&self, needle: &str, n: usize) -> String {
        let started = Instant::now();
        loop {
            let log = self.log_text();
            if log.lines().filter(|l| l.contains(needle)).count() >= n {
                return log;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no {needle:?} in the log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates a user through the gateway; returns the first name the API stored.
    async fn first_name_of_new_user(&self, email: &str, given: &str) -> String {
        create(&reqwest::Client::new(), &self.base, email, given).await;
        self.stack.account(email).unwrap()["first_name"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

async fn create(client: &reqwest::Client, base: &str, email: &str, given: &str) {
    let response = client
        .post(format!("{base}/Users"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(entra_user(email, given, "Lee").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[tokio::test]
async fn sighup_applies_a_new_mapping_and_a_broken_file_keeps_the_old_one() {
    let s = Served::start().await;
    assert_eq!(
        s.first_name_of_new_user("ann@example.com", "Ann").await,
        "Ann"
    );

    s.edit(|t| t.replace(GIVEN_NAME, GIVEN_NAME_UPPER));
    s.hangup();
    let log = s
        .wait_for_log("configuration reloaded trigger=SIGHUP", 1)
        .await;
    assert!(log.contains("tenants=default"), "{log}");
    assert_eq!(
        s.first_name_of_new_user("bob@example.com", "Bob").await,
        "BOB"
    );

    let broken = s.edit(|t| t.replace("paging = \"page\"", "paging = \"pages\""));
    s.hangup();
    let log = s
        .wait_for_log("previous configuration trigger=SIGHUP", 1)
        .await;
    let line = line_of(&broken, "[users.list]");
    assert!(
        log.contains(&format!("gateway.toml:{line}:1: users.list.paging")),
        "{log}"
    );
    // Still serving the last good file: its mapping, its paging.
    assert_eq!(s.first_name_of_new_user("cy@example.com", "Cy").await, "CY");
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/Users", s.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["totalResults"], 3, "{listed}");
}

#[tokio::test]
async fn a_changed_file_is_applied_without_a_signal_and_the_listener_stays() {
    let s = Served::start().await;
    let other_port = free_port();
    s.edit(|t| {
        t.replace(GIVEN_NAME, GIVEN_NAME_UPPER).replace(
            &format!("listen = \"127.0.0.1:{}\"", s.port),
            &format!("listen = \"127.0.0.1:{other_port}\""),
        )
    });
    let log = s
        .wait_for_log("configuration reloaded trigger=file changed", 1)
        .await;
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("key=\"server.listen\"")),
        "{log}"
    );
    // The listener stays where it is; the mapping is the new one.
    assert_eq!(
        s.first_name_of_new_user("dee@example.com", "Dee").await,
        "DEE"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", other_port)).is_err(),
        "nothing listens on the new address before a restart"
    );
}

#[tokio::test]
async fn the_console_follows_reloads_taken_and_refused() {
    use sha2::{Digest, Sha256};
    let admin_port = free_port();
    let digest = hex::encode(Sha256::digest(crate::console::ADMIN_TOKEN.as_bytes()));
    let s = Served::start_with(&format!(
        "\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\ntoken_sha256 = \"{digest}\"\n"
    ))
    .await;
    let mut console = crate::console::Browser::at(format!("http://127.0.0.1:{admin_port}"));
    console.sign_in().await;
    let version = |html: &str| {
        let start = html.find("Configuration <code>").unwrap() + "Configuration <code>".len();
        html[start..].split('<').next().unwrap().to_owned()
    };
    let first = console.get("/").await.html;
    assert!(first.contains("Not reloaded since start."), "{first}");
    let served = version(&first);

    s.edit(|t| t.replace("paging = \"page\"", "paging = \"pages\""));
    s.hangup();
    s.wait_for_log("previous configuration trigger=SIGHUP", 1)
        .await;
    let refused = console.get("/").await.html;
    assert!(
        refused.contains("), refused; the configuration above is still served: "),
        "{refused}"
    );
    assert!(refused.contains("users.list.paging"), "{refused}");
    assert_eq!(
        version(&refused),
        served,
        "the running file is still the one shown"
    );

    s.edit(|t| {
        t.replace("paging = \"pages\"", "paging = \"page\"")
            .replace(GIVEN_NAME, GIVEN_NAME_UPPER)
    });
    s.hangup();
    s.wait_for_log("configuration reloaded trigger=SIGHUP", 1)
        .await;
    let taken = console.get("/").await.html;
    assert!(taken.contains("(SIGHUP), taken."), "{taken}");
    assert_ne!(version(&taken), served);
    let mapping = console.get("/mapping").await.html;
    assert!(
        mapping.contains("case = &quot;upper&quot;"),
        "the new file: {mapping}"
    );
}

/// Starts an in-process gateway on `live`; returns its Tenant URL.
async fn serve(config: &Config, live: LiveApp) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(listener, live, &config.server, std::future::pending()).unwrap());
    format!("http://{addr}/scim/v2")
}

async fn app(config: &Config, store: &scim_gateway::store::Store) -> axum::Router {
    server::app(config, store.clone()).await.unwrap()
}

fn parse(stack: &Stack, text: &str) -> Config {
    let env = |name: &str| match name {
        "SCIM_TOKEN" => Some(TOKEN.to_owned()),
        other => stack
            .legacy_env()
            .iter()
            .find(|(k, _)| *k == other)
            .map(|(_, v)| v.clone()),
    };
    Config::parse("gateway.toml", text, &env).unwrap()
}

/// Also over a keep-alive connection: the app is taken per request, not per connection.
#[tokio::test]
async fn a_request_in_flight_finishes_on_the_config_it_started_with() {
    let stack = Stack::start().await;
    let dir = TempDir::new("inflight");
    let old_text = with_store(EXAMPLE_CONFIG, &dir.0.join("gateway.db"));
    let old = parse(&stack, &old_text);
    let new = parse(&stack, &old_text.replace(GIVEN_NAME, GIVEN_NAME_UPPER));
    let store = server::open_store(&old).await.unwrap();
    let live = LiveApp::new(app(&old, &store).await);
    let base = serve(&old, live.clone()).await;
    // One connection, kept alive across the reload.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    create(&client, &base, "early@example.com", "Early").await;

    stack.legacy.set_delay(Duration::from_millis(600));
    let in_flight = tokio::spawn({
        let (client, base) = (client.clone(), base.clone());
        async move { create(&client, &base, "slow@example.com", "Slow").await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    live.replace(app(&new, &store).await);
    in_flight.await.unwrap();
    stack.legacy.set_delay(Duration::ZERO);

    assert_eq!(
        stack.account("slow@example.com").unwrap()["first_name"],
        "Slow"
    );
    create(&client, &base, "fast@example.com", "Fast").await;
    assert_eq!(
        stack.account("fast@example.com").unwrap()["first_name"],
        "FAST"
    );
}
