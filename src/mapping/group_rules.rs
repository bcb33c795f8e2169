//! Rules from group memberships to user attributes, as vendors' setup guides describe them: a
//! group maps to a role (the highest-ranked wins) and to licences (the union), users in no
//! mapped group get the defaults, and a deactivated user can be stripped of both. Pure.

use std::collections::BTreeSet;

/// One group's contribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupGrant {
    /// The group's displayName (compared case-insensitively).
    pub group: String,
    /// A role and its rank; the highest rank among a user's groups wins.
    pub role: Option<(String, i64)>,
    pub licences: Vec<String>,
}

/// The configured rules of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupRules {
    pub grants: Vec<GroupGrant>,
    pub default_role: Option<String>,
    pub default_licences: Vec<String>,
    /// A deactivated user gets no licences and `inactive_role`.
    pub strip_when_inactive: bool,
    /// The role of a stripped user (`None`: no role at all).
    pub inactive_role: Option<String>,
}

/// What the rules decide for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    /// `None`: no role at all (stripped, or no group and no default).
    pub role: Option<String>,
    pub licences: Vec<String>,
}

impl GroupRules {
    /// True when any rule is configured; with none, the gateway changes nothing.
    pub fn is_active(&self) -> bool {
        !self.grants.is_empty() || self.default_role.is_some() || !self.default_licences.is_empty()
    }

    /// The role and licences of a user in `groups` (display names), or `None` when no rule is
    /// configured and the user must be left alone.
    pub fn evaluate<'a>(
        &self,
        groups: impl IntoIterator<Item = &'a str>,
        active: bool,
    ) -> Option<Entitlement> {
        if !self.is_active() {
            return None;
        }
        if !active && self.strip_when_inactive {
            return Some(Entitlement {
                role: self.inactive_role.clone(),
                licences: Vec::new(),
            });
        }
        let names: Vec<&str> = groups.into_iter().collect();
        let applying: Vec<&GroupGrant> = self
            .grants
            .iter()
            .filter(|g| names.iter().any(|n| n.eq_ignore_ascii_case(&g.group)))
            .collect();
        let role = applying
            .iter()
            .filter_map(|g| g.role.as_ref())
            .max_by_key(|(_, rank)| *rank)
            .map(|(role, _)| role.clone())
            .or_else(|| self.default_role.clone());
        let mut licences: BTreeSet<String> = applying
            .iter()
            .flat_map(|g| g.licences.iter().cloned())
            .collect();
        if licences.is_empty() {
            licences.extend(self.default_licences.iter().cloned());
        }
        Some(Entitlement {
            role,
            licences: licences.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> GroupRules {
        let grant = |group: &str, role: Option<(&str, i64)>, licences: &[&str]| GroupGrant {
            group: group.into(),
            role: role.map(|(r, n)| (r.into(), n)),
            licences: licences.iter().map(|l| l.to_string()).collect(),
        };
        GroupRules {
            grants: vec![
                grant("Admins", Some(("admin", 3)), &["pro"]),
                grant("Staff", Some(("member", 1)), &[]),
                grant("Sales", None, &["crm", "pro"]),
            ],
            default_role: Some("basic".into()),
            default_licences: vec![],
            strip_when_inactive: true,
            inactive_role: None,
        }
    }

    fn decide(groups: &[&str], active: bool) -> Option<(Option<String>, Vec<String>)> {
        rules()
            .evaluate(groups.iter().copied(), active)
            .map(|e| (e.role, e.licences))
    }

    #[test]
    fn the_highest_role_wins_and_licences_are_the_union() {
        assert_eq!(
            decide(&["staff", "ADMINS", "Sales"], true),
            Some((Some("admin".into()), vec!["crm".into(), "pro".into()]))
        );
        assert_eq!(
            decide(&["Staff"], true),
            Some((Some("member".into()), vec![]))
        );
    }

    #[test]
    fn no_mapped_group_gives_the_defaults() {
        assert_eq!(
            decide(&["Unrelated"], true),
            Some((Some("basic".into()), vec![]))
        );
        let with_default_licence = GroupRules {
            default_licences: vec!["starter".into()],
            ..rules()
        };
        let e = with_default_licence.evaluate(["Staff"], true).unwrap();
        assert_eq!(e.licences, ["starter"]);
    }

    #[test]
    fn deactivation_strips_and_no_rules_change_nothing() {
        assert_eq!(decide(&["Admins"], false), Some((None, vec![])));
        let with_inactive_role = GroupRules {
            inactive_role: Some("none".into()),
            ..rules()
        };
        let e = with_inactive_role.evaluate(["Admins"], false).unwrap();
        assert_eq!((e.role.as_deref(), e.licences.len()), (Some("none"), 0));
        assert_eq!(GroupRules::default().evaluate(["Admins"], true), None);
    }
}
