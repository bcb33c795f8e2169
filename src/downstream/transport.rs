//! What sends the downstream calls over HTTP: one pooled reqwest client, the configured
//! credentials and timeout, the protection of the downstream (pacing, circuit breaker), the
//! mapping of every answer and failure onto [`DownstreamError`], the downstream metrics and the
//! request id of every call. Retries are the client's ([`super::client`]): a create retries on
//! its own terms.
//!
//! The protection is a plain struct around the reqwest call rather than tower layers: reqwest
//! is not a tower `Service` here, and the pieces need the typed error (breaker) and the
//! answer's headers (Retry-After pauses the pacer), which are known only inside the call.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::DownstreamSettings;
use super::auth::DownstreamAuth;
use super::breaker::{Breaker, BreakerStatus};
use super::budget;
use super::error::{DownstreamError, message_of, timed_out, transport_error};
use super::oauth::TokenSource;
use super::pacing::{Pacer, SharedPace};
use super::retry_after;
use crate::store::pace::PaceStore;
use crate::telemetry::metrics::{self, DownstreamMeters};
use crate::telemetry::{request_id, trail};

/// The real transport of one tenant's downstream calls. Shared (behind an `Arc`) by every
/// clone of the tenant's client, a dry run's among them: one pool, one pace, one breaker.
#[derive(Debug)]
pub struct HttpTransport {
    http: reqwest::Client,
    settings: Arc<DownstreamSettings>,
    pacer: Pacer,
    breaker: Breaker,
    /// The downstream metrics, labelled with the tenant whose calls these are.
    meters: DownstreamMeters,
    /// The bearer token in use, for an OAuth2 downstream.
    tokens: Option<TokenSource>,
}

/// How a downstream is protected at one moment (the operator console shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    pub breaker: BreakerStatus,
    /// Calls are held back this much longer (a downstream's 429 or 503 `Retry-After`).
    pub paused_for: Option<Duration>,
}

/// One downstream call as the client asks for it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    pub body: Option<&'a Value>,
    /// What is asked for, named in a 404's error.
    pub what: &'a str,
}

/// A whole answer: its status, its `Retry-After` and its body text.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    text: String,
}

