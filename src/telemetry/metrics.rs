//! The gateway's Prometheus metrics: their names, the functions that record them (so each
//! metric has the same labels wherever it is touched), and the process-wide exporter that
//! `/metrics` renders. Label values come from fixed sets, the route table or the
//! configuration, never from a request's path or an id, so the number of series stays bounded.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use http::Method;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// SCIM requests answered, by `tenant`, `resource`, `operation` and `status`.
pub const SCIM_REQUESTS: &str = "scim_requests_total";
/// Time to answer a SCIM request, by `tenant`, `resource` and `operation`.
pub const SCIM_DURATION: &str = "scim_request_duration_seconds";
/// Calls to a downstream API, by `tenant`, `method` and `status` (`none` without an answer).
pub const DOWNSTREAM_REQUESTS: &str = "downstream_requests_total";
/// Time a downstream call took, by `tenant`.
pub const DOWNSTREAM_DURATION: &str = "downstream_request_duration_seconds";
/// Downstream calls that failed through no fault of the SCIM client, by `tenant` and `kind`.
pub const DOWNSTREAM_ERRORS: &str = "downstream_errors_total";
/// Lookups in the in-memory caches, by `cache` and `result` (`hit` or `miss`).
pub const CACHE_REQUESTS: &str = "cache_requests_total";
/// Attributes of SCIM writes that nothing keeps, by `attribute` (a schema path from the
/// catalog, never a value) and `tenant`.
pub const ATTRIBUTES_DROPPED: &str = "scim_attributes_dropped_total";
/// Activity entries not recorded because the writer fell behind or the store failed.
pub const ACTIVITY_DROPPED: &str = "activity_dropped_total";

/// Histogram buckets in seconds: from a cached read (milliseconds) to a request deadline.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Why metrics cannot be exported.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// Another `metrics` recorder owns the process (only when the gateway is embedded).
    #[error("cannot install the metrics recorder: {0}")]
    Install(String),
}

static EXPORTER: OnceLock<Result<PrometheusHandle, MetricsError>> = OnceLock::new();

/// The Prometheus exporter, installed as the process's `metrics` recorder on first call:
/// metrics are process-wide, so every application built in this process shares it.
pub fn exporter() -> Result<PrometheusHandle, MetricsError> {
    EXPORTER.get_or_init(install).clone()
}

#[expect(
    clippy::disallowed_methods,
    reason = "the upkeep sleeps on a thread of its own, never on a tokio worker"
)]
fn install() -> Result<PrometheusHandle, MetricsError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), &BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| MetricsError::Install(e.to_string()))?;
    describe();
    let upkeep = handle.clone();
    // Samples wait in memory until folded in: fold them even if nothing scrapes /metrics.
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| MetricsError::Install(format!("cannot start the upkeep thread: {e}")))?;
    Ok(handle)
}

fn describe() {
    use ::metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        SCIM_REQUESTS,
        "SCIM requests answered, by tenant, resource, operation and HTTP status"
    );
    describe_histogram!(
        SCIM_DURATION,
        Unit::Seconds,
        "Time to answer a SCIM request, by tenant, resource and operation"
    );
    describe_counter!(
        DOWNSTREAM_REQUESTS,
        "Calls to the downstream API, by tenant, method and HTTP status (none: no answer)"
    );
    describe_histogram!(
        DOWNSTREAM_DURATION,
        Unit::Seconds,
        "Time a downstream call took, by tenant"
    );
    describe_counter!(
        DOWNSTREAM_ERRORS,
        "Downstream calls that failed through no fault of the SCIM client, by tenant and kind"
    );
    describe_counter!(
        ATTRIBUTES_DROPPED,
        "Attributes of SCIM writes that neither the downstream nor the store keeps, by attribute and tenant"
    );
    describe_counter!(
        ACTIVITY_DROPPED,
        "Provisioning activity entries not recorded (the writer fell behind or the store failed)"
    );
    describe_counter!(
        CACHE_REQUESTS,
        "Lookups in the in-memory caches, by cache and result (hit or miss)"
    );
}

/// Handles of one metric made once per label set and kept: `counter!` and `histogram!`
/// allocate their labels and look the series up in the recorder's registry on every call,
/// about a tenth of the instructions of a cached SCIM read. Kept only once the exporter is
/// the process's recorder (it is never replaced): a handle made before would record nowhere
/// for good, after a reload that turns `metrics` on.
struct Handles<K, H> {
    made: RwLock<HashMap<K, H>>,
}

impl<K: Hash + Eq, H: Clone> Handles<K, H> {
    fn new() -> Self {
        Self {
            made: RwLock::new(HashMap::new()),
        }
    }

