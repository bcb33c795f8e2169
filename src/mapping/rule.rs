//! One attribute rule of gateway.toml, compiled: a SCIM target, a downstream source (field,
//! template or constant), a direction and the transforms between them.

use serde_json::Value;

use super::MappingError;
use super::pointer::JsonPointer;
use super::target::ScimTarget;
use super::template::Template;
use super::transform::{Case, DownstreamType, ValueMap, join, split, text_of};
use crate::scim::schema::{AttrType, AttributeDef, Mutability};

/// Where a rule's downstream value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A downstream field, read and written.
    Field(JsonPointer),
    /// A read-only SCIM value built from downstream fields.
    Template(Template),
    /// A fixed, read-only SCIM value.
    Constant(Value),
    /// Kept in the gateway's store: the downstream has no field for it.
    Stored,
}

/// Which way values flow through a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ReadWrite,
    /// Shown in SCIM, never sent downstream.
    ReadOnly,
    /// Sent downstream, never shown (e.g. a password).
    WriteOnly,
}

/// A compiled attribute rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeRule {
    pub target: ScimTarget,
    pub source: Source,
    pub direction: Direction,
    pub value_map: Option<ValueMap>,
    pub default: Option<Value>,
    pub case: Option<Case>,
    pub separator: Option<String>,
    pub downstream_type: Option<DownstreamType>,
    pub required: bool,
    /// The only SCIM values accepted (case-insensitive); empty: any.
    pub allowed: Vec<String>,
    /// A secret: masked in dry runs, never quoted in errors.
    pub sensitive: bool,
    /// The SCIM attribute whose value stands in when this one has none.
    pub default_from: Option<ScimTarget>,
}

impl AttributeRule {
    /// The downstream field this rule writes, if it writes one.
    pub fn written_field(&self) -> Option<&JsonPointer> {
        match (&self.source, self.direction) {
            (Source::Field(p), Direction::ReadWrite | Direction::WriteOnly)
                if self.target.leaf.mutability != Mutability::ReadOnly =>
            {
                Some(p)
            }
            _ => None,
        }
    }

    /// True when the value lives in the gateway's store rather than downstream.
    pub fn is_stored(&self) -> bool {
        self.source == Source::Stored
    }

    /// True when clients may set this value (it is written downstream or stored).
    pub fn accepts_input(&self) -> bool {
        self.written_field().is_some() || self.is_stored()
    }

    /// True when the rule contributes to the SCIM representation.
    pub fn is_readable(&self) -> bool {
        self.direction != Direction::WriteOnly
    }

    /// The SCIM value this rule shows for a downstream record.
    pub fn read(&self, record: &Value) -> Option<Value> {
        if !self.is_readable() {
            return None;
        }
        let raw = match &self.source {
            Source::Constant(v) => return Some(v.clone()),
            Source::Template(t) => Value::String(t.render(&|f| {
                f.parse::<JsonPointer>()
                    .ok()
                    .and_then(|p| p.get(record).cloned())
                    .filter(|v| !v.is_null())
                    .map(|v| text_of(&v))
            })?),
            Source::Field(p) => p.get(record).filter(|v| !v.is_null())?.clone(),
            Source::Stored => return None,
        };
        let mapped = match &self.value_map {
            Some(m) => Value::String(m.to_scim(&raw)?),
            None => raw,
        };
        let listed = match &self.separator {
            Some(sep) => split(mapped, sep),
            None => mapped,
        };
        match to_scim_type(listed, &self.target.leaf, self.is_whole_multi()) {
            Value::Array(items) if items.is_empty() => None,
            Value::Object(fields) if fields.is_empty() => None,
            value => Some(value),
        }
    }

    /// The downstream value for a SCIM resource: `Ok(None)` when the resource has no value and
    /// the rule no default.
    pub fn write(&self, resource: &Value) -> Result<Option<Value>, MappingError> {
        self.write_value(resource)
            .map_err(|e| match self.sensitive {
                true => e.without_value(),
                false => e,
            })
    }

