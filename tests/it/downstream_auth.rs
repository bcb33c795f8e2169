//! A downstream behind OAuth2 client credentials (the sample API's token endpoint): the
//! gateway fetches one token for a burst of calls, replaces a token the API stops accepting
//! without the SCIM client noticing, and a wrong client secret is an operator's error that
//! writes nothing and never shows the secret.

use reqwest::{Method, StatusCode};
use scim_gateway::tools::legacy::{OAUTH_CLIENT_ID, OAUTH_TOKEN_PATH};

use crate::ops::probe;
use crate::support::{Stack, TOKEN, assert_scim_error, entra_user};

const KEY_LINE: &str = r#"auth = { header = "X-Api-Key", value = "${LEGACY_API_KEY}" }"#;

/// The example gateway.toml with the sample API's token endpoint as its credential.
async fn oauth_stack(client_secret: &str, client_auth: &str) -> Stack {
    let auth = format!(
        r#"auth = {{ token_url = "${{LEGACY_URL}}{OAUTH_TOKEN_PATH}", client_id = "{OAUTH_CLIENT_ID}", client_secret = "{client_secret}", client_auth = "{client_auth}" }}"#
    );
    Stack::start_with(|t| {
        assert!(t.contains(KEY_LINE));
        t.replace(KEY_LINE, &auth)
    })
    .await
}

#[tokio::test]
async fn one_token_serves_a_burst_and_a_refused_token_is_replaced() {
    let stack = oauth_stack("${LEGACY_API_KEY}", "basic").await;
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..20 {
        let user = entra_user(&format!("u{i}@example.com"), "U", &format!("N{i}"));
        let request = stack
            .client
            .post(format!("{}/Users", stack.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/scim+json")
            .body(user.to_string());
        creates.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    while let Some(done) = creates.join_next().await {
        assert_eq!(done.unwrap().unwrap(), StatusCode::CREATED);
    }
    assert_eq!(stack.legacy.accounts().len(), 20);
    assert_eq!(stack.legacy.tokens_issued(), 1, "one token for the burst");

    // The identity provider rotates: the API refuses the token, the gateway gets a new one
    // and the SCIM client sees a plain success.
    stack.legacy.revoke_tokens();
    let (status, body) = stack
        .call(
            Method::POST,
            "/Users",
            Some(entra_user("late@example.com", "Late", "Comer")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(stack.legacy.tokens_issued(), 2);
    assert!(stack.account("late@example.com").is_some());
    assert_eq!(
        stack.legacy.accounts().len(),
        21,
        "the retried create made one account"
    );
}

#[tokio::test]
async fn the_client_secret_may_go_in_the_form_body() {
    let stack = oauth_stack("${LEGACY_API_KEY}", "post").await;
    let created = stack
        .create_user(entra_user("ann@example.com", "Ann", "Lee"))
        .await;
    let (status, got) = stack
        .get(&format!("/Users/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["userName"], "ann@example.com");
    assert_eq!(stack.legacy.tokens_issued(), 1);
}

#[tokio::test]
async fn a_wrong_client_secret_is_a_gateway_error_that_writes_nothing() {
    let secret = "not-the-right-secret";
    let stack = oauth_stack(secret, "basic").await;
    let (status, error) = stack
        .call(
            Method::POST,
            "/Users",
            Some(entra_user("ann@example.com", "Ann", "Lee")),
        )
        .await;
    assert_scim_error(status, &error, 502, None);
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.contains("[downstream] auth"), "{detail}");
    assert!(!error.to_string().contains(secret), "{error}");
    assert!(stack.legacy.accounts().is_empty());
    assert_eq!(stack.legacy.tokens_issued(), 0);
    // Every call needs the token, reads too: the operator's error shows on each.
    let (status, listed) = stack.get("/Users").await;
    assert_eq!(
        (status.as_u16(), &listed["detail"]),
        (502, &error["detail"])
    );
    // And readiness names it, without the secret.
    let (status, ready) = probe(&stack.gateway, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(
        ready["checks"]["downstream:default"], "unauthorized",
        "{ready}"
    );
    assert!(!ready.to_string().contains(secret));
}

#[tokio::test]
async fn readiness_is_ok_with_a_token() {
    let stack = oauth_stack("${LEGACY_API_KEY}", "basic").await;
    let (status, ready) = probe(&stack.gateway, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(stack.legacy.tokens_issued(), 1);
}
