//! Bad input gets a clear SCIM error and changes nothing; downstream failures map to the
//! SCIM status that says whose fault it is, and a 503 with Retry-After when a retry may help.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Answer, Stack, TOKEN, assert_scim_error, entra_user, start_gateway};

async fn raw_post(stack: &Stack, body: &str, content_type: &str) -> (StatusCode, Value) {
    let response = stack
        .client
        .post(format!("{}/Users", stack.base))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn malformed_bodies_are_invalid_syntax_and_create_nothing() {
    let stack = Stack::start().await;
    let (status, body) = raw_post(&stack, "{\"userName\": ", "application/scim+json").await;
    assert_scim_error(status, &body, 400, Some("invalidSyntax"));
    let (status, body) = raw_post(&stack, "[1,2]", "application/scim+json").await;
    assert_scim_error(status, &body, 400, Some("invalidSyntax"));
    let (status, body) = raw_post(&stack, "{}", "text/plain").await;
    assert_scim_error(status, &body, 415, None);
    assert!(stack.legacy.accounts().is_empty());
}

#[tokio::test]
async fn wrong_types_unknown_attributes_and_missing_user_name_are_named() {
    let stack = Stack::start().await;
    let cases = [
        (json!({"userName": 42}), 400, "invalidValue", "userName"),
        (
            json!({"userName": "a@x.io", "active": "perhaps"}),
            400,
            "invalidValue",
            "active",
        ),
        (
            json!({"userName": "a@x.io", "favouriteColour": "blue"}),
            400,
            "invalidSyntax",
            "favouriteColour",
        ),
        (
            json!({"userName": "a@x.io", "urn:example:nope": {"x": 1}}),
            400,
            "invalidSyntax",
            "urn:example:nope",
        ),
        (
            json!({"name": {"givenName": "No"}}),
            400,
            "invalidValue",
            "userName",
        ),
    ];
    for (input, want, scim_type, named) in cases {
        let (status, body) = stack
            .call(Method::POST, "/Users", Some(input.clone()))
            .await;
        assert_scim_error(status, &body, want, Some(scim_type));
        assert!(
            body["detail"].as_str().unwrap().contains(named),
            "{input} -> {body}"
        );
    }
    assert!(stack.legacy.accounts().is_empty());
}

#[tokio::test]
async fn a_duplicate_user_name_is_a_uniqueness_conflict() {
    let stack = Stack::start().await;
    stack
        .create_user(entra_user("dup@example.com", "A", "B"))
        .await;
    let (status, body) = stack
        .call(
            Method::POST,
            "/Users",
            Some(entra_user("DUP@example.com", "C", "D")),
        )
        .await;
    assert_scim_error(status, &body, 409, Some("uniqueness"));
    assert_eq!(stack.legacy.accounts().len(), 1);
}

#[tokio::test]
async fn values_the_downstream_rejects_come_back_as_invalid_value_with_its_message() {
    let stack = Stack::start().await;
    let (status, body) = stack
        .call(
            Method::POST,
            "/Users",
            Some(json!({"userName": "not-an-email"})),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert!(body["detail"].as_str().unwrap().contains("email"), "{body}");
}

#[tokio::test]
async fn bad_filters_and_paths_are_refused_before_any_downstream_call() {
    let stack = Stack::start().await;
    let user = stack
        .create_user(entra_user("fi@example.com", "Fi", "Lo"))
        .await;
    let id = user["id"].as_str().unwrap();
    stack.legacy.reset_request_count();
    for filter in [
        "userName%20eq",
        "userName%20xx%20%22a%22",
        "(userName%20eq%20%22a%22",
        "userName%20eq%20%22a%22%20junk",
    ] {
        let (status, body) = stack.get(&format!("/Users?filter={filter}")).await;
        assert_scim_error(status, &body, 400, Some("invalidFilter"));
    }
    let patch = |path: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "path": path, "value": "x"}]})
    };
    let (status, body) = stack
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch("emails[type eq")),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("invalidFilter"));
    let (status, body) = stack
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch("noSuchAttribute")),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("invalidPath"));
    let counts = stack.legacy.request_count();
    assert_eq!(counts.patches + counts.puts + counts.posts, 0);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let stack =
        Stack::start_with(|t| t.replace("max_body_bytes = 1048576", "max_body_bytes = 1024")).await;
    let mut user = entra_user("big@example.com", "Big", "Body");
    user["displayName"] = json!("x".repeat(4096));
    let (status, body) = stack.call(Method::POST, "/Users", Some(user)).await;
    assert_scim_error(status, &body, 413, None);
    assert!(stack.legacy.accounts().is_empty());
}

