//! The HTTP client for the downstream API: one pooled reqwest client, the configured
//! credentials and timeout, and the mapping of every failure onto [`DownstreamError`].

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::auth::DownstreamAuth;
use super::dry_run::{self, CallLog};
use super::error::{DownstreamError, message_of};
use crate::mapping::pointer::JsonPointer;

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
}

/// A pooled client bound to one downstream API.
#[derive(Debug, Clone)]
pub struct DownstreamClient {
    http: reqwest::Client,
    settings: DownstreamSettings,
    /// Set in a dry run: every call is recorded here and only reads are sent.
    dry_run: Option<CallLog>,
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
            settings,
            dry_run: None,
        })
    }

    /// A client for a dry run (`explain`, `?dry_run=true`), on the same connection pool:
    /// reads are sent as usual, every other call is only recorded and answered with a
    /// made-up success. The log lists every call, masked.
    pub fn dry_run(&self) -> (DownstreamClient, CallLog) {
        let log = CallLog::new(&self.settings.auth, &self.settings.headers);
        let client = Self {
            dry_run: Some(log.clone()),
            ..self.clone()
        };
        (client, log)
    }

    /// The base URL operations are relative to.
    pub fn base_url(&self) -> &Url {
        &self.settings.base_url
    }

    /// Sends one request and returns the JSON body (`None` for an empty body), or the error
    /// the status means. 404 becomes `NotFound(what)`.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<Value>, DownstreamError> {
        self.exchange(method, url, body, what, None).await
    }

    /// Sends a create, like [`send`](Self::send). In a dry run the answer is the record sent,
    /// with a placeholder id at `id_at` (the id pointer inside the envelope), so that what
    /// follows a create (correlation, group members) can be shown too.
    pub async fn create(
        &self,
        method: Method,
        url: Url,
        body: &Value,
        what: &str,
        id_at: &JsonPointer,
    ) -> Result<Option<Value>, DownstreamError> {
        self.exchange(method, url, Some(body), what, Some(id_at))
            .await
    }

    async fn exchange(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
        id_at: Option<&JsonPointer>,
    ) -> Result<Option<Value>, DownstreamError> {
        if let Some(log) = &self.dry_run {
            let read = method == Method::GET;
            log.record(&method, &url, body, read);
            if !read {
                return Ok(dry_run::synthetic_answer(body, id_at));
            }
        }
        let started = Instant::now();
        let path = url.path().to_owned();
        let mut request = self
            .settings
            .auth
            .apply(self.http.request(method.clone(), url))
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &self.settings.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
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
            DownstreamError::Timeout(self.settings.timeout.as_millis() as u64)
        } else if e.is_connect() {
            DownstreamError::Unreachable
        } else {
            DownstreamError::BadResponse(e.to_string())
        }
    }
}
