//! PATCH tests: request parsing, RFC 7644 §3.5.2 semantics, Entra ID request shapes (verbatim),
//! error scimTypes with atomic rollback, and a no-panic proptest.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::scim::schema::ResourceSchema;
use crate::scim::schema::fixtures::{ENTERPRISE_URN, USER_URN, group_schema, user, user_schema};

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_URN], "Operations": ops})
}

fn run(resource: &mut Value, ops: Value, schema: &ResourceSchema) -> Result<(), PatchError> {
    let request = PatchRequest::parse(&body(ops), schema)?;
    apply(resource, &request, schema)
}

/// Applies `ops` to the sample user and returns the result, failing the test on error.
fn patched(ops: Value) -> Value {
    let mut r = user();
    run(&mut r, ops.clone(), &user_schema()).unwrap_or_else(|e| panic!("{ops}: {e}"));
    r
}

fn ent(ptr: &str) -> String {
    format!("/{}{ptr}", ENTERPRISE_URN.replace('/', "~1"))
}

// ---- request parsing ----

#[test]
fn parses_entra_and_rfc_request_shapes() {
    let schema = user_schema();
    let shapes = [
        json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        json!({"schemas": [PATCH_OP_URN.to_uppercase()], "operations": [{"op": "replace", "path": "active", "value": false}]}),
        json!({"Operations": [{"OP": "REPLACE", "Path": "active", "Value": false}]}),
    ];
    for shape in shapes {
        let req = PatchRequest::parse(&shape, &schema).unwrap_or_else(|e| panic!("{shape}: {e}"));
        assert_eq!(req.operations.len(), 1);
        assert_eq!(req.operations[0].op, PatchOpKind::Replace);
        assert_eq!(
            req.operations[0]
                .path
                .as_ref()
                .map(|p| p.to_string())
                .as_deref(),
            Some("active")
        );
    }
    let req = PatchRequest::parse(
        &body(json!([
            {"op": "Add", "value": {"title": "x"}},
            {"op": "Remove", "path": ENTERPRISE_URN},
            {"op": "remove", "path": "emails[type eq \"work\"]"},
            {"op": "add", "path": "", "value": {"title": "y"}}
        ])),
        &schema,
    )
    .unwrap();
    let kinds: Vec<_> = req.operations.iter().map(|o| o.op).collect();
    assert_eq!(
        kinds,
        [
            PatchOpKind::Add,
            PatchOpKind::Remove,
            PatchOpKind::Remove,
            PatchOpKind::Add
        ]
    );
    assert!(req.operations[0].path.is_none() && req.operations[3].path.is_none());
}

#[test]
fn rejects_malformed_requests() {
    let schema = user_schema();
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "invalidSyntax", "JSON object"),
        (
            json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "value": {}}]}),
            "invalidSyntax",
            PATCH_OP_URN,
        ),
        (
            json!({"schemas": PATCH_OP_URN, "Operations": [{"op": "add", "value": {}}]}),
            "invalidSyntax",
            "must be an array",
        ),
        (
            json!({"schemas": [PATCH_OP_URN]}),
            "invalidSyntax",
            "no \"Operations\"",
        ),
        (body(json!([])), "invalidSyntax", "is empty"),
        (
            body(json!({"op": "add"})),
            "invalidSyntax",
            "must be an array",
        ),
        (body(json!(["add"])), "invalidSyntax", "must be an object"),
        (
            body(json!([{"op": "upsert", "path": "title", "value": "x"}])),
            "invalidSyntax",
            "not \"upsert\"",
        ),
        (
            body(json!([{"path": "title", "value": "x"}])),
            "invalidSyntax",
            "\"op\" must be",
        ),
        (
            body(json!([{"op": "Remove"}])),
            "noTarget",
            "needs a \"path\"",
        ),
        (
            body(json!([{"op": "add", "path": "title"}])),
            "invalidValue",
            "needs a \"value\"",
        ),
        (
            body(json!([{"op": "replace"}])),
            "invalidValue",
            "needs a \"value\"",
        ),
        (
            body(json!([{"op": "add", "path": 7, "value": "x"}])),
            "invalidPath",
            "must be a string",
        ),
        (
            body(json!([{"op": "add", "path": "ti tle", "value": "x"}])),
            "invalidPath",
            "unexpected 'tle' at offset 3",
        ),
        (
            body(json!([{"op": "add", "path": "nope", "value": "x"}])),
            "invalidPath",
            "unknown attribute 'nope'",
        ),
        (
            body(json!([{"op": "add", "path": "emails[type eq]", "value": "x"}])),
            "invalidFilter",
            "offset 14",
        ),
        (
            body(json!([{"op": "add", "path": "emails[nope pr].value", "value": "x"}])),
            "invalidFilter",
            "emails.nope",
        ),
        (
            body(json!([{"op": "add", "path": "title", "value": "x"}, {"op": "bad"}])),
            "invalidSyntax",
            "operation 2: ",
        ),
    ];
    for (b, scim_type, needle) in cases {
        let err = PatchRequest::parse(&b, &schema).expect_err(&b.to_string());
        assert_eq!(err.scim_type(), scim_type, "{b}: {err}");
        assert!(err.to_string().contains(needle), "{b}: {err}");
    }
}

