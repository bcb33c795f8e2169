//! The server's side of the metrics: the `/metrics` endpoint (Prometheus text format) and the
//! layer that counts and times each SCIM request of a tenant, labelled by the route it
//! matched (resource and operation from a fixed set), never by its path or an id.

use std::sync::Arc;
use std::time::Instant;

use super::around::{Around, Next, around_layer};
use axum::extract::{MatchedPath, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::telemetry::metrics;

/// Everything recorded so far, in the Prometheus text format.
pub async fn render(State(exporter): State<PrometheusHandle>) -> Response {
    let mut response = (StatusCode::OK, exporter.render()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Whose requests a [`MeterLayer`] counts, and where.
pub struct Meter {
    pub meters: metrics::ScimMeters,
    /// The tenant's path prefix, taken off the matched route.
    pub base_path: String,
}

around_layer! {
    /// Counts and times the request (`scim_requests_total`, `scim_request_duration_seconds`),
    /// whatever answers it: a handler, the authentication, the limits or the deadline.
    pub struct MeterLayer(pub Arc<Meter>);
}

impl Around for MeterLayer {
    async fn around(&self, request: Request, next: Next) -> Response {
        let meter = &self.0;
        let started = Instant::now();
        let (resource, operation) =
            request
                .extensions()
                .get::<MatchedPath>()
                .map_or(OTHER, |route| {
                    let route = route.as_str();
                    labels(
                        request.method(),
                        route
                            .strip_prefix(meter.base_path.as_str())
                            .unwrap_or(route),
                    )
                });
        let response = next.run(request).await;
        meter.meters.record(
            resource,
            operation,
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }
}

const OTHER: (&str, &str) = ("other", "other");

/// The resource and operation of a request to `route` (a route template relative to the
/// tenant's base path, e.g. `/Users/{id}`).
fn labels(method: &Method, route: &str) -> (&'static str, &'static str) {
    let mut parts = route.trim_start_matches('/').splitn(2, '/');
    let resource = match parts.next() {
        Some("Users") => "Users",
        Some("Groups") => "Groups",
        Some("ServiceProviderConfig") => "ServiceProviderConfig",
        Some("ResourceTypes") => "ResourceTypes",
        Some("Schemas") => "Schemas",
        Some(".search") => "root",
        _ => return OTHER,
    };
    let operation = match (parts.next(), method.as_str()) {
        (None, "GET") if resource == "ServiceProviderConfig" => "get",
        (None, "GET") => "list",
        (None, "POST") if resource == "root" => "search",
        (None, "POST") => "create",
        (Some(".search"), "POST") => "search",
        (Some("{id}"), "GET") => "get",
        (Some("{id}"), "PUT") => "replace",
        (Some("{id}"), "PATCH") => "patch",
        (Some("{id}"), "DELETE") => "delete",
        _ => "other",
    };
    (resource, operation)
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::server::around::testing::{Counting, request};

    #[test]
    fn every_answer_is_counted_under_its_tenant_and_status() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let layer = MeterLayer(Arc::new(Meter {
            meters: metrics::ScimMeters::new("acme"),
            base_path: "/acme/scim/v2".into(),
        }));
        let inner = Counting::default();
        let service = layer.layer(inner.service(StatusCode::CONFLICT));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let answer = ::metrics::with_local_recorder(&recorder, || {
            runtime
                .block_on(service.oneshot(request("POST", "/Users", None)))
                .unwrap()
        });
        assert_eq!(answer.status(), StatusCode::CONFLICT);
        let rendered = handle.render();
        let line = rendered
            .lines()
            .find(|l| l.starts_with("scim_requests_total{"))
            .unwrap_or_else(|| panic!("no request counted: {rendered}"));
        assert!(line.contains("tenant=\"acme\""), "{line}");
        assert!(line.contains("status=\"409\""), "{line}");
        assert!(line.ends_with(" 1"), "{line}");
    }

    #[test]
    fn labels_come_from_the_route_not_the_request() {
        for (method, route, want) in [
            (Method::GET, "/Users", ("Users", "list")),
            (Method::POST, "/Users", ("Users", "create")),
            (Method::POST, "/Users/.search", ("Users", "search")),
            (Method::GET, "/Users/{id}", ("Users", "get")),
            (Method::PUT, "/Users/{id}", ("Users", "replace")),
            (Method::PATCH, "/Groups/{id}", ("Groups", "patch")),
            (Method::DELETE, "/Groups/{id}", ("Groups", "delete")),
            (Method::POST, "/.search", ("root", "search")),
            (
                Method::GET,
                "/ServiceProviderConfig",
                ("ServiceProviderConfig", "get"),
            ),
            (Method::GET, "/Schemas", ("Schemas", "list")),
            (Method::GET, "/ResourceTypes/{id}", ("ResourceTypes", "get")),
            (Method::POST, "/Users/{id}", ("Users", "other")),
            (Method::GET, "/Users/2819c223", ("Users", "other")),
            (Method::GET, "/Elsewhere", OTHER),
        ] {
            assert_eq!(labels(&method, route), want, "{method} {route}");
        }
    }
}
