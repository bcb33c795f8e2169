//! A bounded in-memory cache (moka) in front of the lookups every SCIM request starts with: by
//! SCIM id, by lookup key (userName / displayName), and by downstream id (each record a
//! filter the API answers lists). It wraps any [`ResourceStore`] and is one itself, so the
//! service does not know it is there; of the other parts of a [`Store`](super::Store), only
//! the members are cached ([`CachedMemberships`], told of each delete by this one), and the
//! journal, tokens and leases are not wrapped.
//!
//! An id the store has no row for is cached as such too (a user made outside the gateway,
//! addressed by its downstream id, has none). Every write through the wrapper invalidates
//! what it touched, and a read that raced a write to the same resource, lookup key or
//! downstream id is not cached (write epochs, striped by each, checked and bumped under one
//! lock), so a reader never sees data older than its own instance's last write, while reads
//! of other resources keep filling the cache under a steady stream of writes (Entra's
//! parallel PATCHes). Clones share the cache. The cache is used only for a store no other
//! instance writes (SQLite); version checks ([`ResourceStore::update_resource`]) always go to the
//! database, so a stale read can cost a 412, never a lost update.
//!
//! The key and downstream-id caches hold ids, not resources: a hit resolves each id through
//! the id cache and keeps only resources whose key (downstream id) still matches, so a rename
//! needs no knowledge of the old key to invalidate.
//!
//! Lookups count in `cache_requests_total{cache="store_by_id"}`, `{cache="store_by_key"}` and
//! `{cache="store_by_downstream_id"}`.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::api::{BoxFuture, ResourceStore, store_fns};
use super::cached_members::CachedMemberships;
use super::error::StoreError;
use super::resource::{Resource, ResourceData, ResourceType, normalize_key};
use crate::cache::weight;
use crate::telemetry::metrics;
use moka::sync::Cache;

/// (tenant, type, SCIM id or lowercased lookup key).
type Key = (String, ResourceType, String);

/// A caching [`ResourceStore`] wrapper.
#[derive(Clone)]
pub struct CachedResources {
    inner: Arc<dyn ResourceStore>,
    /// A row, or `None` for an id the store has no row for (a user the gateway did not
    /// create, addressed by its downstream id): each is asked for on every request.
    by_id: Cache<Key, Option<Resource>>,
    by_key: Cache<Key, Arc<Vec<String>>>,
    /// The SCIM id of the row holding a downstream id, or `None` for none: a filter the API
    /// answers asks this for every record it lists.
    by_downstream_id: Cache<Key, Option<String>>,
    /// Bumped by every write in the stripes of the SCIM id and lookup key it touches; a read
    /// caches its result only if no write touched its stripes meanwhile.
    epochs: Arc<Mutex<Epochs>>,
    /// The membership cache beside this one: deleting a resource deletes its memberships.
    members: Option<CachedMemberships>,
}

/// How many write epochs the ids and keys are spread over: two writes in one stripe only
/// cost a cache fill, never correctness.
const STRIPES: usize = 64;
type Epochs = [u64; STRIPES];

/// The stripe of a downstream id (apart from SCIM ids that read the same).
fn downstream_stripe(tenant: &str, resource_type: ResourceType, downstream_id: &str) -> usize {
    stripe(
        tenant,
        resource_type,
        &format!("downstream {downstream_id}"),
    )
}

/// The stripe of a SCIM id or a normalized lookup key.
fn stripe(tenant: &str, resource_type: ResourceType, text: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    (tenant, resource_type, text).hash(&mut hasher);
    // The remainder is below STRIPES, so it fits a usize.
    (hasher.finish() % STRIPES as u64) as usize
}

