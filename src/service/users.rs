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

mod adopt;
pub mod rules;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use self::adopt::Created;
use super::dropped::DroppedAttributes;
use super::turns::Turns;
use super::{RequestContext, ScimService, ServiceError, check_version};
use crate::cache::{RecordCache, Ticket};
use crate::downstream::endpoints::{DeleteMode, UpdateStyle};
use crate::downstream::records::RecordApi;
use crate::downstream::{DownstreamError, budget};
use crate::mapping::free_keys::{stringify_patch, stringify_resource};
use crate::mapping::serialized::{decode_patch, decode_resource};
use crate::mapping::{ResourceMapping, Unmapped};
use crate::scim::filter::{CompValue, CompareOp, Filter, matches, validate};
use crate::scim::list::{ListParamError, ListParams, Projection};
use crate::scim::patch::{PatchRequest, apply};
use crate::scim::resource::canonicalize;
use crate::settings::{GroupsConfig, IdStyle};
use crate::store::{Resource, ResourceData, ResourceType, Store, StoreError};

/// Marks a user deleted while its downstream record is kept (deactivate mode): RFC 7644 §3.6
/// says a deleted resource answers 404 from then on.
const TOMBSTONE: &str = "$deleted";

/// What [`UsersService::reconcile`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// Downstream records read.
    pub checked: usize,
    /// SCIM ids whose downstream record is gone.
    pub missing: Vec<String>,
    /// Downstream ids with no correlation.
    pub orphans: Vec<String>,
}

