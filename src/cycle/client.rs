//! The SCIM calls of a cycle, each timed and recorded: a non-2xx answer, a transport error or a
//! 2xx answer the cycle cannot use becomes a [`CallFailure`] instead of stopping the run, so one
//! bad user never hides what happened to the others.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde_json::Value;

use super::stats::Sample;
use super::{CallFailure, CycleError, CycleOptions, Op, Phase, lock};

const SCIM_JSON: &str = "application/scim+json";
/// Longest body excerpt kept from a non-SCIM error answer.
const EXCERPT: usize = 200;

/// What a matching query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    Missing,
    One(String),
    Many(u64),
}

/// A reqwest client bound to one Tenant URL and token, recording every call.
pub(crate) struct ScimClient {
    http: reqwest::Client,
    users_url: Url,
    token: String,
    samples: Mutex<Vec<Sample>>,
    failures: Mutex<Vec<CallFailure>>,
    calls: AtomicUsize,
    failed: AtomicUsize,
}

impl ScimClient {
    pub(crate) fn new(options: &CycleOptions) -> Result<Self, CycleError> {
        let users_url = users_url(&options.url).map_err(CycleError::InvalidOptions)?;
        crate::downstream::client::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(options.concurrency)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "scim-gateway-entra-cycle/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| CycleError::Client(chain(&e)))?;
        Ok(Self {
            http,
            users_url,
            token: options.token.clone(),
            samples: Mutex::new(Vec::new()),
            failures: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        })
    }

    /// SCIM calls made so far.
    pub(crate) fn call_count(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Failures recorded so far.
    pub(crate) fn failure_count(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }

    /// Everything recorded, leaving the client empty.
    pub(crate) fn take_records(&self) -> (Vec<Sample>, Vec<CallFailure>) {
        (
            std::mem::take(&mut *lock(&self.samples)),
            std::mem::take(&mut *lock(&self.failures)),
        )
    }

    /// Records a failure.
    pub(crate) fn fail(
        &self,
        phase: Phase,
        op: Op,
        user: Option<&str>,
        status: Option<u16>,
        detail: String,
    ) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        lock(&self.failures).push(CallFailure {
            phase,
            op,
            user: user.map(str::to_owned),
            status,
            detail,
        });
    }

    /// Entra's "Test Connection": a matching query for a userName nobody has, which must
    /// answer an empty list. Not recorded; the error says what came back.
    pub(crate) async fn test_connection(&self) -> Result<(), String> {
        let probe = format!("entra-cycle-probe-{}", uuid::Uuid::new_v4());
        let url = self.filter_url(&probe);
        let response = self
            .request(Method::GET, url, None)
            .send()
            .await
            .map_err(|e| format!("{} is not reachable: {}", self.users_url, chain(&e)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("reading the answer: {}", chain(&e)))?;
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 | 403 => " (check the Secret Token)",
                404 => " (check the Tenant URL: it ends with the SCIM base path, e.g. /scim/v2)",
                _ => "",
            };
            return Err(format!(
                "GET {} answered {status}{hint}: {}",
                self.users_url,
                error_detail(&bytes)
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v["totalResults"].as_u64() == Some(0) => Ok(()),
            Ok(v) => Err(format!(
                "a userName nobody has should match no user; the answer was {}",
                excerpt(&v.to_string())
            )),
            Err(e) => Err(format!("the answer is not JSON ({e})")),
        }
    }

    /// `GET /Users?filter=userName eq "<name>"`; `None` when the call failed (recorded).
    pub(crate) async fn find(&self, phase: Phase, name: &str) -> Option<Lookup> {
        let url = self.filter_url(name);
        let body = self
            .send(phase, Op::Match, Some(name), Method::GET, url, None)
            .await?;
        let total = body["totalResults"].as_u64();
        let ids: Option<Vec<&str>> = match body["Resources"].as_array() {
            Some(resources) => resources.iter().map(|r| r["id"].as_str()).collect(),
            None => Some(Vec::new()),
        };
        let problem = match (total, ids) {
            (None, _) => "the list answer has no totalResults".to_owned(),
            (_, None) => "a listed user has no id".to_owned(),
            (Some(0), Some(ids)) if ids.is_empty() => return Some(Lookup::Missing),
            (Some(1), Some(ids)) if ids.len() == 1 => {
                return Some(Lookup::One(ids[0].to_owned()));
            }
            (Some(n), Some(ids)) if n > 1 && ids.len() as u64 <= n => {
                return Some(Lookup::Many(n));
            }
            (Some(n), Some(ids)) => {
                format!("totalResults is {n} but {} users were returned", ids.len())
            }
        };
        self.fail(phase, Op::Match, Some(name), None, problem);
        None
    }

    /// `POST /Users`; the new user's id, or `None` when the call failed (recorded).
    pub(crate) async fn create(&self, phase: Phase, name: &str, body: &Value) -> Option<String> {
        let url = self.users_url.clone();
        let answer = self
            .send(phase, Op::Create, Some(name), Method::POST, url, Some(body))
            .await?;
        match answer["id"].as_str() {
            Some(id) if !id.is_empty() => Some(id.to_owned()),
            _ => {
                self.fail(
                    phase,
                    Op::Create,
                    Some(name),
                    None,
                    format!(
                        "the created user has no id: {}",
                        excerpt(&answer.to_string())
                    ),
                );
                None
            }
        }
    }

    /// `PATCH /Users/{id}`; false when the call failed (recorded).
    pub(crate) async fn patch(&self, phase: Phase, name: &str, id: &str, body: &Value) -> bool {
        let mut url = self.users_url.clone();
        match url.path_segments_mut() {
            Ok(mut segments) => {
                segments.push(id);
            }
            Err(()) => {
                let detail = "the Tenant URL cannot take a path".to_owned();
                self.fail(phase, Op::Patch, Some(name), None, detail);
                return false;
            }
        }
        self.send(phase, Op::Patch, Some(name), Method::PATCH, url, Some(body))
            .await
            .is_some()
    }

    /// `DELETE /Users/{id}` for the clean-up (not part of the cycle's figures); true when the
    /// user is gone (204, or 404: already gone).
    pub(crate) async fn delete(&self, id: &str) -> bool {
        let mut url = self.users_url.clone();
        match url.path_segments_mut() {
            Ok(mut segments) => segments.push(id),
            Err(()) => return false,
        };
        match self.request(Method::DELETE, url, None).send().await {
            Ok(response) => matches!(response.status().as_u16(), 204 | 404),
            Err(_) => false,
        }
    }

    /// `GET /Users?startIndex=..&count=..`; the list answer, or `None` when the call failed
    /// (recorded).
    pub(crate) async fn list_page(&self, start_index: u64, count: u64) -> Option<Value> {
        let mut url = self.users_url.clone();
        url.query_pairs_mut()
            .append_pair("startIndex", &start_index.to_string())
            .append_pair("count", &count.to_string());
        self.send(Phase::Verify, Op::List, None, Method::GET, url, None)
            .await
    }

    fn filter_url(&self, name: &str) -> Url {
        let mut url = self.users_url.clone();
        url.query_pairs_mut()
            .append_pair("filter", &format!("userName eq \"{name}\""));
        url
    }

    fn request(&self, method: Method, url: Url, body: Option<&Value>) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header(ACCEPT, SCIM_JSON);
        match body {
            Some(body) => request
                .header(CONTENT_TYPE, SCIM_JSON)
                .body(body.to_string()),
            None => request,
        }
    }

