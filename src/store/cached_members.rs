//! A bounded in-memory cache (moka) of the one membership lookup on the hot path: the groups
//! of a user, which every user write asks for when group rules give roles or licences. It wraps
//! any [`MembershipStore`] and is one itself, like [`CachedResources`](super::CachedResources)
//! for rows, and is used only where that one is (a store no other instance writes).
//!
//! Each write forgets what it changed: adding or removing members forgets those members' lists;
//! replacing a group's whole list, or deleting a group (through the row cache, which tells this
//! one), forgets every list of the tenant, since the old members are not known without a read.
//! A lookup that raced any membership write is not cached (one write generation, checked and
//! bumped under one lock), so a user's groups are never older than this instance's last write.
//!
//! Lookups count in `cache_requests_total{cache="store_groups_of"}`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use moka::sync::Cache;

use super::api::{BoxFuture, MembershipStore, store_fns};
use super::error::StoreError;
use super::resource::ResourceType;
use crate::cache::weight;
use crate::telemetry::metrics;

/// (tenant, member id).
type Key = (String, String);

/// A caching [`MembershipStore`] wrapper. Clones share the cache.
#[derive(Clone)]
pub struct CachedMemberships {
    inner: Arc<dyn MembershipStore>,
    groups_of: Cache<Key, Arc<Vec<String>>>,
    /// Bumped by every membership write; a lookup caches its answer only if it did not move.
    generation: Arc<Mutex<u64>>,
}

impl CachedMemberships {
    /// Caches the groups of members in at most `max_bytes`, each list for at most `ttl`.
    pub fn new(inner: Arc<dyn MembershipStore>, max_bytes: u64, ttl: Duration) -> Self {
        CachedMemberships {
            inner,
            groups_of: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|(tenant, member): &Key, groups: &Arc<Vec<String>>| {
                    let texts = [tenant, member].into_iter().chain(groups.iter());
                    weight(None, texts.map(String::as_str))
                })
                .time_to_live(ttl)
                .build(),
            generation: Arc::new(Mutex::new(0)),
        }
    }

    fn lock_generation(&self) -> MutexGuard<'_, u64> {
        self.generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the lists of `members` of `tenant`, or all of the tenant's when `None`.
    fn forget(&self, tenant: &str, members: Option<&[String]>) {
        let mut generation = self.lock_generation();
        *generation = generation.wrapping_add(1);
        match members {
            Some(members) => {
                for member in members {
                    self.groups_of
                        .invalidate(&(tenant.to_owned(), member.clone()));
                }
            }
            None => {
                // Tenants are few and lists small: dropping every tenant's costs a refill,
                // never correctness.
                self.groups_of.invalidate_all();
            }
        }
    }

    /// Forgets what deleting resource `scim_id` took out of the membership table: its own
    /// list (a user), or every list that named it (a group).
    pub fn deleted(&self, tenant: &str, resource_type: ResourceType, scim_id: &str) {
        match resource_type {
            ResourceType::User => self.forget(tenant, Some(&[scim_id.to_owned()])),
            ResourceType::Group => self.forget(tenant, None),
        }
    }

    /// Awaits a membership write, then forgets what it touched (also when it failed).
    async fn written<T>(
        &self,
        tenant: &str,
        members: Option<&[String]>,
        write: BoxFuture<'_, Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = write.await;
        self.forget(tenant, members);
        result
    }

    async fn lookup(&self, tenant: &str, member_id: &str) -> Result<Vec<String>, StoreError> {
        let key = (tenant.to_owned(), member_id.to_owned());
        let hit = self.groups_of.get(&key);
        metrics::cache_lookup("store_groups_of", hit.is_some());
        if let Some(groups) = hit {
            return Ok(groups.as_ref().clone());
        }
        let seen = *self.lock_generation();
        let groups = self.inner.groups_of(tenant, member_id).await?;
        self.fill_if_unchanged(seen, key, &groups);
        Ok(groups)
    }

    /// Caches `groups` under `key` only if no membership write ended since generation `seen`
    /// was read; whether it did.
    fn fill_if_unchanged(&self, seen: u64, key: Key, groups: &[String]) -> bool {
        let now = self.lock_generation();
        let unchanged = *now == seen;
        if unchanged {
            self.groups_of.insert(key, Arc::new(groups.to_vec()));
        }
        unchanged
    }
}

