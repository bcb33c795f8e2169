//! Reads a `PatchOp` request body (RFC 7644 §3.5.2) into a [`PatchRequest`], accepting the
//! capitalisations Entra ID uses (`"Operations"`, `"Replace"`).

use serde_json::{Map, Value};

use super::{PATCH_OP_URN, PatchBounds, PatchError, PatchOpKind, PatchOperation, PatchRequest};
use crate::scim::attr_path::get_ci;
use crate::scim::path::PatchPath;
use crate::scim::schema::ResourceSchema;

impl PatchRequest {
    /// Parses a PATCH body, resolving paths against `schema` so path errors surface before any
    /// change. `schemas`, when present, must list the PatchOp URN (a missing `schemas` is
    /// tolerated); keys and `op` values are case-insensitive; `remove` needs a `path`
    /// (RFC 7644 §3.5.2.2: `noTarget`) and `add`/`replace` need a `value`.
    pub fn parse(body: &Value, schema: &ResourceSchema) -> Result<PatchRequest, PatchError> {
        Self::parse_bounded(body, schema, PatchBounds::default())
    }

    /// [`parse`](Self::parse), refusing more than `bounds.max_operations` operations
    /// (`invalidValue`, naming the bound) before reading any of them.
    pub fn parse_bounded(
        body: &Value,
        schema: &ResourceSchema,
        bounds: PatchBounds,
    ) -> Result<PatchRequest, PatchError> {
        let Value::Object(body) = body else {
            return Err(PatchError::InvalidSyntax(
                "the PATCH body must be a JSON object with \"schemas\" and \"Operations\"".into(),
            ));
        };
        if let Some((_, schemas)) = get_ci(body, "schemas") {
            let listed = schemas.as_array().is_some_and(|list| {
                list.iter().any(|s| {
                    s.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_URN))
                })
            });
            if !listed {
                return Err(PatchError::InvalidSyntax(format!(
                    "\"schemas\" must be an array containing \"{PATCH_OP_URN}\""
                )));
            }
        }
        let Some((_, operations)) = get_ci(body, "Operations") else {
            return Err(PatchError::InvalidSyntax(
                "the PATCH body has no \"Operations\"; send an array of operations".into(),
            ));
        };
        let Value::Array(operations) = operations else {
            return Err(PatchError::InvalidSyntax(
                "\"Operations\" must be an array of operations".into(),
            ));
        };
        if operations.is_empty() {
            return Err(PatchError::InvalidSyntax(
                "\"Operations\" is empty; send at least one operation".into(),
            ));
        }
        if operations.len() > bounds.max_operations {
            return Err(PatchError::InvalidValue(format!(
                "the PATCH has {} operations, more than the {} one request may carry; \
                 send the changes in several requests",
                operations.len(),
                bounds.max_operations
            )));
        }
        let operations = operations
            .iter()
            .enumerate()
            .map(|(i, op)| {
                parse_operation(op, schema)
                    .map_err(|e| e.prefixed(&format!("operation {}: ", i + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PatchRequest { operations })
    }
}

/// One element of `Operations`.
fn parse_operation(op: &Value, schema: &ResourceSchema) -> Result<PatchOperation, PatchError> {
    let Value::Object(op) = op else {
        return Err(PatchError::InvalidSyntax(
            "each operation must be an object with \"op\", \"path\" and \"value\"".into(),
        ));
    };
    let kind = parse_kind(op)?;
    let path = match get_ci(op, "path").map(|(_, v)| v) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse_in(s, schema)?),
        Some(_) => {
            return Err(PatchError::InvalidPath(
                "\"path\" must be a string such as \"emails[type eq \\\"work\\\"].value\"".into(),
            ));
        }
    };
    let value = get_ci(op, "value").map(|(_, v)| v.clone());
    match kind {
        PatchOpKind::Remove if path.is_none() => Err(PatchError::NoTarget(
            "\"remove\" needs a \"path\" naming what to remove".into(),
        )),
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => Err(
            PatchError::InvalidValue(format!("\"{}\" needs a \"value\"", kind_name(kind))),
        ),
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

/// The `op` member, case-insensitively.
fn parse_kind(op: &Map<String, Value>) -> Result<PatchOpKind, PatchError> {
    let name = get_ci(op, "op")
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default();
    [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
        .into_iter()
        .find(|k| kind_name(*k).eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            PatchError::InvalidSyntax(format!(
                "\"op\" must be \"add\", \"replace\" or \"remove\", not \"{name}\""
            ))
        })
}

/// The RFC spelling of an operation kind.
pub(super) fn kind_name(kind: PatchOpKind) -> &'static str {
    match kind {
        PatchOpKind::Add => "add",
        PatchOpKind::Replace => "replace",
        PatchOpKind::Remove => "remove",
    }
}
