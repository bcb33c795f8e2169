use serde_json::{Value, json};

use super::*;
use crate::config::error::Source;
use crate::config::raw::RawResource;
use crate::scim::catalog::{ENTERPRISE_USER_URN, user_schema};

const OPS: &str = r#"
create = "POST /u"
read = "GET /u/{id}"
update = "PATCH /u/{id}"
delete = "DELETE /u/{id}"
id = "/id"
list = { request = "GET /u", items = "/data" }
"#;

fn mapping(rules: &str) -> ResourceMapping {
    let text = format!("{OPS}\n{rules}");
    let raw: RawResource = toml::from_str(&text).unwrap();
    let src = Source {
        file: "t.toml",
        text: &text,
    };
    ResourceMapping::compile("users", &raw, user_schema(), &src).unwrap()
}

fn sample() -> ResourceMapping {
    mapping(
        r#"
[search]
"userName eq" = "email"
[attributes]
userName = { path = "/email", case = "lower" }
"name.givenName" = "/first_name"
"name.familyName" = "/last_name"
displayName = { template = "{/first_name} {/last_name}" }
"emails[type eq \"work\"].value" = { path = "/email", direction = "read_only" }
"emails[type eq \"work\"].primary" = { constant = true }
active = { path = "/status", map = { true = "active", false = "suspended" } }
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value" = { path = "/manager_id", downstream_type = "integer" }
[downstream_fields]
"/source" = "scim"
"/full_name" = "{name.givenName} {name.familyName}"
"#,
    )
}

fn record() -> Value {
    json!({"id": 7, "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
           "status": "suspended", "manager_id": 3, "role": "admin"})
}

#[test]
fn reads_a_record_into_a_scim_resource() {
    let resource = sample().to_scim(&record());
    assert_eq!(
        resource,
        json!({
            "userName": "ann@example.com",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "displayName": "Ann Lee",
            "emails": [{"type": "work", "value": "ann@example.com", "primary": true}],
            "active": false,
            ENTERPRISE_USER_URN: {"manager": {"value": "3"}}
        })
    );
}

#[test]
fn writes_a_create_body_with_transforms_and_fixed_fields() {
    let resource = json!({
        "userName": "Ann@Example.COM",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"type": "work", "value": "other@example.com"}],
        "active": true,
        ENTERPRISE_USER_URN: {"manager": {"value": "3"}}
    });
    assert_eq!(
        sample().to_downstream_create(&resource).unwrap(),
        json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
               "status": "active", "manager_id": 3, "source": "scim", "full_name": "Ann Lee"})
    );
}

#[test]
fn changed_fields_holds_only_what_changed_and_clears_with_null() {
    let m = sample();
    let old = m.to_scim(&record());
    let mut new = old.clone();
    new["active"] = json!(true);
    new["name"]["givenName"] = json!("Anna");
    new[ENTERPRISE_USER_URN] = json!({});
    assert_eq!(
        m.changed_fields(&old, &new).unwrap(),
        json!({"first_name": "Anna", "status": "active", "manager_id": null, "full_name": "Anna Lee"})
    );
    assert_eq!(m.changed_fields(&old, &old).unwrap(), json!({}));
}

#[test]
fn replace_keeps_fields_the_mapping_does_not_know() {
    let m = sample();
    let resource = json!({"userName": "ann@example.com", "active": true});
    let body = m.to_downstream_replace(&resource, &record()).unwrap();
    assert_eq!(body["role"], json!("admin"));
    assert_eq!(body["status"], json!("active"));
    assert_eq!(body["first_name"], Value::Null);
}