#[test]
fn scim_types_map_one_to_one() {
    let cases = [
        (PatchError::InvalidSyntax(String::new()), "invalidSyntax"),
        (PatchError::InvalidPath(String::new()), "invalidPath"),
        (PatchError::InvalidFilter(String::new()), "invalidFilter"),
        (PatchError::InvalidValue(String::new()), "invalidValue"),
        (PatchError::NoTarget(String::new()), "noTarget"),
        (PatchError::Mutability(String::new()), "mutability"),
    ];
    for (e, t) in cases {
        assert_eq!(e.scim_type(), t);
    }
}

/// JSON pointers and the value expected there (`None` = absent).
type Checks = Vec<(String, Option<Value>)>;

// ---- applying: successes (table of ops -> JSON pointer expectations, None = absent) ----

#[test]
fn applies_operations() {
    let manager = format!("{ENTERPRISE_URN}:manager");
    let cases: Vec<(&str, Value, Checks)> = vec![
        (
            "replace single-valued",
            json!([{"op": "replace", "path": "userName", "value": "new"}]),
            vec![("/userName".into(), Some(json!("new")))],
        ),
        (
            "Entra: capitalized op and \"False\" string for a boolean",
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            vec![("/active".into(), Some(json!(false)))],
        ),
        (
            "Entra: \"TRUE\" on add",
            json!([{"op": "Add", "path": "active", "value": "TRUE"}]),
            vec![("/active".into(), Some(json!(true)))],
        ),
        (
            "add sets an absent single-valued attribute",
            json!([{"op": "add", "path": "title", "value": "Tour Guide"}]),
            vec![("/title".into(), Some(json!("Tour Guide")))],
        ),
        (
            "add wraps a single value for a multi-valued attribute",
            json!([{"op": "add", "path": "emails", "value": {"value": "x@y.org", "type": "other"}}]),
            vec![
                (
                    "/emails/2".into(),
                    Some(json!({"value": "x@y.org", "type": "other"})),
                ),
                ("/emails/0/primary".into(), Some(json!(true))),
            ],
        ),
        (
            "add does not duplicate an existing value",
            json!([{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home"}]}]),
            vec![
                ("/emails/2".into(), None),
                ("/emails/1/type".into(), Some(json!("home"))),
            ],
        ),
        (
            "add of a new primary value clears the old primary",
            json!([{"op": "add", "path": "emails", "value": [{"value": "n@x", "primary": "True"}]}]),
            vec![
                ("/emails/0/primary".into(), Some(json!(false))),
                ("/emails/2/primary".into(), Some(json!(true))),
            ],
        ),
        (
            "add to a complex attribute merges sub-attributes",
            json!([{"op": "add", "path": "name", "value": {"givenName": "Barb"}}]),
            vec![
                ("/name/givenName".into(), Some(json!("Barb"))),
                ("/name/familyName".into(), Some(json!("Jensen"))),
            ],
        ),
        (
            "replace of a complex attribute leaves other sub-attributes (RFC 7644 §3.5.2.3)",
            json!([{"op": "replace", "path": "name", "value": {"formatted": "Ms. B", "givenName": null}}]),
            vec![
                ("/name/formatted".into(), Some(json!("Ms. B"))),
                ("/name/givenName".into(), None),
                ("/name/familyName".into(), Some(json!("Jensen"))),
            ],
        ),
        (
            "replace of a multi-valued attribute replaces the array",
            json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x", "type": "work"}]}]),
            vec![
                ("/emails/0/value".into(), Some(json!("only@x"))),
                ("/emails/1".into(), None),
            ],
        ),
        (
            "replace with [] unassigns a multi-valued attribute",
            json!([{"op": "replace", "path": "phoneNumbers", "value": []}]),
            vec![("/phoneNumbers".into(), None)],
        ),
        (
            "replace with null unassigns",
            json!([{"op": "replace", "path": "displayName", "value": null}]),
            vec![("/displayName".into(), None)],
        ),
        (
            "replace a sub-attribute of matching elements",
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x"}]),
            vec![
                ("/emails/0/value".into(), Some(json!("w@x"))),
                ("/emails/1/value".into(), Some(json!("babs@jensen.org"))),
            ],
        ),
        (
            "Entra: add through a filter that matches nothing creates the element",
            json!([{"op": "Add", "path": "emails[type eq \"other\"].value", "value": "o@x"}]),
            vec![(
                "/emails/2".into(),
                Some(json!({"type": "other", "value": "o@x"})),
            )],
        ),
        (
            "Entra: replace through a filter that matches nothing creates the element",
            json!([{"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}]),
            vec![(
                "/phoneNumbers/1".into(),
                Some(json!({"type": "mobile", "value": "+1 555"})),
            )],
        ),
        (
            "creating from an 'and' filter takes every equality",
            json!([{"op": "add", "path": "emails[type eq \"other\" and primary eq true].value", "value": "p@x"}]),
            vec![
                (
                    "/emails/2".into(),
                    Some(json!({"type": "other", "primary": true, "value": "p@x"})),
                ),
                ("/emails/0/primary".into(), Some(json!(false))),
            ],
        ),
        (
            "replace through a filter without sub-attribute merges into matches",
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}]),
            vec![(
                "/emails/1".into(),
                Some(json!({"value": "babs@jensen.org", "type": "home", "display": "Home"})),
            )],
        ),
        (
            "setting primary through a filter clears it elsewhere",
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "true"}]),
            vec![
                ("/emails/0/primary".into(), Some(json!(false))),
                ("/emails/1/primary".into(), Some(json!(true))),
            ],
        ),
        (
            "case-insensitive path, canonical storage",
            json!([{"op": "replace", "path": "EMAILS[TYPE eq \"WORK\"].VALUE", "value": "c@x"}]),
            vec![
                ("/emails/0/value".into(), Some(json!("c@x"))),
                ("/emails/0/VALUE".into(), None),
            ],
        ),
        (
            "Entra: no-path replace with dotted, filtered, URN keys and a boolean",
            json!([{"op": "Replace", "value": {
                "name.givenName": "Ann",
                "emails[type eq \"work\"].value": "a@x",
                format!("{ENTERPRISE_URN}:department"): "Sales",
                "active": false
            }}]),
            vec![
                ("/name/givenName".into(), Some(json!("Ann"))),
                ("/name/familyName".into(), Some(json!("Jensen"))),
                ("/emails/0/value".into(), Some(json!("a@x"))),
                (ent("/department"), Some(json!("Sales"))),
                ("/active".into(), Some(json!(false))),
            ],
        ),
        (
            "Entra: no-path value with the extension URN as key",
            json!([{"op": "Add", "value": {ENTERPRISE_URN: {"Department": "X", "manager": "m1"}}}]),
            vec![
                (ent("/department"), Some(json!("X"))),
                (ent("/Department"), None),
                (ent("/manager"), Some(json!({"value": "m1"}))),
                (ent("/employeeNumber"), Some(json!("701984"))),
            ],
        ),
        (
            "no-path keys in any case are stored under canonical names",
            json!([{"op": "replace", "value": {"username": "u2", "DisplayName": "D", "ACTIVE": "False"}}]),
            vec![
                ("/userName".into(), Some(json!("u2"))),
                ("/username".into(), None),
                ("/displayName".into(), Some(json!("D"))),
                ("/active".into(), Some(json!(false))),
            ],
        ),
        (
            "Entra: manager as a plain string; the stale displayName is dropped",
            json!([{"op": "Replace", "path": manager, "value": "123"}]),
            vec![(ent("/manager"), Some(json!({"value": "123"})))],
        ),
        (
            "manager as {\"value\": ...}",
            json!([{"op": "replace", "path": manager, "value": {"value": "123"}}]),
            vec![(ent("/manager"), Some(json!({"value": "123"})))],
        ),
        (
            "Entra: manager wrapped in a one-element array",
            json!([{"op": "Add", "path": manager, "value": [{"value": "123"}]}]),
            vec![(ent("/manager"), Some(json!({"value": "123"})))],
        ),
        (
            "manager.value path",
            json!([{"op": "replace", "path": format!("{manager}.value"), "value": "9"}]),
            vec![(ent("/manager"), Some(json!({"value": "9"})))],
        ),
        (
            "remove manager",
            json!([{"op": "Remove", "path": manager}]),
            vec![
                (ent("/manager"), None),
                (ent("/department"), Some(json!("Tour Operations"))),
            ],
        ),
        (
            "Entra: [{\"value\": x}] around a single-valued string",
            json!([{"op": "Replace", "path": "displayName", "value": [{"value": "Wrapped"}]}]),
            vec![("/displayName".into(), Some(json!("Wrapped")))],
        ),
        (
            "a one-element array around a single-valued boolean",
            json!([{"op": "Replace", "path": "active", "value": ["false"]}]),
            vec![("/active".into(), Some(json!(false)))],
        ),
        (
            "removing an absent attribute succeeds",
            json!([{"op": "remove", "path": "title"}]),
            vec![("/title".into(), None)],
        ),
        (
            "remove matching elements",
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
            vec![
                ("/emails/0/type".into(), Some(json!("work"))),
                ("/emails/1".into(), None),
            ],
        ),
        (
            "remove with a filter matching nothing succeeds",
            json!([{"op": "remove", "path": "emails[type eq \"nope\"]"}]),
            vec![("/emails/1/type".into(), Some(json!("home")))],
        ),
        (
            "removing the last element unassigns the attribute",
            json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}]),
            vec![("/phoneNumbers".into(), None)],
        ),
        (
            "remove a sub-attribute",
            json!([{"op": "remove", "path": "name.givenName"}]),
            vec![
                ("/name/givenName".into(), None),
                ("/name/familyName".into(), Some(json!("Jensen"))),
            ],
        ),
        (
            "remove a sub-attribute of matching elements",
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
            vec![(
                "/emails/0".into(),
                Some(json!({"value": "bjensen@example.com", "type": "work"})),
            )],
        ),
        (
            "remove the extension object; schemas follows",
            json!([{"op": "remove", "path": ENTERPRISE_URN}]),
            vec![
                (ent(""), None),
                ("/schemas".into(), Some(json!([USER_URN]))),
            ],
        ),
        (
            "remove the extension's last attributes drops the object",
            json!([
                {"op": "remove", "path": format!("{ENTERPRISE_URN}:employeeNumber")},
                {"op": "remove", "path": format!("{ENTERPRISE_URN}:department")},
                {"op": "remove", "path": manager}
            ]),
            vec![
                (ent(""), None),
                ("/schemas".into(), Some(json!([USER_URN]))),
            ],
        ),
        (
            "lowercase URN writes under the canonical key",
            json!([{"op": "replace", "path": format!("{}:department", ENTERPRISE_URN.to_lowercase()), "value": "D"}]),
            vec![(ent("/department"), Some(json!("D")))],
        ),
        (
            "immutable attribute may be set when absent",
            json!([{"op": "add", "path": "badgeId", "value": "B1"}]),
            vec![("/badgeId".into(), Some(json!("B1")))],
        ),
        (
            "read-only attribute given its current value is a no-op",
            json!([{"op": "replace", "value": {"id": "2819c223-7f76-453a-919d-413861904646", "title": "T"}}]),
            vec![("/title".into(), Some(json!("T")))],
        ),
        (
            "read-only sub-attributes inside values are ignored",
            json!([{"op": "replace", "path": manager, "value": {"value": "7", "displayName": "Ignored"}}]),
            vec![(ent("/manager"), Some(json!({"value": "7"})))],
        ),
        (
            "operations apply in order",
            json!([
                {"op": "add", "path": "title", "value": "A"},
                {"op": "replace", "path": "title", "value": "B"},
                {"op": "add", "path": "nickName", "value": "N"},
                {"op": "remove", "path": "nickName"}
            ]),
            vec![
                ("/title".into(), Some(json!("B"))),
                ("/nickName".into(), None),
            ],
        ),
        (
            "externalId, integer and dateTime attributes",
            json!([{"op": "replace", "value": {
                "externalId": "E", "loginCount": 7, "employeeSince": "2020-01-01T00:00:00Z"
            }}]),
            vec![
                ("/externalId".into(), Some(json!("E"))),
                ("/loginCount".into(), Some(json!(7))),
                ("/employeeSince".into(), Some(json!("2020-01-01T00:00:00Z"))),
            ],
        ),
        (
            "replace emails.value without filter sets every element",
            json!([{"op": "replace", "path": "phoneNumbers.type", "value": "mobile"}]),
            vec![("/phoneNumbers/0/type".into(), Some(json!("mobile")))],
        ),
    ];
    for (name, ops, checks) in cases {
        let r = patched(ops);
        for (ptr, expected) in checks {
            assert_eq!(r.pointer(&ptr), expected.as_ref(), "{name}: {ptr} in {r:#}");
        }
    }
}

