//! Okta's documented SCIM 2.0 requests, sent verbatim over real HTTP, against the default
//! gateway.toml (the sample API, `Stack`) and the fixture mapping
//! (tests/fixtures/directory.toml, `Fixture`).
//!
//! Sources (quoted in a comment above each test):
//! - [okta] "SCIM 2.0 protocol" reference, "Okta and SCIM Version 2.0",
//!   <https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/>: "Create Users",
//!   "Retrieve Users", "Update a specific User (PUT)", "Update a specific User (PATCH)",
//!   "Create Groups", "Retrieve Groups", "Update a specific Group name", "Update specific Group
//!   membership", "Delete a specific Group".
//! - [build] "Build a SCIM provisioning integration",
//!   <https://developer.okta.com/docs/guides/scim-provisioning-integration-prepare/main/>
//!   (Okta checks for an existing user with `filter=userName eq` before creating, imports with
//!   `startIndex`/`count` paging, deactivates with PATCH `active: false`).
//!
//! Neither mapping maps `password` or `locale`: Okta sends them and they are accepted and
//! ignored. The fixture has no `[groups]`; its group test appends one.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixture::{Fixture, person};
use crate::support::{Gateway, Stack};

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const OKTA_USER: &str = "test.user@okta.local";
const PASSWORD: &str = "1mz050nq";
const NEW_PASSWORD: &str = "t1meMa$heen";

/// [okta] "Create Users" request body, verbatim.
fn create_user_sample() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "test.user@okta.local",
        "name": {
            "givenName": "Test",
            "familyName": "User"
        },
        "emails": [{
            "primary": true,
            "value": "test.user@okta.local",
            "type": "work"
        }],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// The [okta] create body for another user (Okta sends the same shape for each).
fn okta_user(login: &str, given: &str, family: &str) -> Value {
    let mut user = create_user_sample();
    user["userName"] = json!(login);
    user["emails"][0]["value"] = json!(login);
    user["name"] = json!({"givenName": given, "familyName": family});
    user["displayName"] = json!(format!("{given} {family}"));
    user["externalId"] = json!(format!("okta-{given}"));
    user
}

/// [okta] "Update a specific User (PUT)" request body, verbatim, with the id the gateway gave.
fn put_user_sample(id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "userName": "test.user@okta.local",
        "name": {
            "givenName": "Another",
            "middleName": "",
            "familyName": "User"
        },
        "emails": [{
            "primary": true,
            "value": "test.user@okta.local",
            "type": "work",
            "display": "test.user@okta.local"
        }],
        "locale": "en-US",
        "externalId": "00u1dhhb1fkIGP7RL1d8",
        "groups": [],
        "password": "t1meMa$heen",
        "active": true,
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z"
        }
    })
}

/// [okta] "Update a specific User (PATCH)": deactivation, verbatim but for `active`.
fn patch_active(active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{
            "op": "replace",
            "value": {
                "active": active
            }
        }]
    })
}

fn id_of(resource: &Value) -> String {
    resource["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {resource}"))
        .to_owned()
}

fn assert_list(status: StatusCode, body: &Value, total: u64) {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schemas"], json!([LIST]), "{body}");
    assert_eq!(body["totalResults"], total, "{body}");
}

/// Okta's existence check: `GET /Users?filter=userName eq "..."&startIndex=1&count=100`.
fn user_query(login: &str) -> String {
    format!(
        "/Users?filter=userName%20eq%20%22{}%22&startIndex=1&count=100",
        login.replace('@', "%40")
    )
}