    fn write_value(&self, resource: &Value) -> Result<Option<Value>, MappingError> {
        let name = || self.target.display_name();
        let present = |v: &&Value| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty());
        let value = match self.target.get(resource).filter(present) {
            Some(v) => {
                let v = from_scim_shape(v.clone(), self.is_whole_multi());
                self.check_allowed(&v)?;
                v
            }
            None => match &self.default {
                Some(d) => d.clone(),
                None => return Ok(None),
            },
        };
        let joined = match &self.separator {
            Some(sep) => join(value, sep),
            None => value,
        };
        let cased = match self.case {
            Some(c) => c.apply(joined),
            None => joined,
        };
        let mapped = match &self.value_map {
            Some(m) => m.to_downstream(&name(), &cased)?,
            None => cased,
        };
        match self.downstream_type {
            Some(t) => t.coerce(&name(), mapped).map(Some),
            None => Ok(Some(mapped)),
        }
    }

    /// Refuses a value (or any element of a list) outside `allowed`.
    fn check_allowed(&self, v: &Value) -> Result<(), MappingError> {
        if self.allowed.is_empty() {
            return Ok(());
        }
        let items = match v {
            Value::Array(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        match items
            .iter()
            .map(text_of)
            .find(|t| !self.allowed.iter().any(|a| a.eq_ignore_ascii_case(t)))
        {
            Some(bad) => Err(MappingError::UnmappedValue {
                attribute: self.target.display_name(),
                value: bad,
                allowed: self.allowed.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The downstream value that clears this rule's field: an empty list (or empty joined
    /// string) for a multi-valued attribute, else null.
    pub fn cleared(&self) -> Value {
        match (&self.separator, self.is_whole_multi()) {
            (Some(_), _) => Value::String(String::new()),
            (None, true) => Value::Array(Vec::new()),
            (None, false) => Value::Null,
        }
    }

    /// True when the rule stands for a whole multi-valued attribute (e.g. `roles`).
    fn is_whole_multi(&self) -> bool {
        self.target.attr_def.multi_valued
            && self.target.sub.is_none()
            && self.target.selector.is_empty()
    }
}

/// Gives a downstream value the SCIM type of `def`: "true" becomes true for a boolean, 42
/// becomes "42" for a string, and a list of strings becomes `[{"value": ..}]` for a
/// multi-valued complex attribute such as `roles`.
fn to_scim_type(v: Value, def: &AttributeDef, whole_multi: bool) -> Value {
    if whole_multi {
        let items = match v {
            Value::Array(items) => items,
            single => vec![single],
        };
        let scalar = AttributeDef {
            multi_valued: false,
            ..def.clone()
        };
        return Value::Array(
            items
                .into_iter()
                .map(|item| match (def.attr_type, item) {
                    (AttrType::Complex, Value::Object(o)) => Value::Object(o),
                    (AttrType::Complex, scalar_item) => {
                        serde_json::json!({ "value": text_of(&scalar_item) })
                    }
                    (_, item) => to_scim_type(item, &scalar, false),
                })
                .collect(),
        );
    }
    match (def.attr_type, v) {
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Value::Bool(true)
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (
            AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary,
            v @ (Value::Number(_) | Value::Bool(_)),
        ) => Value::String(text_of(&v)),
        (AttrType::Integer, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map_or(Value::String(s), Value::from),
        (AttrType::Decimal, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::String(s), Value::Number),
        (_, v) => v,
    }
}

/// The inverse of the complex-list shape of [`to_scim_type`]: `[{"value": "a"}]` -> `["a"]`.
fn from_scim_shape(v: Value, whole_multi: bool) -> Value {
    match v {
        Value::Array(items) if whole_multi => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(mut o) if o.contains_key("value") => {
                        o.remove("value").unwrap_or(Value::Null)
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}
