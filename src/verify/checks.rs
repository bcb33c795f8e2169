//! The checks, in the order Entra ID would meet them: discovery, Test Connection, then one test
//! user and one test group through Entra's request shapes, then clean-up. A check that depends
//! on an earlier one (a read of a user that was never created) is skipped, not failed twice.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::{Value, json};

use super::probe::{Exchange, Probe};
use super::report::{Check, Outcome, Report};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// One probe run: the report so far and what it made (removed at the end).
pub(super) struct Run {
    probe: Probe,
    report: Report,
    /// Unique to this run, in every name it makes.
    tag: String,
    users: Vec<String>,
    groups: Vec<String>,
}

/// A check's verdict on one answer.
type Verdict = Result<(), String>;

impl Run {
    pub fn new(probe: Probe) -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
        Self {
            probe,
            report: Report::default(),
            tag,
            users: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// Every check, then the clean-up.
    pub async fn all(mut self) -> Report {
        let groups = self.discovery().await;
        self.test_connection().await;
        let user_name = format!("scim-verify-{}@example.com", self.tag);
        match self.create_user(&user_name).await {
            Some(id) => {
                self.reads(&id, &user_name).await;
                self.patches(&id).await;
                match groups {
                    true => self.group(&id).await,
                    false => self.skip("groups", "the server lists no Group resource type"),
                }
                self.delete(&id).await;
            }
            None => self.skip(
                "the user's reads, PATCHes, group and delete",
                "no user was made",
            ),
        }
        self.clean_up().await;
        self.report
    }

    /// The three discovery documents; true when the server offers Groups.
    async fn discovery(&mut self) -> bool {
        self.expect(
            "discovery: GET /ServiceProviderConfig says PATCH is supported",
            Method::GET,
            "/ServiceProviderConfig",
            None,
            |x| {
                status(x, &[200])?;
                has(&x.json["schemas"], SERVICE_PROVIDER_CONFIG, "schemas")?;
                match x.json["patch"]["supported"] == json!(true) {
                    true => Ok(()),
                    false => Err("patch.supported is not true".into()),
                }
            },
        )
        .await;
        self.expect(
            "discovery: GET /Schemas lists the User schema",
            Method::GET,
            "/Schemas",
            None,
            |x| status(x, &[200]).and_then(|()| listed(x, "id", USER)),
        )
        .await;
        let types = self
            .expect(
                "discovery: GET /ResourceTypes lists User",
                Method::GET,
                "/ResourceTypes",
                None,
                |x| status(x, &[200]).and_then(|()| listed(x, "name", "User")),
            )
            .await;
        listed(&types, "name", "Group").is_ok()
    }

    /// What Entra's Test Connection sends: a filter on a userName nobody has.
    async fn test_connection(&mut self) {
        let nobody = uuid::Uuid::new_v4().to_string();
        self.expect(
            "Test Connection: userName eq a random GUID finds nobody",
            Method::GET,
            &filter_path("/Users", "userName", &nobody),
            None,
            |x| status(x, &[200]).and_then(|()| total(x, 0)),
        )
        .await;
    }

    /// Creates the test user as Entra does (enterprise extension included); its id.
    async fn create_user(&mut self, user_name: &str) -> Option<String> {
        let body = entra_user(user_name, &format!("scim-verify-{}", self.tag));
        let x = self
            .expect(
                "create a user (Entra's shape, enterprise extension)",
                Method::POST,
                "/Users",
                Some(&body),
                |x| {
                    status(x, &[201])?;
                    same_name(&x.json, user_name)
                },
            )
            .await;
        let id = created_id(&x)?;
        self.users.push(id.clone());
        Some(id)
    }

    /// By id, by userName and by externalId, as Entra matches users.
    async fn reads(&mut self, id: &str, user_name: &str) {
        self.expect(
            "read the user by id",
            Method::GET,
            &format!("/Users/{id}"),
            None,
            |x| status(x, &[200]).and_then(|()| same_name(&x.json, user_name)),
        )
        .await;
        let external = format!("scim-verify-{}", self.tag);
        for (name, attribute, value) in [
            ("filter by userName finds the user", "userName", user_name),
            (
                "filter by externalId finds the user",
                "externalId",
                &external,
            ),
        ] {
            self.expect(
                name,
                Method::GET,
                &filter_path("/Users", attribute, value),
                None,
                |x| {
                    status(x, &[200])?;
                    total(x, 1)?;
                    equal(&x.json["Resources"][0]["id"], &json!(id), "Resources[0].id")
                },
            )
            .await;
        }
    }

    /// Entra's PATCH shapes, each read back.
    async fn patches(&mut self, id: &str) {
        let given = operation("Replace", Some("name.givenName"), json!("Verified"));
        self.patch_and_read(
            "PATCH with a capitalised op (Replace name.givenName), read back",
            id,
            given,
            "/name/givenName",
            json!("Verified"),
        )
        .await;
        let family = operation("Replace", None, json!({"name.familyName": "Checked"}));
        self.patch_and_read(
            "PATCH without a path, dotted keys (name.familyName), read back",
            id,
            family,
            "/name/familyName",
            json!("Checked"),
        )
        .await;
        self.manager(id).await;
        let disable = operation("Replace", Some("active"), json!("False"));
        self.patch_and_read(
            "disable with active \"False\" (a string), read back",
            id,
            disable,
            "/active",
            json!(false),
        )
        .await;
    }

    /// A second user as the manager, set the way Entra sends it: a bare id.
    async fn manager(&mut self, id: &str) {
        const NAME: &str = "PATCH manager as a bare id, read back";
        let manager_name = format!("scim-verify-{}-manager@example.com", self.tag);
        let body = entra_user(&manager_name, &format!("scim-verify-{}-m", self.tag));
        let x = self.probe.call(Method::POST, "/Users", Some(&body)).await;
        let Some(manager) = created_id(&x) else {
            return self.fail(NAME, "the manager user could not be made".into(), &x);
        };
        self.users.push(manager.clone());
        let path = format!("{ENTERPRISE}:manager");
        let patch = operation("Add", Some(&path), json!(manager));
        let pointer = format!("/{ENTERPRISE}/manager/value");
        self.patch_and_read(NAME, id, patch, &pointer, json!(manager))
            .await;
    }

    /// A group with the user as member, read, the member removed as Entra removes one, deleted.
    async fn group(&mut self, member: &str) {
        let body = json!({"schemas": [GROUP], "displayName": format!("scim-verify-{}", self.tag),
                          "members": [{"value": member}]});
        let x = self
            .expect(
                "create a group with the user as member",
                Method::POST,
                "/Groups",
                Some(&body),
                |x| status(x, &[201]),
            )
            .await;
        let Some(group) = created_id(&x) else {
            return self.skip("the group's reads, PATCH and delete", "no group was made");
        };
        self.groups.push(group.clone());
        let path = format!("/Groups/{group}");
        let members = |x: &Exchange| members_of(&x.json);
        self.expect(
            "read the group: the member is listed",
            Method::GET,
            &path,
            None,
            |x| {
                status(x, &[200])?;
                match members(x).iter().any(|m| m == member) {
                    true => Ok(()),
                    false => Err(format!("members are {:?}", members(x))),
                }
            },
        )
        .await;
        let remove = operation("Remove", Some("members"), json!([{"value": member}]));
        let x = self.probe.call(Method::PATCH, &path, Some(&remove)).await;
        let name = "PATCH the group: remove the member (Entra's shape), read back";
        match status(&x, &[200, 204]) {
            Err(why) => self.fail(name, why, &x),
            Ok(()) => {
                self.expect(name, Method::GET, &path, None, |x| {
                    status(x, &[200])?;
                    match members(x).is_empty() {
                        true => Ok(()),
                        false => Err(format!("members are still {:?}", members(x))),
                    }
                })
                .await;
            }
        }
        if self.gone("delete the group, then it is gone", &path).await {
            self.groups.retain(|g| *g != group);
        }
    }

    /// DELETE, then a GET must be 404.
    async fn delete(&mut self, id: &str) {
        if self
            .gone("delete the user, then it is gone", &format!("/Users/{id}"))
            .await
        {
            self.users.retain(|u| u != id);
        }
    }

    /// DELETE `path` (204), then GET it (404); true when both were so.
    async fn gone(&mut self, name: &str, path: &str) -> bool {
        let x = self.probe.call(Method::DELETE, path, None).await;
        if let Err(why) = status(&x, &[204]) {
            self.fail(name, why, &x);
            return false;
        }
        let x = self
            .expect(name, Method::GET, path, None, |x| status(x, &[404]))
            .await;
        x.status == 404
    }

    /// Removes whatever the checks left (after a failure), and says whether it could.
    async fn clean_up(&mut self) {
        let groups = std::mem::take(&mut self.groups);
        let users = std::mem::take(&mut self.users);
        let paths: Vec<String> = (groups.iter().map(|g| format!("/Groups/{g}")))
            .chain(users.iter().rev().map(|u| format!("/Users/{u}")))
            .collect();
        let mut left = Vec::new();
        for path in &paths {
            let x = self.probe.call(Method::DELETE, path, None).await;
            if status(&x, &[204, 404]).is_err() {
                left.push(format!("{path} ({})", x.answer()));
            }
        }
        let name = "clean up: nothing the probe made is left";
        match left.is_empty() {
            true => self.pass(name),
            false => self.report.checks.push(Check {
                name: name.into(),
                outcome: Outcome::Fail {
                    why: "these could not be deleted".into(),
                    request: "DELETE".into(),
                    answer: left.join("; "),
                },
            }),
        }
    }

    /// PATCH `id` with `body` (200 or 204), then GET it and compare the value at `pointer`.
    async fn patch_and_read(
        &mut self,
        name: &str,
        id: &str,
        body: Value,
        pointer: &str,
        want: Value,
    ) {
        let path = format!("/Users/{id}");
        let x = self.probe.call(Method::PATCH, &path, Some(&body)).await;
        if let Err(why) = status(&x, &[200, 204]) {
            return self.fail(name, why, &x);
        }
        self.expect(name, Method::GET, &path, None, |x| {
            status(x, &[200])?;
            let seen = x.json.pointer(pointer).cloned().unwrap_or(Value::Null);
            equal(&seen, &want, pointer)
        })
        .await;
    }

    /// Makes the call and records the check as `verdict` judges it; the exchange.
    async fn expect(
        &mut self,
        name: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        verdict: impl FnOnce(&Exchange) -> Verdict,
    ) -> Exchange {
        let x = self.probe.call(method, path, body).await;
        match verdict(&x) {
            Ok(()) => self.pass(name),
            Err(why) => self.fail(name, why, &x),
        }
        x
    }

    fn pass(&mut self, name: &str) {
        self.push(name, Outcome::Pass);
    }

    fn fail(&mut self, name: &str, why: String, x: &Exchange) {
        let outcome = Outcome::Fail {
            why,
            request: x.request.clone(),
            answer: x.answer(),
        };
        self.push(name, outcome);
    }

    fn skip(&mut self, name: &str, why: &str) {
        self.push(name, Outcome::Skip(why.into()));
    }

    fn push(&mut self, name: &str, outcome: Outcome) {
        self.report.checks.push(Check {
            name: name.into(),
            outcome,
        });
    }
}

/// A user as Entra ID creates one.
fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "externalId": external_id,
        "active": true,
        "displayName": "Scim Verify",
        "name": {"givenName": "Scim", "familyName": "Verify"},
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        ENTERPRISE: {"department": "Verification"},
    })
}