impl CachedResources {
    /// Caches resources, lookup keys and downstream ids of at most `max_bytes` together (three
    /// quarters for the rows), each for at most `ttl`.
    pub fn new(inner: Arc<dyn ResourceStore>, max_bytes: u64, ttl: Duration) -> Self {
        CachedResources {
            inner,
            by_id: Cache::builder()
                .max_capacity(max_bytes / 4 * 3)
                .weigher(|(tenant, _, id): &Key, row: &Option<Resource>| {
                    let columns = row.iter().flat_map(|r| {
                        [&r.downstream_id, &r.external_id, &r.lookup_key]
                            .into_iter()
                            .flatten()
                    });
                    let texts = [tenant, id].into_iter().chain(columns);
                    let attributes = row.as_ref().map(|r| &r.attributes);
                    weight(attributes, texts.map(String::as_str))
                })
                .time_to_live(ttl)
                .build(),
            by_key: Cache::builder()
                .max_capacity(max_bytes / 8)
                .weigher(|(tenant, _, key): &Key, ids: &Arc<Vec<String>>| {
                    let texts = [tenant, key].into_iter().chain(ids.iter());
                    weight(None, texts.map(String::as_str))
                })
                .time_to_live(ttl)
                .build(),
            by_downstream_id: Cache::builder()
                .max_capacity(max_bytes / 8)
                .weigher(|(tenant, _, downstream_id): &Key, id: &Option<String>| {
                    let texts = [tenant, downstream_id].into_iter().chain(id);
                    weight(None, texts.map(String::as_str))
                })
                .time_to_live(ttl)
                .build(),
            epochs: Arc::new(Mutex::new([0; STRIPES])),
            members: None,
        }
    }

    /// The same cache, telling `members` which resources it deletes (their memberships go
    /// with them).
    pub fn telling_on_delete(mut self, members: CachedMemberships) -> Self {
        self.members = Some(members);
        self
    }

    /// Drops every cached entry.
    pub fn clear(&self) {
        let mut epochs = self.lock_epochs();
        for epoch in epochs.iter_mut() {
            *epoch = epoch.wrapping_add(1);
        }
        self.by_id.invalidate_all();
        self.by_key.invalidate_all();
        self.by_downstream_id.invalidate_all();
    }

    fn lock_epochs(&self) -> std::sync::MutexGuard<'_, Epochs> {
        self.epochs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn snapshot(&self) -> Epochs {
        *self.lock_epochs()
    }

    /// Runs `fill` (cache inserts) only if no write touched any of `stripes` since `seen`
    /// was taken.
    fn fill_if_untouched(
        &self,
        seen: &Epochs,
        mut stripes: impl Iterator<Item = usize>,
        fill: impl FnOnce(),
    ) {
        let now = self.lock_epochs();
        if stripes.all(|s| now[s] == seen[s]) {
            fill();
        }
    }

    /// Forgets a resource after a write to it, or keeps the row the write returned in its
    /// place (unless a later write of it cached a newer one meanwhile), and forgets the ids
    /// cached for the lookup key and the downstream id it was written with (`data`) unless
    /// they name it.
    fn invalidate(
        &self,
        tenant: &str,
        resource_type: ResourceType,
        scim_id: &str,
        data: Option<&ResourceData>,
        written: Option<&Resource>,
    ) {
        // Every change to the caches is made under this lock, so the check and the
        // insert below see no other write in between.
        let mut epochs = self.lock_epochs();
        let by_id = stripe(tenant, resource_type, scim_id);
        epochs[by_id] = epochs[by_id].wrapping_add(1);
        let id_key = (tenant.to_owned(), resource_type, scim_id.to_owned());
        match written {
            Some(row) => {
                let newer = self
                    .by_id
                    .get(&id_key)
                    .flatten()
                    .is_some_and(|cached| cached.version > row.version);
                if !newer {
                    self.by_id.insert(id_key, Some(row.clone()));
                }
            }
            None => self.by_id.invalidate(&id_key),
        }
        if let Some(downstream_id) = data.and_then(|d| d.downstream_id.as_deref()) {
            let by_downstream_id = downstream_stripe(tenant, resource_type, downstream_id);
            epochs[by_downstream_id] = epochs[by_downstream_id].wrapping_add(1);
            // A row that already held the downstream id still does (a hit re-checks it
            // through `by_id`); only a resource taking the id makes the cached answer stale.
            let cache_key = (tenant.to_owned(), resource_type, downstream_id.to_owned());
            let held = self
                .by_downstream_id
                .get(&cache_key)
                .is_some_and(|id| id.as_deref() == Some(scim_id));
            if !held {
                self.by_downstream_id.invalidate(&cache_key);
            }
        }
        if let Some(key) = data.and_then(|d| d.lookup_key.as_deref()) {
            let key = normalize_key(key);
            let by_key = stripe(tenant, resource_type, &key);
            epochs[by_key] = epochs[by_key].wrapping_add(1);
            // The ids cached for a key must include every resource that has it; one already
            // listed still is (its row is re-read through `by_id`), so only a resource that
            // takes the key (a create, a rename) makes the list stale.
            let cache_key = (tenant.to_owned(), resource_type, key);
            let listed = self
                .by_key
                .get(&cache_key)
                .is_some_and(|ids| ids.iter().any(|id| id == scim_id));
            if !listed {
                self.by_key.invalidate(&cache_key);
            }
        }
    }

