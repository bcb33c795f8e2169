//! Versions (RFC 7644 §3.14) and rollback, over real HTTP: a write with If-Match proceeds only
//! on the version it names, and a refused one changes nothing; a write whose downstream call
//! is refused after the store took its part leaves the store as it was.

use reqwest::{Method, StatusCode};
use scim_gateway::tools::legacy::Fault;
use serde_json::{Value, json};

use crate::groups::{PATCH_OP, group};
use crate::support::{Stack, TOKEN, assert_scim_error, entra_user};

/// Sends `body` to `path` with `If-Match: etag`; returns the status, ETag and body.
async fn send_if_match(
    stack: &Stack,
    method: Method,
    path: &str,
    etag: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = stack
        .client
        .request(method, format!("{}{path}", stack.base))
        .bearer_auth(TOKEN)
        .header("if-match", etag);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap();
    (
        status,
        etag,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn patch(path: &str, value: &str) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": value}]})
}

#[tokio::test]
async fn if_match_guards_every_write_and_a_stale_version_changes_nothing() {
    let stack = Stack::start().await;
    let created = stack
        .create_user(entra_user("etag@example.com", "Ed", "Tag"))
        .await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let first = created["meta"]["version"].as_str().unwrap().to_owned();

    let (status, etag, body) = send_if_match(
        &stack,
        Method::PATCH,
        &path,
        &first,
        Some(patch("name.givenName", "Eddie")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = etag.expect("a written resource carries its ETag");
    assert_ne!(second, first);
    assert_eq!(body["meta"]["version"], json!(second));

    // Every write naming the old version is refused, and nothing changes.
    let mut put = entra_user("etag@example.com", "Stale", "Tag");
    put["id"] = created["id"].clone();
    for (method, body) in [
        (Method::PATCH, Some(patch("name.givenName", "Stale"))),
        (Method::PUT, Some(put)),
        (Method::DELETE, None),
    ] {
        let (status, _, answer) = send_if_match(&stack, method.clone(), &path, &first, body).await;
        assert_scim_error(status, &answer, 412, None);
    }
    assert_eq!(
        stack.account("etag@example.com").unwrap()["first_name"],
        "Eddie"
    );
    let (_, now) = stack.get(&path).await;
    assert_eq!(now["meta"]["version"], json!(second));

    // `*` matches any version; the current one lets the delete through.
    let (status, _, _) = send_if_match(
        &stack,
        Method::PATCH,
        &path,
        "*",
        Some(patch("name.givenName", "Star")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, now) = stack.get(&path).await;
    let current = now["meta"]["version"].as_str().unwrap().to_owned();
    let (status, _, _) = send_if_match(&stack, Method::DELETE, &path, &current, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(stack.account("etag@example.com").is_none());

    // Groups too.
    let g = group(&stack, "Versioned").await;
    let (_, got) = stack.get(&format!("/Groups/{g}")).await;
    let version = got["meta"]["version"].as_str().unwrap().to_owned();
    let rename = patch("displayName", "Renamed");
    let (status, _, _) = send_if_match(
        &stack,
        Method::PATCH,
        &format!("/Groups/{g}"),
        &version,
        Some(rename.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, answer) = send_if_match(
        &stack,
        Method::PATCH,
        &format!("/Groups/{g}"),
        &version,
        Some(patch("displayName", "Stale")),
    )
    .await;
    assert_scim_error(status, &answer, 412, None);
    let (_, got) = stack.get(&format!("/Groups/{g}")).await;
    assert_eq!(got["displayName"], "Renamed");
}

#[tokio::test]
async fn a_write_the_downstream_refuses_leaves_the_store_as_it_was() {
    let stack = Stack::start().await;
    let created = stack
        .create_user(entra_user("undo@example.com", "Un", "Do"))
        .await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    // title is kept in the gateway's store (no rule maps it), givenName downstream: the
    // store takes its part of the write first.
    let (status, body) = stack
        .call(Method::PATCH, &path, Some(patch("title", "Before")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let both = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "title", "value": "After"},
        {"op": "replace", "path": "name.givenName", "value": "Refused"}
    ]});
    let refusal = Fault::Refuse {
        status: 422,
        retry_after: None,
    };
    stack.legacy.inject(1, Some(Method::PATCH), refusal);
    let (status, body) = stack.call(Method::PATCH, &path, Some(both)).await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert_eq!(stack.legacy.faults_played(), 1, "the downstream was asked");

    let (_, now) = stack.get(&path).await;
    assert_eq!(now["title"], "Before", "{now}");
    assert_eq!(now["name"]["givenName"], "Un");
    assert_eq!(
        stack.account("undo@example.com").unwrap()["first_name"],
        "Un"
    );
}
