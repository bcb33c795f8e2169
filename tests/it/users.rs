//! The Users lifecycle through the gateway, checked on both sides: SCIM answers and the
//! sample API's records.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Stack, entra_user};

#[tokio::test]
async fn create_stores_the_mapped_record_and_answers_the_scim_resource() {
    let stack = Stack::start().await;
    let created = stack
        .create_user(entra_user("Ann.Lee@Example.com", "Ann", "Lee"))
        .await;
    let account = stack
        .account("ann.lee@example.com")
        .expect("account created downstream");
    assert_eq!(account["first_name"], "Ann");
    assert_eq!(account["last_name"], "Lee");
    assert_eq!(account["status"], "active");
    assert_eq!(account["department"], "Sales");
    assert_eq!(account["external_ref"], "ext-Ann");

    let id = account["id"].to_string();
    assert_eq!(created["id"], json!(id));
    assert_eq!(
        created["userName"], "Ann.Lee@Example.com",
        "userName is kept as sent"
    );
    assert_eq!(created["displayName"], "Ann Lee");
    assert_eq!(created["active"], true);
    assert_eq!(
        created["emails"],
        json!([{"primary": true, "type": "work", "value": "ann.lee@example.com"}]),
        "the downstream's lowercased email, with the `primary` the gateway kept"
    );
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(
        created["meta"]["location"],
        json!(format!("{}/Users/{id}", stack.base))
    );
    assert!(created["meta"]["created"].is_string());
    assert!(created["meta"]["lastModified"].is_string());
    assert_eq!(
        created["schemas"],
        json!([
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ])
    );
}

#[tokio::test]
async fn created_users_answer_with_201_location_and_scim_media_type() {
    let stack = Stack::start().await;
    let response = stack
        .client
        .post(format!("{}/Users", stack.base))
        .bearer_auth(crate::support::TOKEN)
        .header("content-type", "application/json")
        .body(entra_user("bo@example.com", "Bo", "Ek").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(location, body["meta"]["location"].as_str().unwrap());
}

#[tokio::test]
async fn a_user_goes_through_its_whole_life() {
    let stack = Stack::start().await;
    let created = stack
        .create_user(entra_user("cy@example.com", "Cy", "Oh"))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, got) = stack.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["userName"], "cy@example.com");

    let (status, list) = stack
        .get("/Users?filter=userName%20eq%20%22CY@example.com%22")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], json!(id));

    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "name.givenName", "value": "Cyril"},
            {"op": "Replace", "path": "active", "value": "False"}
        ]
    });
    let (status, patched) = stack
        .call(Method::PATCH, &format!("/Users/{id}"), Some(patch))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"]["givenName"], "Cyril");
    assert_eq!(patched["active"], false);
    let account = stack.account("cy@example.com").unwrap();
    assert_eq!(account["first_name"], "Cyril");
    assert_eq!(account["status"], "suspended");

    let mut replacement = entra_user("cy@example.com", "Cyrus", "Oh");
    replacement["active"] = json!(true);
    replacement["name"]["familyName"] = json!("Ohh");
    let (status, replaced) = stack
        .call(Method::PUT, &format!("/Users/{id}"), Some(replacement))
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let account = stack.account("cy@example.com").unwrap();
    assert_eq!(account["first_name"], "Cyrus");
    assert_eq!(account["last_name"], "Ohh");
    assert_eq!(account["status"], "active");
    assert_eq!(
        account["role"], "user",
        "fields outside the mapping survive"
    );

    let (status, body) = stack
        .call(Method::DELETE, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(stack.account("cy@example.com").is_none());
    let (status, _) = stack.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deactivate_mode_keeps_the_record_and_a_new_create_brings_it_back() {
    let stack = Stack::start_with(|t| {
        t.replace(
            "delete = \"DELETE /api/v1/accounts/{id}\"",
            "delete = \"deactivate\"",
        )
    })
    .await;
    let created = stack
        .create_user(entra_user("di@example.com", "Di", "Ng"))
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, _) = stack
        .call(Method::DELETE, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        stack.account("di@example.com").unwrap()["status"],
        "suspended"
    );
    // RFC 7644 §3.6: a deleted resource answers 404, even though its record is kept.
    let (status, _) = stack.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = stack
        .get("/Users?filter=userName%20eq%20%22di@example.com%22")
        .await;
    assert_eq!(list["totalResults"], 0);

    let again = stack
        .create_user(entra_user("di@example.com", "Di", "Ng"))
        .await;
    assert_eq!(again["id"], json!(id), "the kept record is reused");
    assert_eq!(again["active"], true);
    assert_eq!(stack.account("di@example.com").unwrap()["status"], "active");
    assert_eq!(stack.legacy.accounts().len(), 1);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_makes_no_downstream_write() {
    let stack = Stack::start().await;
    let created = stack
        .create_user(entra_user("ed@example.com", "Ed", "Ma"))
        .await;
    let id = created["id"].as_str().unwrap();
    stack.legacy.reset_request_count();
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "name.givenName", "value": "Ed"}]
    });
    let (status, _) = stack
        .call(Method::PATCH, &format!("/Users/{id}"), Some(patch))
        .await;
    assert_eq!(status, StatusCode::OK);
    let counts = stack.legacy.request_count();
    assert_eq!((counts.patches, counts.puts), (0, 0));
}

/// A `userName eq` filter finds the user in the store and takes its record from the record
/// cache like a GET by id; with `records_ttl_ms = 0` each filter reads the record downstream.
#[tokio::test]
async fn a_user_name_filter_reads_the_downstream_once_unless_the_record_cache_is_off() {
    for (ttl, reads) in [(None, 0), (Some(0), 3)] {
        let stack = Stack::start_with(|t| match ttl {
            Some(ms) => format!("{t}\n[cache]\nrecords_ttl_ms = {ms}\n"),
            None => t.to_owned(),
        })
        .await;
        let created = stack
            .create_user(entra_user("filtered@example.com", "Fil", "Tered"))
            .await;
        stack.legacy.reset_request_count();
        for _ in 0..3 {
            let (status, list) = stack
                .get("/Users?filter=userName%20eq%20%22FILTERED@example.com%22")
                .await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(list["totalResults"], 1);
            assert_eq!(list["Resources"][0]["id"], created["id"]);
            assert_eq!(list["Resources"][0]["name"]["givenName"], "Fil");
        }
        let gets = stack.legacy.request_count().gets;
        assert_eq!(gets, reads, "downstream reads with records_ttl_ms {ttl:?}");
    }
}

/// A repeated GET is answered from the record cache; `[cache] records_ttl_ms = 0` turns it
/// off, and every GET reads the downstream.
#[tokio::test]
async fn repeated_gets_read_the_downstream_once_unless_the_record_cache_is_off() {
    for (ttl, reads) in [(None, 0), (Some(0), 3)] {
        let stack = Stack::start_with(|t| match ttl {
            Some(ms) => format!("{t}\n[cache]\nrecords_ttl_ms = {ms}\n"),
            None => t.to_owned(),
        })
        .await;
        let created = stack
            .create_user(entra_user("cached@example.com", "Ca", "Ched"))
            .await;
        let path = format!("/Users/{}", created["id"].as_str().unwrap());
        stack.get(&path).await;
        stack.legacy.reset_request_count();
        for _ in 0..3 {
            let (status, _) = stack.get(&path).await;
            assert_eq!(status, StatusCode::OK);
        }
        let gets = stack.legacy.request_count().gets;
        assert_eq!(gets, reads, "downstream reads with records_ttl_ms {ttl:?}");
    }
}
