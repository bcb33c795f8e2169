//! Turns client-supplied PATCH values into well-typed values for an attribute definition
//! (RFC 7643 §2.3), absorbing Entra ID's loose shapes: `"True"`/`"False"` strings, one-element
//! arrays around single values, `{"value": x}` wrappers and bare strings for `manager`.

use serde_json::{Map, Value};

use super::PatchError;
use super::index::ElementIndex;
use crate::scim::filter::datetime::parse_datetime;
use crate::scim::schema::{AttrType, AttributeDef, Mutability, find_attribute};

/// Coerces `v` into a value for the whole attribute `def` (written `name` in messages): an
/// array for multi-valued attributes (a single value is wrapped), one value otherwise (a
/// one-element array is unwrapped, as Entra ID sometimes sends `[{"value": ...}]`). `null` and
/// `[]` come back as `null`, meaning "unassign".
pub(super) fn coerce_attr(def: &AttributeDef, v: &Value, name: &str) -> Result<Value, PatchError> {
    if def.multi_valued {
        let items: &[Value] = match v {
            Value::Null => return Ok(Value::Null),
            Value::Array(items) => items,
            single => std::slice::from_ref(single),
        };
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        let mut index = ElementIndex::new(def, items.len());
        for item in items {
            let item = coerce_single(def, item, name)?;
            let repeated = index.same_key(&item).any(|i| out.get(i) == Some(&item));
            if !item.is_null() && !repeated {
                index.insert(out.len(), &item);
                out.push(item);
            }
        }
        return Ok(if out.is_empty() {
            Value::Null
        } else {
            Value::Array(out)
        });
    }
    match v {
        Value::Array(items) if items.is_empty() => Ok(Value::Null),
        Value::Array(items) => match items.as_slice() {
            [one] => coerce_single(def, one, name),
            _ => Err(PatchError::InvalidValue(format!(
                "attribute '{name}' is single-valued; send one value, not an array of {}",
                items.len()
            ))),
        },
        single => coerce_single(def, single, name),
    }
}

/// Coerces one value (an element, for multi-valued attributes) of attribute `def`.
pub(super) fn coerce_single(
    def: &AttributeDef,
    v: &Value,
    name: &str,
) -> Result<Value, PatchError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    if def.attr_type == AttrType::Complex {
        return match v {
            Value::Object(map) => coerce_object(def, map, name).map(Value::Object),
            // Entra ID sends `manager` as a bare id: store it as the `value` sub-attribute.
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                match find_attribute(&def.sub_attributes, "value") {
                    Some(value_def) => {
                        let inner = coerce_scalar(value_def, v, &format!("{name}.value"))?;
                        let mut map = Map::new();
                        map.insert(value_def.name.clone(), inner);
                        Ok(Value::Object(map))
                    }
                    None => Err(expects_object(def, name)),
                }
            }
            _ => Err(expects_object(def, name)),
        };
    }
    // Entra ID wraps simple values as `{"value": x}`; unwrap a lone `value` member.
    if let Value::Object(map) = v
        && map.len() == 1
        && let Some((key, inner)) = map.iter().next()
        && key.eq_ignore_ascii_case("value")
    {
        return coerce_scalar(def, inner, name);
    }
    coerce_scalar(def, v, name)
}

/// Coerces the members of a complex value to its sub-attributes, under their canonical names.
/// Read-only sub-attributes of a writable attribute (e.g. `manager.displayName`) are ignored,
/// as RFC 7644 §3.5.1 has servers ignore read-only values clients send; those of a read-only
/// attribute are kept so that changing it is reported. `null` members mean "unassign".
fn coerce_object(
    def: &AttributeDef,
    map: &Map<String, Value>,
    name: &str,
) -> Result<Map<String, Value>, PatchError> {
    let mut out = Map::new();
    for (key, v) in map {
        let Some(sub) = find_attribute(&def.sub_attributes, key) else {
            let known: Vec<&str> = def.sub_attributes.iter().map(|s| s.name.as_str()).collect();
            return Err(PatchError::InvalidPath(format!(
                "unknown sub-attribute '{name}.{key}'; '{name}' has {}",
                known.join(", ")
            )));
        };
        if sub.mutability == Mutability::ReadOnly && def.mutability != Mutability::ReadOnly {
            continue;
        }
        let value = coerce_attr(sub, v, &format!("{name}.{}", sub.name))?;
        out.insert(sub.name.clone(), value);
    }
    Ok(out)
}

/// Checks (and for booleans, converts) a simple value against its type.
pub(super) fn coerce_scalar(
    def: &AttributeDef,
    v: &Value,
    name: &str,
) -> Result<Value, PatchError> {
    let ok = match (def.attr_type, v) {
        (_, Value::Null) => true,
        (AttrType::Boolean, Value::Bool(_)) => true,
        // Entra ID sends booleans as "True"/"False".
        (AttrType::Boolean, Value::String(s)) => {
            if s.eq_ignore_ascii_case("true") {
                return Ok(Value::Bool(true));
            }
            if s.eq_ignore_ascii_case("false") {
                return Ok(Value::Bool(false));
            }
            false
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(_)) => true,
        (AttrType::DateTime, Value::String(s)) => parse_datetime(s).is_some(),
        (AttrType::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (AttrType::Decimal, Value::Number(_)) => true,
        _ => false,
    };
    if ok {
        return Ok(v.clone());
    }
    let expected = match def.attr_type {
        AttrType::Boolean => "a boolean (true or false)",
        AttrType::String => "a string",
        AttrType::Reference => "a reference (URI string)",
        AttrType::Binary => "a base64 string",
        AttrType::DateTime => "a dateTime string such as \"2024-01-31T12:00:00Z\"",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::Complex => "an object",
    };
    Err(PatchError::InvalidValue(format!(
        "attribute '{name}' expects {expected}, not {}",
        describe(v)
    )))
}

/// The error for a non-object value given to a complex attribute.
fn expects_object(def: &AttributeDef, name: &str) -> PatchError {
    let subs: Vec<&str> = def.sub_attributes.iter().map(|s| s.name.as_str()).collect();
    PatchError::InvalidValue(format!(
        "attribute '{name}' expects an object with sub-attributes ({})",
        subs.join(", ")
    ))
}

/// A short description of a JSON value for messages: its type, never its text or digits,
/// which may be a secret (a password, a national id) and would reach the log.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}
