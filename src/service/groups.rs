//! SCIM Groups kept in the gateway's store (`[groups] mode = "virtual"`), and also made
//! downstream in `downstream` mode (each change there first: one call per member, or the whole
//! member list when that is the API's shape). Memberships are rows of their own: a member PATCH
//! costs the same for a group of ten or of fifty thousand (downstream too, unless the API takes
//! only whole lists), adding a member twice or removing a non-member succeeds (Entra ID quarantines apps whose calls keep
//! failing), and `excludedAttributes=members` never reads the members. Every membership change
//! re-evaluates the group rules of the users it touches. Writes to one group take turns
//! ([`Turns`]): clients without If-Match never see a 412, and a downstream that takes whole
//! member lists never gets two lists of one group at once (each would drop the other's change).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::turns::Turns;
use super::users::UsersService;
use super::{RequestContext, ScimService, ServiceError, check_version};
use crate::downstream::groups::{GroupApi, GroupRecord};
use crate::scim::catalog::GROUP_URN;
use crate::scim::filter::{CompValue, CompareOp, Filter, matches, validate};
use crate::scim::list::{ListParamError, ListParams, Projection};
use crate::scim::patch::{PatchOpKind, PatchOperation, PatchRequest, apply};
use crate::scim::resource::canonicalize;
use crate::scim::schema::ResourceSchema;
use crate::store::{Resource, ResourceData, ResourceType, TenantStore};

/// Members read per store call when a whole member list is needed.
const MEMBER_PAGE: u32 = 1000;

/// The Groups service of one tenant.
pub struct GroupsService {
    /// The tenant's rows of the store (the tenant is the store's).
    pub store: TenantStore,
    pub schema: ResourceSchema,
    /// Users whose role and licences follow their groups.
    pub users: Arc<UsersService>,
    /// The downstream's groups (`mode = "downstream"`): every change is made there first.
    pub api: Option<GroupApi>,
    /// One write at a time per group.
    pub turns: Turns,
}

impl GroupsService {
    /// Deletes a group just created downstream whose row could not be stored, so that no
    /// group exists downstream that the gateway does not know.
    async fn undo_create(&self, downstream_id: Option<&str>) {
        if let (Some(api), Some(group)) = (&self.api, downstream_id)
            && let Err(e) = api.delete(group).await
        {
            tracing::error!(error = %e, group, "group left downstream without a correlation; `reconcile` will not see it, delete it by hand");
        }
    }

    /// Adds members, downstream first, then in the store.
    async fn add_members(&self, group: &Resource, members: &[String]) -> Result<(), ServiceError> {
        self.change_members(group, members, true).await
    }

    /// Removes members, downstream first, then in the store.
    async fn remove_members(
        &self,
        group: &Resource,
        members: &[String],
    ) -> Result<(), ServiceError> {
        self.change_members(group, members, false).await
    }

    async fn change_members(
        &self,
        group: &Resource,
        members: &[String],
        add: bool,
    ) -> Result<(), ServiceError> {
        if let (Some(api), Some(group_id)) = (&self.api, &group.downstream_id) {
            if api.writes_member_lists() {
                let mut list: BTreeSet<String> = self
                    .all_members(&group.scim_id)
                    .await?
                    .into_iter()
                    .collect();
                for member in members {
                    if add {
                        list.insert(member.clone());
                    } else {
                        list.remove(member);
                    }
                }
                self.write_member_list(api, group, group_id, list.iter())
                    .await?;
            } else {
                self.call_each(api, group_id, members, add).await?;
            }
        }
        let group_id = &group.scim_id;
        if add {
            self.store.add_members(group_id, members).await?;
        } else {
            self.store.remove_members(group_id, members).await?;
        }
        Ok(())
    }

    /// Makes `members` the whole member list; returns the members before. Downstream, a
    /// per-member API gets only the difference.
    async fn set_members(
        &self,
        group: &Resource,
        members: &[String],
    ) -> Result<Vec<String>, ServiceError> {
        let before = self.all_members(&group.scim_id).await?;
        if let (Some(api), Some(group_id)) = (&self.api, &group.downstream_id) {
            let new: BTreeSet<&String> = members.iter().collect();
            if api.writes_member_lists() {
                self.write_member_list(api, group, group_id, new.into_iter())
                    .await?;
            } else {
                let old: BTreeSet<&String> = before.iter().collect();
                let gone: Vec<String> = old.difference(&new).map(|m| (*m).clone()).collect();
                let added: Vec<String> = new.difference(&old).map(|m| (*m).clone()).collect();
                self.call_each(api, group_id, &gone, false).await?;
                self.call_each(api, group_id, &added, true).await?;
            }
        }
        self.store.replace_members(&group.scim_id, members).await?;
        Ok(before)
    }