#[test]
fn adds_an_extension_to_a_resource_without_one() {
    let schema = user_schema();
    let mut r = json!({"schemas": [USER_URN], "userName": "u"});
    run(
        &mut r,
        json!([{"op": "Add", "path": format!("{ENTERPRISE_URN}:employeeNumber"), "value": "42"}]),
        &schema,
    )
    .unwrap();
    assert_eq!(
        r,
        json!({"schemas": [USER_URN, ENTERPRISE_URN], "userName": "u", ENTERPRISE_URN: {"employeeNumber": "42"}})
    );
    // Removing from an absent extension is a no-op.
    let mut bare = json!({"userName": "u"});
    run(
        &mut bare,
        json!([{"op": "remove", "path": format!("{ENTERPRISE_URN}:manager")}]),
        &schema,
    )
    .unwrap();
    assert_eq!(bare, json!({"userName": "u"}));
}

#[test]
fn canonicalizes_existing_miscased_keys_in_place() {
    let schema = user_schema();
    let mut r = json!({"username": "a", "Title": "t", "ACTIVE": "true"});
    run(
        &mut r,
        json!([{"op": "replace", "path": "userName", "value": "b"}]),
        &schema,
    )
    .unwrap();
    assert_eq!(r, json!({"userName": "b", "Title": "t", "ACTIVE": "true"}));
    let keys: Vec<_> = r.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["userName", "Title", "ACTIVE"]);
}

