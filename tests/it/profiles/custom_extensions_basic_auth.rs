//! Basic auth, required names, userType with a default, a custom extension's multi-valued
//! folders (Entra's Split()), roles from a fixed set, a Metadata extension of free string keys,
//! and groups whose members are synced one call at a time.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Deployed, entra_group};
use crate::support::profile_api::{IdKind, ProfileApi, Shape};
use crate::support::{assert_scim_error, entra_user};

const API_TOKEN: &str = "members-api-token";
const PASSWORD: &str = "basic-password-for-entra";
const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:2.0:CustomExtensionName";
const METADATA: &str = "urn:ietf:params:scim:schemas:extension:2.0:Metadata";

fn basic(user: &str, password: &str) -> String {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {pair}")
}

fn member(api: &ProfileApi, username: &str) -> Value {
    api.user_where("", "username", username)
        .expect("member exists")
}

/// The product's API and the profile's gateway in front of it.
async fn deploy() -> (ProfileApi, Deployed) {
    let api = ProfileApi::start(Shape {
        users: "/v3/members",
        groups: Some("/v3/teams"),
        id_field: "member_id",
        id_kind: IdKind::Text,
        envelope: Some("member"),
        unique: Some("username"),
        required: &["username", "first_name", "last_name"],
        auth: ("authorization", format!("Bearer {API_TOKEN}")),
        patch: true,
    })
    .await;
    let deployed = Deployed::start(
        "custom-extensions-basic-auth",
        vec![
            ("PRODUCT_API_URL", api.url.clone()),
            ("PRODUCT_API_TOKEN", API_TOKEN.to_owned()),
            ("SCIM_BASIC_PASSWORD", PASSWORD.to_owned()),
        ],
    )
    .await;
    (api, deployed)
}