impl MembershipStore for CachedMemberships {
    store_fns! {
        fn add_members(self, tenant: &'a str, group_id: &'a str, members: &'a [String]) -> usize {
            let write = self.inner.add_members(tenant, group_id, members);
            Box::pin(self.written(tenant, Some(members), write))
        }

        fn remove_members(
            self, tenant: &'a str, group_id: &'a str, members: &'a [String],
        ) -> usize {
            let write = self.inner.remove_members(tenant, group_id, members);
            Box::pin(self.written(tenant, Some(members), write))
        }

        fn replace_members(
            self, tenant: &'a str, group_id: &'a str, members: &'a [String],
        ) -> usize {
            let write = self.inner.replace_members(tenant, group_id, members);
            Box::pin(self.written(tenant, None, write))
        }

        fn members_page(
            self, tenant: &'a str, group_id: &'a str, after: Option<&'a str>, limit: u32,
        ) -> Vec<String> {
            self.inner.members_page(tenant, group_id, after, limit)
        }

        fn member_count(self, tenant: &'a str, group_id: &'a str) -> u64 {
            self.inner.member_count(tenant, group_id)
        }

        fn groups_of(self, tenant: &'a str, member_id: &'a str) -> Vec<String> {
            Box::pin(self.lookup(tenant, member_id))
        }

        fn is_member(self, tenant: &'a str, group_id: &'a str, member_id: &'a str) -> bool {
            self.inner.is_member(tenant, group_id, member_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    async fn pair() -> (Arc<SqliteStore>, CachedMemberships) {
        let inner = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
        let cached = CachedMemberships::new(inner.clone(), 1 << 20, Duration::from_secs(60));
        (inner, cached)
    }

    #[tokio::test]
    async fn a_members_groups_are_cached_until_a_write_through_the_cache_changes_them() {
        let (inner, cached) = pair().await;
        cached.add_members("t", "g1", &ids(&["u1"])).await.unwrap();
        assert_eq!(cached.groups_of("t", "u1").await.unwrap(), ["g1"]);
        // Behind the cache's back: not seen, so the answer above was cached.
        inner.add_members("t", "g2", &ids(&["u1"])).await.unwrap();
        assert_eq!(cached.groups_of("t", "u1").await.unwrap(), ["g1"]);
        // Through the cache, adding u1 elsewhere forgets its list: both writes show.
        cached.add_members("t", "g3", &ids(&["u1"])).await.unwrap();
        assert_eq!(
            cached.groups_of("t", "u1").await.unwrap(),
            ["g1", "g2", "g3"]
        );
        cached
            .remove_members("t", "g1", &ids(&["u1"]))
            .await
            .unwrap();
        assert_eq!(cached.groups_of("t", "u1").await.unwrap(), ["g2", "g3"]);
    }

    #[tokio::test]
    async fn replacing_a_list_or_deleting_a_group_forgets_members_it_did_not_name() {
        let (inner, cached) = pair().await;
        cached
            .add_members("t", "g1", &ids(&["u1", "u2"]))
            .await
            .unwrap();
        assert_eq!(cached.groups_of("t", "u1").await.unwrap(), ["g1"]);
        // u1 leaves g1 by a replace that names only u2.
        cached
            .replace_members("t", "g1", &ids(&["u2"]))
            .await
            .unwrap();
        assert!(cached.groups_of("t", "u1").await.unwrap().is_empty());
        assert_eq!(cached.groups_of("t", "u2").await.unwrap(), ["g1"]);
        // The group's rows go with it (as the store's delete_resource does).
        inner.replace_members("t", "g1", &[]).await.unwrap();
        cached.deleted("t", ResourceType::Group, "g1");
        assert!(cached.groups_of("t", "u2").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_lookup_that_raced_a_write_is_not_cached() {
        let (_inner, cached) = pair().await;
        let key = || ("t".to_owned(), "u1".to_owned());
        // A lookup read u1's groups (none yet), then a write added u1 before it could cache.
        let seen = *cached.lock_generation();
        cached.add_members("t", "g1", &ids(&["u1"])).await.unwrap();
        assert!(!cached.fill_if_unchanged(seen, key(), &[]));
        assert_eq!(cached.groups_of("t", "u1").await.unwrap(), ["g1"]);
        // A write to another member's list also keeps a racing answer out.
        let seen = *cached.lock_generation();
        cached.add_members("t", "g1", &ids(&["u2"])).await.unwrap();
        assert!(!cached.fill_if_unchanged(seen, key(), &ids(&["g1"])));
        // With no write in between, the answer is cached.
        let seen = *cached.lock_generation();
        assert!(cached.fill_if_unchanged(seen, key(), &ids(&["g1"])));
    }
}
