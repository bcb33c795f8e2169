//! JSON pointers (RFC 6901) that can also write: setting a value creates the objects on its way,
//! which is how attribute rules build downstream request bodies.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};
use thiserror::Error;

/// A parsed JSON pointer such as `/profile/name/first`; `""` points at the whole document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonPointer {
    tokens: Vec<String>,
}

/// Why a string is not a JSON pointer.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PointerError {
    #[error("a JSON pointer starts with '/' (got {0:?})")]
    NoLeadingSlash(String),
    #[error("invalid escape in {0:?}: write ~0 for '~' and ~1 for '/'")]
    BadEscape(String),
}

impl FromStr for JsonPointer {
    type Err = PointerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(Self { tokens: Vec::new() });
        }
        let rest = s
            .strip_prefix('/')
            .ok_or_else(|| PointerError::NoLeadingSlash(s.to_owned()))?;
        let tokens = rest
            .split('/')
            .map(|t| unescape(t).ok_or_else(|| PointerError::BadEscape(s.to_owned())))
            .collect::<Result<_, _>>()?;
        Ok(Self { tokens })
    }
}

fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.tokens {
            write!(f, "/{}", t.replace('~', "~0").replace('/', "~1"))?;
        }
        Ok(())
    }
}

impl JsonPointer {
    /// The value at this pointer, if any.
    pub fn get<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        self.tokens.iter().try_fold(doc, |v, t| match v {
            Value::Object(m) => m.get(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
    }

    /// The value at this pointer, moved out of `doc` rather than copied (a record out of its
    /// envelope).
    pub fn take(&self, mut doc: Value) -> Option<Value> {
        let mut cur = &mut doc;
        for t in &self.tokens {
            cur = match cur {
                Value::Object(m) => m.get_mut(t)?,
                Value::Array(a) => a.get_mut(t.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur.take())
    }

    /// Sets the value at this pointer, replacing non-objects on the way by objects.
    pub fn set(&self, doc: &mut Value, value: Value) {
        let Some((last, parents)) = self.tokens.split_last() else {
            *doc = value;
            return;
        };
        let mut cur = doc;
        for t in parents {
            cur = object_mut(cur)
                .entry(t.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        object_mut(cur).insert(last.clone(), value);
    }

    /// True for the pointer to the whole document.
    pub fn is_root(&self) -> bool {
        self.tokens.is_empty()
    }

    /// This pointer inside a document wrapped at `envelope` (itself when there is none):
    /// where a record's field is in a request or response body.
    pub fn within(&self, envelope: Option<&JsonPointer>) -> JsonPointer {
        let mut tokens = envelope.map_or_else(Vec::new, |e| e.tokens.clone());
        tokens.extend(self.tokens.iter().cloned());
        JsonPointer { tokens }
    }
}

fn object_mut(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("replaced by an object just above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> JsonPointer {
        s.parse().unwrap()
    }

    #[test]
    fn reads_nested_values_and_array_items() {
        let doc = json!({"a": {"b~c": [1, {"d/e": 2}]}});
        assert_eq!(p("/a/b~0c/1/d~1e").get(&doc), Some(&json!(2)));
        assert_eq!(p("/a/x").get(&doc), None);
        assert_eq!(p("").get(&doc), Some(&doc));
    }

    #[test]
    fn take_moves_out_what_get_reads() {
        let doc = json!({"a": {"b~c": [1, {"d/e": 2}]}, "z": null});
        for pointer in ["/a/b~0c/1/d~1e", "/a/b~0c/0", "/a", "", "/z"] {
            let pointer = p(pointer);
            assert_eq!(
                pointer.take(doc.clone()).as_ref(),
                pointer.get(&doc),
                "{pointer}"
            );
        }
        for missing in ["/a/x", "/a/b~0c/9", "/a/b~0c/x", "/z/y"] {
            assert_eq!(p(missing).take(doc.clone()), None, "{missing}");
        }
    }

    #[test]
    fn set_creates_the_objects_on_its_way() {
        let mut doc = json!({"keep": 1, "profile": "not an object"});
        p("/profile/name/first").set(&mut doc, json!("Ann"));
        assert_eq!(
            doc,
            json!({"keep": 1, "profile": {"name": {"first": "Ann"}}})
        );
    }

    #[test]
    fn within_prefixes_the_envelope() {
        assert_eq!(p("/id").within(Some(&p("/account"))), p("/account/id"));
        assert_eq!(p("/id").within(None), p("/id"));
        assert_eq!(p("").within(Some(&p("/team"))), p("/team"));
    }

    #[test]
    fn display_round_trips() {
        for s in ["", "/a", "/a~0b/c~1d", "/"] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_what_is_not_a_pointer() {
        assert_eq!(
            "email".parse::<JsonPointer>(),
            Err(PointerError::NoLeadingSlash("email".into()))
        );
        assert_eq!(
            "/a~2".parse::<JsonPointer>(),
            Err(PointerError::BadEscape("/a~2".into()))
        );
    }
}
