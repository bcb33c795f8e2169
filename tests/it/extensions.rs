//! Schema extensions and value sets declared in gateway.toml: advertised, validated and mapped
//! like any other attribute (here against the second downstream shape).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixture::{Fixture, person};
use crate::support::assert_scim_error;

const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:2.0:CustomExtensionName";

fn config(fixture: &str) -> String {
    let rules = format!(
        "[users.attributes]\n\
         \"{CUSTOM}:folders\" = {{ path = \"/tags\", separator = \";\" }}\n\
         userType = {{ path = \"/profile/title\", allowed = [\"Premium\", \"Standard\"], default = \"Standard\" }}\n"
    );
    let without_entitlements: String = fixture
        .lines()
        .filter(|l| !l.starts_with("entitlements") && !l.starts_with("title"))
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "{}\n[[users.extensions]]\nid = \"{CUSTOM}\"\ndescription = \"Folders the user sees\"\n\
         attributes = [{{ name = \"folders\", type = \"string\", multiValued = true, description = \"Folder names\" }}]\n",
        without_entitlements.replacen("[users.attributes]\n", &rules, 1)
    )
}

#[tokio::test]
async fn a_declared_extension_is_advertised() {
    let f = Fixture::start_with(config).await;
    let (_, types) = f.gateway.get("/ResourceTypes/User").await;
    assert_eq!(
        types["schemaExtensions"],
        json!([
            {"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": false},
            {"schema": CUSTOM, "required": false}
        ]),
        "the enterprise extension is kept by the store (unmapped = \"store\")"
    );
    let (status, schema) = f.gateway.get(&format!("/Schemas/{CUSTOM}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schema["attributes"][0]["name"], "folders");
    assert_eq!(schema["attributes"][0]["multiValued"], true);
    let (_, core) = f
        .gateway
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let user_type = core["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userType")
        .unwrap();
    assert_eq!(user_type["canonicalValues"], json!(["Premium", "Standard"]));
}

#[tokio::test]
async fn extension_values_and_value_sets_reach_the_downstream() {
    let f = Fixture::start_with(config).await;
    let created = f
        .gateway
        .create_user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", CUSTOM],
            "userName": "fo@example.com",
            "userType": "Premium",
            CUSTOM: {"folders": ["Inbox", "Reports"]}
        }))
        .await;
    let stored = person(&f.dir, "fo@example.com").unwrap();
    assert_eq!(stored["tags"], "Inbox;Reports");
    assert_eq!(stored["profile"]["title"], "Premium");
    assert_eq!(created[CUSTOM]["folders"], json!(["Inbox", "Reports"]));
    assert_eq!(
        created["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", CUSTOM])
    );

    let id = created["id"].as_str().unwrap();
    let (status, patched) = f
        .gateway
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Add", "path": format!("{CUSTOM}:folders"), "value": ["Archive"]}]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        person(&f.dir, "fo@example.com").unwrap()["tags"],
        "Inbox;Reports;Archive"
    );
}

#[tokio::test]
async fn a_value_outside_the_set_is_refused_and_a_missing_one_defaults() {
    let f = Fixture::start_with(config).await;
    let (status, body) = f
        .gateway
        .call(
            Method::POST,
            "/Users",
            Some(json!({"userName": "gold@example.com", "userType": "Gold"})),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Premium, Standard"),
        "{body}"
    );
    assert!(person(&f.dir, "gold@example.com").is_none());

    f.gateway
        .create_user(json!({"userName": "plain@example.com"}))
        .await;
    assert_eq!(
        person(&f.dir, "plain@example.com").unwrap()["profile"]["title"],
        "Standard"
    );
    let (_, listed) = f
        .gateway
        .get("/Users?filter=userType%20eq%20%22standard%22")
        .await;
    assert_eq!(listed["totalResults"], 1);
    assert_eq!(
        listed["Resources"][0]["userName"],
        Value::from("plain@example.com")
    );
}

