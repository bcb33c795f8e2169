//! Cross-cutting layers of the SCIM server: bearer authentication and the request deadline,
//! each answering with a SCIM error body rather than a bare status.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use crate::auth::BearerVerifier;
use crate::scim::error::ScimError;

/// Lets a request through only with a valid `Authorization: Bearer` token (RFC 6750); the
/// answer otherwise is 401 with `WWW-Authenticate: Bearer` and never says which part failed.
pub async fn require_bearer(
    State(verifier): State<Arc<BearerVerifier>>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match token {
        Some(t) if verifier.verify(t) => next.run(request).await,
        _ => {
            let mut response = ScimError::new(
                401,
                None,
                "authentication required: send Authorization: Bearer <Secret Token>",
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
            response
        }
    }
}

/// Bounds how long a request may take; past the deadline the client gets 504 and work on
/// the request stops.
pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ScimError::new(
            504,
            None,
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}
