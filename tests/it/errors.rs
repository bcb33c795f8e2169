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
async fn a_patch_to_a_user_name_another_user_holds_is_a_conflict_and_changes_nothing() {
    let stack = Stack::start().await;
    stack
        .create_user(entra_user("held@example.com", "A", "B"))
        .await;
    let user = stack
        .create_user(entra_user("mover@example.com", "C", "D"))
        .await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let rename = |name: &str, given: &str| {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "path": "userName", "value": name},
                              {"op": "replace", "path": "name.givenName", "value": given}]});
        stack.call(Method::PATCH, &path, Some(body))
    };
    let (status, body) = rename("HELD@example.com", "Changed").await;
    assert_scim_error(status, &body, 409, Some("uniqueness"));
    let (status, body) = stack.get(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userName"], "mover@example.com", "{body}");
    assert_eq!(body["name"]["givenName"], "C", "{body}");
    // Its own name in other letters is no conflict.
    let (status, body) = rename("Mover@example.com", "Again").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userName"], "Mover@example.com", "{body}");
    assert_eq!(body["name"]["givenName"], "Again", "{body}");
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
        scim_gateway::cli::demo::EXAMPLE_CONFIG,
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

/// Asserts that an answer is a SCIM error with this status: its media type and its body.
async fn assert_scim_answer(response: reqwest::Response, want: u16) -> Value {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.unwrap();
    assert_eq!(content_type, "application/scim+json", "{status}: {text:?}");
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON: {text:?}: {e}"));
    assert_scim_error(status, &body, want, None);
    body
}

#[tokio::test]
async fn refusals_before_any_handler_are_scim_errors_over_http1_and_http2() {
    let stack =
        Stack::start_with(|t| t.replace("max_body_bytes = 1048576", "max_body_bytes = 1024")).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // Over the 16 KiB of server.max_header_bytes.
    let long = "a".repeat(20 * 1024);
    for (client, version) in [
        (&stack.client, reqwest::Version::HTTP_11),
        (&h2, reqwest::Version::HTTP_2),
    ] {
        let users = format!("{}/Users", stack.base);
        let cases = [
            (
                "an id that is not UTF-8 (it names nothing)",
                client.get(format!("{users}/%FF%FE")).bearer_auth(TOKEN),
                404,
            ),
            (
                "a URL over the head limit",
                client
                    .get(format!("{users}?filter={long}"))
                    .bearer_auth(TOKEN),
                431,
            ),
            (
                "a header over the head limit",
                client.get(&users).bearer_auth(TOKEN).header("x-big", &long),
                431,
            ),
            (
                "a wrong method at the root",
                client.post(format!("{}/healthz", stack.root)),
                405,
            ),
            (
                "a wrong method on a collection",
                client.put(&users).bearer_auth(TOKEN),
                405,
            ),
            (
                "an unknown route under the tenant",
                client
                    .get(format!("{}/Nope", stack.base))
                    .bearer_auth(TOKEN),
                404,
            ),
            (
                "an unknown route at the root",
                client.get(format!("{}/nope", stack.root)),
                404,
            ),
            (
                "a body over the limit",
                client
                    .post(&users)
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/scim+json")
                    .body("x".repeat(4096)),
                413,
            ),
        ];
        for (case, request, want) in cases {
            let response = request.send().await.unwrap();
            assert_eq!(response.version(), version, "{case}");
            let allow = response.headers().get("allow").cloned();
            let body = assert_scim_answer(response, want).await;
            let detail = body["detail"].as_str().unwrap();
            match want {
                400 => assert!(detail.contains("UTF-8"), "{case}: {body}"),
                431 => assert!(detail.contains("16384"), "{case}: {body}"),
                405 => assert!(allow.is_some(), "{case}: no Allow header"),
                _ => {}
            }
        }
    }
    assert!(stack.legacy.accounts().is_empty());
}

/// Sends raw bytes as an HTTP/1.1 client and reads the answer until the server closes.
async fn raw_http1(stack: &Stack, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(stack.addr).await.unwrap();
    // The server may stop reading (and reset) before all of it is written.
    let _ = stream.write_all(request).await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received))
        .await
        .expect("the gateway closes the connection");
    assert!(read.is_ok() || !received.is_empty(), "no answer: {read:?}");
    String::from_utf8_lossy(&received).into_owned()
}

/// Splits a raw HTTP/1.1 answer into its status, lower-cased head and JSON body.
fn parse_raw(answer: &str) -> (StatusCode, String, Value) {
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head: {answer:?}"));
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("no status: {answer:?}"));
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{answer:?}: {e}"));
    (status, head.to_ascii_lowercase(), body)
}

#[tokio::test]
async fn heads_hyper_refuses_itself_get_scim_errors_and_the_gateway_keeps_serving() {
    let stack = Stack::start().await;
    // A header line without a colon: hyper cannot parse the head.
    let answer = raw_http1(
        &stack,
        b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    )
    .await;
    let (status, head, body) = parse_raw(&answer);
    assert!(
        head.contains("content-type: application/scim+json"),
        "{answer}"
    );
    assert_scim_error(status, &body, 400, None);
    // A URL of 1 MiB, far over the read buffer: refused however long it is.
    let request = format!(
        "GET /scim/v2/Users?filter={} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let answer = raw_http1(&stack, request.as_bytes()).await;
    let (status, head, body) = parse_raw(&answer);
    assert!(
        head.contains("content-type: application/scim+json"),
        "{answer}"
    );
    assert!(head.contains("connection: close"), "{answer}");
    assert_scim_error(status, &body, 431, None);

    let (status, _) = stack.get("/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
}