    /// Sends one call, times it (until the whole body is read) and records it. The JSON
    /// answer of a 2xx (`Null` when empty), or `None` when the call failed.
    async fn send(
        &self,
        phase: Phase,
        op: Op,
        user: Option<&str>,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Option<Value> {
        let request = self.request(method, url, body);
        let started = Instant::now();
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                response.bytes().await.map(|bytes| (status, bytes))
            }
            Err(e) => Err(e),
        };
        let latency = started.elapsed();
        self.calls.fetch_add(1, Ordering::Relaxed);
        let result = match outcome {
            Ok((status, bytes)) if status.is_success() => {
                if bytes.is_empty() {
                    Ok(Value::Null)
                } else {
                    serde_json::from_slice(&bytes).map_err(|e| {
                        (
                            Some(status.as_u16()),
                            format!("the {status} answer is not JSON ({e})"),
                        )
                    })
                }
            }
            Ok((status, bytes)) => Err((Some(status.as_u16()), error_detail(&bytes))),
            Err(e) => Err((None, chain(&e.without_url()))),
        };
        lock(&self.samples).push(Sample {
            phase,
            op,
            latency,
            ok: result.is_ok(),
        });
        match result {
            Ok(value) => Some(value),
            Err((status, detail)) => {
                self.fail(phase, op, user, status, detail);
                None
            }
        }
    }
}

/// `<Tenant URL>/Users`, or why the URL cannot be a Tenant URL.
fn users_url(tenant: &str) -> Result<Url, String> {
    let url = Url::parse(tenant.trim_end_matches('/'))
        .map_err(|e| format!("the Tenant URL {tenant:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the Tenant URL {tenant:?} is not http(s)"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("the Tenant URL {tenant:?} has a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the Tenant URL must not carry credentials; use --token".into());
    }
    let mut users = url;
    users
        .path_segments_mut()
        .map_err(|()| format!("the Tenant URL {tenant:?} cannot take a path"))?
        .pop_if_empty()
        .push("Users");
    Ok(users)
}

/// The SCIM error's detail (with its scimType), or an excerpt of a non-SCIM body.
fn error_detail(bytes: &[u8]) -> String {
    if let Ok(body) = serde_json::from_slice::<Value>(bytes)
        && let Some(detail) = body["detail"].as_str()
    {
        return match body["scimType"].as_str() {
            Some(kind) => format!("{kind}: {detail}"),
            None => detail.to_owned(),
        };
    }
    let text = String::from_utf8_lossy(bytes);
    if text.trim().is_empty() {
        "(empty body)".into()
    } else {
        excerpt(text.trim())
    }
}

fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// An error with its sources, e.g. "error sending request: connection refused".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_url_appends_users_to_the_tenant_url() {
        for tenant in ["http://h:1/scim/v2", "http://h:1/scim/v2/"] {
            assert_eq!(
                users_url(tenant).unwrap().as_str(),
                "http://h:1/scim/v2/Users"
            );
        }
        assert_eq!(users_url("https://h").unwrap().as_str(), "https://h/Users");
        assert!(users_url("ftp://h/scim").is_err());
        assert!(users_url("http://h/scim?x=1").is_err());
        assert!(users_url("http://u:p@h/scim").is_err());
        assert!(users_url("not a url").is_err());
    }

    #[test]
    fn error_detail_prefers_the_scim_detail() {
        let scim = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"taken"}"#;
        assert_eq!(error_detail(scim), "uniqueness: taken");
        assert_eq!(error_detail(br#"{"detail":"gone"}"#), "gone");
        assert_eq!(error_detail(b"  "), "(empty body)");
        let long = "x".repeat(500);
        assert_eq!(error_detail(long.as_bytes()).len(), EXCERPT + 3);
    }
}
