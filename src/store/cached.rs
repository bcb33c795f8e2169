//! A bounded in-memory cache (moka) in front of the two lookups every SCIM request starts with:
//! by SCIM id and by lookup key (userName / displayName). It wraps any [`Store`] and is one
//! itself, so the service does not know it is there.
//!
//! Every write through the wrapper invalidates what it touched, and a read that raced a write
//! is not cached (a write epoch, checked and bumped under one lock), so a reader never sees
//! data older than its own instance's last write. Clones share the cache. Writes made by
//! other gateway instances (PostgreSQL) show after at most the time-to-live; version checks
//! ([`Store::update_resource`]) always go to the database, so a stale read can cost a 412,
//! never a lost update.
//!
//! The key cache holds ids, not resources: a hit resolves each id through the id cache and
//! keeps only resources whose key still matches, so renaming a resource needs no knowledge of
//! its old key to invalidate.
//!
//! Lookups count in `cache_requests_total{cache="store_by_id"}` and `{cache="store_by_key"}`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;
use serde_json::Value;

use super::api::{BoxFuture, Store};
use super::error::StoreError;
use super::intent::{Intent, IntentId};
use super::resource::{Resource, ResourceData, ResourceType, normalize_key};
use super::token::IssuedToken;
use crate::telemetry::metrics;

/// (tenant, type, SCIM id or lowercased lookup key).
type Key = (String, ResourceType, String);

/// A caching [`Store`] wrapper.
#[derive(Clone)]
pub struct CachedStore {
    inner: Arc<dyn Store>,
    by_id: Cache<Key, Resource>,
    by_key: Cache<Key, Arc<Vec<String>>>,
    /// Bumped by every write; a read caches its result only if no write happened meanwhile.
    epoch: Arc<Mutex<u64>>,
}

