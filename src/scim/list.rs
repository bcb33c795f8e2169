//! Query parameters of SCIM list and read requests (RFC 7644 §3.4.2 and §3.9): filter,
//! startIndex/count paging, sortBy/sortOrder and attributes/excludedAttributes projection.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};
use thiserror::Error;

use super::attr_path::AttrPath;
use super::filter::{Filter, FilterError};
use super::schema::ResourceSchema;

/// The largest page the gateway serves; advertised as `filter.maxResults`.
pub const MAX_COUNT: u64 = 200;

/// Why list parameters are unusable.
#[derive(Debug, Error)]
pub enum ListParamError {
    #[error("invalid filter: {0}")]
    Filter(#[from] FilterError),
    #[error("{param} must be an integer, got {value:?}")]
    NotANumber { param: &'static str, value: String },
    #[error("{param}: {message}")]
    BadPath {
        param: &'static str,
        message: String,
    },
    #[error("sortOrder must be ascending or descending, got {0:?}")]
    SortOrder(String),
    #[error("a search request is an object of strings, numbers and arrays of attribute names")]
    NotASearchRequest,
}

/// Parsed list parameters.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<Filter>,
    /// 1-based index of the first result (RFC 7644 §3.4.2.4); values below 1 read as 1.
    pub start_index: u64,
    /// Results per page; negative reads as 0; capped at [`MAX_COUNT`].
    pub count: u64,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    pub projection: Projection,
}

/// Which attributes to return (RFC 7644 §3.9).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

impl ListParams {
    /// Parses the query pairs of a request; parameter names are matched case-insensitively.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ListParamError> {
        let get = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let number = |param: &'static str| -> Result<Option<i64>, ListParamError> {
            get(param)
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| ListParamError::NotANumber {
                            param,
                            value: v.to_owned(),
                        })
                })
                .transpose()
        };
        let filter = get("filter")
            .filter(|f| !f.trim().is_empty())
            .map(str::parse)
            .transpose()?;
        let sort_by = get("sortBy").map(|p| parse_path("sortBy", p)).transpose()?;
        let descending = match get("sortOrder").map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => return Err(ListParamError::SortOrder(other.to_owned())),
        };
        Ok(Self {
            filter,
            start_index: number("startIndex")?.unwrap_or(1).max(1) as u64,
            count: (number("count")?.unwrap_or(100).max(0) as u64).min(MAX_COUNT),
            sort_by,
            descending,
            projection: Projection::parse(pairs)?,
        })
    }
}

impl ListParams {
    /// Parses the body of `POST .search` (RFC 7644 §3.4.3): the same parameters as a query,
    /// with `attributes` and `excludedAttributes` as arrays.
    pub fn from_search_request(body: &Value) -> Result<Self, ListParamError> {
        let Value::Object(fields) = body else {
            return Err(ListParamError::NotASearchRequest);
        };
        let mut pairs = Vec::new();
        for (key, value) in fields {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                _ => return Err(ListParamError::NotASearchRequest),
            };
            pairs.push((key.clone(), text));
        }
        Self::parse(&pairs)
    }
}

impl ListParams {
    /// The requested page of `found` (all matching resources): sorted as asked, then cut at
    /// startIndex/count; returns the total before cutting.
    pub fn window(&self, mut found: Vec<Value>, schema: &ResourceSchema) -> (u64, Vec<Value>) {
        if let Some(by) = &self.sort_by {
            sort(&mut found, by, self.descending, schema);
        }
        let total = found.len() as u64;
        let page = found
            .into_iter()
            .skip((self.start_index - 1) as usize)
            .take(self.count as usize)
            .collect();
        (total, page)
    }

    /// A ListResponse of `page`, each resource projected as asked.
    pub fn respond(&self, total: u64, page: Vec<Value>, schema: &ResourceSchema) -> Value {
        let page = page
            .into_iter()
            .map(|r| self.projection.apply(r, schema))
            .collect();
        list_response(total, self.start_index, page)
    }
}

impl Projection {
    /// Parses `attributes` and `excludedAttributes` (comma-separated attribute paths).
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ListParamError> {
        let list = |param: &'static str| -> Result<Vec<AttrPath>, ListParamError> {
            pairs
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(param))
                .flat_map(|(_, v)| v.split(','))
                .filter(|p| !p.trim().is_empty())
                .map(|p| parse_path(param, p))
                .collect()
        };
        Ok(Self {
            attributes: list("attributes")?,
            excluded: list("excludedAttributes")?,
        })
    }

    /// The resource with only the requested attributes; `id` and `schemas` always stay
    /// (returned "always", RFC 7643 §7).
    pub fn apply(&self, resource: Value, schema: &ResourceSchema) -> Value {
        if self.attributes.is_empty() && self.excluded.is_empty() {
            return resource;
        }
        let Value::Object(fields) = resource else {
            return resource;
        };
        let always = |k: &str| k == "id" || k == "schemas";
        let mut out = Map::new();
        for (key, value) in fields {
            if always(&key) {
                out.insert(key, value);
                continue;
            }
            let value = if self.attributes.is_empty() {
                Some(value)
            } else {
                keep_only(&key, value, &self.attributes, schema)
            };
            if let Some(v) = value.and_then(|v| drop_excluded(&key, v, &self.excluded, schema)) {
                out.insert(key, v);
            }
        }
        Value::Object(out)
    }
}

