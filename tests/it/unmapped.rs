//! `[users] unmapped`: what a client writes that no rule in gateway.toml maps is kept by the
//! gateway and read back (`store`, the default), dropped and counted (`ignore`), or refused
//! (`reject`), on the demo mapping (`Stack`) and the fixture mapping (`Fixture`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixture::{Fixture, person};
use crate::support::{Gateway, Stack, assert_scim_error};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An Entra ID create carrying its whole default attribute set for a custom app, plus the
/// second email and the middle name Okta sends.
fn entra_default_set(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": "c1a4e4c2-7d4e-4b8e-9d0a-2f7a1b0c9d11",
        "userName": user_name,
        "active": true,
        "displayName": "Ann Lee (Sales)",
        "title": "Account Executive",
        "nickName": "Annie",
        "preferredLanguage": "en-GB",
        "name": {"formatted": "Ann M. Lee", "givenName": "Ann", "middleName": "M.",
                 "familyName": "Lee"},
        "emails": [{"primary": true, "type": "work", "value": user_name},
                   {"type": "home", "value": "ann@home.example"}],
        "addresses": [{"type": "work", "formatted": "1 Main St, Springfield IL 62701, US",
                       "streetAddress": "1 Main St", "locality": "Springfield", "region": "IL",
                       "postalCode": "62701", "country": "US"}],
        "phoneNumbers": [{"type": "work", "value": "+1 555 0100"},
                         {"type": "mobile", "value": "+1 555 0101"},
                         {"type": "fax", "value": "+1 555 0102"}]
    })
}

/// Asserts that `read` holds every attribute of `sent` (but `schemas`) exactly as sent.
fn assert_as_sent(read: &Value, sent: &Value) {
    for (key, value) in sent.as_object().unwrap() {
        if key != "schemas" {
            assert_eq!(&read[key], value, "{key} in {read}");
        }
    }
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

async fn created_id(gw: &Gateway, user: Value) -> String {
    gw.create_user(user).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The demo config with `[users] unmapped` set.
async fn demo(policy: &str) -> Stack {
    Stack::start_with(|text| {
        text.replace("[users]\n", &format!("[users]\nunmapped = \"{policy}\"\n"))
    })
    .await
}

#[tokio::test]
async fn the_entra_default_set_reads_back_as_sent_on_the_demo_mapping() {
    let stack = Stack::start().await;
    let sent = entra_default_set("ann.lee@example.com");
    let created = stack.create_user(sent.clone()).await;
    assert_as_sent(&created, &sent);
    let (status, read) = stack
        .get(&format!("/Users/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_as_sent(&read, &sent);
    // The downstream got what it maps, and nothing it does not.
    let account = stack.account("ann.lee@example.com").unwrap();
    assert_eq!(account["phone"], "+1 555 0100");
    assert!(!account.to_string().contains("Springfield"), "{account}");
}

#[tokio::test]
async fn the_entra_default_set_reads_back_as_sent_on_the_fixture_mapping() {
    let f = Fixture::start_with(str::to_owned).await;
    let sent = entra_default_set("kim@example.com");
    let id = created_id(&f.gateway, sent.clone()).await;
    let (status, read) = f.gateway.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_as_sent(&read, &sent);
    let downstream = person(&f.dir, "kim@example.com").unwrap();
    assert_eq!(downstream["profile"]["title"], "Account Executive");
}

#[tokio::test]
async fn a_patch_of_unmapped_attributes_reads_back_without_a_downstream_write() {
    let stack = Stack::start().await;
    let id = created_id(&stack, entra_default_set("bo@example.com")).await;
    let writes = stack.legacy.request_count();
    let (status, patched) = stack
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([
                {"op": "replace", "path": "title", "value": "Director"},
                {"op": "replace", "path": "name.middleName", "value": "Q."},
                {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Chicago"},
                {"op": "add", "path": "emails", "value": [{"type": "other", "value": "bo@other.example"}]},
                {"op": "replace", "path": "displayName", "value": "Bo the Director"}
            ]))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let (_, read) = stack.get(&format!("/Users/{id}")).await;
    assert_eq!(read["title"], "Director");
    assert_eq!(read["name"]["middleName"], "Q.");
    assert_eq!(read["addresses"][0]["locality"], "Chicago");
    assert_eq!(read["addresses"][0]["postalCode"], "62701");
    assert_eq!(
        read["displayName"], "Bo the Director",
        "a client's value beats the template"
    );
    assert_eq!(
        read["emails"],
        json!([{"primary": true, "type": "work", "value": "bo@example.com"},
               {"type": "home", "value": "ann@home.example"},
               {"type": "other", "value": "bo@other.example"}])
    );
    let after = stack.legacy.request_count();
    assert_eq!(
        (after.patches, after.puts, after.posts),
        (writes.patches, writes.puts, writes.posts),
        "only the store changed: no downstream write"
    );
}

#[tokio::test]
async fn a_filter_on_an_unmapped_attribute_finds_the_user() {
    let stack = Stack::start().await;
    let id = created_id(&stack, entra_default_set("cy@example.com")).await;
    created_id(&stack, entra_default_set("dee@example.com")).await;
    let title = stack
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "title", "value": "x"}]),
            )),
        )
        .await;
    assert_eq!(title.0, StatusCode::OK);
    for filter in [
        "title%20eq%20%22x%22",
        "name.middleName%20eq%20%22M.%22%20and%20title%20eq%20%22X%22",
    ] {
        let (status, list) = stack.get(&format!("/Users?filter={filter}")).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["totalResults"], 1, "{filter}: {list}");
        assert_eq!(list["Resources"][0]["id"], json!(id));
    }
    // The demo searches the downstream by email; a home email lives in the store, and the
    // filter still finds both users that have it.
    let (_, list) = stack
        .get("/Users?filter=emails.value%20eq%20%22ann@home.example%22&sortBy=title")
        .await;
    assert_eq!(list["totalResults"], 2, "{list}");
    assert_eq!(list["Resources"][0]["title"], "Account Executive");
    assert_eq!(list["Resources"][1]["title"], "x");
}

