//! The declarative mapping between a SCIM resource and a downstream record, compiled from the
//! `[users]` rules of gateway.toml. Pure functions: no I/O, so every rule is testable alone.

mod compile;
pub mod free_keys;
pub mod group_rules;
mod patch_values;
pub mod rule;
pub mod serialized;
pub mod target;
pub mod template;
pub mod transform;
pub mod unmapped;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::json_pointer::JsonPointer;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::schema::{AttributeDef, Mutability, ResourceSchema, Returned};
pub use compile::compile_unmapped;
use rule::{AttributeRule, Direction};
use target::ScimTarget;
use template::Template;
pub use unmapped::{Dropped, Split, Unmapped};

/// Why a SCIM resource cannot be turned into a downstream record: always the client's input.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MappingError {
    #[error("{attribute}: value {value:?} is not one of {}", allowed.join(", "))]
    UnmappedValue {
        attribute: String,
        value: String,
        allowed: Vec<String>,
    },
    #[error("{attribute}: expected {expected}, got {value:?}")]
    WrongType {
        attribute: String,
        expected: &'static str,
        value: String,
    },
    #[error("required attribute {0} is missing")]
    Required(String),
}

/// What a masked value shows: in errors about sensitive attributes and in dry runs.
pub const MASK: &str = "***";

impl MappingError {
    /// The same error with the offending value replaced by [`MASK`], for a sensitive
    /// attribute.
    pub fn without_value(self) -> Self {
        match self {
            Self::UnmappedValue {
                attribute, allowed, ..
            } => Self::UnmappedValue {
                attribute,
                value: MASK.into(),
                allowed,
            },
            Self::WrongType {
                attribute,
                expected,
                ..
            } => Self::WrongType {
                attribute,
                expected,
                value: MASK.into(),
            },
            other => other,
        }
    }
}

/// A downstream field the gateway sets on every write: a constant or a template of SCIM paths.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Constant(Value),
    Template(Template, Vec<(String, ScimTarget)>),
}

/// A downstream search parameter that a SCIM filter term can be pushed down to.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParam {
    pub target: ScimTarget,
    pub op: CompareOp,
    pub param: String,
}

/// The compiled mapping of one resource type.
#[derive(Debug, Clone)]
pub struct ResourceMapping {
    pub rules: Vec<AttributeRule>,
    pub fields: Vec<(JsonPointer, FieldValue)>,
    pub search: Vec<SearchParam>,
    /// The catalog schema the rules were resolved against.
    pub catalog: ResourceSchema,
    /// What becomes of the attributes of `catalog` that no rule maps.
    pub unmapped: Unmapped,
}

impl ResourceMapping {
    /// The SCIM attributes of a downstream record (without `id`, `meta` and `schemas`).
    /// What the store keeps is not in it: see [`read`](Self::read).
    pub fn to_scim(&self, record: &Value) -> Value {
        self.read(record, &Value::Null)
    }

    /// Fills each attribute that has no value but a `default_from` with the value of that
    /// other attribute, so one value serves both where the client (or downstream) has one.
    pub fn fill_defaults(&self, resource: &mut Value) {
        self.fill(resource, false);
    }

    /// [`fill_defaults`](Self::fill_defaults) for a resource shown to a client: an element of a
    /// list the resource has is not made up (a client that wrote its emails without a work
    /// one reads them back so, though the downstream got userName as the work email).
    pub fn fill_shown_defaults(&self, resource: &mut Value) {
        self.fill(resource, true);
    }

    fn fill(&self, resource: &mut Value, shown: bool) {
        for rule in &self.rules {
            if Self::fills(rule, resource)
                && !(shown && self.lists_without(rule, resource))
                && let Some(from) = &rule.default_from
                && let Some(v) = from.get(resource).filter(|v| !v.is_null()).cloned()
            {
                rule.target.set(resource, v);
            }
        }
    }

    /// True when `rule` picks an element of a multi-valued attribute that `resource` lists
    /// without it.
    fn lists_without(&self, rule: &AttributeRule, resource: &Value) -> bool {
        if rule.target.selector.is_empty() || !rule.target.attr_def.multi_valued {
            return false;
        }
        let container = match &rule.target.urn {
            Some(urn) => resource.get(urn),
            None => Some(resource),
        };
        container
            .and_then(|c| c.get(&rule.target.attr))
            .and_then(Value::as_array)
            .is_some_and(|list| !list.is_empty() && rule.target.picked_index(list).is_none())
    }

