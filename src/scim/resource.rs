//! Incoming SCIM resources made canonical: attribute names in the schema's case (RFC 7643 §2.1
//! makes them case-insensitive), values checked against their types, read-only attributes
//! dropped (RFC 7644 §3.3), and Entra's `"True"`/`"False"` strings read as booleans.

use serde_json::{Map, Value};
use thiserror::Error;

use super::filter::datetime::parse_datetime;
use super::schema::{
    AttrType, AttributeDef, MAX_VALUES, Mutability, ResourceSchema, find_attribute, value_bound,
};

/// Why a resource body cannot be accepted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ResourceError {
    #[error("the request body must be a JSON object")]
    NotAnObject,
    #[error("unknown attribute {0:?}: it is in none of this resource type's schemas")]
    UnknownAttribute(String),
    #[error("{attribute}: expected {expected}")]
    WrongType {
        attribute: String,
        expected: &'static str,
    },
    /// A multi-valued attribute with more values than [`MAX_VALUES`].
    #[error("{attribute}: {count} values, more than the {max} one attribute may hold")]
    TooManyValues {
        attribute: String,
        count: usize,
        max: usize,
    },
}

/// Canonicalizes a client's resource: known attributes only, canonical names, typed values.
pub fn canonicalize(input: &Value, schema: &ResourceSchema) -> Result<Value, ResourceError> {
    let Value::Object(fields) = input else {
        return Err(ResourceError::NotAnObject);
    };
    let mut out = Map::new();
    for (key, value) in fields {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(value)?;
        } else if key.eq_ignore_ascii_case("id") || key.eq_ignore_ascii_case("meta") {
            // Read-only common attributes: ignored on input (RFC 7644 §3.3).
        } else if key.eq_ignore_ascii_case("externalId") {
            match value {
                Value::String(_) | Value::Null => {
                    out.insert("externalId".into(), value.clone());
                }
                _ => return Err(wrong("externalId", "a string")),
            }
        } else if key.to_ascii_lowercase().starts_with("urn:") && schema.extension(key).is_none() {
            return Err(ResourceError::UnknownAttribute(key.clone()));
        } else if let Some(ext) = schema.extension(key) {
            let Value::Object(attrs) = value else {
                return Err(wrong(key, "an object of extension attributes"));
            };
            // An open extension takes any key: bound them like the values of a list.
            if ext.open && attrs.len() > MAX_VALUES {
                return Err(ResourceError::TooManyValues {
                    attribute: ext.id.clone(),
                    count: attrs.len(),
                    max: MAX_VALUES,
                });
            }
            let mut ext_out = Map::new();
            for (name, v) in attrs {
                let def = find_attribute(&ext.attributes, name)
                    .ok_or_else(|| ResourceError::UnknownAttribute(format!("{}:{name}", ext.id)))?;
                insert(&mut ext_out, def, v, &format!("{}:{}", ext.id, def.name))?;
            }
            out.insert(ext.id.clone(), Value::Object(ext_out));
        } else {
            let def = schema
                .attribute(None, key)
                .ok_or_else(|| ResourceError::UnknownAttribute(key.clone()))?;
            insert(&mut out, def, value, &def.name)?;
        }
    }
    Ok(Value::Object(out))
}

fn check_schemas(value: &Value) -> Result<(), ResourceError> {
    let Value::Array(urns) = value else {
        return Err(wrong("schemas", "an array of schema URNs"));
    };
    // URNs the resource type does not know are tolerated: Entra ID sends
    // "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group" with every
    // group. What matters is the attributes, and those are all checked.
    if urns.iter().any(|u| !u.is_string()) {
        return Err(wrong("schemas", "an array of schema URNs"));
    }
    Ok(())
}

fn wrong(attribute: &str, expected: &'static str) -> ResourceError {
    ResourceError::WrongType {
        attribute: attribute.to_owned(),
        expected,
    }
}

/// Inserts a typed value under its canonical name; nulls and read-only values are dropped.
fn insert(
    out: &mut Map<String, Value>,
    def: &AttributeDef,
    value: &Value,
    name: &str,
) -> Result<(), ResourceError> {
    if value.is_null() || def.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    out.insert(def.name.clone(), typed(def, value, name)?);
    Ok(())
}

