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
                .list_resources(ResourceType::User, offset, PAGE)
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
        let groups = self.store.groups_of(id).await?;
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
        access_at(
            resource,
            self.groups.role_target.as_ref(),
            self.groups.licence_target.as_ref(),
        )
    }
}

/// The role and licences `resource` holds at the rules' targets, as text, licences sorted and
/// without duplicates: what the downstream holds and what the rules compute compare equal
/// whenever they grant the same, whatever order or JSON type the API keeps them in, so a run
/// writes only users whose access really differs (and a second run writes nobody).
fn access_at(resource: &Value, role: Option<&ScimTarget>, licences: Option<&ScimTarget>) -> Access {
    let texts = |target: Option<&ScimTarget>| -> Vec<String> {
        let items = match target.and_then(|t| t.get(resource)) {
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
    let licences: BTreeSet<String> = texts(licences).into_iter().collect();
    Access {
        role: texts(role).into_iter().next(),
        licences: licences.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::catalog::user_schema;

    fn target(key: &str) -> ScimTarget {
        ScimTarget::resolve(key, &user_schema()).expect("a User attribute")
    }

    /// Access as read at roles-and-licences' targets.
    fn access(resource: Value) -> Access {
        access_at(
            &resource,
            Some(&target("roles[primary eq true].value")),
            Some(&target("entitlements")),
        )
    }

    fn granted(role: Option<&str>, licences: &[&str]) -> Access {
        Access {
            role: role.map(str::to_owned),
            licences: licences.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn the_primary_role_and_every_licence_are_read() {
        let got = access(json!({
            "roles": [{"value": "user"}, {"primary": true, "value": "manager"}],
            "entitlements": [{"value": "pro"}, {"value": "analytics"}],
        }));
        assert_eq!(got, granted(Some("manager"), &["analytics", "pro"]));
    }

    /// The API may keep licences in another order, repeated, or a role as a number: that is
    /// no change, else every run would write those users again.
    #[test]
    fn order_duplicates_and_json_types_are_no_change() {
        let held = access(json!({
            "roles": [{"primary": true, "value": 3}],
            "entitlements": [{"value": "b"}, {"value": "a"}, {"value": "b"}],
        }));
        let ruled = access(json!({
            "roles": [{"primary": true, "value": "3"}],
            "entitlements": [{"value": "a"}, {"value": "b"}],
        }));
        assert_eq!(held, ruled);
        assert_eq!(held, granted(Some("3"), &["a", "b"]));
    }

    #[test]
    fn a_real_difference_is_a_change() {
        let held = access(json!({"roles": [{"primary": true, "value": "user"}]}));
        let ruled = access(json!({
            "roles": [{"primary": true, "value": "user"}],
            "entitlements": [{"value": "pro"}],
        }));
        assert_ne!(held, ruled);
    }

    #[test]
    fn nothing_held_is_no_role_and_no_licences() {
        for resource in [
            json!({}),
            json!({"roles": null, "entitlements": null}),
            json!({"roles": [], "entitlements": [{"value": null}]}),
            // A role marked not primary is not where the rules write.
            json!({"roles": [{"primary": false, "value": "user"}]}),
        ] {
            assert_eq!(access(resource.clone()), Access::default(), "{resource}");
        }
        let everything = json!({
            "roles": [{"primary": true, "value": "admin"}],
            "entitlements": [{"value": "pro"}],
        });
        assert_eq!(access_at(&everything, None, None), Access::default());
    }

    /// The line `rules apply --dry-run` prints for a user.
    #[test]
    fn a_change_reads_as_the_dry_run_lists_it() {
        let change = RuleChange {
            id: "42".to_owned(),
            user_name: "ann@example.com".to_owned(),
            before: Access::default(),
            after: granted(Some("admin"), &["analytics", "pro"]),
        };
        assert_eq!(
            change.to_string(),
            "ann@example.com: role (none), licences [] -> role admin, licences [analytics, pro]"
        );
    }
}
