//! The client of the downstream API that the services hold: retries over a transport chosen
//! when the client is made. [`HttpTransport`] sends every call (pooled, paced, behind the
//! circuit breaker); a dry run's [`RecordingTransport`] sends only the reads and records
//! every call, so that nothing in the client or above it asks whether this is a dry run.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::Value;

use super::DownstreamSettings;
use super::dry_run::{CallLog, RecordingTransport};
use super::error::DownstreamError;
use super::operation::Operation;
use super::retry::{RetryPolicy, is_idempotent};
use super::transport::{Call, HttpTransport, Protection};
use crate::json_pointer::JsonPointer;
use crate::store::pace::PaceStore;

/// A client bound to one downstream API, on behalf of one tenant. Clones share the transport:
/// every service of a tenant uses clones of one client.
#[derive(Debug, Clone)]
pub struct DownstreamClient {
    transport: Transport,
}

/// What carries the client's calls.
#[derive(Debug, Clone)]
enum Transport {
    /// Every call is sent.
    Http(Arc<HttpTransport>),
    /// A dry run: reads are sent, every other call only recorded.
    Recording(RecordingTransport),
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
        let http = HttpTransport::new(tenant, Arc::new(settings), pace)?;
        Ok(Self {
            transport: Transport::Http(Arc::new(http)),
        })
    }

    /// A client for a dry run (`explain`, `?dry_run=true`), on the same transport: reads are
    /// sent as usual, every other call is only recorded and answered with a made-up success.
    /// The log lists every call, masked, the body fields at `sensitive` too.
    pub fn dry_run(&self, sensitive: Vec<JsonPointer>) -> (DownstreamClient, CallLog) {
        let recording = RecordingTransport::new(self.http().clone(), sensitive);
        let log = recording.log().clone();
        let client = Self {
            transport: Transport::Recording(recording),
        };
        (client, log)
    }

    /// The transport that sends, a dry run's reads too.
    fn http(&self) -> &Arc<HttpTransport> {
        match &self.transport {
            Transport::Http(http) => http,
            Transport::Recording(recording) => recording.http(),
        }
    }

    fn settings(&self) -> &DownstreamSettings {
        self.http().settings()
    }

    /// How failed calls are retried, for callers that retry on their own terms (a create
    /// looks its record up before it posts again).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.settings().retries
    }

    /// The breaker's state and any `Retry-After` pause, now.
    pub fn protection(&self) -> Protection {
        self.http().protection()
    }

    /// The base URL operations are relative to.
    pub fn base_url(&self) -> &Url {
        &self.settings().base_url
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
        self.settings()
            .retries
            .run(
                || {
                    let call = Call {
                        method: &method,
                        url: &url,
                        body,
                        what,
                    };
                    self.send_once(call, None)
                },
                |e: &DownstreamError| e.is_retriable(is_idempotent(&method)),
            )
            .await
    }

    /// [`Self::send`] of the operation `op` (on the record `id`, if it names one); a 404 is
    /// `NotFound` of the id, or of `what` without one.
    pub async fn send_op(
        &self,
        op: &Operation,
        id: Option<&str>,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Option<Value>, DownstreamError> {
        let url = op.url(self.base_url(), id)?;
        self.send(op.method.clone(), url, body, id.unwrap_or(what))
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
        let call = Call {
            method: &method,
            url: &url,
            body: Some(body),
            what,
        };
        self.send_once(call, Some(id_at)).await
    }

    /// One attempt, never retried, through the transport.
    async fn send_once(
        &self,
        call: Call<'_>,
        id_at: Option<&JsonPointer>,
    ) -> Result<Option<Value>, DownstreamError> {
        match &self.transport {
            Transport::Http(http) => http.send_once(call).await,
            Transport::Recording(recording) => recording.send_once(call, id_at).await,
        }
    }

    /// Tells whether the downstream answers, for readiness (see [`HttpTransport::probe`]).
    pub async fn probe(&self, timeout: Duration) -> Result<(), DownstreamError> {
        self.http().probe(timeout).await
    }
}
