//! The store of a dry run: reads see the real store, writes stay in a private in-memory
//! SQLite database dropped with the dry run, so the request's later reads see its own writes
//! as in a real run while the real store is never written. Rows are copied in lazily, the
//! first time the request touches them (a resource by id, key or downstream id; a group's
//! members; a member's groups): a dry run costs what the request reads, not a copy of the
//! tenant.
//!
//! The overlay serves the resources, memberships, tokens (read from the real store, never
//! written), leases (every one its own) and the connection; the journal is the scratch
//! database's own.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::api::{
    Backend, BoxFuture, LeaseStore, MembershipStore, ResourceStore, TokenStore, store_fns,
};
use super::error::StoreError;
use super::handle::Store;
use super::resource::{Resource, ResourceData, ResourceType};
use super::sqlite::SqliteStore;
use super::token::IssuedToken;

/// Above this many members, a membership change copies the group's whole member list rather
/// than asking the real store about each member.
const PAIR_LOOKUPS: usize = 16;
/// Rows read from the real store per call when a whole list is copied.
const PAGE: u32 = 1000;

/// What has been copied from the real store (or must not be any more, because the dry run
/// has replaced it).
#[derive(Default)]
struct Seeded {
    /// (tenant, type, SCIM id) looked up in the real store, found or not.
    resources: HashSet<(String, ResourceType, String)>,
    /// (tenant, type) copied whole.
    all: HashSet<(String, ResourceType)>,
    /// (tenant, group) whose memberships are all here.
    groups: HashSet<(String, String)>,
    /// (tenant, member) whose memberships are all here.
    members: HashSet<(String, String)>,
    /// (tenant, group, member) looked up in the real store.
    pairs: HashSet<(String, String, String)>,
}

/// Runs `seed` (what the request touches, copied from the real store), then answers with
/// `scratch` (run only after the copy).
async fn seeded_then<T>(
    seed: impl Future<Output = Result<(), StoreError>>,
    scratch: BoxFuture<'_, Result<T, StoreError>>,
) -> Result<T, StoreError> {
    seed.await?;
    scratch.await
}

/// A copy-on-read overlay of a real store for one dry run.
pub struct ScratchStore {
    real: Store,
    scratch: SqliteStore,
    /// Held for the whole of each copy, so a read never sees a half-copied list.
    seeded: Mutex<Seeded>,
}

impl ScratchStore {
    /// An empty overlay of `real`, as a store whose writes stay in the overlay.
    pub async fn overlay(real: Store) -> Result<Store, StoreError> {
        let scratch = SqliteStore::open("sqlite::memory:").await?;
        let overlay = Arc::new(Self {
            real,
            scratch: scratch.clone(),
            seeded: Mutex::default(),
        });
        Ok(Store {
            resources: overlay.clone(),
            members: overlay.clone(),
            // Only the dry run's own: the real journal is not this request's business.
            intents: Arc::new(scratch.clone()),
            // A dry run records nothing in the real activity log.
            activity: Arc::new(scratch),
            tokens: overlay.clone(),
            leases: overlay.clone(),
            backend: overlay,
        })
    }

    async fn import(&self, seeded: &mut Seeded, rows: Vec<Resource>) -> Result<(), StoreError> {
        for row in rows {
            let key = (row.tenant.clone(), row.resource_type, row.scim_id.clone());
            if !seeded.resources.contains(&key) {
                self.scratch.import_resource(&row).await?;
                seeded.resources.insert(key);
            }
        }
        Ok(())
    }

    async fn seed_id(
        &self,
        tenant: &str,
        resource_type: ResourceType,
        scim_id: &str,
    ) -> Result<(), StoreError> {
        let mut seeded = self.seeded.lock().await;
        let key = (tenant.to_owned(), resource_type, scim_id.to_owned());
        if seeded.resources.contains(&key) {
            return Ok(());
        }
        if let Some(row) = self
            .real
            .resources
            .resource_by_scim_id(tenant, resource_type, scim_id)
            .await?
        {
            self.scratch.import_resource(&row).await?;
        }
        seeded.resources.insert(key);
        Ok(())
    }

