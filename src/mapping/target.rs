//! The SCIM side of an attribute rule: where in a SCIM resource a rule's value lives
//! (`userName`, `name.givenName`, `emails[type eq "work"].value`, an extension attribute), and
//! how to read it from and write it into a resource whose keys are canonical.

use serde_json::{Map, Value};

use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::PatchPath;
use crate::scim::schema::{
    AttrType, AttributeDef, Mutability, ResourceSchema, SchemaDef, find_attribute,
};

/// A resolved SCIM location, with canonical names and the definition of the value found there.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimTarget {
    /// Canonical extension URN, or `None` for the core schema.
    pub urn: Option<String>,
    /// Canonical top-level attribute name.
    pub attr: String,
    /// For a multi-valued attribute: the `eq` conditions that pick one element.
    pub selector: Vec<(String, Value)>,
    /// Canonical sub-attribute name.
    pub sub: Option<String>,
    /// The top-level attribute's definition.
    pub attr_def: AttributeDef,
    /// The definition of the value this target reads and writes (the sub-attribute's if any).
    pub leaf: AttributeDef,
    /// The target is an open extension's whole object (free keys, e.g. metadata).
    pub whole_extension: bool,
}

impl ScimTarget {
    /// Resolves a rule key such as `emails[type eq "work"].value` against the schema.
    pub fn resolve(key: &str, schema: &ResourceSchema) -> Result<Self, String> {
        if let Some(target) = Self::common_attribute(key) {
            return Ok(target);
        }
        if let Some(ext) = schema.extension(key) {
            return Self::whole_extension(ext);
        }
        Self::attribute(key, schema)
    }

    /// A whole extension as one value, which only an open extension may be.
    fn whole_extension(ext: &SchemaDef) -> Result<Self, String> {
        if !ext.open {
            return Err(format!(
                "{} is a schema: map its attributes ({}:<name>), or declare it open",
                ext.id, ext.id
            ));
        }
        let def = AttributeDef {
            name: ext.id.clone(),
            attr_type: AttrType::Complex,
            multi_valued: false,
            description: String::new(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Default::default(),
            uniqueness: Default::default(),
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        };
        Ok(Self {
            urn: Some(ext.id.clone()),
            attr: String::new(),
            selector: Vec::new(),
            sub: None,
            attr_def: def.clone(),
            leaf: def,
            whole_extension: true,
        })
    }

    /// An attribute of the core schema or an extension, possibly with a sub-attribute and a
    /// `[filter]` of equalities.
    fn attribute(key: &str, schema: &ResourceSchema) -> Result<Self, String> {
        let path: PatchPath = key.parse().map_err(|e| format!("{e}"))?;
        let urn = match path.attr.urn.as_deref() {
            None => None,
            Some(u) if u.eq_ignore_ascii_case(&schema.core.id) => None,
            Some(u) => Some(
                schema
                    .extension(u)
                    .map(|s| s.id.clone())
                    .ok_or_else(|| format!("unknown schema {u}"))?,
            ),
        };
        let attr_def = schema
            .attribute(urn.as_deref(), &path.attr.name)
            .ok_or_else(|| format!("unknown attribute {}", path.attr.name))?
            .clone();
        let sub_name = match (&path.attr.sub, &path.sub) {
            (Some(_), Some(_)) => return Err("a path has at most one sub-attribute".into()),
            (Some(s), None) | (None, Some(s)) => Some(s.as_str()),
            (None, None) => None,
        };
        let sub_def = match sub_name {
            Some(s) => Some(
                find_attribute(&attr_def.sub_attributes, s)
                    .ok_or_else(|| format!("{} has no sub-attribute {s}", attr_def.name))?
                    .clone(),
            ),
            None => None,
        };
        let mut selector = Vec::new();
        if let Some(filter) = &path.filter {
            if !attr_def.multi_valued {
                return Err(format!(
                    "{} is not multi-valued: drop the [filter]",
                    attr_def.name
                ));
            }
            collect_equalities(filter, &attr_def, &mut selector)?;
        }
        let leaf = sub_def.clone().unwrap_or_else(|| attr_def.clone());
        Ok(Self {
            urn,
            attr: attr_def.name.clone(),
            selector,
            sub: sub_def.map(|d| d.name),
            attr_def,
            leaf,
            whole_extension: false,
        })
    }

    /// `externalId` and `meta.*` are common to every resource (RFC 7643 §3.1), not in schemas.
    fn common_attribute(key: &str) -> Option<Self> {
        let (attr, sub, attr_type, mutability, case_exact) = match key.to_ascii_lowercase().as_str()
        {
            "externalid" => (
                "externalId",
                None,
                AttrType::String,
                Mutability::ReadWrite,
                true,
            ),
            "meta.created" => (
                "meta",
                Some("created"),
                AttrType::DateTime,
                Mutability::ReadOnly,
                false,
            ),
            "meta.lastmodified" => (
                "meta",
                Some("lastModified"),
                AttrType::DateTime,
                Mutability::ReadOnly,
                false,
            ),
            _ => return None,
        };
        let def = |name: &str| AttributeDef {
            name: name.to_owned(),
            attr_type,
            multi_valued: false,
            description: String::new(),
            required: false,
            case_exact,
            mutability,
            returned: Default::default(),
            uniqueness: Default::default(),
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        };
        Some(Self {
            urn: None,
            attr: attr.to_owned(),
            selector: Vec::new(),
            sub: sub.map(str::to_owned),
            attr_def: def(attr),
            leaf: def(sub.unwrap_or(attr)),
            whole_extension: false,
        })
    }

    /// True for a target in the resource's `meta`, which the gateway owns.
    pub fn is_meta(&self) -> bool {
        self.urn.is_none() && self.attr == "meta"
    }

    /// The value at this target in a resource with canonical keys.
    pub fn get<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let container = match &self.urn {
            Some(urn) => resource.get(urn)?,
            None => resource,
        };
        if self.whole_extension {
            return Some(container);
        }
        let value = container.get(&self.attr)?;
        let element = if self.attr_def.multi_valued {
            match (&self.sub, self.selector.is_empty()) {
                (None, true) => return Some(value),
                _ => self.pick_element(value.as_array()?)?,
            }
        } else {
            value
        };
        match &self.sub {
            Some(sub) => element.get(sub),
            None => Some(element),
        }
    }