// ---- groups: the Azure members shapes ----

#[test]
fn applies_azure_group_member_operations() {
    let schema = group_schema();
    let mut g = json!({"displayName": "G", "members": [{"value": "u0", "display": "Zero"}]});
    let steps: Vec<(Value, Value)> = vec![
        (
            json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
            json!([{"value": "u0", "display": "Zero"}, {"value": "u1"}, {"value": "u2"}]),
        ),
        (
            json!([{"op": "Add", "path": "members", "value": [{"value": "u0"}, {"value": "u1"}]}]),
            json!([{"value": "u0", "display": "Zero"}, {"value": "u1"}, {"value": "u2"}]),
        ),
        (
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u0"}]}]),
            json!([{"value": "u1"}, {"value": "u2"}]),
        ),
        (
            json!([{"op": "Remove", "path": "members[value eq \"u2\"]"}]),
            json!([{"value": "u1"}]),
        ),
        (
            json!([{"op": "Remove", "path": "members", "value": [{"value": "absent"}]}]),
            json!([{"value": "u1"}]),
        ),
    ];
    for (ops, members) in steps {
        run(&mut g, ops.clone(), &schema).unwrap_or_else(|e| panic!("{ops}: {e}"));
        assert_eq!(g["members"], members, "{ops}");
    }
    run(
        &mut g,
        json!([{"op": "Remove", "path": "members"}]),
        &schema,
    )
    .unwrap();
    assert_eq!(g, json!({"displayName": "G"}));
    run(
        &mut g,
        json!([{"op": "Replace", "path": "displayName", "value": "G2"}]),
        &schema,
    )
    .unwrap();
    assert_eq!(g, json!({"displayName": "G2"}));
}

