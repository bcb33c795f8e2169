//! Cross-cutting layers of the SCIM server: client authentication and the request deadline,
//! each answering with a SCIM error body rather than a bare status, and the request id's
//! scope.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use crate::auth::{AuthError, Authenticator};
use crate::downstream::budget;
use crate::downstream::retry_after::{RETRY_LATER, whole_seconds};
use crate::scim::error::ScimError;
use crate::telemetry::request_id;

/// Lets a request through only with credentials the tenant accepts, and hands who it is to
/// the layers and handlers inside (as a [`ClientIdentity`] extension). The answer otherwise
/// is 401 with a `WWW-Authenticate` challenge, and never says which part failed; when the
/// credentials cannot be checked now (the store is down) it is 503, which clients retry.
pub async fn authenticate(
    State(authenticator): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match authenticator.authenticate(header).await {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(AuthError::Unavailable(reason)) => {
            tracing::warn!(%reason, "cannot check credentials");
            ScimError::new(503, None, "cannot check credentials now; retry later")
                .with_retry_after(whole_seconds(RETRY_LATER))
                .into_response()
        }
        Err(AuthError::Rejected) => {
            let mut response = ScimError::new(
                401,
                None,
                "authentication required: send the tenant's Secret Token as Authorization: Bearer",
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(authenticator.challenge()),
            );
            response
        }
    }
}

/// Bounds how long a request may take, and its downstream calls to four fifths of that (so
/// a slow downstream ends as a retriable 503 in time); past the deadline the client gets 504
/// and work on the request stops.
pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, budget::scope(limit, next.run(request))).await {
        Ok(response) => response,
        Err(_) => ScimError::new(
            504,
            None,
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Serves the request inside the scope of its id (set by the request id layer), so every
/// downstream call made for it carries the id as `X-Request-Id`.
pub async fn in_request_id_scope(request: Request, next: Next) -> Response {
    match request.headers().get(request_id::HEADER).cloned() {
        Some(id) => request_id::scope(id, next.run(request)).await,
        None => next.run(request).await,
    }
}
