//! The end of a cycle: every user listed through SCIM (`GET /Users?startIndex=..&count=..`,
//! the way any client sees the tenant) and compared with what the cycle wrote. Listing rather
//! than reading each user by id also catches users the gateway made twice or lost from its
//! list, which a per-id read would not see.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::ENTERPRISE;
use super::client::ScimClient;

/// Users asked for per page.
const PAGE: u64 = 100;
/// Items of each list kept in full in a report's text.
const SHOWN: usize = 5;

/// A user as the list shows it, with the attributes the cycle wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListedUser {
    pub(crate) id: String,
    pub(crate) user_name: String,
    pub(crate) family_name: Option<String>,
    pub(crate) active: Option<bool>,
    pub(crate) employee_number: Option<String>,
    pub(crate) manager: Option<String>,
}

impl ListedUser {
    fn parse(resource: &Value) -> Option<Self> {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        Some(Self {
            id: text(&resource["id"])?,
            user_name: text(&resource["userName"])?,
            family_name: text(&resource["name"]["familyName"]),
            active: resource["active"].as_bool(),
            employee_number: text(&resource[ENTERPRISE]["employeeNumber"]),
            manager: text(&resource[ENTERPRISE]["manager"]["value"]),
        })
    }
}

/// Every user the list gave, and what went wrong while listing.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) users: Vec<ListedUser>,
    pub(crate) total_results: Option<u64>,
    pub(crate) pages: usize,
    pub(crate) problems: Vec<String>,
}

/// Pages through `GET /Users` from startIndex 1, advancing by what each page returned, until
/// `totalResults` is reached. A failed page stops the listing (the call is recorded).
pub(crate) async fn list_all(client: &ScimClient) -> Listing {
    let mut listing = Listing::default();
    let mut malformed = 0usize;
    let mut start: u64 = 1;
    loop {
        let Some(page) = client.list_page(start, PAGE).await else {
            listing.problems.push(format!(
                "listing stopped at startIndex {start}: the call failed"
            ));
            break;
        };
        listing.pages += 1;
        let Some(total) = page["totalResults"].as_u64() else {
            listing.problems.push(format!(
                "the page at startIndex {start} has no totalResults"
            ));
            break;
        };
        listing.total_results = Some(total);
        let resources = page["Resources"].as_array().map_or(&[][..], Vec::as_slice);
        for resource in resources {
            match ListedUser::parse(resource) {
                Some(user) => listing.users.push(user),
                None => malformed += 1,
            }
        }
        if resources.is_empty() {
            if start <= total {
                listing.problems.push(format!(
                    "the page at startIndex {start} is empty but totalResults is {total}"
                ));
            }
            break;
        }
        start += resources.len() as u64;
        if start > total {
            break;
        }
    }
    if malformed > 0 {
        listing
            .problems
            .push(format!("{malformed} listed user(s) have no id or userName"));
    }
    let listed = listing.users.len() + malformed;
    if let Some(total) = listing.total_results
        && listing.problems.is_empty()
        && total != listed as u64
    {
        listing.problems.push(format!(
            "totalResults is {total} but {listed} users were listed"
        ));
    }
    listing
}

/// A user of the cycle whose attributes are not what the cycle wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongUser {
    /// Its userName.
    pub user_name: String,
    /// What differs, e.g. `active is true, expected false`.
    pub problem: String,
}

/// What listing the tenant through SCIM showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Users the cycle provisioned.
    pub expected: usize,
    /// Users listed in the whole tenant (the cycle's and any others).
    pub listed: usize,
    /// The list's last `totalResults`.
    pub total_results: Option<u64>,
    /// List pages read.
    pub pages: usize,
    /// Users of the cycle found (distinct userNames `<prefix>-1..N@example.com`).
    pub found: usize,
    /// userNames of the cycle not listed.
    pub lost: Vec<String>,
    /// userNames (compared case-insensitively) listed under more than one id.
    pub duplicates: Vec<String>,
    /// userNames whose id was listed more than once (a paging fault).
    pub repeated: Vec<String>,
    /// `<prefix>-<k>@example.com` users with k outside 1..=N (an earlier, larger cycle?).
    pub unexpected: Vec<String>,
    /// Users of the cycle with other attributes than the cycle wrote.
    pub wrong: Vec<WrongUser>,
    /// What kept the listing from being complete and consistent.
    pub listing_problems: Vec<String>,
}

impl Verification {
    /// True when the listing was complete and every user of the cycle is there exactly once,
    /// as the cycle left it, and nothing else bears the prefix.
    pub fn passed(&self) -> bool {
        self.found == self.expected
            && self.lost.is_empty()
            && self.duplicates.is_empty()
            && self.repeated.is_empty()
            && self.unexpected.is_empty()
            && self.wrong.is_empty()
            && self.listing_problems.is_empty()
    }

