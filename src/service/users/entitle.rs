//! Roles and licences from group memberships (`[groups]` rules): written into a user on every
//! write, and again when its memberships change.

use serde_json::Value;

use super::UsersService;
use crate::downstream::DownstreamError;
use crate::service::{RequestContext, ServiceError};
use crate::store::ResourceType;

impl UsersService {
    /// [`entitle`](Self::entitle) for the stored user `scim_id`: its groups are looked up
    /// only when a rule could use them.
    pub(super) async fn entitle_member(
        &self,
        resource: &mut Value,
        scim_id: &str,
    ) -> Result<(), ServiceError> {
        if !self.groups.rules.is_active() {
            return Ok(());
        }
        let groups = self.store.groups_of(scim_id).await?;
        self.entitle(resource, &groups).await
    }

    /// Writes the current rules' role and licences into a user who is in `groups`.
    pub async fn entitle(
        &self,
        resource: &mut Value,
        groups: &[String],
    ) -> Result<(), ServiceError> {
        if !self.groups.rules.is_active() {
            return Ok(());
        }
        let active = resource.get("active") != Some(&Value::Bool(false));
        let mut names = Vec::new();
        for group in groups {
            if let Some(row) = self
                .store
                .resource_by_scim_id(ResourceType::Group, group)
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
}
