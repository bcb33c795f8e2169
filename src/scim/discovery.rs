//! Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas, built
//! from what gateway.toml maps, so clients are offered only what reaches the downstream.

use serde_json::{Value, json};

use super::list::{MAX_COUNT, list_response};
use super::schema::{ResourceSchema, SchemaDef};

/// `/ServiceProviderConfig`: what this gateway supports.
pub fn service_provider_config(base_url: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token issued for this tenant",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig")
        }
    })
}

/// The `User` resource type (RFC 7643 §6).
pub fn user_resource_type(base_url: &str, schema: &ResourceSchema) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": schema.core.id,
        "schemaExtensions": schema.extensions.iter()
            .map(|e| json!({"schema": e.id, "required": false}))
            .collect::<Vec<_>>(),
        "meta": {"resourceType": "ResourceType", "location": format!("{base_url}/ResourceTypes/User")}
    })
}

/// The `Group` resource type (RFC 7643 §6).
pub fn group_resource_type(base_url: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Group",
        "schema": super::catalog::GROUP_URN,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base_url}/ResourceTypes/Group")}
    })
}

/// One schema as served at `/Schemas/{id}`.
pub fn schema_document(base_url: &str, schema: &SchemaDef) -> Value {
    let mut doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"]});
    if let (Value::Object(out), Ok(Value::Object(fields))) =
        (&mut doc, serde_json::to_value(schema))
    {
        out.extend(fields);
        out.insert(
            "meta".into(),
            json!({"resourceType": "Schema", "location": format!("{base_url}/Schemas/{}", schema.id)}),
        );
    }
    doc
}

/// A ListResponse holding every item (discovery lists are small and never paged).
pub fn list_all(items: Vec<Value>) -> Value {
    list_response(items.len() as u64, 1, items)
}
