//! Groups that exist downstream (`[groups] mode = "downstream"`): the calls that create,
//! rename and delete a group and change its members. The gateway's store stays the SCIM view
//! of groups and memberships; each change is made downstream first. Members change in one of
//! the two shapes group APIs have: a call per member added or removed (so a member PATCH costs
//! the same for any group size), or the whole member list written as a field of the group
//! record (the only way such an API allows; its cost grows with the group).

use serde_json::{Map, Value};

use super::DownstreamError;
use super::client::DownstreamClient;
use super::operation::Operation;
use crate::json_pointer::JsonPointer;

/// `[groups]` operations and fields, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEndpoints {
    pub create: Operation,
    /// Renames (PATCH or PUT with the name fields); none when the API cannot rename. With
    /// [`MemberCalls::List`] it also writes the member list, and is required.
    pub update: Option<Operation>,
    pub delete: Operation,
    pub members: MemberCalls,
    /// Where the id is in a group record.
    pub id: JsonPointer,
    pub envelope: Option<JsonPointer>,
    /// Where displayName goes in a group record.
    pub name_field: JsonPointer,
    /// Where externalId goes, when the API keeps it.
    pub external_id_field: Option<JsonPointer>,
}

/// How the API changes a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberCalls {
    /// One call per member: paths with `{id}` (the group) and `{member}` (the member's
    /// downstream user id).
    Each { add: Operation, remove: Operation },
    /// The whole list of member ids at `field` of the record the update call sends
    /// (`groups.members_field`), as numbers when `numeric` (`groups.member_ids = "integer"`).
    List { field: JsonPointer, numeric: bool },
}

/// One tenant's downstream groups.
#[derive(Debug, Clone)]
pub struct GroupApi {
    client: DownstreamClient,
    endpoints: GroupEndpoints,
}

/// A group record's name, externalId and (for [`MemberCalls::List`]) member ids.
#[derive(Debug, Clone, Copy)]
pub struct GroupRecord<'a> {
    pub name: &'a str,
    pub external_id: Option<&'a str>,
    /// The downstream ids of all members; `None` leaves the members out of the record.
    pub members: Option<&'a [String]>,
}

impl GroupApi {
    pub fn new(client: DownstreamClient, endpoints: GroupEndpoints) -> Self {
        Self { client, endpoints }
    }

    /// The same groups through another client (a dry run's).
    pub fn with_client(&self, client: DownstreamClient) -> Self {
        Self {
            client,
            ..self.clone()
        }
    }

    /// True when members are written as a whole list with the update call.
    pub fn writes_member_lists(&self) -> bool {
        matches!(self.endpoints.members, MemberCalls::List { .. })
    }

    /// The record sent on create and update.
    fn record(&self, group: GroupRecord<'_>) -> Value {
        let mut record = Value::Object(Map::new());
        self.endpoints
            .name_field
            .set(&mut record, Value::String(group.name.to_owned()));
        if let (Some(field), Some(ext)) = (&self.endpoints.external_id_field, group.external_id) {
            field.set(&mut record, Value::String(ext.to_owned()));
        }
        if let (MemberCalls::List { field, numeric }, Some(members)) =
            (&self.endpoints.members, group.members)
        {
            let ids = members.iter().map(|id| member_id(id, *numeric)).collect();
            field.set(&mut record, Value::Array(ids));
        }
        super::wrap(self.endpoints.envelope.as_ref(), record)
    }

    /// A call about group `id` (every group call names one).
    async fn call(
        &self,
        op: &Operation,
        id: &str,
        body: Option<Value>,
    ) -> Result<Option<Value>, DownstreamError> {
        self.client
            .send_op(op, Some(id), body.as_ref(), "group")
            .await
    }

    /// Creates the group; returns its downstream id.
    pub async fn create(&self, group: GroupRecord<'_>) -> Result<String, DownstreamError> {
        let op = &self.endpoints.create;
        let url = op.url(self.client.base_url(), None)?;
        let id_at = self.endpoints.id.within(self.endpoints.envelope.as_ref());
        let body = self
            .client
            .create(op.method.clone(), url, &self.record(group), "group", &id_at)
            .await?
            .ok_or_else(|| {
                DownstreamError::BadResponse(format!("{} {} answered no body", op.method, op.path))
            })?;
        let record = match &self.endpoints.envelope {
            Some(p) => p.get(&body).unwrap_or(&body),
            None => &body,
        };
        super::id_at(&self.endpoints.id, record, "the created group", "groups.id")
    }

    /// Writes the group's name, externalId and (when given) member list with the update
    /// call; nothing to do without one.
    pub async fn update(&self, id: &str, group: GroupRecord<'_>) -> Result<(), DownstreamError> {
        match &self.endpoints.update {
            Some(op) => self
                .call(op, id, Some(self.record(group)))
                .await
                .map(|_| ()),
            None => Ok(()),
        }
    }

    /// Deletes the group; one already gone is not an error.
    pub async fn delete(&self, id: &str) -> Result<(), DownstreamError> {
        absent_is_done(self.call(&self.endpoints.delete, id, None).await)
    }

    /// Adds a member with its own call; one already there (409) is not an error. Nothing to
    /// do here when members are written as a list.
    pub async fn add_member(&self, id: &str, member: &str) -> Result<(), DownstreamError> {
        let MemberCalls::Each { add, .. } = &self.endpoints.members else {
            return Ok(());
        };
        match self.call(&add.with_member(member)?, id, None).await {
            Err(DownstreamError::Conflict(_)) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Removes a member with its own call; one not there (404) is not an error. Nothing to
    /// do here when members are written as a list.
    pub async fn remove_member(&self, id: &str, member: &str) -> Result<(), DownstreamError> {
        let MemberCalls::Each { remove, .. } = &self.endpoints.members else {
            return Ok(());
        };
        let remove = match remove.with_member(member) {
            Ok(op) => op,
            Err(e) => return absent_is_done(Err(e)),
        };
        absent_is_done(self.call(&remove, id, None).await)
    }
}

/// A member id as the list holds it: a number when the API's ids are numbers (and this one
/// reads as one), else text.
fn member_id(id: &str, numeric: bool) -> Value {
    match id.parse::<i64>() {
        Ok(n) if numeric => Value::from(n),
        _ => Value::String(id.to_owned()),
    }
}

/// A 404 on a removal means the removal already happened.
fn absent_is_done(result: Result<Option<Value>, DownstreamError>) -> Result<(), DownstreamError> {
    match result {
        Ok(_) | Err(DownstreamError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
