//! SCIM Users (RFC 7644 §3) over the downstream user API and the gateway's store: create,
//! read, list with filters, replace, PATCH and delete or deactivate.
//!
//! Consistency: a create is journaled before the downstream call and correlated after it (a
//! crash in between leaves an intent that `recover` repairs); an update writes the store first
//! (with the version it read, so concurrent writers cannot lose each other's changes) and rolls
//! it back if the downstream refuses. A create whose outcome is unknown is looked up before
//! it is posted again ([`adopt`]). Writes to one user take turns ([`Turns`]), so that clients
//! without If-Match never see a 412; what a write leaves is what the next read shows (see
//! [`crate::cache`]).
//!
//! Here: the service, loading a user and the one write path every update goes through (load
//! the row and the record once, compute the SCIM view once, write the store once with the row
//! returned, render once). Beside it: the SCIM operations ([`crud`]), lists and filters
//! ([`find`]), rendering ([`render`]), roles and licences from groups ([`entitle`], and
//! [`rules`] for re-applying them), crash recovery ([`recover`], [`adopt`]) and
//! [`reconcile`].

mod adopt;
mod crud;
mod entitle;
mod find;
mod reconcile;
mod recover;
mod render;
pub mod rules;

use std::sync::Arc;

use serde_json::Value;

pub use self::reconcile::{Progress, Reconciliation};
use super::dropped::DroppedAttributes;
use super::turns::Turns;
use super::{RequestContext, ServiceError, check_version};
use crate::cache::{RecordCache, Ticket};
use crate::downstream::endpoints::UpdateStyle;
use crate::downstream::records::RecordApi;
use crate::downstream::{DownstreamError, budget};
use crate::mapping::free_keys::stringify_resource;
use crate::mapping::serialized::decode_resource;
use crate::mapping::{ResourceMapping, Unmapped};
use crate::scim::resource::canonicalize;
use crate::settings::{GroupsConfig, IdStyle};
use crate::store::{Resource, ResourceData, ResourceType, StoreError, TenantStore};

/// Marks a user deleted while its downstream record is kept (deactivate mode): RFC 7644 §3.6
/// says a deleted resource answers 404 from then on.
const TOMBSTONE: &str = "$deleted";

/// The Users service of one tenant.
pub struct UsersService {
    pub api: RecordApi,
    pub mapping: ResourceMapping,
    /// Downstream records recently read or written, by downstream id.
    pub records: Arc<dyn RecordCache>,
    /// The tenant's rows of the store (the tenant is the store's).
    pub store: TenantStore,
    pub ids: IdStyle,
    pub groups: GroupsConfig,
    /// One write at a time per user.
    pub turns: Turns,
    /// Reports the attributes writes lose (`[users] unmapped`).
    pub dropped: DroppedAttributes,
}

/// A user as loaded for a write: its store row (if any) and its downstream record.
struct Loaded {
    scim_id: String,
    downstream_id: String,
    row: Option<Resource>,
    /// Shared with the record cache rather than copied out of it.
    record: Arc<Value>,
}

