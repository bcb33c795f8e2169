//! The sample API's permissive resource, `/api/v1/members`: bare JSON objects stored as given
//! (any fields, any values, no required field, no uniqueness check) under string ids, with
//! offset paging. It exists so a gateway mapping can be tested without the accounts' rules
//! (an email address as key, unique emails, integer manager ids) deciding the outcome: the
//! external conformance suite runs unadapted against it (scripts/conformance/open.toml).
//!
//! - `POST /api/v1/members` stores the body's fields (a client's `id` is ignored) and answers
//!   201 with the member, its `id` added.
//! - `GET /api/v1/members/{id}`, `DELETE` (204).
//! - `PUT` replaces every field; `PATCH` is a JSON merge patch (RFC 7396: `null` removes).
//! - `GET /api/v1/members?offset=0&limit=50&FIELD=VALUE`: `{"items": [...], "total": n}` in
//!   creation order; each other parameter keeps the members whose top-level FIELD is the
//!   string VALUE (exact match).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::State;
use super::error::{ApiError, json_response};
use super::input::{self, QueryString};

/// The largest page `limit` may ask for.
pub(crate) const MAX_LIMIT: usize = 500;
/// The page size when `limit` is absent.
const DEFAULT_LIMIT: usize = 50;

type Fields = Map<String, Value>;

/// Members by creation number (so lists keep creation order), and the last number given.
#[derive(Debug, Default)]
pub(crate) struct Members {
    table: Mutex<(BTreeMap<u64, Fields>, u64)>,
}

impl Members {
    fn lock(&self) -> MutexGuard<'_, (BTreeMap<u64, Fields>, u64)> {
        // Every write is one insert or remove: a poisoned table is still sound.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every member as the API returns it, in creation order.
    pub(crate) fn all(&self) -> Vec<Value> {
        self.lock()
            .0
            .iter()
            .map(|(n, fields)| to_json(*n, fields))
            .collect()
    }
}

/// The member routes, merged into the API's router.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/members", get(list).post(create))
        .route(
            "/api/v1/members/{id}",
            get(read).put(replace).patch(patch).delete(remove),
        )
}

type Shared = Extract<Arc<State>>;
type Body = Result<Bytes, BytesRejection>;

/// The string id of the member with creation number `n`: not a number, so a client that
/// assumes integer ids is caught.
fn id_of(n: u64) -> String {
    format!("mbr-{n}")
}

/// The creation number behind an id; anything else (`mbr-01` too) is not found.
fn number_of(id: &str) -> Result<u64, ApiError> {
    id.strip_prefix("mbr-")
        .and_then(|digits| digits.parse().ok())
        .filter(|n| id_of(*n) == id)
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("member {id:?} not found"))
}

fn to_json(n: u64, fields: &Fields) -> Value {
    let mut member = fields.clone();
    member.insert("id".into(), Value::String(id_of(n)));
    Value::Object(member)
}

/// The body as a JSON object, without the server-owned `id`.
fn object(body: Body) -> Result<Fields, ApiError> {
    let body = body.map_err(|e| ApiError::BadRequest(format!("cannot read body: {e}")))?;
    match serde_json::from_slice(&body) {
        Ok(Value::Object(mut fields)) => {
            fields.remove("id");
            Ok(fields)
        }
        Ok(_) => Err(ApiError::BadRequest("expected a JSON object".into())),
        Err(e) => Err(ApiError::BadRequest(format!("malformed JSON: {e}"))),
    }
}

/// RFC 7396 JSON merge patch of `patch` onto `target`.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(fields) = target {
        for (key, value) in changes {
            if value.is_null() {
                fields.remove(key);
            } else {
                merge(fields.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

async fn create(Extract(state): Shared, body: Body) -> Result<Response, ApiError> {
    let fields = object(body)?;
    let mut table = state.members.lock();
    let (members, last) = &mut *table;
    *last += 1;
    let member = to_json(*last, &fields);
    members.insert(*last, fields);
    Ok(json_response(StatusCode::CREATED, &member))
}

async fn read(Extract(state): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let n = number_of(&id)?;
    let table = state.members.lock();
    let fields = table.0.get(&n).ok_or_else(|| not_found(&id))?;
    Ok(json_response(StatusCode::OK, &to_json(n, fields)))
}

async fn replace(
    Extract(state): Shared,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let n = number_of(&id)?;
    let fields = object(body)?;
    let mut table = state.members.lock();
    let slot = table.0.get_mut(&n).ok_or_else(|| not_found(&id))?;
    *slot = fields;
    Ok(json_response(StatusCode::OK, &to_json(n, slot)))
}

async fn patch(
    Extract(state): Shared,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let n = number_of(&id)?;
    let changes = Value::Object(object(body)?);
    let mut table = state.members.lock();
    let slot = table.0.get_mut(&n).ok_or_else(|| not_found(&id))?;
    let mut merged = Value::Object(std::mem::take(slot));
    merge(&mut merged, &changes);
    if let Value::Object(fields) = merged {
        *slot = fields;
    }
    Ok(json_response(StatusCode::OK, &to_json(n, slot)))
}

async fn remove(Extract(state): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let n = number_of(&id)?;
    state
        .members
        .lock()
        .0
        .remove(&n)
        .ok_or_else(|| not_found(&id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A whole number query parameter, `default` when absent.
fn count_param(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
) -> Result<usize, ApiError> {
    params.get(name).map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| ApiError::BadRequest(format!("{name} must be a whole number")))
    })
}

async fn list(Extract(state): Shared, query: QueryString) -> Result<Response, ApiError> {
    let params = input::query_params(query)?;
    let offset = count_param(&params, "offset", 0)?;
    let limit = count_param(&params, "limit", DEFAULT_LIMIT)?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must lie between 1 and {MAX_LIMIT}"
        )));
    }
    let wanted: Vec<(&String, &String)> = params
        .iter()
        .filter(|(k, _)| *k != "offset" && *k != "limit")
        .collect();
    let table = state.members.lock();
    let matches: Vec<(&u64, &Fields)> = table
        .0
        .iter()
        .filter(|(_, fields)| {
            wanted
                .iter()
                .all(|(k, v)| fields.get(*k).and_then(Value::as_str) == Some(v.as_str()))
        })
        .collect();
    let items: Vec<Value> = matches
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(n, fields)| to_json(**n, fields))
        .collect();
    let body = json!({"items": items, "total": matches.len()});
    Ok(json_response(StatusCode::OK, &body))
}