fn parse_path(param: &'static str, text: &str) -> Result<AttrPath, ListParamError> {
    text.trim().parse().map_err(|e| ListParamError::BadPath {
        param,
        message: format!("{e}"),
    })
}

/// Splits a path into (container key, attribute, sub-attribute) of the resource JSON.
fn locate<'a>(
    path: &'a AttrPath,
    schema: &ResourceSchema,
) -> (Option<String>, &'a str, Option<&'a str>) {
    let urn = path
        .urn
        .as_deref()
        .and_then(|u| schema.extension(u))
        .map(|s| s.id.clone());
    (urn, &path.name, path.sub.as_deref())
}

fn keep_only(
    key: &str,
    value: Value,
    wanted: &[AttrPath],
    schema: &ResourceSchema,
) -> Option<Value> {
    let mut kept: Option<Map<String, Value>> = None;
    for path in wanted {
        let (urn, name, sub) = locate(path, schema);
        match urn {
            Some(urn) if urn == key => {
                let Value::Object(attrs) = &value else {
                    continue;
                };
                if let Some((k, v)) = attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                    kept.get_or_insert_with(Map::new)
                        .insert(k.clone(), project_sub(v.clone(), sub));
                }
            }
            None if key.eq_ignore_ascii_case(name) => {
                return Some(project_sub(value, sub));
            }
            _ => {}
        }
    }
    kept.map(Value::Object)
}

fn project_sub(value: Value, sub: Option<&str>) -> Value {
    let Some(sub) = sub else { return value };
    let pick = |v: Value| match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(sub))
                .collect(),
        ),
        other => other,
    };
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(pick).collect()),
        other => pick(other),
    }
}

fn drop_excluded(
    key: &str,
    value: Value,
    excluded: &[AttrPath],
    schema: &ResourceSchema,
) -> Option<Value> {
    let mut value = value;
    for path in excluded {
        let (urn, name, sub) = locate(path, schema);
        match (urn, sub) {
            (None, None) if key.eq_ignore_ascii_case(name) => return None,
            (None, Some(sub)) if key.eq_ignore_ascii_case(name) => value = remove_sub(value, sub),
            (Some(urn), _) if urn == key => {
                if let Value::Object(attrs) = &mut value {
                    match sub {
                        None => attrs.retain(|k, _| !k.eq_ignore_ascii_case(name)),
                        Some(sub) => {
                            for (_, v) in attrs
                                .iter_mut()
                                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                            {
                                *v = remove_sub(v.take(), sub);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some(value)
}

fn remove_sub(value: Value, sub: &str) -> Value {
    let strip = |v: Value| match v {
        Value::Object(mut m) => {
            m.retain(|k, _| !k.eq_ignore_ascii_case(sub));
            Value::Object(m)
        }
        other => other,
    };
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(strip).collect()),
        other => strip(other),
    }
}

/// Sorts resources by an attribute (RFC 7644 §3.4.2.3): strings compare case-insensitively
/// unless caseExact, multi-valued attributes by their primary (else first) value, and
/// resources without a value sort last in either order.
pub fn sort(resources: &mut [Value], by: &AttrPath, descending: bool, schema: &ResourceSchema) {
    let (urn, name, sub) = locate(by, schema);
    let case_exact = schema
        .attribute(urn.as_deref(), name)
        .is_some_and(|d| d.case_exact);
    let key = |r: &Value| -> Option<Value> {
        let container = match &urn {
            Some(u) => r.get(u)?,
            None => r,
        };
        let v = get_ci(container, name)?;
        let v = match v {
            Value::Array(items) => items
                .iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| items.first())?,
            other => other,
        };
        let v = match sub {
            Some(s) => get_ci(v, s)?,
            None => match v {
                Value::Object(_) => get_ci(v, "value")?,
                other => other,
            },
        };
        match v {
            Value::String(s) if !case_exact => Some(Value::String(s.to_lowercase())),
            Value::Null => None,
            other => Some(other.clone()),
        }
    };
    resources.sort_by_cached_key(|r| SortKey(key(r)));
    if descending {
        let split = resources
            .iter()
            .position(|r| key(r).is_none())
            .unwrap_or(resources.len());
        resources[..split].reverse();
    }
}

fn get_ci<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Orders JSON scalars: present before absent, numbers numerically, others by text.
#[derive(PartialEq)]
struct SortKey(Option<Value>);

impl Eq for SortKey {}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(Value::Number(a)), Some(Value::Number(b))) => a
                .as_f64()
                .partial_cmp(&b.as_f64())
                .unwrap_or(Ordering::Equal),
            (Some(a), Some(b)) => text(a).cmp(&text(b)),
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
/// The schema URN of a ListResponse (RFC 7644 §3.4.2).
const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A ListResponse (RFC 7644 §3.4.2).
pub fn list_response(total: u64, start_index: u64, items: Vec<Value>) -> Value {
    // Built field by field: `json!` would serialize every resource into a copy.
    let mut response = Map::new();
    response.insert("schemas".into(), json!([LIST_URN]));
    response.insert("totalResults".into(), total.into());
    response.insert("startIndex".into(), start_index.into());
    response.insert("itemsPerPage".into(), items.len().into());
    response.insert("Resources".into(), Value::Array(items));
    Value::Object(response)
}