// ---- applying: errors ----

#[test]
fn rejects_invalid_operations_atomically() {
    let manager = format!("{ENTERPRISE_URN}:manager");
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"op": "replace", "path": "id", "value": "other"}),
            "mutability",
            "'id' is read-only",
        ),
        (
            json!({"op": "remove", "path": "id"}),
            "mutability",
            "'id' is read-only",
        ),
        (
            json!({"op": "add", "path": "groups", "value": [{"value": "g2"}]}),
            "mutability",
            "'groups' is read-only",
        ),
        (
            json!({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}),
            "mutability",
            "'meta.created' is read-only",
        ),
        (
            json!({"op": "replace", "value": {"groups": [{"value": "g"}]}}),
            "mutability",
            "'groups' is read-only",
        ),
        (
            json!({"op": "replace", "value": {"meta": {"version": "x"}}}),
            "mutability",
            "'meta' is read-only",
        ),
        (
            json!({"op": "replace", "path": format!("{manager}.displayName"), "value": "x"}),
            "mutability",
            "'manager.displayName' is read-only",
        ),
        (
            json!({"op": "remove", "path": "userName"}),
            "invalidValue",
            "'userName' is required",
        ),
        (
            json!({"op": "replace", "path": "userName", "value": null}),
            "invalidValue",
            "'userName' is required",
        ),
        (
            json!({"op": "replace", "path": "active", "value": "yes"}),
            "invalidValue",
            "'active' expects a boolean",
        ),
        (
            json!({"op": "replace", "value": {"active": 1}}),
            "invalidValue",
            "'active' expects a boolean",
        ),
        (
            json!({"op": "replace", "path": "displayName", "value": {"a": 1}}),
            "invalidValue",
            "'displayName' expects a string, not an object",
        ),
        (
            json!({"op": "replace", "path": "displayName", "value": true}),
            "invalidValue",
            "'displayName' expects a string",
        ),
        (
            json!({"op": "replace", "path": "displayName", "value": ["a", "b"]}),
            "invalidValue",
            "single-valued",
        ),
        (
            json!({"op": "replace", "path": "name", "value": "x"}),
            "invalidValue",
            "'name' expects an object",
        ),
        (
            json!({"op": "replace", "path": "loginCount", "value": 1.5}),
            "invalidValue",
            "'loginCount' expects an integer",
        ),
        (
            json!({"op": "replace", "path": "employeeSince", "value": "yesterday"}),
            "invalidValue",
            "'employeeSince' expects a dateTime",
        ),
        (
            json!({"op": "add", "path": "emails", "value": [{"value": "x", "primary": "maybe"}]}),
            "invalidValue",
            "'emails.primary' expects a boolean",
        ),
        (
            json!({"op": "add", "path": "emails", "value": [{"nope": 1}]}),
            "invalidPath",
            "'emails.nope'",
        ),
        (
            json!({"op": "replace", "value": {"nope": 1}}),
            "invalidPath",
            "unknown attribute 'nope'",
        ),
        (
            json!({"op": "replace", "value": {"name.nope": 1}}),
            "invalidPath",
            "'name.nope'",
        ),
        (
            json!({"op": "replace", "value": {"emails[nope eq 1].value": 1}}),
            "invalidFilter",
            "emails.nope",
        ),
        (
            json!({"op": "replace", "path": "emails[type eq \"x\" or type eq \"y\"].value", "value": "v"}),
            "noTarget",
            "matches",
        ),
        (
            json!({"op": "replace", "value": "x"}),
            "invalidValue",
            "needs an object",
        ),
        (
            json!({"op": "replace", "value": {ENTERPRISE_URN: "x"}}),
            "invalidValue",
            "must be an object",
        ),
        (
            json!({"op": "replace", "path": ENTERPRISE_URN, "value": "x"}),
            "invalidValue",
            "needs an object",
        ),
        (
            json!({"op": "remove", "path": USER_URN}),
            "invalidPath",
            "cannot be removed",
        ),
        (
            json!({"op": "replace", "value": {"emails": 5}}),
            "invalidValue",
            "'emails.value' expects a string",
        ),
    ];
    let schema = user_schema();
    for (op, scim_type, needle) in cases {
        let mut r = user();
        // A valid first operation must be rolled back when the second fails.
        let ops = json!([{"op": "replace", "path": "title", "value": "changed"}, op]);
        let err = run(&mut r, ops, &schema).expect_err(&op.to_string());
        assert_eq!(err.scim_type(), scim_type, "{op}: {err}");
        assert!(err.to_string().contains(needle), "{op}: {err}");
        assert!(err.to_string().starts_with("operation 2: "), "{op}: {err}");
        assert_eq!(r, user(), "{op} left the resource changed");
    }
}

