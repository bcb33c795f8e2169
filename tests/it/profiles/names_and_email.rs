//! The minimal product: email, first and last name synced (the email is the mail even where
//! userPrincipalName differs); permissions set in the product are never overwritten; an
//! operator adds a mapping by editing gateway.toml alone.

use serde_json::json;

use super::{Deployed, bearer, mail_reaches_the_product_whatever_feeds_user_name};
use crate::support::entra_user;
use crate::support::profile_api::{IdKind, ProfileApi, Shape};

pub(crate) const API_TOKEN: &str = "vega-api-token";

pub(crate) fn shape() -> Shape {
    Shape {
        users: "/api/users",
        groups: None,
        id_field: "id",
        id_kind: IdKind::Number,
        envelope: None,
        unique: Some("email"),
        required: &["email"],
        auth: ("authorization", format!("Bearer {API_TOKEN}")),
        patch: false,
    }
}

#[tokio::test]
async fn names_and_email_sync_and_permissions_stay_the_products() {
    let api = ProfileApi::start(shape()).await;
    let env = vec![
        ("PRODUCT_API_URL", api.url.clone()),
        ("PRODUCT_API_TOKEN", API_TOKEN.to_owned()),
    ];
    let deployed = Deployed::start("names-and-email", env).await;
    let entra = deployed.client("/scim/v2", bearer(&deployed.issue_token(None).await));

    let lou = entra
        .create("/Users", entra_user("lou@example.com", "Lou", "Reed"))
        .await;
    let path = format!("/Users/{}", lou["id"].as_str().unwrap());
    let record = api.user_where("", "email", "lou@example.com").unwrap();
    assert_eq!(
        (record["first_name"].clone(), record["last_name"].clone()),
        (json!("Lou"), json!("Reed"))
    );
    assert!(
        record.get("department").is_none(),
        "nothing unmapped is sent"
    );

    // An admin grants permissions in the product; a later sync from Entra keeps them.
    let id = record["id"].to_string();
    api.edit_user("", &id, "permissions", json!(["reports:read", "admin"]));
    entra
        .patch(
            &path,
            json!([{"op": "Replace", "path": "name.familyName", "value": "Reed-Smith"}]),
        )
        .await;
    let record = api.user_where("", "email", "lou@example.com").unwrap();
    assert_eq!(record["last_name"], "Reed-Smith");
    assert_eq!(record["permissions"], json!(["reports:read", "admin"]));
    entra
        .patch(
            &path,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    let record = api.user_where("", "email", "lou@example.com").unwrap();
    assert_eq!(record["active"], false);
    assert_eq!(record["permissions"], json!(["reports:read", "admin"]));

    entra.delete(&path).await;
    assert!(api.users_in("").is_empty());
}

/// The README's Entra step 3: the product's email is the user's mail whether userName comes
/// from userPrincipalName or from mail.
#[tokio::test]
async fn the_product_gets_the_mail_when_the_upn_differs() {
    let api = ProfileApi::start(shape()).await;
    let env = vec![
        ("PRODUCT_API_URL", api.url.clone()),
        ("PRODUCT_API_TOKEN", API_TOKEN.to_owned()),
    ];
    let deployed = Deployed::start("names-and-email", env).await;
    let entra = deployed.client("/scim/v2", bearer(&deployed.issue_token(None).await));
    mail_reaches_the_product_whatever_feeds_user_name(&entra, &api, "", "email").await;
}

#[tokio::test]
async fn an_operator_adds_a_mapping_by_editing_the_file() {
    let api = ProfileApi::start(shape()).await;
    let env = vec![
        ("PRODUCT_API_URL", api.url.clone()),
        ("PRODUCT_API_TOKEN", API_TOKEN.to_owned()),
    ];
    // The edit the example's comment suggests, and nothing else.
    let line = "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department\" = \"/department\"";
    let deployed = Deployed::start_edited("names-and-email", env, |example| {
        assert!(example.contains(&format!("# {line}")));
        example.replace(&format!("# {line}"), line)
    })
    .await;
    let entra = deployed.client("/scim/v2", bearer(&deployed.issue_token(None).await));
    let created = entra
        .create("/Users", entra_user("dee@example.com", "Dee", "Dee"))
        .await;
    assert_eq!(
        created["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales"
    );
    assert_eq!(
        api.user_where("", "email", "dee@example.com").unwrap()["department"],
        "Sales"
    );
}
