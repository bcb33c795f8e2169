//! Attacks a gateway on the internet meets, each over real HTTP with the answer it must get:
//! no or garbage credentials, ids and filter values crafted to steer the downstream call,
//! and a log that must never hold a secret. (Tenant crossing, revoked and expired tokens:
//! tenants.rs; TLS, slow clients and header floods: tls.rs.)

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::response::IntoResponse;
use reqwest::{Method, StatusCode};
use scim_gateway::demo::EXAMPLE_CONFIG;
use serde_json::json;
use tokio::net::TcpListener;

use crate::support::process::{TempDir, free_port, spawn_gateway};
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

/// A downstream that records each request's path and query and answers like an empty
/// sample API.
async fn recording_downstream() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |request: Request| {
        let log = log.clone();
        async move {
            let uri = request.uri().to_string();
            log.lock().unwrap().push(uri.clone());
            let (status, body) =
                if uri.starts_with("/api/v1/accounts?") || uri == "/api/v1/accounts" {
                    (200, json!({"data": [], "meta": {"total": 0}}))
                } else {
                    (404, json!({"error": "no such account"}))
                };
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
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
        for uri in seen.lock().unwrap().iter() {
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
    let uris = seen.lock().unwrap().clone();
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

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let stack = Stack::start().await;
    let dir = TempDir::new("log-secrets");
    let port = free_port();
    let basic_password = "basic-password-never-logged";
    let config_text = EXAMPLE_CONFIG
        .replace(
            "listen = \"127.0.0.1:8080\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace(
            "bearer = [\"${SCIM_TOKEN}\"]",
            "bearer = [\"${SCIM_TOKEN}\"]\nissued_tokens = true\n\
             basic = { username = \"entra\", password = \"${BASIC_PASSWORD}\" }",
        )
        + &format!(
            "\n[store]\nurl = \"sqlite://{}\"\n",
            dir.0.join("gw.db").display()
        );
    let config = dir.0.join("gateway.toml");
    std::fs::write(&config, &config_text).unwrap();
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
    let gateway = spawn_gateway(&config, &env, port, Some(&log)).await;
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
    let legacy_key = &stack.legacy_env()[1].1;
    for secret in [
        TOKEN,
        issued.as_str(),
        &issued[12..],
        basic_password,
        basic.as_str(),
        wrong,
        legacy_key.as_str(),
    ] {
        assert!(!text.contains(secret), "a secret is in the log");
    }
    // Each write is audited with who made it, and no secret.
    let created = created.unwrap();
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
        &format!("id=\"{created}\""),
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
