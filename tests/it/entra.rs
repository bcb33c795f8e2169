//! Microsoft Entra ID's documented SCIM requests, sent verbatim over real HTTP, against the
//! default gateway.toml (the sample API, `Stack`) and the fixture mapping
//! (tests/fixtures/directory.toml, `Fixture`).
//!
//! Sources (quoted in a comment above each test):
//! - [dev] "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID",
//!   <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups>,
//!   sections "User Operations" and "Group Operations" (request/response samples).
//! - [known] "Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft
//!   Entra user provisioning service",
//!   <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility>
//!   (the requests sent without and with the `aadOptscim062020` flag).
//!
//! The fixture maps neither `externalId`, the enterprise extension, manager nor a writable
//! email (its work email is read-only, taken from the login), and has no `[groups]`; those
//! requests are checked on the default config only (the group test appends a `[groups]`
//! section to the fixture).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixture::{Fixture, person};
use crate::support::{Gateway, Stack};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

// [dev] "Create User" request: userName is a UPN-like string that is not an email; the work
// email is.
const SAMPLE_USER_NAME: &str = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1";
const SAMPLE_EMAIL: &str = "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com";
const SAMPLE_EXTERNAL_ID: &str = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";

/// [dev] "User Operations" > "Create User", request body verbatim.
fn create_user_sample() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
        }],
        "meta": {
            "resourceType": "User"
        },
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        },
        "roles": []
    })
}

/// The create body Entra sends when the default attribute mappings for department,
/// employeeId and manager are kept: the sample above with the enterprise extension filled.
fn create_user_with_enterprise(manager_id: Option<&str>) -> Value {
    let mut user = create_user_sample();
    let mut enterprise = json!({"department": "Human Resources US", "employeeNumber": "100009"});
    if let Some(id) = manager_id {
        enterprise["manager"] = json!({"value": id});
    }
    user[ENTERPRISE] = enterprise;
    user
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn id_of(resource: &Value) -> String {
    resource["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {resource}"))
        .to_owned()
}

/// A ListResponse with no resources, as [dev] "Get User by query - Zero results" answers.
fn assert_empty_list(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schemas"], json!([LIST]), "{body}");
    assert_eq!(body["totalResults"], 0, "{body}");
    assert_eq!(body["Resources"], json!([]), "{body}");
    assert_eq!(body["startIndex"], 1, "{body}");
}

/// A ListResponse holding exactly the resource `id`; returns it.
fn assert_single(status: StatusCode, body: &Value, id: &str) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schemas"], json!([LIST]), "{body}");
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(
        body["Resources"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert_eq!(body["Resources"][0]["id"], json!(id), "{body}");
    body["Resources"][0].clone()
}

async fn patch(gw: &Gateway, resource: &str, body: Value) -> (StatusCode, Value) {
    gw.call(Method::PATCH, resource, Some(body)).await
}

/// PATCHes a user and asserts 200 with the resource (Entra accepts 200 with the user).
async fn patch_user(gw: &Gateway, id: &str, body: Value) -> Value {
    let (status, user) = patch(gw, &format!("/Users/{id}"), body).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["id"], json!(id), "{user}");
    user
}

/// PATCHes a group and asserts success ([dev] shows 204 No Content; 200 is also allowed).
async fn patch_group(gw: &Gateway, id: &str, body: Value) {
    let (status, answer) = patch(gw, &format!("/Groups/{id}"), body).await;
    assert!(
        status == StatusCode::NO_CONTENT || status == StatusCode::OK,
        "{status} {answer}"
    );
}

fn account(stack: &Stack, email: &str) -> Value {
    stack.account(email).unwrap_or_else(|| {
        panic!(
            "no downstream account {email}: {:?}",
            stack.legacy.accounts()
        )
    })
}

fn login(f: &Fixture, login: &str) -> Value {
    person(&f.dir, login)
        .unwrap_or_else(|| panic!("no downstream person {login}: {:?}", f.dir.users()))
}

async fn fixture() -> Fixture {
    Fixture::start_with(str::to_owned).await
}

// ---------------------------------------------------------------------------------------------
// Test Connection
// ---------------------------------------------------------------------------------------------

/// Entra's "Test Connection" button: `GET /Users?filter=userName eq "<random guid>"`, once
/// encoded as Entra sends it (`+` for spaces) and once with `%20`. [dev] "Get User by query -
/// Zero results": `GET /Users?filter=userName eq "non-existent user"` answers
/// `{"schemas": [ListResponse], "totalResults": 0, "Resources": [], "startIndex": 1, ...}`.
async fn test_connection_answers_an_empty_list(gw: &Gateway) {
    let guid = uuid::Uuid::new_v4();
    for path in [
        format!("/Users?filter=userName+eq+%22{guid}%22"),
        format!("/Users?filter=userName%20eq%20%22{guid}%22"),
        "/Users?filter=userName%20eq%20%22non-existent%20user%22".to_owned(),
    ] {
        let (status, body) = gw.get(&path).await;
        assert_empty_list(status, &body);
    }
}