#[tokio::test]
async fn the_same_patch_twice_writes_nothing_the_second_time() {
    let stack = Stack::start().await;
    let id = created_id(&stack, entra_default_set("eve@example.com")).await;
    let body = patch(json!([
        {"op": "replace", "path": "name.givenName", "value": "Evelyn"},
        {"op": "replace", "path": "title", "value": "CFO"},
        {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0199"}
    ]));
    let before = stack.legacy.request_count().patches;
    let (status, first) = stack
        .call(Method::PATCH, &format!("/Users/{id}"), Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(stack.legacy.request_count().patches, before + 1);
    let (status, second) = stack
        .call(Method::PATCH, &format!("/Users/{id}"), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        stack.legacy.request_count().patches,
        before + 1,
        "no second downstream write"
    );
    assert_eq!(second["meta"]["version"], first["meta"]["version"]);
    assert_eq!(second["title"], "CFO");
    assert_eq!(second["phoneNumbers"][1]["value"], "+1 555 0199");
}

#[tokio::test]
async fn ignore_drops_counts_and_advertises_only_mapped_attributes() {
    let stack = demo("ignore").await;
    let sent = entra_default_set("fay@example.com");
    let created = stack.create_user(sent).await;
    let (_, read) = stack
        .get(&format!("/Users/{}", created["id"].as_str().unwrap()))
        .await;
    for gone in ["title", "nickName", "preferredLanguage", "addresses"] {
        assert!(read.get(gone).is_none(), "{gone} in {read}");
    }
    assert_eq!(
        read["name"],
        json!({"givenName": "Ann", "familyName": "Lee"})
    );
    assert_eq!(read["displayName"], "Ann Lee", "the template's value");
    assert_eq!(
        read["phoneNumbers"],
        json!([{"type": "work", "value": "+1 555 0100"}])
    );
    let metrics = stack
        .client
        .get(format!("{}/metrics", stack.root))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for attribute in [
        "title",
        "name.middleName",
        "addresses",
        "displayName",
        "phoneNumbers",
    ] {
        let series = format!("scim_attributes_dropped_total{{attribute=\"{attribute}\"");
        assert!(metrics.contains(&series), "{series} in {metrics}");
    }
    assert!(!metrics.contains("Springfield"), "no values in metrics");
    let (_, schema) = stack
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let names: Vec<&str> = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"title") && names.contains(&"userName"),
        "{names:?}"
    );
    // The mobile and fax phones were dropped: only the mapped type is advertised.
    assert_eq!(
        sub_attribute(&schema, "phoneNumbers", "type")["canonicalValues"],
        json!(["work"])
    );
}

