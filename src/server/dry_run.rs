//! Dry runs of SCIM requests: `scim-gateway explain`, and `?dry_run=true` on a write when
//! `[server] allow_dry_run = true`. The request goes through the tenant's own handlers and
//! services, so the translation shown is exactly the one `serve` makes, but with a downstream
//! client that sends only reads and records every other call, and a scratch store that keeps
//! the request's writes to itself (see [`ScratchStore`]).

mod asked;

use std::sync::Arc;
use std::time::Duration;

use super::around::{Around, Next, around_layer};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::audit::write_operation;
use super::rescue::scim_response;
use super::routes::query_pairs;
use super::services::TenantServices;
use super::{AppState, scim_routes};
use crate::cache::MemoryRecordCache;
use crate::downstream::client::DownstreamClient;
use crate::downstream::dry_run::PlannedCall;
use crate::scim::error::{ScimError, ScimType};
use crate::service::ServiceError;
use crate::store::{ScratchStore, Store, StoreError};

pub use asked::{AskError, Asked, Explained, explain_asked};

/// The largest answer read back from the handlers.
const ANSWER_LIMIT: usize = 16 * 1024 * 1024;

/// What a SCIM request would do.
#[derive(Debug)]
pub struct Explanation {
    /// The status the client would get.
    pub status: StatusCode,
    /// The SCIM error body the client would get, when the request would fail.
    pub error: Option<Value>,
    /// The downstream calls in order: reads were sent, writes only recorded.
    pub calls: Vec<PlannedCall>,
}

impl Explanation {
    /// The body of a `?dry_run=true` answer (and of `explain --json`).
    pub fn to_json(&self) -> Value {
        let mut doc = json!({
            "dryRun": true,
            "status": self.status.as_u16(),
            "calls": self.calls,
        });
        if let Some(error) = &self.error {
            doc["error"] = error.clone();
        }
        doc
    }
}

/// Runs `request` (its path relative to the Tenant URL) as `state`'s tenant would, without
/// sending a write downstream or changing the store. Fails only when the scratch store
/// cannot be made; everything else is in the explanation.
pub async fn explain(state: &AppState, request: Request) -> Result<Explanation, StoreError> {
    let envelope = state.users.api.endpoints.envelope.as_ref();
    let sensitive = state
        .users
        .mapping
        .sensitive_fields()
        .map(|field| field.within(envelope))
        .collect();
    let (client, log) = state.users.api.client.dry_run(sensitive);
    let store = ScratchStore::overlay(state.users.store.store().clone()).await?;
    let dry = Arc::new(dry_state(state, client, store.clone()));
    let Ok(response) = scim_routes()
        .with_state(dry)
        .oneshot(unrouted(request))
        .await;
    store.close().await;
    let status = response.status();
    let error = if status.is_client_error() || status.is_server_error() {
        let bytes = axum::body::to_bytes(response.into_body(), ANSWER_LIMIT)
            .await
            .unwrap_or_default();
        Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            json!({"status": status.as_u16().to_string(), "detail": String::from_utf8_lossy(&bytes)})
        }))
    } else {
        None
    };
    Ok(Explanation {
        status,
        error,
        calls: log.calls(),
    })
}

/// The request without what routing it so far added (its path parameters among them),
/// which would confuse the router it is sent to next. The client's address stays: it says
/// whether forwarded headers are believed for `meta.location`.
fn unrouted(request: Request) -> Request {
    let (parts, body) = request.into_parts();
    let mut fresh = Request::new(body);
    *fresh.method_mut() = parts.method;
    *fresh.uri_mut() = parts.uri;
    *fresh.version_mut() = parts.version;
    *fresh.headers_mut() = parts.headers;
    if let Some(peer) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        fresh.extensions_mut().insert(*peer);
    }
    fresh
}

/// `state` with its services bound to the dry-run client and the scratch store.
fn dry_state(state: &AppState, client: DownstreamClient, store: Store) -> AppState {
    // Its own: what a dry run "wrote" must never answer a real read.
    let records = Arc::new(MemoryRecordCache::new(
        1 << 20,
        Duration::from_secs(60),
        true,
    ));
    let TenantServices { users, groups } =
        TenantServices::new(&state.settings, client, store, records);
    AppState {
        tenant: state.tenant.clone(),
        settings: state.settings.clone(),
        users,
        groups,
        advertised: state.advertised.clone(),
        base_path: state.base_path.clone(),
        origin: state.origin.clone(),
        max_body_bytes: state.max_body_bytes,
        allow_dry_run: state.allow_dry_run,
        settler: None,
    }
}