#[tokio::test]
async fn requests_without_the_right_token_get_401_with_a_challenge() {
    let stack = Stack::start().await;
    for auth in [
        None,
        Some("Bearer wrong-token"),
        Some("Basic dXNlcjpwYXNz"),
        Some(TOKEN),
    ] {
        let mut request = stack.client.get(format!("{}/Users", stack.base));
        if let Some(a) = auth {
            request = request.header("authorization", a);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"scim\""
        );
        let body: Value = response.json().await.unwrap();
        assert_scim_error(StatusCode::UNAUTHORIZED, &body, 401, None);
    }
}

#[tokio::test]
async fn unknown_ids_and_endpoints_are_404() {
    let stack = Stack::start().await;
    for path in ["/Users/999", "/Users/..%2F..%2Fadmin", "/Nope"] {
        let (status, body) = stack.get(path).await;
        assert_scim_error(status, &body, 404, None);
    }
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// A failure a later retry may fix is a 503 with Retry-After, which SCIM clients retry.
fn assert_retry_later(answer: &Answer) {
    assert_scim_error(answer.status, &answer.body, 503, None);
    let wait: u64 = answer
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After seconds: {answer:?}"));
    assert!(wait >= 1, "{answer:?}");
}

#[tokio::test]
async fn a_failing_downstream_is_a_retriable_503_never_a_500() {
    let stack = Stack::start().await;
    stack.legacy.fail_next(1);
    let answer = stack
        .send_as(
            Method::GET,
            &format!("{}/Users", stack.base),
            Some(&bearer()),
            None,
        )
        .await;
    assert_retry_later(&answer);
    assert!(!answer.body["detail"].as_str().unwrap().contains("panick"));
}

#[tokio::test]
async fn an_unreachable_downstream_is_503() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let gateway = start_gateway(
        scim_gateway::demo::EXAMPLE_CONFIG,
        &[
            ("LEGACY_URL", format!("http://{dead}")),
            ("LEGACY_API_KEY", "k".into()),
        ],
    )
    .await;
    let answer = gateway
        .send_as(
            Method::GET,
            &format!("{}/Users/1", gateway.base),
            Some(&bearer()),
            None,
        )
        .await;
    assert_retry_later(&answer);
}

#[tokio::test]
async fn a_downstream_slower_than_its_timeout_is_a_retriable_503() {
    let stack = Stack::start_with(|t| t.replace("timeout_ms = 10000", "timeout_ms = 200")).await;
    stack.legacy.set_delay(Duration::from_secs(2));
    let answer = stack
        .send_as(
            Method::GET,
            &format!("{}/Users/1", stack.base),
            Some(&bearer()),
            None,
        )
        .await;
    assert_retry_later(&answer);
    assert!(
        answer.body["detail"].as_str().unwrap().contains("200 ms"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn wrong_downstream_credentials_are_a_502_that_says_so() {
    let stack =
        Stack::start_with(|t| t.replace("value = \"${LEGACY_API_KEY}\"", "value = \"wrong\""))
            .await;
    let (status, body) = stack.get("/Users").await;
    assert_scim_error(status, &body, 502, None);
    assert!(
        body["detail"].as_str().unwrap().contains("credentials"),
        "{body}"
    );
}
