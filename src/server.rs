//! The SCIM server: each tenant's routes under its Tenant URL path behind its own metrics,
//! deadline, authentication, limits and audit log; the health, readiness and metrics
//! endpoints at the root; the tower layers around all of them (request id, tracing span); and
//! the listener (TLS, limits, graceful shutdown).

mod audit;
mod health;
mod layers;
mod limits;
mod listener;
mod metrics;
pub mod rescue;
mod routes;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use http::Request;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::Authenticator;
use crate::cache::MemoryRecordCache;
use crate::config::{Config, GroupsMode, TenantConfig};
use crate::downstream::DownstreamError;
use crate::downstream::client::DownstreamClient;
use crate::downstream::groups::GroupApi;
use crate::downstream::records::RecordApi;
use crate::scim::catalog::group_schema;
use crate::scim::schema::ResourceSchema;
use crate::service::ServiceError;
use crate::service::groups::GroupsService;
use crate::service::users::UsersService;
use crate::store::{CachedStore, Store, StoreError};
use crate::telemetry::metrics::MetricsError;
use crate::telemetry::request_id;
use health::Readiness;
use limits::TenantLimiter;
pub use listener::{ServeError, serve};

/// What every handler shares.
pub struct AppState {
    pub tenant: String,
    pub users: Arc<UsersService>,
    /// `None` when `[groups] mode = "disabled"`.
    pub groups: Option<GroupsService>,
    /// The User schemas `/Schemas` advertises: only what the mapping maps.
    pub advertised: ResourceSchema,
    pub base_path: String,
    pub scheme: &'static str,
    pub max_body_bytes: usize,
}

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Downstream(#[from] DownstreamError),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot settle interrupted writes: {0}")]
    Recover(#[from] ServiceError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// Opens the store a config names, with the lookup cache in front.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    let store = crate::store::open(&config.store_url).await?;
    Ok(Arc::new(CachedStore::new(
        store,
        100_000,
        Duration::from_secs(60),
    )))
}

/// The Users service of one tenant's downstream (also used by `reconcile`).
pub fn users_service(
    tenant: &TenantConfig,
    store: Arc<dyn Store>,
) -> Result<Arc<UsersService>, StartError> {
    Ok(Arc::new(UsersService {
        api: RecordApi {
            client: DownstreamClient::new(&tenant.name, tenant.downstream.clone())?,
            endpoints: tenant.users.endpoints.clone(),
        },
        mapping: tenant.users.mapping.clone(),
        records: Arc::new(MemoryRecordCache::new(100_000, Duration::from_secs(30))),
        store,
        tenant: tenant.name.clone(),
        ids: tenant.users.ids,
        groups: tenant.groups.clone(),
    }))
}

/// Builds the whole HTTP application from a checked config and an open store: every tenant's
/// SCIM endpoints under its own path, each settling any write a crash interrupted first, and
/// `/healthz`, `/readyz` and (unless `server.metrics = false`) `/metrics` at the root, without
/// authentication.
pub async fn app(config: &Config, store: Arc<dyn Store>) -> Result<Router, StartError> {
    let mut router = Router::new();
    let mut downstreams = Vec::new();
    for tenant in &config.tenants {
        let users = users_service(tenant, store.clone())?;
        downstreams.push((tenant.name.clone(), users.api.client.clone()));
        let scim = tenant_router(config, tenant, users, store.clone()).await?;
        router = router.nest(&tenant.base_path, scim);
    }
    let readiness = Arc::new(Readiness::new(store, downstreams));
    router = router
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz).with_state(readiness));
    if config.server.metrics {
        let exporter = crate::telemetry::metrics::exporter()?;
        router = router.route("/metrics", get(metrics::render).with_state(exporter));
    }
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        let request_id = request
            .headers()
            .get(request_id::HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!("request", request_id, method = %request.method(), path = %request.uri().path())
    });
    Ok(router.fallback(routes::not_found).layer(
        ServiceBuilder::new()
            .map_request(request_id::drop_unfit::<axum::body::Body>)
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(trace)
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(axum::middleware::from_fn(layers::in_request_id_scope)),
    ))
}

/// One tenant's SCIM endpoints behind (outermost first) its metrics, the request deadline,
/// its authentication, limits and audit log.
async fn tenant_router(
    config: &Config,
    tenant: &TenantConfig,
    users: Arc<UsersService>,
    store: Arc<dyn Store>,
) -> Result<Router, StartError> {
    // Writes older than the request deadline cannot be in flight any more: settle them now
    // and every deadline from now on.
    let deadline = config.server.request_timeout;
    users.recover(deadline).await?;
    let settler = Arc::downgrade(&users);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(deadline.max(Duration::from_secs(1))).await;
            // Ends with the application that owns the service.
            let Some(users) = settler.upgrade() else {
                return;
            };
            if let Err(e) = users.recover(deadline).await {
                tracing::warn!(error = %e, "could not settle interrupted writes; will retry");
            }
        }
    });
    let groups = match (tenant.groups.mode, &tenant.groups.endpoints) {
        (GroupsMode::Disabled, _) => None,
        (_, endpoints) => Some(GroupsService {
            store: store.clone(),
            tenant: tenant.name.clone(),
            schema: group_schema(),
            users: users.clone(),
            // One connection pool per downstream: the users' client serves groups too.
            api: endpoints.clone().map(|endpoints| GroupApi {
                client: users.api.client.clone(),
                endpoints,
            }),
        }),
    };
    let state = Arc::new(AppState {
        tenant: tenant.name.clone(),
        advertised: {
            let managed: Vec<_> = [&tenant.groups.role_target, &tenant.groups.licence_target]
                .into_iter()
                .flatten()
                .filter(|_| tenant.groups.rules.is_active())
                .collect();
            users.mapping.advertised_schema(&managed)
        },
        users,
        groups,
        base_path: tenant.base_path.clone(),
        scheme: config.server.scheme(),
        max_body_bytes: config.server.max_body_bytes,
    });
    let authenticator = Arc::new(Authenticator::new(tenant, store));
    let limiter = Arc::new(TenantLimiter::new(&tenant.limits));
    Ok(Router::new()
        .route(
            "/ServiceProviderConfig",
            get(routes::service_provider_config),
        )
        .route("/ResourceTypes", get(routes::resource_types))
        .route("/ResourceTypes/{id}", get(routes::resource_type))
        .route("/Schemas", get(routes::schemas))
        .route("/Schemas/{id}", get(routes::schema))
        .route("/.search", post(routes::search_root))
        .route("/Users/.search", post(routes::search_users))
        .route("/Groups/.search", post(routes::search_groups))
        .route("/Users", get(routes::list_users).post(routes::create_user))
        .route(
            "/Users/{id}",
            get(routes::get_user)
                .put(routes::replace_user)
                .patch(routes::patch_user)
                .delete(routes::delete_user),
        )
        .route(
            "/Groups",
            get(routes::list_groups).post(routes::create_group),
        )
        .route(
            "/Groups/{id}",
            get(routes::get_group)
                .put(routes::replace_group)
                .patch(routes::patch_group)
                .delete(routes::delete_group),
        )
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(tenant.name.clone()),
            audit::record_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limiter,
            limits::enforce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            authenticator,
            layers::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            config.server.request_timeout,
            layers::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(metrics::Meter {
                tenant: tenant.name.clone(),
                base_path: tenant.base_path.clone(),
            }),
            metrics::measure,
        )))
}
