//! The verifier against tokens signed here: HS256 with a secret, RS256 and ES256 with the
//! fixture keys of tests/fixtures/jwt, whose public halves a loopback axum server publishes as
//! a JWKS while counting fetches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, get_current_timestamp};
use reqwest::Url;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::*;

const ISSUER: &str = "https://sts.windows.net/00000000-0000-4000-8000-000000000001/";
const AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

const RSA_A: &str = include_str!("../../../tests/fixtures/jwt/rsa-a.pem");
const RSA_A_PUB: &str = include_str!("../../../tests/fixtures/jwt/rsa-a.pub.pem");
const RSA_A_JWK: &str = include_str!("../../../tests/fixtures/jwt/rsa-a.jwk.json");
const RSA_B: &str = include_str!("../../../tests/fixtures/jwt/rsa-b.pem");
const RSA_B_JWK: &str = include_str!("../../../tests/fixtures/jwt/rsa-b.jwk.json");
const EC_A: &str = include_str!("../../../tests/fixtures/jwt/ec-a.pem");
const EC_A_JWK: &str = include_str!("../../../tests/fixtures/jwt/ec-a.jwk.json");

const LONG: Duration = Duration::from_secs(30);

// ---- tokens ----

fn claims() -> Value {
    let now = get_current_timestamp();
    json!({"sub": "provisioning-app", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600})
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

fn offset(seconds: i64) -> Value {
    json!(get_current_timestamp().checked_add_signed(seconds).unwrap())
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        claims,
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
}

/// The DER inside a PEM file: the RSA fixtures are PKCS#1, as jsonwebtoken's RSA signer reads
/// them, the EC fixture PKCS#8. (Its PEM reader is a feature the gateway does not need.)
fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn rs256(pem: &str, kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_der(&der(pem));
    sign(Algorithm::RS256, kid, claims, &key)
}

fn es256(pem: &str, kid: Option<&str>, claims: &Value) -> String {
    let key = EncodingKey::from_ec_der(&der(pem));
    sign(Algorithm::ES256, kid, claims, &key)
}

/// A token with a hand-written header and an empty signature.
fn unsigned(header: &str, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(header);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{claims}.")
}

// ---- verifiers ----

fn http() -> reqwest::Client {
    crate::crypto::install_provider();
    reqwest::Client::builder().build().unwrap()
}

fn hs_settings() -> JwtSettings {
    JwtSettings {
        algorithms: vec![Algorithm::HS256],
        key: JwtKeySource::Secret(SECRET.to_vec()),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: DEFAULT_LEEWAY,
    }
}

fn hs_verifier() -> JwtVerifier {
    JwtVerifier::new(hs_settings(), http()).unwrap()
}

fn jwks_settings(
    url: Url,
    algorithms: &[Algorithm],
    min_refresh_interval: Duration,
) -> JwtSettings {
    JwtSettings {
        algorithms: algorithms.to_vec(),
        key: JwtKeySource::Jwks {
            url,
            timeout: Duration::from_secs(5),
            min_refresh_interval,
        },
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: DEFAULT_LEEWAY,
    }
}

fn jwks_verifier(
    url: Url,
    algorithms: &[Algorithm],
    min_refresh_interval: Duration,
) -> JwtVerifier {
    JwtVerifier::new(jwks_settings(url, algorithms, min_refresh_interval), http()).unwrap()
}

fn build_err(settings: JwtSettings) -> JwtConfigError {
    JwtVerifier::new(settings, http()).unwrap_err()
}

/// Why the HS256 tenant refuses these claims, signed with its secret.
async fn hs_refused(claims: Value) -> JwtError {
    refused(&hs_verifier(), &hs256(&claims)).await
}

/// Whether `verifier` accepts `token`.
async fn accepts(verifier: &JwtVerifier, token: &str) -> bool {
    verifier.verify(token).await.is_ok()
}

/// A token signed with RSA key A, naming it: what the JWKS tests' IdP issues.
fn rsa_a_token() -> String {
    rs256(RSA_A, Some("rsa-a"), &claims())
}

/// A verifier of RS256 and ES256 tokens against the JWKS `server` publishes.
fn rs_and_es_verifier(server: &JwksServer) -> JwtVerifier {
    jwks_verifier(
        server.url.clone(),
        &[Algorithm::RS256, Algorithm::ES256],
        LONG,
    )
}

/// Verifies and returns the refusal, checking that its messages quote no part of the token.
async fn refused(verifier: &JwtVerifier, token: &str) -> JwtError {
    let err = verifier
        .verify(token)
        .await
        .expect_err("the token must be refused");
    for message in [err.to_string(), format!("{err:?}")] {
        for part in token.split('.').filter(|p| p.len() >= 8) {
            assert!(!message.contains(part), "{message:?} quotes the token");
        }
    }
    err
}

// ---- a JWKS endpoint on loopback ----

struct Served {
    fetches: AtomicUsize,
    body: Mutex<String>,
    status: Mutex<StatusCode>,
    delay: Mutex<Duration>,
}

struct JwksServer {
    url: Url,
    served: Arc<Served>,
}

impl JwksServer {
    async fn start(jwks: &[&str]) -> Self {
        let served = Arc::new(Served {
            fetches: AtomicUsize::new(0),
            body: Mutex::new(jwk_set(jwks)),
            status: Mutex::new(StatusCode::OK),
            delay: Mutex::new(Duration::ZERO),
        });
        let app = Router::new()
            .route("/keys", get(serve_keys))
            .with_state(Arc::clone(&served));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/keys", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, served }
    }

    fn publish(&self, jwks: &[&str]) {
        *self.served.body.lock().unwrap() = jwk_set(jwks);
    }

    fn answer(&self, status: StatusCode) {
        *self.served.status.lock().unwrap() = status;
    }

    fn fetches(&self) -> usize {
        self.served.fetches.load(Ordering::SeqCst)
    }
}

fn jwk_set(jwks: &[&str]) -> String {
    let keys: Vec<Value> = jwks
        .iter()
        .map(|j| serde_json::from_str(j).unwrap())
        .collect();
    json!({ "keys": keys }).to_string()
}

async fn serve_keys(State(served): State<Arc<Served>>) -> impl IntoResponse {
    served.fetches.fetch_add(1, Ordering::SeqCst);
    let delay = *served.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let status = *served.status.lock().unwrap();
    let body = served.body.lock().unwrap().clone();
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}

/// A loopback URL where nothing listens.
async fn dead_url() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    Url::parse(&format!("http://{addr}/keys")).unwrap()
}