#[test]
fn bad_values_and_missing_required_attributes_are_named() {
    let m = sample();
    let err = m
        .to_downstream_create(&json!({"userName": "a@x", "active": "maybe"}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "active: value \"maybe\" is not one of true, false"
    );
    let err = m
        .to_downstream_create(&json!({"active": true}))
        .unwrap_err();
    assert_eq!(err, MappingError::Required("userName".into()));
    let err = m
        .to_downstream_create(
            &json!({"userName": "a@x", ENTERPRISE_USER_URN: {"manager": {"value": "boss"}}}),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value: expected integer, got \"boss\""
    );
}

#[test]
fn pushes_a_filter_down_with_the_rule_transforms() {
    let m = sample();
    let f: Filter = "userName eq \"Ann@Example.com\" and active eq true"
        .parse()
        .unwrap();
    assert_eq!(
        m.push_down(&f),
        Some(("email".into(), "ann@example.com".into()))
    );
    let f: Filter = "name.givenName eq \"Ann\"".parse().unwrap();
    assert_eq!(m.push_down(&f), None);
}

#[test]
fn joins_and_splits_lists_and_shapes_roles() {
    let m = mapping(
        r#"
[attributes]
userName = "/login"
roles = "/roles"
entitlements = { path = "/tags", separator = ";" }
"#,
    );
    let resource = json!({"userName": "a", "roles": [{"value": "admin"}, {"value": "user"}],
                          "entitlements": [{"value": "x"}, {"value": "y"}]});
    let body = m.to_downstream_create(&resource).unwrap();
    assert_eq!(
        body,
        json!({"login": "a", "roles": ["admin", "user"], "tags": "x;y"})
    );
    assert_eq!(m.to_scim(&body), resource);
}

#[test]
fn advertises_only_mapped_attributes_with_their_direction() {
    let mut m = sample();
    m.unmapped = Unmapped::Ignore;
    let schema = m.advertised_schema(&[]);
    let names: Vec<&str> = schema
        .core
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["userName", "name", "displayName", "active", "emails"]
    );
    let emails = schema
        .core
        .attributes
        .iter()
        .find(|a| a.name == "emails")
        .unwrap();
    let subs: Vec<&str> = emails
        .sub_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(subs, ["value", "type", "primary"]);
    let display = schema
        .core
        .attributes
        .iter()
        .find(|a| a.name == "displayName")
        .unwrap();
    assert_eq!(
        display.mutability,
        crate::scim::schema::Mutability::ReadOnly
    );
    assert_eq!(schema.extensions.len(), 1);
}

#[test]
fn pushes_down_a_term_inside_a_value_filter() {
    let m = mapping(
        r#"
[search]
"emails.value eq" = "email"
[attributes]
userName = "/login"
"emails[type eq \"work\"].value" = { path = "/email", case = "lower" }
"#,
    );
    let f: Filter = r#"emails[type eq "work"].value eq "Ann@X.io""#.parse().unwrap();
    let mut ignoring = m.clone();
    ignoring.unmapped = Unmapped::Ignore;
    assert_eq!(
        ignoring.push_down(&f),
        Some(("email".into(), "Ann@X.io".into()))
    );
    // Kept by the store: other emails (a home one) are not in the downstream's search.
    assert_eq!(m.push_down(&f), None);
}

#[test]
fn password_and_rules_marked_sensitive_are_masked_and_never_quoted() {
    let m = mapping(
        r#"
[attributes]
userName = "/email"
password = { path = "/pw", direction = "write_only" }
title = { path = "/pin", sensitive = true, allowed = ["1111", "2222"] }
nickName = { path = "/nick", allowed = ["ann"] }
"#,
    );
    let fields: Vec<String> = m.sensitive_fields().map(ToString::to_string).collect();
    assert_eq!(fields, ["/pw", "/pin"]);
    let refused = m
        .to_downstream_create(&json!({"userName": "a", "title": "9876"}))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("title") && !refused.contains("9876"),
        "{refused}"
    );
    // Other attributes still name the value they refuse.
    let refused = m
        .to_downstream_create(&json!({"userName": "a", "nickName": "bob"}))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("bob"), "{refused}");
}