#[tokio::test]
async fn test_connection_with_a_random_guid_answers_an_empty_list() {
    let stack = Stack::start().await;
    // Also with users present: none of them matches the guid.
    stack.create_user(create_user_sample()).await;
    test_connection_answers_an_empty_list(&stack).await;
}

#[tokio::test]
async fn fixture_test_connection_with_a_random_guid_answers_an_empty_list() {
    let f = fixture().await;
    f.gateway.create_user(create_user_sample()).await;
    test_connection_answers_an_empty_list(&f.gateway).await;
}

// ---------------------------------------------------------------------------------------------
// Create User, Get User, Get User by query
// ---------------------------------------------------------------------------------------------

/// [dev] "Create User" (verbatim) -> 201 with the user; "Get User" `GET /Users/{id}`;
/// "Get User by query" `GET /Users?filter=userName eq "Test_User_..."` -> exactly that user.
/// Entra also matches on externalId when it is the matching attribute.
#[tokio::test]
async fn create_user_sample_is_stored_and_found_by_user_name_and_external_id() {
    let stack = Stack::start().await;
    let (status, created) = stack
        .call(Method::POST, "/Users", Some(create_user_sample()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = id_of(&created);
    assert_eq!(created["userName"], SAMPLE_USER_NAME, "{created}");
    assert_eq!(created["externalId"], SAMPLE_EXTERNAL_ID, "{created}");
    assert_eq!(created["active"], true, "{created}");
    assert_eq!(created["name"]["givenName"], "givenName", "{created}");
    assert_eq!(created["name"]["familyName"], "familyName", "{created}");
    let work = created["emails"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["type"] == "work"))
        .unwrap_or_else(|| panic!("no work email in {created}"));
    assert!(
        work["value"]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(SAMPLE_EMAIL)),
        "{created}"
    );
    assert_eq!(created["meta"]["resourceType"], "User");

    // The sample API keys on the email: the work email went downstream, not the userName.
    let record = account(&stack, &lower(SAMPLE_EMAIL));
    assert_eq!(json!(record["id"].to_string()), json!(id));
    assert_eq!(record["first_name"], "givenName");
    assert_eq!(record["last_name"], "familyName");
    assert_eq!(record["status"], "active");
    assert_eq!(record["external_ref"], SAMPLE_EXTERNAL_ID);
    assert_eq!(stack.legacy.accounts().len(), 1);

    let (status, got) = stack.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["userName"], SAMPLE_USER_NAME);
    assert_eq!(got["externalId"], SAMPLE_EXTERNAL_ID);

    for query in [
        format!("/Users?filter=userName+eq+%22{SAMPLE_USER_NAME}%22"),
        format!("/Users?filter=userName%20eq%20%22{SAMPLE_USER_NAME}%22"),
        format!("/Users?filter=externalId%20eq%20%22{SAMPLE_EXTERNAL_ID}%22"),
        format!("/Users?filter=externalId+eq+%22{SAMPLE_EXTERNAL_ID}%22"),
    ] {
        let (status, list) = stack.get(&query).await;
        let found = assert_single(status, &list, &id);
        assert_eq!(found["userName"], SAMPLE_USER_NAME, "{query}");
    }
}

