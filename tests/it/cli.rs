//! The command line as a user runs it: `check` reports problems with line:col, and `demo`
//! (with the bundled gateway.toml or a given one) prints a Tenant URL and Secret Token that
//! work as printed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

fn check(path: &std::path::Path) -> (bool, String) {
    crate::support::process::run_binary(
        &["check", "--config", path.to_str().unwrap()],
        &[
            ("LEGACY_URL", "http://127.0.0.1:9"),
            ("LEGACY_API_KEY", "k"),
            ("SCIM_TOKEN", "0123456789abcdef0123"),
        ],
        &[],
    )
}

/// A file of this repository.
fn shipped(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The conformance suite's unadapted run serves this mapping (scripts/conformance.sh).
const OPEN_MAPPING: &str = "scripts/conformance/open.toml";

#[test]
fn check_accepts_the_shipped_configs_and_names_the_line_of_a_mistake() {
    for config in ["gateway.toml", OPEN_MAPPING] {
        let (ok, text) = check(&shipped(config));
        assert!(ok, "{config}: {text}");
        assert!(text.contains(": ok"), "{config}: {text}");
    }
    let example = shipped("gateway.toml");

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

/// A running `scim-gateway demo` and what its banner printed.
struct Demo {
    url: String,
    token: String,
    /// The banner lines up to the token (the mapping is named before it).
    banner: Vec<String>,
    /// With `--admin`: the console's URL and admin token.
    console: Option<(String, String)>,
    client: reqwest::Client,
    _running: Running,
}

/// Starts `scim-gateway demo --listen 127.0.0.1:0` with `extra` arguments and reads the Tenant
/// URL and Secret Token from its output.
fn start_demo(extra: &[&str]) -> Demo {
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut token, mut banner) = (None, None, Vec::new());
    let (mut console, mut admin_token) = (None, None);
    let admin = extra.contains(&"--admin");
    let started = Instant::now();
    while (url.is_none() || token.is_none() || (admin && admin_token.is_none()))
        && started.elapsed() < Duration::from_secs(30)
    {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(u) = line.trim().strip_prefix("Operator console:") {
                console = Some(u.trim().to_owned());
            }
            if let Some(t) = line.trim().strip_prefix("Admin token:") {
                admin_token = Some(t.trim().to_owned());
            }
            if let Some(u) = line.trim().strip_prefix("Tenant URL:") {
                url = Some(u.trim().to_owned());
            }
            if let Some(t) = line.trim().strip_prefix("Secret Token:") {
                token = Some(t.trim().to_owned());
            }
            banner.push(line);
        }
    }
    scim_gateway::crypto::install_provider();
    Demo {
        url: url.expect("demo prints the Tenant URL"),
        token: token.expect("and a token"),
        banner,
        console: console.zip(admin_token),
        client: reqwest::Client::new(),
        _running: running,
    }
}

impl Demo {
    /// Sends a SCIM request with the printed token; returns the status and the JSON body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }
}

#[tokio::test]
async fn demo_prints_a_tenant_url_and_token_that_work() {
    let demo = start_demo(&[]);
    assert!(
        demo.banner
            .iter()
            .any(|l| l.trim() == "Mapping:       gateway.toml (bundled)"),
        "{:?}",
        demo.banner
    );
    let user =
        json!({"userName": "demo@example.com", "name": {"givenName": "De", "familyName": "Mo"}});
    let (status, created) = demo.call(reqwest::Method::POST, "/Users", Some(user)).await;
    assert_eq!(status, 201, "{created}");
    let (status, list) = demo.call(reqwest::Method::GET, "/Users", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["userName"], "demo@example.com");
}

