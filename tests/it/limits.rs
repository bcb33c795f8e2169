//! Work proportional to the input: a 1 MB PATCH, too many operations and an overlong filter
//! answer clear 400s (and reach no downstream), while lists under the bounds and big group
//! member PATCHes still go through.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Stack, assert_scim_error, entra_user};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// `n` emails of about 46 bytes each, the first the primary work address `work`.
fn emails(n: usize, work: &str) -> Vec<Value> {
    (0..n)
        .map(|i| match i {
            0 => json!({"value": work, "type": "work", "primary": true}),
            _ => json!({"value": format!("u{i:05}@example.com"), "type": "other"}),
        })
        .collect()
}

async fn patch(stack: &Stack, path: &str, ops: Value) -> (StatusCode, Value) {
    stack
        .call(
            Method::PATCH,
            path,
            Some(json!({"schemas": [PATCH_OP], "Operations": ops})),
        )
        .await
}

#[tokio::test]
async fn a_one_megabyte_emails_patch_is_refused_naming_the_bound_and_writes_nothing() {
    let stack = Stack::start().await;
    let user = stack
        .create_user(entra_user("ann@example.com", "Ann", "Lee"))
        .await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let ops =
        json!([{"op": "replace", "path": "emails", "value": emails(20_000, "new@example.com")}]);
    let size = ops.to_string().len();
    assert!(
        (900_000..1_048_576).contains(&size),
        "about 1 MB, under the body limit: {size}"
    );
    stack.legacy.reset_request_count();
    let (status, body) = patch(&stack, &path, ops).await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("'emails' has 20000 values") && detail.contains("1000"),
        "{detail}"
    );
    assert_eq!(stack.legacy.request_count().patches, 0);
    assert!(stack.account("ann@example.com").is_some());
    assert!(stack.account("new@example.com").is_none());
}

#[tokio::test]
async fn an_emails_patch_at_the_bound_goes_through() {
    let stack = Stack::start().await;
    let user = stack
        .create_user(entra_user("bob@example.com", "Bob", "Lee"))
        .await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let ops =
        json!([{"op": "replace", "path": "emails", "value": emails(1_000, "robert@example.com")}]);
    let (status, body) = patch(&stack, &path, ops).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The work address, the one the sample API keeps, reached it.
    assert!(stack.account("robert@example.com").is_some());
}

#[tokio::test]
async fn a_patch_with_too_many_operations_is_refused_naming_the_bound() {
    let stack = Stack::start().await;
    let user = stack
        .create_user(entra_user("cat@example.com", "Cat", "Lee"))
        .await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let op = json!({"op": "replace", "path": "name.givenName", "value": "Kit"});
    stack.legacy.reset_request_count();
    let (status, body) = patch(&stack, &path, json!(vec![op.clone(); 1_001])).await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("1001 operations") && detail.contains("the 1000 one request may carry"),
        "{detail}"
    );
    assert_eq!(stack.legacy.request_count().patches, 0);
    assert_eq!(
        stack.account("cat@example.com").unwrap()["first_name"],
        "Cat"
    );
    // 1,000 are fine.
    let (status, body) = patch(&stack, &path, json!(vec![op; 1_000])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        stack.account("cat@example.com").unwrap()["first_name"],
        "Kit"
    );
}

#[tokio::test]
async fn an_overlong_filter_is_refused_before_any_downstream_call() {
    let stack = Stack::start().await;
    stack.legacy.reset_request_count();
    // 100 KB: too long for a URL, so sent as a search request (RFC 7644 §3.4.3).
    let value = "a".repeat(100 * 1024);
    let (status, body) = stack
        .call(
            Method::POST,
            "/Users/.search",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": format!("userName eq \"{value}\""),
            })),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("invalidFilter"));
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("102414 bytes") && detail.contains("2048"),
        "{detail}"
    );
    // Just over the bound, in the query string.
    let value = "a".repeat(2_048);
    let (status, body) = stack
        .get(&format!("/Users?filter=userName%20eq%20%22{value}%22"))
        .await;
    assert_scim_error(status, &body, 400, Some("invalidFilter"));
    assert_eq!(stack.legacy.request_count().total(), 0);
}

#[tokio::test]
async fn a_group_member_patch_over_the_value_bound_still_goes_through() {
    let stack = Stack::start().await;
    let (status, group) = stack
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Everyone"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let members: Vec<Value> = (0..1_500)
        .map(|i| json!({"value": format!("00000000-0000-4000-8000-{i:012}")}))
        .collect();
    let (status, body) = patch(
        &stack,
        &path,
        json!([{"op": "Add", "path": "members", "value": members}]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, got) = stack.get(&format!("{path}?attributes=members")).await;
    assert_eq!(got["members"].as_array().map(Vec::len), Some(1_500));
}