// ---- HS256 and the claims ----

#[tokio::test]
async fn hs256_good_token_yields_subject_and_issuer() {
    let identity = hs_verifier().verify(&hs256(&claims())).await.unwrap();
    assert_eq!(
        identity,
        JwtIdentity {
            subject: "provisioning-app".into(),
            issuer: ISSUER.into()
        }
    );
}

#[tokio::test]
async fn expired_token_is_refused() {
    let err = hs_refused(with(claims(), "exp", offset(-120))).await;
    assert!(matches!(err, JwtError::Expired), "{err:?}");
}

#[tokio::test]
async fn expiry_within_the_leeway_is_tolerated() {
    let token = hs256(&with(claims(), "exp", offset(-30)));
    assert!(accepts(&hs_verifier(), &token).await);
}

#[tokio::test]
async fn nbf_beyond_the_leeway_is_refused() {
    let err = hs_refused(with(claims(), "nbf", offset(300))).await;
    assert!(matches!(err, JwtError::NotYetValid), "{err:?}");
}

#[tokio::test]
async fn nbf_within_the_leeway_is_tolerated() {
    let token = hs256(&with(claims(), "nbf", offset(30)));
    assert!(accepts(&hs_verifier(), &token).await);
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let err = hs_refused(with(
        claims(),
        "iss",
        json!("https://sts.windows.net/other/"),
    ))
    .await;
    assert!(matches!(err, JwtError::WrongIssuer), "{err:?}");
}