    async fn seed_rows(&self, rows: Result<Vec<Resource>, StoreError>) -> Result<(), StoreError> {
        let rows = rows?;
        let mut seeded = self.seeded.lock().await;
        self.import(&mut seeded, rows).await
    }

    /// Copies the rows `real` finds, then answers with `scratch` (run only after the copy).
    async fn copied_then<T>(
        &self,
        real: BoxFuture<'_, Result<Vec<Resource>, StoreError>>,
        scratch: BoxFuture<'_, Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.seed_rows(real.await).await?;
        scratch.await
    }

    /// The real store's resource with this downstream id, as a list of at most one.
    fn real_by_downstream_id<'a>(
        &'a self,
        tenant: &'a str,
        resource_type: ResourceType,
        downstream_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, StoreError>> {
        let found =
            (self.real.resources).resource_by_downstream_id(tenant, resource_type, downstream_id);
        Box::pin(async move { Ok(found.await?.into_iter().collect()) })
    }

    async fn seed_all(&self, tenant: &str, resource_type: ResourceType) -> Result<(), StoreError> {
        let mut seeded = self.seeded.lock().await;
        let key = (tenant.to_owned(), resource_type);
        if seeded.all.contains(&key) {
            return Ok(());
        }
        let mut offset = 0;
        loop {
            let rows = self
                .real
                .resources
                .list_resources(tenant, resource_type, offset, u64::from(PAGE))
                .await?;
            let done = rows.len() < PAGE as usize;
            offset += rows.len() as u64;
            self.import(&mut seeded, rows).await?;
            if done {
                break;
            }
        }
        seeded.all.insert(key);
        Ok(())
    }

    /// Copies the members of `group` not yet looked at.
    async fn seed_group(
        &self,
        seeded: &mut Seeded,
        tenant: &str,
        group: &str,
    ) -> Result<(), StoreError> {
        let key = (tenant.to_owned(), group.to_owned());
        if seeded.groups.contains(&key) {
            return Ok(());
        }
        let mut after: Option<String> = None;
        loop {
            let page = self
                .real
                .members
                .members_page(tenant, group, after.as_deref(), PAGE)
                .await?;
            let fresh: Vec<String> = page
                .iter()
                .filter(|m| {
                    !seeded
                        .pairs
                        .contains(&(tenant.to_owned(), group.to_owned(), (*m).clone()))
                })
                .cloned()
                .collect();
            self.scratch.add_members(tenant, group, &fresh).await?;
            if page.len() < PAGE as usize {
                break;
            }
            after = page.last().cloned();
        }
        seeded.groups.insert(key);
        Ok(())
    }

    /// Copies the memberships of `member` not yet looked at.
    async fn seed_member(
        &self,
        seeded: &mut Seeded,
        tenant: &str,
        member: &str,
    ) -> Result<(), StoreError> {
        let key = (tenant.to_owned(), member.to_owned());
        if seeded.members.contains(&key) {
            return Ok(());
        }
        for group in self.real.members.groups_of(tenant, member).await? {
            let pair = (tenant.to_owned(), group.clone(), member.to_owned());
            if !seeded.groups.contains(&(tenant.to_owned(), group.clone()))
                && !seeded.pairs.contains(&pair)
            {
                self.scratch
                    .add_members(tenant, &group, &[member.to_owned()])
                    .await?;
                seeded.pairs.insert(pair);
            }
        }
        seeded.members.insert(key);
        Ok(())
    }

    /// Copies whether each of `members` is in `group`.
    async fn seed_pairs(
        &self,
        tenant: &str,
        group: &str,
        members: &[String],
    ) -> Result<(), StoreError> {
        let mut seeded = self.seeded.lock().await;
        if members.len() > PAIR_LOOKUPS {
            return self.seed_group(&mut seeded, tenant, group).await;
        }
        if seeded
            .groups
            .contains(&(tenant.to_owned(), group.to_owned()))
        {
            return Ok(());
        }
        for member in members {
            let pair = (tenant.to_owned(), group.to_owned(), member.clone());
            if seeded.pairs.contains(&pair) {
                continue;
            }
            if self.real.members.is_member(tenant, group, member).await? {
                self.scratch
                    .add_members(tenant, group, std::slice::from_ref(member))
                    .await?;
            }
            seeded.pairs.insert(pair);
        }
        Ok(())
    }

