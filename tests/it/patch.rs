//! PATCH as Microsoft Entra ID sends it (capitalized ops, "False" strings, no-path objects
//! with dotted keys, value-filtered paths, manager shapes), written through to the sample API.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Stack, assert_scim_error, entra_user};

fn ops(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

async fn stack_with_user(email: &str) -> (Stack, String) {
    let stack = Stack::start().await;
    let created = stack.create_user(entra_user(email, "Pat", "Chen")).await;
    (stack, created["id"].as_str().unwrap().to_owned())
}

async fn patch(stack: &Stack, id: &str, operations: Value) -> Value {
    let (status, body) = stack
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(ops(operations)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn no_path_replace_with_dotted_filtered_and_urn_keys() {
    let (stack, id) = stack_with_user("pat@example.com").await;
    let user = patch(
        &stack,
        &id,
        json!([{"op": "Replace", "value": {
            "name.givenName": "Patricia",
            "name.familyName": "Chen-Wu",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Finance",
            "active": "False"
        }}]),
    )
    .await;
    assert_eq!(user["name"]["givenName"], "Patricia");
    assert_eq!(user["active"], false);
    let account = stack.account("pat@example.com").unwrap();
    assert_eq!(account["first_name"], "Patricia");
    assert_eq!(account["last_name"], "Chen-Wu");
    assert_eq!(account["department"], "Finance");
    assert_eq!(account["status"], "suspended");
}

#[tokio::test]
async fn active_true_and_false_as_strings_and_booleans() {
    let (stack, id) = stack_with_user("act@example.com").await;
    for (value, status) in [
        (json!("False"), "suspended"),
        (json!("True"), "active"),
        (json!(false), "suspended"),
        (json!(true), "active"),
    ] {
        patch(
            &stack,
            &id,
            json!([{"op": "Replace", "path": "active", "value": value}]),
        )
        .await;
        assert_eq!(
            stack.account("act@example.com").unwrap()["status"],
            status,
            "after {value}"
        );
    }
}

#[tokio::test]
async fn manager_as_a_string_as_an_object_and_removed() {
    let stack = Stack::start().await;
    let boss = stack
        .create_user(entra_user("boss@example.com", "Bo", "Ss"))
        .await;
    let worker = stack
        .create_user(entra_user("worker@example.com", "Wo", "Rk"))
        .await;
    let boss_id = boss["id"].as_str().unwrap();
    let id = worker["id"].as_str().unwrap();
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let boss_number: i64 = boss_id.parse().unwrap();

    patch(
        &stack,
        id,
        json!([{"op": "Add", "path": path, "value": boss_id}]),
    )
    .await;
    assert_eq!(
        stack.account("worker@example.com").unwrap()["manager_id"],
        boss_number
    );

    patch(&stack, id, json!([{"op": "Remove", "path": path}])).await;
    assert_eq!(
        stack.account("worker@example.com").unwrap()["manager_id"],
        Value::Null
    );

    let user = patch(
        &stack,
        id,
        json!([{"op": "Replace", "path": path, "value": {"value": boss_id}}]),
    )
    .await;
    assert_eq!(
        stack.account("worker@example.com").unwrap()["manager_id"],
        boss_number
    );
    assert_eq!(
        user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        json!(boss_id)
    );
}

#[tokio::test]
async fn a_value_filtered_path_changes_the_mapped_field() {
    let (stack, id) = stack_with_user("ph@example.com").await;
    patch(
        &stack,
        &id,
        json!([{"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0100"}]),
    )
    .await;
    assert_eq!(
        stack.account("ph@example.com").unwrap()["phone"],
        "+1 555 0100"
    );
    let user = patch(
        &stack,
        &id,
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0199"}]),
    )
    .await;
    assert_eq!(
        user["phoneNumbers"],
        json!([{"type": "work", "value": "+1 555 0199"}])
    );
    assert_eq!(
        stack.account("ph@example.com").unwrap()["phone"],
        "+1 555 0199"
    );
}

#[tokio::test]
async fn a_bad_patch_changes_nothing() {
    let (stack, id) = stack_with_user("bad@example.com").await;
    let before = stack.account("bad@example.com").unwrap();
    let (status, body) = stack
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(ops(json!([
                {"op": "Replace", "path": "name.givenName", "value": "Changed"},
                {"op": "Replace", "path": "active", "value": "sometimes"}
            ]))),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert_eq!(stack.account("bad@example.com").unwrap(), before);
    let (status, body) = stack
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": "nope"})),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("invalidSyntax"));
    let (status, body) = stack
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(ops(json!([{"op": "Remove"}]))),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("noTarget"));
    assert_eq!(stack.account("bad@example.com").unwrap(), before);
}