#[tokio::test]
async fn issuer_must_be_one_string_not_a_list_holding_it() {
    let err = hs_refused(with(
        claims(),
        "iss",
        json!([ISSUER, "https://evil.example/"]),
    ))
    .await;
    assert!(matches!(err, JwtError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let err = hs_refused(with(claims(), "aud", json!("api://another-app"))).await;
    assert!(matches!(err, JwtError::WrongAudience), "{err:?}");
}

#[tokio::test]
async fn audience_list_naming_the_gateway_is_accepted() {
    let token = hs256(&with(
        claims(),
        "aud",
        json!(["api://another-app", AUDIENCE]),
    ));
    assert!(accepts(&hs_verifier(), &token).await);
}

#[tokio::test]
async fn missing_exp_is_refused() {
    let err = hs_refused(without(claims(), "exp")).await;
    assert!(
        matches!(&err, JwtError::MissingClaim(c) if c == "exp"),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_aud_iss_or_sub_is_refused() {
    for claim in ["aud", "iss", "sub"] {
        let err = hs_refused(without(claims(), claim)).await;
        assert!(
            matches!(&err, JwtError::MissingClaim(c) if c == claim),
            "{claim}: {err:?}"
        );
    }
}

#[tokio::test]
async fn times_as_text_are_refused() {
    let err = hs_refused(with(claims(), "exp", json!("tomorrow"))).await;
    assert!(
        matches!(&err, JwtError::MissingClaim(c) if c == "exp"),
        "{err:?}"
    );
    let err = hs_refused(with(claims(), "nbf", json!("yesterday"))).await;
    assert!(
        matches!(&err, JwtError::BadClaim(c) if c == "nbf"),
        "{err:?}"
    );
}

#[tokio::test]
async fn token_signed_with_another_secret_is_refused() {
    let other = EncodingKey::from_secret(b"ffffffffffffffffffffffffffffffff").unwrap();
    let token = sign(Algorithm::HS256, None, &claims(), &other);
    assert!(matches!(
        refused(&hs_verifier(), &token).await,
        JwtError::BadSignature
    ));
}

#[tokio::test]
async fn tampered_claims_are_refused() {
    let token = hs256(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("admin")).to_string());
    parts[1] = &forged;
    let err = refused(&hs_verifier(), &parts.join(".")).await;
    assert!(matches!(err, JwtError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn algorithm_outside_the_pinned_list_is_refused() {
    let key = EncodingKey::from_secret(SECRET).unwrap();
    let token = sign(Algorithm::HS512, None, &claims(), &key);
    let err = refused(&hs_verifier(), &token).await;
    assert!(
        matches!(err, JwtError::AlgorithmNotAllowed(Some(Algorithm::HS512))),
        "{err:?}"
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let verifier = hs_verifier();
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"None","typ":"JWT"}"#,
        r#"{"alg":"NONE"}"#,
    ] {
        let err = refused(&verifier, &unsigned(header, &claims())).await;
        assert!(
            matches!(err, JwtError::AlgorithmNotAllowed(None)),
            "{header}: {err:?}"
        );
    }
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let verifier = hs_verifier();
    let not_json = format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode("not json"));
    let no_alg = unsigned(r#"{"typ":"JWT"}"#, &claims());
    let huge = format!(
        "{}.{}.x",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
        "A".repeat(20_000)
    );
    let cases = [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.c2ln",
        &not_json,
        &no_alg,
        &huge,
    ];
    for token in cases {
        let err = refused(&verifier, token).await;
        assert!(
            matches!(err, JwtError::Malformed(_)),
            "{token:.40}: {err:?}"
        );
    }
}

// ---- RS256 / ES256 through a JWKS ----

#[tokio::test]
async fn rs256_via_jwks_good_token_is_fetched_once_then_cached() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], LONG);
    let token = rsa_a_token();
    assert_eq!(
        verifier.verify(&token).await.unwrap().subject,
        "provisioning-app"
    );
    assert!(verifier.clone().verify(&token).await.is_ok());
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn es256_via_jwks_good_token() {
    let server = JwksServer::start(&[RSA_A_JWK, EC_A_JWK]).await;
    let verifier = rs_and_es_verifier(&server);
    assert!(accepts(&verifier, &es256(EC_A, Some("ec-a"), &claims())).await);
    assert!(accepts(&verifier, &rsa_a_token()).await);
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn es256_token_naming_an_rsa_key_finds_no_key() {
    let server = JwksServer::start(&[RSA_A_JWK, EC_A_JWK]).await;
    let verifier = rs_and_es_verifier(&server);
    let err = refused(&verifier, &es256(EC_A, Some("rsa-a"), &claims())).await;
    assert!(matches!(err, JwtError::UnknownKey { .. }), "{err:?}");
}

#[tokio::test]
async fn hs256_token_keyed_with_the_rsa_public_pem_is_refused_by_an_rs256_tenant() {
    // The classic confusion: a verifier that let the token pick HS256 would use the public
    // key's bytes, which anyone has, as the HMAC secret.
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], LONG);
    let key = EncodingKey::from_secret(RSA_A_PUB.as_bytes()).unwrap();
    let token = sign(Algorithm::HS256, Some("rsa-a"), &claims(), &key);
    let err = refused(&verifier, &token).await;
    assert!(
        matches!(err, JwtError::AlgorithmNotAllowed(Some(Algorithm::HS256))),
        "{err:?}"
    );
    assert_eq!(server.fetches(), 0, "refused before any key is looked up");
}

#[tokio::test]
async fn token_signed_by_a_key_outside_the_jwks_is_refused() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], LONG);
    let token = rs256(RSA_B, Some("rsa-a"), &claims());
    assert!(matches!(
        refused(&verifier, &token).await,
        JwtError::BadSignature
    ));
}

