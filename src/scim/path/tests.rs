//! Unit tests for attribute and PATCH path parsing, display and schema resolution.

use super::*;
use crate::scim::filter::CompareOp;
use crate::scim::schema::fixtures::{ENTERPRISE_URN, user_schema};

fn ap(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: urn.map(str::to_string),
        name: name.to_string(),
        sub: sub.map(str::to_string),
    }
}

#[test]
fn parses_attribute_paths() {
    let cases: &[(&str, AttrPath)] = &[
        ("userName", ap(None, "userName", None)),
        ("  name.givenName ", ap(None, "name", Some("givenName"))),
        ("emails.$ref", ap(None, "emails", Some("$ref"))),
        ("x-y_z9", ap(None, "x-y_z9", None)),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            ap(Some(ENTERPRISE_URN), "manager", Some("value")),
        ),
        (
            "URN:ietf:params:scim:schemas:core:2.0:User:userName",
            ap(
                Some("URN:ietf:params:scim:schemas:core:2.0:User"),
                "userName",
                None,
            ),
        ),
    ];
    for (text, expected) in cases {
        let parsed: AttrPath = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&parsed, expected, "{text}");
        let shown = parsed.to_string();
        assert_eq!(
            shown.parse::<AttrPath>().ok().as_ref(),
            Some(expected),
            "{shown}"
        );
    }
}

#[test]
fn rejects_bad_attribute_paths_with_offsets() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "unexpected end of input at offset 0"),
        ("1abc", 0, "unexpected '1' at offset 0"),
        ("name.", 5, "missing attribute name at offset 5"),
        ("name.a.b", 6, "at most one sub-attribute"),
        ("na me", 3, "unexpected 'me' at offset 3"),
        ("a:b", 1, "unexpected ':' at offset 1"),
        ("urn:foo", 0, "schema URN without attribute"),
        ("na$me", 2, "unexpected '$' at offset 2"),
        ("emails[", 6, "unexpected '['"),
    ];
    for (text, offset, needle) in cases {
        match text.parse::<AttrPath>() {
            Err(PathError::Syntax { offset: o, message }) => {
                assert_eq!(o, *offset, "{text}: {message}");
                assert!(message.contains(needle), "{text}: {message}");
            }
            other => panic!("{text}: expected a syntax error, got {other:?}"),
        }
    }
}

#[test]
fn parses_patch_paths() {
    let p: PatchPath = r#"emails[type eq "work"].value"#.parse().unwrap();
    assert_eq!(p.attr, ap(None, "emails", None));
    assert_eq!(p.sub.as_deref(), Some("value"));
    assert_eq!(
        p.filter,
        Some(Filter::Compare(
            ap(None, "type", None),
            CompareOp::Eq,
            crate::scim::filter::CompValue::Str("work".into())
        ))
    );
    assert_eq!(p.to_string(), r#"emails[type eq "work"].value"#);

    for text in [
        r#"members[value eq "2819c223"]"#,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        r#"emails[type eq "work" and primary eq true].display"#,
        r#"emails[not (type eq "home")]"#,
        "name.givenName",
    ] {
        let p: PatchPath = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p.to_string(), text);
    }
}