    /// The counts that failed, e.g. `3 lost, 1 duplicated`; `passed` when none did.
    pub fn problems(&self) -> String {
        let mut parts: Vec<String> = [
            (self.lost.len(), "lost"),
            (self.duplicates.len(), "duplicated"),
            (self.repeated.len(), "listed twice"),
            (self.unexpected.len(), "unexpected"),
            (self.wrong.len(), "with wrong attributes"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        parts.extend(self.listing_problems.iter().cloned());
        if parts.is_empty() && self.found != self.expected {
            parts.push(format!("found {} of {}", self.found, self.expected));
        }
        if parts.is_empty() {
            "passed".into()
        } else {
            parts.join(", ")
        }
    }

    /// Examples of each problem, one line each, at most a few per kind.
    pub(crate) fn examples(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut list = |what: &str, names: &[String]| {
            if !names.is_empty() {
                lines.push(format!("{what}: {}", shown(names)));
            }
        };
        list("lost", &self.lost);
        list("duplicated", &self.duplicates);
        list("listed twice", &self.repeated);
        list("unexpected", &self.unexpected);
        for w in self.wrong.iter().take(SHOWN) {
            lines.push(format!("wrong: {}: {}", w.user_name, w.problem));
        }
        if self.wrong.len() > SHOWN {
            lines.push(format!("wrong: ... and {} more", self.wrong.len() - SHOWN));
        }
        lines
    }
}

fn shown(names: &[String]) -> String {
    let mut text = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" ... and {} more", names.len() - SHOWN));
    }
    text
}

/// The index `k` of `<prefix>-<k>@example.com` (case-insensitive), if the name has that shape.
fn index_of(prefix: &str, user_name: &str) -> Option<Result<usize, ()>> {
    let lower = user_name.to_ascii_lowercase();
    let rest = lower.strip_prefix(&prefix.to_ascii_lowercase())?;
    let digits = rest
        .strip_prefix('-')?
        .strip_suffix(&format!("@{}", super::DOMAIN))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros or overflow: the shape of ours, but not a name the cycle makes.
    Some(
        digits
            .parse::<usize>()
            .ok()
            .filter(|k| k.to_string() == digits)
            .ok_or(()),
    )
}

/// Compares a listing with what a cycle of `expected` users under `prefix` wrote: familyName
/// `Delta<i>`, active false, employeeNumber `E<i>`, and `manager` (user 1's id) for i > 1.
pub(crate) fn check(
    prefix: &str,
    expected: usize,
    manager: Option<&str>,
    listing: Listing,
) -> Verification {
    let mut v = Verification {
        expected,
        listed: listing.users.len(),
        total_results: listing.total_results,
        pages: listing.pages,
        listing_problems: listing.problems,
        ..Verification::default()
    };
    // Once per id: a second sighting of an id is a paging fault, not a second user.
    let mut seen_ids = HashSet::new();
    let mut repeated = HashSet::new();
    let mut by_index: HashMap<usize, Vec<&ListedUser>> = HashMap::new();
    let mut unexpected = HashSet::new();
    for user in &listing.users {
        let index = index_of(prefix, &user.user_name);
        if !seen_ids.insert(user.id.as_str()) {
            if index.is_some() {
                repeated.insert(user.user_name.to_ascii_lowercase());
            }
            continue;
        }
        match index {
            Some(Ok(i)) if (1..=expected).contains(&i) => by_index.entry(i).or_default().push(user),
            Some(_) => {
                unexpected.insert(user.user_name.clone());
            }
            None => {}
        }
    }
    v.repeated = sorted(repeated);
    v.unexpected = sorted(unexpected);
    v.found = by_index.len();
    for i in 1..=expected {
        let name = super::user_name(prefix, i);
        let Some(users) = by_index.get(&i) else {
            v.lost.push(name);
            continue;
        };
        if users.len() > 1 {
            v.duplicates.push(name.clone());
        }
        for user in users {
            let problems = attribute_problems(i, manager, user);
            if !problems.is_empty() {
                v.wrong.push(WrongUser {
                    user_name: user.user_name.clone(),
                    problem: problems.join("; "),
                });
            }
        }
    }
    v
}

fn sorted(set: HashSet<String>) -> Vec<String> {
    let mut list: Vec<String> = set.into_iter().collect();
    list.sort();
    list
}

