//! A second fake user API, shaped unlike the sample legacy API (string ids,
//! no envelope, a nested name, semicolon-joined tags, offset/limit paging, no
//! PATCH and no search), to prove the gateway's mapping is not hard-wired to
//! one downstream. Self-contained so it can move into the integration tests'
//! support folder unchanged.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State as Extract};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest (and default) page a list request gets; larger limits are clamped.
pub const MAX_LIMIT: usize = 50;

/// How many requests the directory received, by HTTP method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectoryCounts {
    /// `GET` requests.
    pub gets: u64,
    /// `POST` requests.
    pub posts: u64,
    /// `PUT` requests.
    pub puts: u64,
    /// `PATCH` requests (always refused with 405).
    pub patches: u64,
    /// `DELETE` requests.
    pub deletes: u64,
    /// Requests with any other method.
    pub others: u64,
}

/// A fake people directory served under `/v2/people`.
///
/// Cloning is cheap and every clone shares the same data.
#[derive(Clone)]
pub struct FakeDirectory {
    state: Arc<State>,
}

struct State {
    token: String,
    people: Mutex<People>,
    counts: [AtomicU64; 6],
    fail_next: AtomicUsize,
}

#[derive(Default)]
struct People {
    /// Keyed by creation sequence, so lists come out in creation order.
    by_seq: BTreeMap<u64, Person>,
    next_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Person {
    id: String,
    fields: PersonFields,
    created: String,
}

/// Everything a client writes on create or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PersonFields {
    login: String,
    first: Option<String>,
    last: Option<String>,
    title: Option<String>,
    enabled: bool,
    tags: String,
}

impl Person {
    fn to_json(&self) -> Value {
        let f = &self.fields;
        json!({
            "id": self.id,
            "login": f.login,
            "profile": {"name": {"first": f.first, "last": f.last}, "title": f.title},
            "enabled": f.enabled,
            "tags": f.tags,
            "created": self.created,
        })
    }
}

/// Every way a request to the directory can fail; the body is `{"message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum DirectoryError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("no such person")]
    NotFound,
    #[error("login exists")]
    LoginExists,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("injected failure")]
    Injected,
}

impl IntoResponse for DirectoryError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::LoginExists => StatusCode::CONFLICT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Injected => StatusCode::INTERNAL_SERVER_ERROR,
        };
        json_response(status, &json!({"message": self.to_string()}))
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl FakeDirectory {
    /// Creates an empty directory that accepts `Authorization: Bearer <bearer_token>`.
    pub fn new(bearer_token: impl Into<String>) -> Self {
        Self {
            state: Arc::new(State {
                token: bearer_token.into(),
                people: Mutex::new(People::default()),
                counts: Default::default(),
                fail_next: AtomicUsize::new(0),
            }),
        }
    }

    /// Returns the router serving every `/v2/people` route, state attached.
    pub fn router(&self) -> Router {
        let state = Arc::clone(&self.state);
        Router::new()
            .route("/v2/people", get(list).post(create))
            .route("/v2/people/{id}", get(read).put(replace).delete(remove))
            .fallback(|| async { DirectoryError::NotFound })
            .method_not_allowed_fallback(|| async { DirectoryError::MethodNotAllowed })
            .layer(from_fn_with_state(Arc::clone(&state), guard))
            .with_state(state)
    }

    /// Snapshot of all people, in creation order, as the JSON the API returns.
    pub fn users(&self) -> Vec<Value> {
        self.state
            .lock()
            .by_seq
            .values()
            .map(Person::to_json)
            .collect()
    }

    /// Counts of the requests received so far, by HTTP method.
    pub fn request_count(&self) -> DirectoryCounts {
        let c = |i: usize| self.state.counts[i].load(Ordering::Relaxed);
        DirectoryCounts {
            gets: c(0),
            posts: c(1),
            puts: c(2),
            patches: c(3),
            deletes: c(4),
            others: c(5),
        }
    }

    /// Makes the next `n` requests answer 500 without touching any data.
    pub fn fail_next(&self, n: usize) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }
}

/// Serves the directory on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    dir: FakeDirectory,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    scim_gateway::crypto::install_provider();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "fake directory listening");
    }
    axum::serve(listener, dir.router())
        .with_graceful_shutdown(shutdown)
        .await
}

impl State {
    fn lock(&self) -> MutexGuard<'_, People> {
        // Every write is a single insert or remove, so a poisoned map is still sound.
        self.people.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl People {
    fn login_taken(&self, login: &str, except_id: Option<&str>) -> bool {
        let login = login.to_lowercase();
        self.by_seq
            .values()
            .any(|p| Some(p.id.as_str()) != except_id && p.fields.login.to_lowercase() == login)
    }

    fn seq_of(&self, id: &str) -> Option<u64> {
        self.by_seq
            .iter()
            .find_map(|(seq, p)| (p.id == id).then_some(*seq))
    }
}

/// Counts the request, answers a pending injected failure, then checks the bearer token.
async fn guard(Extract(state): Extract<Arc<State>>, request: Request, next: Next) -> Response {
    let slot = match *request.method() {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        _ => 5,
    };
    state.counts[slot].fetch_add(1, Ordering::Relaxed);
    let failing = state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return DirectoryError::Injected.into_response();
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if bool::from(token.as_bytes().ct_eq(state.token.as_bytes())) => {
            next.run(request).await
        }
        _ => DirectoryError::Unauthorized.into_response(),
    }
}