/// `demo --config` runs the given mapping: the open one, onto the sample API's members, takes
/// the values the conformance suite sends unadapted (a UUID as userName, a mobile phone, a
/// manager id naming no one) and gives each back as written.
#[tokio::test]
async fn demo_runs_a_given_config_and_the_open_mapping_keeps_any_value() {
    let demo = start_demo(&["--config", shipped(OPEN_MAPPING).to_str().unwrap()]);
    assert!(
        demo.banner
            .iter()
            .any(|l| l.trim().starts_with("Mapping:") && l.ends_with(OPEN_MAPPING)),
        "{:?}",
        demo.banner
    );
    let user_name = uuid::Uuid::new_v4().to_string();
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", enterprise],
        "userName": user_name,
        "title": "f0a3c2e1",
        "phoneNumbers": [{"type": "mobile", "value": "9230614237", "primary": true},
                         {"type": "work", "value": "5431900892"}],
        "emails": [{"type": "home", "value": "not-an-address"}],
        enterprise: {"manager": {"value": "a manager nobody created"}, "department": "7"},
    });
    let (status, created) = demo
        .call(reqwest::Method::POST, "/Users", Some(user.clone()))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "mbr-1", "the members resource made it");
    let (status, read) = demo.call(reqwest::Method::GET, "/Users/mbr-1", None).await;
    assert_eq!(status, 200);
    for key in ["userName", "title", "phoneNumbers", "emails"] {
        assert_eq!(read[key], user[key], "{key} in {read}");
    }
    assert_eq!(
        read[enterprise]["manager"]["value"],
        "a manager nobody created"
    );
    assert_eq!(read[enterprise]["department"], "7");
    let filter = format!("/Users?filter=userName%20eq%20%22{user_name}%22");
    let (status, found) = demo.call(reqwest::Method::GET, &filter, None).await;
    assert_eq!(
        (status, &found["totalResults"]),
        (200, &json!(1)),
        "{found}"
    );
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
    let text = scim_gateway::cli::demo::EXAMPLE_CONFIG
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