    /// The resource with its defaults filled (see [`fill_defaults`](Self::fill_defaults)),
    /// copied only when a default applies: a resource can be large (a 1 MB PATCH) and every
    /// write maps it more than once.
    fn filled<'r>(&self, resource: &'r Value) -> Cow<'r, Value> {
        // The first default filled is one that applies to the resource as it is, so when
        // none does, filling changes nothing.
        if self.rules.iter().any(|rule| Self::fills(rule, resource)) {
            let mut filled = resource.clone();
            self.fill_defaults(&mut filled);
            Cow::Owned(filled)
        } else {
            Cow::Borrowed(resource)
        }
    }

    /// Whether `rule` takes a default from another attribute in `resource` as it is.
    fn fills(rule: &AttributeRule, resource: &Value) -> bool {
        rule.default_from.as_ref().is_some_and(|from| {
            rule.target.get(resource).is_none_or(Value::is_null)
                && from.get(resource).is_some_and(|v| !v.is_null())
        })
    }

    /// The part of a resource the gateway keeps itself: the values of `store = true` rules,
    /// as a partial SCIM resource.
    pub fn stored_part(&self, resource: &Value) -> Value {
        let mut out = Value::Object(Map::new());
        for rule in self.rules.iter().filter(|r| r.is_stored()) {
            if let Some(v) = rule.target.get(resource).filter(|v| !v.is_null()) {
                rule.target.set(&mut out, v.clone());
            }
        }
        out
    }

    /// The downstream fields of sensitive attributes, which a dry run masks.
    pub fn sensitive_fields(&self) -> impl Iterator<Item = &JsonPointer> {
        self.rules
            .iter()
            .filter(|rule| rule.sensitive)
            .filter_map(AttributeRule::written_field)
    }

    /// The rule for a top-level core attribute (e.g. `userName`, `externalId`), if mapped.
    pub fn rule_for(&self, attr: &str) -> Option<&AttributeRule> {
        self.rules.iter().find(|r| {
            r.target.urn.is_none()
                && r.target.attr == attr
                && r.target.sub.is_none()
                && r.target.selector.is_empty()
        })
    }

    /// The schema URNs a resource uses: the core one, then each extension it has values for.
    pub fn schemas_of(&self, resource: &Value) -> Vec<Value> {
        std::iter::once(&self.catalog.core)
            .chain(
                self.catalog
                    .extensions
                    .iter()
                    .filter(|e| resource.get(&e.id).is_some()),
            )
            .map(|s| Value::String(s.id.clone()))
            .collect()
    }

    /// The downstream body that creates this resource.
    pub fn to_downstream_create(&self, resource: &Value) -> Result<Value, MappingError> {
        let filled = self.filled(resource);
        let resource = filled.as_ref();
        self.check_required(resource)?;
        let mut body = Value::Object(Map::new());
        for rule in &self.rules {
            if let (Some(field), Some(v)) = (rule.written_field(), rule.write(resource)?) {
                field.set(&mut body, v);
            }
        }
        self.set_fields(&mut body, resource);
        Ok(body)
    }

    /// The downstream record after replacing the resource: `current` with every written field
    /// set from `resource` (cleared where the resource has no value), so that fields the
    /// mapping does not know survive a full-object PUT.
    pub fn to_downstream_replace(
        &self,
        resource: &Value,
        current: &Value,
    ) -> Result<Value, MappingError> {
        let filled = self.filled(resource);
        let resource = filled.as_ref();
        self.check_required(resource)?;
        let mut body = current.clone();
        let mut values: Vec<(&JsonPointer, Value)> = Vec::new();
        for rule in &self.rules {
            let Some(field) = rule.written_field() else {
                continue;
            };
            let value = rule.write(resource)?;
            match values.iter_mut().find(|(f, _)| *f == field) {
                Some((_, slot)) => {
                    if let Some(v) = value {
                        *slot = v;
                    }
                }
                None => values.push((field, value.unwrap_or_else(|| rule.cleared()))),
            }
        }
        for (field, v) in values {
            field.set(&mut body, v);
        }
        self.set_fields(&mut body, resource);
        Ok(body)
    }

    /// The downstream fields that differ between two versions of a resource, for APIs updated
    /// by PATCH: a rule counts as changed when its downstream value changed, and a cleared
    /// value is sent as null.
    pub fn changed_fields(&self, old: &Value, new: &Value) -> Result<Value, MappingError> {
        let (old, new) = (self.filled(old), self.filled(new));
        let (old, new) = (old.as_ref(), new.as_ref());
        self.check_required(new)?;
        let mut body = Value::Object(Map::new());
        for rule in &self.rules {
            let Some(field) = rule.written_field() else {
                continue;
            };
            let after = rule.write(new)?;
            if rule.write(old).ok().flatten() != after {
                field.set(&mut body, after.unwrap_or_else(|| rule.cleared()));
            }
        }
        for (field, value) in &self.fields {
            if let FieldValue::Template(..) = value {
                let after = render_field(value, new);
                if render_field(value, old) != after {
                    field.set(&mut body, after);
                }
            }
        }
        Ok(body)
    }

    fn set_fields(&self, body: &mut Value, resource: &Value) {
        for (field, value) in &self.fields {
            field.set(body, render_field(value, resource));
        }
    }

    fn check_required(&self, resource: &Value) -> Result<(), MappingError> {
        for rule in &self.rules {
            let required = rule.required || rule.target.leaf.required && rule.target.sub.is_none();
            if required
                && rule.accepts_input()
                && rule.default.is_none()
                && rule.target.get(resource).is_none_or(is_empty)
            {
                return Err(MappingError::Required(rule.target.display_name()));
            }
        }
        Ok(())
    }

    /// The downstream query parameter and value for a filter that is, or has at its top an
    /// `and` with, a term the API can search on. The gateway still applies the whole filter
    /// to what comes back, so a looser downstream search is harmless.
    pub fn push_down(&self, filter: &Filter) -> Option<(String, String)> {
        match filter {
            Filter::And(a, b) => self.push_down(a).or_else(|| self.push_down(b)),
            Filter::Compare(path, op, CompValue::Str(value)) => {
                let key = path_key(path);
                let param = self
                    .search
                    .iter()
                    .find(|s| s.op == *op && s.target.display_name().eq_ignore_ascii_case(&key))
                    .filter(|s| self.held_downstream(&s.target))?;
                let mut probe = Value::Object(Map::new());
                param.target.set(&mut probe, Value::String(value.clone()));
                let rule = self
                    .rules
                    .iter()
                    .find(|r| r.target == param.target && r.written_field().is_some());
                let sent = match rule {
                    Some(r) => r.write(&probe).ok().flatten()?,
                    None => Value::String(value.clone()),
                };
                Some((param.param.clone(), transform::text_of(&sent)))
            }
            Filter::ValuePath(outer, inner) => match inner.as_ref() {
                Filter::And(a, b) => self
                    .push_down(&Filter::ValuePath(outer.clone(), a.clone()))
                    .or_else(|| self.push_down(&Filter::ValuePath(outer.clone(), b.clone()))),
                Filter::Compare(sub, op, value) => {
                    let flat = crate::scim::path::AttrPath {
                        urn: outer.urn.clone(),
                        name: outer.name.clone(),
                        sub: Some(sub.name.clone()),
                    };
                    self.push_down(&Filter::Compare(flat, *op, value.clone()))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// True when every value a filter on `target` can match is one the downstream holds, so
    /// that a search there finds all of them. With `unmapped = "store"` the store holds the
    /// values no rule carries (other elements of a multi-valued attribute, attributes without
    /// a rule, a client's value of a read-only rule), which a pushed-down search would miss.
    /// A `store = true` rule is the config author's own choice (e.g. userName searched as the
    /// email it defaults from) and stays searchable.
    fn held_downstream(&self, target: &ScimTarget) -> bool {
        if self.unmapped != Unmapped::Store {
            return true;
        }
        let same_attr =
            |r: &&AttributeRule| r.target.urn == target.urn && r.target.attr == target.attr;
        let carried = self.rules.iter().filter(same_attr).any(|r| {
            let whole = r.target.sub.is_none() && r.target.selector.is_empty();
            let covers = match target.attr_def.multi_valued {
                true => whole,
                false => r.target.sub.is_none() || r.target.sub == target.sub,
            };
            r.is_stored() || (covers && r.written_field().is_some() && r.is_readable())
        });
        carried
            && !self
                .rules
                .iter()
                .any(|r| r.target == *target && !r.accepts_input())
    }

    /// What `/Schemas` advertises, with the mutability the rules give. With `unmapped =
    /// "store"` that is the whole catalog (what no rule maps is kept by the gateway), except
    /// what it cannot give back (read-only attributes it does not compute, never-returned
    /// ones such as a password); otherwise the catalog cut down to what the rules map, so that
    /// clients only send what reaches the downstream. Attributes in `managed` are set by the
    /// gateway itself (group rules) and shown read-only.
    pub fn advertised_schema(&self, managed: &[&ScimTarget]) -> ResourceSchema {
        let mut schema = ResourceSchema {
            core: self.catalog.core.clone(),
            extensions: self.catalog.extensions.clone(),
        };
        for s in std::iter::once(&mut schema.core).chain(schema.extensions.iter_mut()) {
            let urn = (s.id != self.catalog.core.id).then(|| s.id.clone());
            s.attributes = s
                .attributes
                .iter()
                .filter_map(|a| {
                    self.advertise(urn.as_deref(), a, managed).or_else(|| {
                        let kept = self.unmapped == Unmapped::Store
                            && a.mutability != Mutability::ReadOnly
                            && a.returned != Returned::Never;
                        kept.then(|| a.clone())
                    })
                })
                .collect();
        }
        schema
            .extensions
            .retain(|e| e.open || !e.attributes.is_empty());
        schema
    }

    fn advertise(
        &self,
        urn: Option<&str>,
        attr: &AttributeDef,
        managed: &[&ScimTarget],
    ) -> Option<AttributeDef> {
        let rules: Vec<&AttributeRule> = self
            .rules
            .iter()
            .filter(|r| r.target.urn.as_deref() == urn && r.target.attr == attr.name)
            .collect();
        if rules.is_empty() {
            return None;
        }
        let mut def = attr.clone();
        // Kept by the store: every sub-attribute, every element and a client's value of a
        // read-only rule come back as written.
        let whole = self.unmapped == Unmapped::Store;
        if !whole {
            narrow_to_rules(&mut def, &rules);
        }
        let restrict = |def: &mut AttributeDef, dir: Direction| match dir {
            Direction::ReadOnly if !whole => def.mutability = Mutability::ReadOnly,
            Direction::ReadOnly => {}
            Direction::WriteOnly => {
                def.mutability = Mutability::WriteOnly;
                def.returned = Returned::Never;
            }
            Direction::ReadWrite => {}
        };
        if rules.iter().all(|r| r.direction == rules[0].direction) {
            restrict(&mut def, rules[0].direction);
        }
        if managed
            .iter()
            .any(|m| m.urn.as_deref() == urn && m.attr == def.name)
        {
            def.mutability = Mutability::ReadOnly;
        }
        // An attribute that always has a value (a default, or another attribute standing in)
        // is advertised as required: clients cannot make it go away.
        if rules
            .iter()
            .any(|r| r.required || r.default.is_some() || r.default_from.is_some())
        {
            def.required = true;
        }
        for r in &rules {
            let leaf = match &r.target.sub {
                Some(sub) => match def.sub_attributes.iter_mut().find(|s| &s.name == sub) {
                    Some(s) => s,
                    None => continue,
                },
                None => &mut def,
            };
            if r.target.sub.is_some() {
                restrict(leaf, r.direction);
            }
            if !r.allowed.is_empty() {
                leaf.canonical_values = r.allowed.clone();
            }
        }
        Some(def)
    }

    /// The definition of an attribute the mapping knows, for filters and sorting.
    pub fn attribute(&self, urn: Option<&str>, name: &str) -> Option<&AttributeDef> {
        self.catalog.attribute(urn, name)
    }
}

fn render_field(value: &FieldValue, resource: &Value) -> Value {
    match value {
        FieldValue::Constant(v) => v.clone(),
        FieldValue::Template(t, targets) => t
            .render(&|name| {
                targets
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, target)| target.get(resource))
                    .filter(|v| !v.is_null())
                    .map(transform::text_of)
            })
            .map_or(Value::Null, Value::String),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn path_key(path: &crate::scim::path::AttrPath) -> String {
    let mut key = match &path.urn {
        Some(urn) => format!("{urn}:{}", path.name),
        None => path.name.clone(),
    };
    if let Some(sub) = &path.sub {
        key.push('.');
        key.push_str(sub);
    }
    key
}

/// Where the store does not keep what no rule maps: only the sub-attributes the rules use,
/// and, when every rule selects elements, only the selected values (e.g. phoneNumbers.type =
/// work), so that clients don't send others to be dropped.
fn narrow_to_rules(def: &mut AttributeDef, rules: &[&AttributeRule]) {
    let mut used: Vec<&str> = Vec::new();
    for r in rules {
        used.extend(r.target.sub.as_deref());
        used.extend(r.target.selector.iter().map(|(k, _)| k.as_str()));
    }
    if !def.sub_attributes.is_empty()
        && rules
            .iter()
            .any(|r| r.target.sub.is_some() || !r.target.selector.is_empty())
    {
        def.sub_attributes
            .retain(|s| used.iter().any(|u| *u == s.name));
    }
    // Only the selected elements reach the downstream.
    if rules.iter().all(|r| !r.target.selector.is_empty()) {
        for sub in &mut def.sub_attributes {
            let mut values: Vec<String> = Vec::new();
            for r in rules {
                for (k, v) in &r.target.selector {
                    let text = transform::text_of(v);
                    if *k == sub.name && !values.contains(&text) {
                        values.push(text);
                    }
                }
            }
            if !values.is_empty() {
                sub.canonical_values = values;
            }
        }
    }
}