/// The same [dev] "Create User" against the fixture mapping, which keys on `/login`: the
/// userName is the login; the read-only work email in the request is ignored (RFC 7644 §3.3)
/// and externalId is not mapped (accepted, not stored), so only the userName lookup applies.
#[tokio::test]
async fn fixture_create_user_sample_is_stored_and_found_by_user_name() {
    let f = fixture().await;
    let (status, created) = f
        .gateway
        .call(Method::POST, "/Users", Some(create_user_sample()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = id_of(&created);
    assert_eq!(created["userName"], SAMPLE_USER_NAME);
    assert_eq!(created["active"], true);
    assert_eq!(created["name"]["familyName"], "familyName");

    let stored = login(&f, SAMPLE_USER_NAME);
    assert_eq!(stored["id"], json!(id));
    assert_eq!(
        stored["profile"]["name"],
        json!({"first": "givenName", "last": "familyName"})
    );
    assert_eq!(stored["enabled"], true);

    let (status, got) = f.gateway.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["userName"], SAMPLE_USER_NAME);
    for query in [
        format!("/Users?filter=userName+eq+%22{SAMPLE_USER_NAME}%22"),
        format!("/Users?filter=userName%20eq%20%22{SAMPLE_USER_NAME}%22"),
    ] {
        let (status, list) = f.gateway.get(&query).await;
        assert_single(status, &list, &id);
    }
}

/// Entra's create body with the enterprise extension (department, employeeNumber and manager
/// as `{"value": id}`, the RFC 7643 §4.3 shape Entra sends on create).
#[tokio::test]
async fn create_with_the_enterprise_extension_writes_its_attributes_downstream() {
    let stack = Stack::start().await;
    let mut boss = create_user_sample();
    boss["userName"] = json!("Boss_User@contoso.com");
    boss["externalId"] = json!("boss-ext");
    boss["emails"][0]["value"] = json!("boss@testuser.com");
    let boss_id = id_of(&stack.create_user(boss).await);

    let created = stack
        .create_user(create_user_with_enterprise(Some(&boss_id)))
        .await;
    assert_eq!(created[ENTERPRISE]["department"], "Human Resources US");
    assert_eq!(created[ENTERPRISE]["employeeNumber"], "100009");
    assert_eq!(created[ENTERPRISE]["manager"]["value"], json!(boss_id));
    let record = account(&stack, &lower(SAMPLE_EMAIL));
    assert_eq!(record["department"], "Human Resources US");
    assert_eq!(record["employee_number"], "100009");
    assert_eq!(record["manager_id"].to_string(), boss_id);
}

/// The fixture maps no enterprise attribute: Entra's extension object is kept by the gateway
/// (`[users] unmapped = "store"`, the default) and read back as sent.
#[tokio::test]
async fn fixture_create_with_the_enterprise_extension_keeps_it() {
    let f = fixture().await;
    let created = f
        .gateway
        .create_user(create_user_with_enterprise(None))
        .await;
    let sent = json!({"department": "Human Resources US", "employeeNumber": "100009"});
    assert_eq!(created[ENTERPRISE], sent, "{created}");
    let (_, read) = f.gateway.get(&format!("/Users/{}", id_of(&created))).await;
    assert_eq!(read[ENTERPRISE], sent, "{read}");
    assert_eq!(login(&f, SAMPLE_USER_NAME)["enabled"], true);
}

// ---------------------------------------------------------------------------------------------
// Update User
// ---------------------------------------------------------------------------------------------

/// [dev] "Update User [Multi-valued properties]", verbatim: Replace the work email and the
/// family name. -> 200 with the user.
#[tokio::test]
async fn update_user_multi_valued_properties_sample_changes_email_and_family_name() {
    let stack = Stack::start().await;
    let id = id_of(&stack.create_user(create_user_sample()).await);
    let user = patch_user(
        &stack,
        &id,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                "op": "Replace",
                "path": "emails[type eq \"work\"].value",
                "value": "updatedEmail@microsoft.com"
                },
                {
                "op": "Replace",
                "path": "name.familyName",
                "value": "updatedFamilyName"
                }
            ]
        }),
    )
    .await;
    assert_eq!(user["name"]["familyName"], "updatedFamilyName");
    assert_eq!(user["userName"], SAMPLE_USER_NAME, "userName unchanged");
    let emails = user["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1, "{user}");
    assert!(
        emails[0]["value"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("updatedEmail@microsoft.com")
    );
    let record = account(&stack, "updatedemail@microsoft.com");
    assert_eq!(record["last_name"], "updatedFamilyName");
    assert_eq!(record["first_name"], "givenName");
    assert!(stack.account(&lower(SAMPLE_EMAIL)).is_none());
    let (status, list) = stack
        .get(&format!(
            "/Users?filter=userName%20eq%20%22{SAMPLE_USER_NAME}%22"
        ))
        .await;
    assert_single(status, &list, &id);
}

/// Fixture: its work email is read-only (the login), so Entra has no email mapping and sends
/// only the family-name operation of [dev] "Update User [Multi-valued properties]".
#[tokio::test]
async fn fixture_update_user_family_name_replace_writes_the_nested_name() {
    let f = fixture().await;
    let id = id_of(&f.gateway.create_user(create_user_sample()).await);
    let user = patch_user(
        &f.gateway,
        &id,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                "op": "Replace",
                "path": "name.familyName",
                "value": "updatedFamilyName"
                }
            ]
        }),
    )
    .await;
    assert_eq!(user["name"]["familyName"], "updatedFamilyName");
    assert_eq!(
        login(&f, SAMPLE_USER_NAME)["profile"]["name"],
        json!({"first": "givenName", "last": "updatedFamilyName"})
    );
}

/// [dev] "Update User [Single-valued properties]", verbatim: Replace userName. -> 200; the
/// new userName finds the user, the old one finds nothing.
async fn update_user_name_sample(gw: &Gateway, id: &str) -> Value {
    let new_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com";
    let user = patch_user(
        gw,
        id,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Replace",
                "path": "userName",
                "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
            }]
        }),
    )
    .await;
    assert_eq!(user["userName"], new_name, "{user}");
    let (status, got) = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["userName"], new_name, "{got}");
    let (status, list) = gw
        .get(&format!("/Users?filter=userName%20eq%20%22{new_name}%22"))
        .await;
    assert_single(status, &list, id);
    let (status, list) = gw
        .get(&format!(
            "/Users?filter=userName%20eq%20%22{SAMPLE_USER_NAME}%22"
        ))
        .await;
    assert_empty_list(status, &list);
    user
}

#[tokio::test]
async fn update_user_single_valued_user_name_sample_renames_the_user() {
    let stack = Stack::start().await;
    let id = id_of(&stack.create_user(create_user_sample()).await);
    update_user_name_sample(&stack, &id).await;
    // The default config keeps userName in the gateway; the downstream email is unchanged.
    let record = account(&stack, &lower(SAMPLE_EMAIL));
    assert_eq!(record["id"].to_string(), id);
}

