//! The gateway's own URL behind a TLS-terminating proxy: `[server] public_url` and the
//! forwarded headers of `[server] trusted_proxies`, as `Location`, `meta.location` and the
//! discovery documents show them.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Stack, TOKEN, entra_user};

/// The example gateway with these lines added to `[server]`.
async fn stack_with(server_lines: &str) -> Stack {
    let lines = server_lines.to_owned();
    Stack::start_with(move |text| text.replacen("[server]\n", &format!("[server]\n{lines}\n"), 1))
        .await
}

/// POST /Users with these extra headers; the `Location` header and the body.
async fn create_with(stack: &Stack, user: &str, headers: &[(&str, &str)]) -> (String, Value) {
    let mut request = stack
        .client
        .post(format!("{}/Users", stack.base))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/scim+json")
        .body(entra_user(user, "Pat", "Lee").to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("gateway answers");
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a 201 names its Location")
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["meta"]["location"].as_str(), Some(location.as_str()));
    (location, body)
}

/// GET a discovery path with these extra headers; the JSON body.
async fn discover(stack: &Stack, path: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = stack
        .client
        .get(format!("{}{path}", stack.base))
        .header("authorization", format!("Bearer {TOKEN}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("gateway answers");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

const FORWARDED: &[(&str, &str)] = &[
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "scim.example.com"),
];

#[tokio::test]
async fn public_url_names_locations_and_discovery_documents() {
    let stack = stack_with(
        "public_url = \"https://scim.example.com/gateway\"\ntrusted_proxies = [\"127.0.0.1\"]",
    )
    .await;
    let tenant_url = "https://scim.example.com/gateway/scim/v2";
    // public_url wins over what a trusted proxy forwards.
    let headers = &[
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "other.example.com"),
    ];
    let (location, created) = create_with(&stack, "pub.url@example.com", headers).await;
    assert_eq!(
        location,
        format!("{tenant_url}/Users/{}", created["id"].as_str().unwrap())
    );

    let config = discover(&stack, "/ServiceProviderConfig", &[]).await;
    assert_eq!(
        config["meta"]["location"],
        format!("{tenant_url}/ServiceProviderConfig")
    );
    for path in ["/ResourceTypes", "/Schemas"] {
        let list = discover(&stack, path, &[]).await;
        let resources = list["Resources"].as_array().unwrap();
        assert!(!resources.is_empty(), "{list}");
        for doc in resources {
            let at = doc["meta"]["location"].as_str().unwrap();
            assert!(at.starts_with(&format!("{tenant_url}{path}/")), "{at}");
        }
    }
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let untrusted = stack_with("trusted_proxies = [\"10.0.0.0/8\"]").await;
    let (location, _) = create_with(&untrusted, "untrusted@example.com", FORWARDED).await;
    assert!(
        location.starts_with(&format!("{}/Users/", untrusted.base)),
        "{location}"
    );
    let config = discover(&untrusted, "/ServiceProviderConfig", FORWARDED).await;
    assert_eq!(
        config["meta"]["location"],
        format!("{}/ServiceProviderConfig", untrusted.base)
    );

    let trusted = stack_with("trusted_proxies = [\"127.0.0.1\"]").await;
    let (location, _) = create_with(&trusted, "trusted@example.com", FORWARDED).await;
    assert!(
        location.starts_with("https://scim.example.com/scim/v2/Users/"),
        "{location}"
    );
    let forwarded = &[(
        "forwarded",
        "for=203.0.113.9;proto=https;host=\"scim.example.com:8443\"",
    )];
    let config = discover(&trusted, "/ServiceProviderConfig", forwarded).await;
    assert_eq!(
        config["meta"]["location"],
        "https://scim.example.com:8443/scim/v2/ServiceProviderConfig"
    );
}

#[tokio::test]
async fn a_hostile_forwarded_host_is_never_echoed() {
    let stack = stack_with("trusted_proxies = [\"127.0.0.1\"]").await;
    for (n, hostile) in ["evil.example/phish?x=", "evil.example x", "me@evil.example"]
        .into_iter()
        .enumerate()
    {
        let user = format!("hostile{n}@example.com");
        let (location, _) = create_with(&stack, &user, &[("x-forwarded-host", hostile)]).await;
        assert!(
            location.starts_with(&format!("{}/Users/", stack.base)),
            "{hostile:?} gave {location}"
        );
    }
    // A Host header with a path is not echoed either.
    let config = discover(
        &stack,
        "/ServiceProviderConfig",
        &[("host", "evil.example/phish")],
    )
    .await;
    assert_eq!(
        config["meta"]["location"],
        "http://localhost/scim/v2/ServiceProviderConfig"
    );
}
