//! Elements of multi-valued attributes that arrive as a JSON object serialised into their
//! `value`: Microsoft Entra ID's `AppRoleAssignmentsComplex` mapping sends a role added or
//! removed by PATCH as `{"value": "{\"id\":\"…\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"}`
//! (while a create carries the plain `{"value": "Admin", "display": "Admin", ...}`). Decoding
//! them where a request enters gives rules, filters and PATCH `remove` one shape to work on.
//! Pure functions.

use serde_json::{Map, Value};

use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, find_attribute};

/// Decodes the serialised elements of every multi-valued complex attribute of the core
/// schema in a resource (a create or replace body, or a PATCH's no-path value).
pub fn decode_resource(resource: &mut Value, schema: &ResourceSchema) {
    let Value::Object(fields) = resource else {
        return;
    };
    for (name, value) in fields.iter_mut() {
        if let Some(def) = list_of_objects(schema, name) {
            decode_list(value, def);
        }
    }
}

/// Decodes the serialised elements in the values of a PATCH request body, before it is
/// parsed: operations whose path names such an attribute (`roles`, `roles[...]`, with or
/// without the core schema URN), and no-path operations.
pub fn decode_patch(body: &mut Value, schema: &ResourceSchema) {
    super::patch_values::each_patch_value(body, |path, value| match path {
        None => decode_resource(value, schema),
        Some(path) => {
            if let Some(def) = list_of_objects(schema, attribute_of(path, schema)) {
                decode_list(value, def);
            }
        }
    });
}

/// The top-level attribute a PATCH path starts with: `roles` of `roles[primary eq true].value`
/// or of `urn:ietf:params:scim:schemas:core:2.0:User:roles`.
fn attribute_of<'a>(path: &'a str, schema: &ResourceSchema) -> &'a str {
    let core = format!("{}:", schema.core.id);
    let path = match path.get(..core.len()) {
        Some(head) if head.eq_ignore_ascii_case(&core) => &path[core.len()..],
        _ => path,
    };
    let end = path.find(['[', '.']).unwrap_or(path.len());
    &path[..end]
}

/// The definition of `name` when it is a multi-valued complex core attribute with a `value`.
fn list_of_objects<'a>(schema: &'a ResourceSchema, name: &str) -> Option<&'a AttributeDef> {
    find_attribute(&schema.core.attributes, name).filter(|def| {
        def.multi_valued
            && def.attr_type == AttrType::Complex
            && find_attribute(&def.sub_attributes, "value").is_some()
    })
}

/// Decodes each element of a list (or a single element) in place.
fn decode_list(value: &mut Value, def: &AttributeDef) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|e| decode_element(e, def)),
        single @ Value::Object(_) => decode_element(single, def),
        _ => {}
    }
}

/// `{"value": "{\"value\":\"Admin\",\"displayName\":\"Admin\",\"id\":\"…\"}", "primary": false}`
/// becomes `{"value": "Admin", "display": "Admin", "primary": false}`: the serialised object's
/// members that are sub-attributes of `def` (Entra's `displayName` is SCIM's `display`) over
/// the element's own; members SCIM does not define (Entra's app role `id`) are left out. A
/// `value` that is not such an object is left as it is.
fn decode_element(element: &mut Value, def: &AttributeDef) {
    let Value::Object(fields) = element else {
        return;
    };
    let Some((key, Value::String(text))) = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("value"))
        .map(|(k, v)| (k.clone(), v.clone()))
    else {
        return;
    };
    if !text.trim_start().starts_with('{') {
        return;
    }
    let Ok(Value::Object(inner)) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    if !inner.keys().any(|k| k.eq_ignore_ascii_case("value")) {
        return;
    }
    fields.remove(&key);
    let mut decoded = Map::new();
    for (k, v) in inner {
        let name = match k.as_str() {
            "displayName" => "display",
            other => other,
        };
        if let Some(sub) = find_attribute(&def.sub_attributes, name) {
            decoded.insert(sub.name.clone(), v);
        }
    }
    for (k, v) in decoded {
        fields.retain(|existing, _| !existing.eq_ignore_ascii_case(&k));
        fields.insert(k, v);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::catalog::user_schema;

    #[test]
    fn entra_patch_values_become_plain_roles() {
        let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Add", "path": "roles", "value": [
                {"value": "{\"id\":\"7f1c\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"}]},
            {"op": "Remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User:roles",
             "value": [{"value": "{\"id\":\"9a2e\",\"value\":\"User\",\"displayName\":\"User\"}"}]},
            {"op": "Replace", "value": {"roles": [
                {"primary": false, "value": "{\"id\":\"1\",\"value\":\"ReadOnly\"}"}]}},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "{\"value\":\"x\"}"}
        ]});
        decode_patch(&mut body, &user_schema());
        let ops = &body["Operations"];
        assert_eq!(
            ops[0]["value"],
            json!([{"value": "Admin", "display": "Admin"}])
        );
        assert_eq!(
            ops[1]["value"],
            json!([{"value": "User", "display": "User"}])
        );
        assert_eq!(
            ops[2]["value"]["roles"],
            json!([{"primary": false, "value": "ReadOnly"}])
        );
        assert_eq!(
            ops[3]["value"], "{\"value\":\"x\"}",
            "a scalar path is left alone"
        );
    }

    #[test]
    fn plain_values_and_other_text_are_left_alone() {
        let mut resource = json!({
        "userName": "{\"value\":1}",
        "roles": [
            {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Admin", "value": "Admin"},
            {"value": "{not json"},
            {"value": "{\"id\":\"no value member\"}"}
        ]});
        let before = resource.clone();
        decode_resource(&mut resource, &user_schema());
        assert_eq!(resource, before);
    }
}