#[test]
fn immutable_attributes_cannot_change_once_set() {
    let schema = user_schema();
    let mut r = user();
    run(
        &mut r,
        json!([{"op": "add", "path": "badgeId", "value": "B1"}]),
        &schema,
    )
    .unwrap();
    run(
        &mut r,
        json!([{"op": "replace", "path": "badgeId", "value": "B1"}]),
        &schema,
    )
    .unwrap();
    let err = run(
        &mut r,
        json!([{"op": "replace", "path": "badgeId", "value": "B2"}]),
        &schema,
    )
    .unwrap_err();
    assert_eq!(err.scim_type(), "mutability");
    assert!(err.to_string().contains("'badgeId' is immutable"), "{err}");

    let group = group_schema();
    let mut g = json!({"displayName": "G", "members": [{"value": "u1"}]});
    let err = run(
        &mut g,
        json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u9"}]),
        &group,
    )
    .unwrap_err();
    assert_eq!(err.scim_type(), "mutability", "{err}");
    let err = run(
        &mut g,
        json!([{"op": "remove", "path": "displayName"}]),
        &group,
    )
    .unwrap_err();
    assert_eq!(err.scim_type(), "invalidValue", "{err}");
}

#[test]
fn rejects_a_resource_that_is_not_an_object() {
    let schema = user_schema();
    let req = PatchRequest::parse(
        &body(json!([{"op": "add", "path": "title", "value": "x"}])),
        &schema,
    )
    .unwrap();
    let mut r = json!([1]);
    assert!(apply(&mut r, &req, &schema).is_err());
    assert_eq!(r, json!([1]));
}

// ---- property test ----