#[tokio::test]
async fn fixture_update_user_single_valued_user_name_sample_renames_the_login() {
    let f = fixture().await;
    let id = id_of(&f.gateway.create_user(create_user_sample()).await);
    update_user_name_sample(&f.gateway, &id).await;
    assert_eq!(
        login(&f, "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com")["id"],
        json!(id)
    );
    assert!(person(&f.dir, SAMPLE_USER_NAME).is_none());
}

// ---------------------------------------------------------------------------------------------
// Disable User, Delete User
// ---------------------------------------------------------------------------------------------

/// [dev] "Disable User" (verbatim): `{"Operations": [{"op": "Replace", "path": "active",
/// "value": false}], ...}` -> 200. A disabled user is still a user: Entra reads it back by id
/// and by its matching attribute. [dev] "Delete User": `DELETE /Users/{id}` -> 204, then 404.
async fn disable_then_delete(gw: &Gateway, id: &str, downstream_active: impl Fn() -> Option<bool>) {
    let user = patch_user(
        gw,
        id,
        json!({
            "Operations": [
                {
                    "op": "Replace",
                    "path": "active",
                    "value": false
                }
            ],
            "schemas": [
                "urn:ietf:params:scim:api:messages:2.0:PatchOp"
            ]
        }),
    )
    .await;
    assert_eq!(user["active"], false, "{user}");
    assert_eq!(downstream_active(), Some(false));

    let (status, got) = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["active"], false, "{got}");
    let (status, list) = gw
        .get(&format!(
            "/Users?filter=userName+eq+%22{SAMPLE_USER_NAME}%22"
        ))
        .await;
    let found = assert_single(status, &list, id);
    assert_eq!(found["active"], false, "{found}");

    let (status, body) = gw.call(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null, "204 has no body");
    assert_eq!(
        downstream_active(),
        None,
        "the record is deleted downstream"
    );
    let (status, _) = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, list) = gw
        .get(&format!(
            "/Users?filter=userName+eq+%22{SAMPLE_USER_NAME}%22"
        ))
        .await;
    assert_empty_list(status, &list);
}

#[tokio::test]
async fn disable_user_sample_keeps_the_user_readable_and_delete_removes_it() {
    let stack = Stack::start().await;
    let id = id_of(&stack.create_user(create_user_sample()).await);
    disable_then_delete(&stack, &id, || {
        stack
            .account(&lower(SAMPLE_EMAIL))
            .map(|a| a["status"] == "active")
    })
    .await;
}

#[tokio::test]
async fn fixture_disable_user_sample_keeps_the_user_readable_and_delete_removes_it() {
    let f = fixture().await;
    let id = id_of(&f.gateway.create_user(create_user_sample()).await);
    disable_then_delete(&f.gateway, &id, || {
        person(&f.dir, SAMPLE_USER_NAME).map(|p| p["enabled"] == true)
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Known issues: capitalised ops, "True"/"False" strings, no-path dotted keys, manager, email
// ---------------------------------------------------------------------------------------------

/// [known] "Requests made to add a single-value string attribute" (without the flag):
/// `{"op": "Add", "path": "nickName", "value": "Babs"}`; "Requests to replace multiple
/// attributes" (without the flag): capitalised "Replace" ops with paths; and a capitalised
/// "Remove" (Entra clears an attribute whose source became empty).
#[tokio::test]
async fn capitalized_add_replace_and_remove_ops_are_applied() {
    let stack = Stack::start().await;
    let id = id_of(&stack.create_user(create_user_with_enterprise(None)).await);
    // nickName is a core attribute the mapping does not map: accepted and ignored.
    patch_user(
        &stack,
        &id,
        json!({
          "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          "Operations": [
            {
              "op": "Add",
              "path": "nickName",
              "value": "Babs"
            }
          ]
        }),
    )
    .await;

    let user = patch_user(
        &stack,
        &id,
        json!({
          "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          "Operations": [
            {
              "op": "Replace",
              "path": "displayName",
              "value": "Pvlo"
            },
            {
              "op": "Replace",
              "path": "emails[type eq \"work\"].value",
              "value": "TestBcwqnm@test.microsoft.com"
            },
            {
              "op": "Replace",
              "path": "name.givenName",
              "value": "Gtfd"
            },
            {
              "op": "Replace",
              "path": "name.familyName",
              "value": "Pkqf"
            },
            {
              "op": "Replace",
              "path": "externalId",
              "value": "Eqpj"
            },
            {
              "op": "Replace",
              "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
              "value": "Eqpj"
            }
          ]
        }),
    )
    .await;
    assert_eq!(user["name"]["givenName"], "Gtfd");
    assert_eq!(user["externalId"], "Eqpj");
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "Eqpj");
    let record = account(&stack, "testbcwqnm@test.microsoft.com");
    assert_eq!(record["first_name"], "Gtfd");
    assert_eq!(record["last_name"], "Pkqf");
    assert_eq!(record["external_ref"], "Eqpj");
    assert_eq!(record["employee_number"], "Eqpj");

    let user = patch_user(
        &stack,
        &id,
        json!({
            "schemas": [PATCH_OP],
            "Operations": [{
                "op": "Remove",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
            }]
        }),
    )
    .await;
    assert!(user[ENTERPRISE].get("department").is_none(), "{user}");
    assert_eq!(
        account(&stack, "testbcwqnm@test.microsoft.com")["department"],
        Value::Null
    );
}