    /// Adds or removes each member downstream with a call of its own; members not
    /// provisioned downstream are skipped.
    async fn call_each(
        &self,
        api: &GroupApi,
        group_id: &str,
        members: &[String],
        add: bool,
    ) -> Result<(), ServiceError> {
        for user in self.downstream_ids(members.iter()).await? {
            if add {
                api.add_member(group_id, &user).await?;
            } else {
                api.remove_member(group_id, &user).await?;
            }
        }
        Ok(())
    }

    /// Writes `members` (SCIM ids) downstream as the group's whole member list, with its
    /// current name and externalId (the update call may replace the whole record).
    async fn write_member_list(
        &self,
        api: &GroupApi,
        group: &Resource,
        group_id: &str,
        members: impl Iterator<Item = &String>,
    ) -> Result<(), ServiceError> {
        // Re-read: a rename earlier in the same request changed the name.
        let row = self.row(&group.scim_id).await?;
        let ids = self.downstream_ids(members).await?;
        let record = GroupRecord {
            name: row
                .attributes
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            external_id: row.external_id.as_deref(),
            members: Some(&ids),
        };
        Ok(api.update(group_id, record).await?)
    }

    /// The downstream ids of the members provisioned downstream.
    async fn downstream_ids(
        &self,
        members: impl Iterator<Item = &String>,
    ) -> Result<Vec<String>, ServiceError> {
        let mut ids = Vec::new();
        for member in members {
            if let Some(id) = self.users.downstream_id_of(member).await? {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Writes a group's new name and externalId (downstream first), if the row is still at
    /// the version read; returns the name and the row written.
    async fn store_attributes(
        &self,
        row: &Resource,
        group: &Value,
    ) -> Result<(String, Resource), ServiceError> {
        let name = display_name(group)?;
        self.check_unique(&name, Some(&row.scim_id)).await?;
        let data = row_data_of(row, group, &name);
        self.rename(row, &data).await?;
        let written = self
            .store
            .update_resource(ResourceType::Group, &row.scim_id, &data, Some(row.version))
            .await?;
        Ok((name, written))
    }

    /// Renames the group downstream when its name or externalId changes.
    async fn rename(&self, row: &Resource, data: &ResourceData) -> Result<(), ServiceError> {
        let unchanged = data.attributes.get("displayName") == row.attributes.get("displayName")
            && data.external_id == row.external_id;
        if let (false, Some(api), Some(group_id), Some(name)) = (
            unchanged,
            &self.api,
            &row.downstream_id,
            data.attributes.get("displayName").and_then(Value::as_str),
        ) {
            // A member-list API's update may replace the whole record: the list goes too.
            let members = match api.writes_member_lists() {
                true => {
                    let members = self.all_members(&row.scim_id).await?;
                    Some(self.downstream_ids(members.iter()).await?)
                }
                false => None,
            };
            let record = GroupRecord {
                name,
                external_id: data.external_id.as_deref(),
                members: members.as_deref(),
            };
            api.update(group_id, record).await?;
        }
        Ok(())
    }

    async fn check_unique(&self, name: &str, except: Option<&str>) -> Result<(), ServiceError> {
        let taken = self
            .store
            .resources_by_lookup_key(ResourceType::Group, name)
            .await?
            .into_iter()
            .any(|r| Some(r.scim_id.as_str()) != except);
        if taken {
            return Err(ServiceError::Conflict(format!(
                "a group named {name:?} already exists"
            )));
        }
        Ok(())
    }

    async fn row(&self, id: &str) -> Result<Resource, ServiceError> {
        self.store
            .resource_by_scim_id(ResourceType::Group, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("group {id} not found")))
    }

    async fn candidates(&self, filter: &Filter) -> Result<Vec<Resource>, ServiceError> {
        if let Filter::Compare(path, CompareOp::Eq, CompValue::Str(value)) = filter
            && path.urn.is_none()
            && path.sub.is_none()
        {
            if path.name.eq_ignore_ascii_case("displayName") {
                return Ok(self
                    .store
                    .resources_by_lookup_key(ResourceType::Group, value)
                    .await?);
            }
            if path.name.eq_ignore_ascii_case("externalId") {
                return Ok(self
                    .store
                    .resources_by_external_id(ResourceType::Group, value)
                    .await?);
            }
        }
        self.all_rows().await
    }

    async fn all_rows(&self) -> Result<Vec<Resource>, ServiceError> {
        let total = self.store.count_resources(ResourceType::Group).await?;
        Ok(self
            .store
            .list_resources(ResourceType::Group, 0, total)
            .await?)
    }

    async fn all_members(&self, id: &str) -> Result<Vec<String>, ServiceError> {
        let mut members = Vec::new();
        loop {
            let page = self
                .store
                .members_page(id, members.last().map(String::as_str), MEMBER_PAGE)
                .await?;
            let done = page.len() < MEMBER_PAGE as usize;
            members.extend(page);
            if done {
                return Ok(members);
            }
        }
    }

    async fn reevaluate<'a>(
        &self,
        ctx: &RequestContext,
        members: impl Iterator<Item = &'a String>,
    ) -> Result<(), ServiceError> {
        for member in members {
            self.users.reevaluate(ctx, member).await?;
        }
        Ok(())
    }

    async fn resource_of(
        &self,
        ctx: &RequestContext,
        row: &Resource,
        with_members: bool,
    ) -> Result<Value, ServiceError> {
        let mut resource = Map::new();
        resource.insert("schemas".into(), json!([GROUP_URN]));
        resource.insert("id".into(), Value::String(row.scim_id.clone()));
        if let Some(ext) = &row.external_id {
            resource.insert("externalId".into(), Value::String(ext.clone()));
        }
        if let Some(name) = row.attributes.get("displayName") {
            resource.insert("displayName".into(), name.clone());
        }
        if with_members {
            let members = self
                .all_members(&row.scim_id)
                .await?
                .into_iter()
                .map(|m| {
                    json!({"value": m, "$ref": format!("{}/Users/{m}", ctx.base_url), "type": "User"})
                })
                .collect();
            resource.insert("members".into(), Value::Array(members));
        }
        resource.insert(
            "meta".into(),
            json!({
                "resourceType": "Group",
                "created": row.created,
                "lastModified": row.last_modified,
                "version": row.etag(),
                "location": format!("{}/Groups/{}", ctx.base_url, row.scim_id),
            }),
        );
        Ok(Value::Object(resource))
    }
}

/// What a PATCH operation does to the member list.
enum MemberChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    Replace(Vec<String>),
}

