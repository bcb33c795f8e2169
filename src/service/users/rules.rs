//! Group rules brought to users already provisioned. Rules are applied when a user is written
//! or changes group; a rule added or changed in gateway.toml afterwards (vendors' onboarding
//! order: users and groups sync first, the mapping is configured later) would otherwise
//! leave every existing user on the old role until something about them changes. Used by a
//! reload whose rules changed and by `scim-gateway rules apply [--dry-run]`.
//!
//! Each user's role and licences are computed from its groups as they are now and compared
//! with what the downstream holds; only users whose role or licences differ are written, one
//! after another through the user's turn ([`UsersService::reevaluate`]) and the downstream
//! client's pacing, like any other write.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use super::{UsersService, is_tombstone};
use crate::downstream::DownstreamError;
use crate::mapping::target::ScimTarget;
use crate::service::{RequestContext, ServiceError};
use crate::store::ResourceType;

/// Users read from the store at a time.
const PAGE: u64 = 200;

/// One user whose role or licences the rules change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChange {
    pub id: String,
    pub user_name: String,
    pub before: Access,
    pub after: Access,
}

/// A user's role and licences, as the rules' attributes hold them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Access {
    pub role: Option<String>,
    /// Sorted, without duplicates.
    pub licences: Vec<String>,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "role {}, licences [{}]",
            self.role.as_deref().unwrap_or("(none)"),
            self.licences.join(", ")
        )
    }
}

impl fmt::Display for RuleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.user_name, self.before, self.after)
    }
}

/// What a run did: the users that change (or would, in a dry run), and how many were looked at.
#[derive(Debug, Default)]
pub struct RulesReport {
    pub checked: usize,
    pub changes: Vec<RuleChange>,
    /// Users whose write failed, with the error; the run goes on with the next user.
    pub failed: Vec<(String, String)>,
}

impl UsersService {
    /// Applies the current group rules to every user the gateway knows (or, with `dry_run`,
    /// only lists who would change). Nothing happens when no rule is configured.
    pub async fn apply_rules(&self, dry_run: bool) -> Result<RulesReport, ServiceError> {
        let mut report = RulesReport::default();
        if !self.groups.rules.is_active() {
            return Ok(report);
        }
        let ctx = RequestContext {
            base_url: String::new(),
        };
        let mut offset = 0;
        loop {
            let rows = self
                .store
                .list_resources(&self.tenant, ResourceType::User, offset, PAGE)
                .await?;
            offset += PAGE;
            for row in rows.iter().filter(|r| !is_tombstone(r)) {
                report.checked += 1;
                let change = match self.rule_change(&row.scim_id).await {
                    Ok(Some(change)) => change,
                    Ok(None) | Err(ServiceError::Downstream(DownstreamError::NotFound(_))) => {
                        continue;
                    }
                    Err(e) => {
                        report.failed.push((row.scim_id.clone(), e.to_string()));
                        continue;
                    }
                };
                if !dry_run && let Err(e) = self.reevaluate(&ctx, &change.id).await {
                    report
                        .failed
                        .push((change.user_name.clone(), e.to_string()));
                    continue;
                }
                report.changes.push(change);
            }
            if rows.len() < PAGE as usize {
                return Ok(report);
            }
        }
    }

    /// The change the rules make to one user, if any (reads only).
    async fn rule_change(&self, id: &str) -> Result<Option<RuleChange>, ServiceError> {
        let loaded = self.load(id).await?;
        let now = self.attributes_of(loaded.row.as_ref(), &loaded.record);
        let mut ruled = now.clone();
        let groups = self.store.groups_of(&self.tenant, id).await?;
        self.entitle(&mut ruled, &groups).await?;
        let (before, after) = (self.access(&now), self.access(&ruled));
        Ok((before != after).then(|| RuleChange {
            id: id.to_owned(),
            user_name: Self::user_name_of(&now).unwrap_or_else(|| id.to_owned()),
            before,
            after,
        }))
    }

    /// The role and licences of a resource, read where the rules write them.
    fn access(&self, resource: &Value) -> Access {
        let texts = |target: &Option<ScimTarget>| -> Vec<String> {
            let value = target.as_ref().and_then(|t| t.get(resource));
            let items = match value {
                Some(Value::Array(items)) => items.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(single) => vec![single.clone()],
            };
            items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(o) => o.get("value").cloned(),
                    other => Some(other.clone()),
                })
                .filter(|v| !v.is_null())
                .map(|v| crate::mapping::transform::text_of(&v))
                .collect()
        };
        let licences: BTreeSet<String> = texts(&self.groups.licence_target).into_iter().collect();
        Access {
            role: texts(&self.groups.role_target).into_iter().next(),
            licences: licences.into_iter().collect(),
        }
    }
}
