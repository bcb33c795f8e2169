//! Value transforms of an attribute rule: value maps both ways, case, split/join of
//! multi-valued strings and the JSON type the downstream field wants. Pure functions.

use serde_json::Value;

use super::MappingError;

/// A SCIM value <-> downstream value table, e.g. `active` true/false <-> "active"/"suspended".
#[derive(Debug, Clone, PartialEq)]
pub struct ValueMap {
    /// (SCIM value as text, downstream value), in file order.
    to_downstream: Vec<(String, Value)>,
    /// (downstream value, SCIM value as text): the reverse entries, then `map_read` extras.
    to_scim: Vec<(Value, String)>,
}

impl ValueMap {
    /// Builds the table from `map` and the read-only extras of `map_read`.
    pub fn new(map: Vec<(String, Value)>, map_read: Vec<(String, Value)>) -> Self {
        let mut to_scim: Vec<(Value, String)> =
            map.iter().map(|(k, v)| (v.clone(), k.clone())).collect();
        to_scim.extend(
            map_read
                .into_iter()
                .map(|(k, v)| (Value::String(k), text_of(&v))),
        );
        Self {
            to_downstream: map,
            to_scim,
        }
    }

    /// The downstream value for a SCIM value; an unlisted value is the client's error.
    pub fn to_downstream(&self, attribute: &str, scim: &Value) -> Result<Value, MappingError> {
        let key = text_of(scim);
        self.to_downstream
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| MappingError::UnmappedValue {
                attribute: attribute.to_owned(),
                value: key,
                allowed: self.to_downstream.iter().map(|(k, _)| k.clone()).collect(),
            })
    }

    /// The SCIM value (as text, typed later by the schema) for a downstream value, if listed.
    pub fn to_scim(&self, downstream: &Value) -> Option<String> {
        self.to_scim
            .iter()
            .find(|(v, _)| loosely_equal(v, downstream))
            .map(|(_, k)| k.clone())
    }
}

/// Values compare across JSON types the way config authors expect: "1" matches 1.
fn loosely_equal(a: &Value, b: &Value) -> bool {
    a == b || text_of(a) == text_of(b)
}

/// The text of a scalar: strings unquoted, everything else as JSON.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Letter case applied to values sent downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Lower,
    Upper,
}

impl Case {
    /// Applies the case to every string in `v`.
    pub fn apply(self, v: Value) -> Value {
        map_strings(v, &|s| match self {
            Case::Lower => s.to_lowercase(),
            Case::Upper => s.to_uppercase(),
        })
    }
}

fn map_strings(v: Value, f: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| map_strings(x, f)).collect()),
        other => other,
    }
}

/// Joins an array of strings into one downstream string.
pub fn join(v: Value, separator: &str) -> Value {
    match v {
        Value::Array(items) => Value::String(
            items
                .iter()
                .map(text_of)
                .collect::<Vec<_>>()
                .join(separator),
        ),
        other => other,
    }
}

/// Splits a downstream string into SCIM values, dropping empty pieces and surrounding blanks.
pub fn split(v: Value, separator: &str) -> Value {
    match v {
        Value::String(s) => Value::Array(
            s.split(separator)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_owned()))
                .collect(),
        ),
        other => other,
    }
}

/// The JSON type a downstream field wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownstreamType {
    String,
    Integer,
    Number,
    Boolean,
}

impl DownstreamType {
    /// Converts a SCIM value to this type; a value that cannot be converted is the client's error.
    pub fn coerce(self, attribute: &str, v: Value) -> Result<Value, MappingError> {
        let bad = |v: &Value| MappingError::WrongType {
            attribute: attribute.to_owned(),
            expected: self.name(),
            value: text_of(v),
        };
        Ok(match (self, v) {
            (_, Value::Null) => Value::Null,
            (Self::String, v) => Value::String(text_of(&v)),
            (Self::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n),
            (Self::Integer, Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| bad(&Value::String(s.clone())))?,
            (Self::Number, Value::Number(n)) => Value::Number(n),
            (Self::Number, Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| bad(&Value::String(s.clone())))?,
            (Self::Boolean, Value::Bool(b)) => Value::Bool(b),
            (Self::Boolean, Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(bad(&Value::String(s))),
            },
            (_, v) => return Err(bad(&v)),
        })
    }

    /// The name used in gateway.toml and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn value_map_goes_both_ways_and_names_allowed_values() {
        let m = ValueMap::new(
            vec![
                ("true".into(), json!("active")),
                ("false".into(), json!("suspended")),
            ],
            vec![("invited".into(), json!(true))],
        );
        assert_eq!(
            m.to_downstream("active", &json!(false)).unwrap(),
            json!("suspended")
        );
        assert_eq!(m.to_scim(&json!("active")), Some("true".into()));
        assert_eq!(m.to_scim(&json!("invited")), Some("true".into()));
        assert_eq!(m.to_scim(&json!("banned")), None);
        let err = m.to_downstream("active", &json!("maybe")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "active: value \"maybe\" is not one of true, false"
        );
    }

    #[test]
    fn split_and_join_are_inverse_for_clean_lists() {
        let list = json!(["a", "b", "c"]);
        assert_eq!(join(list.clone(), ";"), json!("a;b;c"));
        assert_eq!(split(json!("a; b;;c"), ";"), list);
        assert_eq!(split(json!(""), ";"), json!([]));
    }

    #[test]
    fn case_applies_to_strings_and_lists() {
        assert_eq!(Case::Lower.apply(json!("Ann@X.COM")), json!("ann@x.com"));
        assert_eq!(Case::Upper.apply(json!(["a", 1])), json!(["A", 1]));
    }

    #[test]
    fn downstream_types_convert_or_explain() {
        assert_eq!(
            DownstreamType::Integer.coerce("m", json!("42")).unwrap(),
            json!(42)
        );
        assert_eq!(
            DownstreamType::String.coerce("m", json!(42)).unwrap(),
            json!("42")
        );
        assert_eq!(
            DownstreamType::Boolean.coerce("a", json!("False")).unwrap(),
            json!(false)
        );
        let err = DownstreamType::Integer
            .coerce("manager", json!("x1"))
            .unwrap_err();
        assert_eq!(err.to_string(), "manager: expected integer, got \"x1\"");
    }
}