/// The definition of `attr.sub` in a /Schemas answer.
fn sub_attribute<'a>(schema: &'a Value, attr: &str, sub: &str) -> &'a Value {
    let attribute = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == attr)
        .unwrap_or_else(|| panic!("{attr} in {schema}"));
    attribute["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == sub)
        .unwrap_or_else(|| panic!("{attr}.{sub} in {schema}"))
}

/// The core schemas' canonicalValues (phoneNumbers.type: work, home, mobile, ...) are what
/// RFC 7643 §7 calls them, suggested values a service provider may ignore: under `store` a
/// phone of another type is kept and read back as written, never accepted and dropped.
#[tokio::test]
async fn store_keeps_a_type_outside_the_core_canonical_values_as_written() {
    let stack = Stack::start().await;
    let (_, schema) = stack
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let advertised = &sub_attribute(&schema, "phoneNumbers", "type")["canonicalValues"];
    assert_eq!(
        advertised,
        &json!(["work", "home", "mobile", "fax", "pager", "other"])
    );
    let phones = json!([{"type": "work", "value": "+1 555 0100"},
                        {"type": "home", "value": "+1 555 0101"},
                        {"type": "satellite", "value": "+1 555 0102"}]);
    let sent = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "sat@example.com",
        "phoneNumbers": phones,
    });
    let id = created_id(&stack, sent).await;
    let (status, read) = stack.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["phoneNumbers"], phones);
    assert_eq!(
        stack.account("sat@example.com").unwrap()["phone"],
        "+1 555 0100"
    );
}

#[tokio::test]
async fn reject_refuses_and_writes_nothing() {
    let stack = demo("reject").await;
    // What the rules map (and the template's own value) is accepted.
    let mut plain = entra_default_set("gil@example.com");
    for key in ["title", "nickName", "preferredLanguage", "addresses"] {
        plain.as_object_mut().unwrap().remove(key);
    }
    plain["displayName"] = json!("Ann Lee");
    plain["name"] = json!({"givenName": "Ann", "familyName": "Lee"});
    plain["emails"] = json!([{"primary": true, "type": "work", "value": "gil@example.com"}]);
    plain["phoneNumbers"] = json!([{"type": "work", "value": "+1 555 0100"}]);
    let id = created_id(&stack, plain).await;

    let posts = stack.legacy.request_count().posts;
    let (status, body) = stack
        .call(
            Method::POST,
            "/Users",
            Some(entra_default_set("hal@example.com")),
        )
        .await;
    assert_scim_error(status, &body, 400, Some("mutability"));
    assert!(
        body["detail"].as_str().unwrap().starts_with("displayName"),
        "{body}"
    );
    let mut titled = entra_default_set("hal@example.com");
    titled["displayName"] = json!("Ann Lee");
    let (status, body) = stack.call(Method::POST, "/Users", Some(titled)).await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert!(
        body["detail"].as_str().unwrap().starts_with("title"),
        "{body}"
    );
    assert_eq!(stack.legacy.request_count().posts, posts, "nothing created");
    assert!(stack.account("hal@example.com").is_none());

    let (_, before) = stack.get(&format!("/Users/{id}")).await;
    let writes = stack.legacy.request_count().patches;
    for (op, scim_type) in [
        (
            json!({"op": "replace", "path": "displayName", "value": "Boss"}),
            "mutability",
        ),
        (
            json!({"op": "add", "path": "name.middleName", "value": "Q."}),
            "invalidValue",
        ),
    ] {
        let (status, body) = stack
            .call(
                Method::PATCH,
                &format!("/Users/{id}"),
                Some(patch(json!([
                    {"op": "replace", "path": "name.givenName", "value": "Gilbert"},
                    op
                ]))),
            )
            .await;
        assert_scim_error(status, &body, 400, Some(scim_type));
    }
    assert_eq!(
        stack.legacy.request_count().patches,
        writes,
        "nothing sent downstream"
    );
    let (_, after) = stack.get(&format!("/Users/{id}")).await;
    assert_eq!(after, before, "nothing changed in the store either");
}
