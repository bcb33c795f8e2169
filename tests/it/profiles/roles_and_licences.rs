//! Roles and licences from groups: highest role wins, licences add up, the basic role without
//! a mapped group, removal re-evaluates, deactivation strips every licence.

use serde_json::{Value, json};

use super::{Deployed, bearer, entra_group};
use crate::support::entra_user;
use crate::support::profile_api::{IdKind, ProfileApi, Shape};

const API_TOKEN: &str = "product-api-token-1";

fn access(api: &ProfileApi, email: &str) -> (Value, Value, Value) {
    let user = api
        .user_where("", "email", email)
        .expect("user exists downstream");
    // Licences never sent count as none.
    let licences = match &user["licences"] {
        Value::Null => json!([]),
        other => other.clone(),
    };
    (user["role"].clone(), licences, user["active"].clone())
}

fn sorted(licences: Value) -> Vec<String> {
    let mut licences: Vec<String> = serde_json::from_value(licences).unwrap();
    licences.sort();
    licences
}

#[tokio::test]
async fn groups_drive_roles_and_licences() {
    let api = ProfileApi::start(Shape {
        users: "/api/v2/users",
        groups: None,
        id_field: "id",
        id_kind: IdKind::Number,
        envelope: None,
        unique: Some("email"),
        required: &["email"],
        auth: ("authorization", format!("Bearer {API_TOKEN}")),
        patch: true,
    })
    .await;
    let deployed = Deployed::start(
        "roles-and-licences",
        vec![
            ("PRODUCT_API_URL", api.url.clone()),
            ("PRODUCT_API_TOKEN", API_TOKEN.to_owned()),
        ],
    )
    .await;
    let token = deployed.issue_token(None).await;
    let entra = deployed.client("/scim/v2", bearer(&token));

    // Create: the basic role, no licence.
    let ann = entra
        .create("/Users", entra_user("Ann@Example.com", "Ann", "Lee"))
        .await;
    let ann_id = ann["id"].as_str().unwrap().to_owned();
    let downstream = api.user_where("", "email", "ann@example.com").unwrap();
    assert_eq!(downstream["firstName"], "Ann");
    assert_eq!(
        access(&api, "ann@example.com"),
        (json!("user"), json!([]), json!(true))
    );

    // Groups: managers get a role and licences; administrators a higher role; licences add up.
    let managers = entra
        .create("/Groups", entra_group("Product - Managers", &[&ann_id]))
        .await;
    assert_eq!(access(&api, "ann@example.com").0, "manager");
    let admins = entra
        .create("/Groups", entra_group("Product - Administrators", &[]))
        .await;
    let admins_path = format!("/Groups/{}", admins["id"].as_str().unwrap());
    entra
        .patch(
            &admins_path,
            json!([{"op": "Add", "path": "members", "value": [{"value": ann_id}]}]),
        )
        .await;
    let training = entra
        .create("/Groups", entra_group("Product - Training", &[&ann_id]))
        .await;
    let (role, licences, _) = access(&api, "ann@example.com");
    assert_eq!(role, "admin");
    assert_eq!(sorted(licences), ["audits", "incidents", "training"]);

    // Update: Entra's PATCH of a name leaves role and licences alone.
    entra
        .patch(
            &format!("/Users/{ann_id}"),
            json!([{"op": "Replace", "path": "name.givenName", "value": "Anne"}]),
        )
        .await;
    let downstream = api.user_where("", "email", "ann@example.com").unwrap();
    assert_eq!(downstream["firstName"], "Anne");
    assert_eq!(downstream["role"], "admin");

    // Removal re-evaluates: back to manager, the training licence stays through its group.
    entra
        .patch(
            &admins_path,
            json!([{"op": "Remove", "path": format!("members[value eq \"{ann_id}\"]")}]),
        )
        .await;
    let (role, licences, _) = access(&api, "ann@example.com");
    assert_eq!(role, "manager");
    assert_eq!(sorted(licences), ["audits", "incidents", "training"]);
    entra
        .delete(&format!("/Groups/{}", training["id"].as_str().unwrap()))
        .await;
    let (_, licences, _) = access(&api, "ann@example.com");
    assert_eq!(sorted(licences), ["audits", "incidents"]);

    // Deactivation (Entra sends "False" as a string) removes every licence.
    entra
        .patch(
            &format!("/Users/{ann_id}"),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(
        access(&api, "ann@example.com"),
        (json!("user"), json!([]), json!(false))
    );
    entra
        .patch(
            &format!("/Users/{ann_id}"),
            json!([{"op": "Replace", "path": "active", "value": "True"}]),
        )
        .await;
    assert_eq!(access(&api, "ann@example.com").0, "manager");

    // Out of every group: the basic role and no licence.
    entra
        .patch(
            &format!("/Groups/{}", managers["id"].as_str().unwrap()),
            json!([{"op": "Remove", "path": "members", "value": [{"value": ann_id}]}]),
        )
        .await;
    assert_eq!(
        access(&api, "ann@example.com"),
        (json!("user"), json!([]), json!(true))
    );

    // Deletion removes the user downstream.
    entra.delete(&format!("/Users/{ann_id}")).await;
    assert!(api.users_in("").is_empty());
}
