//! What the rest of the gateway holds: a [`Store`], one part per concern, and a
//! [`TenantStore`], the same bound to one tenant so that services never pass the tenant.
//!
//! The parts are separate trait objects so that a wrapper replaces only what it changes: the
//! caches replace [`Store::resources`] and [`Store::members`] and nothing else, and a dry run's overlay replaces the
//! parts it writes; the parts it leaves alone are shared as they are, not forwarded to.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::api::{
    ActivityLog, Backend, IntentJournal, LeaseStore, MembershipStore, ResourceStore, TokenStore,
};
use super::cached::CachedResources;
use super::cached_members::CachedMemberships;
use super::error::StoreError;
use super::intent::{Intent, IntentId};
use super::resource::{Resource, ResourceData, ResourceType};

/// A store, by concern. Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct Store {
    pub resources: Arc<dyn ResourceStore>,
    pub members: Arc<dyn MembershipStore>,
    pub intents: Arc<dyn IntentJournal>,
    pub tokens: Arc<dyn TokenStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub activity: Arc<dyn ActivityLog>,
    pub backend: Arc<dyn Backend>,
}

impl Store {
    /// Every part served by one backend (SQLite, PostgreSQL).
    pub fn of<B>(backend: B) -> Self
    where
        B: ResourceStore + MembershipStore + IntentJournal + TokenStore + LeaseStore,
        B: ActivityLog + Backend + 'static,
    {
        let backend = Arc::new(backend);
        Store {
            resources: backend.clone(),
            members: backend.clone(),
            intents: backend.clone(),
            tokens: backend.clone(),
            leases: backend.clone(),
            activity: backend.clone(),
            backend,
        }
    }

    /// The same store with the hot lookups cached in memory (rows, lookup keys and a user's
    /// groups, of at most `max_bytes` together, each for at most `ttl`); see
    /// [`CachedResources`] and [`CachedMemberships`].
    pub fn cached(mut self, max_bytes: u64, ttl: Duration) -> Self {
        let members = CachedMemberships::new(self.members, max_bytes / 8, ttl);
        self.members = Arc::new(members.clone());
        let rows = CachedResources::new(self.resources, max_bytes / 8 * 7, ttl);
        self.resources = Arc::new(rows.telling_on_delete(members));
        self
    }

    /// Whether other gateway instances may write the same rows (see [`Backend::shared`]).
    pub fn shared(&self) -> bool {
        self.backend.shared()
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.backend.ping().await
    }

    /// Closes the connections; calls after this fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        self.backend.close().await
    }

    /// This store as one tenant sees it.
    pub fn tenant(&self, tenant: &str) -> TenantStore {
        TenantStore {
            tenant: Arc::from(tenant),
            store: self.clone(),
        }
    }
}

/// One tenant's view of a [`Store`]: every row it reads or writes is that tenant's. What the
/// Users and Groups services of one tenant receive.
#[derive(Clone)]
pub struct TenantStore {
    tenant: Arc<str>,
    store: Store,
}

impl TenantStore {
    /// The tenant whose rows this handle reaches.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The whole store, for what is not one tenant's (a dry run's overlay, leases).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether other gateway instances may write the same rows (see [`Backend::shared`]).
    pub fn shared(&self) -> bool {
        self.store.shared()
    }

    /// Journaled operations of this tenant never completed, oldest first.
    pub async fn pending_intents(&self) -> Result<Vec<Intent>, StoreError> {
        self.store.intents.pending_intents(Some(&self.tenant)).await
    }

    /// Marks a journaled operation finished (see [`IntentJournal::complete_intent`]).
    pub async fn complete_intent(&self, id: IntentId) -> Result<bool, StoreError> {
        self.store.intents.complete_intent(id).await
    }
}

/// Writes the [`TenantStore`] methods that call a part's method of the same name with the
/// tenant first: `part.method(arguments) -> answer;`, documented by the part's trait.
macro_rules! bound {
    ($($part:ident . $method:ident ($($arg:ident: $ty:ty),*) -> $answer:ty;)*) => {
        impl TenantStore {
            $(
                #[doc = concat!(
                    "This tenant's `", stringify!($method), "` (see the `", stringify!($part),
                    "` part)."
                )]
                pub async fn $method(&self, $($arg: $ty),*) -> Result<$answer, StoreError> {
                    self.store.$part.$method(&self.tenant, $($arg),*).await
                }
            )*
        }
    };
}

bound! {
    resources.put_resource(kind: ResourceType, scim_id: &str, data: &ResourceData) -> Resource;
    resources.update_resource(
        kind: ResourceType, scim_id: &str, data: &ResourceData, expected: Option<i64>
    ) -> Resource;
    resources.touch_resource(kind: ResourceType, scim_id: &str, expected: Option<i64>) -> i64;
    resources.resource_by_scim_id(kind: ResourceType, scim_id: &str) -> Option<Resource>;
    resources.resource_by_downstream_id(kind: ResourceType, id: &str) -> Option<Resource>;
    resources.resources_by_lookup_key(kind: ResourceType, key: &str) -> Vec<Resource>;
    resources.resources_by_external_id(kind: ResourceType, id: &str) -> Vec<Resource>;
    resources.delete_resource(kind: ResourceType, scim_id: &str) -> bool;
    resources.list_resources(kind: ResourceType, offset: u64, limit: u64) -> Vec<Resource>;
    resources.count_resources(kind: ResourceType) -> u64;
    members.add_members(group_id: &str, members: &[String]) -> usize;
    members.remove_members(group_id: &str, members: &[String]) -> usize;
    members.replace_members(group_id: &str, members: &[String]) -> usize;
    members.members_page(group_id: &str, after: Option<&str>, limit: u32) -> Vec<String>;
    members.member_count(group_id: &str) -> u64;
    members.groups_of(member_id: &str) -> Vec<String>;
    members.is_member(group_id: &str, member_id: &str) -> bool;
    intents.begin_intent(kind: &str, payload: &Value) -> IntentId;
}
