//! The SCIM server: each tenant's routes under its Tenant URL path behind its own metrics,
//! deadline, authentication, limits and audit log; the health, readiness and metrics
//! endpoints at the root; the tower layers around all of them (request id, tracing span); and
//! the listener (TLS, limits, graceful shutdown).

mod activity;
mod around;
mod audit;
pub mod dry_run;
mod health;
mod layers;
mod limits;
mod listener;
mod live;
mod metrics;
mod origin;
pub mod reload;
pub mod rescue;
mod routes;
mod scim_errors;
mod scim_id;
mod services;
pub mod serving;
mod settler;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use http::Request;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::Authenticator;
use crate::cache::MemoryRecordCache;
use crate::downstream::DownstreamError;
use crate::downstream::client::DownstreamClient;
use crate::scim::schema::ResourceSchema;
use crate::service::ServiceError;
use crate::service::groups::GroupsService;
use crate::service::users::UsersService;
use crate::settings::{Config, TenantConfig};
use crate::store::{Store, StoreError};
use crate::telemetry::metrics::{MetricsError, ScimMeters};
use crate::telemetry::request_id;
use health::Readiness;
use limits::TenantLimiter;
pub use listener::{ServeError, serve};
pub use live::LiveApp;
use origin::Origin;
use routes::{ResourceTypes, Schemas};
use services::TenantServices;
use settler::Settler;

/// What every handler shares.
pub struct AppState {
    pub tenant: String,
    /// The settings the services were built from (a dry run builds its own from them).
    pub settings: Arc<TenantConfig>,
    pub users: Arc<UsersService>,
    /// `None` when `[groups] mode = "disabled"`.
    pub groups: Option<GroupsService>,
    /// The User schemas `/Schemas` advertises: only what the mapping maps.
    pub advertised: ResourceSchema,
    pub base_path: String,
    /// How the gateway's own URL is told for `meta.location` (`[server] public_url`, trusted
    /// proxies).
    pub origin: Arc<Origin>,
    pub max_body_bytes: usize,
    /// Whether writes may ask for `?dry_run=true` (`[server] allow_dry_run`).
    pub allow_dry_run: bool,
    /// Settles the tenant's interrupted writes for as long as the app lives; none for an
    /// app that serves no traffic (a dry run, `explain`).
    settler: Option<Settler>,
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
pub async fn open_store(config: &Config) -> Result<Store, StoreError> {
    let store = crate::store::open(&config.store_url).await?;
    if store.shared() {
        // Other instances write the same rows: every request reads them from the database.
        return Ok(store);
    }
    Ok(store.cached(config.cache.store_bytes(), config.cache.store_ttl))
}

/// The Users service of one tenant's downstream (also used by `reconcile`). Its calls keep
/// one pace with the other instances when `config`'s store is PostgreSQL.
pub fn users_service(
    config: &Config,
    tenant: &TenantConfig,
    store: Store,
) -> Result<Arc<UsersService>, StartError> {
    let client = client(config, tenant)?;
    let records = record_cache(config, &store);
    Ok(services::users(tenant, client, store, records))
}

/// `tenant`'s downstream client; its calls keep one pace with the other instances when
/// `config`'s store is PostgreSQL.
fn client(config: &Config, tenant: &TenantConfig) -> Result<DownstreamClient, StartError> {
    let pace = crate::store::pace::open(&config.store_url, config.redis_url.as_deref())?;
    Ok(DownstreamClient::new(
        &tenant.name,
        tenant.downstream.clone(),
        pace,
    )?)
}

/// The record cache of a serving tenant: its share of the half of `[cache] memory_mb` that
/// holds records. A shared store's rows change under it, so it is then filled only on what
/// the store confirms.
fn record_cache(config: &Config, store: &Store) -> Arc<MemoryRecordCache> {
    Arc::new(MemoryRecordCache::new(
        config.cache.records_bytes(config.tenants.len()),
        config.cache.records_ttl,
        !store.shared(),
    ))
}

/// Builds the whole HTTP application from a checked config and an open store: every tenant's
/// SCIM endpoints under its own path, each settling any write a crash interrupted first, and
/// `/healthz`, `/readyz` and (unless `server.metrics = false`) `/metrics` at the root, without
/// authentication.
pub async fn app(config: &Config, store: Store) -> Result<Router, StartError> {
    Ok(app_with_tenants(config, store).await?.0)
}

/// [`app`], with the state of each tenant it serves: a reload applies changed group rules
/// through their Users services (so that those writes take turns with the app's requests),
/// and the console shows their downstream's protection and runs its playground on them.
pub async fn app_with_tenants(
    config: &Config,
    store: Store,
) -> Result<(Router, Vec<Arc<AppState>>), StartError> {
    let mut router = Router::new();
    let mut downstreams = Vec::new();
    let mut tenants = Vec::new();
    let recorder = activity::Recorder::spawn(store.activity.clone(), config.admin.retention);
    // Installed before the tenants are built: recovery may call the downstream meanwhile.
    let exporter = if config.server.metrics {
        Some(crate::telemetry::metrics::exporter()?)
    } else {
        None
    };
    for tenant in &config.tenants {
        let (scim, state) = tenant_router(config, tenant, store.clone(), &recorder).await?;
        downstreams.push((tenant.name.clone(), state.users.api.client.clone()));
        tenants.push(state);
        router = router.nest(&tenant.base_path, scim);
    }
    let readiness = Arc::new(Readiness::new(store, downstreams));
    router = router
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz).with_state(readiness));
    if let Some(exporter) = exporter {
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
    let router = router.fallback(routes::not_found).layer(
        ServiceBuilder::new()
            .map_request(request_id::drop_unfit::<axum::body::Body>)
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(trace)
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(axum::middleware::from_fn(layers::in_request_id_scope))
            .layer(axum::middleware::from_fn(scim_errors::scim_error_bodies)),
    );
    Ok((router, tenants))
}