fn path_text() -> impl Strategy<Value = Option<String>> {
    let e = ENTERPRISE_URN;
    prop::option::weighted(
        0.85,
        prop::sample::select(vec![
            "userName".to_string(),
            "USERNAME".into(),
            "name".into(),
            "name.givenName".into(),
            "displayName".into(),
            "active".into(),
            "loginCount".into(),
            "employeeSince".into(),
            "badgeId".into(),
            "emails".into(),
            "emails.value".into(),
            "emails.primary".into(),
            r#"emails[type eq "work"].value"#.into(),
            r#"emails[type eq "work"]"#.into(),
            r#"emails[type eq "new" and primary eq true].display"#.into(),
            r#"emails[value co "x" or primary eq true]"#.into(),
            r#"phoneNumbers[type eq "mobile"].primary"#.into(),
            "groups".into(),
            "id".into(),
            "meta".into(),
            "meta.created".into(),
            "schemas".into(),
            e.to_string(),
            format!("{e}:manager"),
            format!("{e}:manager.value"),
            format!("{e}:department"),
            USER_URN.into(),
            "nope".into(),
            "emails[".into(),
            "".into(),
        ]),
    )
}

fn json_value() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "value",
        "type",
        "primary",
        "display",
        "givenName",
        "userName",
        "active",
        "name.givenName",
        "emails[type eq \"work\"].value",
        ENTERPRISE_URN,
        "department",
        "manager",
        "id",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        Just(json!(1.5)),
        prop::sample::select(vec![
            "True",
            "false",
            "work",
            "x",
            "",
            "2020-01-01T00:00:00Z",
            "a@b"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 16, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn operation() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec![
        "add", "Add", "replace", "Replace", "remove", "REMOVE", "x",
    ]);
    (op, path_text(), prop::option::of(json_value())).prop_map(|(op, path, value)| {
        let mut o = serde_json::Map::new();
        o.insert("op".into(), json!(op));
        if let Some(p) = path {
            o.insert("path".into(), json!(p));
        }
        if let Some(v) = value {
            o.insert("value".into(), v);
        }
        Value::Object(o)
    })
}

