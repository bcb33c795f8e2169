//! Checks a parsed [`Filter`] against a schema before it is evaluated, so clients get a 400
//! `invalidFilter` (RFC 7644 §3.4.2.2, §3.12) naming the attribute instead of an empty result.

use super::datetime::parse_datetime;
use super::{CompValue, CompareOp, Filter, FilterError};
use crate::scim::attr_path::{AttrPath, PathError};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, find_attribute};

/// Rejects unknown attributes and operator/value combinations that cannot apply: ordering or
/// substring operators on booleans, ordering on complex attributes without sub-attribute,
/// substring operators on numbers and dateTimes, null with anything but `eq`/`ne`, and literals
/// of the wrong type. `id`, `externalId`, `meta.*` and `schemas` are always known.
pub fn validate(filter: &Filter, schema: &ResourceSchema) -> Result<(), FilterError> {
    check(filter, Scope::Resource(schema))
}

/// Like [`validate`] for the value filter of `attr[...]`, whose paths name sub-attributes of
/// the multi-valued complex attribute `attr`.
pub fn validate_value_filter(filter: &Filter, attr: &AttributeDef) -> Result<(), FilterError> {
    check(filter, Scope::Complex(attr))
}

#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a ResourceSchema),
    Complex(&'a AttributeDef),
}

fn check(filter: &Filter, scope: Scope<'_>) -> Result<(), FilterError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, scope)?;
            check(b, scope)
        }
        Filter::Not(inner) => check(inner, scope),
        Filter::Present(path) => resolve(path, scope).map(|_| ()),
        Filter::Compare(path, op, value) => {
            let leaf = resolve(path, scope)?;
            check_comparison(leaf, &path.to_string(), *op, value)
        }
        Filter::ValuePath(path, inner) => {
            let Scope::Resource(schema) = scope else {
                return Err(FilterError::Unsupported {
                    attribute: path.to_string(),
                    message: format!(
                        "value filters cannot be nested ('{path}[...]'); name sub-attributes directly"
                    ),
                });
            };
            let resolved = path.resolve(schema).map_err(|e| path_error(path, e))?;
            if path.sub.is_some() || resolved.attr.attr_type != AttrType::Complex {
                return Err(FilterError::Unsupported {
                    attribute: path.to_string(),
                    message: format!(
                        "'{path}' is not a complex attribute, so it cannot take a value filter; use one like 'emails[type eq \"work\"]'"
                    ),
                });
            }
            check(inner, Scope::Complex(resolved.attr))
        }
    }
}

/// The definition of the value a path designates.
fn resolve<'a>(path: &AttrPath, scope: Scope<'a>) -> Result<&'a AttributeDef, FilterError> {
    match scope {
        Scope::Resource(schema) => path
            .resolve(schema)
            .map(|r| r.leaf())
            .map_err(|e| path_error(path, e)),
        Scope::Complex(parent) => {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(FilterError::Unsupported {
                    attribute: format!("{}.{path}", parent.name),
                    message: format!(
                        "inside '{}[...]' name a sub-attribute of '{}' alone, without URN or '.'; '{path}' is not one",
                        parent.name, parent.name
                    ),
                });
            }
            find_attribute(&parent.sub_attributes, &path.name).ok_or_else(|| {
                FilterError::UnknownAttribute {
                    attribute: format!("{}.{}", parent.name, path.name),
                }
            })
        }
    }
}

/// Maps a path-resolution error to a filter error naming the attribute.
fn path_error(path: &AttrPath, e: PathError) -> FilterError {
    match e {
        PathError::UnknownAttribute { .. } | PathError::UnknownSchema { .. } => {
            FilterError::UnknownAttribute {
                attribute: path.to_string(),
            }
        }
        other => FilterError::Unsupported {
            attribute: path.to_string(),
            message: other.to_string(),
        },
    }
}

/// Whether `op` and `value` make sense for an attribute defined by `leaf`, written `name`.
fn check_comparison(
    leaf: &AttributeDef,
    name: &str,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), FilterError> {
    let unsupported = |message: String| FilterError::Unsupported {
        attribute: name.to_string(),
        message,
    };
    let leaf = compared_attribute(leaf, name, op).map_err(unsupported)?;
    if *value == CompValue::Null {
        if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return Ok(());
        }
        return Err(unsupported(format!(
            "'{op}' cannot compare '{name}' with null; use 'eq null', 'ne null' or 'pr'"
        )));
    }
    match type_mismatch(leaf.attr_type, name, op, value) {
        Some(message) => Err(unsupported(message)),
        None => Ok(()),
    }
}

/// What a comparison of `leaf` compares: the attribute itself, or the `value` sub-attribute
/// of a complex one (by equality only); else why it cannot be compared.
fn compared_attribute<'a>(
    leaf: &'a AttributeDef,
    name: &str,
    op: CompareOp,
) -> Result<&'a AttributeDef, String> {
    if leaf.attr_type != AttrType::Complex {
        return Ok(leaf);
    }
    match find_attribute(&leaf.sub_attributes, "value") {
        Some(value_def) if !op.is_ordering() => Ok(value_def),
        _ => {
            let example = leaf
                .sub_attributes
                .first()
                .map_or("value", |s| s.name.as_str());
            Err(format!(
                "attribute '{name}' is complex, so '{op}' cannot compare it; compare a sub-attribute such as '{name}.{example}'"
            ))
        }
    }
}

/// Why `op` with a non-null `value` does not fit an attribute of type `attr_type`, if it
/// does not.
fn type_mismatch(
    attr_type: AttrType,
    name: &str,
    op: CompareOp,
    value: &CompValue,
) -> Option<String> {
    match attr_type {
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Some(format!(
                    "attribute '{name}' is boolean, so only 'eq' and 'ne' apply, not '{op}'"
                ));
            }
            // Entra ID quotes them ("True"): accepted, any case.
            let boolean = match value {
                CompValue::Bool(_) => true,
                CompValue::Str(s) => super::eval::parse_bool(s).is_some(),
                _ => false,
            };
            (!boolean)
                .then(|| format!("attribute '{name}' is boolean; compare it with true or false"))
        }
        AttrType::Integer | AttrType::Decimal => {
            if op.is_substring() {
                return Some(format!(
                    "attribute '{name}' is a number, so '{op}' does not apply; use eq, ne, gt, ge, lt or le"
                ));
            }
            (!matches!(value, CompValue::Number(_))).then(|| {
                format!(
                    "attribute '{name}' is a number; compare it with an unquoted number such as 42"
                )
            })
        }
        AttrType::DateTime => {
            if op.is_substring() {
                return Some(format!(
                    "attribute '{name}' is a dateTime, so '{op}' does not apply; use eq, ne, gt, ge, lt or le"
                ));
            }
            let is_instant = matches!(value, CompValue::Str(s) if parse_datetime(s).is_some());
            (!is_instant).then(|| format!(
                "attribute '{name}' is a dateTime; compare it with a quoted timestamp such as \"2024-01-31T12:00:00Z\""
            ))
        }
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            (!matches!(value, CompValue::Str(_))).then(|| {
                format!("attribute '{name}' is a string; quote the value, e.g. \"{value}\"")
            })
        }
        AttrType::Complex => Some(format!(
            "attribute '{name}' is complex, so '{op}' cannot compare it; compare one of its sub-attributes"
        )),
    }
}
