//! A small schemaless JSON API for the vendor-profile tests: each profile gives it its own
//! shape (collection path, optional `{location}` segment, id field and kind, envelope, unique
//! and required fields, auth, PATCH or PUT only, and a groups API with per-member calls), so
//! that five products with five different APIs are each served by gateway.toml alone.
//!
//! Records keep whatever JSON fields the gateway sends; PATCH merges top-level fields, PUT
//! replaces the record (keeping its id). Lists answer `{"items": [...], "total": n}` with
//! `offset`/`limit` and exact-match filters on any top-level field (`?mail=a@b.c`).
//!
//! Every request is recorded with its headers ([`ProfileApi::requests`]), so a test can
//! assert what the gateway sent on each call (a per-location header) and what it never sent
//! (a write to a record made by hand in the product, [`ProfileApi::add_by_hand`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

/// How records are identified.
#[derive(Clone, Copy, Debug)]
pub enum IdKind {
    /// 1, 2, 3, ... as JSON numbers.
    Number,
    /// "u-1", "u-2", ... as strings.
    Text,
}

/// One product's API shape.
#[derive(Clone, Debug)]
pub struct Shape {
    /// e.g. `/api/v2/users` or `/api/locations/{location}/employees`.
    pub users: &'static str,
    /// Groups at this path, with `PUT|DELETE {groups}/{id}/members/{member}`.
    pub groups: Option<&'static str>,
    pub id_field: &'static str,
    pub id_kind: IdKind,
    /// Single records travel as `{"<envelope>": {...}}`.
    pub envelope: Option<&'static str>,
    /// A field no two records (of one location) may share, compared ignoring case: 409.
    pub unique: Option<&'static str>,
    /// Fields a create and a replace must carry (non-empty): 422 otherwise.
    pub required: &'static [&'static str],
    /// The header every request must carry, and its value.
    pub auth: (&'static str, String),
    /// Whether PATCH is offered (else 405).
    pub patch: bool,
}

/// The most records one cursor page holds.
pub const CURSOR_PAGE_CAP: usize = 2;

/// What a few APIs add to a [`Shape`]: cursor paging and an OAuth2 token endpoint.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// Lists page by `?cursor=C&limit=N` and answer `{"results": [...], "next_cursor": C|null}`
    /// instead of offset/limit and `{"items", "total"}`; a page holds at most
    /// [`CURSOR_PAGE_CAP`] records whatever `limit` asks, so a client must follow the cursor.
    pub cursor: bool,
    /// `POST <path>` issues `token` for client credentials `(id, secret)` (HTTP Basic or form);
    /// the shape's `auth` should then ask for `Authorization: Bearer <token>`.
    pub token_endpoint: Option<TokenEndpoint>,
}

/// An OAuth2 client-credentials token endpoint (RFC 6749 §4.4) issuing one fixed token.
#[derive(Clone, Debug)]
pub struct TokenEndpoint {
    pub path: &'static str,
    pub client_id: &'static str,
    pub client_secret: &'static str,
    pub token: &'static str,
}

#[derive(Default)]
struct Data {
    /// (location, id) -> record; location is "" without a `{location}` segment.
    users: BTreeMap<(String, String), Value>,
    groups: BTreeMap<String, Value>,
    next: u64,
}

/// One request the API received, as it arrived (before the credentials are checked).
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query, e.g. `/api/locations/loc-leeds/employees?mail=a%40b.c`.
    pub uri: String,
    /// Header names lower-cased; a header sent twice keeps its last value.
    pub headers: BTreeMap<String, String>,
}

impl Received {
    /// The value of header `name` (lower-case), if it was sent as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

struct Inner {
    shape: Shape,
    extras: Extras,
    data: Mutex<Data>,
    requests: Mutex<Vec<Received>>,
}

/// A running fake API; clones share its data.
#[derive(Clone)]
pub struct ProfileApi {
    inner: Arc<Inner>,
    /// `http://127.0.0.1:port`.
    pub url: String,
}

type Shared = State<Arc<Inner>>;

impl ProfileApi {
    /// Serves an empty API of this shape on loopback until the test ends.
    pub async fn start(shape: Shape) -> Self {
        Self::start_with(shape, Extras::default()).await
    }