#[tokio::test]
async fn demo_admin_prints_a_console_that_signs_in_with_its_token_and_shows_the_activity() {
    let demo = start_demo(&["--admin"]);
    let (console, admin_token) = demo
        .console
        .clone()
        .expect("the console and its token are printed");
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "demo.console@example.com",
        "name": {"givenName": "Demo", "familyName": "Console"},
        "emails": [{"value": "demo.console@example.com", "type": "work", "primary": true}],
        "active": true
    });
    let (status, _) = demo.call(reqwest::Method::POST, "/Users", Some(user)).await;
    assert_eq!(status, 201);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client.get(format!("{console}login")).send().await.unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = login.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let signed_in = client
        .post(format!("{console}login"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("user", ""),
            ("secret", admin_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut shown = false;
    for _ in 0..50 {
        let page = client
            .get(format!("{console}activity"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("demo.console@example.com") {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(shown, "the create shows up in Activity within seconds");
}

/// `check` on the shipped gateway.toml changed by `edits`, with `env` and without `unset`.
fn check_edited(edits: &[(&str, &str)], args: &[&str], unset: &[&str]) -> (bool, String, String) {
    let dir = crate::support::process::TempDir::new("check-many");
    let mut text = std::fs::read_to_string(shipped("gateway.toml")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    let path = dir.0.join("gateway.toml");
    std::fs::write(&path, &text).unwrap();
    let mut all = vec!["check", "--config", path.to_str().unwrap()];
    all.extend_from_slice(args);
    let (ok, out) = crate::support::process::run_binary(
        &all,
        &[
            ("LEGACY_URL", "http://127.0.0.1:9"),
            ("LEGACY_API_KEY", "k"),
            ("SCIM_TOKEN", "0123456789abcdef0123"),
            ("RUST_LOG", "warn"),
        ],
        unset,
    );
    (ok, out, text)
}

#[test]
fn check_reports_every_problem_at_once_in_toml_words_with_did_you_mean() {
    let (ok, out, text) = check_edited(
        &[
            ("request_timeout_ms = 30000", "request_timeout_ms = \"30s\""),
            ("create = \"POST", "craete = \"POST"),
            ("max_page_size = 100", "max_page_size = \"x\""),
            ("paging = \"page\"", "paging = \"pages\""),
            ("mode = \"virtual\"", "mode = \"virtual\"\nmdoe = 1"),
        ],
        &[],
        &[],
    );
    assert!(!ok, "{out}");
    let line = |needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    let expected = [
        format!(
            "gateway.toml:{}:22: server.request_timeout_ms: expected an integer (milliseconds), found a string \"30s\"",
            line("request_timeout_ms")
        ),
        format!(
            "gateway.toml:{}:1: users.craete: unknown key \"craete\" in [users]; did you mean \"create\"?",
            line("craete")
        ),
        format!(
            "gateway.toml:{}:17: users.list.max_page_size: expected an integer, found a string \"x\"",
            line("max_page_size")
        ),
        format!(
            "gateway.toml:{}:1: groups.mdoe: unknown key \"mdoe\" in [groups]; did you mean \"mode\"?",
            line("mdoe")
        ),
    ];
    let mut at = 0;
    for problem in &expected {
        let found = out[at..]
            .find(problem.as_str())
            .unwrap_or_else(|| panic!("{problem} not (in order) in:\n{out}"));
        at += found + problem.len();
    }
    assert!(out.contains("error: 4 problems in "), "{out}");
    // The misspelt `create` is one problem, not also a missing key; [users] has a problem of
    // shape, so its later checks (paging's value) wait for it to be fixed.
    assert!(!out.contains("missing key"), "{out}");
    for rust in ["u64", "invalid type", "unknown field", "`"] {
        assert!(!out.contains(rust), "{rust} in {out}");
    }
}

#[test]
fn check_reports_each_later_problem_of_every_section_and_tenant() {
    let (ok, out, _) = check_edited(
        &[
            ("paging = \"page\"", "paging = \"pages\""),
            ("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1\""),
            ("mode = \"virtual\"", "mode = \"virtua\""),
        ],
        &[],
        &[],
    );
    assert!(!ok, "{out}");
    for problem in [
        "server.listen: ",
        "users.list.paging: \"pages\": use page, offset, cursor, next_link or none",
        "groups.mode: \"virtua\": use virtual, downstream or disabled",
    ] {
        assert!(out.contains(problem), "{problem} not in {out}");
    }
    assert!(out.contains("error: 3 problems in "), "{out}");
}

#[test]
fn check_names_every_unset_variable_unless_told_to_stand_in() {
    let (ok, out, text) = check_edited(&[], &[], &["LEGACY_URL", "LEGACY_API_KEY"]);
    assert!(!ok, "{out}");
    let url_line = text
        .lines()
        .position(|l| l.contains("${LEGACY_URL}"))
        .unwrap()
        + 1;
    assert!(
        out.contains(&format!(
            "gateway.toml:{url_line}:13: downstream.base_url: environment variable LEGACY_URL is not set"
        )),
        "{out}"
    );
    assert!(
        out.contains("environment variable LEGACY_API_KEY is not set"),
        "{out}"
    );
    assert!(out.contains("error: 2 problems in "), "{out}");

    let (ok, out, _) = check_edited(
        &[],
        &["--allow-missing-env"],
        &["LEGACY_URL", "LEGACY_API_KEY"],
    );
    assert!(ok, "{out}");
    assert!(out.contains(": ok"), "{out}");
}

/// Every gateway.toml the repository ships, as JSON.
fn shipped_configs() -> Vec<(String, serde_json::Value)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("gateway.toml"),
        root.join(OPEN_MAPPING),
        root.join("tests/fixtures/directory.toml"),
        root.join("deploy/compose/gateway.toml"),
        root.join("deploy/kubernetes/gateway.toml"),
    ];
    for example in std::fs::read_dir(root.join("examples")).unwrap() {
        files.push(example.unwrap().path().join("gateway.toml"));
    }
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let value: toml::Value = toml::from_str(&text).unwrap();
            (
                path.display().to_string(),
                serde_json::to_value(value).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_printed_schema_accepts_every_shipped_config_and_refuses_a_misspelt_key() {
    let (ok, out) = crate::support::process::run_binary(&["schema"], &[("RUST_LOG", "warn")], &[]);
    assert!(ok, "{out}");
    let schema: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(!out.contains("\"null\""), "TOML has no null: {out}");
    let timeout = &schema["definitions"]["RawServer"]["properties"]["request_timeout_ms"];
    assert_eq!(timeout["type"], "integer", "{timeout}");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let configs = shipped_configs();
    assert!(configs.len() >= 10, "{}", configs.len());
    for (path, config) in &configs {
        let errors: Vec<String> = validator
            .iter_errors(config)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{path}: {errors:?}");
    }
    let mut misspelt = configs[0].1.clone();
    let users = misspelt["users"].as_object_mut().unwrap();
    let create = users.remove("create").unwrap();
    users.insert("craete".into(), create);
    assert!(!validator.is_valid(&misspelt));
    let mut wrong_type = configs[0].1.clone();
    wrong_type["server"]["request_timeout_ms"] = json!("30s");
    assert!(!validator.is_valid(&wrong_type));
}
