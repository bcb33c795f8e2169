//! Groups kept by the gateway, Entra's membership PATCH shapes, and the rules from groups to
//! the downstream user's role and licences (here the sample API's `role` and `licences`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Stack, assert_scim_error, entra_user};

pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

pub(crate) async fn group(stack: &Stack, name: &str) -> String {
    let (status, body) = stack
        .call(
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": name, "externalId": format!("ext-{name}")}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn user(stack: &Stack, email: &str) -> String {
    let created = stack.create_user(entra_user(email, "U", "Ser")).await;
    created["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn members(stack: &Stack, group: &str, ops: Value) -> StatusCode {
    let (status, body) = stack
        .call(
            Method::PATCH,
            &format!("/Groups/{group}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": ops})),
        )
        .await;
    assert!(status.is_success(), "{body}");
    status
}

fn access(stack: &Stack, email: &str) -> (Value, Value) {
    let account = stack.account(email).unwrap();
    (account["role"].clone(), account["licences"].clone())
}

#[tokio::test]
async fn groups_are_created_found_renamed_and_deleted() {
    let stack = Stack::start().await;
    let id = group(&stack, "Sales").await;
    let (status, body) = stack
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "sales"})),
        )
        .await;
    assert_scim_error(status, &body, 409, Some("uniqueness"));

    let (_, found) = stack
        .get("/Groups?filter=displayName%20eq%20%22SALES%22&excludedAttributes=members")
        .await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], json!(id));
    assert!(found["Resources"][0].get("members").is_none());
    let (_, found) = stack
        .get("/Groups?filter=externalId%20eq%20%22ext-Sales%22")
        .await;
    assert_eq!(found["Resources"][0]["displayName"], "Sales");

    members(
        &stack,
        &id,
        json!([{"op": "Replace", "path": "displayName", "value": "Field Sales"}]),
    )
    .await;
    let (_, got) = stack.get(&format!("/Groups/{id}")).await;
    assert_eq!(got["displayName"], "Field Sales");
    assert_eq!(got["members"], json!([]));
    assert!(got["meta"]["version"].as_str().unwrap().starts_with("W/"));

    let (status, _) = stack
        .call(Method::DELETE, &format!("/Groups/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = stack.get(&format!("/Groups/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn entra_member_patches_are_idempotent() {
    let stack = Stack::start().await;
    let g = group(&stack, "Staff").await;
    let (a, b) = (
        user(&stack, "a@example.com").await,
        user(&stack, "b@example.com").await,
    );
    let add = |id: &str| json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]);
    assert_eq!(members(&stack, &g, add(&a)).await, StatusCode::NO_CONTENT);
    members(&stack, &g, add(&a)).await;
    members(&stack, &g, add(&b)).await;
    let (_, got) = stack.get(&format!("/Groups/{g}")).await;
    let ids: Vec<&str> = got["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    members(
        &stack,
        &g,
        json!([{"op": "Remove", "path": format!("members[value eq \"{a}\"]")}]),
    )
    .await;
    members(
        &stack,
        &g,
        json!([{"op": "Remove", "path": format!("members[value eq \"{a}\"]")}]),
    )
    .await;
    members(
        &stack,
        &g,
        json!([{"op": "Remove", "path": "members", "value": [{"value": "not-a-member"}]}]),
    )
    .await;
    let (_, got) = stack.get(&format!("/Groups/{g}?attributes=members")).await;
    assert_eq!(got["members"].as_array().unwrap().len(), 1);
    assert_eq!(got["members"][0]["value"], json!(b));
}