#[tokio::test]
async fn basic_auth_extensions_and_group_membership_sync() {
    let (api, deployed) = deploy().await;
    let entra = deployed.client("/scim/v2", basic("entra", PASSWORD));
    let wrong = deployed.client("/scim/v2", basic("entra", "not-the-password"));
    let (status, body) = wrong.call(Method::GET, "/Users", None).await;
    assert_scim_error(status, &body, 401, None);
    // Entra pastes the password into its Secret Token field.
    let as_entra = deployed.client("/scim/v2", super::bearer(PASSWORD));
    let (status, _) = as_entra.call(Method::GET, "/Users", None).await;
    assert_eq!(status, StatusCode::OK);

    // Required names: a user without a family name is refused and nothing is created.
    let mut nameless = entra_user("nameless@example.com", "No", "Name");
    nameless["name"] = json!({"givenName": "No"});
    let (status, body) = entra.call(Method::POST, "/Users", Some(nameless)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(api.users_in("").is_empty());

    // Create with folders from Entra's Split(), metadata keys, and no userType: the default.
    let mut user = entra_user("Mia@Example.com", "Mia", "Wong");
    user[CUSTOM] = json!({"folders": ["Inbox", "Reports"]});
    user[METADATA] = json!({"costCentre": "42"});
    user["roles"] = json!([{"primary": true, "value": "Admin"}]);
    let mia = entra.create("/Users", user).await;
    let mia_id = mia["id"].as_str().unwrap().to_owned();
    let record = member(&api, "mia@example.com");
    assert_eq!(record["plan"], "Standard");
    assert_eq!(record["role"], "Admin");
    assert_eq!(record["folders"], json!(["Inbox", "Reports"]));
    assert_eq!(record["metadata"], json!({"costCentre": "42"}));
    assert_eq!(mia[CUSTOM]["folders"], json!(["Inbox", "Reports"]));

    // Update: userType, a folder added, a metadata key replaced; a role outside the set refused.
    entra
        .patch(
            &format!("/Users/{mia_id}"),
            json!([
                {"op": "Replace", "path": "userType", "value": "Premium"},
                {"op": "Add", "path": format!("{CUSTOM}:folders"), "value": ["Archive"]},
                {"op": "Replace", "value": {format!("{METADATA}:costCentre"): "43"}}
            ]),
        )
        .await;
    let record = member(&api, "mia@example.com");
    assert_eq!(record["plan"], "Premium");
    assert_eq!(record["folders"], json!(["Inbox", "Reports", "Archive"]));
    assert_eq!(record["metadata"], json!({"costCentre": "43"}));
    let (status, body) = entra
        .call(
            Method::PATCH,
            &format!("/Users/{mia_id}"),
            Some(json!({"schemas": [super::PATCH_OP], "Operations": [
                {"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "Owner"}]})),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert_eq!(member(&api, "mia@example.com")["role"], "Admin");

    // Groups exist downstream; members are synced one call each.
    let leo = entra
        .create("/Users", entra_user("leo@example.com", "Leo", "Ng"))
        .await;
    let team = entra
        .create("/Groups", entra_group("Finance", &[&mia_id]))
        .await;
    let team_path = format!("/Groups/{}", team["id"].as_str().unwrap());
    let downstream_team = || api.groups().into_iter().find(|g| g["title"] == "Finance");
    let mia_member = member(&api, "mia@example.com")["member_id"].clone();
    let leo_member = member(&api, "leo@example.com")["member_id"].clone();
    assert_eq!(downstream_team().unwrap()["members"], json!([mia_member]));
    assert_eq!(downstream_team().unwrap()["external_id"], "ext-Finance");
    entra
        .patch(
            &team_path,
            json!([{"op": "Add", "path": "members", "value": [{"value": leo["id"]}]}]),
        )
        .await;
    entra
        .patch(
            &team_path,
            json!([{"op": "Remove", "path": "members", "value": [{"value": mia_id}]}]),
        )
        .await;
    assert_eq!(downstream_team().unwrap()["members"], json!([leo_member]));

    // Deactivation, then deletion of the group and the users.
    entra
        .patch(
            &format!("/Users/{mia_id}"),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(member(&api, "mia@example.com")["active"], false);
    entra.delete(&team_path).await;
    assert!(api.groups().is_empty());
    entra.delete(&format!("/Users/{mia_id}")).await;
    assert!(api.user_where("", "username", "mia@example.com").is_none());
}

/// A role as Entra's `AppRoleAssignmentsComplex -> roles` mapping writes it, PATCH-style: the
/// app role serialised as JSON into the element's value.
fn app_role(op: &str, role: &str) -> Value {
    let serialised = json!({"id": format!("id-{role}"), "value": role, "displayName": role});
    json!({"op": op, "path": "roles", "value": [{"value": serialised.to_string()}]})
}

/// Guide: roles ReadOnly, User, Admin, EnterpriseAdmin give web portal access; a user
/// without one gets app login only. Entra sends every assigned app role with
/// `primary: false` on create, and adds or removes one at a time as JSON-in-a-string.
#[tokio::test]
async fn roles_arrive_as_entra_app_role_assignments() {
    let (api, deployed) = deploy().await;
    let entra = deployed.client("/scim/v2", super::bearer(PASSWORD));

    // No role assigned: app login only, no portal role reaches the product.
    let kai = entra
        .create("/Users", entra_user("kai@example.com", "Kai", "Sato"))
        .await;
    let kai_path = format!("/Users/{}", kai["id"].as_str().unwrap());
    assert!(member(&api, "kai@example.com")["role"].is_null());

    // Create with two app roles, none primary: the higher one is the member's role.
    let mut user = entra_user("ida@example.com", "Ida", "Berg");
    user["roles"] = json!([
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "User", "value": "User"},
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Admin", "value": "admin"}
    ]);
    let ida = entra.create("/Users", user).await;
    let ida_path = format!("/Users/{}", ida["id"].as_str().unwrap());
    assert_eq!(
        member(&api, "ida@example.com")["role"],
        "Admin",
        "the allowed set's spelling"
    );

    // PATCH: Entra adds an app role to the user without one, then a higher one to Ida.
    entra
        .patch(&kai_path, json!([app_role("Add", "ReadOnly")]))
        .await;
    assert_eq!(member(&api, "kai@example.com")["role"], "ReadOnly");
    entra
        .patch(&ida_path, json!([app_role("Add", "EnterpriseAdmin")]))
        .await;
    assert_eq!(member(&api, "ida@example.com")["role"], "EnterpriseAdmin");

    // Unassigning removes it by the same serialised shape: back to the next highest, then none.
    entra
        .patch(&ida_path, json!([app_role("Remove", "EnterpriseAdmin")]))
        .await;
    assert_eq!(member(&api, "ida@example.com")["role"], "Admin");
    entra
        .patch(
            &ida_path,
            json!([app_role("Remove", "Admin"), app_role("Remove", "User")]),
        )
        .await;
    assert!(member(&api, "ida@example.com")["role"].is_null());

    // A role outside the four is refused and changes nothing.
    let (status, body) = entra
        .call(
            Method::PATCH,
            &kai_path,
            Some(json!({"schemas": [super::PATCH_OP], "Operations": [app_role("Add", "Owner")]})),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert_eq!(member(&api, "kai@example.com")["role"], "ReadOnly");
}

/// Guide: first name, last name and a unique email (the user name) are required; userType is
/// exactly Premium or Standard; folders come from Split() and shrink with it; Metadata values
/// of other types are converted to strings.
#[tokio::test]
async fn names_email_user_type_folders_and_metadata_as_the_guide_says() {
    let (api, deployed) = deploy().await;
    let entra = deployed.client("/scim/v2", super::bearer(PASSWORD));

    // A missing given name is refused; nothing is created.
    let mut nameless = entra_user("nogiven@example.com", "No", "Given");
    nameless["name"] = json!({"familyName": "Given"});
    let (status, body) = entra.call(Method::POST, "/Users", Some(nameless)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(api.users_in("").is_empty());

    // userPrincipalName differs from mail: the product's user name is the mail.
    let mut user = entra_user("zoe.upn@contoso.onmicrosoft.com", "Zoe", "Hart");
    user["emails"] = json!([{"primary": true, "type": "work", "value": "Zoe@Contoso.com"}]);
    user["userType"] = json!("premium");
    user[CUSTOM] = json!({"folders": ["Inbox", "Reports", "Archive"]});
    user[METADATA] = json!({"floor": 3, "vip": true, "team": "Blue"});
    let zoe = entra.create("/Users", user).await;
    let path = format!("/Users/{}", zoe["id"].as_str().unwrap());
    let record = member(&api, "zoe@contoso.com");
    assert_eq!(
        record["plan"], "Premium",
        "exactly as the product spells it"
    );
    assert_eq!(
        record["metadata"],
        json!({"floor": "3", "vip": "true", "team": "Blue"})
    );
    assert_eq!(zoe["userName"], "zoe.upn@contoso.onmicrosoft.com");

    // A folder removed through Remove, then a smaller Split() list replacing the whole list.
    entra
        .patch(
            &path,
            json!([{"op": "Remove", "path": format!("{CUSTOM}:folders"), "value": ["Reports"]}]),
        )
        .await;
    assert_eq!(
        member(&api, "zoe@contoso.com")["folders"],
        json!(["Inbox", "Archive"])
    );
    entra
        .patch(
            &path,
            json!([{"op": "Replace", "path": format!("{CUSTOM}:folders"), "value": ["Inbox"]}]),
        )
        .await;
    assert_eq!(member(&api, "zoe@contoso.com")["folders"], json!(["Inbox"]));

    // Metadata: a number by PATCH becomes text; an object is refused, naming the key.
    entra
        .patch(
            &path,
            json!([{"op": "Replace", "path": format!("{METADATA}:floor"), "value": 4}]),
        )
        .await;
    assert_eq!(member(&api, "zoe@contoso.com")["metadata"]["floor"], "4");
    let (status, body) = entra
        .call(
            Method::PATCH,
            &path,
            Some(json!({"schemas": [super::PATCH_OP], "Operations": [
                {"op": "Replace", "path": format!("{METADATA}:desk"), "value": {"row": 1}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("desk"), "{body}");
    assert!(
        member(&api, "zoe@contoso.com")["metadata"]
            .get("desk")
            .is_none()
    );
}