around_layer! {
    /// Answers a write that asks for `?dry_run=true` with what it would do (200 and
    /// `{"dryRun": true, "status": ..., "calls": [...]}`) instead of doing it; 403 where
    /// `[server] allow_dry_run` is off, since a client that asked for a dry run must not get a
    /// real write.
    pub struct DryRunLayer(pub Arc<AppState>);
}

impl Around for DryRunLayer {
    async fn around(&self, request: Request, next: Next) -> Response {
        let state = &self.0;
        if write_operation(&request).is_none() {
            return next.run(request).await;
        }
        match wants_dry_run(request.uri().query()) {
            Ok(false) => next.run(request).await,
            Err(e) => e.into_response(),
            Ok(true) if !state.allow_dry_run => ScimError::new(
                403,
                None,
                "dry_run is not enabled on this gateway: set [server] allow_dry_run = true",
            )
            .into_response(),
            Ok(true) => match explain(state, request).await {
                Ok(explanation) => {
                    tracing::info!(
                        tenant = %state.tenant,
                        calls = explanation.calls.len(),
                        status = explanation.status.as_u16(),
                        "dry run"
                    );
                    scim_response(StatusCode::OK, &explanation.to_json())
                }
                Err(e) => ScimError::from(ServiceError::Store(e)).into_response(),
            },
        }
    }
}

/// The `dry_run` query parameter: `true` or `false` (any case); absent is false.
fn wants_dry_run(query: Option<&str>) -> Result<bool, ScimError> {
    let value = query_pairs(query)
        .into_iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("dry_run"))
        .map(|(_, v)| v);
    match value.as_deref() {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("dry_run={v:?}: write dry_run=true or dry_run=false"),
        )),
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::server::around::testing::{Counting, request};
    use crate::settings::Config;

    /// The layer over the bundled example's tenant, with `[server] allow_dry_run` as given.
    async fn layer(allow_dry_run: bool) -> DryRunLayer {
        crate::crypto::install_provider();
        let env = |name: &str| match name {
            "LEGACY_URL" => Some("http://127.0.0.1:9".to_owned()),
            _ => Some("0123456789abcdef0123".to_owned()),
        };
        let mut config =
            Config::parse("gateway.toml", crate::cli::demo::EXAMPLE_CONFIG, &env).unwrap();
        config.server.allow_dry_run = allow_dry_run;
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let state = super::super::tenant_state(&config, &config.tenants[0], store).unwrap();
        DryRunLayer(Arc::new(state))
    }

    #[tokio::test]
    async fn a_dry_run_where_none_is_allowed_is_403_and_writes_nothing() {
        let inner = Counting::default();
        let answer = inner
            .through(
                &layer(false).await,
                StatusCode::CREATED,
                request("POST", "/Users?dry_run=true", None),
            )
            .await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        assert_eq!(inner.calls(), 0);
    }

    #[tokio::test]
    async fn a_malformed_dry_run_is_400_and_other_requests_pass_through() {
        let layer = layer(true).await;
        let inner = Counting::default();
        let answer = inner
            .through(
                &layer,
                StatusCode::CREATED,
                request("PATCH", "/Users/1?dry_run=yes", None),
            )
            .await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert_eq!(inner.calls(), 0);
        for (method, uri) in [
            ("POST", "/Users"),
            ("GET", "/Users?dry_run=true"),
            ("DELETE", "/Users/1?dry_run=false"),
        ] {
            let answer = inner
                .through(&layer, StatusCode::CREATED, request(method, uri, None))
                .await;
            assert_eq!(answer.status(), StatusCode::CREATED, "{method} {uri}");
        }
        assert_eq!(inner.calls(), 3);
    }

    #[test]
    fn dry_run_parameter() {
        assert_eq!(wants_dry_run(None).ok(), Some(false));
        assert_eq!(wants_dry_run(Some("a=1")).ok(), Some(false));
        assert_eq!(wants_dry_run(Some("dry_run=true")).ok(), Some(true));
        assert_eq!(wants_dry_run(Some("DRY_RUN=True&x=1")).ok(), Some(true));
        assert_eq!(wants_dry_run(Some("dry_run=false")).ok(), Some(false));
        assert!(wants_dry_run(Some("dry_run=yes")).is_err());
    }
}
