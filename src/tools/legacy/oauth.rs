//! The sample API's OAuth 2.0 token endpoint (client credentials, RFC 6749 §4.4), so that a
//! gateway can be pointed at it with `downstream.auth = { token_url, client_id, client_secret }`
//! as at an API behind an identity provider. The client is [`CLIENT_ID`] with the API key as
//! its secret, sent as HTTP Basic or in the form; the tokens it issues are accepted in
//! `Authorization: Bearer` beside `X-Api-Key`, until they expire or are revoked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State as Extract;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::State;
use super::error::json_response;

/// The only client the token endpoint knows.
pub const CLIENT_ID: &str = "scim-gateway";
/// Where the token endpoint is served.
pub const TOKEN_PATH: &str = "/oauth/token";

/// The tokens issued and still valid, and how long new ones last.
pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, Instant>>,
    lifetime: Mutex<Duration>,
    count: AtomicU64,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            issued: Mutex::default(),
            lifetime: Mutex::new(Duration::from_secs(3600)),
            count: AtomicU64::new(0),
        }
    }
}

impl Tokens {
    /// True for a token issued here that has not expired or been revoked.
    pub(crate) fn accepts(&self, token: &str) -> bool {
        let issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        issued
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    /// Forgets every token issued so far (a rotation at the identity provider).
    pub(crate) fn revoke_all(&self) {
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The tokens still valid.
    pub(crate) fn valid(&self) -> Vec<String> {
        let issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        issued
            .iter()
            .filter(|(_, expires)| now < **expires)
            .map(|(token, _)| token.clone())
            .collect()
    }

    /// How many tokens were issued so far.
    pub(crate) fn issued_count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// How long tokens issued from now on last.
    pub(crate) fn set_lifetime(&self, lifetime: Duration) {
        *self.lifetime.lock().unwrap_or_else(PoisonError::into_inner) = lifetime;
    }

    fn issue(&self) -> Option<(String, Duration)> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).ok()?;
        let token = format!("tok_{}", hex::encode(bytes));
        let lifetime = *self.lifetime.lock().unwrap_or_else(PoisonError::into_inner);
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone(), Instant::now() + lifetime);
        self.count.fetch_add(1, Ordering::Relaxed);
        Some((token, lifetime))
    }
}

/// `POST /oauth/token` with `grant_type=client_credentials`.
pub(crate) async fn token(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return refusal(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let client = basic_client(&headers).or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    });
    let known = client.is_some_and(|(id, secret)| {
        id == CLIENT_ID && bool::from(secret.as_bytes().ct_eq(state.api_key.as_bytes()))
    });
    if !known {
        return refusal(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    match state.tokens.issue() {
        Some((token, lifetime)) => {
            let body = json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime.as_secs(),
            });
            let mut response = json_response(StatusCode::OK, &body);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        None => refusal(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    }
}

/// The client id and secret of an `Authorization: Basic` header, form-decoded (RFC 6749
/// §2.3.1).
fn basic_client(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let form_decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((form_decode(id), form_decode(secret)))
}

fn refusal(status: StatusCode, error: &str) -> Response {
    json_response(status, &json!({"error": error}))
}