/// Fixture: the same capitalised ops on what it maps (name, title); nickName, displayName,
/// externalId and employeeNumber are not mapped and are accepted and ignored; the email op is
/// left out (the fixture's email is read-only, so Entra has no mapping for it).
#[tokio::test]
async fn fixture_capitalized_add_replace_and_remove_ops_are_applied() {
    let f = fixture().await;
    let mut user = create_user_sample();
    user["title"] = json!("Engineer");
    let id = id_of(&f.gateway.create_user(user).await);
    patch_user(
        &f.gateway,
        &id,
        json!({
          "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          "Operations": [
            {
              "op": "Add",
              "path": "nickName",
              "value": "Babs"
            }
          ]
        }),
    )
    .await;
    let user = patch_user(
        &f.gateway,
        &id,
        json!({
          "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          "Operations": [
            {
              "op": "Replace",
              "path": "displayName",
              "value": "Pvlo"
            },
            {
              "op": "Replace",
              "path": "name.givenName",
              "value": "Gtfd"
            },
            {
              "op": "Replace",
              "path": "name.familyName",
              "value": "Pkqf"
            },
            {
              "op": "Replace",
              "path": "externalId",
              "value": "Eqpj"
            },
            {
              "op": "Replace",
              "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
              "value": "Eqpj"
            }
          ]
        }),
    )
    .await;
    assert_eq!(user["name"]["givenName"], "Gtfd");
    assert_eq!(
        login(&f, SAMPLE_USER_NAME)["profile"]["name"],
        json!({"first": "Gtfd", "last": "Pkqf"})
    );
    let user = patch_user(
        &f.gateway,
        &id,
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "title"}]}),
    )
    .await;
    assert!(user.get("title").is_none(), "{user}");
    assert_eq!(login(&f, SAMPLE_USER_NAME)["profile"]["title"], Value::Null);
}

/// [known] "Disable user" without the flag sends `"value": "False"` (a string), with the flag
/// `false`; re-enabling sends "True" / true. Each one must reach the downstream.
async fn active_strings_and_booleans(gw: &Gateway, id: &str, downstream: impl Fn() -> Value) {
    for (op, value, active) in [
        ("Replace", json!("False"), false),
        ("Replace", json!("True"), true),
        ("replace", json!(false), false),
        ("replace", json!(true), true),
        ("Replace", json!("false"), false),
        ("Replace", json!("true"), true),
    ] {
        let user = patch_user(
            gw,
            id,
            json!({
              "Operations": [
                {
                  "op": op,
                  "path": "active",
                  "value": value
                }
              ],
              "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]
            }),
        )
        .await;
        assert_eq!(user["active"], active, "after {value}");
        assert_eq!(downstream(), json!(active), "downstream after {value}");
        let (_, got) = gw.get(&format!("/Users/{id}")).await;
        assert_eq!(got["active"], active, "GET after {value}");
    }
    // The no-path form Entra sends too: {"op": "Replace", "value": {"active": "False"}}.
    let user = patch_user(
        gw,
        id,
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "value": {"active": "False"}}]}),
    )
    .await;
    assert_eq!(user["active"], false);
    assert_eq!(downstream(), json!(false));
}

#[tokio::test]
async fn active_as_true_false_strings_and_booleans_reaches_the_downstream() {
    let stack = Stack::start().await;
    let id = id_of(&stack.create_user(create_user_sample()).await);
    active_strings_and_booleans(&stack, &id, || {
        json!(account(&stack, &lower(SAMPLE_EMAIL))["status"] == "active")
    })
    .await;
}

#[tokio::test]
async fn fixture_active_as_true_false_strings_and_booleans_reaches_the_downstream() {
    let f = fixture().await;
    let id = id_of(&f.gateway.create_user(create_user_sample()).await);
    active_strings_and_booleans(&f.gateway, &id, || {
        login(&f, SAMPLE_USER_NAME)["enabled"].clone()
    })
    .await;
}

