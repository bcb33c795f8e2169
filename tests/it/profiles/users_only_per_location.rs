//! Users only, one tenant per location: userPrincipalName becomes the mail the product keys
//! on, each location's Tenant URL and Secret Token reach only that location's people, and
//! there is no Group resource.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Deployed, bearer};
use crate::support::entra_user;
use crate::support::profile_api::{IdKind, ProfileApi, Shape};

const API_KEY: &str = "location-api-key";

#[tokio::test]
async fn each_location_is_its_own_tenant() {
    let api = ProfileApi::start(Shape {
        users: "/api/locations/{location}/employees",
        groups: None,
        id_field: "id",
        id_kind: IdKind::Text,
        envelope: None,
        unique: Some("mail"),
        required: &["mail"],
        auth: ("x-api-key", API_KEY.to_owned()),
        patch: false,
    })
    .await;
    let deployed = Deployed::start(
        "users-only-per-location",
        vec![
            ("PRODUCT_API_URL", api.url.clone()),
            ("PRODUCT_API_KEY", API_KEY.to_owned()),
        ],
    )
    .await;
    let london = deployed.client(
        "/london/scim/v2",
        bearer(&deployed.issue_token(Some("london")).await),
    );
    let leeds_token = deployed.issue_token(Some("leeds")).await;
    let leeds = deployed.client("/leeds/scim/v2", bearer(&leeds_token));

    // Entra's test connection, then a create: the UPN becomes the mail, in London only.
    let (status, empty) = london
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22nobody%40x.com%22",
            None,
        )
        .await;
    assert_eq!(
        (status, empty["totalResults"].clone()),
        (StatusCode::OK, json!(0))
    );
    let mut user = entra_user("Sam.Hill@Contoso.com", "Sam", "Hill");
    user["phoneNumbers"] = json!([{"type": "mobile", "value": "+44 7700 900123"}]);
    let sam = london.create("/Users", user).await;
    let sam_id = sam["id"].as_str().unwrap().to_owned();
    let record = api
        .user_where("loc-london", "mail", "sam.hill@contoso.com")
        .unwrap();
    assert_eq!(record["name"], "Sam Hill");
    assert_eq!(record["mobile"], "+44 7700 900123");
    assert_eq!(record["enabled"], true);
    assert!(api.users_in("loc-leeds").is_empty());
    assert_eq!(sam["userName"], "sam.hill@contoso.com");

    // The same person at Leeds is a different employee of a different location.
    let at_leeds = leeds
        .create("/Users", entra_user("sam.hill@contoso.com", "Sam", "Hill"))
        .await;
    assert_eq!(api.users_in("loc-leeds").len(), 1);
    assert_eq!(api.users_in("loc-london").len(), 1);
    // Leeds cannot see or touch London's employee, nor use London's path.
    let (status, _) = leeds
        .call(Method::GET, &format!("/Users/{sam_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let crossed = deployed.client("/london/scim/v2", bearer(&leeds_token));
    let (status, _) = crossed.call(Method::GET, "/Users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Update (a full PUT downstream: the API has no PATCH) and deactivation.
    london
        .patch(
            &format!("/Users/{sam_id}"),
            json!([{"op": "Replace", "path": "displayName", "value": "Samuel Hill"},
                   {"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    let record = api
        .user_where("loc-london", "mail", "sam.hill@contoso.com")
        .unwrap();
    assert_eq!(
        (record["name"].clone(), record["enabled"].clone()),
        (json!("Samuel Hill"), json!(false))
    );
    assert_eq!(
        record["mobile"], "+44 7700 900123",
        "a PUT keeps the other fields"
    );

    // No groups here.
    let (status, _) = london.call(Method::GET, "/Groups", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deletion at London leaves Leeds alone.
    london.delete(&format!("/Users/{sam_id}")).await;
    assert!(api.users_in("loc-london").is_empty());
    assert_eq!(api.users_in("loc-leeds").len(), 1);
    let (status, body) = leeds
        .call(
            Method::GET,
            &format!("/Users/{}", at_leeds["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
