use serde_json::json;

use super::*;
use crate::init::fields::flatten;

fn placed(schema: serde_json::Value) -> Placement {
    place(&flatten(&schema), "/id")
}

fn rule<'a>(p: &'a Placement, scim: &str) -> Option<&'a Placed> {
    p.rules.iter().find(|r| r.scim == scim)
}

#[test]
fn an_email_keyed_record_maps_user_name_to_the_email_and_reads_the_work_email_from_it() {
    let p = placed(json!({"properties": {
        "id": {"type": "integer"},
        "email": {"type": "string", "format": "email"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "status": {"type": "string", "enum": ["active", "suspended", "invited"]},
        "manager_id": {"type": "integer"},
        "metadata": {"type": "object"}
    }}));
    assert_eq!(rule(&p, "userName").unwrap().value, "\"/email\"");
    assert_eq!(
        rule(&p, "userName").unwrap().reason.confidence,
        Confidence::Medium
    );
    assert_eq!(
        rule(&p, "emails[type eq \"work\"].value").unwrap().value,
        "{ path = \"/email\", direction = \"read_only\" }"
    );
    assert_eq!(
        rule(&p, "active").unwrap().value,
        "{ path = \"/status\", map = { true = \"active\", false = \"suspended\" }, map_read = { \"invited\" = true } }"
    );
    assert_eq!(
        rule(&p, "displayName").unwrap().value,
        "{ template = \"{/first_name} {/last_name}\" }"
    );
    assert_eq!(
        rule(&p, &format!("{ENTERPRISE}:manager.value"))
            .unwrap()
            .value,
        "{ path = \"/manager_id\", downstream_type = \"integer\" }"
    );
    let unplaced: Vec<&str> = p.unplaced.iter().map(|f| f.pointer.as_str()).collect();
    assert_eq!(unplaced, ["/metadata"]);
}

#[test]
fn a_login_field_takes_user_name_and_nested_names_are_found_inside_name() {
    let p = placed(json!({"properties": {
        "login": {"type": "string"},
        "mail": {"type": "string"},
        "profile": {"properties": {"name": {"properties": {
            "first": {"type": "string"}, "last": {"type": "string"}
        }}}},
        "disabled": {"type": "boolean"},
        "created": {"type": "string", "format": "date-time"}
    }}));
    assert_eq!(rule(&p, "userName").unwrap().value, "\"/login\"");
    assert_eq!(
        rule(&p, "emails[type eq \"work\"].value").unwrap().value,
        "\"/mail\""
    );
    let given = rule(&p, "name.givenName").unwrap();
    assert_eq!(given.value, "\"/profile/name/first\"");
    assert_eq!(given.reason.confidence, Confidence::High);
    assert_eq!(
        rule(&p, "active").unwrap().value,
        "{ path = \"/disabled\", map = { true = false, false = true } }"
    );
    assert_eq!(rule(&p, "meta.created").unwrap().value, "\"/created\"");
    assert!(p.unplaced.is_empty());
}

#[test]
fn a_record_without_login_or_email_keeps_user_name_in_the_store_and_lists_the_rest() {
    let p = placed(json!({"properties": {
        "nick": {"type": "string"},
        "verified": {"type": "boolean"}
    }}));
    let user_name = rule(&p, "userName").unwrap();
    assert_eq!(user_name.value, "{ store = true }");
    assert_eq!(user_name.reason.confidence, Confidence::Low);
    assert!(
        rule(&p, "active").is_none(),
        "a boolean not named like active is not active"
    );
    assert_eq!(p.unplaced.len(), 2);
}
