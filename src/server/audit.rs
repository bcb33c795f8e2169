//! The audit trail: for every write a SCIM client asks for, one structured log event (target
//! `audit`) with tenant, client identity, operation, resource and result; and for every write
//! and every refused request (401, 403, 429), an activity entry for the store with the
//! userName, the error's scimType and detail and the downstream calls made (through
//! [`Recorder`], off the request path). The layer sits outside authentication so that refusals
//! reach it; it learns the client and the calls from the request's trail
//! (`telemetry::trail`). Neither holds a request body, so no attribute value or secret reaches
//! them.

use std::sync::Arc;
use std::time::Instant;

use super::activity::{Recorder, now_ms};
use super::around::{Around, Next, around_layer};
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{Method, header};
use serde_json::Value;

use crate::store::Activity;
use crate::telemetry::request_id;
use crate::telemetry::trail::{self, Trail};

/// The largest error body read for its scimType and detail.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// The longest detail kept.
const MAX_DETAIL_CHARS: usize = 500;

/// The write a request asks for: create, replace, patch or delete; `None` for reads
/// (including POST searches).
pub(super) fn write_operation(request: &Request) -> Option<&'static str> {
    match *request.method() {
        Method::POST if is_search(request) => None,
        Method::POST => Some("create"),
        Method::PUT => Some("replace"),
        Method::PATCH => Some("patch"),
        Method::DELETE => Some("delete"),
        _ => None,
    }
}

fn is_search(request: &Request) -> bool {
    request.uri().path().ends_with("/.search")
}

/// What one tenant's audit layer records to.
pub struct Audit {
    pub tenant: Arc<str>,
    pub recorder: Recorder,
}

around_layer! {
    /// Records every create, replace, patch and delete, and every refused request, after it
    /// is answered.
    pub struct AuditLayer(pub Arc<Audit>);
}

impl Around for AuditLayer {
    async fn around(&self, request: Request, next: Next) -> Response {
        let started = Instant::now();
        let Asked {
            write,
            read,
            dry_run,
            request_id,
            resource,
            mut id,
        } = Asked::of(&request);
        let (response, trail) = match write {
            Some(_) => trail::collect(next.run(request)).await,
            None => (next.run(request).await, Trail::default()),
        };
        let status = response.status().as_u16();
        if write.is_none() && !matches!(status, 401 | 403 | 429) {
            return response;
        }
        if id.is_none() {
            id = response
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| l.rsplit('/').next())
                .map(str::to_owned);
        }
        let (client_auth, client) = trail.client.unwrap_or(("-", String::new()));
        let tenant = &self.0.tenant;
        if let Some(operation) = write {
            tracing::info!(
                target: "audit",
                tenant = %tenant,
                client_auth,
                client = %client,
                operation,
                resource = %resource,
                id = id.as_deref().unwrap_or("-"),
                status,
                dry_run,
                "scim write"
            );
        }
        let (response, scim_type, detail) = if status >= 400 {
            error_fields(response).await
        } else {
            (response, None, None)
        };
        let operation = write.unwrap_or(read);
        self.0.recorder.record(Activity {
            id: 0,
            at_ms: now_ms(),
            tenant: tenant.to_string(),
            client_auth: client_auth.to_owned(),
            client,
            operation: if dry_run {
                format!("{operation} (dry run)")
            } else {
                operation.to_owned()
            },
            resource_type: resource,
            resource_id: id,
            user_name: trail.user_name,
            status,
            scim_type,
            detail,
            request_id,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            calls: trail.calls,
            calls_omitted: trail.calls_omitted,
        });
        response
    }
}

/// What a request asks, as the activity record names it.
struct Asked {
    /// The write operation, if it is one.
    write: Option<&'static str>,
    /// "search" or "read", for a refused read.
    read: &'static str,
    dry_run: bool,
    request_id: String,
    /// The resource type's path segment (`Users`, `Groups`).
    resource: String,
    /// The resource's id, when the path names one.
    id: Option<String>,
}

impl Asked {
    fn of(request: &Request) -> Self {
        let mut segments = request.uri().path().trim_matches('/').split('/');
        Asked {
            write: write_operation(request),
            read: if is_search(request) { "search" } else { "read" },
            dry_run: request
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "dry_run=true")),
            request_id: request
                .headers()
                .get(request_id::HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned(),
            resource: segments.next().unwrap_or("").to_owned(),
            id: segments.next().map(str::to_owned),
        }
    }
}

