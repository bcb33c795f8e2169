//! Cross-cutting layers of the SCIM server: client authentication and the request deadline,
//! each answering with a SCIM error body rather than a bare status, and the request id's
//! scope.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next as AxumNext;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use super::around::{Around, Next, around_layer};
use crate::auth::{AuthError, Authenticator};
use crate::downstream::budget;
use crate::downstream::retry_after::{RETRY_LATER, whole_seconds};
use crate::scim::error::ScimError;
use crate::telemetry::{request_id, trail};

around_layer! {
    /// Lets a request through only with credentials the tenant accepts, and hands who it is to
    /// the layers and handlers inside (as a [`ClientIdentity`] extension). The answer otherwise
    /// is 401 with a `WWW-Authenticate` challenge, and never says which part failed; when the
    /// credentials cannot be checked now (the store is down) it is 503, which clients retry.
    pub struct AuthLayer(pub Arc<Authenticator>);
}

impl Around for AuthLayer {
    async fn around(&self, mut request: Request, next: Next) -> Response {
        let authenticator = &self.0;
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match authenticator.authenticate(header).await {
            Ok(identity) => {
                trail::client(identity.method, &identity.name);
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
}

around_layer! {
    /// Bounds how long a request may take, and its downstream calls to four fifths of that (so
    /// a slow downstream ends as a retriable 503 in time); past the deadline the client gets 504
    /// and work on the request stops.
    pub struct DeadlineLayer(pub Duration);
}

impl Around for DeadlineLayer {
    async fn around(&self, request: Request, next: Next) -> Response {
        let limit = self.0;
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
}

/// Serves the request inside the scope of its id (set by the request id layer), so every
/// downstream call made for it carries the id as `X-Request-Id`.
pub async fn in_request_id_scope(request: Request, next: AxumNext) -> Response {
    match request.headers().get(request_id::HEADER).cloned() {
        Some(id) => request_id::scope(id, next.run(request)).await,
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use sha2::{Digest, Sha256};
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::auth::settings::ClientAuthConfig;
    use crate::server::around::testing::{Counting, request};

    const SECRET: &str = "a-secret-token-of-the-tenant";

    async fn auth_layer() -> AuthLayer {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let auth = ClientAuthConfig {
            bearer_sha256: vec![Sha256::digest(SECRET.as_bytes()).into()],
            ..Default::default()
        };
        AuthLayer(Arc::new(Authenticator::new("acme", &auth, store)))
    }

    #[tokio::test]
    async fn auth_refuses_missing_or_wrong_credentials_before_the_service() {
        let layer = auth_layer().await;
        for authorization in [
            None,
            Some("Bearer not-the-secret"),
            Some("Basic Zm9vOmJhcg=="),
        ] {
            let inner = Counting::default();
            let response = inner
                .through(
                    &layer,
                    StatusCode::OK,
                    request("GET", "/Users", authorization),
                )
                .await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{authorization:?}"
            );
            assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
            assert_eq!(inner.calls(), 0, "{authorization:?} reached the service");
        }
    }

    #[tokio::test]
    async fn auth_lets_the_tenants_token_through() {
        let inner = Counting::default();
        let service = auth_layer().await.layer(inner.service(StatusCode::CREATED));
        let bearer = format!("Bearer {SECRET}");
        let response = service
            .oneshot(request("POST", "/Users", Some(&bearer)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(inner.calls(), 1);
    }

    #[tokio::test]
    async fn deadline_answers_504_when_the_service_does_not_answer_in_time() {
        let never = tower::service_fn(|_request: Request| {
            std::future::pending::<Result<Response, std::convert::Infallible>>()
        });
        let service = DeadlineLayer(Duration::from_millis(20)).layer(never);
        let response = service
            .oneshot(request("GET", "/Users", None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    }

    #[tokio::test]
    async fn deadline_passes_a_timely_answer_through() {
        let inner = Counting::default();
        let service =
            DeadlineLayer(Duration::from_secs(30)).layer(inner.service(StatusCode::NO_CONTENT));
        let response = service
            .oneshot(request("DELETE", "/Users/1", None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(inner.calls(), 1);
    }
}