    /// Like [`ProfileApi::start`], with cursor paging or a token endpoint.
    pub async fn start_with(shape: Shape, extras: Extras) -> Self {
        scim_gateway::crypto::install_provider();
        let inner = Arc::new(Inner {
            extras: extras.clone(),
            shape: shape.clone(),
            data: Mutex::new(Data::default()),
            requests: Mutex::new(Vec::new()),
        });
        let mut item = axum::routing::get(read).put(replace).delete(remove);
        if shape.patch {
            item = item.patch(patch);
        }
        let mut router = Router::new()
            .route(shape.users, axum::routing::get(list).post(create))
            .route(&format!("{}/{{id}}", shape.users), item);
        if let Some(groups) = shape.groups {
            router = router
                .route(groups, axum::routing::post(create_group))
                .route(
                    &format!("{groups}/{{id}}"),
                    axum::routing::patch(rename_group)
                        .put(rename_group)
                        .delete(remove_group),
                )
                .route(
                    &format!("{groups}/{{id}}/members/{{member}}"),
                    axum::routing::put(add_member).delete(remove_member),
                );
        }
        let mut app = router
            .layer(from_fn_with_state(inner.clone(), guard))
            .with_state(inner.clone());
        if let Some(endpoint) = extras.token_endpoint {
            app = app.route(
                endpoint.path,
                axum::routing::post(move |headers, body| {
                    issue_token(endpoint.clone(), headers, body)
                }),
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { inner, url }
    }

    /// Every user record of a location ("" without locations), in id order.
    pub fn users_in(&self, location: &str) -> Vec<Value> {
        lock(&self.inner)
            .users
            .iter()
            .filter(|((loc, _), _)| loc == location)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// The record of a location whose `field` equals `value`.
    pub fn user_where(&self, location: &str, field: &str, value: &str) -> Option<Value> {
        self.users_in(location)
            .into_iter()
            .find(|r| r.get(field).and_then(Value::as_str) == Some(value))
    }

    /// Sets a field of a record behind the gateway's back (an admin editing in the product).
    pub fn edit_user(&self, location: &str, id: &str, field: &str, value: Value) {
        let mut data = lock(&self.inner);
        let record = data
            .users
            .get_mut(&(location.to_owned(), id.to_owned()))
            .expect("record exists");
        record[field] = value;
    }

    /// Makes a record the way an admin does in the product's own UI: not through the API (so
    /// no request is recorded), with a new id; returns the id as the API shows it in paths.
    pub fn add_by_hand(&self, location: &str, fields: Value) -> String {
        let mut data = lock(&self.inner);
        let (key, id) = new_id(&self.inner, &mut data);
        let mut record = fields;
        record[self.inner.shape.id_field] = id;
        data.users
            .insert((location.to_owned(), key.clone()), record);
        key
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Received> {
        self.inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every group record, each with a `members` array of member ids.
    pub fn groups(&self) -> Vec<Value> {
        lock(&self.inner).groups.values().cloned().collect()
    }
}

fn lock(inner: &Inner) -> MutexGuard<'_, Data> {
    inner.data.lock().unwrap_or_else(PoisonError::into_inner)
}

fn respond(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A refused request: its status and message.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        respond(self.0, &json!({"message": self.1}))
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    Refusal(status, message.to_owned()).into_response()
}

async fn guard(State(inner): Shared, request: Request, next: Next) -> Response {
    let received = Received {
        method: request.method().to_string(),
        uri: request.uri().to_string(),
        headers: request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
    };
    inner
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(received);
    let (name, value) = &inner.shape.auth;
    let ok = request
        .headers()
        .get(*name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == value);
    if !ok {
        return error(StatusCode::UNAUTHORIZED, "bad credentials");
    }
    next.run(request).await
}

/// The `{location}` segment of the request, "" without one.
fn location_of(params: &BTreeMap<String, String>) -> String {
    params.get("location").cloned().unwrap_or_default()
}

fn unwrap_body(inner: &Inner, body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| Refusal(StatusCode::BAD_REQUEST, format!("bad JSON: {e}")))?;
    let record = match inner.shape.envelope {
        Some(e) => doc.get(e).cloned().unwrap_or(Value::Null),
        None => doc,
    };
    match record {
        Value::Object(m) => Ok(m),
        _ => Err(Refusal(
            StatusCode::BAD_REQUEST,
            "expected an object".into(),
        )),
    }
}

fn wrap(inner: &Inner, status: StatusCode, record: &Value) -> Response {
    let body = match inner.shape.envelope {
        Some(e) => json!({ e: record }),
        None => record.clone(),
    };
    respond(status, &body)
}

fn check(
    inner: &Inner,
    data: &Data,
    location: &str,
    record: &Map<String, Value>,
    except: Option<&str>,
) -> Result<(), Refusal> {
    for field in inner.shape.required {
        let present = record
            .get(*field)
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
        if !present {
            return Err(Refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{field} is required"),
            ));
        }
    }
    if let Some(field) = inner.shape.unique
        && let Some(value) = record.get(field).and_then(Value::as_str)
    {
        let taken = data.users.iter().any(|((loc, id), r)| {
            loc == location
                && Some(id.as_str()) != except
                && r.get(field)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
        });
        if taken {
            return Err(Refusal(StatusCode::CONFLICT, format!("{field} taken")));
        }
    }
    Ok(())
}

fn new_id(inner: &Inner, data: &mut Data) -> (String, Value) {
    data.next += 1;
    match inner.shape.id_kind {
        IdKind::Number => (data.next.to_string(), json!(data.next)),
        IdKind::Text => (
            format!("u-{}", data.next),
            json!(format!("u-{}", data.next)),
        ),
    }
}

async fn create(
    State(inner): Shared,
    Path(params): Path<BTreeMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let location = location_of(&params);
    let mut record = match unwrap_body(&inner, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut data = lock(&inner);
    if let Err(e) = check(&inner, &data, &location, &record, None) {
        return e.into_response();
    }
    let (key, id) = new_id(&inner, &mut data);
    record.insert(inner.shape.id_field.to_owned(), id);
    let record = Value::Object(record);
    data.users.insert((location, key), record.clone());
    wrap(&inner, StatusCode::CREATED, &record)
}

async fn list(
    State(inner): Shared,
    Path(params): Path<BTreeMap<String, String>>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let location = location_of(&params);
    let cursor = inner.extras.cursor;
    let offset_param = if cursor { "cursor" } else { "offset" };
    let offset: usize = query
        .get(offset_param)
        .and_then(|o| o.trim_start_matches('c').parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let data = lock(&inner);
    let matching: Vec<Value> = data
        .users
        .iter()
        .filter(|((loc, _), _)| *loc == location)
        .map(|(_, r)| r)
        .filter(|r| {
            query
                .iter()
                .filter(|(k, _)| *k != offset_param && *k != "limit")
                .all(|(k, v)| match r.get(k) {
                    Some(Value::String(s)) => s.eq_ignore_ascii_case(v),
                    Some(other) => serde_json::from_str::<Value>(v).ok().as_ref() == Some(other),
                    None => false,
                })
        })
        .cloned()
        .collect();
    let total = matching.len();
    let limit = if cursor {
        limit.min(CURSOR_PAGE_CAP)
    } else {
        limit
    };
    let items: Vec<Value> = matching.into_iter().skip(offset).take(limit).collect();
    if cursor {
        let next = (offset + items.len() < total).then(|| format!("c{}", offset + items.len()));
        return respond(
            StatusCode::OK,
            &json!({"results": items, "next_cursor": next}),
        );
    }
    respond(StatusCode::OK, &json!({"items": items, "total": total}))
}

/// Path params `{location}` (optional) and `{id}`.
fn key_of(params: &BTreeMap<String, String>) -> (String, String) {
    (
        location_of(params),
        params.get("id").cloned().unwrap_or_default(),
    )
}

async fn read(State(inner): Shared, Path(params): Path<BTreeMap<String, String>>) -> Response {
    let data = lock(&inner);
    match data.users.get(&key_of(&params)) {
        Some(r) => wrap(&inner, StatusCode::OK, r),
        None => error(StatusCode::NOT_FOUND, "no such user"),
    }
}

async fn write(
    inner: Arc<Inner>,
    params: BTreeMap<String, String>,
    body: &[u8],
    merge: bool,
) -> Response {
    let key = key_of(&params);
    let incoming = match unwrap_body(&inner, body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut data = lock(&inner);
    let Some(existing) = data.users.get(&key).cloned() else {
        return error(StatusCode::NOT_FOUND, "no such user");
    };
    let mut record = if merge {
        existing.as_object().cloned().unwrap_or_default()
    } else {
        Map::new()
    };
    record.extend(incoming);
    record.insert(
        inner.shape.id_field.to_owned(),
        existing[inner.shape.id_field].clone(),
    );
    if let Err(e) = check(&inner, &data, &key.0, &record, Some(&key.1)) {
        return e.into_response();
    }
    let record = Value::Object(record);
    data.users.insert(key, record.clone());
    wrap(&inner, StatusCode::OK, &record)
}

async fn replace(
    State(inner): Shared,
    Path(params): Path<BTreeMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    write(inner, params, &body, false).await
}

async fn patch(
    State(inner): Shared,
    Path(params): Path<BTreeMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    write(inner, params, &body, true).await
}

async fn remove(State(inner): Shared, Path(params): Path<BTreeMap<String, String>>) -> Response {
    match lock(&inner).users.remove(&key_of(&params)) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => error(StatusCode::NOT_FOUND, "no such user"),
    }
}

async fn create_group(State(inner): Shared, body: axum::body::Bytes) -> Response {
    let mut record = match unwrap_body(&inner, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut data = lock(&inner);
    data.next += 1;
    let id = format!("g-{}", data.next);
    record.insert("id".into(), json!(id));
    record.insert("members".into(), json!([]));
    let record = Value::Object(record);
    data.groups.insert(id, record.clone());
    wrap(&inner, StatusCode::CREATED, &record)
}

async fn rename_group(
    State(inner): Shared,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let incoming = match unwrap_body(&inner, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut data = lock(&inner);
    let Some(Value::Object(group)) = data.groups.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "no such group");
    };
    group.extend(
        incoming
            .into_iter()
            .filter(|(k, _)| k != "id" && k != "members"),
    );
    let group = Value::Object(group.clone());
    wrap(&inner, StatusCode::OK, &group)
}

async fn remove_group(State(inner): Shared, Path(id): Path<String>) -> Response {
    match lock(&inner).groups.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => error(StatusCode::NOT_FOUND, "no such group"),
    }
}

async fn member_change(inner: &Inner, id: &str, member: &str, add: bool) -> Response {
    let mut data = lock(inner);
    let known = data.users.keys().any(|(_, m)| m == member);
    let Some(group) = data.groups.get_mut(id) else {
        return error(StatusCode::NOT_FOUND, "no such group");
    };
    let members = group["members"].as_array_mut().expect("members array");
    let at = members.iter().position(|m| m == member);
    match (add, at, known) {
        (true, _, false) => error(StatusCode::NOT_FOUND, "no such user"),
        (true, Some(_), _) => error(StatusCode::CONFLICT, "already a member"),
        (true, None, _) => {
            members.push(json!(member));
            StatusCode::NO_CONTENT.into_response()
        }
        (false, Some(i), _) => {
            members.remove(i);
            StatusCode::NO_CONTENT.into_response()
        }
        (false, None, _) => error(StatusCode::NOT_FOUND, "not a member"),
    }
}

async fn add_member(State(inner): Shared, Path((id, member)): Path<(String, String)>) -> Response {
    member_change(&inner, &id, &member, true).await
}

async fn remove_member(
    State(inner): Shared,
    Path((id, member)): Path<(String, String)>,
) -> Response {
    member_change(&inner, &id, &member, false).await
}

/// The token endpoint: the client's id and secret as HTTP Basic or in the form body.
async fn issue_token(
    endpoint: TokenEndpoint,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    use base64::Engine;
    let form: BTreeMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let client = basic
        .as_deref()
        .and_then(|b| b.split_once(':'))
        .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        .or_else(|| {
            Some((
                form.get("client_id")?.clone(),
                form.get("client_secret")?.clone(),
            ))
        });
    let known = client
        .is_some_and(|(id, secret)| id == endpoint.client_id && secret == endpoint.client_secret);
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") || !known {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    respond(
        StatusCode::OK,
        &json!({"access_token": endpoint.token, "token_type": "Bearer", "expires_in": 3600}),
    )
}