    async fn seed_whole_group(&self, tenant: &str, group: &str) -> Result<(), StoreError> {
        let mut seeded = self.seeded.lock().await;
        self.seed_group(&mut seeded, tenant, group).await
    }

    /// Marks a group's memberships as the dry run's alone, without copying them: for writes
    /// that replace or drop them all.
    async fn seal_group(&self, tenant: &str, group: &str) {
        self.seeded
            .lock()
            .await
            .groups
            .insert((tenant.to_owned(), group.to_owned()));
    }
}

impl ResourceStore for ScratchStore {
    store_fns! {
        fn put_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
            data: &'a ResourceData,
        ) -> Resource {
            Box::pin(async move {
                self.seed_id(tenant, resource_type, scim_id).await?;
                if let Some(downstream_id) = &data.downstream_id {
                    // So a duplicate correlation is refused as the real store would.
                    let rows = self.real_by_downstream_id(tenant, resource_type, downstream_id);
                    self.seed_rows(rows.await).await?;
                }
                self.scratch.put_resource(tenant, resource_type, scim_id, data).await
            })
        }

        fn update_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
            data: &'a ResourceData, expected_version: Option<i64>,
        ) -> Resource {
            let seed = self.seed_id(tenant, resource_type, scim_id);
            let write = self
                .scratch
                .update_resource(tenant, resource_type, scim_id, data, expected_version);
            Box::pin(seeded_then(seed, write))
        }

        fn touch_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
            expected_version: Option<i64>,
        ) -> i64 {
            let seed = self.seed_id(tenant, resource_type, scim_id);
            let write = self
                .scratch
                .touch_resource(tenant, resource_type, scim_id, expected_version);
            Box::pin(seeded_then(seed, write))
        }

        fn resource_by_scim_id(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
        ) -> Option<Resource> {
            let seed = self.seed_id(tenant, resource_type, scim_id);
            let read = self.scratch.resource_by_scim_id(tenant, resource_type, scim_id);
            Box::pin(seeded_then(seed, read))
        }

        fn resource_by_downstream_id(
            self, tenant: &'a str, resource_type: ResourceType, downstream_id: &'a str,
        ) -> Option<Resource> {
            let real = self.real_by_downstream_id(tenant, resource_type, downstream_id);
            let scratch = &self.scratch;
            let read = scratch.resource_by_downstream_id(tenant, resource_type, downstream_id);
            Box::pin(self.copied_then(real, read))
        }

        fn resources_by_lookup_key(
            self, tenant: &'a str, resource_type: ResourceType, key: &'a str,
        ) -> Vec<Resource> {
            let real = self.real.resources.resources_by_lookup_key(tenant, resource_type, key);
            let read = self.scratch.resources_by_lookup_key(tenant, resource_type, key);
            Box::pin(self.copied_then(real, read))
        }

        fn resources_by_external_id(
            self, tenant: &'a str, resource_type: ResourceType, external_id: &'a str,
        ) -> Vec<Resource> {
            let real = &self.real.resources;
            let real = real.resources_by_external_id(tenant, resource_type, external_id);
            let read = self.scratch.resources_by_external_id(tenant, resource_type, external_id);
            Box::pin(self.copied_then(real, read))
        }

        fn delete_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
        ) -> bool {
            Box::pin(async move {
                self.seed_id(tenant, resource_type, scim_id).await?;
                {
                    let mut seeded = self.seeded.lock().await;
                    self.seed_member(&mut seeded, tenant, scim_id).await?;
                }
                if resource_type == ResourceType::Group {
                    self.seal_group(tenant, scim_id).await;
                }
                self.scratch.delete_resource(tenant, resource_type, scim_id).await
            })
        }

        fn list_resources(
            self, tenant: &'a str, resource_type: ResourceType, offset: u64, limit: u64,
        ) -> Vec<Resource> {
            let seed = self.seed_all(tenant, resource_type);
            let read = self.scratch.list_resources(tenant, resource_type, offset, limit);
            Box::pin(seeded_then(seed, read))
        }

        fn count_resources(self, tenant: &'a str, resource_type: ResourceType) -> u64 {
            let seed = self.seed_all(tenant, resource_type);
            Box::pin(seeded_then(seed, self.scratch.count_resources(tenant, resource_type)))
        }
    }
}

