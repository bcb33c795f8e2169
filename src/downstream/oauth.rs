//! OAuth 2.0 client credentials (RFC 6749 §4.4) for downstream APIs that take a bearer token
//! from their identity provider rather than a fixed key: the gateway fetches a token, uses it
//! until shortly before it expires, and fetches a new one when the API refuses it (a key
//! rotated or revoked upstream). Concurrent calls wait for one fetch instead of each making
//! their own, so a burst at start-up costs the identity provider one request.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::error::{DownstreamError, transport_error};

/// How long a token is kept when the identity provider does not say (`expires_in` is optional).
const ASSUMED_LIFETIME: Duration = Duration::from_secs(300);
/// A token is renewed this long before it expires, at most; shorter-lived tokens are renewed
/// at nine tenths of their lifetime.
const RENEW_AHEAD: Duration = Duration::from_secs(60);

/// How the client secret reaches the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret: every server must accept it.
    Basic,
    /// `client_id` and `client_secret` in the form body, for servers that want them there.
    Post,
}

/// The gateway's client registration at the downstream's identity provider.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: String,
    /// Space-separated scopes to ask for, if the provider wants any.
    pub scope: Option<String>,
    pub client_auth: ClientAuth,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ClientCredentials({} as {}:***, {:?})",
            self.token_url, self.client_id, self.client_auth
        )
    }
}

/// A fetched access token and when to stop using it.
struct Token {
    value: String,
    renew_at: Instant,
}

/// The token in use for one downstream, shared by every clone of its client.
pub struct TokenSource {
    credentials: ClientCredentials,
    current: Mutex<Option<Token>>,
}

/// The part of a token response (RFC 6749 §5.1) the gateway reads.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// The part of a token error (RFC 6749 §5.2) worth telling the operator: a fixed code such as
/// `invalid_client`, never anything the gateway sent.
#[derive(Deserialize)]
struct TokenError {
    error: String,
}

impl TokenSource {
    pub fn new(credentials: ClientCredentials) -> Self {
        Self {
            credentials,
            current: Mutex::new(None),
        }
    }

    pub fn credentials(&self) -> &ClientCredentials {
        &self.credentials
    }

    /// The token to send: the current one while it is fresh, else a new one from the token
    /// endpoint, asked within `timeout`.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<String, DownstreamError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let token = self.fetch(http, timeout).await?;
        let value = token.value.clone();
        *current = Some(token);
        Ok(value)
    }

    /// Forgets `refused` (the API answered 401 to it), so that the next call fetches a new
    /// token. A token already replaced by another call's fetch is left alone.
    pub async fn discard(&self, refused: &str) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|t| t.value == refused) {
            *current = None;
        }
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Token, DownstreamError> {
        let c = &self.credentials;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &c.scope {
            form.push(("scope", scope));
        }
        let mut request = http.post(c.token_url.clone()).timeout(timeout);
        match c.client_auth {
            ClientAuth::Basic => {
                request = request.basic_auth(
                    form_encode(&c.client_id),
                    Some(form_encode(&c.client_secret)),
                );
            }
            ClientAuth::Post => {
                form.push(("client_id", &c.client_id));
                form.push(("client_secret", &c.client_secret));
            }
        }
        let transport = |e: reqwest::Error| transport_error(&e, timeout);
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let text = response.text().await.map_err(transport)?;
        let asked_at = Instant::now();
        if status.is_success() {
            let answer: TokenResponse = serde_json::from_str(&text).map_err(|_| {
                DownstreamError::BadResponse(
                    "the token endpoint answered without an access_token".into(),
                )
            })?;
            let lifetime = answer
                .expires_in
                .map_or(ASSUMED_LIFETIME, Duration::from_secs);
            return Ok(Token {
                value: answer.access_token,
                renew_at: asked_at + renew_after(lifetime),
            });
        }
        let code = serde_json::from_str::<TokenError>(&text).map(|e| e.error);
        tracing::warn!(
            status = status.as_u16(),
            error = code.as_deref().unwrap_or("-"),
            "the downstream's token endpoint refused the gateway's client credentials"
        );
        Err(match status {
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                DownstreamError::Unauthorized(status.as_u16())
            }
            other => DownstreamError::Failed(other.as_u16()),
        })
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSource({:?})", self.credentials)
    }
}

/// How long a token of `lifetime` is used: until [`RENEW_AHEAD`] before it ends, or nine
/// tenths of it when it is short.
fn renew_after(lifetime: Duration) -> Duration {
    let ahead = RENEW_AHEAD.min(lifetime / 10);
    lifetime - ahead
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before they go into Basic.
fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(
            renew_after(Duration::from_secs(3600)),
            Duration::from_secs(3540)
        );
        assert_eq!(renew_after(Duration::from_secs(10)), Duration::from_secs(9));
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn basic_client_auth_form_encodes_id_and_secret() {
        assert_eq!(form_encode("gw:1"), "gw%3A1");
        assert_eq!(form_encode("a b+c"), "a+b%2Bc");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = ClientCredentials {
            token_url: Url::parse("https://idp.example/token").unwrap(),
            client_id: "gateway".into(),
            client_secret: "s3cr3t".into(),
            scope: None,
            client_auth: ClientAuth::Basic,
        };
        let shown = format!("{:?}", TokenSource::new(c));
        assert!(
            shown.contains("gateway") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
