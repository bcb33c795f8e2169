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
    let schema = sample().advertised_schema(&[]);
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
    assert_eq!(m.push_down(&f), Some(("email".into(), "Ann@X.io".into())));
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