/// The `scimType` and `detail` of an error answer, and the answer as it was.
async fn error_fields(response: Response) -> (Response, Option<String>, Option<String>) {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        // Unreadable or too long: the root layer gives the empty answer a SCIM error body.
        return (Response::from_parts(parts, Body::empty()), None, None);
    };
    let error: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let field = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_owned);
    let detail = field("detail").map(|d| d.chars().take(MAX_DETAIL_CHARS).collect());
    let scim_type = field("scimType");
    (
        Response::from_parts(parts, Body::from(bytes)),
        scim_type,
        detail,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::body::Body;
    use http::StatusCode;
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::scim::error::ScimError;
    use crate::server::around::testing::request;
    use crate::settings::Retention;
    use crate::store::{ActivityFilter, Store};

    /// Collects what the audit layer logs.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs `request` through the audit layer around a service answering `status` (a SCIM
    /// error body for an error) with a `Location`, after making one downstream call, and
    /// returns the answer's status, the log and what the activity log holds afterwards.
    fn audited(request: Request, status: StatusCode) -> (StatusCode, String, Vec<Activity>) {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let inner = tower::service_fn(move |_request: Request| {
            trail::downstream_call("POST", "/api/users", Some(201), Duration::from_millis(3));
            trail::client("token", "entra");
            let mut response = if status.is_client_error() {
                axum::response::IntoResponse::into_response(ScimError::new(
                    status.as_u16(),
                    Some(crate::scim::error::ScimType::Uniqueness),
                    "userName is taken",
                ))
            } else {
                Response::new(Body::empty())
            };
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::LOCATION,
                http::HeaderValue::from_static("http://gw/scim/v2/Users/u-42"),
            );
            std::future::ready(Ok::<_, std::convert::Infallible>(response))
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store: Store = runtime
            .block_on(crate::store::open("sqlite::memory:"))
            .unwrap();
        let _context = runtime.enter();
        let recorder = Recorder::spawn(store.activity.clone(), Retention::default());
        let service = AuditLayer(Arc::new(Audit {
            tenant: "acme".into(),
            recorder,
        }))
        .layer(inner);
        let answer = tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(service.oneshot(request)).unwrap()
        });
        let log = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let recorded = runtime.block_on(async {
            // The writer is off the request path: give it a moment.
            for _ in 0..50 {
                let page = store
                    .activity
                    .activity_page(&ActivityFilter::default(), 0, 10)
                    .await
                    .unwrap();
                if !page.is_empty() {
                    return page;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Vec::new()
        });
        (answer.status(), log, recorded)
    }

    #[test]
    fn a_write_is_logged_and_recorded_with_its_operation_id_status_and_calls() {
        let (status, log, recorded) = audited(request("POST", "/Users", None), StatusCode::CREATED);
        assert_eq!(status, StatusCode::CREATED);
        assert!(log.contains("scim write"), "{log}");
        assert!(log.contains("operation=\"create\""), "{log}");
        assert!(log.contains("id=\"u-42\""), "{log}");
        assert!(log.contains("status=201"), "{log}");
        assert!(log.contains("tenant=acme"), "{log}");
        let [entry] = recorded.as_slice() else {
            panic!("{recorded:?}")
        };
        assert_eq!(entry.operation, "create");
        assert_eq!(entry.resource_id.as_deref(), Some("u-42"));
        assert_eq!(
            (entry.client_auth.as_str(), entry.client.as_str()),
            ("token", "entra")
        );
        assert_eq!(entry.calls.len(), 1);
        assert_eq!(entry.calls[0].path, "/api/users");
    }

    #[test]
    fn a_failed_write_keeps_its_scim_type_and_detail() {
        let (status, _, recorded) = audited(request("POST", "/Users", None), StatusCode::CONFLICT);
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        assert_eq!(recorded[0].scim_type.as_deref(), Some("uniqueness"));
        assert_eq!(recorded[0].detail.as_deref(), Some("userName is taken"));
    }

    #[test]
    fn reads_and_searches_are_neither_logged_nor_recorded_unless_refused() {
        for (method, uri) in [("GET", "/Users"), ("POST", "/Users/.search")] {
            let (status, log, recorded) = audited(request(method, uri, None), StatusCode::OK);
            assert_eq!(status, StatusCode::OK);
            assert!(!log.contains("scim write"), "{method} {uri}: {log}");
            assert!(recorded.is_empty(), "{method} {uri}: {recorded:?}");
        }
        let (_, _, recorded) = audited(
            request("GET", "/Users", None),
            StatusCode::TOO_MANY_REQUESTS,
        );
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].operation, "read");
        assert_eq!(recorded[0].status, 429);
    }
}