#[tokio::test]
async fn token_without_kid_uses_the_only_fitting_key() {
    let server = JwksServer::start(&[RSA_A_JWK, EC_A_JWK]).await;
    let verifier = rs_and_es_verifier(&server);
    assert!(accepts(&verifier, &rs256(RSA_A, None, &claims())).await);
    assert!(accepts(&verifier, &es256(EC_A, None, &claims())).await);
}

#[tokio::test]
async fn token_without_kid_is_refused_when_two_keys_fit() {
    let server = JwksServer::start(&[RSA_A_JWK, RSA_B_JWK]).await;
    let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], LONG);
    let err = refused(&verifier, &rs256(RSA_A, None, &claims())).await;
    assert!(matches!(err, JwtError::UnknownKey { kid: None }), "{err:?}");
}

#[tokio::test]
async fn unknown_kid_triggers_one_refetch_and_none_within_the_interval() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    let interval = Duration::from_secs(1);
    let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], interval);
    assert!(accepts(&verifier, &rsa_a_token()).await);
    assert_eq!(server.fetches(), 1);
    // No two fetches closer than the interval, the first one included.
    tokio::time::sleep(interval + Duration::from_millis(100)).await;

    let err = refused(&verifier, &rs256(RSA_B, Some("rsa-b"), &claims())).await;
    assert!(
        matches!(&err, JwtError::UnknownKey { kid: Some(k) } if k == "rsa-b"),
        "{err:?}"
    );
    assert_eq!(server.fetches(), 2, "an unknown kid refetches once");

    let err = refused(&verifier, &rs256(RSA_B, Some("rsa-c"), &claims())).await;
    assert!(matches!(err, JwtError::UnknownKey { .. }), "{err:?}");
    assert_eq!(
        server.fetches(),
        2,
        "no refetch within min_refresh_interval"
    );

    assert!(accepts(&verifier, &rsa_a_token()).await);
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn unknown_kid_refetches_again_once_the_interval_has_passed() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    let verifier = jwks_verifier(
        server.url.clone(),
        &[Algorithm::RS256],
        Duration::from_millis(500),
    );
    let unknown = rs256(RSA_B, Some("rsa-b"), &claims());
    refused(&verifier, &unknown).await;
    refused(&verifier, &unknown).await;
    assert_eq!(server.fetches(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    refused(&verifier, &unknown).await;
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn unprintable_kid_is_not_quoted() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], LONG);
    let err = refused(&verifier, &rs256(RSA_A, Some("line\nbreak"), &claims())).await;
    assert!(
        matches!(&err, JwtError::UnknownKey { kid: Some(k) } if k == "(unprintable)"),
        "{err:?}"
    );
}

#[tokio::test]
async fn rotated_key_verifies_after_the_refetch() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    let verifier = jwks_verifier(
        server.url.clone(),
        &[Algorithm::RS256],
        Duration::from_millis(50),
    );
    let old = rsa_a_token();
    assert!(verifier.verify(&old).await.is_ok());

    server.publish(&[RSA_B_JWK]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let new = rs256(RSA_B, Some("rsa-b"), &claims());
    assert!(verifier.verify(&new).await.is_ok());
    assert_eq!(server.fetches(), 2);

    // The IdP withdrew the old key: tokens signed with it no longer verify.
    let err = refused(&verifier, &old).await;
    assert!(matches!(err, JwtError::UnknownKey { .. }), "{err:?}");
}