/// [known] "Requests to replace multiple attributes" with the flag: one "replace" without a
/// path whose value has dotted keys, a value-filtered key and an extension URN key, verbatim;
/// then Entra's capitalised variant with the department URN key.
#[tokio::test]
async fn no_path_replace_with_dotted_filtered_and_urn_keys_updates_every_attribute() {
    let stack = Stack::start().await;
    let id = id_of(&stack.create_user(create_user_with_enterprise(None)).await);
    let user = patch_user(
        &stack,
        &id,
        json!({
          "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          "Operations": [
            {
              "op": "replace",
              "value": {
                "displayName": "Pvlo",
                "emails[type eq \"work\"].value": "TestBcwqnm@test.microsoft.com",
                "name.givenName": "Gtfd",
                "name.familyName": "Pkqf",
                "externalId": "Eqpj",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Eqpj"
              }
            }
          ]
        }),
    )
    .await;
    assert_eq!(user["name"]["givenName"], "Gtfd", "{user}");
    assert_eq!(user["name"]["familyName"], "Pkqf", "{user}");
    assert_eq!(user["externalId"], "Eqpj", "{user}");
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "Eqpj", "{user}");
    let record = account(&stack, "testbcwqnm@test.microsoft.com");
    assert_eq!(record["first_name"], "Gtfd");
    assert_eq!(record["last_name"], "Pkqf");
    assert_eq!(record["external_ref"], "Eqpj");
    assert_eq!(record["employee_number"], "Eqpj");
    assert_eq!(stack.legacy.accounts().len(), 1);

    let user = patch_user(
        &stack,
        &id,
        json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "value": {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Finance",
                "name.givenName": "Gina",
                "active": "False"
            }}]
        }),
    )
    .await;
    assert_eq!(user[ENTERPRISE]["department"], "Finance");
    assert_eq!(user["active"], false);
    let record = account(&stack, "testbcwqnm@test.microsoft.com");
    assert_eq!(record["department"], "Finance");
    assert_eq!(record["first_name"], "Gina");
    assert_eq!(record["status"], "suspended");
}

/// Fixture: the [known] no-path body without the email key (read-only here, so not mapped in
/// Entra); the unmapped keys are accepted and ignored, the mapped names are written.
#[tokio::test]
async fn fixture_no_path_replace_with_dotted_keys_updates_the_mapped_attributes() {
    let f = fixture().await;
    let id = id_of(&f.gateway.create_user(create_user_sample()).await);
    let user = patch_user(
        &f.gateway,
        &id,
        json!({
          "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
          "Operations": [
            {
              "op": "replace",
              "value": {
                "displayName": "Pvlo",
                "name.givenName": "Gtfd",
                "name.familyName": "Pkqf",
                "externalId": "Eqpj",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Eqpj"
              }
            }
          ]
        }),
    )
    .await;
    assert_eq!(user["name"]["givenName"], "Gtfd");
    assert_eq!(
        login(&f, SAMPLE_USER_NAME)["profile"]["name"],
        json!({"first": "Gtfd", "last": "Pkqf"})
    );
}

/// Entra sends the manager as a bare id string (`{"op": "Add", "path": "urn:...:manager",
/// "value": "<id>"}`), with the flag as `{"value": "<id>"}` ([known], "manager" rows), and
/// clears it with `{"op": "Remove", "path": "urn:...:manager"}`.
#[tokio::test]
async fn manager_as_a_string_as_an_object_and_removed_reaches_the_downstream() {
    let stack = Stack::start().await;
    let mut boss = create_user_sample();
    boss["userName"] = json!("Boss_User@contoso.com");
    boss["externalId"] = json!("boss-ext");
    boss["emails"][0]["value"] = json!("boss@testuser.com");
    let boss_id = id_of(&stack.create_user(boss).await);
    let id = id_of(&stack.create_user(create_user_sample()).await);
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let manager = || account(&stack, &lower(SAMPLE_EMAIL))["manager_id"].clone();

    let user = patch_user(
        &stack,
        &id,
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": path, "value": boss_id}]}),
    )
    .await;
    assert_eq!(
        user[ENTERPRISE]["manager"]["value"],
        json!(boss_id),
        "{user}"
    );
    assert_eq!(manager().to_string(), boss_id);

    let user = patch_user(
        &stack,
        &id,
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": path}]}),
    )
    .await;
    assert!(
        user.get(ENTERPRISE)
            .and_then(|e| e.get("manager"))
            .is_none(),
        "{user}"
    );
    assert_eq!(manager(), Value::Null);

    let user = patch_user(
        &stack,
        &id,
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": path, "value": {"value": boss_id}}]}),
    )
    .await;
    assert_eq!(
        user[ENTERPRISE]["manager"]["value"],
        json!(boss_id),
        "{user}"
    );
    assert_eq!(manager().to_string(), boss_id);

    // Removed again, then set as a string inside a no-path object.
    patch_user(
        &stack,
        &id,
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": path}]}),
    )
    .await;
    assert_eq!(manager(), Value::Null);
    let user = patch_user(
        &stack,
        &id,
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "value": {path: boss_id}}]}),
    )
    .await;
    assert_eq!(
        user[ENTERPRISE]["manager"]["value"],
        json!(boss_id),
        "{user}"
    );
    assert_eq!(manager().to_string(), boss_id);
}

