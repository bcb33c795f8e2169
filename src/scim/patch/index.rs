//! An index over the elements of a multi-valued attribute, so that "is this value already
//! there?" (`add` skips values present, RFC 7644 §3.5.2.1), "which elements does this
//! `remove` list name?" and de-duplication cost time proportional to the elements instead of
//! comparing every element with every other one (a 20,000-element `replace emails` made
//! 200 million comparisons).
//!
//! Elements are keyed by what every match needs to share: a complex element's `value`
//! sub-attribute, or a simple element itself, lowercased when the attribute is not caseExact
//! (as [`contains`](super::apply) compares). The key only narrows the candidates: callers
//! still compare each candidate exactly, so the index never changes what matches.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

use serde_json::Value;

use crate::scim::attr_path::get_ci;
use crate::scim::schema::{AttributeDef, find_attribute};

/// Element positions grouped by the hash of their key (a chain per hash, so indexing
/// allocates nothing per element); elements without a scalar key are listed apart.
pub(super) struct ElementIndex<'a> {
    attr: &'a AttributeDef,
    state: RandomState,
    /// Key hash -> the last entry with it.
    heads: HashMap<u64, usize>,
    /// (position, previous entry with the same hash).
    entries: Vec<(usize, Option<usize>)>,
    unkeyed: Vec<usize>,
}

impl<'a> ElementIndex<'a> {
    /// An empty index for about `capacity` elements of `attr`.
    pub(super) fn new(attr: &'a AttributeDef, capacity: usize) -> Self {
        Self {
            attr,
            state: RandomState::new(),
            heads: HashMap::with_capacity(capacity),
            entries: Vec::with_capacity(capacity),
            unkeyed: Vec::new(),
        }
    }

    /// An index of `items`, each under its position, with room for `more` elements.
    pub(super) fn of(attr: &'a AttributeDef, items: &[Value], more: usize) -> Self {
        let mut index = Self::new(attr, items.len() + more);
        for (i, item) in items.iter().enumerate() {
            index.insert(i, item);
        }
        index
    }

    /// Records `element` at position `at`.
    pub(super) fn insert(&mut self, at: usize, element: &Value) {
        match self.key(element) {
            Some(k) => {
                let previous = self.heads.insert(k, self.entries.len());
                self.entries.push((at, previous));
            }
            None => self.unkeyed.push(at),
        }
    }