/// A mapping shaped like the demo's: a stored userName, a template, selected elements.
fn demo_like(unmapped: &str) -> ResourceMapping {
    mapping(&format!(
        r#"
unmapped = "{unmapped}"
[search]
"userName eq" = "email"
"title eq" = "title"
[attributes]
userName = {{ store = true, default_from = "emails[type eq \"work\"].value" }}
"emails[type eq \"work\"].value" = {{ path = "/email", default_from = "userName" }}
"name.givenName" = "/first_name"
"name.familyName" = "/last_name"
displayName = {{ template = "{{/first_name}} {{/last_name}}" }}
"phoneNumbers[type eq \"work\"].value" = "/phone"
active = {{ path = "/status", map = {{ true = "active", false = "suspended" }} }}
"#
    ))
}

/// Entra ID's default attribute set for a custom app, plus what Okta adds.
fn entra_default_set() -> Value {
    json!({
        "userName": "ann@example.com",
        "active": true,
        "displayName": "Ann Lee (HR)",
        "title": "Engineer",
        "nickName": "Annie",
        "preferredLanguage": "en-GB",
        "name": {"formatted": "Ann M Lee", "givenName": "Ann", "middleName": "M",
                 "familyName": "Lee"},
        "emails": [{"primary": true, "type": "work", "value": "ann@example.com"},
                   {"type": "home", "value": "ann@home.example"}],
        "addresses": [{"type": "work", "formatted": "1 Main St\nSpringfield", "streetAddress":
                       "1 Main St", "locality": "Springfield", "region": "IL", "postalCode":
                       "62701", "country": "US"}],
        "phoneNumbers": [{"type": "mobile", "value": "+1 555 0101"},
                         {"type": "work", "value": "+1 555 0100"},
                         {"type": "fax", "value": "+1 555 0102"}]
    })
}

#[test]
fn store_keeps_what_no_rule_maps_and_reads_it_back_in_order() {
    let m = demo_like("store");
    let resource = entra_default_set();
    let body = m.to_downstream_create(&resource).unwrap();
    let split = m.split(&resource, &m.to_scim(&body));
    assert_eq!(split.dropped, []);
    // The downstream's values are not kept twice; the placeholders keep their position.
    assert_eq!(
        split.kept["emails"][0],
        json!({"primary": true, "type": "work"})
    );
    assert_eq!(split.kept["phoneNumbers"][1], json!({"type": "work"}));
    assert_eq!(
        split.kept["name"],
        json!({"formatted": "Ann M Lee", "middleName": "M"})
    );
    assert_eq!(m.read(&body, &split.kept), resource);
    // The downstream changed the work phone: its value shows, at its place.
    let mut changed = body.clone();
    changed["phone"] = json!("+1 555 0199");
    let read = m.read(&changed, &split.kept);
    assert_eq!(
        read["phoneNumbers"][1],
        json!({"type": "work", "value": "+1 555 0199"})
    );
    // The downstream cleared it: no element is left holding only its type.
    changed["phone"] = Value::Null;
    let read = m.read(&changed, &split.kept);
    assert_eq!(
        read["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0101"},
               {"type": "fax", "value": "+1 555 0102"}])
    );
}

#[test]
fn a_read_only_rule_keeps_only_a_value_other_than_the_computed_one() {
    let m = demo_like("store");
    let record = json!({"first_name": "Ann", "last_name": "Lee", "email": "a@x.io"});
    let computed = m.to_scim(&record);
    let same = json!({"userName": "a@x.io", "displayName": "Ann Lee"});
    assert_eq!(
        m.split(&same, &computed).kept,
        json!({"userName": "a@x.io"})
    );
    let own = json!({"userName": "a@x.io", "displayName": "Boss"});
    let kept = m.split(&own, &computed).kept;
    assert_eq!(kept["displayName"], "Boss");
    assert_eq!(m.read(&record, &kept)["displayName"], "Boss");
    // Without a kept value, the template shows.
    assert_eq!(m.read(&record, &Value::Null)["displayName"], "Ann Lee");
}

