//! What happens to the values of a SCIM write that no rule takes downstream (`[users] unmapped`):
//! kept in the gateway's store and merged back on every read (`store`), dropped and reported
//! (`ignore`), or refused (`reject`). Without this, Entra ID and Okta write attributes the
//! mapping cannot hold, read back something else and send the same update on every sync.
//!
//! A write is split into what the rules carry and the rest. The rest of a multi-valued
//! attribute keeps its order: an element that a rule picks stays in the kept list as a
//! placeholder (its selector keys and whatever the rules do not carry), so that reading puts
//! the downstream's value back at the same position.

use serde_json::{Map, Value};

use super::ResourceMapping;
use super::rule::AttributeRule;
use crate::scim::schema::{AttributeDef, Mutability, Returned};

/// `unmapped = "store" | "ignore" | "reject"`: the fate of attributes no rule maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unmapped {
    /// Kept in the gateway's store and returned like any other attribute (the default: what
    /// a client writes is what it reads back).
    #[default]
    Store,
    /// Dropped, each logged once per tenant and counted (the vendor does not want them kept).
    Ignore,
    /// Refused with 400 naming the attribute; nothing is written.
    Reject,
}

impl std::str::FromStr for Unmapped {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "store" => Ok(Self::Store),
            "ignore" => Ok(Self::Ignore),
            "reject" => Ok(Self::Reject),
            other => Err(format!("{other:?}: use store, ignore or reject")),
        }
    }
}

/// An attribute of a write that neither the downstream nor the store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Its schema path without values (`title`, `name.middleName`, `emails`, an extension's
    /// `urn:...:costCenter`): safe to log and to use as a metric label.
    pub attribute: String,
    /// True when a read-only rule (a template, a constant) computes it: the client wrote a
    /// value other than the computed one.
    pub read_only: bool,
}

/// A write split by [`ResourceMapping::split`].
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// What the store keeps, as a partial SCIM resource.
    pub kept: Value,
    /// What is lost (never a value: attribute paths only).
    pub dropped: Vec<Dropped>,
}

/// Which rules take a value off the store's hands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cover {
    /// Rules that send the value downstream.
    Downstream,
    /// Those and `store = true` rules: what remains is what no rule names.
    AnyRule,
}

impl ResourceMapping {
    /// Splits a resource about to be written into what the store keeps and what is lost.
    /// `computed` is what the rules show for the downstream record before the write: a value
    /// of a read-only rule (a template, a constant) equal to it is the computed one, not the
    /// client's, and is not kept.
    pub fn split(&self, resource: &Value, computed: &Value) -> Split {
        match self.unmapped {
            Unmapped::Store => {
                let mut kept = self.remainder(resource, computed, Cover::Downstream).0;
                let mut dropped = Vec::new();
                // Never returned (a password): the store is no place for it.
                for (urn, def) in self.catalog_attributes() {
                    if def.returned == Returned::Never
                        && !self.rules_of(urn, &def.name).any(AttributeRule::is_stored)
                    {
                        let container = match urn {
                            Some(urn) => kept.get_mut(urn),
                            None => Some(&mut kept),
                        };
                        if let Some(Value::Object(fields)) = container
                            && fields.remove(&def.name).is_some()
                        {
                            dropped.push(Dropped {
                                attribute: path_name(urn, &def.name, None),
                                read_only: false,
                            });
                        }
                    }
                }
                Split { kept, dropped }
            }
            Unmapped::Ignore | Unmapped::Reject => Split {
                kept: self.stored_part(resource),
                dropped: self.remainder(resource, computed, Cover::AnyRule).1,
            },
        }
    }

    /// The SCIM attributes of a downstream record with what the store keeps (`kept`, from
    /// [`split`](Self::split)) merged in: the downstream's values win for the attributes
    /// rules carry, a client's value wins over a read-only rule's computed one.
    pub fn read(&self, record: &Value, kept: &Value) -> Value {
        let mut resource = self.known_part(kept);
        for rule in &self.rules {
            let Some(v) = rule.read(record) else { continue };
            if is_read_only(rule) && rule.target.get(&resource).is_some_and(|v| !v.is_null()) {
                continue;
            }
            if self.stands_in(rule, &v, &resource) || rule.picks_held(&resource, record) {
                continue;
            }
            rule.target.set(&mut resource, v);
        }
        self.drop_empty_placeholders(&mut resource);
        resource
    }

