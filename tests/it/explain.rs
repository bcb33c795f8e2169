//! `scim-gateway explain` and `?dry_run=true` as an operator uses them: they show the
//! downstream calls a SCIM request would make (reads sent, writes not), nothing is written
//! downstream or to the gateway's store, and the downstream API key never shows.

use std::path::PathBuf;
use std::process::Command;

use reqwest::{Method, StatusCode};
use scim_gateway::cli::demo::EXAMPLE_CONFIG;
use serde_json::{Value, json};

use crate::durability::with_store;
use crate::groups::{PATCH_OP, group, user};
use crate::groups_downstream::downstream_groups;
use crate::support::process::TempDir;
use crate::support::{Stack, TOKEN, assert_scim_error, entra_user};

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The sample API, a gateway, and the same config (store file included) on disk for
/// `explain` to read.
struct Setup {
    stack: Stack,
    config: PathBuf,
    dir: TempDir,
}

impl Setup {
    async fn new(edit: impl FnOnce(&str) -> String) -> Self {
        let dir = TempDir::new("explain");
        let text = with_store(&edit(EXAMPLE_CONFIG), &dir.0.join("gateway.db"));
        let config = dir.0.join("gateway.toml");
        std::fs::write(&config, &text).unwrap();
        let stack = Stack::start_with(|_| text).await;
        Self { stack, config, dir }
    }

    /// Runs `scim-gateway explain ARGS` and returns what it printed, asserting that it
    /// succeeded and that the API key shows nowhere.
    async fn explain(&self, args: &[&str]) -> String {
        let mut command = Command::new(BIN);
        command
            .arg("explain")
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("SCIM_TOKEN", TOKEN)
            .env("RUST_LOG", "debug");
        for (k, v) in self.stack.legacy_env() {
            command.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "{stdout}{stderr}");
        assert_no_key(&self.stack, &stdout);
        assert_no_key(&self.stack, &stderr);
        stdout
    }
}

fn env(stack: &Stack, name: &str) -> String {
    stack
        .legacy_env()
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone())
        .unwrap()
}

fn assert_no_key(stack: &Stack, text: &str) {
    assert!(
        !text.contains(&env(stack, "LEGACY_API_KEY")),
        "the downstream API key shows: {text}"
    );
}

/// Asserts the sample API received no write since its counters were last reset.
fn assert_no_write(stack: &Stack) {
    let c = stack.legacy.request_count();
    assert_eq!(
        (c.posts, c.puts, c.patches, c.deletes, c.others),
        (0, 0, 0, 0, 0),
        "{c:?}"
    );
}

/// The JSON body printed under the call whose line starts with `call`.
fn body_of(out: &str, call: &str) -> Value {
    let text = out
        .lines()
        .skip_while(|l| !l.starts_with(&format!("  {call}")))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no body under {call}: {out}"));
    serde_json::from_str(text.trim()).unwrap()
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

#[tokio::test]
async fn explain_of_a_create_shows_the_record_it_would_post() {
    let s = Setup::new(str::to_owned).await;
    let api = env(&s.stack, "LEGACY_URL");
    let body =
        json!({"userName": "new@example.com", "name": {"givenName": "New", "familyName": "Comer"}});
    let out = s.explain(&["-d", &body.to_string(), "/Users"]).await;

    assert!(
        out.starts_with("POST /Users (tenant default) would make 1 downstream call:"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "\n  POST {api}/api/v1/accounts    (write: NOT sent)\n    X-Api-Key: ***\n"
        )),
        "{out}"
    );
    let sent = body_of(&out, "POST");
    assert_eq!(sent["account"]["email"], "new@example.com", "{out}");
    assert_eq!(sent["account"]["first_name"], "New", "{out}");
    assert!(out.contains("The SCIM client would get 201."), "{out}");
    assert!(out.contains("Nothing was sent to the downstream"), "{out}");

    // Not a single call reached the API, and the store knows no such user.
    assert_eq!(s.stack.legacy.request_count().total(), 0);
    assert!(s.stack.legacy.accounts().is_empty());
    let created = s
        .stack
        .create_user(entra_user("new@example.com", "New", "Comer"))
        .await;
    assert_eq!(created["userName"], "new@example.com");
}