const METADATA: &str = "urn:ietf:params:scim:schemas:extension:2.0:Metadata";

/// The example config plus an open Metadata extension kept in the account's metadata object.
fn with_metadata(example: &str) -> String {
    let rule = format!("[users.attributes]\n\"{METADATA}\" = \"/metadata\"\n");
    let declared = format!(
        "[[users.extensions]]\nid = \"{METADATA}\"\ndescription = \"Free string keys\"\nopen = true\n\n[groups]"
    );
    example
        .replacen("[users.attributes]\n", &rule, 1)
        .replacen("[groups]", &declared, 1)
}

#[tokio::test]
async fn an_open_metadata_extension_takes_free_string_keys() {
    let stack = crate::support::Stack::start_with(with_metadata).await;
    let mut user = crate::support::entra_user("meta@example.com", "Me", "Ta");
    user[METADATA] = json!({"costCentre": "42", "site": "Leeds"});
    let created = stack.create_user(user).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        created[METADATA],
        json!({"costCentre": "42", "site": "Leeds"})
    );
    assert!(
        created["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(METADATA))
    );
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Add", "path": format!("{METADATA}:floor"), "value": "3"},
        {"op": "Replace", "value": {format!("{METADATA}:site"): "York"}},
        {"op": "Remove", "path": format!("{METADATA}:costCentre")}
    ]});
    let (status, body) = stack
        .call(Method::PATCH, &format!("/Users/{id}"), Some(patch))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        stack.account("meta@example.com").unwrap()["metadata"],
        json!({"floor": "3", "site": "York"})
    );
    let (_, found) = stack
        .get(&format!("/Users?filter={METADATA}:site%20eq%20%22york%22"))
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    // A number is converted to text; an object is refused, naming the key.
    let mut number = crate::support::entra_user("meta2@example.com", "Me", "Ta");
    number[METADATA] = json!({"floor": 3});
    let created = stack.create_user(number).await;
    assert_eq!(created[METADATA], json!({"floor": "3"}));
    let mut bad = crate::support::entra_user("meta3@example.com", "Me", "Ta");
    bad[METADATA] = json!({"desk": {"row": 1}});
    let (status, body) = stack.call(Method::POST, "/Users", Some(bad)).await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert!(body["detail"].as_str().unwrap().contains("desk"), "{body}");
    let (_, schema) = stack.get(&format!("/Schemas/{METADATA}")).await;
    assert_eq!(schema["attributes"], json!([]));
}

#[tokio::test]
async fn multi_valued_roles_from_an_allowed_set_reach_the_downstream() {
    let stack = crate::support::Stack::start_with(|t| {
        let without_groups = &t[..t.find("[groups]").unwrap()];
        without_groups
            .replace("\"roles[primary eq true].value\" = \"/role\"\n", "")
            .replace(
                "entitlements = \"/licences\"",
                "roles = { path = \"/licences\", allowed = [\"ReadOnly\", \"User\", \"Admin\", \"EnterpriseAdmin\"] }",
            )
    })
    .await;
    let mut user = crate::support::entra_user("roles@example.com", "Ro", "Les");
    user["roles"] = json!([{"value": "Admin"}, {"value": "readonly"}]);
    let created = stack.create_user(user).await;
    assert_eq!(
        stack.account("roles@example.com").unwrap()["licences"],
        json!(["Admin", "ReadOnly"]),
        "spelled as the allowed set lists them"
    );
    assert_eq!(
        created["roles"],
        json!([{"value": "Admin"}, {"value": "ReadOnly"}])
    );
    let mut bad = crate::support::entra_user("root@example.com", "Ro", "Ot");
    bad["roles"] = json!([{"value": "Root"}]);
    let (status, body) = stack.call(Method::POST, "/Users", Some(bad)).await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert!(stack.account("root@example.com").is_none());
}