    /// The element a selector picks: see [`picked_index`](Self::picked_index).
    fn pick_element<'a>(&self, elements: &'a [Value]) -> Option<&'a Value> {
        self.picked_index(elements).map(|i| &elements[i])
    }

    /// The index of the element this target reads and writes (the last that matches the
    /// selector: a PATCH `add` appends, and the newest value is the one to keep where the
    /// downstream holds one); without a selector the primary element, else the first. A
    /// selector that matches nothing falls back to an untyped primary element, which is how
    /// clients that send one email without `type` are still understood. Reads and writes pick
    /// the same element, so values kept beside it (by the store) stay with it.
    pub fn picked_index(&self, elements: &[Value]) -> Option<usize> {
        let primary = || {
            elements
                .iter()
                .position(|e| e.get("primary") == Some(&Value::Bool(true)))
        };
        if self.selector.is_empty() {
            return primary().or_else(|| (!elements.is_empty()).then_some(0));
        }
        let untyped = |e: &Value| self.selector.iter().all(|(k, _)| e.get(k).is_none());
        elements
            .iter()
            .rposition(|e| self.selects(e))
            .or_else(|| primary().filter(|&i| untyped(&elements[i])))
            .or_else(|| match elements {
                [only] if untyped(only) => Some(0),
                _ => None,
            })
    }

    fn selects(&self, element: &Value) -> bool {
        self.selector
            .iter()
            .all(|(k, want)| match (element.get(k), want) {
                (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
                (Some(a), b) => a == b,
                (None, _) => false,
            })
    }

    /// Writes `value` at this target, creating the extension object, the complex value or the
    /// selected element as needed (the element gets the selector's values).
    pub fn set(&self, resource: &mut Value, value: Value) {
        if let (true, Some(urn)) = (self.whole_extension, &self.urn) {
            object(resource).insert(urn.clone(), value);
            return;
        }
        let mut container = object(resource);
        if let Some(urn) = &self.urn {
            container = object(container.entry(urn.clone()).or_insert(Value::Null));
        }
        let slot = container.entry(self.attr.clone()).or_insert(Value::Null);
        if !self.attr_def.multi_valued {
            match &self.sub {
                Some(sub) => {
                    object(slot).insert(sub.clone(), value);
                }
                None => *slot = value,
            }
            return;
        }
        if self.sub.is_none() && self.selector.is_empty() {
            *slot = value;
            return;
        }
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        let Value::Array(elements) = slot else { return };
        let index = self.picked_index(elements).unwrap_or_else(|| {
            let fresh: Map<String, Value> = self.selector.iter().cloned().collect();
            elements.push(Value::Object(fresh));
            elements.len() - 1
        });
        match &self.sub {
            Some(sub) => {
                object(&mut elements[index]).insert(sub.clone(), value);
            }
            None => elements[index] = value,
        }
    }

    /// The rule key in canonical form, for messages.
    pub fn display_name(&self) -> String {
        let mut s = match &self.urn {
            Some(urn) if self.whole_extension => urn.clone(),
            Some(urn) => format!("{urn}:{}", self.attr),
            None => self.attr.clone(),
        };
        if !self.selector.is_empty() {
            let conds: Vec<String> = self
                .selector
                .iter()
                .map(|(k, v)| format!("{k} eq {v}"))
                .collect();
            s.push_str(&format!("[{}]", conds.join(" and ")));
        }
        if let Some(sub) = &self.sub {
            s.push('.');
            s.push_str(sub);
        }
        s
    }
}

fn object(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("replaced by an object just above"),
    }
}

/// A rule's selector must be `sub eq literal` terms joined by `and`, so an element can be built.
fn collect_equalities(
    filter: &Filter,
    attr: &AttributeDef,
    out: &mut Vec<(String, Value)>,
) -> Result<(), String> {
    match filter {
        Filter::And(a, b) => {
            collect_equalities(a, attr, out)?;
            collect_equalities(b, attr, out)
        }
        Filter::Compare(path, CompareOp::Eq, value) if path.sub.is_none() && path.urn.is_none() => {
            let sub = find_attribute(&attr.sub_attributes, &path.name)
                .ok_or_else(|| format!("{} has no sub-attribute {}", attr.name, path.name))?;
            let value = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return Err("a rule's filter cannot test for null".into()),
            };
            out.push((sub.name.clone(), value));
            Ok(())
        }
        _ => Err("a rule's filter may only join `sub eq value` terms with `and`".into()),
    }
}
