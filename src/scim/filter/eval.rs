//! Evaluates a [`Filter`] over a SCIM resource's JSON (RFC 7644 §3.4.2.2), with attribute
//! names matched case-insensitively and case-exactness taken from the schema.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::datetime::parse_datetime;
use super::{CompValue, CompareOp, Filter};
use crate::scim::attr_path::{AttrPath, get_ci};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, find_attribute};

/// Whether `resource` (core attributes top-level, extension attributes in an object under the
/// extension URN, RFC 7643 §3.3) satisfies `filter`.
///
/// Semantics (RFC 7644 §3.4.2.2): multi-valued attributes match when any value matches;
/// comparing a multi-valued complex attribute without sub-attribute compares its `value`;
/// strings compare case-insensitively unless the attribute is `caseExact` (unknown attributes
/// are treated as not case-exact); two RFC 3339 timestamps compare as instants; booleans only
/// support `eq`/`ne`. A missing, null or empty attribute matches `eq null` and `ne <value>`
/// (it is "not equal" to any value, a choice the RFC leaves open), and nothing else.
pub fn matches(filter: &Filter, resource: &Value, schema: &ResourceSchema) -> bool {
    eval(filter, resource, Scope::Resource(schema))
}

/// Whether one element of the multi-valued complex attribute `attr` satisfies a value filter
/// (the `[...]` of `emails[type eq "work"]`), whose paths name sub-attributes of `attr`.
pub fn matches_value(filter: &Filter, element: &Value, attr: &AttributeDef) -> bool {
    eval(filter, element, Scope::Complex(Some(attr)))
}

/// What the filter's attribute paths are relative to.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// A whole resource.
    Resource(&'a ResourceSchema),
    /// An element of a complex attribute (definition unknown when the attribute is not in the schema).
    Complex(Option<&'a AttributeDef>),
}

fn eval(filter: &Filter, node: &Value, scope: Scope<'_>) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, node, scope) && eval(b, node, scope),
        Filter::Or(a, b) => eval(a, node, scope) || eval(b, node, scope),
        Filter::Not(inner) => !eval(inner, node, scope),
        Filter::Present(path) => lookup(node, path, scope).0.into_iter().any(is_present),
        Filter::Compare(path, op, expected) => {
            let (values, leaf) = lookup(node, path, scope);
            compare_all(&values, leaf, *op, expected)
        }
        Filter::ValuePath(path, inner) => {
            let (values, leaf) = lookup(node, path, scope);
            values
                .into_iter()
                .any(|v| v.is_object() && eval(inner, v, Scope::Complex(leaf)))
        }
    }
}

/// The non-null values `path` designates in a resource (arrays flattened): what a filter on
/// `path` compares.
pub fn values_at<'v>(
    resource: &'v Value,
    path: &AttrPath,
    schema: &ResourceSchema,
) -> Vec<&'v Value> {
    lookup(resource, path, Scope::Resource(schema)).0
}

/// The non-null values `path` designates in `node` (arrays flattened), and their definition.
fn lookup<'v, 'a>(
    node: &'v Value,
    path: &AttrPath,
    scope: Scope<'a>,
) -> (Vec<&'v Value>, Option<&'a AttributeDef>) {
    let (container, leaf) = match scope {
        Scope::Resource(schema) => {
            let container = match path.urn.as_deref() {
                Some(urn) if !urn.eq_ignore_ascii_case(&schema.core.id) => node
                    .as_object()
                    .and_then(|m| get_ci(m, urn))
                    .map(|(_, v)| v),
                _ => Some(node),
            };
            let resolved = path.resolve(schema).ok();
            (container, resolved.map(|r| r.leaf()))
        }
        Scope::Complex(parent) => {
            let attr = parent.and_then(|p| find_attribute(&p.sub_attributes, &path.name));
            let leaf = match &path.sub {
                Some(sub) => attr.and_then(|a| find_attribute(&a.sub_attributes, sub)),
                None => attr,
            };
            let container = if path.urn.is_some() { None } else { Some(node) };
            (container, leaf)
        }
    };
    let Some(top) = container
        .and_then(Value::as_object)
        .and_then(|m| get_ci(m, &path.name))
        .map(|(_, v)| v)
    else {
        return (Vec::new(), leaf);
    };
    let mut values = flatten(top);
    if let Some(sub) = &path.sub {
        values = values
            .into_iter()
            .filter_map(Value::as_object)
            .filter_map(|m| get_ci(m, sub))
            .flat_map(|(_, v)| flatten(v))
            .collect();
    }
    (values, leaf)
}

