//! Turns request bodies and query strings into typed values, with the sample
//! API's strictness: unknown fields and wrong types are 400 `bad_request`,
//! broken rules are 422 `invalid`, and every message names the field.

use std::collections::HashMap;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde_json::{Map, Value};

use super::account::{AccountPatch, Status};
use super::error::ApiError;

/// Largest page a list request may ask for.
pub(crate) const MAX_PER_PAGE: usize = 100;
/// Page size when a list request names none.
pub(crate) const DEFAULT_PER_PAGE: usize = 25;

/// A query string as a handler receives it: parsed, or why not.
pub(crate) type QueryString = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The parameters of a query string; 400 `bad_request` when it does not parse.
pub(crate) fn query_params(query: QueryString) -> Result<HashMap<String, String>, ApiError> {
    let Query(params) =
        query.map_err(|e| ApiError::BadRequest(format!("bad query string: {e}")))?;
    Ok(params)
}

/// Parses a `{"account": {...}}` body into the fields it sets.
pub(crate) fn account_body(body: &[u8]) -> Result<AccountPatch, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    let Value::Object(mut envelope) = value else {
        return Err(bad("body must be a JSON object"));
    };
    let account = envelope
        .remove("account")
        .ok_or_else(|| bad("body must have an \"account\" object"))?;
    if let Some(key) = envelope.keys().next() {
        return Err(bad(format!("unknown field \"{key}\"")));
    }
    let Value::Object(account) = account else {
        return Err(bad("account must be an object"));
    };
    account_fields(account)
}

fn account_fields(account: Map<String, Value>) -> Result<AccountPatch, ApiError> {
    let mut patch = AccountPatch::default();
    for (key, value) in account {
        let name = key.as_str();
        match name {
            "email" => patch.email = Some(email(name, value)?),
            "first_name" => patch.first_name = Some(nullable_string(name, value)?),
            "last_name" => patch.last_name = Some(nullable_string(name, value)?),
            "status" => {
                let s = string(name, value)?;
                let status = Status::parse(&s).ok_or_else(|| {
                    ApiError::Invalid(format!(
                        "status must be \"active\" or \"suspended\", not \"{s}\""
                    ))
                })?;
                patch.status = Some(status);
            }
            "role" => {
                let role = string(name, value)?;
                if role.trim().is_empty() {
                    return Err(ApiError::Invalid("role must not be empty".into()));
                }
                patch.role = Some(role);
            }
            "licences" => patch.licences = Some(string_array(name, value)?),
            "department" => patch.department = Some(nullable_string(name, value)?),
            "employee_number" => patch.employee_number = Some(nullable_string(name, value)?),
            "external_ref" => patch.external_ref = Some(nullable_string(name, value)?),
            "phone" => patch.phone = Some(nullable_string(name, value)?),
            "manager_id" => patch.manager_id = Some(manager_id(value)?),
            "metadata" => patch.metadata = Some(string_map(name, value)?),
            // Read-only fields a client may echo back; they are ignored.
            "id" | "created_at" | "updated_at" => {}
            _ => return Err(bad(format!("unknown field \"{key}\""))),
        }
    }
    Ok(patch)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(message.into())
}

fn string(name: &str, value: Value) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(bad(format!("{name} must be a string"))),
    }
}

fn nullable_string(name: &str, value: Value) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(bad(format!("{name} must be a string or null"))),
    }
}

fn string_array(name: &str, value: Value) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(bad(format!("{name} must be an array of strings")));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Ok(s),
            _ => Err(bad(format!("{name} must be an array of strings"))),
        })
        .collect()
}

fn string_map(
    name: &str,
    value: Value,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    match value {
        Value::Null => Ok(Default::default()),
        Value::Object(fields) => fields
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                _ => Err(bad(format!("{name} values must be strings ({k})"))),
            })
            .collect(),
        _ => Err(bad(format!("{name} must be an object of strings"))),
    }
}

fn email(name: &str, value: Value) -> Result<String, ApiError> {
    let email = string(name, value)?;
    if looks_like_email(&email) {
        Ok(email)
    } else {
        Err(ApiError::Invalid(format!(
            "email must be a valid email address, not \"{email}\""
        )))
    }
}

/// One `@` with something on each side and no whitespace: all this API checks.
fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn manager_id(value: Value) -> Result<Option<u64>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_u64() {
            Some(id) if id >= 1 => Ok(Some(id)),
            _ => Err(ApiError::Invalid(format!(
                "manager_id must be a positive integer, not {n}"
            ))),
        },
        _ => Err(bad("manager_id must be an integer or null")),
    }
}

/// Parses an account id from the path; anything but plain digits is unknown.
pub(crate) fn account_id(raw: &str) -> Result<u64, ApiError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_found(raw));
    }
    raw.parse().map_err(|_| not_found(raw))
}

/// The 404 for an account id that does not exist.
pub(crate) fn not_found(id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("account {id} not found"))
}

/// What a list request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListQuery {
    /// 1-based page number.
    pub(crate) page: usize,
    pub(crate) per_page: usize,
    /// Case-insensitive exact email to match, if any.
    pub(crate) email: Option<String>,
}

/// Parses `page`, `per_page` and `email`; other parameters are ignored.
pub(crate) fn list_query(params: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    let number = |name: &str, default: usize| -> Result<usize, ApiError> {
        match params.get(name) {
            None => Ok(default),
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if n >= 1 && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
                _ => Err(bad(format!("{name} must be a positive integer"))),
            },
        }
    };
    let page = number("page", 1)?;
    let per_page = number("per_page", DEFAULT_PER_PAGE)?;
    if per_page > MAX_PER_PAGE {
        return Err(bad(format!("per_page must be at most {MAX_PER_PAGE}")));
    }
    Ok(ListQuery {
        page,
        per_page,
        email: params.get("email").cloned(),
    })
}