/// Entra sends `emails[type eq "work"].value` with "Add" (the MS Q&A thread "Entra ID patch
/// sending Add instead of Replace") or "Replace", also for a user created without any email
/// (no email mapping at create). Both must set the work email. The default config derives
/// the downstream email from an email-shaped userName when no email was sent.
#[tokio::test]
async fn work_email_add_and_replace_on_a_user_created_without_emails_set_it() {
    let stack = Stack::start().await;
    for (i, op) in ["Add", "Replace"].into_iter().enumerate() {
        let upn = format!("user{i}@contoso.onmicrosoft.com");
        let mut user = create_user_sample();
        user["userName"] = json!(upn);
        user["externalId"] = json!(format!("ext-{i}"));
        user.as_object_mut().unwrap().remove("emails");
        let created = stack.create_user(user).await;
        let id = id_of(&created);
        assert!(stack.account(&upn).is_some(), "email from userName");

        let new_email = format!("Mail{i}@Contoso.com");
        let user = patch_user(
            &stack,
            &id,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": op, "path": "emails[type eq \"work\"].value", "value": new_email}]}),
        )
        .await;
        let emails = user["emails"].as_array().unwrap();
        assert_eq!(emails.len(), 1, "{user}");
        assert_eq!(emails[0]["type"], "work", "{user}");
        assert!(
            emails[0]["value"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&new_email),
            "{user}"
        );
        assert_eq!(user["userName"], json!(upn), "userName unchanged");
        let record = account(&stack, &lower(&new_email));
        assert_eq!(record["id"].to_string(), id);
        assert!(stack.account(&upn).is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// Group Operations (default config: [groups] mode = "virtual", rules Admins/Managers/Sales)
// ---------------------------------------------------------------------------------------------

/// [dev] "Create Group" request body verbatim (Entra sends its own ADSCIM schema URN in
/// `schemas`), with `displayName` as given.
fn create_group_sample(display_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": display_name,
        "meta": {
            "resourceType": "Group"
        }
    })
}

async fn create_group(gw: &Gateway, display_name: &str) -> Value {
    let (status, group) = gw
        .call(
            Method::POST,
            "/Groups",
            Some(create_group_sample(display_name)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    group
}

async fn member_ids(gw: &Gateway, group: &str) -> Vec<String> {
    let (status, got) = gw.get(&format!("/Groups/{group}")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let mut ids: Vec<String> = got["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// [dev] "Create Group" -> 201 `{"schemas": [Group], "id", "externalId", "displayName",
/// "members": [], "meta"}`; "Get Group" `GET /Groups/{id}?excludedAttributes=members`;
/// "Get Group by displayName" `GET /Groups?excludedAttributes=members&filter=displayName eq
/// "displayName"`.
#[tokio::test]
async fn create_group_sample_then_get_and_find_by_display_name_without_members() {
    let stack = Stack::start().await;
    let group = create_group(&stack, "displayName").await;
    let id = id_of(&group);
    assert_eq!(group["displayName"], "displayName", "{group}");
    assert_eq!(
        group["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "{group}"
    );
    assert_eq!(
        group["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );
    assert_eq!(group["meta"]["resourceType"], "Group");
    assert!(
        group.get("members").is_none_or(|m| m == &json!([])),
        "{group}"
    );

    let (status, got) = stack
        .get(&format!("/Groups/{id}?excludedAttributes=members"))
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["displayName"], "displayName");
    assert!(got.get("members").is_none(), "{got}");

    for query in [
        "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22displayName%22",
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22",
    ] {
        let (status, list) = stack.get(query).await;
        let found = assert_single(status, &list, &id);
        assert!(found.get("members").is_none(), "{found}");
        assert_eq!(found["displayName"], "displayName");
    }
    let (status, list) = stack
        .get("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22no%20such%20group%22")
        .await;
    assert_empty_list(status, &list);
}

/// [dev] "Update Group [Non-member attributes]", verbatim: Replace displayName -> 204.
#[tokio::test]
async fn update_group_non_member_attributes_sample_renames_the_group() {
    let stack = Stack::start().await;
    let id = id_of(&create_group(&stack, "displayName").await);
    patch_group(
        &stack,
        &id,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Replace",
                "path": "displayName",
                "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
            }]
        }),
    )
    .await;
    let (_, got) = stack.get(&format!("/Groups/{id}")).await;
    assert_eq!(
        got["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    let (status, list) = stack
        .get("/Groups?excludedAttributes=members&filter=displayName%20eq%20%221879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName%22")
        .await;
    assert_single(status, &list, &id);
}

/// [dev] "Update Group [Add Members]" and "Update Group [Remove Members]", verbatim shapes
/// (`"$ref": null` in each member), and [known]'s `members[value eq "<id>"]` remove; the
/// group is "Managers", whose rule gives role "manager" and licence "reports" downstream.
#[tokio::test]
async fn add_and_remove_members_samples_change_the_members_and_the_downstream_access() {
    let stack = Stack::start().await;
    let gid = id_of(&create_group(&stack, "Managers").await);
    let uid = id_of(&stack.create_user(create_user_sample()).await);
    let access = || {
        let a = account(&stack, &lower(SAMPLE_EMAIL));
        (a["role"].clone(), a["licences"].clone())
    };
    assert_eq!(access(), (json!("user"), json!([])));
    let add = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{
            "op": "Add",
            "path": "members",
            "value": [{
                "$ref": null,
                "value": uid
            }]
        }]
    });
    let remove_by_value_list = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{
            "op": "Remove",
            "path": "members",
            "value": [{
                "$ref": null,
                "value": uid
            }]
        }]
    });
    let remove_by_filter = json!({
      "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      "Operations": [
        {
          "op": "remove",
          "path": format!("members[value eq \"{uid}\"]")
        }
      ]
    });

    patch_group(&stack, &gid, add.clone()).await;
    assert_eq!(member_ids(&stack, &gid).await, [uid.as_str()]);
    assert_eq!(access(), (json!("manager"), json!(["reports"])));

    patch_group(&stack, &gid, remove_by_value_list).await;
    assert!(member_ids(&stack, &gid).await.is_empty());
    assert_eq!(access(), (json!("user"), json!([])));

    patch_group(&stack, &gid, add).await;
    assert_eq!(member_ids(&stack, &gid).await, [uid.as_str()]);
    assert_eq!(access(), (json!("manager"), json!(["reports"])));

    patch_group(&stack, &gid, remove_by_filter).await;
    assert!(member_ids(&stack, &gid).await.is_empty());
    assert_eq!(access(), (json!("user"), json!([])));

    // Entra batches membership changes: several members in one value list.
    let mut other = create_user_sample();
    other["userName"] = json!("Other_User@contoso.com");
    other["externalId"] = json!("other-ext");
    other["emails"][0]["value"] = json!("other@testuser.com");
    let other = id_of(&stack.create_user(other).await);
    let both = |op: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": op,
                "path": "members",
                "value": [{"$ref": null, "value": uid}, {"$ref": null, "value": other}]
            }]
        })
    };
    patch_group(&stack, &gid, both("Add")).await;
    let mut expected = vec![uid.clone(), other.clone()];
    expected.sort();
    assert_eq!(member_ids(&stack, &gid).await, expected);
    assert_eq!(account(&stack, "other@testuser.com")["role"], "manager");
    patch_group(&stack, &gid, both("Remove")).await;
    assert!(member_ids(&stack, &gid).await.is_empty());
    assert_eq!(account(&stack, "other@testuser.com")["role"], "user");
    assert_eq!(access(), (json!("user"), json!([])));
}

