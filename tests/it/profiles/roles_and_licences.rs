//! Roles and licences from groups: highest role wins, licences add up, the basic role without
//! a mapped group, removal re-evaluates, deactivation strips every licence.

use serde_json::{Value, json};

use super::{Deployed, bearer, entra_group, eventually};
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

fn product_api() -> Shape {
    Shape {
        users: "/api/v2/users",
        groups: None,
        id_field: "id",
        id_kind: IdKind::Number,
        envelope: None,
        unique: Some("email"),
        required: &["email"],
        auth: ("authorization", format!("Bearer {API_TOKEN}")),
        patch: true,
    }
}

fn env(api: &ProfileApi) -> Vec<(&'static str, String)> {
    vec![
        ("PRODUCT_API_URL", api.url.clone()),
        ("PRODUCT_API_TOKEN", API_TOKEN.to_owned()),
    ]
}

#[tokio::test]
async fn groups_drive_roles_and_licences() {
    let api = ProfileApi::start(product_api()).await;
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
    let (role, licences, _) = access(&api, "ann@example.com");
    assert_eq!(role, "manager");
    assert_eq!(
        sorted(licences),
        ["audits", "incidents"],
        "reactivation restores the licences her groups grant"
    );

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

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Guide: "updated user details (such as name or manager) are kept in sync". Entra sends the
/// manager's SCIM id; the product gets its own id of that user.
#[tokio::test]
async fn the_manager_reaches_the_product_as_its_own_id() {
    let api = ProfileApi::start(product_api()).await;
    let deployed = Deployed::start("roles-and-licences", env(&api)).await;
    let entra = deployed.client("/scim/v2", bearer(&deployed.issue_token(None).await));
    let boss = entra
        .create("/Users", entra_user("boss@example.com", "Bo", "Ss"))
        .await;
    let boss_id = boss["id"].as_str().unwrap();
    let ann = entra
        .create("/Users", entra_user("ann@example.com", "Ann", "Lee"))
        .await;
    let ann_path = format!("/Users/{}", ann["id"].as_str().unwrap());
    // Entra's PATCH for the manager mapping.
    entra
        .patch(
            &ann_path,
            json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss_id}]),
        )
        .await;
    let product_boss = api.user_where("", "email", "boss@example.com").unwrap()["id"].clone();
    assert_eq!(
        api.user_where("", "email", "ann@example.com").unwrap()["managerId"],
        product_boss
    );
    let (_, read) = entra.call(reqwest::Method::GET, &ann_path, None).await;
    assert_eq!(read[ENTERPRISE]["manager"]["value"], boss_id);
    entra
        .patch(
            &ann_path,
            json!([{"op": "Remove", "path": format!("{ENTERPRISE}:manager")}]),
        )
        .await;
    assert!(api.user_where("", "email", "ann@example.com").unwrap()["managerId"].is_null());
}

/// The profile before the vendor configured the mapping: groups, no rules.
fn without_rules(example: &str) -> String {
    let start = example.find("default_role").unwrap();
    let end = example[start..]
        .find("},\n]")
        .map(|i| start + i + 4)
        .unwrap();
    format!("{}{}", &example[..start], &example[end..])
}

/// Guide: users and groups sync first; "until the mapping is configured, no changes will be
/// made to your users' existing roles or licences"; then the account manager configures it
/// and existing users get the role and licences of their groups: by `rules apply` (its dry
/// run lists who would change) or by a reload, without restart or a change in Entra.
#[tokio::test]
async fn rules_configured_after_groups_synced_reach_existing_users() {
    let api = ProfileApi::start(product_api()).await;
    let served = Deployed::spawn("roles-and-licences", env(&api), without_rules).await;
    let deployed = &served.deployed;
    let entra = deployed.client("/scim/v2", bearer(&deployed.issue_token(None).await));
    let ann = entra
        .create("/Users", entra_user("ann@example.com", "Ann", "Lee"))
        .await;
    let ben = entra
        .create("/Users", entra_user("ben@example.com", "Ben", "Ode"))
        .await;
    let _cy = entra
        .create("/Users", entra_user("cy@example.com", "Cy", "Ng"))
        .await;
    entra
        .create(
            "/Groups",
            entra_group("Product - Managers", &[ann["id"].as_str().unwrap()]),
        )
        .await;
    entra
        .create(
            "/Groups",
            entra_group("Product - Administrators", &[ben["id"].as_str().unwrap()]),
        )
        .await;
    let role = |email: &str| api.user_where("", "email", email).unwrap()["role"].clone();
    assert!(
        role("ann@example.com").is_null(),
        "no mapping: nothing changes"
    );
    assert!(role("ben@example.com").is_null());

    // The mapping written into a copy of gateway.toml: a dry run lists who would change.
    let listed = served
        .cli(
            "roles-and-licences",
            str::to_owned,
            &["rules", "apply", "--dry-run"],
        )
        .await;
    assert!(
        listed.contains(
            "ann@example.com: role (none), licences [] -> role manager, licences [audits, incidents]"
        ),
        "{listed}"
    );
    assert!(
        listed.contains("ben@example.com: role (none), licences [] -> role admin"),
        "{listed}"
    );
    assert!(
        listed.contains("cy@example.com: role (none), licences [] -> role user, licences []"),
        "{listed}"
    );
    assert!(listed.contains("3 would change"), "{listed}");

    assert!(
        role("ann@example.com").is_null(),
        "a dry run writes nothing"
    );

    // Into gateway.toml: the reload (SIGHUP) re-evaluates everyone in the background.
    served.reload("roles-and-licences", str::to_owned);
    eventually("the reload gives existing users their roles", || {
        role("ann@example.com") == "manager"
            && role("ben@example.com") == "admin"
            && role("cy@example.com") == "user"
    })
    .await;
    let (_, licences, _) = access(&api, "ann@example.com");
    assert_eq!(sorted(licences), ["audits", "incidents"]);

    // Nobody differs any more: a run writes nothing.
    let again = served
        .cli("roles-and-licences", str::to_owned, &["rules", "apply"])
        .await;
    assert!(again.contains("checked 3 users, 0 changed"), "{again}");

    // A changed rule, applied by the command: managers become administrators.
    let promote = |example: &str| {
        example.replace(
            "group = \"Product - Managers\", role = \"manager\"",
            "group = \"Product - Managers\", role = \"admin\"",
        )
    };
    let applied = served
        .cli("roles-and-licences", promote, &["rules", "apply"])
        .await;
    assert!(applied.contains("checked 3 users, 1 changed"), "{applied}");
    assert_eq!(role("ann@example.com"), "admin");
    assert_eq!(role("ben@example.com"), "admin");
}