#[test]
fn rejects_bad_patch_paths() {
    let cases: &[(&str, &str)] = &[
        (
            r#"emails[type eq "work"]value"#,
            "unexpected 'value' at offset 22",
        ),
        (
            r#"emails[type eq "work"].a.b"#,
            "unexpected '.b' at offset 24",
        ),
        (r#"emails[type eq "work""#, "missing ']' at offset 21"),
        (r#"emails[type eq]"#, "unexpected ']' at offset 14"),
        (r#"emails[x[y pr]]"#, "cannot be nested"),
    ];
    for (text, needle) in cases {
        let err = text.parse::<PatchPath>().expect_err(text).to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

#[test]
fn extension_urn_alone_targets_the_extension_object() {
    let schema = user_schema();
    let p = PatchPath::parse_in(ENTERPRISE_URN, &schema).unwrap();
    assert_eq!(p.to_string(), ENTERPRISE_URN);
    match p.target(&schema).unwrap() {
        PatchTarget::Schema(def) => assert_eq!(def.id, ENTERPRISE_URN),
        other => panic!("{other:?}"),
    }
    let lower = ENTERPRISE_URN.to_lowercase();
    assert!(matches!(
        PatchPath::parse_in(&lower, &schema)
            .unwrap()
            .target(&schema),
        Ok(PatchTarget::Schema(_))
    ));
    let manager = format!("{ENTERPRISE_URN}:manager");
    match PatchPath::parse_in(&manager, &schema)
        .unwrap()
        .target(&schema)
        .unwrap()
    {
        PatchTarget::Attribute(r) => {
            assert_eq!(r.attr.name, "manager");
            assert_eq!(r.extension.map(|e| e.id.as_str()), Some(ENTERPRISE_URN));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn resolves_case_insensitively_including_common_attributes() {
    let schema = user_schema();
    let r = "NAME.givenname"
        .parse::<AttrPath>()
        .unwrap()
        .resolve(&schema)
        .unwrap();
    assert_eq!(
        (r.attr.name.as_str(), r.leaf().name.as_str()),
        ("name", "givenName")
    );
    assert!(r.extension.is_none());
    for common in [
        "id",
        "externalId",
        "meta.created",
        "META.lastModified",
        "schemas",
    ] {
        let r = common.parse::<AttrPath>().unwrap().resolve(&schema);
        assert!(r.is_ok(), "{common}: {r:?}");
    }
    let r = format!("{ENTERPRISE_URN}:Department")
        .parse::<AttrPath>()
        .unwrap()
        .resolve(&schema)
        .unwrap();
    assert_eq!(r.attr.name, "department");
    let core = "urn:ietf:params:scim:schemas:core:2.0:User:userName";
    assert!(core.parse::<AttrPath>().unwrap().resolve(&schema).is_ok());
}

#[test]
fn resolution_errors_name_the_attribute() {
    let schema = user_schema();
    let err = |text: &str| {
        text.parse::<AttrPath>()
            .unwrap()
            .resolve(&schema)
            .expect_err(text)
    };
    assert!(matches!(err("nope"), PathError::UnknownAttribute { path } if path == "nope"));
    assert!(
        matches!(err("name.nope"), PathError::UnknownAttribute { path } if path == "name.nope")
    );
    assert!(matches!(err("urn:x:y:attr"), PathError::UnknownSchema { urn } if urn == "urn:x:y"));
    let e = err("userName.x");
    assert!(e.to_string().contains("'userName' is not complex"), "{e}");
    // An extension attribute is not a core attribute.
    assert!(matches!(
        err("department"),
        PathError::UnknownAttribute { .. }
    ));
}

#[test]
fn target_checks_value_filters() {
    let schema = user_schema();
    let t = |s: &str| s.parse::<PatchPath>().unwrap().target(&schema);
    assert!(
        matches!(t(r#"emails[type eq "work"].value"#), Ok(PatchTarget::Attribute(r)) if r.sub.is_some_and(|s| s.name == "value"))
    );
    let e = t(r#"name[givenName eq "x"]"#).unwrap_err();
    assert!(
        e.to_string().contains("not multi-valued and complex"),
        "{e}"
    );
    let e = t(r#"emails[nope eq "x"]"#).unwrap_err();
    assert!(matches!(e, PathError::Filter(_)), "{e:?}");
    assert!(e.to_string().contains("emails.nope"), "{e}");
    let e = t(r#"emails[type eq "x"].nope"#).unwrap_err();
    assert!(matches!(e, PathError::UnknownAttribute { .. }), "{e:?}");
    let e = t(r#"emails.value[type eq "x"]"#).unwrap_err();
    assert!(e.to_string().contains("value filter must follow"), "{e}");
}
