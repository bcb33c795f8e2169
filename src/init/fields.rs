//! The fields of a record schema, flattened to JSON pointers (`/profile/name/first`), with what
//! the schema says of each: type, format, enum values, read-only, required.

use serde_json::Value;

use super::document::{properties, schema_type};
use super::guess::normalize;

/// Nested objects are followed this deep; deeper ones are listed as one field.
const MAX_NESTING: usize = 4;

/// One leaf field of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// JSON pointer into the record, e.g. `/profile/name/first`.
    pub pointer: String,
    /// The field's own name, normalized (`firstname`).
    pub name: String,
    /// The enclosing object's name, normalized (`name` for `/profile/name/first`).
    pub parent: Option<String>,
    /// `string`, `integer`, `number`, `boolean`, `array`, `object` or `unknown`.
    pub kind: String,
    /// For arrays: the items' type.
    pub items: Option<String>,
    pub format: Option<String>,
    /// The string values of an `enum`, in order.
    pub values: Vec<String>,
    pub read_only: bool,
    pub required: bool,
}

impl Field {
    /// True for a text-like scalar (string, or a number kept as text by SCIM).
    pub fn is_scalar(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "string" | "integer" | "number" | "unknown"
        )
    }

    /// `string (email)`, `array of string`, ... for comments.
    pub fn describe(&self) -> String {
        let mut out = self.kind.clone();
        if let Some(items) = &self.items {
            out = format!("array of {items}");
        }
        if let Some(format) = &self.format {
            out.push_str(&format!(" ({format})"));
        }
        if !self.values.is_empty() {
            out.push_str(&format!(": {}", self.values.join(", ")));
        }
        out
    }
}

/// Every leaf field of a record schema, in document order.
pub fn flatten(schema: &Value) -> Vec<Field> {
    let mut out = Vec::new();
    walk(schema, "", None, 0, &mut out);
    out
}

fn walk(schema: &Value, prefix: &str, parent: Option<&str>, depth: usize, out: &mut Vec<Field>) {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, field) in properties(schema) {
        let pointer = format!("{prefix}/{}", escape(name));
        let kind = schema_type(field).unwrap_or("unknown");
        if kind == "object" && !properties(field).is_empty() && depth < MAX_NESTING {
            walk(field, &pointer, Some(name), depth + 1, out);
            continue;
        }
        out.push(Field {
            pointer,
            name: normalize(name),
            parent: parent.map(normalize),
            kind: kind.to_owned(),
            items: (kind == "array").then(|| {
                field
                    .get("items")
                    .and_then(schema_type)
                    .unwrap_or("unknown")
                    .to_owned()
            }),
            format: field
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_owned),
            values: field
                .get("enum")
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            read_only: field.get("readOnly").and_then(Value::as_bool) == Some(true),
            required: required.contains(&name),
        });
    }
}

/// A property name as a JSON pointer segment (RFC 6901: `~` is `~0`, `/` is `~1`).
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_objects_become_pointers_and_keep_what_the_schema_says() {
        let schema = json!({
            "type": "object",
            "required": ["login"],
            "properties": {
                "login": {"type": "string"},
                "profile": {"type": "object", "properties": {
                    "name": {"type": "object", "properties": {"first": {"type": ["string", "null"]}}}
                }},
                "status": {"type": "string", "enum": ["active", "suspended"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "a/b": {"type": "integer", "readOnly": true}
            }
        });
        let fields = flatten(&schema);
        let pointers: Vec<&str> = fields.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/login", "/profile/name/first", "/status", "/tags", "/a~1b"]
        );
        assert!(fields[0].required);
        assert_eq!(fields[1].parent.as_deref(), Some("name"));
        assert_eq!(fields[1].kind, "string");
        assert_eq!(fields[2].values, ["active", "suspended"]);
        assert_eq!(fields[3].items.as_deref(), Some("string"));
        assert!(fields[4].read_only);
    }
}