    /// The handle for `key`, made by `make` the first time.
    fn get(&self, key: K, make: impl FnOnce() -> H) -> H {
        if !matches!(EXPORTER.get(), Some(Ok(_))) {
            return make();
        }
        if let Some(handle) = self
            .made
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return handle.clone();
        }
        self.made
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(make)
            .clone()
    }
}

/// One tenant's SCIM request metrics (`scim_requests_total`, `scim_request_duration_seconds`).
pub struct ScimMeters {
    tenant: Arc<str>,
    requests: Handles<(&'static str, &'static str, u16), Counter>,
    durations: Handles<(&'static str, &'static str), Histogram>,
}

impl ScimMeters {
    pub fn new(tenant: &str) -> Self {
        Self {
            tenant: tenant.into(),
            requests: Handles::new(),
            durations: Handles::new(),
        }
    }

    /// Records one answered SCIM request.
    pub fn record(
        &self,
        resource: &'static str,
        operation: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        let tenant = &self.tenant;
        self.requests
            .get((resource, operation, status), || {
                ::metrics::counter!(
                    SCIM_REQUESTS,
                    "tenant" => tenant.to_string(),
                    "resource" => resource,
                    "operation" => operation,
                    "status" => status.to_string(),
                )
            })
            .increment(1);
        self.durations
            .get((resource, operation), || {
                ::metrics::histogram!(
                    SCIM_DURATION,
                    "tenant" => tenant.to_string(),
                    "resource" => resource,
                    "operation" => operation,
                )
            })
            .record(elapsed);
    }
}

/// One tenant's downstream call metrics (`downstream_requests_total`,
/// `downstream_request_duration_seconds`).
pub struct DownstreamMeters {
    tenant: Arc<str>,
    calls: Handles<(Method, Option<u16>), Counter>,
    duration: Handles<(), Histogram>,
}

impl std::fmt::Debug for DownstreamMeters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownstreamMeters")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl DownstreamMeters {
    pub fn new(tenant: &str) -> Self {
        Self {
            tenant: tenant.into(),
            calls: Handles::new(),
            duration: Handles::new(),
        }
    }

    /// The tenant these calls are made for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Records one downstream call; `status` is `None` when no answer came.
    pub fn record(&self, method: &Method, status: Option<u16>, elapsed: Duration) {
        let tenant = &self.tenant;
        self.calls
            .get((method.clone(), status), || {
                let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
                ::metrics::counter!(
                    DOWNSTREAM_REQUESTS,
                    "tenant" => tenant.to_string(),
                    "method" => method.to_string(),
                    "status" => status,
                )
            })
            .increment(1);
        self.duration
            .get(
                (),
                || ::metrics::histogram!(DOWNSTREAM_DURATION, "tenant" => tenant.to_string()),
            )
            .record(elapsed);
    }
}

/// Records a downstream failure of one kind (`unreachable`, `timeout`, ...).
pub fn downstream_error(tenant: &str, kind: &'static str) {
    ::metrics::counter!(DOWNSTREAM_ERRORS, "tenant" => tenant.to_owned(), "kind" => kind)
        .increment(1);
}

/// Counts one attribute a SCIM write lost (`[users] unmapped`).
pub fn attribute_dropped(tenant: &str, attribute: &str) {
    ::metrics::counter!(
        ATTRIBUTES_DROPPED,
        "attribute" => attribute.to_owned(),
        "tenant" => tenant.to_owned(),
    )
    .increment(1);
}

/// Counts activity entries that were not recorded.
pub fn activity_dropped(entries: u64) {
    ::metrics::counter!(ACTIVITY_DROPPED).increment(entries);
}

/// Records a lookup in the cache named `cache`.
pub fn cache_lookup(cache: &'static str, hit: bool) {
    static LOOKUPS: LazyLock<Handles<(&'static str, bool), Counter>> = LazyLock::new(Handles::new);
    LOOKUPS
        .get((cache, hit), || {
            let result = if hit { "hit" } else { "miss" };
            ::metrics::counter!(CACHE_REQUESTS, "cache" => cache, "result" => result)
        })
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_real_histograms() {
        let exporter = exporter().unwrap();
        ScimMeters::new("unit-tenant").record("Users", "create", 201, Duration::from_millis(30));
        downstream_error("unit-tenant", "timeout");
        let text = exporter.render();
        assert!(
            text.contains(
                r#"scim_requests_total{tenant="unit-tenant",resource="Users",operation="create",status="201"} 1"#
            ),
            "{text}"
        );
        // Buckets, not a summary: p99 can be computed across instances.
        assert!(
            text.contains(
                r#"scim_request_duration_seconds_bucket{tenant="unit-tenant",resource="Users",operation="create",le="0.05"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"downstream_errors_total{tenant="unit-tenant",kind="timeout"} 1"#),
            "{text}"
        );
        assert!(text.contains("# HELP scim_requests_total"), "{text}");
    }
}
