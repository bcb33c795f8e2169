//! The HTTP client for the downstream API: one pooled reqwest client, the configured
//! credentials and timeout, the mapping of every failure onto [`DownstreamError`], and the
//! downstream metrics and request id of every call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::auth::DownstreamAuth;
use super::dry_run::{self, CallLog};
use super::error::{DownstreamError, message_of};
use super::operation::Operation;
use crate::mapping::pointer::JsonPointer;
use crate::telemetry::{metrics, request_id};

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
    /// The call `/readyz` makes to tell whether the API is up (`[downstream] health`); a
    /// HEAD of `base_url` when `None`.
    pub health: Option<Operation>,
}

/// A pooled client bound to one downstream API, on behalf of one tenant.
#[derive(Debug, Clone)]
pub struct DownstreamClient {
    http: reqwest::Client,
    settings: DownstreamSettings,
    /// The tenant whose calls these are: the `tenant` label of the downstream metrics.
    tenant: Arc<str>,
    /// Set in a dry run: every call is recorded here and only reads are sent.
    dry_run: Option<CallLog>,
}

impl DownstreamClient {
    /// Builds the client for `tenant`'s calls; fails only if the TLS stack cannot start.
    pub fn new(tenant: &str, settings: DownstreamSettings) -> Result<Self, DownstreamError> {
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
            tenant: tenant.into(),
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
    /// the status means. 404 becomes `NotFound(what)`. Counted and timed in the downstream
    /// metrics; carries the id of the SCIM request being served as `X-Request-Id`.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<Value>, DownstreamError> {
        self.call(method, url, body, what, None).await
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
        self.call(method, url, Some(body), what, Some(id_at)).await
    }

    /// Every call: recorded and answered in a dry run (reads are still sent), else sent,
    /// counted and interpreted.
    async fn call(
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
        let mut request = self.request(method.clone(), url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = self.exchange(request, self.settings.timeout).await;
        let elapsed = started.elapsed();
        let status = answer.as_ref().ok().map(|(status, _)| status.as_u16());
        metrics::downstream_call(&self.tenant, method.as_str(), status, elapsed);
        let result = answer.and_then(|(status, text)| {
            tracing::debug!(
                %method, path, status = status.as_u16(),
                elapsed_ms = elapsed.as_millis() as u64,
                "downstream call"
            );
            interpret(&method, &path, status, &text, what)
        });
        if let Err(e) = &result
            && let Some(kind) = e.fault()
        {
            metrics::downstream_error(&self.tenant, kind);
        }
        result
    }

    /// Tells whether the downstream answers, for readiness: the configured `health`
    /// operation must answer 2xx; without one, a HEAD of the base URL must get any answer
    /// below 500 (many APIs answer 404 or 401 at their root). Waits at most `timeout`. Not
    /// counted in the metrics: probes every few seconds would drown the real calls.
    pub async fn probe(&self, timeout: Duration) -> Result<(), DownstreamError> {
        let (request, strict) = match &self.settings.health {
            Some(health) => (
                self.request(health.method.clone(), health.url(self.base_url(), None)?),
                true,
            ),
            None => (self.request(Method::HEAD, self.base_url().clone()), false),
        };
        let (status, _) = self.exchange(request, timeout).await?;
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

    /// A request with the credentials, the configured headers and the request id.
    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let mut request = self
            .settings
            .auth
            .apply(self.http.request(method, url))
            .header(reqwest::header::ACCEPT, "application/json");
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
    ) -> Result<(StatusCode, String), DownstreamError> {
        let transport = |e: reqwest::Error| transport_error(&e, timeout);
        let response = request.timeout(timeout).send().await.map_err(transport)?;
        let status = response.status();
        let text = response.text().await.map_err(transport)?;
        Ok((status, text))
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

fn transport_error(e: &reqwest::Error, timeout: Duration) -> DownstreamError {
    if e.is_timeout() {
        DownstreamError::Timeout(timeout.as_millis() as u64)
    } else if e.is_connect() {
        DownstreamError::Unreachable
    } else {
        DownstreamError::BadResponse(e.to_string())
    }
}
