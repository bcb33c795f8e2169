//! The command line as a user runs it: `check` reports problems with line:col, and `demo`
//! prints a Tenant URL and Secret Token that work as printed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

fn check(path: &std::path::Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(path)
        .env("LEGACY_URL", "http://127.0.0.1:9")
        .env("LEGACY_API_KEY", "k")
        .env("SCIM_TOKEN", "0123456789abcdef0123")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_accepts_the_example_and_names_the_line_of_a_mistake() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let (ok, text) = check(&example);
    assert!(ok, "{text}");
    assert!(text.contains("ok"), "{text}");

    let dir = std::env::temp_dir().join(format!("scim-gateway-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("gateway.toml");
    let text = std::fs::read_to_string(&example)
        .unwrap()
        .replace("paging = \"page\"", "paging = \"pages\"");
    std::fs::write(&broken, &text).unwrap();
    let (ok, out) = check(&broken);
    assert!(!ok);
    let line = text
        .lines()
        .position(|l| l.starts_with("[users.list]"))
        .unwrap()
        + 1;
    assert!(out.contains(&format!("gateway.toml:{line}:")), "{out}");
    assert!(
        out.contains("users.list.paging: \"pages\": use page, offset, cursor, next_link or none"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Kills the child when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn demo_prints_a_tenant_url_and_token_that_work() {
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut token) = (None, None);
    let started = Instant::now();
    while (url.is_none() || token.is_none()) && started.elapsed() < Duration::from_secs(30) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(u) = line.trim().strip_prefix("Tenant URL:") {
                url = Some(u.trim().to_owned());
            }
            if let Some(t) = line.trim().strip_prefix("Secret Token:") {
                token = Some(t.trim().to_owned());
            }
        }
    }
    let (url, token) = (
        url.expect("demo prints the Tenant URL"),
        token.expect("and a token"),
    );
    scim_gateway::downstream::client::install_crypto_provider();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{url}/Users"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "demo@example.com", "name": {"givenName": "De", "familyName": "Mo"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let list: serde_json::Value = client
        .get(format!("{url}/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["userName"], "demo@example.com");
}

/// Runs the binary in `cwd` with the sample API's variables; returns success and stdout.
fn run_in(cwd: &std::path::Path, args: &[&str], env: &[(&str, String)]) -> (bool, String) {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(cwd)
        .env("SCIM_TOKEN", crate::support::TOKEN)
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {text}{err}");
    (out.status.success(), text)
}

#[tokio::test]
async fn every_command_finds_the_store_beside_gateway_toml_and_listen_takes_a_variable() {
    use crate::support::process::{TempDir, free_port, spawn_gateway};

    let stack = crate::support::Stack::start().await;
    let home = TempDir::new("beside");
    let elsewhere = TempDir::new("elsewhere");
    let port = free_port();
    let text = scim_gateway::demo::EXAMPLE_CONFIG
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"${LISTEN}\"")
        .replace(
            "bearer = [\"${SCIM_TOKEN}\"]",
            "bearer = [\"${SCIM_TOKEN}\"]\nissued_tokens = true",
        )
        + "\n[store]\nurl = \"sqlite://gateway.db\"\n";
    std::fs::write(home.0.join("gateway.toml"), text).unwrap();
    // Named relative to another working directory, as an operator in another shell would.
    let config = format!(
        "../{}/gateway.toml",
        home.0.file_name().unwrap().to_string_lossy()
    );
    let mut env = stack.legacy_env().to_vec();
    env.push(("LISTEN", format!("127.0.0.1:{port}")));

    let (_, created) = run_in(
        &elsewhere.0,
        &["token", "create", "--name", "entra", "--config", &config],
        &env,
    );
    let issued = created.lines().last().unwrap().trim().to_owned();
    assert!(
        home.0.join("gateway.db").exists(),
        "no store beside gateway.toml"
    );
    assert!(
        !elsewhere.0.join("gateway.db").exists(),
        "a store in the working directory"
    );

    let (_, checked) = run_in(&elsewhere.0, &["check", "--config", &config], &env);
    let beside = std::fs::canonicalize(&home.0).unwrap().join("gateway.db");
    let store = format!("store: sqlite://{}", beside.display());
    assert!(checked.contains(&store), "{checked}");
    assert!(
        checked.contains(&format!("listen: 127.0.0.1:{port}")),
        "{checked}"
    );

    // `serve` from the test's own working directory reads the token `token create` wrote.
    let config = home.0.join("gateway.toml");
    let _gateway = spawn_gateway(&config, &env, port, None).await;
    let answer = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/scim/v2/Users"))
        .bearer_auth(&issued)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        200,
        "the issued token is not in serve's store"
    );
}