/// Booleans stay booleans wherever the schema says boolean.
fn assert_well_typed(r: &Value) {
    for ptr in ["/active"] {
        if let Some(v) = r.pointer(ptr) {
            assert!(v.is_boolean(), "{ptr}: {v}");
        }
    }
    if let Some(Value::Array(emails)) = r.get("emails") {
        for e in emails {
            if let Some(p) = e.get("primary") {
                assert!(p.is_boolean(), "primary: {p}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn apply_never_panics_and_is_atomic(ops in prop::collection::vec(operation(), 1..6)) {
        let schema = user_schema();
        let mut r = user();
        // Each operation alone, so state evolves through the successful ones.
        for op in &ops {
            let before = r.clone();
            if let Ok(req) = PatchRequest::parse(&body(json!([op])), &schema) {
                match apply(&mut r, &req, &schema) {
                    Ok(()) => assert_well_typed(&r),
                    Err(_) => prop_assert_eq!(&r, &before),
                }
            }
        }
        // And all together.
        let mut all = user();
        if let Ok(req) = PatchRequest::parse(&body(Value::Array(ops)), &schema)
            && apply(&mut all, &req, &schema).is_err()
        {
            prop_assert_eq!(all, user());
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bodies(b in json_value()) {
        let _ = PatchRequest::parse(&b, &user_schema());
        let _ = PatchRequest::parse(&json!({"Operations": b}), &user_schema());
    }
}

/// scim2-tester (and some SDKs) send `schemas` inside a PATCH value, even an extension's.
#[test]
fn schemas_inside_a_value_are_ignored() {
    let schema = user_schema();
    let mut r = json!({"userName": "bjensen"});
    let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let req = PatchRequest::parse(
        &json!({"schemas": [PATCH_OP_URN], "Operations": [
            {"op": "add", "path": ext, "value": {"schemas": [ext], "department": "Ops"}},
            {"op": "replace", "value": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b"}}
        ]}),
        &schema,
    )
    .unwrap();
    apply(&mut r, &req, &schema).unwrap();
    assert_eq!(r["userName"], "b");
    assert_eq!(r[ext]["department"], "Ops");
}

// ---- bounds and large lists ----

fn emails(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"value": format!("u{i}@example.com"), "type": "other"}))
        .collect()
}

#[test]
fn too_many_operations_are_refused_naming_the_bound() {
    let ops =
        vec![json!({"op": "replace", "path": "displayName", "value": "x"}); MAX_OPERATIONS + 1];
    let e = PatchRequest::parse(&body(json!(ops)), &user_schema()).unwrap_err();
    assert_eq!(e.scim_type(), "invalidValue");
    assert_eq!(
        e.to_string(),
        "the PATCH has 1001 operations, more than the 1000 one request may carry; \
         send the changes in several requests"
    );
    let ops = vec![json!({"op": "replace", "path": "displayName", "value": "x"}); MAX_OPERATIONS];
    assert!(PatchRequest::parse(&body(json!(ops)), &user_schema()).is_ok());
}

#[test]
fn a_list_over_the_value_bound_is_refused_and_leaves_the_resource_alone() {
    let mut r = user();
    let before = r.clone();
    let e = run(
        &mut r,
        json!([{"op": "replace", "path": "emails", "value": emails(20_000)}]),
        &user_schema(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type(), "invalidValue");
    assert_eq!(
        e.to_string(),
        "operation 1: attribute 'emails' has 20000 values, more than the 1000 one \
         multi-valued attribute may hold"
    );
    // The same through a no-path value, and by adding to what the user has.
    let e = run(
        &mut r,
        json!([{"op": "add", "value": {"emails": emails(1_001)}}]),
        &user_schema(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("has 1001 values"), "{e}");
    let e = run(
        &mut r,
        json!([{"op": "add", "path": "emails", "value": emails(1_000)}]),
        &user_schema(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("'emails' would hold 1002 values"),
        "{e}"
    );
    assert_eq!(r, before);
    // At the bound, it is taken.
    let r = patched(json!([{"op": "replace", "path": "emails", "value": emails(1_000)}]));
    assert_eq!(r["emails"].as_array().map(Vec::len), Some(1_000));
}

#[test]
fn group_members_are_exempt_from_the_value_bound() {
    let schema = group_schema();
    let members: Vec<Value> = (0..5_000)
        .map(|i| json!({"value": format!("u{i}")}))
        .collect();
    let mut group = json!({"displayName": "Everyone"});
    run(
        &mut group,
        json!([{"op": "add", "path": "members", "value": members}]),
        &schema,
    )
    .unwrap();
    assert_eq!(group["members"].as_array().map(Vec::len), Some(5_000));
}

#[test]
fn large_lists_keep_the_duplicate_rules() {
    // Duplicates differing only in the case of a non-caseExact value collapse, in order,
    // keeping the first; a remove list removes case-insensitively too.
    let mut list = emails(1_000);
    list[10] = json!({"value": "U3@EXAMPLE.com", "type": "other"});
    let mut r = patched(json!([{"op": "replace", "path": "emails", "value": list}]));
    let kept = r["emails"].as_array().unwrap();
    assert_eq!(kept.len(), 999);
    assert_eq!(kept[3]["value"], "u3@example.com");
    assert_eq!(kept[10]["value"], "u11@example.com");
    run(
        &mut r,
        json!([{"op": "add", "path": "emails", "value": [{"value": "U999@example.COM"}, {"value": "new@example.com"}]},
               {"op": "remove", "path": "emails", "value": [{"value": "U0@EXAMPLE.COM"}, {"type": "nothing"}]}]),
        &user_schema(),
    )
    .unwrap();
    let values: Vec<&str> = r["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["value"].as_str())
        .collect();
    assert_eq!(values.len(), 999);
    assert_eq!(values[0], "u1@example.com");
    assert_eq!(values.last(), Some(&"new@example.com"));
}

#[test]
fn an_open_extension_value_with_too_many_free_keys_is_refused() {
    let urn = "urn:example:params:scim:schemas:extension:meta:2.0:User";
    let mut schema = user_schema();
    schema.extensions.push(crate::scim::schema::SchemaDef {
        id: urn.into(),
        name: "Meta".into(),
        description: String::new(),
        attributes: Vec::new(),
        open: true,
    });
    let keys: serde_json::Map<String, Value> =
        (0..20_000).map(|i| (format!("k{i}"), json!("v"))).collect();
    let ops = json!([{"op": "add", "value": {urn: keys}}]);
    // Widening names each key once (it was a list searched for each of them).
    let widened = schema.widened(&[&body(ops.clone())]).into_owned();
    assert_eq!(widened.extension(urn).unwrap().attributes.len(), 20_000);
    let mut r = user();
    let e = run(&mut r, ops, &widened).unwrap_err();
    assert_eq!(e.scim_type(), "invalidValue");
    assert!(
        e.to_string()
            .contains("names 20000 attributes, more than the 1000"),
        "{e}"
    );
    let few: serde_json::Map<String, Value> =
        (0..10).map(|i| (format!("k{i}"), json!("v"))).collect();
    let ops = json!([{"op": "add", "value": {urn: few}}]);
    run(&mut r, ops, &widened).unwrap();
    assert_eq!(r[urn]["k9"], "v");
}