    /// Awaits a write that changes no key (a touch, a delete), then forgets the resource
    /// (also when it failed: a version mismatch says the cached copy is stale).
    async fn written<T>(
        &self,
        tenant: &str,
        resource_type: ResourceType,
        scim_id: &str,
        write: BoxFuture<'_, Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = write.await;
        self.invalidate(tenant, resource_type, scim_id, None, None);
        result
    }

    /// Awaits a write that returns the row it wrote, and caches that row: the next request
    /// for the resource (Entra's PATCHes of one user come in a row) needs no read.
    async fn written_row(
        &self,
        tenant: &str,
        resource_type: ResourceType,
        scim_id: &str,
        data: &ResourceData,
        write: BoxFuture<'_, Result<Resource, StoreError>>,
    ) -> Result<Resource, StoreError> {
        let result = write.await;
        let row = result.as_ref().ok();
        self.invalidate(tenant, resource_type, scim_id, Some(data), row);
        result
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
            return Ok(hit);
        }
        let seen = self.snapshot();
        let found = self
            .inner
            .resource_by_scim_id(tenant, resource_type, scim_id)
            .await?;
        let stripes = std::iter::once(stripe(tenant, resource_type, scim_id));
        self.fill_if_untouched(&seen, stripes, || self.by_id.insert(key, found.clone()));
        Ok(found)
    }

    async fn by_downstream_id(
        &self,
        tenant: &str,
        resource_type: ResourceType,
        downstream_id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        let key = (tenant.to_owned(), resource_type, downstream_id.to_owned());
        let hit = self.by_downstream_id.get(&key);
        metrics::cache_lookup("store_by_downstream_id", hit.is_some());
        match hit {
            Some(None) => return Ok(None),
            Some(Some(id)) => {
                // The row named still holds the id unless it was given another since.
                if let Some(row) = self.by_id(tenant, resource_type, &id).await?
                    && row.downstream_id.as_deref() == Some(downstream_id)
                {
                    return Ok(Some(row));
                }
            }
            None => {}
        }
        let seen = self.snapshot();
        let found = self
            .inner
            .resource_by_downstream_id(tenant, resource_type, downstream_id)
            .await?;
        let stripes = std::iter::once(downstream_stripe(tenant, resource_type, downstream_id))
            .chain(
                found
                    .iter()
                    .map(|r| stripe(tenant, resource_type, &r.scim_id)),
            );
        self.fill_if_untouched(&seen, stripes, || {
            self.by_downstream_id
                .insert(key, found.as_ref().map(|r| r.scim_id.clone()));
            if let Some(r) = &found {
                let id_key = (tenant.to_owned(), resource_type, r.scim_id.clone());
                self.by_id.insert(id_key, Some(r.clone()));
            }
        });
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
        let seen = self.snapshot();
        let found = self
            .inner
            .resources_by_lookup_key(tenant, resource_type, key)
            .await?;
        // The key's stripe catches a write that gave a resource this key meanwhile; each
        // found id's stripe one that changed a resource found.
        let stripes = std::iter::once(stripe(tenant, resource_type, &normalized)).chain(
            found
                .iter()
                .map(|r| stripe(tenant, resource_type, &r.scim_id)),
        );
        self.fill_if_untouched(&seen, stripes, || {
            let ids = found.iter().map(|r| r.scim_id.clone()).collect();
            self.by_key.insert(cache_key, Arc::new(ids));
            for r in &found {
                self.by_id.insert(
                    (tenant.to_owned(), resource_type, r.scim_id.clone()),
                    Some(r.clone()),
                );
            }
        });
        Ok(found)
    }
}

impl ResourceStore for CachedResources {
    store_fns! {
        fn put_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
            data: &'a ResourceData,
        ) -> Resource {
            let write = self.inner.put_resource(tenant, resource_type, scim_id, data);
            Box::pin(self.written_row(tenant, resource_type, scim_id, data, write))
        }

