//! The audit log: one structured event (target `audit`) per write a SCIM client asks for,
//! with tenant, client identity, operation, resource and result. It never holds a body, so
//! no attribute value or secret reaches it.

use std::sync::Arc;

use super::around::{Around, Next, around_layer};
use axum::extract::Request;
use axum::response::Response;
use http::{Method, header};

use crate::auth::ClientIdentity;

/// The write a request asks for: create, replace, patch or delete; `None` for reads
/// (including POST searches).
pub(super) fn write_operation(request: &Request) -> Option<&'static str> {
    match *request.method() {
        Method::POST if request.uri().path().ends_with("/.search") => None,
        Method::POST => Some("create"),
        Method::PUT => Some("replace"),
        Method::PATCH => Some("patch"),
        Method::DELETE => Some("delete"),
        _ => None,
    }
}

around_layer! {
    /// Records every create, replace, patch and delete after it is answered.
    pub struct AuditLayer(pub Arc<str>);
}

impl Around for AuditLayer {
    async fn around(&self, request: Request, next: Next) -> Response {
        let tenant = &self.0;
        let Some(operation) = write_operation(&request) else {
            return next.run(request).await;
        };
        let mut segments = request.uri().path().trim_matches('/').split('/');
        let resource = segments.next().unwrap_or("").to_owned();
        let mut id = segments.next().map(str::to_owned);
        let client = request.extensions().get::<ClientIdentity>().cloned();
        let response = next.run(request).await;
        if id.is_none() {
            id = response
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| l.rsplit('/').next())
                .map(str::to_owned);
        }
        let (method, name) = client.map_or(("-", String::new()), |c| (c.method, c.name));
        tracing::info!(
            target: "audit",
            tenant = %tenant,
            client_auth = method,
            client = %name,
            operation,
            resource = %resource,
            id = id.as_deref().unwrap_or("-"),
            status = response.status().as_u16(),
            "scim write"
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use http::StatusCode;
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::server::around::testing::request;

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

    /// Runs `request` through the audit layer around a service answering `status` with a
    /// `Location`, and returns the answer's status and the log.
    fn audited(request: Request, status: StatusCode) -> (StatusCode, String) {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let inner = tower::service_fn(move |_request: Request| {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::LOCATION,
                http::HeaderValue::from_static("http://gw/scim/v2/Users/u-42"),
            );
            std::future::ready(Ok::<_, std::convert::Infallible>(response))
        });
        let service = AuditLayer("acme".into()).layer(inner);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let answer = tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(service.oneshot(request)).unwrap()
        });
        let log = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        (answer.status(), log)
    }

    #[test]
    fn a_write_is_logged_with_its_operation_id_and_status() {
        let (status, log) = audited(request("POST", "/Users", None), StatusCode::CREATED);
        assert_eq!(status, StatusCode::CREATED);
        assert!(log.contains("scim write"), "{log}");
        assert!(log.contains("operation=\"create\""), "{log}");
        assert!(log.contains("id=\"u-42\""), "{log}");
        assert!(log.contains("status=201"), "{log}");
        assert!(log.contains("tenant=acme"), "{log}");
    }

    #[test]
    fn reads_and_searches_are_not_logged() {
        for (method, uri) in [("GET", "/Users"), ("POST", "/Users/.search")] {
            let (status, log) = audited(request(method, uri, None), StatusCode::OK);
            assert_eq!(status, StatusCode::OK);
            assert!(!log.contains("scim write"), "{method} {uri}: {log}");
        }
    }
}
