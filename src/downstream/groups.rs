//! Groups that exist downstream (`[groups] mode = "downstream"`): the calls that create,
//! rename and delete a group and add or remove one member. The gateway's store stays the SCIM
//! view of groups and memberships; each change is made downstream first, one call per member,
//! so a member PATCH costs the same for any group size.

use serde_json::{Map, Value};

use super::DownstreamError;
use super::client::DownstreamClient;
use super::operation::Operation;
use super::transform_id;
use crate::mapping::pointer::JsonPointer;

/// `[groups]` operations and fields, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEndpoints {
    pub create: Operation,
    /// Renames (PATCH or PUT with the name fields); none when the API cannot rename.
    pub update: Option<Operation>,
    pub delete: Operation,
    /// Paths with `{id}` (the group) and `{member}` (the member's downstream user id).
    pub add_member: Operation,
    pub remove_member: Operation,
    /// Where the id is in a group record.
    pub id: JsonPointer,
    pub envelope: Option<JsonPointer>,
    /// Where displayName goes in a group record.
    pub name_field: JsonPointer,
    /// Where externalId goes, when the API keeps it.
    pub external_id_field: Option<JsonPointer>,
}

/// One tenant's downstream groups.
#[derive(Debug, Clone)]
pub struct GroupApi {
    pub client: DownstreamClient,
    pub endpoints: GroupEndpoints,
}

impl GroupApi {
    /// The record sent on create and rename.
    fn record(&self, name: &str, external_id: Option<&str>) -> Value {
        let mut record = Value::Object(Map::new());
        self.endpoints
            .name_field
            .set(&mut record, Value::String(name.to_owned()));
        if let (Some(field), Some(ext)) = (&self.endpoints.external_id_field, external_id) {
            field.set(&mut record, Value::String(ext.to_owned()));
        }
        super::wrap(self.endpoints.envelope.as_ref(), record)
    }

    async fn call(
        &self,
        op: &Operation,
        id: Option<&str>,
        body: Option<Value>,
    ) -> Result<Option<Value>, DownstreamError> {
        let url = op.url(self.client.base_url(), id)?;
        self.client
            .send(op.method.clone(), url, body.as_ref(), id.unwrap_or("group"))
            .await
    }

    /// Creates the group; returns its downstream id.
    pub async fn create(
        &self,
        name: &str,
        external_id: Option<&str>,
    ) -> Result<String, DownstreamError> {
        let op = &self.endpoints.create;
        let url = op.url(self.client.base_url(), None)?;
        let id_at = self.endpoints.id.within(self.endpoints.envelope.as_ref());
        let body = self
            .client
            .create(
                op.method.clone(),
                url,
                &self.record(name, external_id),
                "group",
                &id_at,
            )
            .await?
            .ok_or_else(|| {
                DownstreamError::BadResponse(format!("{} {} answered no body", op.method, op.path))
            })?;
        let record = match &self.endpoints.envelope {
            Some(p) => p.get(&body).unwrap_or(&body),
            None => &body,
        };
        self.endpoints
            .id
            .get(record)
            .and_then(transform_id)
            .ok_or_else(|| {
                DownstreamError::BadResponse(format!(
                    "the created group has no id at {} (check groups.id)",
                    self.endpoints.id
                ))
            })
    }

    /// Renames the group (nothing to do without an update call).
    pub async fn rename(
        &self,
        id: &str,
        name: &str,
        external_id: Option<&str>,
    ) -> Result<(), DownstreamError> {
        match &self.endpoints.update {
            Some(op) => self
                .call(op, Some(id), Some(self.record(name, external_id)))
                .await
                .map(|_| ()),
            None => Ok(()),
        }
    }

    /// Deletes the group; one already gone is not an error.
    pub async fn delete(&self, id: &str) -> Result<(), DownstreamError> {
        absent_is_done(self.call(&self.endpoints.delete, Some(id), None).await)
    }

    /// Adds a member; one already there (409) is not an error.
    pub async fn add_member(&self, id: &str, member: &str) -> Result<(), DownstreamError> {
        let op = self.endpoints.add_member.with_member(member);
        match self.call(&op, Some(id), None).await {
            Err(DownstreamError::Conflict(_)) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Removes a member; one not there (404) is not an error.
    pub async fn remove_member(&self, id: &str, member: &str) -> Result<(), DownstreamError> {
        let op = self.endpoints.remove_member.with_member(member);
        absent_is_done(self.call(&op, Some(id), None).await)
    }
}

/// A 404 on a removal means the removal already happened.
fn absent_is_done(result: Result<Option<Value>, DownstreamError>) -> Result<(), DownstreamError> {
    match result {
        Ok(_) | Err(DownstreamError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
