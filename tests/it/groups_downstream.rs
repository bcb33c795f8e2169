//! `[groups] mode = "downstream"`: every group and membership change reaches the sample API's
//! teams (one call per member), Entra's repeated adds and removes still succeed, a downstream
//! failure leaves the gateway's view unchanged, and the role rules keep working.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use scim_gateway::tools::legacy::Team;
use serde_json::json;

use crate::groups::{PATCH_OP, group, members, user};
use crate::support::Stack;

/// `[groups]` of the example config, made downstream (the sample API's teams).
const DOWNSTREAM_GROUPS: &str = "mode = \"downstream\"
create = \"POST /api/v1/teams\"
update = \"PATCH /api/v1/teams/{id}\"
delete = \"DELETE /api/v1/teams/{id}\"
add_member = \"PUT /api/v1/teams/{id}/members/{member}\"
remove_member = \"DELETE /api/v1/teams/{id}/members/{member}\"
envelope = \"/team\"
external_id_field = \"/external_ref\"";

/// A config with the example's virtual groups made downstream.
pub(crate) fn downstream_groups(config: &str) -> String {
    config.replace(
        "mode = \"virtual\"                                  # groups live in the gateway's store",
        DOWNSTREAM_GROUPS,
    )
}

async fn stack() -> Stack {
    Stack::start_with(downstream_groups).await
}

fn team(stack: &Stack, name: &str) -> Option<Team> {
    stack.legacy.teams().into_iter().find(|t| t.name == name)
}

/// The downstream account ids of these SCIM user ids (SCIM ids are the downstream ids here).
fn accounts(ids: &[&String]) -> BTreeSet<u64> {
    ids.iter().map(|id| id.parse().unwrap()).collect()
}

