//! One tenant's services (Users, and Groups unless `[groups] mode = "disabled"`) built from
//! its settings: the one way both serving and a dry run make them. A dry run differs only in
//! what it hands in: a client that records writes, a scratch store and a record cache of its
//! own.

use std::sync::Arc;

use crate::cache::RecordCache;
use crate::downstream::client::DownstreamClient;
use crate::downstream::groups::GroupApi;
use crate::downstream::records::RecordApi;
use crate::scim::catalog::group_schema;
use crate::service::dropped::DroppedAttributes;
use crate::service::groups::GroupsService;
use crate::service::turns::Turns;
use crate::service::users::UsersService;
use crate::settings::{GroupsMode, TenantConfig};
use crate::store::Store;

/// What a tenant's handlers call.
pub struct TenantServices {
    pub users: Arc<UsersService>,
    /// `None` when `[groups] mode = "disabled"`.
    pub groups: Option<GroupsService>,
}

impl TenantServices {
    /// `tenant`'s services over `client`, `store` and `records`.
    pub fn new(
        tenant: &TenantConfig,
        client: DownstreamClient,
        store: Store,
        records: Arc<dyn RecordCache>,
    ) -> Self {
        let users = users(tenant, client, store.clone(), records);
        let groups = groups(tenant, &users, store);
        Self { users, groups }
    }
}

/// `tenant`'s Users service (also all `reconcile` and `rules apply` need).
pub fn users(
    tenant: &TenantConfig,
    client: DownstreamClient,
    store: Store,
    records: Arc<dyn RecordCache>,
) -> Arc<UsersService> {
    Arc::new(UsersService {
        api: RecordApi {
            client,
            endpoints: tenant.users.endpoints.clone(),
        },
        mapping: tenant.users.mapping.clone(),
        records,
        turns: Turns::new(&store, format!("{}/User", tenant.name)),
        store: store.tenant(&tenant.name),
        ids: tenant.users.ids,
        groups: tenant.groups.clone(),
        dropped: DroppedAttributes::new(&tenant.name),
    })
}

/// `tenant`'s Groups service, sharing the Users service's client (one connection pool per
/// downstream).
fn groups(tenant: &TenantConfig, users: &Arc<UsersService>, store: Store) -> Option<GroupsService> {
    if tenant.groups.mode == GroupsMode::Disabled {
        return None;
    }
    Some(GroupsService {
        turns: Turns::new(&store, format!("{}/Group", tenant.name)),
        store: store.tenant(&tenant.name),
        schema: group_schema(),
        users: users.clone(),
        api: tenant
            .groups
            .endpoints
            .clone()
            .map(|endpoints| GroupApi::new(users.api.client.clone(), endpoints)),
    })
}
