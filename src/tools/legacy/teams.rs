//! The sample API's teams: `/api/v1/teams` with integer ids, a `{"team": …}` envelope, and
//! members added and removed one account at a time (`PUT`/`DELETE
//! /api/v1/teams/{id}/members/{account_id}`), the shape of many products' group APIs; the
//! other shape, the whole list of member ids written with the team (`member_ids` in a `PATCH`),
//! is served too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Value, json};

use super::State;
use super::error::{ApiError, json_response};
use super::input;

/// One team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: u64,
    pub name: String,
    pub external_ref: Option<String>,
    pub members: BTreeSet<u64>,
}

impl Team {
    /// The JSON the API answers with.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "external_ref": self.external_ref,
            "member_ids": self.members,
        })
    }
}

/// Teams by id.
#[derive(Debug, Default)]
pub(crate) struct Teams {
    table: Mutex<(BTreeMap<u64, Team>, u64)>,
}

impl Teams {
    fn lock(&self) -> MutexGuard<'_, (BTreeMap<u64, Team>, u64)> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every team, by id.
    pub(crate) fn all(&self) -> Vec<Team> {
        self.lock().0.values().cloned().collect()
    }
}

/// The team routes, merged into the API's router.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/api/v1/teams", axum::routing::post(create))
        .route("/api/v1/teams/{id}", get(read).patch(rename).delete(remove))
        .route(
            "/api/v1/teams/{id}/members/{account}",
            put(add_member).delete(remove_member),
        )
}

type Shared = Extract<Arc<State>>;

/// A team's fields as a request sends them.
struct TeamFields {
    name: Option<String>,
    external_ref: Option<String>,
    /// The whole member list, replacing the one the team has.
    member_ids: Option<BTreeSet<u64>>,
}

/// `{"team": {"name": "...", "external_ref": "...", "member_ids": [1, 2]}}`; `name` required
/// on create; every member must be an existing account.
fn team_fields(state: &State, body: Result<Bytes, BytesRejection>) -> Result<TeamFields, ApiError> {
    let body = body.map_err(|e| ApiError::BadRequest(format!("cannot read body: {e}")))?;
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    let team = doc
        .get("team")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::BadRequest("expected {\"team\": {...}}".into()))?;
    let text = |key: &str| match team.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::BadRequest(format!("{key} must be a string"))),
    };
    let name = text("name")?;
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::Invalid("name must not be empty".into()));
    }
    let member_ids = match team.get("member_ids") {
        None | Some(Value::Null) => None,
        Some(Value::Array(ids)) => Some(
            ids.iter()
                .map(|id| {
                    let id = id.as_u64().ok_or_else(|| {
                        ApiError::BadRequest("member_ids must hold account ids (integers)".into())
                    })?;
                    match state.store.get(id) {
                        Some(_) => Ok(id),
                        None => Err(input::not_found(id)),
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => return Err(ApiError::BadRequest("member_ids must be an array".into())),
    };
    Ok(TeamFields {
        name,
        external_ref: text("external_ref")?,
        member_ids,
    })
}

fn team_response(status: StatusCode, team: &Team) -> Response {
    json_response(status, &json!({"team": team.to_json()}))
}

fn team_not_found(id: u64) -> ApiError {
    ApiError::NotFound(format!("team {id} not found"))
}

async fn create(
    Extract(state): Shared,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let fields = team_fields(&state, body)?;
    let name = fields
        .name
        .ok_or_else(|| ApiError::Invalid("name is required".into()))?;
    let mut table = state.teams.lock();
    let (teams, next) = &mut *table;
    if teams.values().any(|t| t.name.eq_ignore_ascii_case(&name)) {
        return Err(ApiError::Duplicate);
    }
    *next += 1;
    let team = Team {
        id: *next,
        name,
        external_ref: fields.external_ref,
        members: fields.member_ids.unwrap_or_default(),
    };
    teams.insert(team.id, team.clone());
    Ok(team_response(StatusCode::CREATED, &team))
}

async fn read(Extract(state): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = input::account_id(&id)?;
    let table = state.teams.lock();
    let team = table.0.get(&id).ok_or_else(|| team_not_found(id))?;
    Ok(team_response(StatusCode::OK, team))
}

async fn rename(
    Extract(state): Shared,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = input::account_id(&id)?;
    let fields = team_fields(&state, body)?;
    let mut table = state.teams.lock();
    let team = table.0.get_mut(&id).ok_or_else(|| team_not_found(id))?;
    if let Some(name) = fields.name {
        team.name = name;
    }
    if fields.external_ref.is_some() {
        team.external_ref = fields.external_ref;
    }
    if let Some(members) = fields.member_ids {
        team.members = members;
    }
    Ok(team_response(StatusCode::OK, team))
}

async fn remove(Extract(state): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = input::account_id(&id)?;
    state
        .teams
        .lock()
        .0
        .remove(&id)
        .ok_or_else(|| team_not_found(id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Adds an existing account; adding one twice is a 409, like many real APIs.
async fn add_member(
    Extract(state): Shared,
    Path((id, account)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, account) = (input::account_id(&id)?, input::account_id(&account)?);
    if state.store.get(account).is_none() {
        return Err(input::not_found(account));
    }
    let mut table = state.teams.lock();
    let team = table.0.get_mut(&id).ok_or_else(|| team_not_found(id))?;
    if !team.members.insert(account) {
        return Err(ApiError::Duplicate);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes a member; one not in the team is a 404.
async fn remove_member(
    Extract(state): Shared,
    Path((id, account)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, account) = (input::account_id(&id)?, input::account_id(&account)?);
    let mut table = state.teams.lock();
    let team = table.0.get_mut(&id).ok_or_else(|| team_not_found(id))?;
    if !team.members.remove(&account) {
        return Err(ApiError::NotFound(format!(
            "account {account} is not in team {id}"
        )));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