/// The Users service of one tenant.
pub struct UsersService {
    pub api: RecordApi,
    pub mapping: ResourceMapping,
    /// Downstream records recently read or written, by downstream id.
    pub records: Arc<dyn RecordCache>,
    pub store: Arc<dyn Store>,
    pub tenant: String,
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
    record: Value,
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
            .resources_by_lookup_key(&self.tenant, ResourceType::User, user_name)
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
                    .delete_resource(&self.tenant, ResourceType::User, &tombstone.scim_id)
                    .await?;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let loaded = Loaded {
            scim_id: tombstone.scim_id.clone(),
            downstream_id,
            row: Some(tombstone),
            record,
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
        record: &Value,
        ticket: Ticket,
    ) {
        if let Some(row) = row {
            self.records
                .fill(downstream_id, row.version, Arc::new(record.clone()), ticket);
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
            .resource_by_scim_id(&self.tenant, ResourceType::User, scim_id)
            .await?;
        Ok(self.downstream_id_for(scim_id, row.as_ref()))
    }

    /// Loads a user for reading or writing; 404 for unknown and deleted users.
    async fn load(&self, scim_id: &str) -> Result<Loaded, ServiceError> {
        let row = self
            .store
            .resource_by_scim_id(&self.tenant, ResourceType::User, scim_id)
            .await?;
        let downstream_id = self
            .downstream_id_for(scim_id, row.as_ref())
            .ok_or_else(|| DownstreamError::NotFound(scim_id.to_owned()))?;
        let ticket = self.records.ticket();
        let record = self.api.get(&downstream_id).await.map_err(|e| match e {
            DownstreamError::NotFound(_) => DownstreamError::NotFound(scim_id.to_owned()),
            other => other,
        })?;
        self.fill_cache(&downstream_id, row.as_ref(), &record, ticket);
        Ok(Loaded {
            scim_id: scim_id.to_owned(),
            downstream_id,
            row,
            record,
        })
    }

    /// The resources matching a filter. `userName eq` and `externalId eq` are answered from
    /// the store when it holds the answer; other filters search the downstream (pushed down
    /// where gateway.toml allows) and are evaluated here.
    async fn find(
        &self,
        ctx: &RequestContext,
        filter: &Filter,
    ) -> Result<Vec<Value>, ServiceError> {
        let schema = &self.mapping.catalog;
        if let Filter::Compare(path, CompareOp::Eq, CompValue::Str(value)) = filter
            && path.urn.is_none()
            && path.sub.is_none()
        {
            let by_store = if path.name.eq_ignore_ascii_case("userName") {
                let rows = self
                    .store
                    .resources_by_lookup_key(&self.tenant, ResourceType::User, value)
                    .await?;
                // Authoritative unless a userName can also come from the downstream.
                let stored_only = self
                    .mapping
                    .rule_for("userName")
                    .is_some_and(|r| r.is_stored() && r.default_from.is_none());
                Some((rows, stored_only))
            } else if path.name.eq_ignore_ascii_case("externalId") && self.external_id_stored() {
                let rows = self
                    .store
                    .resources_by_external_id(&self.tenant, ResourceType::User, value)
                    .await?;
                Some((rows, true))
            } else {
                None
            };
            if let Some((rows, authoritative)) = by_store {
                let mut found = Vec::new();
                for row in rows.iter().filter(|r| !is_tombstone(r)) {
                    match self.load(&row.scim_id).await {
                        Ok(loaded) => {
                            let r = self.resource_of(ctx, &row.scim_id, Some(row), &loaded.record);
                            if matches(filter, &r, schema) {
                                found.push(r);
                            }
                        }
                        Err(ServiceError::Downstream(DownstreamError::NotFound(_))) => {}
                        Err(e) => return Err(e),
                    }
                }
                if authoritative || !found.is_empty() {
                    return Ok(found);
                }
            }
        }
        let pushed = self.mapping.push_down(filter);
        Ok(self
            .all(ctx, pushed.as_ref())
            .await?
            .into_iter()
            .filter(|r| matches(filter, r, schema))
            .collect())
    }

    async fn all(
        &self,
        ctx: &RequestContext,
        search: Option<&(String, String)>,
    ) -> Result<Vec<Value>, ServiceError> {
        let ticket = self.records.ticket();
        let records = self.api.list(search, None).await?.records;
        self.resources_of(ctx, records, ticket).await
    }

    /// SCIM resources of downstream records read after `ticket`, correlated through the store
    /// (deleted users left out; in UUID mode a record seen for the first time gets its id now).
    async fn resources_of(
        &self,
        ctx: &RequestContext,
        records: Vec<Value>,
        ticket: Ticket,
    ) -> Result<Vec<Value>, ServiceError> {
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let downstream_id = self.api.id_of(&record)?;
            let row = self
                .store
                .resource_by_downstream_id(&self.tenant, ResourceType::User, &downstream_id)
                .await?;
            let row = match (row, self.ids) {
                (Some(r), _) if is_tombstone(&r) => continue,
                (Some(r), _) => Some(r),
                (None, IdStyle::Downstream) => None,
                (None, IdStyle::Uuid) => {
                    let resource = self.mapping.to_scim(&record);
                    let data =
                        self.row_data(&downstream_id, &resource, self.kept_of_record(&resource));
                    let id = uuid::Uuid::new_v4().to_string();
                    Some(
                        self.store
                            .put_resource(&self.tenant, ResourceType::User, &id, &data)
                            .await?,
                    )
                }
            };
            let scim_id = row
                .as_ref()
                .map_or_else(|| downstream_id.clone(), |r| r.scim_id.clone());
            self.fill_cache(&downstream_id, row.as_ref(), &record, ticket);
            out.push(self.resource_of(ctx, &scim_id, row.as_ref(), &record));
        }
        Ok(out)
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

    /// Finishes what a crash interrupted: a journaled create whose record exists downstream
    /// but has no correlation gets one (found by its userName), a journaled delete has its
    /// store row removed. Only intents older than `min_age` are settled, so writes still in
    /// flight (here or in another instance sharing the store) are left to finish. Returns how
    /// many intents were settled.
    pub async fn recover(&self, min_age: std::time::Duration) -> Result<usize, ServiceError> {
        let cutoff = time::OffsetDateTime::now_utc() - min_age;
        let pending: Vec<_> = self
            .store
            .pending_intents(Some(&self.tenant))
            .await?
            .into_iter()
            .filter(|i| {
                time::OffsetDateTime::parse(
                    &i.created,
                    &time::format_description::well_known::Rfc3339,
                )
                .is_ok_and(|created| created <= cutoff)
            })
            .collect();
        for intent in &pending {
            let text = |key: &str| {
                intent
                    .payload
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            };
            match intent.kind.as_str() {
                "create-user" => self.settle_create(&intent.payload).await?,
                "delete-user" => match self.api.get(text("downstreamId")).await {
                    // The downstream delete happened: finish it in the store.
                    Err(DownstreamError::NotFound(_)) => {
                        self.store
                            .delete_resource(&self.tenant, ResourceType::User, text("id"))
                            .await?;
                    }
                    // It did not: the user stays, and the client's retry will delete it.
                    Ok(_) => {}
                    Err(e) => return Err(e.into()),
                },
                other => tracing::warn!(kind = other, "unknown journal entry dropped"),
            }
            self.store.complete_intent(intent.id).await?;
            tracing::warn!(kind = %intent.kind, id = %intent.id, "settled a write a crash interrupted");
        }
        Ok(pending.len())
    }

    /// Finishes a create a crash interrupted: the record it made, found as the journal says
    /// (by what the downstream holds), is correlated with the client's view of the user (its
    /// userName, externalId and what the store keeps). A second match, if the API took a
    /// duplicate, is left for `reconcile` to report.
    async fn settle_create(&self, journaled: &Value) -> Result<(), ServiceError> {
        let user_name = journaled
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let held = journaled
            .get("identity")
            .and_then(Value::as_str)
            .and_then(|text| text.parse::<Filter>().ok());
        let identity = held.clone().unwrap_or_else(|| Self::named(user_name));
        let Some(found) = self.uncorrelated(&identity).await?.into_iter().next() else {
            if held.is_none() {
                tracing::warn!(
                    "an interrupted create could not be looked up by what the API holds (no \
                     [users.search] term for a field the create sends); `reconcile` lists \
                     records without a correlation"
                );
            }
            // Otherwise the look-up ruled the record out: the create never reached the API.
            return Ok(());
        };
        let mut resource = found.resource;
        if let Value::Object(fields) = &mut resource {
            for key in ["userName", "externalId"] {
                if let Some(value) = journaled.get(key).filter(|v| v.is_string()) {
                    fields.insert(key.into(), value.clone());
                }
            }
        }
        let kept = journaled
            .get("kept")
            .cloned()
            .unwrap_or_else(|| self.kept_of_record(&resource));
        let scim_id = match self.ids {
            IdStyle::Downstream => found.downstream_id.clone(),
            IdStyle::Uuid => uuid::Uuid::new_v4().to_string(),
        };
        let data = self.row_data(&found.downstream_id, &resource, kept);
        self.store
            .put_resource(&self.tenant, ResourceType::User, &scim_id, &data)
            .await?;
        Ok(())
    }

    /// Compares the store with the downstream: correlations whose record is gone (`missing`)
    /// and records nobody correlated (`orphans`, e.g. made outside the gateway or left by a
    /// crash). With `fix`, missing correlations are deleted (with their memberships) and
    /// orphans are correlated, as a create through the gateway would have.
    pub async fn reconcile(&self, fix: bool) -> Result<Reconciliation, ServiceError> {
        let mut everything = self.api.clone();
        everything.endpoints.list.max_scan = u64::MAX;
        let records = everything.list(None, None).await?.records;
        let mut downstream_ids = std::collections::HashSet::new();
        for record in &records {
            downstream_ids.insert(self.api.id_of(record)?);
        }
        let total = self
            .store
            .count_resources(&self.tenant, ResourceType::User)
            .await?;
        let rows = self
            .store
            .list_resources(&self.tenant, ResourceType::User, 0, total)
            .await?;
        let correlated: std::collections::HashSet<String> = rows
            .iter()
            .filter_map(|r| r.downstream_id.clone())
            .collect();
        let mut report = Reconciliation::default();
        for row in &rows {
            let gone = row
                .downstream_id
                .as_ref()
                .is_some_and(|d| !downstream_ids.contains(d));
            if gone {
                report.missing.push(row.scim_id.clone());
                if fix {
                    self.store
                        .delete_resource(&self.tenant, ResourceType::User, &row.scim_id)
                        .await?;
                }
            }
        }
        for record in records {
            let downstream_id = self.api.id_of(&record)?;
            if correlated.contains(&downstream_id) {
                continue;
            }
            report.orphans.push(downstream_id.clone());
            if fix {
                let mut resource = self.mapping.to_scim(&record);
                self.mapping.fill_defaults(&mut resource);
                let scim_id = match self.ids {
                    IdStyle::Downstream => downstream_id.clone(),
                    IdStyle::Uuid => uuid::Uuid::new_v4().to_string(),
                };
                let kept = self.kept_of_record(&resource);
                let data = self.row_data(&downstream_id, &resource, kept);
                self.store
                    .put_resource(&self.tenant, ResourceType::User, &scim_id, &data)
                    .await?;
            }
        }
        report.checked = downstream_ids.len();
        Ok(report)
    }

    /// Writes the current rules' role and licences into a user who is in `groups`.
    pub async fn entitle(
        &self,
        resource: &mut Value,
        groups: &[String],
    ) -> Result<(), ServiceError> {
        let active = resource.get("active") != Some(&Value::Bool(false));
        let mut names = Vec::new();
        for group in groups {
            if let Some(row) = self
                .store
                .resource_by_scim_id(&self.tenant, ResourceType::Group, group)
                .await?
                && let Some(name) = row.attributes.get("displayName").and_then(Value::as_str)
            {
                names.push(name.to_owned());
            }
        }
        let Some(decision) = self
            .groups
            .rules
            .evaluate(names.iter().map(String::as_str), active)
        else {
            return Ok(());
        };
        if let Some(target) = &self.groups.role_target {
            target.set(resource, decision.role.map_or(Value::Null, Value::String));
        }
        if let Some(target) = &self.groups.licence_target {
            let licences = decision.licences.into_iter().map(Value::String).collect();
            target.set(resource, Value::Array(licences));
        }
        Ok(())
    }

    /// Re-evaluates the group rules for one user after its memberships changed; a user the
    /// gateway cannot find is skipped (it may have been deleted meanwhile).
    pub async fn reevaluate(&self, ctx: &RequestContext, id: &str) -> Result<(), ServiceError> {
        if !self.groups.rules.is_active() {
            return Ok(());
        }
        let outcome = self
            .retrying(id, None, || async {
                let loaded = self.load(id).await?;
                let resource = self.attributes_of(loaded.row.as_ref(), &loaded.record);
                self.write(ctx, loaded, resource, None).await
            })
            .await;
        match outcome {
            Ok(_) | Err(ServiceError::Downstream(DownstreamError::NotFound(_))) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Stores the new state of a user, then sends it downstream (the whole record or the
    /// changed fields, as gateway.toml says; nothing when nothing changed), rolling the store
    /// back if the downstream refuses.
    async fn write(
        &self,
        ctx: &RequestContext,
        loaded: Loaded,
        mut resource: Value,
        if_match: Option<i64>,
    ) -> Result<Value, ServiceError> {
        check_version(loaded.row.as_ref(), if_match)?;
        let groups = self.store.groups_of(&self.tenant, &loaded.scim_id).await?;
        self.entitle(&mut resource, &groups).await?;
        let kept = self.admit(&resource, &self.mapping.to_scim(&loaded.record))?;
        let body = match self.api.endpoints.update_style {
            UpdateStyle::Full => {
                let body = self
                    .mapping
                    .to_downstream_replace(&resource, &loaded.record)?;
                (body != loaded.record).then_some(body)
            }
            UpdateStyle::Changed => {
                let old = self.mapping.to_scim(&loaded.record);
                let body = self.mapping.changed_fields(&old, &resource)?;
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
        let (row, previous) = match &loaded.row {
            Some(row) => {
                let previous = ResourceData {
                    downstream_id: row.downstream_id.clone(),
                    external_id: row.external_id.clone(),
                    lookup_key: row.lookup_key.clone(),
                    attributes: row.attributes.clone(),
                };
                let version = self
                    .store
                    .update_resource(
                        &self.tenant,
                        ResourceType::User,
                        &loaded.scim_id,
                        &data,
                        Some(row.version),
                    )
                    .await?;
                (version, Some(previous))
            }
            None => {
                let row = self
                    .store
                    .put_resource(&self.tenant, ResourceType::User, &loaded.scim_id, &data)
                    .await?;
                (row.version, None)
            }
        };
        self.records.forget(&loaded.downstream_id);
        let record = match body {
            Some(body) => match self.api.update(&loaded.downstream_id, body).await {
                Ok(record) => record,
                Err(e) => {
                    self.roll_back(&loaded.scim_id, previous, row).await;
                    return Err(e.into());
                }
            },
            None => loaded.record,
        };
        self.records
            .remember(&loaded.downstream_id, row, Arc::new(record.clone()));
        let row = self
            .store
            .resource_by_scim_id(&self.tenant, ResourceType::User, &loaded.scim_id)
            .await?;
        Ok(self.resource_of(ctx, &loaded.scim_id, row.as_ref(), &record))
    }

    /// Puts back what the store held before a write whose downstream call failed.
    async fn roll_back(&self, scim_id: &str, previous: Option<ResourceData>, version: i64) {
        let outcome = match previous {
            Some(data) => self
                .store
                .update_resource(
                    &self.tenant,
                    ResourceType::User,
                    scim_id,
                    &data,
                    Some(version),
                )
                .await
                .map(|_| ()),
            None => self
                .store
                .delete_resource(&self.tenant, ResourceType::User, scim_id)
                .await
                .map(|_| ()),
        };
        if let Err(e) = outcome {
            tracing::error!(scim_id, error = %e, "could not roll the store back after a failed downstream write");
        }
    }

    /// The SCIM attributes of a user: mapped from the record, plus what the store keeps.
    fn attributes_of(&self, row: Option<&Resource>, record: &Value) -> Value {
        let kept = row.map_or(&Value::Null, |r| &r.attributes);
        let mut attributes = self.mapping.read(record, kept);
        if let Some(row) = row
            && self.external_id_stored()
            && let (Some(ext), Value::Object(m)) = (&row.external_id, &mut attributes)
        {
            m.insert("externalId".into(), Value::String(ext.clone()));
        }
        self.mapping.fill_shown_defaults(&mut attributes);
        attributes
    }

    /// The SCIM resource of a user: schemas, id, attributes and meta.
    fn resource_of(
        &self,
        ctx: &RequestContext,
        scim_id: &str,
        row: Option<&Resource>,
        record: &Value,
    ) -> Value {
        let mut attributes = match self.attributes_of(row, record) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let mut resource = Map::new();
        let shell = Value::Object(attributes.clone());
        resource.insert(
            "schemas".into(),
            Value::Array(self.mapping.schemas_of(&shell)),
        );
        resource.insert("id".into(), Value::String(scim_id.to_owned()));
        let mut meta = match attributes.remove("meta") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        resource.extend(attributes);
        meta.insert("resourceType".into(), Value::String("User".into()));
        if let Some(row) = row {
            meta.entry("created")
                .or_insert_with(|| Value::String(row.created.clone()));
            meta.entry("lastModified")
                .or_insert_with(|| Value::String(row.last_modified.clone()));
            meta.insert("version".into(), Value::String(row.etag()));
        }
        meta.insert(
            "location".into(),
            Value::String(format!("{}/Users/{}", ctx.base_url, scim_id)),
        );
        resource.insert("meta".into(), Value::Object(meta));
        Value::Object(resource)
    }
}

fn is_tombstone(row: &Resource) -> bool {
    row.attributes.get(TOMBSTONE) == Some(&Value::Bool(true))
}

impl ScimService for UsersService {
    /// POST /Users.
    async fn create(&self, ctx: &RequestContext, body: &Value) -> Result<Value, ServiceError> {
        let mut resource = self.resource_in(body)?;
        let user_name = Self::user_name_of(&resource).unwrap_or_default();
        let reused = self.check_unique(&user_name, None).await?;
        self.entitle(&mut resource, &[]).await?;
        if let Some(tombstone) = reused {
            // Deactivate mode kept the record of a deleted user: bring it back, unless the
            // record is gone downstream too (then it is created anew below).
            if let Some(back) = self.recreate(ctx, tombstone, &resource).await? {
                return Ok(back);
            }
        }
        let body = self.mapping.to_downstream_create(&resource)?;
        let kept = self.admit(&resource, &self.mapping.to_scim(&body))?;
        // The journal keeps how to find the record and the client's view of it, for `recover`.
        let identity = self.identity(&resource, &body);
        let journaled = json!({
            "userName": user_name,
            "externalId": resource.get("externalId"),
            "identity": identity.as_ref().map(Filter::to_string),
            "kept": kept,
        });
        let intent = self
            .store
            .begin_intent(&self.tenant, "create-user", &journaled)
            .await?;
        let identity = identity.unwrap_or_else(|| Self::named(&user_name));
        let Created { record, adopted } = match self.create_downstream(&identity, &body).await {
            Ok(created) => created,
            Err(failed) => {
                // A record that may exist downstream is left to `recover`, which correlates it.
                if !failed.maybe_created {
                    self.store.complete_intent(intent).await?;
                }
                return Err(failed.error);
            }
        };
        let downstream_id = self.api.id_of(&record)?;
        let scim_id = match self.ids {
            IdStyle::Downstream => downstream_id.clone(),
            IdStyle::Uuid => uuid::Uuid::new_v4().to_string(),
        };
        let data = self.row_data(&downstream_id, &resource, kept);
        let row = match self
            .store
            .put_resource(&self.tenant, ResourceType::User, &scim_id, &data)
            .await
        {
            Ok(row) => row,
            Err(e) => {
                // Without its correlation the new record would be an orphan: undo it. Not an
                // adopted one: recovery may have correlated it meanwhile.
                if !adopted
                    && let DeleteMode::Delete(op) = &self.api.endpoints.delete
                    && self.api.delete(op, &downstream_id).await.is_ok()
                {
                    self.store.complete_intent(intent).await.ok();
                }
                return Err(e.into());
            }
        };
        self.store.complete_intent(intent).await?;
        self.records
            .remember(&downstream_id, row.version, Arc::new(record.clone()));
        Ok(self.resource_of(ctx, &scim_id, Some(&row), &record))
    }

    async fn get(
        &self,
        ctx: &RequestContext,
        id: &str,
        projection: &Projection,
    ) -> Result<Value, ServiceError> {
        let row = self
            .store
            .resource_by_scim_id(&self.tenant, ResourceType::User, id)
            .await?;
        let downstream_id = self
            .downstream_id_for(id, row.as_ref())
            .ok_or_else(|| DownstreamError::NotFound(id.to_owned()))?;
        // Only a user with a store row has a version to check the cached record against.
        let cached = row
            .as_ref()
            .and_then(|r| self.records.record(&downstream_id, r.version));
        let record = match cached {
            Some(r) => (*r).clone(),
            None => {
                let loaded = self.load(id).await?;
                loaded.record
            }
        };
        let resource = self.resource_of(ctx, id, row.as_ref(), &record);
        Ok(projection.apply(resource, &self.mapping.catalog))
    }

    /// GET /Users with filter, paging, sorting and projection.
    async fn list(&self, ctx: &RequestContext, params: &ListParams) -> Result<Value, ServiceError> {
        let schema = &self.mapping.catalog;
        if let Some(filter) = &params.filter {
            let text = Value::String(filter.to_string());
            validate(filter, &schema.widened(&[&text])).map_err(ListParamError::Filter)?;
        }
        let start = params.start_index;
        let (total, page) = match (&params.filter, &params.sort_by) {
            (None, None) => {
                let ticket = self.records.ticket();
                let listing = self.api.list(None, Some((start - 1, params.count))).await?;
                let page = self.resources_of(ctx, listing.records, ticket).await?;
                (listing.total.unwrap_or(0), page)
            }
            (filter, _) => {
                let found = match filter {
                    Some(f) => self.find(ctx, f).await?,
                    None => self.all(ctx, None).await?,
                };
                params.window(found, schema)
            }
        };
        Ok(params.respond(total, page, schema))
    }

    /// PUT /Users/{id}: the resource is replaced by the body.
    async fn replace(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        if_match: Option<i64>,
    ) -> Result<Value, ServiceError> {
        let resource = self.resource_in(body)?;
        let user_name = Self::user_name_of(&resource).unwrap_or_default();
        self.retrying(id, if_match, || async {
            let loaded = self.load(id).await?;
            self.check_unique(&user_name, Some(id)).await?;
            self.write(ctx, loaded, resource.clone(), if_match).await
        })
        .await
    }

    /// PATCH /Users/{id}: the operations are applied to the current resource, then the result
    /// is written downstream as the configured update call.
    async fn patch(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        if_match: Option<i64>,
    ) -> Result<Option<Value>, ServiceError> {
        let mut body = body.clone();
        stringify_patch(&mut body, &self.mapping.catalog);
        decode_patch(&mut body, &self.mapping.catalog);
        let body = &body;
        let request = PatchRequest::parse(body, &self.mapping.catalog.widened(&[body]))?;
        self.retrying(id, if_match, || async {
            let loaded = self.load(id).await?;
            let mut resource = self.attributes_of(loaded.row.as_ref(), &loaded.record);
            // With its id, so a client that repeats it unchanged (Okta does) is not refused.
            if let Value::Object(fields) = &mut resource {
                fields.insert("id".into(), Value::String(id.to_owned()));
            }
            let schema = self.mapping.catalog.widened(&[body, &resource]);
            apply(&mut resource, &request, &schema)?;
            if let Value::Object(fields) = &mut resource {
                fields.remove("id");
            }
            let user_name = Self::user_name_of(&resource).unwrap_or_default();
            self.check_unique(&user_name, Some(id)).await?;
            self.write(ctx, loaded, resource, if_match).await
        })
        .await
        .map(Some)
    }

    /// DELETE /Users/{id}: a downstream delete, or deactivation where configured; the user
    /// answers 404 afterwards either way.
    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<(), ServiceError> {
        let _turn = self.turns.take(id).await?;
        let loaded = self.load(id).await?;
        check_version(loaded.row.as_ref(), if_match)?;
        self.records.forget(&loaded.downstream_id);
        match &self.api.endpoints.delete {
            DeleteMode::Delete(op) => {
                let intent = self
                    .store
                    .begin_intent(
                        &self.tenant,
                        "delete-user",
                        &json!({"id": id, "downstreamId": loaded.downstream_id}),
                    )
                    .await?;
                match self.api.delete(op, &loaded.downstream_id).await {
                    Ok(()) | Err(DownstreamError::NotFound(_)) => {}
                    Err(e) => {
                        self.store.complete_intent(intent).await?;
                        return Err(e.into());
                    }
                }
                self.store
                    .delete_resource(&self.tenant, ResourceType::User, id)
                    .await?;
                self.store.complete_intent(intent).await?;
                // A read that began before the record was gone must not cache it.
                self.records.forget(&loaded.downstream_id);
            }
            DeleteMode::Deactivate => {
                let mut resource = self.attributes_of(loaded.row.as_ref(), &loaded.record);
                if let Value::Object(fields) = &mut resource {
                    fields.insert("active".into(), Value::Bool(false));
                }
                let downstream_id = loaded.downstream_id.clone();
                let computed = self.mapping.to_scim(&loaded.record);
                self.write(ctx, loaded, resource.clone(), if_match).await?;
                self.records.forget(&downstream_id);
                let kept = self.mapping.split(&resource, &computed).kept;
                let mut data = self.row_data(&downstream_id, &resource, kept);
                if let Value::Object(attrs) = &mut data.attributes {
                    attrs.insert(TOMBSTONE.into(), Value::Bool(true));
                }
                self.store
                    .put_resource(&self.tenant, ResourceType::User, id, &data)
                    .await?;
            }
        }
        Ok(())
    }
}