/// A value checked and coerced to an attribute's definition.
pub fn typed(def: &AttributeDef, value: &Value, name: &str) -> Result<Value, ResourceError> {
    if def.multi_valued {
        let items = match value {
            Value::Array(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        if let Some(max) = value_bound(def, MAX_VALUES)
            && items.len() > max
        {
            return Err(ResourceError::TooManyValues {
                attribute: name.to_owned(),
                count: items.len(),
                max,
            });
        }
        let single = AttributeDef {
            multi_valued: false,
            ..def.clone()
        };
        return items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| typed(&single, v, name))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    Ok(match (def.attr_type, value) {
        (AttrType::Complex, Value::Object(fields)) => {
            let mut out = Map::new();
            for (k, v) in fields {
                let sub = find_attribute(&def.sub_attributes, k)
                    .ok_or_else(|| ResourceError::UnknownAttribute(format!("{name}.{k}")))?;
                insert(&mut out, sub, v, &format!("{name}.{}", sub.name))?;
            }
            Value::Object(out)
        }
        (AttrType::Complex, _) => return Err(wrong(name, "an object")),
        (AttrType::Boolean, Value::Bool(b)) => Value::Bool(*b),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Value::Bool(true)
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (AttrType::Boolean, _) => return Err(wrong(name, "a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => value.clone(),
        (AttrType::Integer, _) => return Err(wrong(name, "an integer")),
        (AttrType::Decimal, Value::Number(_)) => value.clone(),
        (AttrType::Decimal, _) => return Err(wrong(name, "a number")),
        (AttrType::DateTime, Value::String(s)) => {
            parse_datetime(s)
                .ok_or_else(|| wrong(name, "an RFC 3339 date-time such as 2024-05-01T12:00:00Z"))?;
            value.clone()
        }
        (AttrType::DateTime, _) => return Err(wrong(name, "an RFC 3339 date-time string")),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(_)) => {
            value.clone()
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => {
            return Err(wrong(name, "a string"));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::catalog::user_schema;
    use serde_json::json;

    #[test]
    fn names_become_canonical_and_types_are_coerced() {
        let input = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "USERNAME": "ann@example.com",
            "Active": "False",
            "id": "ignored",
            "name": {"GivenName": "Ann"},
            "emails": {"value": "ann@example.com", "type": "work"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "Sales"},
            "groups": [{"value": "read-only, dropped"}]
        });
        let out = canonicalize(&input, &user_schema()).unwrap();
        assert_eq!(
            out,
            json!({
                "userName": "ann@example.com",
                "active": false,
                "name": {"givenName": "Ann"},
                "emails": [{"value": "ann@example.com", "type": "work"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
            })
        );
    }

    #[test]
    fn group_members_are_not_bounded_like_other_lists() {
        let members: Vec<Value> = (0..5_000)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        let group = json!({"displayName": "Everyone", "members": members});
        let out = canonicalize(&group, &crate::scim::catalog::group_schema()).unwrap();
        assert_eq!(out["members"].as_array().map(Vec::len), Some(5_000));
        let emails = vec![json!({"value": "a@example.com"}); 1_000];
        assert!(canonicalize(&json!({"emails": emails}), &user_schema()).is_ok());
    }

    #[test]
    fn bad_input_is_named() {
        let schema = user_schema();
        let cases = [
            (json!([]), "the request body must be a JSON object"),
            (
                json!({"fooBar": 1}),
                "unknown attribute \"fooBar\": it is in none of this resource type's schemas",
            ),
            (
                json!({"name": {"nick": "x"}}),
                "unknown attribute \"name.nick\": it is in none of this resource type's schemas",
            ),
            (json!({"active": "yes"}), "active: expected a boolean"),
            (json!({"userName": 42}), "userName: expected a string"),
            (
                json!({"emails": vec![json!({"value": "a@example.com"}); 1_001]}),
                "emails: 1001 values, more than the 1000 one attribute may hold",
            ),
            (
                json!({"schemas": ["urn:x", 1]}),
                "schemas: expected an array of schema URNs",
            ),
            (
                json!({"urn:x": {"a": 1}}),
                "unknown attribute \"urn:x\": it is in none of this resource type's schemas",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                canonicalize(&input, &schema).unwrap_err().to_string(),
                message
            );
        }
    }
}