#[test]
fn ignore_and_reject_name_what_is_dropped_and_keep_only_stored_rules() {
    let m = demo_like("ignore");
    let resource = entra_default_set();
    let body = m.to_downstream_create(&resource).unwrap();
    let split = m.split(&resource, &m.to_scim(&body));
    assert_eq!(split.kept, json!({"userName": "ann@example.com"}));
    let names: Vec<(&str, bool)> = split
        .dropped
        .iter()
        .map(|d| (d.attribute.as_str(), d.read_only))
        .collect();
    assert_eq!(
        names,
        [
            ("displayName", true),
            ("title", false),
            ("nickName", false),
            ("preferredLanguage", false),
            ("name.formatted", false),
            ("name.middleName", false),
            ("emails", false),
            ("addresses", false),
            ("phoneNumbers", false),
        ]
    );
    // What the rules carry (the work email's `primary` included) is not reported.
    let mapped = json!({"userName": "a@x.io", "name": {"givenName": "Ann"},
                        "emails": [{"primary": true, "type": "work", "value": "a@x.io"}]});
    let body = m.to_downstream_create(&mapped).unwrap();
    assert_eq!(m.split(&mapped, &m.to_scim(&body)).dropped, []);
}

#[test]
fn store_advertises_the_whole_catalog_but_what_it_cannot_give_back() {
    let m = demo_like("store");
    let schema = m.advertised_schema(&[]);
    let core = |name: &str| schema.core.attributes.iter().find(|a| a.name == name);
    for kept in [
        "title",
        "nickName",
        "addresses",
        "x509Certificates",
        "displayName",
    ] {
        assert!(core(kept).is_some(), "{kept} is advertised");
    }
    assert!(core("password").is_none() && core("groups").is_none());
    // A client's displayName is kept, so it is writable; every phone type is kept too.
    assert_eq!(
        core("displayName").unwrap().mutability,
        Mutability::ReadWrite
    );
    let phone_type = core("phoneNumbers")
        .unwrap()
        .sub_attributes
        .iter()
        .find(|s| s.name == "type")
        .unwrap();
    assert!(phone_type.canonical_values.len() > 1);
    assert_eq!(schema.extensions[0].attributes.len(), 6);
}

#[test]
fn a_filter_on_a_store_kept_attribute_is_not_pushed_down() {
    let title: Filter = r#"title eq "x""#.parse().unwrap();
    let user: Filter = r#"userName eq "a@x.io""#.parse().unwrap();
    let store = demo_like("store");
    assert_eq!(store.push_down(&title), None);
    assert_eq!(
        store.push_down(&user),
        Some(("email".into(), "a@x.io".into()))
    );
    assert_eq!(
        demo_like("ignore").push_down(&title),
        Some(("title".into(), "x".into()))
    );
}

#[test]
fn a_password_is_never_kept() {
    let m = demo_like("store");
    let split = m.split(&json!({"userName": "a", "password": "s3cret"}), &json!({}));
    assert_eq!(split.kept, json!({"userName": "a"}));
    assert_eq!(split.dropped[0].attribute, "password");
}

#[test]
fn unmapped_takes_three_words() {
    let text = format!("{OPS}\nunmapped = \"keep\"\n[attributes]\nuserName = \"/u\"\n");
    let raw: RawResource = toml::from_str(&text).unwrap();
    let src = Source {
        file: "t.toml",
        text: &text,
    };
    let err = ResourceMapping::compile("users", &raw, user_schema(), &src)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("t.toml:9:12: users.unmapped") && err.contains("store, ignore or reject"),
        "{err}"
    );
}

