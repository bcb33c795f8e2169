//! The contracts every backend meets, one small trait per concern: [`ResourceStore`]
//! (resources and their correlation), [`MembershipStore`] (group members), [`IntentJournal`]
//! (writes begun and not yet settled), [`TokenStore`] (issued tokens), [`LeaseStore`] (turns
//! across instances), [`ActivityLog`] (provisioning activity) and [`Backend`] (the connection
//! itself). [`Store`](super::Store) bundles
//! one of each, so a wrapper replaces only the part it changes (the caches wrap only
//! [`ResourceStore`] and [`MembershipStore`]). Methods return boxed futures (no async-trait crate) so the traits stay
//! object safe; `store_fns!` writes that form from a one-line signature.
//!
//! Membership methods never load a group's member list: each costs the same for a group of
//! ten members or of a million.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use super::activity::{Activity, ActivityCounts, ActivityFilter};
use super::error::StoreError;
use super::intent::{Intent, IntentId};
use super::resource::{Resource, ResourceData, ResourceType};
use super::token::IssuedToken;

/// A boxed, `Send` future: what every store method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Writes store methods in the one form they all share: `&'a self`, arguments borrowed as
/// long, and a [`BoxFuture`] of a [`StoreError`] result. Each method reads
/// `fn name(self, argument: Type, ...) -> Answer` and then `;` (in a trait) or a block that
/// returns the future (in an implementation), so that the traits and their four
/// implementations state a signature in a line or three, not in a dozen lines apiece.
macro_rules! store_fns {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($s:ident $(, $arg:ident: $ty:ty)* $(,)?) -> $answer:ty;
    )*) => {
        $(
            $(#[$attr])*
            fn $name<'a>(&'a $s $(, $arg: $ty)*) -> $crate::store::api::BoxFuture<
                'a,
                Result<$answer, $crate::store::error::StoreError>,
            >;
        )*
    };
    ($(
        $(#[$attr:meta])*
        fn $name:ident($s:ident $(, $arg:ident: $ty:ty)* $(,)?) -> $answer:ty $body:block
    )*) => {
        $(
            $(#[$attr])*
            fn $name<'a>(&'a $s $(, $arg: $ty)*) -> $crate::store::api::BoxFuture<
                'a,
                Result<$answer, $crate::store::error::StoreError>,
            > $body
        )*
    };
}

pub(crate) use store_fns;

/// Correlated resources of every tenant: SCIM id, downstream id, lookup keys, the attributes
/// only the gateway holds, and versions. Ids are opaque text; lookup keys are compared
/// case-insensitively (stored lowercased).
pub trait ResourceStore: Send + Sync {
    store_fns! {
        /// Creates or replaces the resource `scim_id`: version 1 when new, else the stored
        /// version plus one (`created` is kept). Returns the stored row.
        /// [`StoreError::Conflict`] when another resource already has this `downstream_id`.
        fn put_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
            data: &'a ResourceData,
        ) -> Resource;

        /// Replaces an existing resource's data if its version is `expected_version` (any version
        /// when `None`), returning the row written (the caller need not read it back).
        /// [`StoreError::VersionMismatch`] when the version differs, [`StoreError::NotFound`] when
        /// there is no such resource.
        fn update_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
            data: &'a ResourceData, expected_version: Option<i64>,
        ) -> Resource;

        /// Bumps a resource's version and `last_modified` without changing its data (the
        /// downstream record changed), with the same version check as
        /// [`update_resource`](ResourceStore::update_resource).
        fn touch_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
            expected_version: Option<i64>,
        ) -> i64;

        /// The resource with this SCIM id.
        fn resource_by_scim_id(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
        ) -> Option<Resource>;

        /// The resource correlated with this downstream id.
        fn resource_by_downstream_id(
            self, tenant: &'a str, resource_type: ResourceType, downstream_id: &'a str,
        ) -> Option<Resource>;

        /// The resources whose lookup key (userName, displayName) equals `key` ignoring case,
        /// ordered by SCIM id. Not unique: the caller decides what a duplicate means.
        fn resources_by_lookup_key(
            self, tenant: &'a str, resource_type: ResourceType, key: &'a str,
        ) -> Vec<Resource>;

        /// The resources with this externalId (compared exactly), ordered by SCIM id.
        fn resources_by_external_id(
            self, tenant: &'a str, resource_type: ResourceType, external_id: &'a str,
        ) -> Vec<Resource>;

        /// Deletes a resource and, in the same transaction, every membership naming it as the
        /// group (when it is a Group) or as the member, also when the resource itself was not
        /// stored. False when there was no such resource.
        fn delete_resource(
            self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
        ) -> bool;

        /// One page of a tenant's resources of one type, ordered by SCIM id.
        fn list_resources(
            self, tenant: &'a str, resource_type: ResourceType, offset: u64, limit: u64,
        ) -> Vec<Resource>;

        /// How many resources of one type a tenant has.
        fn count_resources(self, tenant: &'a str, resource_type: ResourceType) -> u64;
    }
}