impl HttpTransport {
    /// The transport of `tenant`'s calls, paced in this process, or together with the other
    /// instances when `pace` is the shared store's; fails only if the TLS stack cannot start
    /// (see [`crate::crypto`]).
    pub fn new(
        tenant: &str,
        settings: Arc<DownstreamSettings>,
        pace: Option<Arc<dyn PaceStore>>,
    ) -> Result<Self, DownstreamError> {
        let http = crate::crypto::http_client()
            .map_err(|e| DownstreamError::BadResponse(format!("cannot start HTTP client: {e}")))?
            .timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DownstreamError::BadResponse(format!("cannot start HTTP client: {e}")))?;
        let tokens = match &settings.auth {
            DownstreamAuth::OAuth2(credentials) => Some(TokenSource::new(credentials.clone())),
            _ => None,
        };
        Ok(Self {
            http,
            tokens,
            pacer: Pacer::new(
                &settings.pacing,
                pace.map(|store| SharedPace {
                    store,
                    key: tenant.to_owned(),
                }),
            ),
            breaker: Breaker::new(settings.breaker),
            settings,
            meters: DownstreamMeters::new(tenant),
        })
    }

    /// The settings the transport was built with.
    pub fn settings(&self) -> &DownstreamSettings {
        &self.settings
    }

    /// The state of the downstream's protection now: its breaker, and the pause a
    /// `Retry-After` put on calls.
    pub fn protection(&self) -> Protection {
        Protection {
            breaker: self.breaker.status(),
            paused_for: self.pacer.paused_for(),
        }
    }

    /// One attempt, never retried: past the breaker, in its turn of the pacing, then the
    /// call; a 429 or 503 with `Retry-After` pauses every call to this downstream for that
    /// long.
    pub async fn send_once(&self, call: Call<'_>) -> Result<Option<Value>, DownstreamError> {
        let ticket = self.breaker.admit()?;
        let _pass = self.pacer.admit().await?;
        let outcome = self.call(call).await;
        ticket.record(
            outcome
                .as_ref()
                .is_err_and(DownstreamError::is_downstream_failure),
        );
        outcome
    }

    /// The call itself: sent with credentials and request id, counted and timed in the
    /// metrics, its answer interpreted.
    async fn call(&self, call: Call<'_>) -> Result<Option<Value>, DownstreamError> {
        let Call {
            method,
            url,
            body,
            what,
        } = call;
        let started = Instant::now();
        let path = url.path().to_owned();
        let answer = self.authorized_exchange(method, url, body).await;
        let elapsed = started.elapsed();
        let status = answer.as_ref().ok().map(|a| a.status.as_u16());
        self.meters.record(method, status, elapsed);
        trail::downstream_call(method.as_str(), &path, status, elapsed);
        let result = match answer {
            Ok(answer) => {
                tracing::debug!(
                    %method, path, status = answer.status.as_u16(),
                    elapsed_ms = elapsed.as_millis() as u64,
                    "downstream call"
                );
                self.pause_if_asked(method, &path, &answer).await;
                interpret(method, &path, answer.status, &answer.text, what)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &result
            && let Some(kind) = e.fault()
        {
            metrics::downstream_error(self.meters.tenant(), kind);
        }
        result
    }

    /// Sends the call with the credentials. An OAuth2 token the API refuses (401: rotated or
    /// revoked at the identity provider; nothing was done) is replaced by a new one and the
    /// call sent once more.
    async fn authorized_exchange(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Answer, DownstreamError> {
        let attempt = |token: Option<String>| {
            let mut request = self.request(method.clone(), url.clone(), token.as_deref());
            if let Some(body) = body {
                request = request.json(body);
            }
            self.exchange(request, budget::cap_duration(self.settings.timeout))
        };
        let token_timeout = || budget::cap_duration(self.settings.timeout);
        let token = self.access_token(token_timeout()).await?;
        let answer = attempt(token.clone()).await?;
        match (&self.tokens, token) {
            (Some(tokens), Some(refused)) if answer.status == StatusCode::UNAUTHORIZED => {
                tokens.discard(&refused).await;
                attempt(self.access_token(token_timeout()).await?).await
            }
            _ => Ok(answer),
        }
    }

    /// The OAuth2 token to send, within `timeout` (a fetch under way for another call is
    /// waited for, a new one made if there is none fresh); `None` for other credentials.
    async fn access_token(&self, timeout: Duration) -> Result<Option<String>, DownstreamError> {
        let Some(tokens) = &self.tokens else {
            return Ok(None);
        };
        match tokio::time::timeout(timeout, tokens.token(&self.http, timeout)).await {
            Ok(token) => token.map(Some),
            Err(_) => Err(timed_out(timeout)),
        }
    }

    /// A 429 or 503 with `Retry-After` pauses every call to this downstream (in every
    /// instance, when the pace is shared: before the answer is interpreted).
    async fn pause_if_asked(&self, method: &Method, path: &str, answer: &Answer) {
        let asked = matches!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        if let Some(delay) = answer
            .retry_after
            .as_deref()
            .filter(|_| asked)
            .and_then(|v| retry_after::parse(v, SystemTime::now()))
        {
            tracing::warn!(
                %method, path, status = answer.status.as_u16(), pause_ms = delay.as_millis() as u64,
                "the downstream API asked to wait: its calls are paused"
            );
            self.pacer.pause_for(delay).await;
        }
    }

    /// Tells whether the downstream answers, for readiness: the configured `health`
    /// operation must answer 2xx; without one, a HEAD of the base URL must get any answer
    /// below 500 (many APIs answer 404 or 401 at their root). Waits at most `timeout`. Not
    /// counted in the metrics: probes every few seconds would drown the real calls.
    pub async fn probe(&self, timeout: Duration) -> Result<(), DownstreamError> {
        let started = Instant::now();
        let token = self.access_token(timeout).await?;
        let token = token.as_deref();
        let timeout = timeout.saturating_sub(started.elapsed());
        let base_url = &self.settings.base_url;
        let (request, strict) = match &self.settings.health {
            Some(health) => (
                self.request(health.method.clone(), health.url(base_url, None)?, token),
                true,
            ),
            None => (self.request(Method::HEAD, base_url.clone(), token), false),
        };
        let status = self.exchange(request, timeout).await?.status;
        let fine = if strict {
            status.is_success()
        } else {
            !status.is_server_error()
        };
        if fine {
            Ok(())
        } else {
            Err(DownstreamError::Failed(status.as_u16()))
        }
    }

    /// A request with the credentials (`token` for OAuth2), the configured headers and the
    /// request id.
    fn request(&self, method: Method, url: Url, token: Option<&str>) -> reqwest::RequestBuilder {
        let mut request = self
            .settings
            .auth
            .apply(self.http.request(method, url))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in &self.settings.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(id) = request_id::current() {
            request = request.header(request_id::HEADER, id);
        }
        request
    }

    /// Sends a request within `timeout` and reads the whole answer.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Answer, DownstreamError> {
        let transport = |e: reqwest::Error| transport_error(&e, timeout);
        let response = request.timeout(timeout).send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The bytes as they came: `text()` would look the charset up and copy through a
        // lossy decoder on every answer; JSON is UTF-8 (RFC 8259 §8.1).
        let bytes = response.bytes().await.map_err(transport)?;
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        Ok(Answer {
            status,
            retry_after,
            text,
        })
    }
}

/// The JSON body of a successful answer, or the error its status means.
fn interpret(
    method: &Method,
    path: &str,
    status: StatusCode,
    text: &str,
    what: &str,
) -> Result<Option<Value>, DownstreamError> {
    if status.is_success() {
        if text.trim().is_empty() {
            return Ok(None);
        }
        return serde_json::from_str(text).map(Some).map_err(|e| {
            DownstreamError::BadResponse(format!("{method} {path} answered non-JSON: {e}"))
        });
    }
    tracing::warn!(%method, path, status = status.as_u16(), "downstream call failed");
    Err(match status {
        StatusCode::NOT_FOUND => DownstreamError::NotFound(what.to_owned()),
        StatusCode::CONFLICT => DownstreamError::Conflict(message_of(text)),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            DownstreamError::Rejected(message_of(text))
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            DownstreamError::Unauthorized(status.as_u16())
        }
        other => DownstreamError::Failed(other.as_u16()),
    })
}