#[tokio::test]
async fn the_highest_role_wins_licences_add_up_and_removal_re_evaluates() {
    let stack = Stack::start().await;
    let u = user(&stack, "r@example.com").await;
    assert_eq!(
        access(&stack, "r@example.com"),
        (json!("user"), json!([])),
        "default role"
    );
    let (admins, managers, sales) = (
        group(&stack, "Admins").await,
        group(&stack, "Managers").await,
        group(&stack, "Sales").await,
    );
    let add = json!([{"op": "Add", "path": "members", "value": [{"value": u}]}]);
    members(&stack, &managers, add.clone()).await;
    assert_eq!(
        access(&stack, "r@example.com"),
        (json!("manager"), json!(["reports"]))
    );
    members(&stack, &admins, add.clone()).await;
    members(&stack, &sales, add).await;
    assert_eq!(
        access(&stack, "r@example.com"),
        (json!("admin"), json!(["crm", "reports"]))
    );

    members(
        &stack,
        &admins,
        json!([{"op": "Remove", "path": format!("members[value eq \"{u}\"]")}]),
    )
    .await;
    assert_eq!(
        access(&stack, "r@example.com"),
        (json!("manager"), json!(["crm", "reports"]))
    );
    let (status, _) = stack
        .call(Method::DELETE, &format!("/Groups/{managers}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        access(&stack, "r@example.com"),
        (json!("user"), json!(["crm"]))
    );
}

#[tokio::test]
async fn deactivation_strips_access_and_reactivation_restores_it() {
    let stack = Stack::start().await;
    let u = user(&stack, "d@example.com").await;
    let admins = group(&stack, "Admins").await;
    members(
        &stack,
        &admins,
        json!([{"op": "add", "value": {"members": [{"value": u}]}}]),
    )
    .await;
    assert_eq!(access(&stack, "d@example.com").0, json!("admin"));
    let deactivate = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (status, _) = stack
        .call(Method::PATCH, &format!("/Users/{u}"), Some(deactivate))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(access(&stack, "d@example.com"), (json!("none"), json!([])));
    let reactivate = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": true}]});
    stack
        .call(Method::PATCH, &format!("/Users/{u}"), Some(reactivate))
        .await;
    assert_eq!(access(&stack, "d@example.com").0, json!("admin"));
}

#[tokio::test]
async fn without_rules_the_gateway_leaves_roles_alone() {
    let stack = Stack::start_with(|t| {
        let cut = t.find("role_attribute").unwrap();
        format!(
            "{}mode = \"virtual\"\n",
            &t[..t[..cut].rfind("mode").unwrap()]
        )
    })
    .await;
    let u = user(&stack, "n@example.com").await;
    let g = group(&stack, "Admins").await;
    members(
        &stack,
        &g,
        json!([{"op": "Add", "path": "members", "value": [{"value": u}]}]),
    )
    .await;
    assert_eq!(access(&stack, "n@example.com"), (json!("user"), json!([])));
    let deactivate = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": false}]});
    stack
        .call(Method::PATCH, &format!("/Users/{u}"), Some(deactivate))
        .await;
    assert_eq!(access(&stack, "n@example.com"), (json!("user"), json!([])));
}

/// Sends one Entra-shaped member-add PATCH per id, all at once, and asserts each got 204.
pub(crate) async fn add_in_parallel(stack: &Stack, g: &str, ids: &[String]) {
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids {
        let request = stack
            .client
            .patch(format!("{}/Groups/{g}", stack.base))
            .bearer_auth(crate::support::TOKEN)
            .header("content-type", "application/scim+json")
            .body(
                json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "Add", "path": "members", "value": [{"value": id}]}
                ]})
                .to_string(),
            );
        tasks.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.unwrap().unwrap(), StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn fifty_parallel_member_patches_lose_nobody() {
    let stack = Stack::start().await;
    let g = group(&stack, "Everyone").await;
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(user(&stack, &format!("p{i}@example.com")).await);
    }
    add_in_parallel(&stack, &g, &ids).await;
    let (_, got) = stack.get(&format!("/Groups/{g}")).await;
    let mut found: Vec<String> = got["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    ids.sort();
    assert_eq!(found, ids);
}

#[tokio::test]
async fn with_groups_disabled_there_is_no_group_resource() {
    let stack = Stack::start_with(|t| {
        let at = t.find("[groups]").unwrap();
        t[..at].to_owned()
    })
    .await;
    let (status, body) = stack.get("/Groups").await;
    assert_scim_error(status, &body, 404, None);
    let (_, types) = stack.get("/ResourceTypes").await;
    assert_eq!(types["totalResults"], 1);
}
