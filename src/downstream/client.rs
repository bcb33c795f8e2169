//! The HTTP client for the downstream API: one pooled reqwest client, the configured
//! credentials and timeout, the protection of the downstream (pacing, retries, circuit
//! breaker), the mapping of every failure onto [`DownstreamError`], the downstream metrics and
//! request id of every call, and dry runs that record instead of writing.
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
use super::budget;
use super::dry_run::{self, CallLog};
use super::error::{DownstreamError, message_of, timed_out, transport_error};
use super::oauth::TokenSource;
use super::operation::Operation;
use super::pacing::{Pacer, PacingSettings, SharedPace};
use super::retry::{RetryPolicy, is_idempotent};
use super::retry_after;
use crate::json_pointer::JsonPointer;
use crate::store::pace::PaceStore;
use crate::telemetry::{metrics, request_id, trail};

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
    /// Rate, concurrency and queue bound of the calls.
    pub pacing: PacingSettings,
    /// Backoff of the calls a retry can fix.
    pub retries: RetryPolicy,
    /// When consecutive failures stop the calls for a while.
    pub breaker: BreakerSettings,
}

/// A pooled client bound to one downstream API, on behalf of one tenant. Clones share the
/// pool, the pacing and the breaker: every service of a tenant uses clones of one client.
#[derive(Debug, Clone)]
pub struct DownstreamClient {
    http: reqwest::Client,
    settings: Arc<DownstreamSettings>,
    pacer: Arc<Pacer>,
    breaker: Arc<Breaker>,
    /// The tenant whose calls these are: the `tenant` label of the downstream metrics.
    tenant: Arc<str>,
    /// Set in a dry run: every call is recorded here and only reads are sent.
    dry_run: Option<CallLog>,
    /// The bearer token in use, for an OAuth2 downstream.
    tokens: Option<Arc<TokenSource>>,
}

/// A whole answer: its status, its `Retry-After` and its body text.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    text: String,
}

impl DownstreamClient {
    /// Builds the client for `tenant`'s calls, paced in this process, or together with the
    /// other instances when `pace` is the shared store's; fails only if the TLS stack cannot
    /// start (see [`crate::crypto`]).
    pub fn new(
        tenant: &str,
        settings: DownstreamSettings,
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
            DownstreamAuth::OAuth2(credentials) => {
                Some(Arc::new(TokenSource::new(credentials.clone())))
            }
            _ => None,
        };
        Ok(Self {
            http,
            tokens,
            pacer: Arc::new(Pacer::new(
                &settings.pacing,
                pace.map(|store| SharedPace {
                    store,
                    key: tenant.to_owned(),
                }),
            )),
            breaker: Arc::new(Breaker::new(settings.breaker)),
            settings: Arc::new(settings),
            tenant: tenant.into(),
            dry_run: None,
        })
    }

    /// A client for a dry run (`explain`, `?dry_run=true`), on the same connection pool:
    /// reads are sent as usual, every other call is only recorded and answered with a
    /// made-up success. The log lists every call, masked, the body fields at `sensitive`
    /// too.
    pub fn dry_run(&self, sensitive: Vec<JsonPointer>) -> (DownstreamClient, CallLog) {
        let log = CallLog::new(&self.settings.auth, &self.settings.headers, sensitive);
        let client = Self {
            dry_run: Some(log.clone()),
            ..self.clone()
        };
        (client, log)
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

    /// One attempt of a create, never retried here (the caller looks the record up before
    /// it posts again). In a dry run it is not sent: the answer is the record sent, with a
    /// placeholder id at `id_at` (the id pointer inside the envelope), so that what follows
    /// a create (correlation, group members) can be shown too.
    pub async fn create(
        &self,
        method: Method,
        url: Url,
        body: &Value,
        what: &str,
        id_at: &JsonPointer,
    ) -> Result<Option<Value>, DownstreamError> {
        if let Some(made_up) = self.recorded(&method, &url, Some(body), Some(id_at)) {
            return made_up;
        }
        self.send_once(&method, &url, Some(body), what).await
    }

    /// In a dry run, records the call; a write is then answered with a made-up success
    /// instead of being sent. `None`: send it.
    fn recorded(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        id_at: Option<&JsonPointer>,
    ) -> Option<Result<Option<Value>, DownstreamError>> {
        let log = self.dry_run.as_ref()?;
        let read = method == Method::GET;
        log.record(method, url, body, read);
        (!read).then(|| Ok(dry_run::synthetic_answer(body, id_at)))
    }

    /// One attempt, never retried: recorded in a dry run (where only reads are sent), else
    /// past the breaker, in its turn of the pacing, then the call; a 429 or 503 with
    /// `Retry-After` pauses every call to this downstream for that long.
    pub async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<Value>, DownstreamError> {
        if let Some(made_up) = self.recorded(method, url, body, None) {
            return made_up;
        }
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

    /// The call itself: sent with credentials and request id, counted and timed in the
    /// metrics, its answer interpreted.
    async fn call(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<Value>, DownstreamError> {
        let started = Instant::now();
        let path = url.path().to_owned();
        let answer = self.authorized_exchange(method, url, body).await;
        let elapsed = started.elapsed();
        let status = answer.as_ref().ok().map(|a| a.status.as_u16());
        metrics::downstream_call(&self.tenant, method.as_str(), status, elapsed);
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
            metrics::downstream_error(&self.tenant, kind);
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
        let (request, strict) = match &self.settings.health {
            Some(health) => (
                self.request(
                    health.method.clone(),
                    health.url(self.base_url(), None)?,
                    token,
                ),
                true,
            ),
            None => (
                self.request(Method::HEAD, self.base_url().clone(), token),
                false,
            ),
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
        let text = response.text().await.map_err(transport)?;
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