async fn fixture() -> Fixture {
    Fixture::start_with(str::to_owned).await
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

/// No password may reach a SCIM answer or a downstream record when none is mapped.
fn assert_no_password(what: &Value) {
    let text = what.to_string();
    assert!(
        !text.contains(PASSWORD) && !text.contains(NEW_PASSWORD) && !text.contains("password"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// [okta] "Create Users", step 1: "Determine if the User already exists":
/// `GET /scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100`
/// -> `{"schemas": [ListResponse], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0,
/// "Resources": []}`.
async fn existence_check_is_empty(gw: &Gateway) {
    let (status, body) = gw.get(&user_query(OKTA_USER)).await;
    assert_list(status, &body, 0);
    assert_eq!(body["Resources"], json!([]), "{body}");
    assert_eq!(body["startIndex"], 1, "{body}");
}

#[tokio::test]
async fn okta_existence_check_for_an_unknown_user_answers_an_empty_list() {
    let stack = Stack::start().await;
    stack
        .create_user(okta_user("someone.else@okta.local", "Some", "One"))
        .await;
    existence_check_is_empty(&stack).await;
}

#[tokio::test]
async fn fixture_okta_existence_check_for_an_unknown_user_answers_an_empty_list() {
    let f = fixture().await;
    f.gateway
        .create_user(okta_user("someone.else@okta.local", "Some", "One"))
        .await;
    existence_check_is_empty(&f.gateway).await;
}

/// [okta] "Create Users", step 2: `POST /scim/v2/Users` with the body above -> 201 with the
/// user and its `id`; the same existence check then finds exactly that user. The password is
/// not mapped: accepted, never stored, never answered.
async fn create_sample(gw: &Gateway) -> Value {
    existence_check_is_empty(gw).await;
    let (status, created) = gw
        .call(Method::POST, "/Users", Some(create_user_sample()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["userName"], OKTA_USER, "{created}");
    assert_eq!(created["name"]["givenName"], "Test", "{created}");
    assert_eq!(created["name"]["familyName"], "User", "{created}");
    assert_eq!(created["active"], true, "{created}");
    assert_eq!(created["emails"][0]["value"], OKTA_USER, "{created}");
    assert_eq!(created["emails"][0]["type"], "work", "{created}");
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_no_password(&created);

    let id = id_of(&created);
    let (status, list) = gw.get(&user_query(OKTA_USER)).await;
    assert_list(status, &list, 1);
    assert_eq!(list["Resources"][0]["id"], json!(id), "{list}");
    assert_eq!(list["Resources"][0]["userName"], OKTA_USER);
    assert_no_password(&list);
    created
}

#[tokio::test]
async fn okta_create_user_sample_is_stored_and_found_by_user_name_filter() {
    let stack = Stack::start().await;
    let created = create_sample(&stack).await;
    assert_eq!(created["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(created["displayName"], "Test User");
    let record = account(&stack, OKTA_USER);
    assert_eq!(record["id"].to_string(), id_of(&created));
    assert_eq!(record["first_name"], "Test");
    assert_eq!(record["last_name"], "User");
    assert_eq!(record["status"], "active");
    assert_eq!(record["external_ref"], "00ujl29u0le5T6Aj10h7");
    assert_no_password(&record);
}

#[tokio::test]
async fn fixture_okta_create_user_sample_is_stored_and_found_by_user_name_filter() {
    let f = fixture().await;
    let created = create_sample(&f.gateway).await;
    let stored = login(&f, OKTA_USER);
    assert_eq!(stored["id"], json!(id_of(&created)));
    assert_eq!(
        stored["profile"]["name"],
        json!({"first": "Test", "last": "User"})
    );
    assert_eq!(stored["enabled"], true);
    assert_no_password(&stored);
}

/// [okta] "Retrieve Users" / [build] import: `GET /scim/v2/Users?startIndex=1&count=100`,
/// then the following pages by `startIndex`; here with `count=2` over 5 users. Each page says
/// the total, its own `startIndex` and `itemsPerPage`; together they hold every user once.
async fn pages_through(gw: &Gateway) {
    let mut ids = Vec::new();
    for (i, (given, family)) in [
        ("Ada", "One"),
        ("Ben", "Two"),
        ("Cai", "Three"),
        ("Dee", "Four"),
        ("Eve", "Five"),
    ]
    .into_iter()
    .enumerate()
    {
        let created = gw
            .create_user(okta_user(&format!("user{i}@okta.local"), given, family))
            .await;
        ids.push(id_of(&created));
    }
    let mut seen = Vec::new();
    for (start, expected) in [(1, 2), (3, 2), (5, 1)] {
        let (status, page) = gw.get(&format!("/Users?startIndex={start}&count=2")).await;
        assert_list(status, &page, 5);
        assert_eq!(page["startIndex"], start, "{page}");
        assert_eq!(page["itemsPerPage"], expected, "{page}");
        let resources = page["Resources"].as_array().unwrap();
        assert_eq!(resources.len(), expected, "{page}");
        seen.extend(resources.iter().map(id_of));
    }
    let (status, past_the_end) = gw.get("/Users?startIndex=7&count=2").await;
    assert_list(status, &past_the_end, 5);
    assert!(
        past_the_end["Resources"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{past_the_end}"
    );
    let (status, all) = gw.get("/Users?startIndex=1&count=100").await;
    assert_list(status, &all, 5);
    assert_eq!(all["Resources"].as_array().unwrap().len(), 5);
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "every user exactly once");
}

#[tokio::test]
async fn okta_import_pages_through_users_with_start_index_and_count() {
    let stack = Stack::start().await;
    pages_through(&stack).await;
}

#[tokio::test]
async fn fixture_okta_import_pages_through_users_with_start_index_and_count() {
    let f = fixture().await;
    pages_through(&f.gateway).await;
}

/// [okta] "Update a specific User (PUT)": the whole user, including `id`, `meta` (with
/// Okta's own timestamps), `groups`, an empty `middleName`, `emails[].display` and the
/// password -> 200 with the updated user. Read-only `id`, `meta` and `groups` are ignored
/// (RFC 7644 §3.3 / §3.5.1); meta.created stays the gateway's.
async fn put_sample(gw: &Gateway) -> (String, Value) {
    let created = create_sample(gw).await;
    let id = id_of(&created);
    let (status, replaced) = gw
        .call(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(put_user_sample(&id)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["id"], json!(id));
    assert_eq!(replaced["userName"], OKTA_USER);
    assert_eq!(replaced["name"]["givenName"], "Another", "{replaced}");
    assert_eq!(replaced["name"]["familyName"], "User", "{replaced}");
    assert_eq!(replaced["active"], true);
    assert_eq!(replaced["emails"][0]["value"], OKTA_USER, "{replaced}");
    assert_eq!(
        replaced["meta"]["created"], created["meta"]["created"],
        "meta.created is the server's: {replaced}"
    );
    assert_no_password(&replaced);
    let (status, got) = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"]["givenName"], "Another");
    let (status, list) = gw.get(&user_query(OKTA_USER)).await;
    assert_list(status, &list, 1);
    (id, replaced)
}

#[tokio::test]
async fn okta_put_full_user_sample_replaces_the_profile() {
    let stack = Stack::start().await;
    let (id, replaced) = put_sample(&stack).await;
    assert_eq!(replaced["externalId"], "00u1dhhb1fkIGP7RL1d8");
    let record = account(&stack, OKTA_USER);
    assert_eq!(record["id"].to_string(), id);
    assert_eq!(record["first_name"], "Another");
    assert_eq!(record["last_name"], "User");
    assert_eq!(record["status"], "active");
    assert_eq!(record["external_ref"], "00u1dhhb1fkIGP7RL1d8");
    assert_ne!(record["created_at"], "2010-01-23T04:56:22Z");
    assert_no_password(&record);
    assert_eq!(stack.legacy.accounts().len(), 1);
}

#[tokio::test]
async fn fixture_okta_put_full_user_sample_replaces_the_profile() {
    let f = fixture().await;
    let (id, _) = put_sample(&f.gateway).await;
    let stored = login(&f, OKTA_USER);
    assert_eq!(stored["id"], json!(id));
    assert_eq!(
        stored["profile"]["name"],
        json!({"first": "Another", "last": "User"})
    );
    assert_eq!(stored["enabled"], true);
    assert_ne!(stored["created"], "2010-01-23T04:56:22Z");
    assert_no_password(&stored);
    assert_eq!(f.dir.users().len(), 1);
}

/// [okta] "Update a specific User (PATCH)": `{"op": "replace", "value": {"active": false}}`
/// deactivates (-> 200 with `active: false`); the user stays readable (Okta reads it back
/// by filter on reactivation) and `{"active": true}` reactivates it.
async fn deactivate_and_reactivate(gw: &Gateway, downstream_active: impl Fn() -> bool) {
    let id = id_of(&create_sample(gw).await);
    let (status, user) = gw
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch_active(false)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["active"], false, "{user}");
    assert!(!downstream_active());
    let (status, got) = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["active"], false);
    let (status, list) = gw.get(&user_query(OKTA_USER)).await;
    assert_list(status, &list, 1);
    assert_eq!(list["Resources"][0]["active"], false, "{list}");

    let (status, user) = gw
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch_active(true)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["active"], true, "{user}");
    assert!(downstream_active());
}

#[tokio::test]
async fn okta_patch_replace_active_false_deactivates_and_true_reactivates() {
    let stack = Stack::start().await;
    deactivate_and_reactivate(&stack, || account(&stack, OKTA_USER)["status"] == "active").await;
}

#[tokio::test]
async fn fixture_okta_patch_replace_active_false_deactivates_and_true_reactivates() {
    let f = fixture().await;
    deactivate_and_reactivate(&f.gateway, || login(&f, OKTA_USER)["enabled"] == true).await;
}

/// [okta] "Update a specific User (PATCH)", password push:
/// `{"op": "replace", "value": {"password": "New Password"}}`. Without a password mapping it
/// is accepted (200) and changes nothing.
async fn password_push_is_ignored(gw: &Gateway, downstream: impl Fn() -> Value) {
    let id = id_of(&create_sample(gw).await);
    let before = downstream();
    let (status, user) = gw
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{
                    "op": "replace",
                    "value": {
                        "password": "New Password"
                    }
                }]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert!(!user.to_string().contains("New Password"), "{user}");
    let after = downstream();
    assert!(!after.to_string().contains("New Password"), "{after}");
    assert_eq!(before, after);
}

#[tokio::test]
async fn okta_password_push_is_accepted_and_not_stored() {
    let stack = Stack::start().await;
    password_push_is_ignored(&stack, || account(&stack, OKTA_USER)).await;
}

#[tokio::test]
async fn fixture_okta_password_push_is_accepted_and_not_stored() {
    let f = fixture().await;
    password_push_is_ignored(&f.gateway, || login(&f, OKTA_USER)).await;
}

// ---------------------------------------------------------------------------------------------
// Group push
// ---------------------------------------------------------------------------------------------

/// [okta] "Create Groups" request body, verbatim but for the name.
fn create_group_sample(display_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": display_name,
        "members": []
    })
}

/// [okta] "Update specific Group membership", add, verbatim but for the ids.
fn add_member(user_id: &str, login: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{
            "op": "add",
            "path": "members",
            "value": [{
                "value": user_id,
                "display": login
            }]
        }]
    })
}

