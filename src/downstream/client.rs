//! The HTTP client for the downstream API: one pooled reqwest client, the configured
//! credentials and timeout, the protection of the downstream (pacing, retries, circuit
//! breaker), and the mapping of every failure onto [`DownstreamError`].
//!
//! The protection is a plain struct around the reqwest call rather than tower layers: reqwest
//! is not a tower `Service` here, and the pieces need the typed error (retry, breaker) and the
//! answer's headers (Retry-After pauses the pacer), which are known only inside the call.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::auth::DownstreamAuth;
use super::breaker::{Breaker, BreakerSettings};
use super::error::{DownstreamError, message_of};
use super::pacing::{Pacer, PacingSettings};
use super::retry::{RetryPolicy, is_idempotent};
use super::retry_after;

/// Makes rustls use *ring* (the crate is built without a default provider, to keep the
/// dependency tree lean). Idempotent: later calls find it installed.
pub fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// Connection settings of the downstream API.
#[derive(Debug, Clone)]
pub struct DownstreamSettings {
    pub base_url: Url,
    pub auth: DownstreamAuth,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Headers sent with every call.
    pub headers: Vec<(String, String)>,
    /// Rate, concurrency and queue bound of the calls.
    pub pacing: PacingSettings,
    /// Backoff of the calls a retry can fix.
    pub retries: RetryPolicy,
    /// When consecutive failures stop the calls for a while.
    pub breaker: BreakerSettings,
}

/// A pooled client bound to one downstream API. Clones share the pool, the pacing and the
/// breaker: every service of a tenant uses clones of one client.
#[derive(Debug, Clone)]
pub struct DownstreamClient {
    http: reqwest::Client,
    settings: Arc<DownstreamSettings>,
    pacer: Arc<Pacer>,
    breaker: Arc<Breaker>,
}

impl DownstreamClient {
    /// Builds the client; fails only if the TLS stack cannot start.
    pub fn new(settings: DownstreamSettings) -> Result<Self, DownstreamError> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DownstreamError::BadResponse(format!("cannot start HTTP client: {e}")))?;
        Ok(Self {
            http,
            pacer: Arc::new(Pacer::new(&settings.pacing)),
            breaker: Arc::new(Breaker::new(settings.breaker)),
            settings: Arc::new(settings),
        })
    }

    /// How failed calls are retried, for callers that retry on their own terms (a create
    /// looks its record up before it posts again).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.settings.retries
    }

    /// The base URL operations are relative to.
    pub fn base_url(&self) -> &Url {
        &self.settings.base_url
    }

    /// Sends one request and returns the JSON body (`None` for an empty body), or the error
    /// the status means. 404 becomes `NotFound(what)`. A failure a retry can fix is retried
    /// with backoff: any for idempotent methods, only a call that surely did nothing for POST
    /// (see [`DownstreamError::is_retriable`]).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<Value>, DownstreamError> {
        self.settings
            .retries
            .run(
                || self.send_once(&method, &url, body, what),
                |e: &DownstreamError| e.is_retriable(is_idempotent(&method)),
            )
            .await
    }

    /// One attempt of [`send`](Self::send), never retried: past the breaker, in its turn of
    /// the pacing, then the call; a 429 or 503 with `Retry-After` pauses every call to this
    /// downstream for that long.
    pub async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<Value>, DownstreamError> {
        let ticket = self.breaker.admit()?;
        let _pass = self.pacer.admit().await?;
        let outcome = self.call(method, url, body, what).await;
        ticket.record(
            outcome
                .as_ref()
                .is_err_and(DownstreamError::is_downstream_failure),
        );
        outcome
    }

    async fn call(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<Value>, DownstreamError> {
        let started = Instant::now();
        let path = url.path();
        let mut request = self
            .settings
            .auth
            .apply(self.http.request(method.clone(), url.clone()))
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &self.settings.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) && let Some(delay) = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after::parse(v, SystemTime::now()))
        {
            tracing::warn!(
                %method, path, status = status.as_u16(), pause_ms = delay.as_millis() as u64,
                "the downstream API asked to wait: its calls are paused"
            );
            self.pacer.pause_for(delay);
        }
        let text = response
            .text()
            .await
            .map_err(|e| self.transport_error(&e))?;
        tracing::debug!(
            %method, path, status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "downstream call"
        );
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(None);
            }
            return serde_json::from_str(&text).map(Some).map_err(|e| {
                DownstreamError::BadResponse(format!("{method} {path} answered non-JSON: {e}"))
            });
        }
        tracing::warn!(%method, path, status = status.as_u16(), "downstream call failed");
        Err(match status {
            StatusCode::NOT_FOUND => DownstreamError::NotFound(what.to_owned()),
            StatusCode::CONFLICT => DownstreamError::Conflict(message_of(&text)),
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                DownstreamError::Rejected(message_of(&text))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                DownstreamError::Unauthorized(status.as_u16())
            }
            other => DownstreamError::Failed(other.as_u16()),
        })
    }

    fn transport_error(&self, e: &reqwest::Error) -> DownstreamError {
        if e.is_timeout() {
            DownstreamError::Timeout(
                u64::try_from(self.settings.timeout.as_millis()).unwrap_or(u64::MAX),
            )
        } else if e.is_connect() {
            DownstreamError::Unreachable
        } else if e.is_builder() {
            DownstreamError::BadResponse(root_cause(e))
        } else {
            DownstreamError::Interrupted(root_cause(e))
        }
    }
}

/// The innermost cause of an error (e.g. "connection closed before message completed"),
/// without the URL reqwest puts in its own message.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
