//! The console's Overview and Mapping pages over plain HTTP: the served configuration's
//! version and each tenant's downstream protection, gateway.toml shown with a literal secret
//! masked, and the playground explaining a pasted request without writing it.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ADMIN_TOKEN, Browser, LEGACY_KEY, assert_no_secret, page_with};
use crate::support::{Stack, entra_user};

/// The console's stack, the downstream key written into gateway.toml as a literal.
async fn stack_with_a_literal_key() -> Stack {
    let digest = hex::encode(Sha256::digest(ADMIN_TOKEN.as_bytes()));
    Stack::start_with(|text| {
        let text = text.replace("\"${LEGACY_API_KEY}\"", &format!("\"{LEGACY_KEY}\""));
        assert!(text.contains(LEGACY_KEY), "the example's key line changed");
        text + &format!("\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken_sha256 = \"{digest}\"\n")
    })
    .await
}

#[tokio::test]
async fn the_overview_names_the_configuration_and_the_downstream_protection() {
    let stack = super::stack().await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let overview = browser.get("/").await;
    assert_eq!(overview.status, StatusCode::OK);
    let html = &overview.html;
    assert!(html.contains("Configuration <code>"), "{html}");
    assert!(html.contains("Not reloaded since start."), "{html}");
    assert!(html.contains(">closed<"), "the breaker is closed: {html}");
    assert!(
        html.contains("unlimited rate") || html.contains("/s, burst"),
        "{html}"
    );
    assert!(html.contains("none recorded"), "no request yet: {html}");
    stack
        .create_user(entra_user("ovw@example.com", "Ov", "Erview"))
        .await;
    // The create shows as the tenant's last request once the activity writer has it.
    page_with(&mut browser, "/", &["create by bearer"]).await;
}

#[tokio::test]
async fn the_mapping_page_masks_a_literal_secret_and_shows_the_environments_names() {
    let stack = stack_with_a_literal_key().await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let mapping = browser.get("/mapping").await;
    assert_eq!(mapping.status, StatusCode::OK);
    assert_no_secret(&mapping);
    let shown = unescaped(&mapping.html);
    for expected in [
        "header = \"X-Api-Key\", value = \"********\"",
        "bearer = [\"${SCIM_TOKEN}\"]",
        "base_url = \"${LEGACY_URL}\"",
    ] {
        assert!(shown.contains(expected), "{expected} in {shown}");
    }
}

#[tokio::test]
async fn the_playground_explains_a_patch_without_making_it() {
    let stack = stack_with_a_literal_key().await;
    let created = stack
        .create_user(entra_user("play@example.com", "Before", "Play"))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let csrf = browser.get("/mapping").await.field("csrf");
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "name.givenName", "value": "After"}]
    })
    .to_string();
    let path = format!("/Users/{id}");
    let explained = browser
        .post(
            "/mapping",
            &[
                ("csrf", &csrf),
                ("tenant", "default"),
                ("method", "PATCH"),
                ("path", &path),
                ("body", &patch),
            ],
        )
        .await;
    assert_eq!(explained.status, StatusCode::OK, "{}", explained.html);
    assert_no_secret(&explained);
    let html = &unescaped(&explained.html);
    assert!(html.contains("(write: NOT sent)"), "{html}");
    assert!(html.contains("X-Api-Key: ***"), "{html}");
    assert!(html.contains("After"), "the planned body: {html}");
    assert!(html.contains("The SCIM client would get 200."), "{html}");
    // Nothing was written: the user still has the old name, downstream and through SCIM.
    let (_, read) = stack.call(Method::GET, &path, None).await;
    assert_eq!(read["name"]["givenName"], "Before");
    assert_eq!(
        stack.account("play@example.com").unwrap()["first_name"],
        "Before"
    );

    // A body that is not JSON, and a form without the CSRF token, are refused.
    let bad = browser
        .post(
            "/mapping",
            &[
                ("csrf", &csrf),
                ("tenant", "default"),
                ("method", "PATCH"),
                ("path", &path),
                ("body", "{not json"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.html.contains("the body is not JSON"), "{}", bad.html);
    let forged = browser
        .post(
            "/mapping",
            &[("tenant", "default"), ("method", "GET"), ("path", "/Users")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

/// The page's text as written, before HTML escaping.
fn unescaped(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