impl UsersService {
    fn user_name_of(resource: &Value) -> Option<String> {
        resource
            .get("userName")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// externalId lives in the store unless a rule maps it downstream.
    fn external_id_stored(&self) -> bool {
        self.mapping.rule_for("externalId").is_none()
    }

    /// The store row of a user: its correlation, externalId (unless mapped), lookup key and
    /// `kept`, the attributes the store keeps (from [`admit`](Self::admit) or
    /// [`kept_of_record`](Self::kept_of_record)).
    fn row_data(&self, downstream_id: &str, resource: &Value, kept: Value) -> ResourceData {
        let external_id = if self.external_id_stored() {
            resource
                .get("externalId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        } else {
            None
        };
        ResourceData {
            downstream_id: Some(downstream_id.to_owned()),
            external_id,
            lookup_key: Self::user_name_of(resource).map(|n| n.to_lowercase()),
            attributes: kept,
        }
    }

    /// A client's resource (create, replace) as the rules take it: canonical, with numbers and
    /// booleans of free keys as text and elements Entra serialises into a `value` decoded.
    fn resource_in(&self, body: &Value) -> Result<Value, ServiceError> {
        let mut body = body.clone();
        stringify_resource(&mut body, &self.mapping.catalog);
        let mut resource = canonicalize(&body, &self.mapping.catalog.widened(&[&body]))?;
        decode_resource(&mut resource, &self.mapping.catalog);
        Ok(resource)
    }

    /// What the store keeps of a resource about to be written, after `[users] unmapped` has
    /// had its say about the rest: `reject` refuses the write (before anything is written),
    /// `ignore` and the never-kept attributes of `store` are logged and counted. `computed`
    /// is what the rules show for the record before the write.
    fn admit(&self, resource: &Value, computed: &Value) -> Result<Value, ServiceError> {
        let split = self.mapping.split(resource, computed);
        match (self.mapping.unmapped, split.dropped.first()) {
            (Unmapped::Reject, Some(first)) => Err(ServiceError::Unmapped(first.clone())),
            _ => {
                self.dropped.record(&split.dropped);
                Ok(split.kept)
            }
        }
    }

    /// What the store keeps of a resource read from the downstream (a user made outside the
    /// gateway, or settled after a crash): values of `store = true` rules at most.
    fn kept_of_record(&self, resource: &Value) -> Value {
        self.mapping.split(resource, resource).kept
    }

    /// Refuses a userName already taken (case-insensitively) by another live user; returns
    /// the tombstone of a deleted user with that name, whose record can be reused.
    async fn check_unique(
        &self,
        user_name: &str,
        except: Option<&str>,
    ) -> Result<Option<Resource>, ServiceError> {
        if user_name.is_empty() {
            return Ok(None);
        }
        let rows = self
            .store
            .resources_by_lookup_key(ResourceType::User, user_name)
            .await?;
        let mut tombstone = None;
        for row in rows {
            if Some(row.scim_id.as_str()) == except {
                continue;
            }
            if is_tombstone(&row) {
                tombstone = Some(row);
            } else {
                return Err(ServiceError::Conflict(format!(
                    "userName {user_name:?} is already taken (compared case-insensitively)"
                )));
            }
        }
        Ok(tombstone)
    }

    /// Brings back the kept record of a deleted user with `resource`; `None` when the record
    /// is gone downstream as well (its tombstone is dropped, and the caller creates anew).
    async fn recreate(
        &self,
        ctx: &RequestContext,
        tombstone: Resource,
        resource: &Value,
    ) -> Result<Option<Value>, ServiceError> {
        let _turn = self.turns.take(&tombstone.scim_id).await?;
        let downstream_id = tombstone.downstream_id.clone().unwrap_or_default();
        let record = match self.api.get(&downstream_id).await {
            Ok(record) => record,
            Err(DownstreamError::NotFound(_)) => {
                self.store
                    .delete_resource(ResourceType::User, &tombstone.scim_id)
                    .await?;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let loaded = Loaded {
            scim_id: tombstone.scim_id.clone(),
            downstream_id,
            row: Some(tombstone),
            record: Arc::new(record),
        };
        self.write(ctx, loaded, resource.clone(), None)
            .await
            .map(Some)
    }

    /// Caches a record read after `ticket`, for the store version of its user; a user without
    /// a row has no version to check it against, so it is not cached.
    fn fill_cache(
        &self,
        downstream_id: &str,
        row: Option<&Resource>,
        record: &Arc<Value>,
        ticket: Ticket,
    ) {
        if let Some(row) = row {
            self.records
                .fill(downstream_id, row.version, record.clone(), ticket);
        }
    }

    /// The downstream id of a user given its SCIM id and store row; `None` for a deleted user
    /// and for an unknown one when SCIM ids are the gateway's own.
    fn downstream_id_for(&self, scim_id: &str, row: Option<&Resource>) -> Option<String> {
        match (row, self.ids) {
            (Some(r), _) if is_tombstone(r) => None,
            (Some(r), _) => Some(
                r.downstream_id
                    .clone()
                    .unwrap_or_else(|| scim_id.to_owned()),
            ),
            (None, IdStyle::Downstream) => Some(scim_id.to_owned()),
            (None, IdStyle::Uuid) => None,
        }
    }

    /// The downstream id of the user `scim_id` (group members are SCIM ids; the downstream
    /// wants its own), without a downstream call.
    pub async fn downstream_id_of(&self, scim_id: &str) -> Result<Option<String>, ServiceError> {
        let row = self
            .store
            .resource_by_scim_id(ResourceType::User, scim_id)
            .await?;
        Ok(self.downstream_id_for(scim_id, row.as_ref()))
    }

    /// Loads a user for a write: the record as the downstream holds it now. 404 for unknown
    /// and deleted users.
    async fn load(&self, scim_id: &str) -> Result<Loaded, ServiceError> {
        self.load_from(scim_id, false).await
    }

    /// Loads a user for a read: the record cache answers where it holds the store row's
    /// version.
    async fn load_for_read(&self, scim_id: &str) -> Result<Loaded, ServiceError> {
        self.load_from(scim_id, true).await
    }

    async fn load_from(&self, scim_id: &str, cache: bool) -> Result<Loaded, ServiceError> {
        let row = self
            .store
            .resource_by_scim_id(ResourceType::User, scim_id)
            .await?;
        let downstream_id = self
            .downstream_id_for(scim_id, row.as_ref())
            .ok_or_else(|| DownstreamError::NotFound(scim_id.to_owned()))?;
        let record = match (&row, cache) {
            (Some(row), true) => self.record_of_row(row).await?,
            _ => self.fetch(scim_id, &downstream_id, row.as_ref()).await?,
        };
        Ok(Loaded {
            scim_id: scim_id.to_owned(),
            downstream_id,
            row,
            record,
        })
    }

    /// The record of a stored user for a read: the cached one when the cache holds it for the
    /// row's version, else [`fetch`](Self::fetch)ed.
    async fn record_of_row(&self, row: &Resource) -> Result<Arc<Value>, ServiceError> {
        let downstream_id = row.downstream_id.as_deref().unwrap_or(&row.scim_id);
        match self.records.record(downstream_id, row.version) {
            Some(record) => Ok(record),
            None => self.fetch(&row.scim_id, downstream_id, Some(row)).await,
        }
    }

    /// Reads the record of user `scim_id` (store row `row`) downstream, and caches it for the
    /// row's version (a user without a row has no version to check it against); 404 naming
    /// the SCIM id when it is gone.
    async fn fetch(
        &self,
        scim_id: &str,
        downstream_id: &str,
        row: Option<&Resource>,
    ) -> Result<Arc<Value>, ServiceError> {
        let ticket = self.records.ticket();
        let record = self.api.get(downstream_id).await.map_err(|e| match e {
            DownstreamError::NotFound(_) => DownstreamError::NotFound(scim_id.to_owned()),
            other => other,
        })?;
        let record = Arc::new(record);
        self.fill_cache(downstream_id, row, &record, ticket);
        Ok(record)
    }

    /// Runs a read-modify-write of user `id` in its turn, and again when a writer elsewhere
    /// (another instance on the same store) got there first, for as long as the request's
    /// budget lasts (five tries outside a request); unless the client pinned a version with
    /// If-Match: then the 412 is its answer.
    async fn retrying<F, Fut>(
        &self,
        id: &str,
        if_match: Option<i64>,
        attempt: F,
    ) -> Result<Value, ServiceError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Value, ServiceError>>,
    {
        let _turn = self.turns.take(id).await?;
        let mut tries = 0;
        loop {
            tries += 1;
            let again = match budget::spend_until() {
                Some(until) => tokio::time::Instant::now() < until,
                None => tries < 5,
            };
            match attempt().await {
                Err(ServiceError::Store(StoreError::VersionMismatch { .. }))
                    if if_match.is_none() && again => {}
                other => return other,
            }
        }
    }

    /// Stores the new state of a user, then sends it downstream (the whole record or the
    /// changed fields, as gateway.toml says; nothing when nothing changed), rolling the store
    /// back if the downstream refuses. One pass: the loaded record is mapped once, the store
    /// written once (the row written comes back), the answer rendered once from it.
    async fn write(
        &self,
        ctx: &RequestContext,
        loaded: Loaded,
        mut resource: Value,
        if_match: Option<i64>,
    ) -> Result<Value, ServiceError> {
        check_version(loaded.row.as_ref(), if_match)?;
        self.entitle_member(&mut resource, &loaded.scim_id).await?;
        // The record as the rules show it, computed once for what the store keeps and for
        // the changed fields.
        let computed = self.mapping.to_scim(&loaded.record);
        let kept = self.admit(&resource, &computed)?;
        let body = match self.api.endpoints.update_style {
            UpdateStyle::Full => {
                let body = self
                    .mapping
                    .to_downstream_replace(&resource, &loaded.record)?;
                (body != *loaded.record).then_some(body)
            }
            UpdateStyle::Changed => {
                let body = self.mapping.changed_fields(&computed, &resource)?;
                body.as_object()
                    .is_some_and(|o| !o.is_empty())
                    .then_some(body)
            }
        };
        let data = self.row_data(&loaded.downstream_id, &resource, kept);
        if let (None, Some(row)) = (&body, &loaded.row)
            && row.holds(&data)
        {
            // Nothing changed, here or downstream: no write, no new version.
            return Ok(self.resource_of(ctx, &loaded.scim_id, Some(row), &loaded.record));
        }
        let (row, previous) = self.write_row(&loaded, &data).await?;
        self.records.forget(&loaded.downstream_id);
        let record = match body {
            Some(body) => match self.api.update(&loaded.downstream_id, body).await {
                Ok(record) => Arc::new(record),
                Err(e) => {
                    self.roll_back(&loaded.scim_id, previous, row.version).await;
                    return Err(e.into());
                }
            },
            None => loaded.record,
        };
        self.records
            .remember(&loaded.downstream_id, row.version, record.clone());
        Ok(self.resource_of(ctx, &loaded.scim_id, Some(&row), &record))
    }

    /// Writes a user's row: updated at the version loaded, or created. Returns the row
    /// written and what to put back if the downstream then refuses.
    async fn write_row(
        &self,
        loaded: &Loaded,
        data: &ResourceData,
    ) -> Result<(Resource, Option<ResourceData>), ServiceError> {
        let Some(row) = &loaded.row else {
            let written = self
                .store
                .put_resource(ResourceType::User, &loaded.scim_id, data)
                .await?;
            return Ok((written, None));
        };
        let previous = ResourceData {
            downstream_id: row.downstream_id.clone(),
            external_id: row.external_id.clone(),
            lookup_key: row.lookup_key.clone(),
            attributes: row.attributes.clone(),
        };
        let written = self
            .store
            .update_resource(ResourceType::User, &loaded.scim_id, data, Some(row.version))
            .await?;
        Ok((written, Some(previous)))
    }

    /// Puts back what the store held before a write whose downstream call failed.
    async fn roll_back(&self, scim_id: &str, previous: Option<ResourceData>, version: i64) {
        let outcome = match previous {
            Some(data) => self
                .store
                .update_resource(ResourceType::User, scim_id, &data, Some(version))
                .await
                .map(|_| ()),
            None => self
                .store
                .delete_resource(ResourceType::User, scim_id)
                .await
                .map(|_| ()),
        };
        if let Err(e) = outcome {
            tracing::error!(scim_id, error = %e, "could not roll the store back after a failed downstream write");
        }
    }
}

fn is_tombstone(row: &Resource) -> bool {
    row.attributes.get(TOMBSTONE) == Some(&Value::Bool(true))
}
