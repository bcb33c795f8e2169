//! One attribute rule of gateway.toml, compiled: a SCIM target, a downstream source (field,
//! template or constant), a direction and the transforms between them.

use serde_json::Value;

use super::MappingError;
use super::target::ScimTarget;
use super::template::Template;
use super::transform::{Case, DownstreamType, ValueMap, join, split, text_of};
use crate::json_pointer::JsonPointer;
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
    /// For a whole multi-valued attribute sent to a single downstream field: which value.
    pub pick: Option<Pick>,
}

/// Which one value of a list a rule sends, for products that keep one where SCIM has many
/// (Entra's `AppRoleAssignmentsComplex` sends every assigned app role, none of them primary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The primary element's value, else the first.
    First,
    /// The value listed last in `allowed` (the file lists them lowest first).
    Highest,
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
                    .and_then(|p| p.get(record).filter(|v| !v.is_null()).map(text_of))
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

    /// True for a `pick` rule when the list kept in `resource` picks the value `record`
    /// holds: the list the client wrote is shown, not just the one value the downstream has.
    pub fn picks_held(&self, resource: &Value, record: &Value) -> bool {
        let (Some(_), Source::Field(field)) = (self.pick, &self.source) else {
            return false;
        };
        match (self.write(resource), field.get(record)) {
            (Ok(Some(picked)), Some(held)) => text_of(&picked) == text_of(held),
            _ => false,
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
        let present = |v: &&Value| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty());
        let value = match self.target.get(resource).filter(present) {
            Some(v) => {
                let primary_first = self.primary_first(v);
                let v = from_scim_shape(primary_first, self.is_whole_multi());
                let v = self.canonical(v)?;
                match self.pick {
                    Some(pick) => match self.picked(pick, v) {
                        Some(one) => one,
                        None => return self.default_value(),
                    },
                    None => v,
                }
            }
            None => return self.default_value(),
        };
        self.transformed(value)
    }

    fn default_value(&self) -> Result<Option<Value>, MappingError> {
        match &self.default {
            Some(d) => self.transformed(d.clone()),
            None => Ok(None),
        }
    }

    /// The value sent downstream for a SCIM value: joined, cased, mapped and typed.
    fn transformed(&self, value: Value) -> Result<Option<Value>, MappingError> {
        let name = || self.target.display_name();
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

    /// A value (or each element of a list) in the spelling `allowed` gives it: matching is
    /// case-insensitive, but a product that accepts exactly "Premium" must not get "premium".
    /// A value outside `allowed` is refused.
    fn canonical(&self, v: Value) -> Result<Value, MappingError> {
        if self.allowed.is_empty() {
            return Ok(v);
        }
        let spell = |item: Value| {
            let text = text_of(&item);
            match self.allowed.iter().find(|a| a.eq_ignore_ascii_case(&text)) {
                Some(a) if item.is_string() => Ok(Value::String(a.clone())),
                Some(_) => Ok(item),
                None => Err(MappingError::UnmappedValue {
                    attribute: self.target.display_name(),
                    value: text,
                    allowed: self.allowed.clone(),
                }),
            }
        };
        match v {
            Value::Array(items) => items
                .into_iter()
                .map(spell)
                .collect::<Result<_, _>>()
                .map(Value::Array),
            single => spell(single),
        }
    }

    /// A whole list with its primary element moved to the front, for `pick = "first"`.
    fn primary_first(&self, v: &Value) -> Value {
        match (self.pick, v) {
            (Some(Pick::First), Value::Array(items)) => {
                let mut items = items.clone();
                if let Some(i) = items
                    .iter()
                    .position(|e| e.get("primary") == Some(&Value::Bool(true)))
                {
                    let primary = items.remove(i);
                    items.insert(0, primary);
                }
                Value::Array(items)
            }
            _ => v.clone(),
        }
    }

    /// The one value `pick` takes from a list (of values in their allowed spelling).
    fn picked(&self, pick: Pick, v: Value) -> Option<Value> {
        let items = match v {
            Value::Array(items) => items,
            single => vec![single],
        };
        let items = items.into_iter().filter(|i| !i.is_null());
        match pick {
            Pick::First => items.into_iter().next(),
            Pick::Highest => items.max_by_key(|i| {
                let text = text_of(i);
                self.allowed.iter().position(|a| *a == text)
            }),
        }
    }

    /// The downstream value that clears this rule's field: an empty list (or empty joined
    /// string) for a multi-valued attribute, else null.
    pub fn cleared(&self) -> Value {
        if self.pick.is_some() {
            return Value::Null;
        }
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
        return Value::Array(
            items
                .into_iter()
                .map(|item| match (def.attr_type, item) {
                    (AttrType::Complex, Value::Object(o)) => Value::Object(o),
                    (AttrType::Complex, scalar_item) => {
                        serde_json::json!({ "value": text_of(&scalar_item) })
                    }
                    // Each item as a single value: only the type matters below.
                    (_, item) => to_scim_type(item, def, false),
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
