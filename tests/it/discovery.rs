//! Discovery endpoints advertise what the mapping maps, and nothing else.

use serde_json::json;

use crate::support::Stack;

#[tokio::test]
async fn service_provider_config_says_what_is_supported() {
    let stack = Stack::start().await;
    let (status, spc) = stack.get("/ServiceProviderConfig").await;
    assert_eq!(status, 200);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
}

/// The demo config with `[users] unmapped` set.
async fn unmapped(policy: &str) -> Stack {
    Stack::start_with(|text| {
        text.replace("[users]\n", &format!("[users]\nunmapped = \"{policy}\"\n"))
    })
    .await
}

fn names(schema: &serde_json::Value) -> Vec<&str> {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect()
}

/// `unmapped = "store"` (the default): the gateway keeps what no rule maps, so it offers the
/// whole schemas, but what it cannot give back (a password, the read-only `groups`).
#[tokio::test]
async fn schemas_list_every_attribute_the_gateway_keeps() {
    let stack = Stack::start().await;
    let (_, schemas) = stack.get("/Schemas").await;
    assert_eq!(schemas["totalResults"], 3);
    let user = names(&schemas["Resources"][0]);
    for kept in [
        "userName",
        "title",
        "nickName",
        "addresses",
        "x509Certificates",
    ] {
        assert!(user.contains(&kept), "{kept} in {user:?}");
    }
    assert!(
        !user.contains(&"password") && !user.contains(&"groups"),
        "{user:?}"
    );
    let enterprise = names(&schemas["Resources"][1]);
    assert_eq!(
        enterprise,
        [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager"
        ]
    );
}

#[tokio::test]
async fn schemas_list_only_mapped_attributes_when_the_rest_is_ignored() {
    let stack = unmapped("ignore").await;
    let (_, schemas) = stack.get("/Schemas").await;
    assert_eq!(schemas["totalResults"], 3);
    assert_eq!(
        schemas["Resources"][2]["id"],
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    );
    let user = &schemas["Resources"][0];
    assert_eq!(user["id"], "urn:ietf:params:scim:schemas:core:2.0:User");
    let core = names(user);
    assert!(
        core.contains(&"userName") && core.contains(&"active"),
        "{core:?}"
    );
    assert!(
        !core.contains(&"password")
            && !core.contains(&"x509Certificates")
            && !core.contains(&"title"),
        "{core:?}"
    );
    let enterprise = &schemas["Resources"][1];
    assert_eq!(
        names(enterprise),
        ["employeeNumber", "department", "manager"]
    );
    let (status, one) = stack
        .get("/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["attributes"], enterprise["attributes"]);
}

#[tokio::test]
async fn resource_types_name_the_user_endpoint_and_its_extension() {
    let stack = Stack::start().await;
    let (_, types) = stack.get("/ResourceTypes").await;
    assert_eq!(types["totalResults"], 2);
    assert_eq!(types["Resources"][1]["endpoint"], "/Groups");
    let user = &types["Resources"][0];
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(
        user["schemaExtensions"],
        json!([{"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": false}])
    );
    let (status, _) = stack.get("/ResourceTypes/Nope").await;
    assert_eq!(status, 404);
    let (status, group) = stack.get("/ResourceTypes/Group").await;
    assert_eq!(status, 200);
    let (status, schema) = stack
        .get(&format!("/Schemas/{}", group["schema"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(schema["name"], "Group");
}

#[tokio::test]
async fn http2_clients_are_served_too() {
    let stack = Stack::start().await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/ServiceProviderConfig", stack.base))
        .bearer_auth(crate::support::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
}

async fn phone_types(stack: &Stack) -> serde_json::Value {
    let (_, user) = stack
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let phones = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "phoneNumbers")
        .unwrap()
        .clone();
    phones["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "type")
        .unwrap()["canonicalValues"]
        .clone()
}

#[tokio::test]
async fn only_the_mapped_element_types_are_advertised_when_the_rest_is_rejected() {
    let stack = unmapped("reject").await;
    assert_eq!(phone_types(&stack).await, json!(["work"]));
}

#[tokio::test]
async fn every_element_type_is_advertised_when_the_store_keeps_the_rest() {
    let stack = Stack::start().await;
    assert_eq!(
        phone_types(&stack).await,
        json!(["work", "home", "mobile", "fax", "pager", "other"])
    );
}