        fn update_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
            data: &'a ResourceData, expected_version: Option<i64>,
        ) -> Resource {
            // Also on a version mismatch: the cached copy is evidently stale.
            let write =
                self.inner
                    .update_resource(tenant, resource_type, scim_id, data, expected_version);
            Box::pin(self.written_row(tenant, resource_type, scim_id, data, write))
        }

        fn touch_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
            expected_version: Option<i64>,
        ) -> i64 {
            let write = self.inner.touch_resource(tenant, resource_type, scim_id, expected_version);
            Box::pin(self.written(tenant, resource_type, scim_id, write))
        }

        fn resource_by_scim_id(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
        ) -> Option<Resource> {
            Box::pin(self.by_id(tenant, resource_type, scim_id))
        }

        fn resource_by_downstream_id(
            self, tenant: &'a str, resource_type: ResourceType, downstream_id: &'a str,
        ) -> Option<Resource> {
            Box::pin(self.by_downstream_id(tenant, resource_type, downstream_id))
        }

        fn resources_by_lookup_key(
            self, tenant: &'a str, resource_type: ResourceType, key: &'a str,
        ) -> Vec<Resource> {
            Box::pin(self.by_lookup_key(tenant, resource_type, key))
        }

        fn resources_by_external_id(
            self, tenant: &'a str, resource_type: ResourceType, external_id: &'a str,
        ) -> Vec<Resource> {
            self.inner.resources_by_external_id(tenant, resource_type, external_id)
        }

        fn delete_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
        ) -> bool {
            Box::pin(async move {
                let write = self.inner.delete_resource(tenant, resource_type, scim_id);
                let deleted = self.written(tenant, resource_type, scim_id, write).await;
                if let Some(members) = &self.members {
                    members.deleted(tenant, resource_type, scim_id);
                }
                deleted
            })
        }

        fn list_resources(
            self, tenant: &'a str, resource_type: ResourceType, offset: u64, limit: u64,
        ) -> Vec<Resource> {
            self.inner.list_resources(tenant, resource_type, offset, limit)
        }

        fn count_resources(self, tenant: &'a str, resource_type: ResourceType) -> u64 {
            self.inner.count_resources(tenant, resource_type)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    const USER: ResourceType = ResourceType::User;

    /// A store and the cache in front of it, to write behind the cache's back.
    async fn pair() -> (Arc<dyn ResourceStore>, CachedResources) {
        let inner: Arc<dyn ResourceStore> =
            Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
        let cached = CachedResources::new(inner.clone(), 1 << 20, Duration::from_secs(60));
        (inner, cached)
    }

    /// Two SCIM ids in different stripes.
    fn apart() -> (String, String) {
        let first = "u0".to_owned();
        let other = (1..)
            .map(|i| format!("u{i}"))
            .find(|id| stripe("t", USER, id) != stripe("t", USER, &first))
            .unwrap_or_default();
        (first, other)
    }

    #[tokio::test]
    async fn a_read_is_cached_unless_a_write_touched_what_it_read() {
        let (_inner, cached) = pair().await;
        let (read, written) = apart();
        let filled = |seen: &Epochs, id: &str| {
            let mut done = false;
            cached.fill_if_untouched(seen, std::iter::once(stripe("t", USER, id)), || {
                done = true;
            });
            done
        };

        // A write to another resource during the read: the read still fills the cache.
        let seen = cached.snapshot();
        cached.invalidate("t", USER, &written, Some(&named("9", "Other")), None);
        assert!(filled(&seen, &read));
        // A write to the resource read, or to the key looked up: it does not.
        let seen = cached.snapshot();
        cached.invalidate("t", USER, &read, None, None);
        assert!(!filled(&seen, &read));
        let seen = cached.snapshot();
        cached.invalidate("t", USER, &written, Some(&named("9", "Bob")), None);
        assert!(!filled(&seen, &normalize_key("Bob")));
        // Clearing touches everything.
        let seen = cached.snapshot();
        cached.clear();
        assert!(!filled(&seen, &read));
    }

    fn named(downstream_id: &str, key: &str) -> ResourceData {
        ResourceData {
            downstream_id: Some(downstream_id.to_owned()),
            external_id: None,
            lookup_key: Some(key.to_owned()),
            attributes: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn only_a_resource_taking_a_key_drops_the_ids_cached_for_it() {
        let (inner, cached) = pair().await;
        let keyed = |c: &CachedResources| {
            let c = c.clone();
            async move {
                let mut ids: Vec<String> = c
                    .resources_by_lookup_key("t", USER, "bob")
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.scim_id)
                    .collect();
                ids.sort();
                ids
            }
        };
        cached
            .put_resource("t", USER, "u1", &named("1", "Bob"))
            .await
            .unwrap();
        assert_eq!(keyed(&cached).await, ["u1"]);
        // Behind the cache's back, another resource takes the key: not seen yet.
        inner
            .put_resource("t", USER, "u2", &named("2", "bob"))
            .await
            .unwrap();
        // A write to u1 keeping its key leaves the cached ids alone (u2 still unseen)...
        cached
            .update_resource("t", USER, "u1", &named("1b", "Bob"), None)
            .await
            .unwrap();
        assert_eq!(keyed(&cached).await, ["u1"]);
        // ...a resource taking the key through the cache drops them: every holder shows.
        cached
            .put_resource("t", USER, "u3", &named("3", "BOB"))
            .await
            .unwrap();
        assert_eq!(keyed(&cached).await, ["u1", "u2", "u3"]);
    }

    #[tokio::test]
    async fn an_id_without_a_row_is_cached_as_missing_until_a_write_through_the_cache() {
        let (inner, cached) = pair().await;
        let read = || cached.resource_by_scim_id("t", USER, "42");
        assert!(read().await.unwrap().is_none());
        // Behind the cache's back: still missing, so the first answer was cached.
        inner
            .put_resource("t", USER, "42", &named("42", "Ann"))
            .await
            .unwrap();
        assert!(read().await.unwrap().is_none());
        // Written through the cache, the row shows at once.
        cached
            .put_resource("t", USER, "42", &named("42b", "Ann"))
            .await
            .unwrap();
        let row = read().await.unwrap().unwrap();
        assert_eq!(row.downstream_id.as_deref(), Some("42b"));
        // Deleted through it, the id is missing again.
        assert!(cached.delete_resource("t", USER, "42").await.unwrap());
        assert!(read().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_downstream_id_is_answered_from_memory_until_a_write_through_the_cache() {
        let (inner, cached) = pair().await;
        let holder = |c: &CachedResources, downstream_id: &'static str| {
            let c = c.clone();
            async move {
                c.resource_by_downstream_id("t", USER, downstream_id)
                    .await
                    .unwrap()
                    .map(|r| r.scim_id)
            }
        };
        // No row holds "7": cached as such, so a row made behind the cache's back is unseen.
        assert_eq!(holder(&cached, "7").await, None);
        inner
            .put_resource("t", USER, "u0", &named("7", "Zed"))
            .await
            .unwrap();
        assert_eq!(holder(&cached, "7").await, None);
        // Written through the cache, the row holding "7" shows at once.
        cached
            .update_resource("t", USER, "u0", &named("7", "Zed"), None)
            .await
            .unwrap();
        assert_eq!(holder(&cached, "7").await.as_deref(), Some("u0"));
        // It moves to "8": "7" is not answered with it any more, "8" is.
        cached
            .update_resource("t", USER, "u0", &named("8", "Zed"), None)
            .await
            .unwrap();
        assert_eq!(holder(&cached, "7").await, None);
        assert_eq!(holder(&cached, "8").await.as_deref(), Some("u0"));
        // Deleted through the cache, it holds nothing.
        assert!(cached.delete_resource("t", USER, "u0").await.unwrap());
        assert_eq!(holder(&cached, "8").await, None);
    }

    #[tokio::test]
    async fn a_written_row_is_read_back_without_a_read_and_an_older_one_never_replaces_a_newer() {
        let (inner, cached) = pair().await;
        let first = cached
            .put_resource("t", USER, "u1", &named("1", "Bob"))
            .await
            .unwrap();
        // Behind the cache's back the row changes: the cache answers with the row it wrote,
        // so it made no read.
        inner
            .update_resource("t", USER, "u1", &named("1x", "Bob"), None)
            .await
            .unwrap();
        let read = |c: &CachedResources| {
            let c = c.clone();
            async move {
                c.resource_by_scim_id("t", USER, "u1")
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        assert_eq!(read(&cached).await.downstream_id.as_deref(), Some("1"));
        // A write that returns late with an older row than one cached since keeps the newer.
        let newer = cached
            .update_resource("t", USER, "u1", &named("1y", "Bob"), None)
            .await
            .unwrap();
        cached.invalidate("t", USER, "u1", Some(&named("1", "Bob")), Some(&first));
        let shown = read(&cached).await;
        assert_eq!(
            (shown.version, shown.downstream_id.as_deref()),
            (newer.version, Some("1y"))
        );
    }
}