/// [okta] "Update specific Group membership", remove, verbatim but for the id.
fn remove_member(user_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{
            "op": "remove",
            "path": format!("members[value eq \"{user_id}\"]")
        }]
    })
}

async fn create_group(gw: &Gateway, name: &str) -> Value {
    let (status, group) = gw
        .call(Method::POST, "/Groups", Some(create_group_sample(name)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    group
}

async fn patch_group(gw: &Gateway, id: &str, body: Value) {
    let (status, answer) = gw
        .call(Method::PATCH, &format!("/Groups/{id}"), Some(body))
        .await;
    assert!(
        status == StatusCode::NO_CONTENT || status == StatusCode::OK,
        "{status} {answer}"
    );
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

/// [okta] group push: "Create Groups" -> 201 `{"id", "displayName": "Test SCIMv2",
/// "members": [], "meta"}`; "Retrieve Groups" by `startIndex`/`count` and by
/// `filter=displayName eq`; "Update specific Group membership" add / remove; "Update a
/// specific Group name" `{"op": "replace", "value": {"id": "<id>", "displayName": "..."}}`
/// (Okta repeats the read-only id, unchanged); "Delete a specific Group" -> 204.
#[tokio::test]
async fn okta_group_push_creates_finds_renames_changes_members_and_deletes() {
    let stack = Stack::start().await;
    let uid = id_of(&stack.create_user(create_user_sample()).await);
    let group = create_group(&stack, "Test SCIMv2").await;
    let gid = id_of(&group);
    assert_eq!(group["displayName"], "Test SCIMv2");
    assert_eq!(
        group["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );
    assert!(
        group.get("members").is_none_or(|m| m == &json!([])),
        "{group}"
    );
    assert_eq!(group["meta"]["resourceType"], "Group");

    let (status, list) = stack.get("/Groups?startIndex=1&count=100").await;
    assert_list(status, &list, 1);
    assert_eq!(list["Resources"][0]["id"], json!(gid));
    let (status, list) = stack
        .get("/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100")
        .await;
    assert_list(status, &list, 1);
    assert_eq!(list["Resources"][0]["id"], json!(gid));

    patch_group(&stack, &gid, add_member(&uid, OKTA_USER)).await;
    assert_eq!(member_ids(&stack, &gid).await, [uid.as_str()]);
    patch_group(&stack, &gid, add_member(&uid, OKTA_USER)).await;
    assert_eq!(
        member_ids(&stack, &gid).await,
        [uid.as_str()],
        "adding twice keeps one"
    );

    patch_group(
        &stack,
        &gid,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "replace",
                "value": {
                    "id": gid,
                    "displayName": "Test SCIMv2 Renamed"
                }
            }]
        }),
    )
    .await;
    let (status, got) = stack.get(&format!("/Groups/{gid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["id"], json!(gid));
    assert_eq!(got["displayName"], "Test SCIMv2 Renamed");
    assert_eq!(
        member_ids(&stack, &gid).await,
        [uid.as_str()],
        "a rename keeps the members"
    );
    let (status, list) = stack
        .get("/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100")
        .await;
    assert_list(status, &list, 0);

    patch_group(&stack, &gid, remove_member(&uid)).await;
    assert!(member_ids(&stack, &gid).await.is_empty());

    let (status, body) = stack
        .call(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = stack.get(&format!("/Groups/{gid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, user) = stack.get(&format!("/Users/{uid}")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "deleting a group keeps its users: {user}"
    );
}

/// Group push into groups that the default config's rules know ("Admins" role admin,
/// "Sales" licence crm): Okta's add / remove member PATCHes change the downstream record.
#[tokio::test]
async fn okta_group_push_membership_changes_the_downstream_role_and_licences() {
    let stack = Stack::start().await;
    let uid = id_of(&stack.create_user(create_user_sample()).await);
    let access = || {
        let a = account(&stack, OKTA_USER);
        (a["role"].clone(), a["licences"].clone())
    };
    assert_eq!(access(), (json!("user"), json!([])));
    let admins = id_of(&create_group(&stack, "Admins").await);
    let sales = id_of(&create_group(&stack, "Sales").await);
    patch_group(&stack, &admins, add_member(&uid, OKTA_USER)).await;
    patch_group(&stack, &sales, add_member(&uid, OKTA_USER)).await;
    assert_eq!(access(), (json!("admin"), json!(["crm"])));
    patch_group(&stack, &admins, remove_member(&uid)).await;
    assert_eq!(access(), (json!("user"), json!(["crm"])));
    patch_group(&stack, &sales, remove_member(&uid)).await;
    assert_eq!(access(), (json!("user"), json!([])));
}

/// The fixture with virtual groups and a licence rule appended: Okta's group push changes the
/// directory's `tags`.
#[tokio::test]
async fn fixture_okta_group_push_membership_changes_the_tags() {
    let f = Fixture::start_with(|t| {
        format!(
            "{t}\n[groups]\nmode = \"virtual\"\nlicence_attribute = \"entitlements\"\n\
             rules = [{{ group = \"Test SCIMv2\", licences = [\"beta\"] }}]\n"
        )
    })
    .await;
    let gw = &f.gateway;
    let uid = id_of(&gw.create_user(create_user_sample()).await);
    let gid = id_of(&create_group(gw, "Test SCIMv2").await);
    patch_group(gw, &gid, add_member(&uid, OKTA_USER)).await;
    assert_eq!(member_ids(gw, &gid).await, [uid.as_str()]);
    assert_eq!(login(&f, OKTA_USER)["tags"], "beta");
    patch_group(gw, &gid, remove_member(&uid)).await;
    assert!(member_ids(gw, &gid).await.is_empty());
    assert_eq!(login(&f, OKTA_USER)["tags"], "");
    let (status, _) = gw
        .call(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
