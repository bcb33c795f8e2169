//! The audit log: one structured event (target `audit`) per write a SCIM client asks for,
//! with tenant, client identity, operation, resource and result. It never holds a body, so
//! no attribute value or secret reaches it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
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

/// Records every create, replace, patch and delete after it is answered.
pub async fn record_writes(
    State(tenant): State<Arc<String>>,
    request: Request,
    next: Next,
) -> Response {
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
