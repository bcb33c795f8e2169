//! Values of an open extension's free keys (`urn:...:Metadata:costCentre`) are strings. Entra
//! ID lets an admin declare such an attribute as a number or a boolean, and vendors' guides
//! promise those are converted to text; so numbers and booleans become strings where a
//! request enters, and only objects and arrays are refused (by the schema check, naming the
//! key). Pure functions over the raw request body.

use serde_json::Value;

use crate::scim::schema::ResourceSchema;

/// Turns number and boolean free-key values into strings in a resource body (a create or
/// replace, or a PATCH's no-path value): `{"urn:..:Metadata": {"level": 3}}` and
/// `{"urn:..:Metadata:level": 3}`.
pub fn stringify_resource(body: &mut Value, schema: &ResourceSchema) {
    let Value::Object(fields) = body else {
        return;
    };
    for (key, value) in fields.iter_mut() {
        match open_key(schema, key) {
            Some(None) => stringify_object(value),
            Some(Some(_)) => stringify(value),
            None => {}
        }
    }
}

/// The same for the values of a PATCH body's operations, before it is parsed.
pub fn stringify_patch(body: &mut Value, schema: &ResourceSchema) {
    super::patch_values::each_patch_value(body, |path, value| {
        match path.map(|p| open_key(schema, p)) {
            None => stringify_resource(value, schema),
            Some(Some(None)) => stringify_object(value),
            Some(Some(Some(_))) => stringify(value),
            Some(None) => {}
        }
    });
}

/// `Some(None)` for an open extension's URN itself, `Some(Some(name))` for one of its free
/// keys (`urn:...:Metadata:name`), `None` for anything else.
fn open_key<'a>(schema: &ResourceSchema, key: &'a str) -> Option<Option<&'a str>> {
    schema.extensions.iter().filter(|e| e.open).find_map(|e| {
        let head = key.get(..e.id.len())?;
        if !head.eq_ignore_ascii_case(&e.id) {
            return None;
        }
        match &key[e.id.len()..] {
            "" => Some(None),
            rest => rest.strip_prefix(':').map(Some),
        }
    })
}

/// An open extension's object of free keys.
fn stringify_object(value: &mut Value) {
    if let Value::Object(free) = value {
        free.values_mut().for_each(stringify);
    }
}

fn stringify(value: &mut Value) {
    if let Value::Number(_) | Value::Bool(_) = value {
        *value = Value::String(value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::catalog::user_schema;
    use crate::scim::schema::SchemaDef;

    const METADATA: &str = "urn:ietf:params:scim:schemas:extension:2.0:Metadata";

    fn schema() -> ResourceSchema {
        let mut schema = user_schema();
        schema.extensions.push(SchemaDef {
            id: METADATA.into(),
            name: "Metadata".into(),
            description: String::new(),
            attributes: Vec::new(),
            open: true,
        });
        schema
    }

    #[test]
    fn numbers_and_booleans_become_text_objects_stay_for_the_schema_to_refuse() {
        let mut body = json!({
            METADATA: {"level": 3, "vip": true, "ratio": 0.5, "tags": ["a"], "name": "x"},
            format!("{METADATA}:floor"): 12,
            "userName": "ann",
            "active": true
        });
        stringify_resource(&mut body, &schema());
        assert_eq!(
            body[METADATA],
            json!({"level": "3", "vip": "true", "ratio": "0.5", "tags": ["a"], "name": "x"})
        );
        assert_eq!(body[format!("{METADATA}:floor")], "12");
        assert_eq!(body["active"], true, "core attributes keep their types");
    }

    #[test]
    fn patch_values_under_metadata_paths_become_text() {
        let mut body = json!({"Operations": [
            {"op": "Replace", "path": format!("{METADATA}:level"), "value": 4},
            {"op": "Add", "path": METADATA, "value": {"vip": false}},
            {"op": "Replace", "value": {format!("{METADATA}:floor"): 2, "active": false}},
            {"op": "Replace", "path": "active", "value": false}
        ]});
        stringify_patch(&mut body, &schema());
        let ops = &body["Operations"];
        assert_eq!(ops[0]["value"], "4");
        assert_eq!(ops[1]["value"], json!({"vip": "false"}));
        assert_eq!(
            ops[2]["value"],
            json!({format!("{METADATA}:floor"): "2", "active": false})
        );
        assert_eq!(ops[3]["value"], false);
    }
}