impl CachedStore {
    /// Caches up to `capacity` resources and as many lookup keys, each for at most `ttl`.
    pub fn new(inner: Arc<dyn Store>, capacity: u64, ttl: Duration) -> Self {
        CachedStore {
            inner,
            by_id: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            by_key: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            epoch: Arc::new(Mutex::new(0)),
        }
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    /// Drops every cached entry.
    pub fn clear(&self) {
        let mut epoch = self.lock_epoch();
        *epoch = epoch.wrapping_add(1);
        self.by_id.invalidate_all();
        self.by_key.invalidate_all();
    }

    fn lock_epoch(&self) -> std::sync::MutexGuard<'_, u64> {
        self.epoch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn current_epoch(&self) -> u64 {
        *self.lock_epoch()
    }

    /// Runs `fill` (cache inserts) only if no write happened since `epoch` was read.
    fn fill_if_unchanged(&self, epoch: u64, fill: impl FnOnce()) {
        let now = self.lock_epoch();
        if *now == epoch {
            fill();
        }
    }

    /// Forgets a resource (and the lookup key it now has) after a write to it.
    fn invalidate(
        &self,
        tenant: &str,
        resource_type: ResourceType,
        scim_id: &str,
        lookup_key: Option<&str>,
    ) {
        let mut epoch = self.lock_epoch();
        *epoch = epoch.wrapping_add(1);
        self.by_id
            .invalidate(&(tenant.to_owned(), resource_type, scim_id.to_owned()));
        if let Some(key) = lookup_key {
            self.by_key
                .invalidate(&(tenant.to_owned(), resource_type, normalize_key(key)));
        }
    }

    async fn by_id(
        &self,
        tenant: &str,
        resource_type: ResourceType,
        scim_id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        let key = (tenant.to_owned(), resource_type, scim_id.to_owned());
        let hit = self.by_id.get(&key);
        metrics::cache_lookup("store_by_id", hit.is_some());
        if let Some(hit) = hit {
            return Ok(Some(hit));
        }
        let epoch = self.current_epoch();
        let found = self
            .inner
            .resource_by_scim_id(tenant, resource_type, scim_id)
            .await?;
        if let Some(r) = &found {
            self.fill_if_unchanged(epoch, || self.by_id.insert(key, r.clone()));
        }
        Ok(found)
    }

    async fn by_lookup_key(
        &self,
        tenant: &str,
        resource_type: ResourceType,
        key: &str,
    ) -> Result<Vec<Resource>, StoreError> {
        let normalized = normalize_key(key);
        let cache_key = (tenant.to_owned(), resource_type, normalized.clone());
        let hit = self.by_key.get(&cache_key);
        metrics::cache_lookup("store_by_key", hit.is_some());
        if let Some(ids) = hit {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids.iter() {
                if let Some(r) = self.by_id(tenant, resource_type, id).await?
                    && r.lookup_key.as_deref() == Some(normalized.as_str())
                {
                    found.push(r);
                }
            }
            return Ok(found);
        }
        let epoch = self.current_epoch();
        let found = self
            .inner
            .resources_by_lookup_key(tenant, resource_type, key)
            .await?;
        self.fill_if_unchanged(epoch, || {
            let ids = found.iter().map(|r| r.scim_id.clone()).collect();
            self.by_key.insert(cache_key, Arc::new(ids));
            for r in &found {
                self.by_id.insert(
                    (tenant.to_owned(), resource_type, r.scim_id.clone()),
                    r.clone(),
                );
            }
        });
        Ok(found)
    }
}

impl Store for CachedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn put_resource<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        scim_id: &'a str,
        data: &'a ResourceData,
    ) -> BoxFuture<'a, Result<Resource, StoreError>> {
        Box::pin(async move {
            let result = self
                .inner
                .put_resource(tenant, resource_type, scim_id, data)
                .await;
            self.invalidate(tenant, resource_type, scim_id, data.lookup_key.as_deref());
            result
        })
    }

    fn update_resource<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        scim_id: &'a str,
        data: &'a ResourceData,
        expected_version: Option<i64>,
    ) -> BoxFuture<'a, Result<i64, StoreError>> {
        Box::pin(async move {
            let result = self
                .inner
                .update_resource(tenant, resource_type, scim_id, data, expected_version)
                .await;
            // Also on a version mismatch: the cached copy is evidently stale.
            self.invalidate(tenant, resource_type, scim_id, data.lookup_key.as_deref());
            result
        })
    }

    fn touch_resource<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        scim_id: &'a str,
        expected_version: Option<i64>,
    ) -> BoxFuture<'a, Result<i64, StoreError>> {
        Box::pin(async move {
            let result = self
                .inner
                .touch_resource(tenant, resource_type, scim_id, expected_version)
                .await;
            self.invalidate(tenant, resource_type, scim_id, None);
            result
        })
    }

    fn resource_by_scim_id<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        scim_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Resource>, StoreError>> {
        Box::pin(self.by_id(tenant, resource_type, scim_id))
    }

    fn resource_by_downstream_id<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        downstream_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Resource>, StoreError>> {
        self.inner
            .resource_by_downstream_id(tenant, resource_type, downstream_id)
    }

    fn resources_by_lookup_key<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, StoreError>> {
        Box::pin(self.by_lookup_key(tenant, resource_type, key))
    }

    fn resources_by_external_id<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, StoreError>> {
        self.inner
            .resources_by_external_id(tenant, resource_type, external_id)
    }

    fn delete_resource<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        scim_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let result = self
                .inner
                .delete_resource(tenant, resource_type, scim_id)
                .await;
            self.invalidate(tenant, resource_type, scim_id, None);
            result
        })
    }

    fn list_resources<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'a, Result<Vec<Resource>, StoreError>> {
        self.inner
            .list_resources(tenant, resource_type, offset, limit)
    }

    fn count_resources<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.inner.count_resources(tenant, resource_type)
    }

    fn add_members<'a>(
        &'a self,
        tenant: &'a str,
        group_id: &'a str,
        members: &'a [String],
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        self.inner.add_members(tenant, group_id, members)
    }

    fn remove_members<'a>(
        &'a self,
        tenant: &'a str,
        group_id: &'a str,
        members: &'a [String],
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        self.inner.remove_members(tenant, group_id, members)
    }

    fn replace_members<'a>(
        &'a self,
        tenant: &'a str,
        group_id: &'a str,
        members: &'a [String],
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        self.inner.replace_members(tenant, group_id, members)
    }

    fn members_page<'a>(
        &'a self,
        tenant: &'a str,
        group_id: &'a str,
        after: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        self.inner.members_page(tenant, group_id, after, limit)
    }

    fn member_count<'a>(
        &'a self,
        tenant: &'a str,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.inner.member_count(tenant, group_id)
    }

    fn groups_of<'a>(
        &'a self,
        tenant: &'a str,
        member_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        self.inner.groups_of(tenant, member_id)
    }

    fn is_member<'a>(
        &'a self,
        tenant: &'a str,
        group_id: &'a str,
        member_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.is_member(tenant, group_id, member_id)
    }

    fn begin_intent<'a>(
        &'a self,
        tenant: &'a str,
        kind: &'a str,
        payload: &'a Value,
    ) -> BoxFuture<'a, Result<IntentId, StoreError>> {
        self.inner.begin_intent(tenant, kind, payload)
    }

    fn complete_intent(&self, id: IntentId) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.inner.complete_intent(id)
    }

    fn pending_intents<'a>(
        &'a self,
        tenant: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Intent>, StoreError>> {
        self.inner.pending_intents(tenant)
    }

    // Tokens are not cached: a revocation made by `scim-gateway token revoke` in another
    // process must take effect on the next request.
    fn insert_token<'a>(&'a self, token: &'a IssuedToken) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.insert_token(token)
    }

    fn token_by_digest<'a>(
        &'a self,
        tenant: &'a str,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Option<IssuedToken>, StoreError>> {
        self.inner.token_by_digest(tenant, digest)
    }

    fn list_tokens<'a>(
        &'a self,
        tenant: &'a str,
    ) -> BoxFuture<'a, Result<Vec<IssuedToken>, StoreError>> {
        self.inner.list_tokens(tenant)
    }

    fn revoke_token<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.revoke_token(tenant, id, at)
    }

    fn shorten_token<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.shorten_token(tenant, id, expires_at)
    }

    fn touch_token<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.touch_token(tenant, id, at)
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.ping()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.clear();
        self.inner.close()
    }
}
