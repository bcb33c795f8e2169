//! `/healthz` (the process is up) and `/readyz` (it can serve: the store answers and every
//! tenant's downstream is reachable), without authentication, for load balancers and
//! orchestrators. Readiness is worked out at most once per [`FRESH_FOR`] however often it is
//! asked (concurrent probes wait for the one under way), so probes cannot load the downstream.
//! The answer names what is not ready but never carries an error's text, which could hold a
//! URL: the log has the details.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::downstream::DownstreamError;
use crate::downstream::client::DownstreamClient;
use crate::store::Store;

/// How long a readiness answer is reused.
pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// The longest one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/readyz` checks, and its last answer.
pub struct Readiness {
    store: Store,
    /// Each tenant's name and downstream client.
    downstreams: Vec<(String, DownstreamClient)>,
    last: Mutex<Option<(Instant, Report)>>,
}

/// The outcome of one round of checks: check name to `"ok"` or what is wrong.
#[derive(Debug, Clone)]
struct Report {
    ready: bool,
    checks: Map<String, Value>,
}

impl Readiness {
    pub fn new(store: Store, downstreams: Vec<(String, DownstreamClient)>) -> Self {
        Self {
            store,
            downstreams,
            last: Mutex::new(None),
        }
    }

    /// The last report if fresh, else a new one.
    async fn report(&self) -> Report {
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return report.clone();
        }
        let report = self.check().await;
        *last = Some((Instant::now(), report.clone()));
        report
    }

    /// Runs every check at once, so the slowest bounds the time taken.
    async fn check(&self) -> Report {
        let mut checks = JoinSet::new();
        let store = self.store.clone();
        checks.spawn(async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, store.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: the store does not answer");
                    Err("unavailable".to_owned())
                }
                Err(_) => {
                    tracing::warn!("readiness: the store did not answer in time");
                    Err("timeout".to_owned())
                }
            };
            ("store".to_owned(), outcome)
        });
        for (tenant, client) in &self.downstreams {
            let (tenant, client) = (tenant.clone(), client.clone());
            checks.spawn(async move {
                let outcome = client.probe(CHECK_TIMEOUT).await.map_err(|e| {
                    tracing::warn!(%tenant, error = %e, "readiness: the downstream is not reachable");
                    summary(&e)
                });
                (format!("downstream:{tenant}"), outcome)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = checks.join_next().await {
            // A check that panicked has no name left to report under.
            results.push(joined.unwrap_or_else(|_| ("check".to_owned(), Err("panicked".into()))));
        }
        results.sort_by(|a, b| a.0.cmp(&b.0));
        let ready = results.iter().all(|(_, outcome)| outcome.is_ok());
        let checks = results
            .into_iter()
            .map(|(name, outcome)| (name, Value::String(outcome.err().unwrap_or("ok".into()))))
            .collect();
        Report { ready, checks }
    }
}

/// What is wrong with a downstream, in words that hold no URL or message from elsewhere.
fn summary(e: &DownstreamError) -> String {
    match e {
        DownstreamError::Failed(status) => format!("HTTP {status}"),
        other => other.fault().unwrap_or("failed").replace('_', " "),
    }
}

/// Always 200 while the process serves HTTP.
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

/// 200 when every check passes, else 503; the body lists each check's result.
pub async fn readyz(State(readiness): State<Arc<Readiness>>) -> Response {
    let report = readiness.report().await;
    let (status, word) = if report.ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    };
    json_response(status, &json!({"status": word, "checks": report.checks}))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