/// The membership change an operation makes, or `None` for an operation on other attributes.
/// Accepts `path: "members"` with a value list, `members[value eq "id"]` (also several `or`ed
/// ids), and a no-path value object with a `members` key (Entra ID and Okta send all three).
fn membership_change(op: &PatchOperation) -> Result<Option<MemberChange>, ServiceError> {
    let ids = || member_ids(op.value.as_ref());
    match &op.path {
        Some(path) if path.attr.name.eq_ignore_ascii_case("members") => {
            if let Some(filter) = &path.filter {
                let selected = filter_ids(filter).ok_or_else(|| {
                    ServiceError::Patch(crate::scim::patch::PatchError::InvalidFilter(
                        "a members filter may only name ids: members[value eq \"id\"]".into(),
                    ))
                })?;
                return Ok(Some(match op.op {
                    PatchOpKind::Remove => MemberChange::Remove(selected),
                    PatchOpKind::Add | PatchOpKind::Replace => MemberChange::Add(selected),
                }));
            }
            Ok(Some(match op.op {
                PatchOpKind::Add => MemberChange::Add(ids()),
                PatchOpKind::Remove if op.value.is_some() => MemberChange::Remove(ids()),
                PatchOpKind::Remove => MemberChange::RemoveAll,
                PatchOpKind::Replace => MemberChange::Replace(ids()),
            }))
        }
        None => match op.value.as_ref().and_then(|v| v.as_object()) {
            Some(fields) if fields.keys().any(|k| k.eq_ignore_ascii_case("members")) => {
                if fields.len() > 1 {
                    return Err(ServiceError::Patch(
                        crate::scim::patch::PatchError::InvalidSyntax(
                            "send members in an operation of their own".into(),
                        ),
                    ));
                }
                let members = fields.values().next();
                let listed = member_ids(members);
                Ok(Some(match op.op {
                    PatchOpKind::Replace => MemberChange::Replace(listed),
                    PatchOpKind::Remove => MemberChange::Remove(listed),
                    PatchOpKind::Add => MemberChange::Add(listed),
                }))
            }
            _ => Ok(None),
        },
        Some(_) => Ok(None),
    }
}