#[tokio::test]
async fn concurrent_verifications_share_one_fetch() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    *server.served.delay.lock().unwrap() = Duration::from_millis(100);
    let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], LONG);
    let token = rsa_a_token();
    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let (verifier, token) = (verifier.clone(), token.clone());
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert!(result.unwrap().is_ok());
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn verification_dropped_mid_fetch_does_not_spoil_the_cache() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    *server.served.delay.lock().unwrap() = Duration::from_millis(300);
    let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], LONG);
    let token = rsa_a_token();
    let hung_up = tokio::time::timeout(Duration::from_millis(50), verifier.verify(&token)).await;
    assert!(
        hung_up.is_err(),
        "the first verification is dropped while fetching"
    );
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(
        server.fetches(),
        1,
        "the dropped verification's fetch finished and is used"
    );
}

#[tokio::test]
async fn jwks_server_down_means_keys_unavailable() {
    let verifier = jwks_verifier(dead_url().await, &[Algorithm::RS256], LONG);
    let token = rsa_a_token();
    let err = refused(&verifier, &token).await;
    assert!(
        matches!(err, JwtError::KeysUnavailable(JwksError::Fetch(_))),
        "{err:?}"
    );
    // Within the interval the failure is repeated, not retried, and still says 503.
    let err = refused(&verifier, &token).await;
    assert!(matches!(err, JwtError::KeysUnavailable(_)), "{err:?}");
}

