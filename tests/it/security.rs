//! Attacks a gateway on the internet meets, each over real HTTP with the answer it must get:
//! no or garbage credentials, ids and filter values crafted to steer the downstream call,
//! and a log that must never hold a secret. (Tenant crossing, revoked and expired tokens:
//! tenants.rs; TLS, slow clients and header floods: tls.rs.)

use reqwest::{Method, StatusCode};
use scim_gateway::cli::demo::EXAMPLE_CONFIG;
use scim_gateway::tools::legacy::{OAUTH_CLIENT_ID, OAUTH_TOKEN_PATH};

use crate::support::process::{TempDir, free_port, spawn_gateway_with, write_config};
use crate::support::recording::recording_downstream;
use crate::support::{Stack, TOKEN, assert_scim_error, entra_user, start_gateway};

#[tokio::test]
async fn requests_without_valid_credentials_get_401_and_change_nothing() {
    let stack = Stack::start().await;
    let users = format!("{}/Users", stack.base);
    let long = format!("Bearer {}", "a".repeat(8_000));
    let attempts: Vec<Option<&str>> = vec![
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer "),
        Some("Bearer garbage"),
        Some("bearer test-token-0123456789abcdeX"),
        Some("Bearer test-token-0123456789abcde"),
        Some("Basic dGVzdDp0ZXN0"),
        Some("Token test-token-0123456789abcdef"),
        Some("Bearer sgw_0000000000000000000000000000000000000000000000000000000000000000"),
        Some(&long),
    ];
    for auth in attempts {
        for method in [Method::GET, Method::POST] {
            let body = (method == Method::POST).then(|| entra_user("x@example.com", "X", "Y"));
            let answer = stack.send_as(method.clone(), &users, auth, body).await;
            assert_scim_error(answer.status, &answer.body, 401, None);
            assert_eq!(
                answer.challenge.as_deref(),
                Some("Bearer realm=\"scim\""),
                "{auth:?}"
            );
        }
    }
    assert!(stack.legacy.accounts().is_empty());
    // The scheme is case-insensitive (RFC 7235), the token is not.
    let ok = stack
        .send_as(Method::GET, &users, Some(&format!("bEaReR {TOKEN}")), None)
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn ids_and_filters_cannot_steer_the_downstream_call() {
    let (url, seen) = recording_downstream().await;
    let gw = start_gateway(
        EXAMPLE_CONFIG,
        &[("LEGACY_URL", url), ("LEGACY_API_KEY", "k".to_owned())],
    )
    .await;
    // Ids crafted to leave their path segment: traversal, encoded slashes, query, fragment.
    for id in [
        "..%2F..%2Fadmin",
        "..%2f..%2fadmin",
        "%2e%2e%2F%2e%2e%2Fadmin",
        "1%3Frole%3Dadmin",
        "1%23fragment",
        "1%2F..%2F2",
        "%252e%252e%252Fadmin",
        "1%0D%0AX-Injected:%201",
    ] {
        seen.lock().unwrap().clear();
        let (status, body) = gw.get(&format!("/Users/{id}")).await;
        assert_scim_error(status, &body, 404, None);
        for uri in seen.lock().unwrap().iter().map(|s| &s.uri) {
            let rest = uri
                .strip_prefix("/api/v1/accounts/")
                .unwrap_or_else(|| panic!("{id}: the downstream was asked for {uri}"));
            assert!(
                !rest.contains('/') && !rest.contains('?') && !rest.contains('#'),
                "{id} escaped its segment: {uri}"
            );
            assert!(rest != ".." && rest != ".", "{id}: {uri}");
        }
    }
    // A filter value crafted to add query parameters stays one encoded value.
    seen.lock().unwrap().clear();
    let filter = "userName eq \"a@x.com&role=admin&email=b#frag\"";
    let encoded: String = url_encode(filter);
    let (status, body) = gw.get(&format!("/Users?filter={encoded}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 0);
    let uris: Vec<String> = seen.lock().unwrap().iter().map(|s| s.uri.clone()).collect();
    assert!(!uris.is_empty());
    for uri in uris {
        let parsed = reqwest::Url::parse(&format!("http://x{uri}")).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert!(pairs.iter().all(|(k, _)| k != "role"), "{uri}");
        let emails: Vec<_> = pairs.iter().filter(|(k, _)| k == "email").collect();
        assert_eq!(emails.len(), 1, "{uri}");
        assert_eq!(emails[0].1, "a@x.com&role=admin&email=b#frag", "{uri}");
    }
}

fn url_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A debug log of a gateway that accepted a static token, an issued token and Basic, and
/// refused a wrong token, calling a downstream with an OAuth2 token; with every secret that
/// went through it.
struct LoggedSession {
    log: String,
    secrets: Vec<String>,
    /// The SCIM id of the user created with the issued token.
    created: String,
}

/// Runs the session on a spawned gateway logging at debug level in `format`.
async fn logged_session(format: &str) -> LoggedSession {
    let stack = Stack::start().await;
    let dir = TempDir::new("log-secrets");
    let port = free_port();
    let basic_password = "basic-password-never-logged";
    let config = write_config(&dir, port, |text| {
        text.replace(
            "bearer = [\"${SCIM_TOKEN}\"]",
            "bearer = [\"${SCIM_TOKEN}\"]\nissued_tokens = true\n\
             basic = { username = \"entra\", password = \"${BASIC_PASSWORD}\" }",
        )
        .replace(
            r#"auth = { header = "X-Api-Key", value = "${LEGACY_API_KEY}" }"#,
            &format!(
                r#"auth = {{ token_url = "${{LEGACY_URL}}{OAUTH_TOKEN_PATH}", client_id = "{OAUTH_CLIENT_ID}", client_secret = "${{LEGACY_API_KEY}}" }}"#
            ),
        )
    });
    let mut env = stack.legacy_env().to_vec();
    env.push(("BASIC_PASSWORD", basic_password.to_owned()));

    // An issued token, made the way an operator makes it.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
    command
        .args(["token", "create", "--name", "entra-prod", "--config"])
        .arg(&config)
        .env("SCIM_TOKEN", TOKEN);
    for (k, v) in &env {
        command.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success());
    let issued = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();

    let log = dir.0.join("gateway.log");
    let gateway =
        spawn_gateway_with(&config, &env, port, Some(&log), &["--log-format", format]).await;
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    use base64::Engine as _;
    let basic_pair = format!("entra:{basic_password}");
    let basic = base64::engine::general_purpose::STANDARD.encode(&basic_pair);
    let wrong = "wrong-token-that-looks-secret-0123";
    let client = reqwest::Client::new();
    let mut created = None;
    for (i, auth) in [
        format!("Bearer {TOKEN}"),
        format!("Bearer {issued}"),
        format!("Basic {basic}"),
        format!("Bearer {wrong}"),
    ]
    .iter()
    .enumerate()
    {
        let user = entra_user(&format!("log{i}@example.com"), "Log", "Secret");
        let response = client
            .post(format!("{base}/Users"))
            .header("authorization", auth)
            .header("content-type", "application/scim+json")
            .body(user.to_string())
            .send()
            .await
            .unwrap();
        if i == 1 {
            assert_eq!(response.status(), StatusCode::CREATED);
            let body: serde_json::Value = response.json().await.unwrap();
            created = body["id"].as_str().map(str::to_owned);
        }
    }
    drop(gateway);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().count() > 10, "the log is empty: {text}");
    let legacy_key = stack.legacy_env()[1].1.clone();
    // The client secret travels to the token endpoint as HTTP Basic (client_auth = basic).
    let client_pair =
        base64::engine::general_purpose::STANDARD.encode(format!("{OAUTH_CLIENT_ID}:{legacy_key}"));
    let downstream_tokens = stack.legacy.valid_tokens();
    assert_eq!(
        downstream_tokens.len(),
        1,
        "the gateway called with one OAuth2 token"
    );
    LoggedSession {
        log: text,
        secrets: downstream_tokens
            .into_iter()
            .chain([
                TOKEN.to_owned(),
                issued.clone(),
                issued[12..].to_owned(),
                basic_password.to_owned(),
                basic,
                wrong.to_owned(),
                legacy_key,
                client_pair,
            ])
            .collect(),
        created: created.unwrap(),
    }
}

impl LoggedSession {
    fn assert_no_secret(&self) {
        for secret in &self.secrets {
            assert!(
                !self.log.contains(secret.as_str()),
                "a secret is in the log"
            );
        }
    }
}

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let session = logged_session("text").await;
    session.assert_no_secret();
    let text = &session.log;
    // Each write is audited with who made it, and no secret.
    let audit = text
        .lines()
        .find(|l| l.contains("audit") && l.contains("client=entra-prod"))
        .unwrap_or_else(|| panic!("no audit line for the issued token: {text}"));
    for part in [
        "tenant=default",
        "client_auth=\"token\"",
        "client=entra-prod",
        "operation=\"create\"",
        "resource=Users",
        "status=201",
        &format!("id=\"{}\"", session.created),
    ] {
        assert!(audit.contains(part), "{part} missing from {audit}");
    }
    assert!(
        text.lines().any(|l| l.contains("audit")
            && l.contains("client_auth=\"basic\"")
            && l.contains("client=entra")),
        "{text}"
    );
}

#[tokio::test]
async fn no_secret_reaches_the_json_log() {
    let session = logged_session("json").await;
    session.assert_no_secret();
    let events: Vec<serde_json::Value> = session
        .log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let audit = events
        .iter()
        .find(|e| e["target"] == "audit" && e["client"] == "entra-prod")
        .unwrap_or_else(|| panic!("no audit event for the issued token: {}", session.log));
    assert_eq!(audit["tenant"], "default", "{audit}");
    assert_eq!(audit["client_auth"], "token", "{audit}");
    assert_eq!(audit["operation"], "create", "{audit}");
    assert_eq!(audit["status"], 201, "{audit}");
    assert_eq!(audit["id"], session.created.as_str(), "{audit}");
}