/// A value's non-null members: the elements of an array, or the value itself.
fn flatten(v: &Value) -> Vec<&Value> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().filter(|i| !i.is_null()).collect(),
        other => vec![other],
    }
}

/// `pr` (RFC 7644 §3.4.2.2): present and neither null, `""`, `[]` nor `{}`.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Applies `op` between the attribute's values and `expected`: true if any value matches.
fn compare_all(
    values: &[&Value],
    leaf: Option<&AttributeDef>,
    op: CompareOp,
    expected: &CompValue,
) -> bool {
    if *expected == CompValue::Null {
        return match op {
            CompareOp::Eq => values.is_empty(),
            CompareOp::Ne => !values.is_empty(),
            _ => false,
        };
    }
    let complex = leaf.is_some_and(|d| d.attr_type == AttrType::Complex);
    if complex && op.is_ordering() {
        return false;
    }
    // A complex attribute without sub-attribute compares its `value` (RFC 7644 §3.4.2.2).
    let value_def = if complex {
        leaf.and_then(|d| find_attribute(&d.sub_attributes, "value"))
    } else {
        leaf
    };
    let case_exact = value_def.is_some_and(|d| d.case_exact);
    let candidates: Vec<&Value> = values
        .iter()
        .flat_map(|v| match v {
            Value::Object(m) => get_ci(m, "value")
                .map(|(_, v)| flatten(v))
                .unwrap_or_default(),
            other => vec![*other],
        })
        .collect();
    if candidates.is_empty() {
        return op == CompareOp::Ne;
    }
    candidates
        .into_iter()
        .any(|actual| compare_one(op, actual, expected, case_exact))
}

/// Compares one JSON scalar with a literal; values of different types are only `ne`.
fn compare_one(op: CompareOp, actual: &Value, expected: &CompValue, case_exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), CompValue::Str(b)) => compare_strings(op, a, b, case_exact),
        (Value::Number(a), CompValue::Number(b)) => {
            !op.is_substring() && ordering_matches(op, compare_numbers(a, b))
        }
        (Value::Bool(a), CompValue::Bool(b)) => equality_only(op, a == b),
        // Legacy back ends sometimes store booleans as "True"/"False".
        (Value::String(a), CompValue::Bool(b)) => match parse_bool(a) {
            Some(a) => equality_only(op, a == *b),
            None => op == CompareOp::Ne,
        },
        // Entra ID quotes booleans in filters: roles[primary eq "True"].
        (Value::Bool(a), CompValue::Str(b)) => match parse_bool(b) {
            Some(b) => equality_only(op, *a == b),
            None => op == CompareOp::Ne,
        },
        _ => op == CompareOp::Ne,
    }
}

/// `eq`/`ne` from an equality; every other operator is false for booleans.
fn equality_only(op: CompareOp, equal: bool) -> bool {
    match op {
        CompareOp::Eq => equal,
        CompareOp::Ne => !equal,
        _ => false,
    }
}

/// String comparison honouring case-exactness; two RFC 3339 timestamps compare as instants.
fn compare_strings(op: CompareOp, a: &str, b: &str, case_exact: bool) -> bool {
    if !op.is_substring()
        && let (Some(x), Some(y)) = (parse_datetime(a), parse_datetime(b))
    {
        return ordering_matches(op, Some(x.cmp(&y)));
    }
    let (a, b): (Cow<'_, str>, Cow<'_, str>) = if case_exact {
        (a.into(), b.into())
    } else {
        (a.to_lowercase().into(), b.to_lowercase().into())
    };
    match op {
        CompareOp::Co => a.contains(b.as_ref()),
        CompareOp::Sw => a.starts_with(b.as_ref()),
        CompareOp::Ew => a.ends_with(b.as_ref()),
        _ => ordering_matches(op, Some(a.cmp(&b))),
    }
}

/// Whether an ordering (`None` = incomparable) satisfies a non-substring operator.
fn ordering_matches(op: CompareOp, ord: Option<Ordering>) -> bool {
    match op {
        CompareOp::Eq => ord == Some(Ordering::Equal),
        CompareOp::Ne => ord != Some(Ordering::Equal),
        CompareOp::Gt => ord == Some(Ordering::Greater),
        CompareOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        CompareOp::Lt => ord == Some(Ordering::Less),
        CompareOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Numbers compare exactly as integers when both are, else as floats.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// `"true"`/`"false"` in any case.
pub(super) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}