impl MembershipStore for ScratchStore {
    store_fns! {
        fn add_members(self, tenant: &'a str, group_id: &'a str, members: &'a [String]) -> usize {
            let seed = self.seed_pairs(tenant, group_id, members);
            Box::pin(seeded_then(seed, self.scratch.add_members(tenant, group_id, members)))
        }

        fn remove_members(
            self, tenant: &'a str, group_id: &'a str, members: &'a [String],
        ) -> usize {
            let seed = self.seed_pairs(tenant, group_id, members);
            Box::pin(seeded_then(seed, self.scratch.remove_members(tenant, group_id, members)))
        }

        fn replace_members(
            self, tenant: &'a str, group_id: &'a str, members: &'a [String],
        ) -> usize {
            let seal = async move {
                self.seal_group(tenant, group_id).await;
                Ok(())
            };
            Box::pin(seeded_then(seal, self.scratch.replace_members(tenant, group_id, members)))
        }

        fn members_page(
            self, tenant: &'a str, group_id: &'a str, after: Option<&'a str>, limit: u32,
        ) -> Vec<String> {
            let seed = self.seed_whole_group(tenant, group_id);
            Box::pin(seeded_then(seed, self.scratch.members_page(tenant, group_id, after, limit)))
        }

        fn member_count(self, tenant: &'a str, group_id: &'a str) -> u64 {
            let seed = self.seed_whole_group(tenant, group_id);
            Box::pin(seeded_then(seed, self.scratch.member_count(tenant, group_id)))
        }

        fn groups_of(self, tenant: &'a str, member_id: &'a str) -> Vec<String> {
            let seed = async move {
                let mut seeded = self.seeded.lock().await;
                self.seed_member(&mut seeded, tenant, member_id).await
            };
            Box::pin(seeded_then(seed, self.scratch.groups_of(tenant, member_id)))
        }

        fn is_member(self, tenant: &'a str, group_id: &'a str, member_id: &'a str) -> bool {
            Box::pin(async move {
                self.seed_pairs(tenant, group_id, &[member_id.to_owned()]).await?;
                self.scratch.is_member(tenant, group_id, member_id).await
            })
        }
    }
}

impl TokenStore for ScratchStore {
    store_fns! {
        fn insert_token(self, _token: &'a IssuedToken) -> () {
            Box::pin(async { Err(StoreError::ReadOnly("a dry run issues no token")) })
        }

        fn token_by_digest(self, tenant: &'a str, digest: &'a str) -> Option<IssuedToken> {
            self.real.tokens.token_by_digest(tenant, digest)
        }

        fn list_tokens(self, tenant: &'a str) -> Vec<IssuedToken> {
            self.real.tokens.list_tokens(tenant)
        }

        fn revoke_token(self, _tenant: &'a str, _id: &'a str, _at: i64) -> bool {
            Box::pin(async { Err(StoreError::ReadOnly("a dry run revokes no token")) })
        }

        fn shorten_token(self, _tenant: &'a str, _id: &'a str, _expires_at: i64) -> bool {
            Box::pin(async { Err(StoreError::ReadOnly("a dry run changes no token")) })
        }

        fn touch_token(self, _tenant: &'a str, _id: &'a str, _at: i64) -> bool {
            Box::pin(async { Err(StoreError::ReadOnly("a dry run changes no token")) })
        }
    }
}

/// A dry run writes nothing others could race: every lease is its own.
impl LeaseStore for ScratchStore {
    store_fns! {
        fn take_lease(
            self, _key: &'a str, _holder: &'a str, _now_ms: i64, _expires_ms: i64,
        ) -> bool {
            Box::pin(async { Ok(true) })
        }

        fn release_lease(self, _key: &'a str, _holder: &'a str) -> () {
            Box::pin(async { Ok(()) })
        }
    }
}

impl Backend for ScratchStore {
    fn backend(&self) -> &'static str {
        "scratch"
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.real.backend.ping()
    }

    /// Drops the scratch database; the real store stays open for its owner.
    fn close(&self) -> BoxFuture<'_, ()> {
        self.scratch.close()
    }
}

#[cfg(test)]
mod tests;