/// [dev] "Delete Group": `DELETE /Groups/{id}` -> 204; the group is gone and its members
/// lose what its rule gave them.
#[tokio::test]
async fn delete_group_sample_removes_it_and_the_access_it_gave() {
    let stack = Stack::start().await;
    let gid = id_of(&create_group(&stack, "Sales").await);
    let uid = id_of(&stack.create_user(create_user_sample()).await);
    patch_group(
        &stack,
        &gid,
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": uid}]}]}),
    )
    .await;
    assert_eq!(
        account(&stack, &lower(SAMPLE_EMAIL))["licences"],
        json!(["crm"])
    );
    let (status, body) = stack
        .call(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = stack.get(&format!("/Groups/{gid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, list) = stack
        .get("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Sales%22")
        .await;
    assert_empty_list(status, &list);
    assert_eq!(account(&stack, &lower(SAMPLE_EMAIL))["licences"], json!([]));
    let (status, user) = stack.get(&format!("/Users/{uid}")).await;
    assert_eq!(status, StatusCode::OK, "the member itself stays: {user}");
}

/// The fixture has no `[groups]`; with virtual groups and a licence rule on its `entitlements`
/// (the directory's `tags`) appended, Entra's group samples drive the directory too.
#[tokio::test]
async fn fixture_with_virtual_groups_entra_group_samples_drive_the_tags() {
    let f = Fixture::start_with(|t| {
        format!(
            "{t}\n[groups]\nmode = \"virtual\"\nlicence_attribute = \"entitlements\"\n\
             rules = [{{ group = \"Sales\", licences = [\"crm\"] }}]\n"
        )
    })
    .await;
    let gw = &f.gateway;
    let uid = id_of(&gw.create_user(create_user_sample()).await);
    let gid = id_of(&create_group(gw, "Sales").await);
    patch_group(
        gw,
        &gid,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Add",
                "path": "members",
                "value": [{
                    "$ref": null,
                    "value": uid
                }]
            }]
        }),
    )
    .await;
    assert_eq!(member_ids(gw, &gid).await, [uid.as_str()]);
    assert_eq!(login(&f, SAMPLE_USER_NAME)["tags"], "crm");
    patch_group(
        gw,
        &gid,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Remove",
                "path": "members",
                "value": [{
                    "$ref": null,
                    "value": uid
                }]
            }]
        }),
    )
    .await;
    assert!(member_ids(gw, &gid).await.is_empty());
    assert_eq!(login(&f, SAMPLE_USER_NAME)["tags"], "");
    let (status, _) = gw
        .call(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