/// A PatchOp of one operation.
fn operation(op: &str, path: Option<&str>, value: Value) -> Value {
    let mut operation = json!({"op": op, "value": value});
    if let Some(path) = path {
        operation["path"] = json!(path);
    }
    json!({"schemas": [PATCH_OP], "Operations": [operation]})
}

/// `resource?filter=attribute eq "value"`, encoded.
fn filter_path(resource: &str, attribute: &str, value: &str) -> String {
    let filter = format!("{attribute} eq \"{value}\"");
    format!(
        "{resource}?filter={}",
        utf8_percent_encode(&filter, NON_ALPHANUMERIC)
    )
}

/// The id of a resource a 201 answer holds.
fn created_id(x: &Exchange) -> Option<String> {
    match (x.status, &x.json["id"]) {
        (201, Value::String(id)) if !id.is_empty() => Some(id.clone()),
        _ => None,
    }
}

/// The member ids of a group.
fn members_of(group: &Value) -> Vec<String> {
    let members = group["members"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    members
        .iter()
        .filter_map(|m| m["value"].as_str().map(str::to_owned))
        .collect()
}

fn status(x: &Exchange, want: &[u16]) -> Verdict {
    match want.contains(&x.status) {
        true => Ok(()),
        false if x.status == 0 => Err("no answer".into()),
        false => Err(format!("status {}, expected {want:?}", x.status)),
    }
}

fn total(x: &Exchange, want: u64) -> Verdict {
    equal(&x.json["totalResults"], &json!(want), "totalResults")
}

fn equal(seen: &Value, want: &Value, what: &str) -> Verdict {
    match seen == want {
        true => Ok(()),
        false => Err(format!("{what} is {seen}, expected {want}")),
    }
}

/// `list` contains `value` (a JSON array of strings).
fn has(list: &Value, value: &str, what: &str) -> Verdict {
    let found = list
        .as_array()
        .is_some_and(|l| l.iter().any(|v| v == value));
    match found {
        true => Ok(()),
        false => Err(format!("{what} lacks {value}")),
    }
}

/// A ListResponse (or a bare array) has a resource whose `key` is `value`.
fn listed(x: &Exchange, key: &str, value: &str) -> Verdict {
    let items = match &x.json {
        Value::Array(items) => items.as_slice(),
        other => other["Resources"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]),
    };
    match items.iter().any(|item| item[key] == value) {
        true => Ok(()),
        false => Err(format!("no resource with {key} {value:?}")),
    }
}

/// userName as the client sent it (servers may change its case).
fn same_name(resource: &Value, user_name: &str) -> Verdict {
    let seen = resource["userName"].as_str().unwrap_or_default();
    match seen.eq_ignore_ascii_case(user_name) {
        true => Ok(()),
        false => Err(format!("userName is {:?}, expected {user_name:?}", seen)),
    }
}