type Shared = Extract<Arc<State>>;
type Body = Result<Bytes, BytesRejection>;

async fn create(Extract(state): Shared, body: Body) -> Result<Response, DirectoryError> {
    let fields = person_body(body)?;
    let created = now_rfc3339();
    let person = {
        let mut people = state.lock();
        if people.login_taken(&fields.login, None) {
            return Err(DirectoryError::LoginExists);
        }
        people.next_seq += 1;
        let seq = people.next_seq;
        let person = Person {
            id: person_id(seq),
            fields,
            created,
        };
        people.by_seq.insert(seq, person.clone());
        person
    };
    Ok(json_response(StatusCode::CREATED, &person.to_json()))
}

async fn read(Extract(state): Shared, Path(id): Path<String>) -> Result<Response, DirectoryError> {
    let people = state.lock();
    let person = people
        .by_seq
        .values()
        .find(|p| p.id == id)
        .ok_or(DirectoryError::NotFound)?
        .to_json();
    drop(people);
    Ok(json_response(StatusCode::OK, &person))
}

async fn replace(
    Extract(state): Shared,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, DirectoryError> {
    let fields = person_body(body)?;
    let person = {
        let mut people = state.lock();
        let seq = people.seq_of(&id).ok_or(DirectoryError::NotFound)?;
        if people.login_taken(&fields.login, Some(&id)) {
            return Err(DirectoryError::LoginExists);
        }
        let person = people
            .by_seq
            .get_mut(&seq)
            .ok_or(DirectoryError::NotFound)?;
        person.fields = fields;
        person.to_json()
    };
    Ok(json_response(StatusCode::OK, &person))
}

async fn remove(
    Extract(state): Shared,
    Path(id): Path<String>,
) -> Result<Response, DirectoryError> {
    let mut people = state.lock();
    let seq = people.seq_of(&id).ok_or(DirectoryError::NotFound)?;
    people.by_seq.remove(&seq);
    drop(people);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `offset` (0-based, default 0) and `limit` (default and max 50, larger is
/// clamped); every other parameter is ignored: this API cannot search.
async fn list(
    Extract(state): Shared,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, DirectoryError> {
    let Query(params) = query.map_err(|e| DirectoryError::BadRequest(e.to_string()))?;
    let number = |name: &str, default: usize| match params.get(name) {
        None => Ok(default),
        Some(raw) => raw.parse::<usize>().map_err(|_| {
            DirectoryError::BadRequest(format!("{name} must be a non-negative integer"))
        }),
    };
    let offset = number("offset", 0)?;
    let limit = number("limit", MAX_LIMIT)?.min(MAX_LIMIT);
    let (items, count) = {
        let people = state.lock();
        let items: Vec<Value> = people
            .by_seq
            .values()
            .skip(offset)
            .take(limit)
            .map(Person::to_json)
            .collect();
        (items, people.by_seq.len())
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"items": items, "count": count}),
    ))
}

/// Parses a create/replace body. Unknown fields (and the read-only `id` and
/// `created`) are ignored; absent optional fields take their defaults.
fn person_body(body: Body) -> Result<PersonFields, DirectoryError> {
    let bad = |m: &str| DirectoryError::BadRequest(m.to_owned());
    let body = body.map_err(|e| DirectoryError::BadRequest(e.to_string()))?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| DirectoryError::BadRequest(format!("invalid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(bad("body must be a JSON object"));
    };
    let login = match object.get("login") {
        None | Some(Value::Null) => return Err(bad("login is required")),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(bad("login is required")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("login must be a string")),
    };
    let profile = object_or_empty(object.get("profile"), "profile")?;
    let name = object_or_empty(profile.get("name"), "profile.name")?;
    let enabled = match object.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("enabled must be a boolean")),
    };
    let tags = optional_string(object.get("tags"), "tags")?.unwrap_or_default();
    Ok(PersonFields {
        login,
        first: optional_string(name.get("first"), "profile.name.first")?,
        last: optional_string(name.get("last"), "profile.name.last")?,
        title: optional_string(profile.get("title"), "profile.title")?,
        enabled,
        tags,
    })
}

fn object_or_empty(
    value: Option<&Value>,
    name: &str,
) -> Result<Map<String, Value>, DirectoryError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(_) => Err(DirectoryError::BadRequest(format!(
            "{name} must be an object"
        ))),
    }
}

fn optional_string(value: Option<&Value>, name: &str) -> Result<Option<String>, DirectoryError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DirectoryError::BadRequest(format!(
            "{name} must be a string or null"
        ))),
    }
}

/// `usr_` and 12 hex digits that look random but are a bijection of the
/// sequence number over 48 bits, so ids never collide.
fn person_id(seq: u64) -> String {
    const MASK: u64 = (1 << 48) - 1;
    let mut x = seq & MASK;
    x = x.wrapping_mul(0x9E37_79B9_7F4B) & MASK;
    x ^= x >> 23;
    x = x.wrapping_mul(0xBF58_476D_1CE5) & MASK;
    x ^= x >> 19;
    format!("usr_{x:012x}")
}

fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_millisecond(now.millisecond()).unwrap_or(now);
    now.format(&Rfc3339).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot format the current time");
        String::from("1970-01-01T00:00:00Z")
    })
}