/// One tenant's SCIM endpoints behind (outermost first) its metrics, audit log and activity
/// record, the request deadline, its authentication, limits and dry runs, with the writes a crash interrupted
/// settled first and then every request deadline. Returns the tenant's state too.
async fn tenant_router(
    config: &Config,
    tenant: &TenantConfig,
    store: Store,
    recorder: &activity::Recorder,
) -> Result<(Router, Arc<AppState>), StartError> {
    let mut state = tenant_state(config, tenant, store.clone())?;
    // Writes older than the request deadline cannot be in flight any more: settle them now
    // and every deadline from now on.
    let deadline = config.server.request_timeout;
    state.users.recover(deadline).await?;
    state.settler = Some(Settler::spawn(&state.users, deadline));
    let state = Arc::new(state);
    let authenticator = Arc::new(Authenticator::new(&tenant.name, &tenant.auth, store));
    let limiter = Arc::new(TenantLimiter::new(&tenant.limits));
    let router = scim_routes().with_state(state.clone()).layer(
        ServiceBuilder::new()
            .layer(metrics::MeterLayer(Arc::new(metrics::Meter {
                meters: ScimMeters::new(&tenant.name),
                base_path: tenant.base_path.clone(),
            })))
            .layer(audit::AuditLayer(Arc::new(audit::Audit {
                tenant: tenant.name.as_str().into(),
                recorder: recorder.clone(),
            })))
            .layer(layers::DeadlineLayer(config.server.request_timeout))
            .layer(layers::AuthLayer(authenticator))
            .layer(limits::LimitLayer(limiter))
            .layer(dry_run::DryRunLayer(state.clone())),
    );
    Ok((router, state))
}

/// What one tenant's handlers run on: its services over `store` and the settings they read.
/// Nothing is called yet (no settling, no task): `explain` builds one to run a single
/// request.
pub fn tenant_state(
    config: &Config,
    tenant: &TenantConfig,
    store: Store,
) -> Result<AppState, StartError> {
    let client = client(config, tenant)?;
    let records = record_cache(config, &store);
    let TenantServices { users, groups } = TenantServices::new(tenant, client, store, records);
    Ok(AppState {
        tenant: tenant.name.clone(),
        settings: Arc::new(tenant.clone()),
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
        origin: Arc::new(Origin::new(&config.server)),
        max_body_bytes: config.server.max_body_bytes,
        allow_dry_run: config.server.allow_dry_run,
        settler: None,
    })
}

/// The SCIM endpoints under a Tenant URL, without the layers around them.
fn scim_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/ServiceProviderConfig",
            get(routes::service_provider_config),
        )
        .route("/ResourceTypes", get(routes::documents::<ResourceTypes>))
        .route(
            "/ResourceTypes/{id}",
            get(routes::document::<ResourceTypes>),
        )
        .route("/Schemas", get(routes::documents::<Schemas>))
        .route("/Schemas/{id}", get(routes::document::<Schemas>))
        .route("/.search", post(routes::search_root))
        .merge(resource_routes::<UsersService>("/Users"))
        .merge(resource_routes::<GroupsService>("/Groups"))
        .method_not_allowed_fallback(routes::method_not_allowed)
}

/// The endpoints of one resource type at `path` (`/Users`, `/Groups`): list and create, search,
/// and the four operations on one resource.
fn resource_routes<K: routes::ResourceKind>(path: &str) -> Router<Arc<AppState>> {
    Router::new()
        .route(&format!("{path}/.search"), post(routes::search::<K>))
        .route(path, get(routes::list::<K>).post(routes::create::<K>))
        .route(
            &format!("{path}/{{id}}"),
            get(routes::get::<K>)
                .put(routes::replace::<K>)
                .patch(routes::patch::<K>)
                .delete(routes::delete::<K>),
        )
}