/// The ids of `value eq "id"` terms joined by `or`.
fn filter_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare(p, CompareOp::Eq, CompValue::Str(id))
            if p.name.eq_ignore_ascii_case("value") && p.sub.is_none() =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = filter_ids(a)?;
            ids.extend(filter_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// The member ids in a `members` value: `[{"value": id}, ...]`, one object, or bare strings.
fn member_ids(value: Option<&Value>) -> Vec<String> {
    let items = match value {
        Some(Value::Array(items)) => items.as_slice(),
        Some(single) => std::slice::from_ref(single),
        None => &[],
    };
    items
        .iter()
        .filter_map(|m| match m {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_owned),
            _ => None,
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn display_name(group: &Value) -> Result<String, ServiceError> {
    group
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| crate::mapping::MappingError::Required("displayName".into()).into())
}

fn row_data(group: &Value, name: &str) -> ResourceData {
    ResourceData {
        downstream_id: None,
        external_id: group
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        lookup_key: Some(name.to_lowercase()),
        attributes: json!({"displayName": name}),
    }
}

/// The row data of a changed group, keeping its downstream id.
fn row_data_of(row: &Resource, group: &Value, name: &str) -> ResourceData {
    ResourceData {
        downstream_id: row.downstream_id.clone(),
        ..row_data(group, name)
    }
}

/// The attributes PATCH may change, as a resource; `id` is there so a client that repeats it
/// unchanged (Okta's rename sends it) is not refused.
fn group_attributes(row: &Resource) -> Value {
    let mut group = Map::new();
    group.insert("id".into(), Value::String(row.scim_id.clone()));
    if let Some(name) = row.attributes.get("displayName") {
        group.insert("displayName".into(), name.clone());
    }
    if let Some(ext) = &row.external_id {
        group.insert("externalId".into(), Value::String(ext.clone()));
    }
    Value::Object(group)
}

fn wants_members(projection: &Projection) -> bool {
    let named = |paths: &[crate::scim::path::AttrPath]| {
        paths
            .iter()
            .any(|p| p.urn.is_none() && p.name.eq_ignore_ascii_case("members"))
    };
    !named(&projection.excluded)
        && (projection.attributes.is_empty() || named(&projection.attributes))
}

impl ScimService for GroupsService {
    /// POST /Groups.
    async fn create(&self, ctx: &RequestContext, body: &Value) -> Result<Value, ServiceError> {
        let group = canonicalize(body, &self.schema)?;
        let name = display_name(&group)?;
        self.check_unique(&name, None).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let _turn = self.turns.take(&id).await?;
        let mut data = row_data(&group, &name);
        if let Some(api) = &self.api {
            let record = GroupRecord {
                name: &name,
                external_id: data.external_id.as_deref(),
                members: None,
            };
            data.downstream_id = Some(api.create(record).await?);
        }
        let row = match self
            .store
            .put_resource(ResourceType::Group, &id, &data)
            .await
        {
            Ok(row) => row,
            Err(e) => {
                self.undo_create(data.downstream_id.as_deref()).await;
                return Err(e.into());
            }
        };
        let members = member_ids(group.get("members"));
        if !members.is_empty() {
            self.add_members(&row, &members).await?;
            self.reevaluate(ctx, members.iter()).await?;
        }
        self.resource_of(ctx, &row, true).await
    }

    /// GET /Groups/{id}; members are read only when the projection returns them.
    async fn get(
        &self,
        ctx: &RequestContext,
        id: &str,
        projection: &Projection,
    ) -> Result<Value, ServiceError> {
        let row = self.row(id).await?;
        let resource = self
            .resource_of(ctx, &row, wants_members(projection))
            .await?;
        Ok(projection.apply(resource, &self.schema))
    }

    /// GET /Groups: `displayName eq` and `externalId eq` come straight from the store's
    /// indexes; other filters are evaluated over the tenant's groups.
    async fn list(&self, ctx: &RequestContext, params: &ListParams) -> Result<Value, ServiceError> {
        if let Some(filter) = &params.filter {
            validate(filter, &self.schema).map_err(ListParamError::Filter)?;
        }
        let with_members = wants_members(&params.projection);
        let start = params.start_index;
        let (total, rows) = match (&params.filter, &params.sort_by) {
            (None, None) => {
                let total = self.store.count_resources(ResourceType::Group).await?;
                let rows = self
                    .store
                    .list_resources(ResourceType::Group, start - 1, params.count)
                    .await?;
                (total, rows)
            }
            (filter, _) => {
                let rows = match filter {
                    Some(f) => self.candidates(f).await?,
                    None => self.all_rows().await?,
                };
                (0, rows)
            }
        };
        let mut resources = Vec::with_capacity(rows.len());
        for row in &rows {
            resources.push(self.resource_of(ctx, row, with_members).await?);
        }
        let (total, page) = if params.filter.is_none() && params.sort_by.is_none() {
            (total, resources)
        } else {
            let found = resources
                .into_iter()
                .filter(|r| {
                    params
                        .filter
                        .as_ref()
                        .is_none_or(|f| matches(f, r, &self.schema))
                })
                .collect();
            params.window(found, &self.schema)
        };
        Ok(params.respond(total, page, &self.schema))
    }

    /// PUT /Groups/{id}: name, externalId and the whole member list are replaced.
    async fn replace(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        if_match: Option<i64>,
    ) -> Result<Value, ServiceError> {
        let group = canonicalize(body, &self.schema)?;
        let _turn = self.turns.take(id).await?;
        let row = self.row(id).await?;
        check_version(Some(&row), if_match)?;
        let (_, written) = self.store_attributes(&row, &group).await?;
        let members = member_ids(group.get("members"));
        let before = self.set_members(&row, &members).await?;
        let touched: BTreeSet<&String> = before.iter().chain(members.iter()).collect();
        self.reevaluate(ctx, touched.into_iter()).await?;
        // Member lists do not change the row: the one written is the one to show.
        self.resource_of(ctx, &written, true).await
    }

    /// PATCH /Groups/{id}: member operations go straight to the membership rows; other
    /// operations are applied to the group's attributes. Answers 204 (RFC 7644 §3.5.2).
    async fn patch(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        if_match: Option<i64>,
    ) -> Result<Option<Value>, ServiceError> {
        let request = PatchRequest::parse(body, &self.schema)?;
        let _turn = self.turns.take(id).await?;
        let row = self.row(id).await?;
        check_version(Some(&row), if_match)?;
        let mut attribute_ops = Vec::new();
        let mut changes = Vec::new();
        for op in &request.operations {
            match membership_change(op)? {
                Some(change) => changes.push(change),
                None => attribute_ops.push(op.clone()),
            }
        }
        if !attribute_ops.is_empty() {
            let mut group = group_attributes(&row);
            apply(
                &mut group,
                &PatchRequest {
                    operations: attribute_ops,
                },
                &self.schema,
            )?;
            let (name, _) = self.store_attributes(&row, &group).await?;
            if name
                != row
                    .attributes
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            {
                // Rules name groups: every member's role may change with the name.
                let members = self.all_members(id).await?;
                self.reevaluate(ctx, members.iter()).await?;
            }
        } else if !changes.is_empty() {
            self.store
                .touch_resource(ResourceType::Group, id, None)
                .await?;
        }
        for change in changes {
            let touched = match change {
                MemberChange::Add(ids) => {
                    self.add_members(&row, &ids).await?;
                    ids
                }
                MemberChange::Remove(ids) => {
                    self.remove_members(&row, &ids).await?;
                    ids
                }
                MemberChange::RemoveAll => self.set_members(&row, &[]).await?,
                MemberChange::Replace(ids) => {
                    let before = self.set_members(&row, &ids).await?;
                    before.into_iter().chain(ids).collect()
                }
            };
            self.reevaluate(ctx, touched.iter()).await?;
        }
        Ok(None)
    }

    /// DELETE /Groups/{id}: the group and its memberships go; its former members are
    /// re-evaluated.
    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<(), ServiceError> {
        let _turn = self.turns.take(id).await?;
        let row = self.row(id).await?;
        check_version(Some(&row), if_match)?;
        let members = self.all_members(id).await?;
        if let (Some(api), Some(group_id)) = (&self.api, &row.downstream_id) {
            api.delete(group_id).await?;
        }
        self.store.delete_resource(ResourceType::Group, id).await?;
        self.reevaluate(ctx, members.iter()).await
    }
}