#[test]
fn a_work_email_made_up_from_user_name_is_not_shown_beside_the_emails_written() {
    let m = demo_like("store");
    let resource = json!({"userName": "ann@x.io",
                          "emails": [{"type": "other", "value": "o@x.io", "primary": true}]});
    let body = m.to_downstream_create(&resource).unwrap();
    assert_eq!(body["email"], "ann@x.io", "the downstream still gets one");
    let kept = m.split(&resource, &m.to_scim(&body)).kept;
    let mut read = m.read(&body, &kept);
    m.fill_shown_defaults(&mut read);
    assert_eq!(read, resource);
    // A client that sends no emails reads the stand-in back, as before.
    let bare = json!({"userName": "ann@x.io"});
    let body = m.to_downstream_create(&bare).unwrap();
    let mut read = m.read(&body, &m.split(&bare, &m.to_scim(&body)).kept);
    m.fill_shown_defaults(&mut read);
    assert_eq!(
        read["emails"],
        json!([{"type": "work", "value": "ann@x.io"}])
    );
}

#[test]
fn allowed_values_reach_the_downstream_in_their_listed_spelling() {
    let m = mapping(
        r#"
[attributes]
userName = "/email"
userType = { path = "/plan", allowed = ["Premium", "Standard"], default = "standard" }
"#,
    );
    let body = m
        .to_downstream_create(&json!({"userName": "a", "userType": "PREMIUM"}))
        .unwrap();
    assert_eq!(body["plan"], "Premium");
    let body = m.to_downstream_create(&json!({"userName": "a"})).unwrap();
    assert_eq!(
        body["plan"], "standard",
        "a default is the file's own value"
    );
}

#[test]
fn pick_sends_one_value_of_a_list_and_keeps_the_list() {
    let m = mapping(
        r#"
[attributes]
userName = "/email"
roles = { path = "/role", allowed = ["ReadOnly", "User", "Admin"], pick = "highest" }
"#,
    );
    let roles = json!([
        {"primary": false, "value": "admin", "display": "Admin"},
        {"primary": false, "value": "User"}
    ]);
    let resource = json!({"userName": "a", "roles": roles});
    let body = m.to_downstream_create(&resource).unwrap();
    assert_eq!(body["role"], "Admin", "the highest, spelled as allowed");
    let without = m.to_downstream_create(&json!({"userName": "a"})).unwrap();
    assert!(without.get("role").is_none(), "no role: none is sent");
    assert_eq!(
        m.changed_fields(&resource, &json!({"userName": "a"}))
            .unwrap()["role"],
        Value::Null,
        "the last role removed clears the field"
    );
    // The store keeps the list the client wrote; reading shows it while the downstream agrees.
    let kept = m.split(&resource, &Value::Null).kept;
    assert_eq!(kept["roles"], roles);
    assert_eq!(
        m.read(&json!({"email": "a", "role": "Admin"}), &kept)["roles"],
        roles
    );
    assert_eq!(
        m.read(&json!({"email": "a", "role": "ReadOnly"}), &kept)["roles"],
        json!([{"value": "ReadOnly"}]),
        "a role changed in the product is shown as the product has it"
    );

    let first = mapping(
        r#"
[attributes]
userName = "/email"
roles = { path = "/role", pick = "first" }
"#,
    );
    let body = first
        .to_downstream_create(&json!({"userName": "a", "roles": [
            {"value": "b"}, {"value": "c", "primary": true}]}))
        .unwrap();
    assert_eq!(body["role"], "c", "the primary one first");
}

#[test]
fn pick_is_checked_where_it_cannot_work() {
    for (rule, message) in [
        (
            r#""roles[primary eq true].value" = { path = "/r", pick = "first" }"#,
            "whole multi-valued",
        ),
        (
            r#"roles = { path = "/r", pick = "highest" }"#,
            "lowest first",
        ),
        (
            r#"roles = { path = "/r", pick = "last" }"#,
            "use first or highest",
        ),
    ] {
        let text = format!("{OPS}\n[attributes]\nuserName = \"/email\"\n{rule}\n");
        let raw: RawResource = toml::from_str(&text).unwrap();
        let src = Source {
            file: "t.toml",
            text: &text,
        };
        let err = ResourceMapping::compile("users", &raw, user_schema(), &src).unwrap_err();
        assert!(err.to_string().contains(message), "{rule}: {err}");
    }
}