    /// The positions of the elements that may share `element`'s key (for an element
    /// without one, the other elements without one), latest first. Equal elements always
    /// share a key; a hash collision only adds a candidate, which callers compare exactly.
    pub(super) fn same_key(&self, element: &Value) -> impl Iterator<Item = usize> + '_ {
        self.candidates(self.key(element))
    }

    /// The positions of the elements that may hold `element`, as `contains(held, element)`
    /// compares: those with its key; `None` when it has none, and any element may.
    pub(super) fn may_hold(&self, element: &Value) -> Option<impl Iterator<Item = usize> + '_> {
        let key = self.key(element)?;
        Some(self.candidates(Some(key)))
    }

    /// The positions of the elements that `element` may hold, as `contains(element, listed)`
    /// compares: those with its key, and those without a key (they may be held by any).
    pub(super) fn may_be_held(&self, element: &Value) -> impl Iterator<Item = usize> + '_ {
        let key = self.key(element);
        let unkeyed = match key {
            Some(_) => self.unkeyed.as_slice(),
            None => &[],
        };
        self.candidates(key).chain(unkeyed.iter().copied())
    }

    /// The chain of `key`, or the unkeyed elements for `None`.
    fn candidates(&self, key: Option<u64>) -> impl Iterator<Item = usize> + '_ {
        let (chain, unkeyed) = match key {
            Some(k) => (self.heads.get(&k).copied(), &[][..]),
            None => (None, self.unkeyed.as_slice()),
        };
        let chain = std::iter::successors(chain, |&e| self.entries.get(e).and_then(|x| x.1))
            .filter_map(|e| self.entries.get(e).map(|x| x.0));
        chain.chain(unkeyed.iter().copied())
    }

    /// The hash of an element's key: its `value` (complex) or itself (simple) when scalar,
    /// strings lowercased unless that value is caseExact; `None` when there is no scalar to
    /// key on.
    fn key(&self, element: &Value) -> Option<u64> {
        let (value, def) = match element {
            Value::Object(members) => {
                let (_, value) = get_ci(members, "value")?;
                (
                    value,
                    find_attribute(&self.attr.sub_attributes, "value").unwrap_or(self.attr),
                )
            }
            other => (other, self.attr),
        };
        let mut h = self.state.build_hasher();
        match value {
            Value::String(s) if def.case_exact => {
                h.write_u8(0);
                h.write(s.as_bytes());
            }
            Value::String(s) if s.is_ascii() => {
                h.write_u8(0);
                let mut chunk = [0u8; 64];
                for part in s.as_bytes().chunks(chunk.len()) {
                    let lower = &mut chunk[..part.len()];
                    lower.copy_from_slice(part);
                    lower.make_ascii_lowercase();
                    h.write(lower);
                }
            }
            Value::String(s) => {
                h.write_u8(0);
                let mut buf = [0u8; 4];
                for c in s.chars().flat_map(char::to_lowercase) {
                    h.write(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            Value::Number(n) => {
                // serde_json numbers are equal when of one kind and equal value.
                if let Some(u) = n.as_u64() {
                    h.write_u8(1);
                    h.write_u64(u);
                } else if let Some(i) = n.as_i64() {
                    h.write_u8(2);
                    h.write_i64(i);
                } else {
                    let f = n.as_f64().unwrap_or_default();
                    h.write_u8(3);
                    h.write_u64(if f == 0.0 { 0 } else { f.to_bits() });
                }
            }
            Value::Bool(b) => {
                h.write_u8(4);
                h.write_u8(u8::from(*b));
            }
            Value::Null => h.write_u8(5),
            Value::Array(_) | Value::Object(_) => return None,
        }
        Some(h.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::catalog::user_schema;
    use serde_json::json;

    #[test]
    fn elements_that_can_match_share_a_key() {
        let schema = user_schema();
        let emails = schema.attribute(None, "emails").unwrap();
        let items = [
            json!({"value": "Ann@Example.com", "type": "work"}),
            json!({"type": "home"}),
            json!({"value": "bob@example.com"}),
        ];
        let index = ElementIndex::of(emails, &items, 0);
        // emails.value is not caseExact: another case finds the first element.
        let same = |index: &ElementIndex<'_>, v: Value| index.same_key(&v).collect::<Vec<_>>();
        assert_eq!(same(&index, json!({"value": "ann@example.COM"})), [0]);
        assert_eq!(same(&index, json!({"VALUE": "bob@example.com"})), [2]);
        assert!(same(&index, json!({"value": "eve@example.com"})).is_empty());
        // Without a value, an element is compared with the others without one.
        assert_eq!(same(&index, json!({"type": "home"})), [1]);
        // ...which may be held by (or hold) any element.
        assert!(index.may_hold(&json!({"type": "other"})).is_none());
        let held: Vec<usize> = index
            .may_be_held(&json!({"value": "BOB@example.com"}))
            .collect();
        assert_eq!(held, [2, 1]);
        let holding: Option<Vec<usize>> = index
            .may_hold(&json!({"value": "bob@example.com"}))
            .map(Iterator::collect);
        assert_eq!(holding, Some(vec![2]));
        // A number and the string of its digits are different values.
        let mut numbers = ElementIndex::new(emails, 2);
        numbers.insert(0, &json!({"value": 7}));
        numbers.insert(1, &json!({"value": 7}));
        assert!(same(&numbers, json!({"value": "7"})).is_empty());
        assert_eq!(same(&numbers, json!({"value": 7})), [1, 0]);
    }
}
