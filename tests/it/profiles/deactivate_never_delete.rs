//! Deactivate, never delete: SCIM DELETE and `active=false` set IsActive=false on a record that
//! stays, `active=true` reactivates it, every user carries the default licence and groups add
//! more. The Secret Token is issued with an expiry date.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Deployed, bearer, entra_group};
use crate::support::entra_user;
use crate::support::profile_api::{IdKind, ProfileApi, Shape};

const API_KEY: &str = "vid-api-key";

fn record(api: &ProfileApi, email: &str) -> Value {
    api.user_where("", "Email", email)
        .expect("the record stays")
}

#[tokio::test]
async fn users_are_deactivated_never_deleted() {
    let api = ProfileApi::start(Shape {
        users: "/api/v1/Users",
        groups: None,
        id_field: "Id",
        id_kind: IdKind::Number,
        envelope: None,
        unique: Some("Email"),
        required: &["Email", "FirstName", "LastName"],
        auth: ("authorization", format!("ApiKey {API_KEY}")),
        patch: false,
    })
    .await;
    let deployed = Deployed::start(
        "deactivate-never-delete",
        vec![
            ("PRODUCT_API_URL", api.url.clone()),
            ("PRODUCT_API_KEY", API_KEY.to_owned()),
        ],
    )
    .await;
    let entra = deployed.client("/scim/v2", bearer(&deployed.issue_token(None).await));

    let mut user = entra_user("kim@example.com", "Kim", "Park");
    user["displayName"] = json!("Kim Park");
    let kim = entra.create("/Users", user).await;
    let kim_path = format!("/Users/{}", kim["id"].as_str().unwrap());
    let created = record(&api, "kim@example.com");
    assert_eq!(created["FirstName"], "Kim");
    assert_eq!(created["IsActive"], true);
    assert_eq!(
        created["Licenses"],
        json!(["Viewer"]),
        "the default licence"
    );

    // A group adds licences on top of the default one.
    let group = entra
        .create(
            "/Groups",
            entra_group("Video Contributors", &[kim["id"].as_str().unwrap()]),
        )
        .await;
    let mut licences: Vec<String> =
        serde_json::from_value(record(&api, "kim@example.com")["Licenses"].clone()).unwrap();
    licences.sort();
    assert_eq!(licences, ["Contributor", "Viewer"]);

    // Update through Entra's no-path PATCH with dotted keys.
    entra
        .patch(
            &kim_path,
            json!([{"op": "Replace", "value": {"name.familyName": "Park-Lee", "displayName": "Kim Park-Lee"}}]),
        )
        .await;
    let updated = record(&api, "kim@example.com");
    assert_eq!(
        (updated["LastName"].clone(), updated["DisplayName"].clone()),
        (json!("Park-Lee"), json!("Kim Park-Lee"))
    );

    // active=false deactivates; active=true reactivates; the licences stay for reactivation.
    entra
        .patch(
            &kim_path,
            json!([{"op": "Replace", "path": "active", "value": false}]),
        )
        .await;
    assert_eq!(record(&api, "kim@example.com")["IsActive"], false);
    entra
        .patch(
            &kim_path,
            json!([{"op": "Replace", "path": "active", "value": "True"}]),
        )
        .await;
    let back = record(&api, "kim@example.com");
    assert_eq!(back["IsActive"], true);
    assert_eq!(back["Licenses"].as_array().unwrap().len(), 2);

    // Group removal leaves the default licence.
    entra
        .patch(
            &format!("/Groups/{}", group["id"].as_str().unwrap()),
            json!([{"op": "Remove", "path": "members"}]),
        )
        .await;
    assert_eq!(
        record(&api, "kim@example.com")["Licenses"],
        json!(["Viewer"])
    );

    // DELETE keeps the record, inactive; SCIM no longer shows the user.
    entra.delete(&kim_path).await;
    let kept = record(&api, "kim@example.com");
    assert_eq!(kept["IsActive"], false);
    assert_eq!(api.users_in("").len(), 1);
    let (status, _) = entra.call(Method::GET, &kim_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