#[tokio::test]
async fn explain_of_a_patch_sends_only_the_changed_fields() {
    let s = Setup::new(str::to_owned).await;
    let api = env(&s.stack, "LEGACY_URL");
    let created = s
        .stack
        .create_user(entra_user("ann@example.com", "Ann", "Lee"))
        .await;
    let id = created["id"].as_str().unwrap();
    let file = s.dir.0.join("patch.json");
    std::fs::write(
        &file,
        patch(json!([{"op": "replace", "path": "name.givenName", "value": "Annie"}])).to_string(),
    )
    .unwrap();
    s.stack.legacy.reset_request_count();

    let out = s
        .explain(&[
            "-X",
            "PATCH",
            &format!("/Users/{id}"),
            "-d",
            &format!("@{}", file.display()),
        ])
        .await;
    assert!(
        out.contains(&format!(
            "\n  GET {api}/api/v1/accounts/{id}    (read: sent)\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "\n  PATCH {api}/api/v1/accounts/{id}    (write: NOT sent)\n"
        )),
        "{out}"
    );
    assert_eq!(
        body_of(&out, "PATCH"),
        json!({"account": {"first_name": "Annie"}})
    );
    assert!(out.contains("The SCIM client would get 200."), "{out}");
    assert!(
        out.contains("Reads (GET) were sent to the downstream"),
        "{out}"
    );

    assert_no_write(&s.stack);
    assert!(s.stack.legacy.request_count().gets >= 1);
    assert_eq!(
        s.stack.account("ann@example.com").unwrap()["first_name"],
        "Ann"
    );
    let (_, now) = s.stack.get(&format!("/Users/{id}")).await;
    assert_eq!(now["name"]["givenName"], "Ann");
    assert_eq!(now["meta"]["version"], created["meta"]["version"]);
}

#[tokio::test]
async fn explain_of_a_delete_deletes_nothing() {
    let s = Setup::new(str::to_owned).await;
    let api = env(&s.stack, "LEGACY_URL");
    let id = user(&s.stack, "gone@example.com").await;
    s.stack.legacy.reset_request_count();

    // The path may be given with the Tenant URL's path, as copied from a log.
    let out = s
        .explain(&["-X", "DELETE", &format!("/scim/v2/Users/{id}")])
        .await;
    assert!(
        out.contains(&format!(
            "\n  DELETE {api}/api/v1/accounts/{id}    (write: NOT sent)\n"
        )),
        "{out}"
    );
    assert!(out.contains("The SCIM client would get 204."), "{out}");

    assert_no_write(&s.stack);
    assert!(s.stack.account("gone@example.com").is_some());
    let (status, _) = s.stack.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn explain_of_a_member_patch_shows_the_member_call_and_the_role_it_grants() {
    let s = Setup::new(downstream_groups).await;
    let api = env(&s.stack, "LEGACY_URL");
    let member = user(&s.stack, "ann@example.com").await;
    let admins = group(&s.stack, "Admins").await;
    let team = s.stack.legacy.teams()[0].id;
    s.stack.legacy.reset_request_count();

    let ops = patch(json!([{"op": "add", "path": "members", "value": [{"value": member}]}]));
    let out = s
        .explain(&[
            "--json",
            "-X",
            "PATCH",
            &format!("/Groups/{admins}"),
            "-d",
            &ops.to_string(),
        ])
        .await;
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["dryRun"], true);
    assert_eq!(doc["status"], 204, "{doc}");
    let writes: Vec<&Value> = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["sent"] == false)
        .collect();
    assert_eq!(
        writes,
        [
            &json!({"method": "PUT", "url": format!("{api}/api/v1/teams/{team}/members/{member}"),
                    "headers": {"X-Api-Key": "***"}, "sent": false}),
            &json!({"method": "PATCH", "url": format!("{api}/api/v1/accounts/{member}"),
                    "headers": {"X-Api-Key": "***"}, "body": {"account": {"role": "admin"}},
                    "sent": false}),
        ],
        "{doc}"
    );

    assert_no_write(&s.stack);
    assert!(s.stack.legacy.teams()[0].members.is_empty());
    assert_eq!(s.stack.account("ann@example.com").unwrap()["role"], "user");
    let (_, got) = s.stack.get(&format!("/Groups/{admins}")).await;
    assert_eq!(got["members"], json!([]));
}

async fn dry_run_stack() -> Stack {
    Stack::start_with(|t| t.replacen("[server]\n", "[server]\nallow_dry_run = true\n", 1)).await
}

