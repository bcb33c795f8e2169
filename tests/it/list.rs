//! Listing users: paging, filters pushed down or evaluated here, sorting and projection.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Stack, assert_scim_error, entra_user};

async fn seeded(n: usize) -> Stack {
    let stack = Stack::start_with(|t| t.replace("max_page_size = 100", "max_page_size = 7")).await;
    for i in 0..n {
        let mut user = entra_user(
            &format!("user{i:02}@example.com"),
            &format!("G{}", i % 3),
            &format!("F{i:02}"),
        );
        user["active"] = json!(i % 2 == 0);
        stack.create_user(user).await;
    }
    stack
}

fn user_names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pages_with_start_index_and_count_across_downstream_pages() {
    let stack = seeded(20).await;
    let (status, list) = stack.get("/Users?startIndex=6&count=9").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 20);
    assert_eq!(list["startIndex"], 6);
    assert_eq!(list["itemsPerPage"], 9);
    let expected: Vec<String> = (5..14).map(|i| format!("user{i:02}@example.com")).collect();
    assert_eq!(user_names(&list), expected);

    let (_, list) = stack.get("/Users?count=0").await;
    assert_eq!(list["totalResults"], 20);
    assert_eq!(list["Resources"], json!([]));

    let (_, list) = stack.get("/Users?startIndex=19&count=5").await;
    assert_eq!(
        user_names(&list),
        ["user18@example.com", "user19@example.com"]
    );
}

#[tokio::test]
async fn filters_the_api_cannot_answer_are_evaluated_by_the_gateway() {
    let stack = seeded(12).await;
    let (_, list) = stack
        .get("/Users?filter=name.givenName%20eq%20%22g1%22%20and%20not%20(active%20eq%20true)")
        .await;
    assert_eq!(
        user_names(&list),
        ["user01@example.com", "user07@example.com"]
    );
    let (_, list) = stack
        .get("/Users?filter=userName%20sw%20%22USER1%22&sortBy=userName&sortOrder=descending")
        .await;
    assert_eq!(
        user_names(&list),
        ["user11@example.com", "user10@example.com"]
    );
    let (_, list) = stack
        .get("/Users?filter=emails%5Btype%20eq%20%22work%22%20and%20value%20co%20%2203%22%5D")
        .await;
    assert_eq!(user_names(&list), ["user03@example.com"]);
}

#[tokio::test]
async fn a_user_name_filter_is_pushed_down_to_the_api_search() {
    let stack = seeded(3).await;
    stack.legacy.reset_request_count();
    let (_, list) = stack
        .get("/Users?filter=userName%20eq%20%22nobody%40example.com%22")
        .await;
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["Resources"], json!([]));
    assert_eq!(
        stack.legacy.request_count().gets,
        1,
        "one searched list call"
    );
}

#[tokio::test]
async fn attributes_and_excluded_attributes_project_the_resources() {
    let stack = seeded(1).await;
    let (_, list) = stack.get("/Users?attributes=userName,name.givenName").await;
    let user = &list["Resources"][0];
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["id", "name", "schemas", "userName"]);
    assert_eq!(user["name"], json!({"givenName": "G0"}));
    let id = user["id"].as_str().unwrap();
    let (_, got) = stack
        .get(&format!("/Users/{id}?excludedAttributes=emails,meta"))
        .await;
    assert!(got.get("emails").is_none() && got.get("meta").is_none());
    assert_eq!(got["userName"], "user00@example.com");
}

#[tokio::test]
async fn a_filter_that_needs_too_many_records_is_too_many() {
    let stack = Stack::start_with(|t| {
        t.replace("max_page_size = 100", "max_page_size = 2")
            .replace("max_scan = 10000", "max_scan = 4")
    })
    .await;
    for i in 0..6 {
        stack
            .create_user(entra_user(&format!("m{i}@example.com"), "M", "N"))
            .await;
    }
    let (status, body) = stack
        .get("/Users?filter=name.givenName%20eq%20%22M%22")
        .await;
    assert_scim_error(status, &body, 400, Some("tooMany"));
}

#[tokio::test]
async fn bad_paging_values_are_invalid_value() {
    let stack = Stack::start().await;
    let (status, body) = stack.get("/Users?count=ten").await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    let (status, body) = stack.get("/Users?sortOrder=sideways").await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
}

#[tokio::test]
async fn filters_on_attributes_no_schema_has_are_invalid_filter() {
    let stack = Stack::start().await;
    let (status, body) = stack
        .get("/Users?filter=favouriteColour%20eq%20%22blue%22")
        .await;
    assert_scim_error(status, &body, 400, Some("invalidFilter"));
    assert!(
        body["detail"].as_str().unwrap().contains("favouriteColour"),
        "{body}"
    );
}

#[tokio::test]
async fn post_search_takes_the_same_parameters_in_a_body() {
    let stack = seeded(4).await;
    let (status, list) = stack
        .call(
            reqwest::Method::POST,
            "/Users/.search",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName sw \"user0\"",
                "attributes": ["userName"],
                "sortBy": "userName",
                "sortOrder": "descending",
                "startIndex": 1,
                "count": 2
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["totalResults"], 4);
    assert_eq!(
        user_names(&list),
        ["user03@example.com", "user02@example.com"]
    );
    assert!(list["Resources"][0].get("name").is_none());
    let (status, body) = stack
        .call(reqwest::Method::POST, "/.search", Some(json!({})))
        .await;
    assert_scim_error(status, &body, 501, None);
}