    /// True when the downstream's value `v` of `rule` is the one its `default_from` gave it,
    /// for a list the client wrote without the element (emails without a work one: the
    /// downstream got userName as the work email, the client reads back what it wrote).
    fn stands_in(&self, rule: &AttributeRule, v: &Value, resource: &Value) -> bool {
        rule.default_from.as_ref().is_some_and(|from| {
            self.lists_without(rule, resource)
                && from.get(resource).is_some_and(|source| {
                    super::transform::text_of(source)
                        .eq_ignore_ascii_case(&super::transform::text_of(v))
                })
        })
    }

    /// `kept` without what is not an attribute of the catalog (a marker such as a tombstone).
    fn known_part(&self, kept: &Value) -> Value {
        let mut out = Map::new();
        if let Value::Object(fields) = kept {
            for (k, v) in fields {
                let known = k != "externalId"
                    && (self.catalog.extension(k).is_some()
                        || self.catalog.attribute(None, k).is_some());
                if known && !v.is_null() {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Value::Object(out)
    }

    /// Removes kept placeholders whose downstream value is gone: elements left with nothing
    /// but the keys that picked them.
    fn drop_empty_placeholders(&self, resource: &mut Value) {
        for (urn, def) in self.catalog_attributes() {
            if !def.multi_valued {
                continue;
            }
            let container = match urn {
                Some(urn) => resource.get_mut(urn),
                None => Some(&mut *resource),
            };
            let Some(Value::Object(fields)) = container else {
                continue;
            };
            if let Some(Value::Array(elements)) = fields.get_mut(&def.name) {
                let keys: Vec<&str> = self
                    .rules_of(urn, &def.name)
                    .flat_map(|r| r.target.selector.iter().map(|(k, _)| k.as_str()))
                    .chain(["primary"])
                    .collect();
                elements.retain(|e| match e {
                    Value::Object(o) => !o.keys().all(|k| keys.contains(&k.as_str())),
                    _ => true,
                });
                if elements.is_empty() {
                    fields.remove(&def.name);
                }
            }
        }
    }

    /// Every top-level attribute of the catalog, with its extension's URN (`None`: core).
    fn catalog_attributes(&self) -> impl Iterator<Item = (Option<&str>, &AttributeDef)> {
        self.catalog
            .core
            .attributes
            .iter()
            .map(|a| (None, a))
            .chain(
                self.catalog
                    .extensions
                    .iter()
                    .flat_map(|e| e.attributes.iter().map(move |a| (Some(e.id.as_str()), a))),
            )
    }

    fn rules_of<'a>(
        &'a self,
        urn: Option<&'a str>,
        attr: &'a str,
    ) -> impl Iterator<Item = &'a AttributeRule> + 'a {
        self.rules
            .iter()
            .filter(move |r| r.target.urn.as_deref() == urn && r.target.attr == attr)
    }

    /// What of `resource` the `cover`ing rules do not carry (and its paths).
    fn remainder(&self, resource: &Value, computed: &Value, cover: Cover) -> (Value, Vec<Dropped>) {
        let mut out = Map::new();
        let mut dropped = Vec::new();
        let Value::Object(fields) = resource else {
            return (Value::Object(out), dropped);
        };
        for (key, value) in fields {
            if let Some(ext) = self.catalog.extension(key) {
                let whole = self.rules.iter().any(|r| {
                    r.target.whole_extension
                        && r.target.urn.as_deref() == Some(&ext.id)
                        && covers(r, cover, value, computed)
                });
                let Value::Object(attrs) = value else {
                    continue;
                };
                if whole {
                    continue;
                }
                let mut ext_out = Map::new();
                for (name, v) in attrs {
                    let Some(def) = self.catalog.attribute(Some(&ext.id), name) else {
                        continue;
                    };
                    if let Some(rest) =
                        self.attribute_rest(Some(&ext.id), def, v, computed, cover, &mut dropped)
                    {
                        ext_out.insert(def.name.clone(), rest);
                    }
                }
                if !ext_out.is_empty() {
                    out.insert(ext.id.clone(), Value::Object(ext_out));
                }
            } else if let Some(def) = self.catalog.attribute(None, key)
                && let Some(rest) =
                    self.attribute_rest(None, def, value, computed, cover, &mut dropped)
            {
                out.insert(def.name.clone(), rest);
            }
        }
        (Value::Object(out), dropped)
    }

    /// What of one attribute's value the rules do not carry, if anything.
    fn attribute_rest(
        &self,
        urn: Option<&str>,
        def: &AttributeDef,
        value: &Value,
        computed: &Value,
        cover: Cover,
        dropped: &mut Vec<Dropped>,
    ) -> Option<Value> {
        if value.is_null() || def.mutability == Mutability::ReadOnly {
            return None;
        }
        let rules: Vec<&AttributeRule> = self.rules_of(urn, &def.name).collect();
        if rules.iter().any(|r| {
            r.target.sub.is_none()
                && r.target.selector.is_empty()
                && covers(r, cover, value, computed)
        }) {
            return None;
        }
        let read_only = |sub: Option<&str>| {
            rules
                .iter()
                .any(|r| is_read_only(r) && r.target.sub.as_deref() == sub)
        };
        match value {
            Value::Object(fields) if !def.multi_valued => {
                let rest: Map<String, Value> = fields
                    .iter()
                    .filter(|(sub, v)| {
                        !rules.iter().any(|r| {
                            r.target.sub.as_deref() == Some(sub.as_str())
                                && covers(r, cover, v, computed)
                        })
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for sub in rest.keys() {
                    dropped.push(Dropped {
                        attribute: path_name(urn, &def.name, Some(sub)),
                        read_only: read_only(Some(sub)),
                    });
                }
                (!rest.is_empty()).then_some(Value::Object(rest))
            }
            Value::Array(elements) if def.multi_valued => {
                self.elements_rest(urn, def, elements, &rules, computed, cover, dropped)
            }
            other => {
                dropped.push(Dropped {
                    attribute: path_name(urn, &def.name, None),
                    read_only: read_only(None),
                });
                Some(other.clone())
            }
        }
    }

    /// The kept list of a multi-valued attribute: elements no rule picks whole, and a
    /// placeholder for each picked one with what its rules do not carry. `None` when the
    /// placeholders would hold nothing but the keys that pick them.
    #[allow(clippy::too_many_arguments)]
    fn elements_rest(
        &self,
        urn: Option<&str>,
        def: &AttributeDef,
        elements: &[Value],
        rules: &[&AttributeRule],
        computed: &Value,
        cover: Cover,
        dropped: &mut Vec<Dropped>,
    ) -> Option<Value> {
        let mut picked: Vec<Vec<&AttributeRule>> = vec![Vec::new(); elements.len()];
        for rule in rules {
            if let Some(i) = rule.target.picked_index(elements) {
                picked[i].push(rule);
            }
        }
        let mut out = Vec::with_capacity(elements.len());
        let mut informative = false;
        let mut whole_dropped = false;
        for (element, by) in elements.iter().zip(&picked) {
            if by.is_empty() {
                out.push(element.clone());
                informative = true;
                whole_dropped = true;
                continue;
            }
            let Value::Object(fields) = element else {
                out.push(element.clone());
                continue;
            };
            let keys: Vec<&str> = by
                .iter()
                .flat_map(|r| r.target.selector.iter().map(|(k, _)| k.as_str()))
                .collect();
            let mut rest = Map::new();
            for (k, v) in fields {
                let carried = by.iter().any(|r| {
                    r.target.sub.as_deref() == Some(k.as_str()) && covers(r, cover, v, computed)
                });
                if carried {
                    continue;
                }
                if !keys.contains(&k.as_str()) {
                    informative = true;
                    if k != "primary" {
                        dropped.push(Dropped {
                            attribute: path_name(urn, &def.name, Some(k)),
                            read_only: by
                                .iter()
                                .any(|r| is_read_only(r) && r.target.sub.as_deref() == Some(k)),
                        });
                    }
                }
                rest.insert(k.clone(), v.clone());
            }
            out.push(Value::Object(rest));
        }
        if whole_dropped {
            dropped.push(Dropped {
                attribute: path_name(urn, &def.name, None),
                read_only: false,
            });
        }
        informative.then_some(Value::Array(out))
    }
}

/// A rule the client cannot write through: a template, a constant, a `read_only` field.
fn is_read_only(rule: &AttributeRule) -> bool {
    !rule.accepts_input()
}

/// True when `rule` carries `value` (the value at its target) so that nothing of it needs
/// keeping: it is sent downstream (or stored by the rule, for [`Cover::AnyRule`]), or it is what
/// a read-only rule computes (`computed` being the rules' view of the record).
fn covers(rule: &AttributeRule, cover: Cover, value: &Value, computed: &Value) -> bool {
    if rule.pick.is_some() && cover == Cover::Downstream {
        // One value of the list goes downstream: the list itself is the store's to keep.
        return false;
    }
    if rule.written_field().is_some() || (cover == Cover::AnyRule && rule.is_stored()) {
        return true;
    }
    is_read_only(rule) && rule.target.get(computed) == Some(value)
}

/// An attribute's schema path for messages, logs and metric labels: no values.
fn path_name(urn: Option<&str>, attr: &str, sub: Option<&str>) -> String {
    let mut name = match urn {
        Some(urn) => format!("{urn}:{attr}"),
        None => attr.to_owned(),
    };
    if let Some(sub) = sub {
        name.push('.');
        name.push_str(sub);
    }
    name
}