/// Direct memberships of groups, by SCIM id (a group need not be a stored resource).
pub trait MembershipStore: Send + Sync {
    store_fns! {
        /// Adds members to a group; existing members are skipped, not an error. Returns how many
        /// were new. The group need not be a stored resource.
        fn add_members(self, tenant: &'a str, group_id: &'a str, members: &'a [String]) -> usize;

        /// Removes members from a group; ids that are not members are skipped. Returns how many
        /// were removed.
        fn remove_members(self, tenant: &'a str, group_id: &'a str, members: &'a [String]) -> usize;

        /// Makes `members` the group's whole member list, in one transaction. Returns the number
        /// of members afterwards (duplicates in `members` count once).
        fn replace_members(
            self, tenant: &'a str, group_id: &'a str, members: &'a [String],
        ) -> usize;

        /// Up to `limit` member ids of a group in byte order, starting after `after` (keyset
        /// pagination: pass the last id of the previous page).
        fn members_page(
            self, tenant: &'a str, group_id: &'a str, after: Option<&'a str>, limit: u32,
        ) -> Vec<String>;

        /// How many members a group has.
        fn member_count(self, tenant: &'a str, group_id: &'a str) -> u64;

        /// The groups `member_id` belongs to (directly), in byte order.
        fn groups_of(self, tenant: &'a str, member_id: &'a str) -> Vec<String>;

        /// Whether `member_id` is a direct member of the group.
        fn is_member(self, tenant: &'a str, group_id: &'a str, member_id: &'a str) -> bool;
    }
}

/// The write-ahead journal: multi-step writes begun and not yet completed.
pub trait IntentJournal: Send + Sync {
    store_fns! {
        /// Journals an operation about to be carried out downstream, before it starts.
        fn begin_intent(self, tenant: &'a str, kind: &'a str, payload: &'a Value) -> IntentId;

        /// Marks a journaled operation finished (its entry is removed). False when it was
        /// already completed or never existed, so completing twice is harmless.
        fn complete_intent(self, id: IntentId) -> bool;

        /// Journaled operations never completed, oldest first; of one tenant, or of all.
        fn pending_intents(self, tenant: Option<&'a str>) -> Vec<Intent>;
    }
}

/// The Secret Tokens the gateway issued, as digests.
pub trait TokenStore: Send + Sync {
    store_fns! {
        /// Records a newly issued token. [`StoreError::Conflict`] if its digest exists.
        fn insert_token(self, token: &'a IssuedToken) -> ();

        /// The tenant's token with this digest (hex SHA-256), valid or not.
        fn token_by_digest(self, tenant: &'a str, digest: &'a str) -> Option<IssuedToken>;

        /// Every token of a tenant, oldest first, including revoked and expired ones.
        fn list_tokens(self, tenant: &'a str) -> Vec<IssuedToken>;

        /// Revokes a token at `at` (Unix seconds). False when there is no such token or it was
        /// already revoked.
        fn revoke_token(self, tenant: &'a str, id: &'a str, at: i64) -> bool;

        /// Makes a token expire at `expires_at` unless it expires earlier already (the overlap
        /// window of a rotation). False when nothing changed.
        fn shorten_token(self, tenant: &'a str, id: &'a str, expires_at: i64) -> bool;

        /// Records that a token was used at `at`.
        fn touch_token(self, tenant: &'a str, id: &'a str, at: i64) -> bool;
    }
}

/// Leases: short-lived, named claims that let instances sharing a store take turns.
pub trait LeaseStore: Send + Sync {
    store_fns! {
        /// Takes the lease `key` for `holder` until `expires_ms` (Unix milliseconds) when nobody
        /// holds it or its holder's lease ended before `now_ms`; true when taken. Writers of one
        /// resource in several instances take turns by it (`service::turns`).
        fn take_lease(self, key: &'a str, holder: &'a str, now_ms: i64, expires_ms: i64) -> bool;

        /// Gives the lease `key` back, if `holder` still holds it.
        fn release_lease(self, key: &'a str, holder: &'a str) -> ();
    }
}

/// Provisioning activity: every SCIM write and refused request, newest first, kept for a
/// while (see [`Activity`]).
pub trait ActivityLog: Send + Sync {
    store_fns! {
        /// Appends entries (their `id` is ignored), in one transaction.
        fn record_activity(self, entries: &'a [Activity]) -> ();

        /// One page of the entries `filter` lets through, newest first.
        fn activity_page(
            self, filter: &'a ActivityFilter, offset: u64, limit: u64,
        ) -> Vec<Activity>;

        /// The entry with this id.
        fn activity_by_id(self, id: i64) -> Option<Activity>;

        /// How many requests of `tenant` were answered at or after `since_ms`, and how many
        /// failed.
        fn activity_counts(self, tenant: &'a str, since_ms: i64) -> ActivityCounts;

        /// Deletes entries older than `before_ms`, then all but the newest `keep`. Returns how
        /// many went.
        fn prune_activity(self, before_ms: i64, keep: u64) -> u64;
    }
}

/// The database behind the other traits: its name, whether it is shared, whether it answers.
pub trait Backend: Send + Sync {
    /// The backend's name for logs: "sqlite", "postgres", or a wrapper's.
    fn backend(&self) -> &'static str;

    /// Whether other gateway instances may write the same rows (PostgreSQL): then nothing
    /// read from the store or the downstream may be kept in memory past the request, unless
    /// checked against the store's version.
    fn shared(&self) -> bool {
        self.backend() == "postgres"
    }

    /// Runs the cheapest query there is: `/readyz` asks it to tell whether the database
    /// answers, without touching any table.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Closes the connections (SQLite checkpoints its write-ahead log). Calls after this fail
    /// with [`StoreError::Closed`].
    fn close(&self) -> BoxFuture<'_, ()>;
}