#[tokio::test]
async fn jwks_error_status_means_keys_unavailable_until_it_recovers() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    server.answer(StatusCode::INTERNAL_SERVER_ERROR);
    let verifier = jwks_verifier(
        server.url.clone(),
        &[Algorithm::RS256],
        Duration::from_millis(500),
    );
    let token = rsa_a_token();
    let err = refused(&verifier, &token).await;
    assert!(
        matches!(err, JwtError::KeysUnavailable(JwksError::Status(500))),
        "{err:?}"
    );
    let err = refused(&verifier, &token).await;
    assert!(matches!(err, JwtError::KeysUnavailable(_)), "{err:?}");
    assert_eq!(
        server.fetches(),
        1,
        "a failed fetch counts against the interval too"
    );

    server.answer(StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn slow_jwks_times_out_as_keys_unavailable() {
    let server = JwksServer::start(&[RSA_A_JWK]).await;
    *server.served.delay.lock().unwrap() = Duration::from_secs(3);
    let mut settings = jwks_settings(server.url.clone(), &[Algorithm::RS256], LONG);
    if let JwtKeySource::Jwks { timeout, .. } = &mut settings.key {
        *timeout = Duration::from_millis(200);
    }
    let verifier = JwtVerifier::new(settings, http()).unwrap();
    let err = refused(&verifier, &rsa_a_token()).await;
    assert!(
        matches!(err, JwtError::KeysUnavailable(JwksError::Fetch(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn jwks_that_is_not_json_means_keys_unavailable() {
    let server = JwksServer::start(&[]).await;
    *server.served.body.lock().unwrap() = "<html>maintenance</html>".into();
    let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], LONG);
    let err = refused(&verifier, &rsa_a_token()).await;
    assert!(
        matches!(err, JwtError::KeysUnavailable(JwksError::Parse(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn encryption_keys_and_keys_for_other_algorithms_are_not_used() {
    let mut enc: Value = serde_json::from_str(RSA_A_JWK).unwrap();
    enc["use"] = json!("enc");
    let mut rs512: Value = serde_json::from_str(RSA_A_JWK).unwrap();
    rs512["alg"] = json!("RS512");
    for jwk in [enc, rs512] {
        let server = JwksServer::start(&[&jwk.to_string()]).await;
        let verifier = jwks_verifier(server.url.clone(), &[Algorithm::RS256], LONG);
        let err = refused(&verifier, &rsa_a_token()).await;
        assert!(matches!(err, JwtError::UnknownKey { .. }), "{jwk}: {err:?}");
    }
}

#[test]
fn verifier_is_shareable_across_tasks() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    fn send<T: Send>(_: &T) {}
    shareable::<JwtVerifier>();
    let verifier = hs_verifier();
    send(&verifier.verify("a.b.c"));
}

// ---- settings ----

#[test]
fn parse_algorithm_accepts_jose_names_only() {
    assert_eq!(parse_algorithm("RS256"), Ok(Algorithm::RS256));
    assert_eq!(parse_algorithm("ES384"), Ok(Algorithm::ES384));
    assert_eq!(parse_algorithm("EdDSA"), Ok(Algorithm::EdDSA));
    assert_eq!(parse_algorithm("HS512"), Ok(Algorithm::HS512));
    for none in ["none", "None", "NONE"] {
        assert_eq!(parse_algorithm(none), Err(JwtConfigError::AlgorithmNone));
    }
    for bad in ["rs256", "", "HS1024", "RSA-OAEP"] {
        let err = parse_algorithm(bad).unwrap_err();
        assert_eq!(err, JwtConfigError::UnknownAlgorithm(bad.into()));
        assert!(err.to_string().contains("RS256, RS384"), "{err}");
    }
}

#[test]
fn hmac_beside_public_key_algorithms_is_a_config_error() {
    let mut settings = hs_settings();
    settings.algorithms = vec![Algorithm::HS256, Algorithm::RS256];
    assert_eq!(
        build_err(settings),
        JwtConfigError::MixedAlgorithms {
            hmac: Algorithm::HS256,
            public: Algorithm::RS256
        }
    );
}

#[test]
fn empty_algorithm_list_is_a_config_error() {
    let mut settings = hs_settings();
    settings.algorithms.clear();
    assert_eq!(build_err(settings), JwtConfigError::NoAlgorithms);
}

#[test]
fn key_source_must_suit_the_algorithms() {
    let mut settings = hs_settings();
    settings.algorithms = vec![Algorithm::RS256];
    assert_eq!(
        build_err(settings),
        JwtConfigError::JwksRequired(Algorithm::RS256)
    );

    let url = Url::parse("https://login.example/keys").unwrap();
    let settings = jwks_settings(url, &[Algorithm::HS256], LONG);
    assert_eq!(
        build_err(settings),
        JwtConfigError::SecretRequired(Algorithm::HS256)
    );
}

#[test]
fn short_secret_is_a_config_error() {
    let mut settings = hs_settings();
    settings.key = JwtKeySource::Secret(SECRET[..31].to_vec());
    assert_eq!(
        build_err(settings),
        JwtConfigError::SecretTooShort {
            alg: Algorithm::HS256,
            len: 31,
            min: 32
        }
    );

    let mut settings = hs_settings();
    settings.algorithms = vec![Algorithm::HS256, Algorithm::HS512];
    settings.key = JwtKeySource::Secret(vec![7; 48]);
    assert_eq!(
        build_err(settings),
        JwtConfigError::SecretTooShort {
            alg: Algorithm::HS512,
            len: 48,
            min: 64
        }
    );
}

#[test]
fn jwks_url_must_be_https_except_on_loopback() {
    let build = |url: &str| {
        let settings = jwks_settings(Url::parse(url).unwrap(), &[Algorithm::RS256], LONG);
        JwtVerifier::new(settings, http()).map(|_| ())
    };
    assert_eq!(
        build("http://login.example/keys"),
        Err(JwtConfigError::InsecureJwksUrl(
            "http://login.example/keys".into()
        ))
    );
    assert!(matches!(
        build("ftp://127.0.0.1/keys"),
        Err(JwtConfigError::InsecureJwksUrl(_))
    ));
    for ok in [
        "https://login.example/keys",
        "http://127.0.0.1:8080/keys",
        "http://[::1]:8080/keys",
        "http://localhost/keys",
    ] {
        assert_eq!(build(ok), Ok(()), "{ok}");
    }
}

#[test]
fn issuer_audience_and_leeway_are_checked() {
    let mut settings = hs_settings();
    settings.issuer.clear();
    assert_eq!(build_err(settings), JwtConfigError::EmptyIssuer);
    let mut settings = hs_settings();
    settings.audience.clear();
    assert_eq!(build_err(settings), JwtConfigError::EmptyAudience);
    let mut settings = hs_settings();
    settings.leeway = Duration::from_secs(301);
    assert_eq!(
        build_err(settings),
        JwtConfigError::LeewayTooLarge { got: 301, max: 300 }
    );
}

#[test]
fn debug_output_never_shows_the_secret() {
    let secret = std::str::from_utf8(SECRET).unwrap();
    let shown = format!("{:?} {:?}", hs_settings(), hs_verifier());
    assert!(!shown.contains(secret), "{shown}");
    assert!(!shown.contains(&format!("{:?}", SECRET)), "{shown}");
    assert!(shown.contains("Secret(<redacted>)"), "{shown}");
}
