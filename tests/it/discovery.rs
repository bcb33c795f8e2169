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

#[tokio::test]
async fn schemas_list_only_mapped_attributes() {
    let stack = Stack::start().await;
    let (_, schemas) = stack.get("/Schemas").await;
    assert_eq!(schemas["totalResults"], 3);
    assert_eq!(
        schemas["Resources"][2]["id"],
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    );
    let user = &schemas["Resources"][0];
    assert_eq!(user["id"], "urn:ietf:params:scim:schemas:core:2.0:User");
    let names: Vec<&str> = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"userName") && names.contains(&"active"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"password") && !names.contains(&"x509Certificates"),
        "{names:?}"
    );
    let enterprise = &schemas["Resources"][1];
    let names: Vec<&str> = enterprise["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["employeeNumber", "department", "manager"]);
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

#[tokio::test]
async fn only_the_mapped_element_types_are_advertised() {
    let stack = Stack::start().await;
    let (_, user) = stack
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let phones = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "phoneNumbers")
        .unwrap();
    let kind = phones["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "type")
        .unwrap();
    assert_eq!(kind["canonicalValues"], json!(["work"]));
}