fn attribute_problems(i: usize, manager: Option<&str>, user: &ListedUser) -> Vec<String> {
    fn differs<T: PartialEq + std::fmt::Debug>(
        what: &str,
        got: Option<T>,
        want: T,
    ) -> Option<String> {
        match got {
            Some(got) if got == want => None,
            Some(got) => Some(format!("{what} is {got:?}, expected {want:?}")),
            None => Some(format!("{what} is missing, expected {want:?}")),
        }
    }
    let family = format!("Delta{i}");
    let employee = format!("E{i}");
    [
        differs("familyName", user.family_name.as_deref(), family.as_str()),
        differs("active", user.active, false),
        differs(
            "employeeNumber",
            user.employee_number.as_deref(),
            employee.as_str(),
        ),
        manager
            .filter(|_| i != 1)
            .and_then(|m| differs("manager", user.manager.as_deref(), m)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good(i: usize, id: &str) -> ListedUser {
        ListedUser {
            id: id.into(),
            user_name: super::super::user_name("cy", i),
            family_name: Some(format!("Delta{i}")),
            active: Some(false),
            employee_number: Some(format!("E{i}")),
            manager: (i != 1).then(|| "1".to_owned()),
        }
    }

    fn listing(users: Vec<ListedUser>) -> Listing {
        Listing {
            total_results: Some(users.len() as u64),
            users,
            pages: 1,
            problems: Vec::new(),
        }
    }

    #[test]
    fn a_complete_cycle_passes() {
        let mut users: Vec<ListedUser> = (1..=3).map(|i| good(i, &i.to_string())).collect();
        users.push(ListedUser {
            id: "99".into(),
            user_name: "someone@else.com".into(),
            ..ListedUser::default()
        });
        let v = check("cy", 3, Some("1"), listing(users));
        assert!(v.passed(), "{v:?}");
        assert_eq!((v.found, v.listed), (3, 4));
        assert_eq!(v.problems(), "passed");
    }

    #[test]
    fn finds_lost_duplicated_repeated_unexpected_and_wrong_users() {
        let mut dup = good(2, "20");
        dup.user_name = dup.user_name.to_uppercase();
        let mut wrong = good(3, "3");
        wrong.active = Some(true);
        wrong.family_name = None;
        let users = vec![
            good(1, "1"),
            good(2, "2"),
            dup,
            wrong,
            good(1, "1"),
            good(5, "5"),
            ListedUser {
                user_name: "cy-04@example.com".into(),
                ..good(4, "40")
            },
            ListedUser {
                user_name: "cycle-2-1@example.com".into(),
                ..good(1, "77")
            },
        ];
        let v = check("cy", 4, Some("1"), listing(users));
        assert!(!v.passed());
        assert_eq!(v.lost, ["cy-4@example.com"]);
        assert_eq!(v.duplicates, ["cy-2@example.com"]);
        assert_eq!(v.repeated, ["cy-1@example.com"]);
        assert_eq!(v.unexpected, ["cy-04@example.com", "cy-5@example.com"]);
        assert_eq!(v.wrong.len(), 1);
        assert_eq!(
            v.wrong[0].problem,
            "familyName is missing, expected \"Delta3\"; active is true, expected false"
        );
        assert_eq!(
            v.problems(),
            "1 lost, 1 duplicated, 1 listed twice, 2 unexpected, 1 with wrong attributes"
        );
        assert_eq!(v.examples().len(), 5);
    }

    #[test]
    fn a_wrong_manager_is_reported_but_user_1_has_none() {
        let mut two = good(2, "2");
        two.manager = Some("7".into());
        let v = check("cy", 2, Some("1"), listing(vec![good(1, "1"), two]));
        assert_eq!(v.wrong.len(), 1);
        assert_eq!(v.wrong[0].user_name, "cy-2@example.com");
        assert!(v.wrong[0].problem.starts_with("manager is \"7\""));
    }

    #[test]
    fn listing_problems_fail_the_verification() {
        let mut l = listing(vec![good(1, "1")]);
        l.problems.push("listing stopped".into());
        let v = check("cy", 1, None, l);
        assert!(!v.passed());
        assert_eq!(v.problems(), "listing stopped");
    }

    #[test]
    fn parses_a_scim_user() {
        let resource = serde_json::json!({
            "id": "12", "userName": "cy-1@example.com", "active": false,
            "name": {"familyName": "Delta1"},
            ENTERPRISE: {"employeeNumber": "E1", "manager": {"value": "3"}},
        });
        let user = ListedUser::parse(&resource).unwrap();
        assert_eq!(user.manager.as_deref(), Some("3"));
        assert_eq!(user.active, Some(false));
        assert!(ListedUser::parse(&serde_json::json!({"id": "1"})).is_none());
    }
}
