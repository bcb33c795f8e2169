//! Users only, one tenant per location (guide 001): the product gets each person's mail, each
//! location's Tenant URL and Secret Token reach only that location's people with that
//! location's `X-Location` on every call, a location is added by a reload without a restart,
//! people made by hand in the product are left alone, and there is no Group resource.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Deployed, bearer, mail_reaches_the_product_whatever_feeds_user_name, until};
use crate::support::entra_user;
use crate::support::profile_api::{IdKind, ProfileApi, Shape};

const PROFILE: &str = "users-only-per-location";
const API_KEY: &str = "location-api-key";

async fn product_api() -> ProfileApi {
    ProfileApi::start(Shape {
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
    .await
}

fn env(api: &ProfileApi) -> Vec<(&'static str, String)> {
    vec![
        ("PRODUCT_API_URL", api.url.clone()),
        ("PRODUCT_API_KEY", API_KEY.to_owned()),
    ]
}

/// Every call the product got carried its API key and, in `X-Location`, the location whose
/// path it asked for; and the calls reached exactly `locations`.
fn assert_every_call_names_its_location(api: &ProfileApi, locations: &[&str]) {
    let requests = api.requests();
    let mut seen = BTreeSet::new();
    for r in &requests {
        let location = r
            .uri
            .strip_prefix("/api/locations/")
            .and_then(|rest| rest.split(['/', '?']).next())
            .unwrap_or_else(|| panic!("{} {} names no location", r.method, r.uri));
        assert_eq!(
            r.header("x-location"),
            Some(location),
            "{} {}: {:?}",
            r.method,
            r.uri,
            r.headers
        );
        assert_eq!(
            r.header("x-api-key"),
            Some(API_KEY),
            "{} {}",
            r.method,
            r.uri
        );
        seen.insert(location);
    }
    assert_eq!(
        seen,
        locations.iter().copied().collect::<BTreeSet<_>>(),
        "{requests:?}"
    );
}

#[tokio::test]
async fn each_location_is_its_own_tenant() {
    let api = product_api().await;
    let deployed = Deployed::start(PROFILE, env(&api)).await;
    let london = deployed.client(
        "/london/scim/v2",
        bearer(&deployed.issue_token(Some("london")).await),
    );
    let leeds_token = deployed.issue_token(Some("leeds")).await;
    let leeds = deployed.client("/leeds/scim/v2", bearer(&leeds_token));

    // Entra's test connection, then a create: the mail reaches London only.
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
    assert_eq!(sam["userName"], "Sam.Hill@Contoso.com");

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

    // Reads, searches, creates, PUTs and DELETEs alike: each with its own location's header.
    assert_every_call_names_its_location(&api, &["loc-london", "loc-leeds"]);
}

/// The README's Entra step 3: where userPrincipalName is not the employee's mail, the product
/// still gets the mail (Entra's mail → emails mapping), and the guide's switch of userName's
/// source to mail gives the same record.
#[tokio::test]
async fn the_product_gets_the_mail_when_the_upn_differs() {
    let api = product_api().await;
    let deployed = Deployed::start(PROFILE, env(&api)).await;
    let leeds = deployed.client(
        "/leeds/scim/v2",
        bearer(&deployed.issue_token(Some("leeds")).await),
    );
    mail_reaches_the_product_whatever_feeds_user_name(&leeds, &api, "loc-leeds", "mail").await;
    assert!(api.users_in("loc-london").is_empty());
    assert_every_call_names_its_location(&api, &["loc-leeds"]);
}

/// Guide 001: every location is its own Entra app. A new location is a `[[tenants]]` block;
/// the running gateway serves it after a reload, and the other locations' Entra apps go on
/// with the tokens they have.
#[tokio::test]
async fn a_location_added_by_reload_is_served_without_a_restart() {
    let api = product_api().await;
    let served = Deployed::spawn(PROFILE, env(&api), str::to_owned).await;
    let deployed = &served.deployed;
    let london = deployed.client(
        "/london/scim/v2",
        bearer(&deployed.issue_token(Some("london")).await),
    );
    let ann = london
        .create("/Users", entra_user("ann@contoso.com", "Ann", "Ash"))
        .await;
    let (status, body) = deployed
        .client("/york/scim/v2", bearer("no-york-token-yet"))
        .call(Method::GET, "/Users", None)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "York is not served yet: {body}"
    );

    let with_york = |example: &str| {
        example.replacen(
            "\n[users]\n",
            "\n[[tenants]]\nname = \"york\"\nauth = { issued_tokens = true }\n\
             vars = { LOCATION_ID = \"loc-york\" }\n\n[users]\n",
            1,
        )
    };
    served.reload(PROFILE, with_york);
    let york = deployed.client(
        "/york/scim/v2",
        bearer(&deployed.issue_token(Some("york")).await),
    );
    let york = &york;
    until("the reload serves York's Tenant URL", || async move {
        york.call(Method::GET, "/Users", None).await.0 == StatusCode::OK
    })
    .await;

    let bo = york
        .create("/Users", entra_user("bo@contoso.com", "Bo", "Birch"))
        .await;
    let record = api
        .user_where("loc-york", "mail", "bo@contoso.com")
        .unwrap();
    assert_eq!(record["name"], "Bo Birch");
    assert_eq!(api.users_in("loc-london").len(), 1);
    let (status, _) = york
        .call(
            Method::GET,
            &format!("/Users/{}", ann["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "York does not see London");

    // London's Entra app goes on, same token, same process.
    london
        .patch(
            &format!("/Users/{}", ann["id"].as_str().unwrap()),
            json!([{"op": "Replace", "path": "displayName", "value": "Ann Ashby"}]),
        )
        .await;
    assert_eq!(
        api.user_where("loc-london", "mail", "ann@contoso.com")
            .unwrap()["name"],
        "Ann Ashby"
    );
    let (status, _) = london
        .call(
            Method::GET,
            &format!("/Users/{}", bo["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "London does not see York");
    assert_every_call_names_its_location(&api, &["loc-london", "loc-york"]);
}

/// Guide 001: people can still be created by hand in the product (contractors, temporary
/// staff) and provisioning only flows from Entra to the product. The gateway lists them like
/// anyone in the product's directory (the guide says nothing against it; Entra never lists
/// without a filter), but Entra's whole cycle for others never writes to them.
#[tokio::test]
async fn people_made_by_hand_in_the_product_are_left_alone() {
    let api = product_api().await;
    let deployed = Deployed::start(PROFILE, env(&api)).await;
    let london = deployed.client(
        "/london/scim/v2",
        bearer(&deployed.issue_token(Some("london")).await),
    );
    let by_hand = json!({
        "mail": "temp.worker@contoso.com",
        "name": "Temp Worker",
        "enabled": true,
        "badge": "C-17",
    });
    let temp_id = api.add_by_hand("loc-london", by_hand);
    let as_made = api
        .user_where("loc-london", "mail", "temp.worker@contoso.com")
        .unwrap();

    // Entra's cycle for someone else: match, create, update, deactivate, delete.
    let (status, none) = london
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22cal%40contoso.com%22",
            None,
        )
        .await;
    assert_eq!(
        (status, none["totalResults"].clone()),
        (StatusCode::OK, json!(0))
    );
    let cal = london
        .create("/Users", entra_user("cal@contoso.com", "Cal", "Moss"))
        .await;
    let cal_path = format!("/Users/{}", cal["id"].as_str().unwrap());
    london
        .patch(
            &cal_path,
            json!([{"op": "Replace", "path": "displayName", "value": "Calum Moss"}]),
        )
        .await;
    london
        .patch(
            &cal_path,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    london.delete(&cal_path).await;

    // A full listing shows the hand-made employee as the product has them.
    let (status, listed) = london.call(Method::GET, "/Users", None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let shown: Vec<&Value> = listed["Resources"].as_array().unwrap().iter().collect();
    assert_eq!(shown.len(), 1, "{listed}");
    assert_eq!(shown[0]["userName"], "temp.worker@contoso.com");
    assert_eq!(shown[0]["displayName"], "Temp Worker");
    assert_eq!(shown[0]["active"], true);

    // Their record is exactly as made, and no call ever wrote to it.
    assert_eq!(
        api.user_where("loc-london", "mail", "temp.worker@contoso.com"),
        Some(as_made)
    );
    let theirs = format!("/api/locations/loc-london/employees/{temp_id}");
    let writes: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.uri.split('?').next() == Some(theirs.as_str()))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}