#[tokio::test]
async fn dry_run_answers_the_calls_and_writes_nothing() {
    let stack = dry_run_stack().await;
    let created = stack
        .create_user(entra_user("ann@example.com", "Ann", "Lee"))
        .await;
    let id = created["id"].as_str().unwrap();
    stack.legacy.reset_request_count();

    let rename = patch(json!([{"op": "replace", "path": "name.givenName", "value": "Annie"}]));
    let (status, answer) = stack
        .call(
            Method::PATCH,
            &format!("/Users/{id}?dry_run=true"),
            Some(rename),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["dryRun"], true);
    assert_eq!(answer["status"], 200);
    let calls = answer["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{answer}");
    assert_eq!(
        (&calls[0]["method"], &calls[0]["sent"]),
        (&json!("GET"), &json!(true))
    );
    assert_eq!(calls[1]["method"], "PATCH");
    assert_eq!(calls[1]["sent"], false);
    assert_eq!(
        calls[1]["body"],
        json!({"account": {"first_name": "Annie"}})
    );
    assert_eq!(calls[1]["headers"], json!({"X-Api-Key": "***"}));
    assert_no_key(&stack, &answer.to_string());

    let (_, answer) = stack
        .call(
            Method::POST,
            "/Users?dry_run=true",
            Some(entra_user("bob@example.com", "Bob", "Ray")),
        )
        .await;
    assert_eq!(answer["status"], 201, "{answer}");
    assert_eq!(answer["calls"][0]["method"], "POST");
    assert_eq!(
        answer["calls"][0]["body"]["account"]["email"],
        "bob@example.com"
    );
    let group = json!({"displayName": "Admins", "members": [{"value": id}]});
    let (_, answer) = stack
        .call(Method::POST, "/Groups?dry_run=true", Some(group))
        .await;
    assert_eq!(answer["status"], 201, "{answer}");
    let last = answer["calls"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["body"],
        json!({"account": {"role": "admin"}}),
        "{answer}"
    );
    let (_, answer) = stack
        .call(Method::DELETE, &format!("/Users/{id}?dry_run=true"), None)
        .await;
    assert_eq!(answer["status"], 204, "{answer}");
    assert_eq!(answer["calls"][1]["method"], "DELETE");

    // Nothing happened, downstream or in the gateway.
    assert_no_write(&stack);
    assert_eq!(stack.legacy.accounts().len(), 1);
    assert_eq!(stack.account("ann@example.com").unwrap()["role"], "user");
    let (_, now) = stack.get(&format!("/Users/{id}")).await;
    assert_eq!(now["name"]["givenName"], "Ann");
    assert_eq!(now["meta"]["version"], created["meta"]["version"]);
    let (_, groups) = stack.get("/Groups").await;
    assert_eq!(groups["totalResults"], 0);
    let (_, users) = stack.get("/Users").await;
    assert_eq!(users["totalResults"], 1);
}

#[tokio::test]
async fn dry_run_is_refused_where_not_allowed_and_never_becomes_a_write() {
    let stack = Stack::start().await;
    let id = user(&stack, "ann@example.com").await;
    stack.legacy.reset_request_count();
    let (status, body) = stack
        .call(Method::DELETE, &format!("/Users/{id}?dry_run=true"), None)
        .await;
    assert_scim_error(status, &body, 403, None);
    assert!(
        body["detail"].as_str().unwrap().contains("allow_dry_run"),
        "{body}"
    );
    assert_eq!(stack.legacy.request_count().total(), 0);
    assert!(stack.account("ann@example.com").is_some());

    let stack = dry_run_stack().await;
    let id = user(&stack, "ann@example.com").await;
    let (status, body) = stack
        .call(Method::DELETE, &format!("/Users/{id}?dry_run=maybe"), None)
        .await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert!(stack.account("ann@example.com").is_some());
}

#[tokio::test]
async fn sensitive_attributes_are_masked_in_dry_runs_and_never_quoted_in_errors() {
    let stack = Stack::start_with(|t| {
        t.replacen("[server]\n", "[server]\nallow_dry_run = true\n", 1)
            .replace(
                r#"User:employeeNumber" = "/employee_number""#,
                r#"User:employeeNumber" = { path = "/employee_number", sensitive = true }"#,
            )
    })
    .await;
    let mut ann = entra_user("ann@example.com", "Ann", "Lee");
    ann[ENTERPRISE]["employeeNumber"] = json!("770411");
    let (status, answer) = stack
        .call(Method::POST, "/Users?dry_run=true", Some(ann.clone()))
        .await;
    assert_eq!(answer["status"], 201, "{answer}");
    assert_eq!(status, StatusCode::OK);
    let sent = &answer["calls"][0]["body"]["account"];
    assert_eq!(sent["employee_number"], "***", "{answer}");
    assert_eq!(sent["email"], "ann@example.com", "{answer}");
    assert!(!answer.to_string().contains("770411"), "{answer}");

    // The real write sends it, and a value the API cannot take is refused without quoting it.
    let created = stack.create_user(ann).await;
    assert_eq!(
        stack.account("ann@example.com").unwrap()["employee_number"],
        "770411"
    );
    let id = created["id"].as_str().unwrap();
    let wrong = patch(
        json!([{"op": "replace", "path": format!("{ENTERPRISE}:employeeNumber"),
        "value": 123456789}]),
    );
    let (status, error) = stack
        .call(Method::PATCH, &format!("/Users/{id}"), Some(wrong))
        .await;
    assert_scim_error(status, &error, 400, Some("invalidValue"));
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.contains("employeeNumber"), "{detail}");
    assert!(!detail.contains("123456789"), "{detail}");
}