#[tokio::test]
async fn groups_and_members_are_made_downstream_one_call_each() {
    let stack = stack().await;
    let ann = user(&stack, "ann@example.com").await;
    let bob = user(&stack, "bob@example.com").await;
    let g = group(&stack, "Sales").await;
    let sales = team(&stack, "Sales").expect("the team was created downstream");
    assert_eq!(sales.external_ref.as_deref(), Some("ext-Sales"));
    assert!(sales.members.is_empty());

    stack.legacy.reset_request_count();
    let add = |id: &String| json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]);
    members(&stack, &g, add(&ann)).await;
    members(&stack, &g, add(&bob)).await;
    assert_eq!(
        team(&stack, "Sales").unwrap().members,
        accounts(&[&ann, &bob])
    );
    // The rules still apply: Sales grants the crm licence.
    assert_eq!(
        stack.account("ann@example.com").unwrap()["licences"],
        json!(["crm"])
    );
    // Adding someone already there (the API answers 409) succeeds, as Entra needs.
    assert_eq!(members(&stack, &g, add(&bob)).await, StatusCode::NO_CONTENT);

    let remove = json!([{"op": "Remove", "path": format!("members[value eq \"{ann}\"]")}]);
    members(&stack, &g, remove.clone()).await;
    assert_eq!(team(&stack, "Sales").unwrap().members, accounts(&[&bob]));
    assert_eq!(
        stack.account("ann@example.com").unwrap()["licences"],
        json!([])
    );
    // Removing a non-member (the API answers 404) succeeds too.
    assert_eq!(members(&stack, &g, remove).await, StatusCode::NO_CONTENT);
    // Member changes never list, read or rewrite the team: only member calls went out (and
    // the role rules' reads and writes of the members' accounts).
    for request in stack.legacy.requests() {
        let (_, path) = request.split_once(' ').unwrap();
        assert!(
            path.starts_with("/api/v1/accounts/") || path.contains("/members/"),
            "a member change made the call {request}"
        );
    }

    // Rename (Entra's no-path replace) reaches the team.
    members(
        &stack,
        &g,
        json!([{"op": "Replace", "value": {"displayName": "Sales EMEA"}}]),
    )
    .await;
    assert!(team(&stack, "Sales EMEA").is_some());

    // PUT sends only the difference downstream.
    let (status, body) = stack
        .call(
            Method::PUT,
            &format!("/Groups/{g}"),
            Some(json!({"displayName": "Sales EMEA", "members": [{"value": ann}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        team(&stack, "Sales EMEA").unwrap().members,
        accounts(&[&ann])
    );

    let (status, _) = stack
        .call(Method::DELETE, &format!("/Groups/{g}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(stack.legacy.teams().is_empty());
    let (status, _) = stack.get(&format!("/Groups/{g}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_downstream_failure_changes_nothing_and_a_retry_succeeds() {
    let stack = stack().await;
    let ann = user(&stack, "ann@example.com").await;
    let g = group(&stack, "Ops").await;
    stack.legacy.fail_next(1);
    let (status, body) = stack
        .call(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": ann}]}
            ]})),
        )
        .await;
    assert!(status.is_server_error(), "{status} {body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let (_, got) = stack.get(&format!("/Groups/{g}")).await;
    assert_eq!(
        got["members"],
        json!([]),
        "the store did not move ahead of the downstream"
    );
    assert!(team(&stack, "Ops").unwrap().members.is_empty());
    // Entra retries; now both sides agree.
    members(
        &stack,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}]}]),
    )
    .await;
    assert_eq!(team(&stack, "Ops").unwrap().members, accounts(&[&ann]));
    let (_, got) = stack.get(&format!("/Groups/{g}")).await;
    assert_eq!(got["members"][0]["value"], json!(ann));

    // A group the downstream refuses (duplicate name) is not created in the gateway either.
    stack
        .legacy
        .teams()
        .iter()
        .for_each(|t| assert_ne!(t.name, "ops"));
    let (status, _) = stack
        .call(Method::POST, "/Groups", Some(json!({"displayName": "OPS"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, listed) = stack.get("/Groups").await;
    assert_eq!(listed["totalResults"], 1);
}

#[tokio::test]
async fn fifty_parallel_member_patches_reach_the_downstream() {
    fifty_parallel_adds_all_reach_the_team(&stack().await).await;
}

/// Adds 50 users to a new group with one PATCH each, all at once: the team downstream and the
/// group in the gateway end with all 50.
async fn fifty_parallel_adds_all_reach_the_team(stack: &Stack) {
    let g = group(stack, "Everyone").await;
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(user(stack, &format!("p{i}@example.com")).await);
    }
    crate::groups::add_in_parallel(stack, &g, &ids).await;
    let all: Vec<&String> = ids.iter().collect();
    assert_eq!(team(stack, "Everyone").unwrap().members, accounts(&all));
    let (_, got) = stack.get(&format!("/Groups/{g}")).await;
    assert_eq!(got["members"].as_array().unwrap().len(), 50);
}

/// The example's groups made downstream on an API that takes a team's whole member list
/// (`member_ids`, integers) with its update call instead of a call per member.
pub(crate) fn member_list_groups(config: &str) -> String {
    downstream_groups(config).replace(
        "add_member = \"PUT /api/v1/teams/{id}/members/{member}\"
remove_member = \"DELETE /api/v1/teams/{id}/members/{member}\"",
        "members_field = \"/member_ids\"\nmember_ids = \"integer\"",
    )
}

#[tokio::test]
async fn an_api_that_takes_whole_member_lists_gets_the_whole_list_on_every_change() {
    let stack = Stack::start_with(member_list_groups).await;
    let ann = user(&stack, "ann@example.com").await;
    let bob = user(&stack, "bob@example.com").await;
    let cy = user(&stack, "cy@example.com").await;
    let (status, body) = stack
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Sales", "externalId": "ext-Sales", "members": [{"value": ann}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let g = body["id"].as_str().unwrap().to_owned();
    assert_eq!(team(&stack, "Sales").unwrap().members, accounts(&[&ann]));

    let add = |id: &String| json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]);
    members(&stack, &g, add(&bob)).await;
    assert_eq!(
        team(&stack, "Sales").unwrap().members,
        accounts(&[&ann, &bob])
    );
    assert_eq!(members(&stack, &g, add(&bob)).await, StatusCode::NO_CONTENT);
    let remove = json!([{"op": "Remove", "path": format!("members[value eq \"{ann}\"]")}]);
    members(&stack, &g, remove.clone()).await;
    assert_eq!(members(&stack, &g, remove).await, StatusCode::NO_CONTENT);
    let sales = team(&stack, "Sales").unwrap();
    assert_eq!(sales.members, accounts(&[&bob]));
    assert_eq!(sales.external_ref.as_deref(), Some("ext-Sales"));
    // The rules still apply: Sales grants the crm licence, and losing it takes it away.
    assert_eq!(
        stack.account("bob@example.com").unwrap()["licences"],
        json!(["crm"])
    );
    assert_eq!(
        stack.account("ann@example.com").unwrap()["licences"],
        json!([])
    );

    // A rename and a member change in one request: the list is written with the new name.
    members(
        &stack,
        &g,
        json!([
            {"op": "Replace", "value": {"displayName": "Sales EMEA"}},
            {"op": "Add", "path": "members", "value": [{"value": cy}]}
        ]),
    )
    .await;
    assert!(team(&stack, "Sales").is_none());
    assert_eq!(
        team(&stack, "Sales EMEA").unwrap().members,
        accounts(&[&bob, &cy])
    );

    // PUT writes exactly its list.
    let (status, body) = stack
        .call(
            Method::PUT,
            &format!("/Groups/{g}"),
            Some(json!({"displayName": "Sales EMEA", "members": [{"value": ann}, {"value": cy}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        team(&stack, "Sales EMEA").unwrap().members,
        accounts(&[&ann, &cy])
    );

    // A failed write changes neither side; Entra's retry then lands.
    stack.legacy.fail_next(1);
    let (status, _) = stack
        .call(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": add(&bob)})),
        )
        .await;
    assert!(status.is_server_error());
    let (_, got) = stack.get(&format!("/Groups/{g}")).await;
    assert_eq!(got["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        team(&stack, "Sales EMEA").unwrap().members,
        accounts(&[&ann, &cy])
    );
    members(&stack, &g, add(&bob)).await;
    assert_eq!(
        team(&stack, "Sales EMEA").unwrap().members,
        accounts(&[&ann, &bob, &cy])
    );
}

#[tokio::test]
async fn fifty_parallel_member_patches_lose_nothing_on_a_member_list_api() {
    fifty_parallel_adds_all_reach_the_team(&Stack::start_with(member_list_groups).await).await;
}
