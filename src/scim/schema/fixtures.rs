//! Test fixtures: a trimmed RFC 7643 §4.1 User with the §4.3 enterprise extension, a §4.2
//! Group, and a sample user resource.

use serde_json::{Value, json};

use super::{ResourceSchema, SchemaDef};

/// The core User schema URN.
pub(crate) const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise extension URN (RFC 7643 §4.3).
pub(crate) const ENTERPRISE_URN: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn schema_def(v: Value) -> SchemaDef {
    serde_json::from_value(v).expect("fixture schema deserializes")
}

/// A User resource schema with the enterprise extension.
pub(crate) fn user_schema() -> ResourceSchema {
    let core = schema_def(json!({
        "id": USER_URN, "name": "User",
        "attributes": [
            {"name": "userName", "type": "string", "required": true, "caseExact": false, "uniqueness": "server"},
            {"name": "name", "type": "complex", "subAttributes": [
                {"name": "formatted", "type": "string"},
                {"name": "givenName", "type": "string"},
                {"name": "familyName", "type": "string"}
            ]},
            {"name": "displayName", "type": "string"},
            {"name": "nickName", "type": "string"},
            {"name": "title", "type": "string"},
            {"name": "active", "type": "boolean"},
            {"name": "emails", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string"},
                {"name": "display", "type": "string"},
                {"name": "type", "type": "string", "canonicalValues": ["work", "home", "other"]},
                {"name": "primary", "type": "boolean"}
            ]},
            {"name": "phoneNumbers", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string"},
                {"name": "type", "type": "string"},
                {"name": "primary", "type": "boolean"}
            ]},
            {"name": "groups", "type": "complex", "multiValued": true, "mutability": "readOnly", "subAttributes": [
                {"name": "value", "type": "string", "mutability": "readOnly"},
                {"name": "$ref", "type": "reference", "mutability": "readOnly"},
                {"name": "display", "type": "string", "mutability": "readOnly"}
            ]},
            {"name": "loginCount", "type": "integer"},
            {"name": "employeeSince", "type": "dateTime"},
            {"name": "badgeId", "type": "string", "mutability": "immutable", "caseExact": true}
        ]
    }));
    let enterprise = schema_def(json!({
        "id": ENTERPRISE_URN, "name": "EnterpriseUser",
        "attributes": [
            {"name": "employeeNumber", "type": "string"},
            {"name": "department", "type": "string"},
            {"name": "manager", "type": "complex", "subAttributes": [
                {"name": "value", "type": "string"},
                {"name": "$ref", "type": "reference"},
                {"name": "displayName", "type": "string", "mutability": "readOnly"}
            ]}
        ]
    }));
    ResourceSchema {
        core,
        extensions: vec![enterprise],
    }
}

/// A Group resource schema (RFC 7643 §4.2) with immutable `members.value`.
pub(crate) fn group_schema() -> ResourceSchema {
    let core = schema_def(json!({
        "id": "urn:ietf:params:scim:schemas:core:2.0:Group", "name": "Group",
        "attributes": [
            {"name": "displayName", "type": "string", "required": true},
            {"name": "members", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "value", "type": "string", "mutability": "immutable", "caseExact": true},
                {"name": "$ref", "type": "reference", "mutability": "immutable"},
                {"name": "display", "type": "string"},
                {"name": "type", "type": "string", "mutability": "immutable"}
            ]}
        ]
    }));
    ResourceSchema {
        core,
        extensions: Vec::new(),
    }
}

/// A sample user resource (shape of RFC 7643 §8.3, trimmed).
pub(crate) fn user() -> Value {
    json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Bjensen",
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\""
        },
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "active": true,
        "loginCount": 42,
        "employeeSince": "2009-04-01T08:00:00+02:00",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
        ENTERPRISE_URN: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    })
}
