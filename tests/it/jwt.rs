//! JWT bearer tokens over HTTP, as Entra ID sends them when the Secret Token is left blank:
//! RS256 tokens checked against the issuer's JWKS get in; forged, expired, foreign and
//! algorithm-swapped ones get 401; an unreachable JWKS is a retriable 503.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::support::{Stack, assert_scim_error, entra_user};

const ISSUER: &str = "https://sts.windows.net/11111111-2222-3333-4444-555555555555/";
const AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";
const HS_SECRET: &str = "an-hs256-shared-secret-of-32-bytes-or-more";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/jwt")
            .join(name),
    )
    .unwrap()
}

fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "entra-provisioning", "exp": now() + 600, "nbf": now() - 10})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn rs256(key_file: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_der(&der(&fixture(key_file)));
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

/// Serves `{"keys": [rsa-a]}` on loopback; returns its URL.
async fn jwks() -> String {
    let body =
        json!({"keys": [serde_json::from_str::<Value>(&fixture("rsa-a.jwk.json")).unwrap()]})
            .to_string();
    let app = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/keys", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn stack_with_jwt(jwt: &str) -> Stack {
    let jwt = jwt.to_owned();
    Stack::start_with(move |t| {
        t.replace(
            "bearer = [\"${SCIM_TOKEN}\"]",
            &format!("bearer = [\"${{SCIM_TOKEN}}\"]\njwt = {jwt}"),
        )
    })
    .await
}

async fn status_with(stack: &Stack, token: &str) -> (StatusCode, Value) {
    let answer = stack
        .send_as(
            Method::GET,
            &format!("{}/Users", stack.base),
            Some(&format!("Bearer {token}")),
            None,
        )
        .await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn rs256_tokens_from_the_jwks_get_in_and_forgeries_do_not() {
    let url = jwks().await;
    let stack = stack_with_jwt(&format!(
        "{{ algorithms = [\"RS256\"], jwks_url = \"{url}\", issuer = \"{ISSUER}\", audience = \"{AUDIENCE}\" }}"
    ))
    .await;
    let good = rs256("rsa-a.pem", "rsa-a", &claims());
    assert_eq!(status_with(&stack, &good).await.0, StatusCode::OK);
    let created = stack
        .send_as(
            Method::POST,
            &format!("{}/Users", stack.base),
            Some(&format!("Bearer {good}")),
            Some(entra_user("jwt@example.com", "Jay", "Wt")),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);

    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    let forgeries = [
        ("alg none", none),
        (
            "HS256 keyed with the RSA public key",
            hs256(fixture("rsa-a.pub.pem").as_bytes(), &claims()),
        ),
        (
            "signed by a key not in the JWKS, claiming its kid",
            rs256("rsa-b.pem", "rsa-a", &claims()),
        ),
        ("unknown kid", rs256("rsa-b.pem", "rsa-b", &claims())),
        (
            "another directory's issuer",
            rs256(
                "rsa-a.pem",
                "rsa-a",
                &with(claims(), "iss", json!("https://sts.windows.net/other/")),
            ),
        ),
        (
            "another audience",
            rs256(
                "rsa-a.pem",
                "rsa-a",
                &with(claims(), "aud", json!("api://someone-else")),
            ),
        ),
        (
            "expired an hour ago",
            rs256(
                "rsa-a.pem",
                "rsa-a",
                &with(claims(), "exp", json!(now() - 3_600)),
            ),
        ),
        (
            "not valid for another hour",
            rs256(
                "rsa-a.pem",
                "rsa-a",
                &with(claims(), "nbf", json!(now() + 3_600)),
            ),
        ),
        ("tampered payload", {
            let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
            parts[1] = URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("admin")).to_string());
            parts.join(".")
        }),
    ];
    for (what, token) in forgeries {
        let (status, body) = status_with(&stack, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_scim_error(status, &body, 401, None);
    }
}

#[tokio::test]
async fn hs256_tenants_take_only_their_secret() {
    let stack = stack_with_jwt(&format!(
        "{{ algorithms = [\"HS256\"], secret = \"{HS_SECRET}\", issuer = \"{ISSUER}\", audience = \"{AUDIENCE}\" }}"
    ))
    .await;
    assert_eq!(
        status_with(&stack, &hs256(HS_SECRET.as_bytes(), &claims()))
            .await
            .0,
        StatusCode::OK
    );
    for token in [
        hs256(b"another-secret-of-at-least-32-bytes!!", &claims()),
        rs256("rsa-a.pem", "rsa-a", &claims()),
    ] {
        assert_eq!(
            status_with(&stack, &token).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_retriable_503() {
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/keys", listener.local_addr().unwrap())
    };
    let stack = stack_with_jwt(&format!(
        "{{ algorithms = [\"RS256\"], jwks_url = \"{dead}\", issuer = \"{ISSUER}\", audience = \"{AUDIENCE}\", jwks_timeout_ms = 2000 }}"
    ))
    .await;
    let answer = stack
        .send_as(
            Method::GET,
            &format!("{}/Users", stack.base),
            Some(&format!(
                "Bearer {}",
                rs256("rsa-a.pem", "rsa-a", &claims())
            )),
            None,
        )
        .await;
    assert_scim_error(answer.status, &answer.body, 503, None);
    assert!(answer.retry_after.is_some());
}
