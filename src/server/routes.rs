//! The SCIM endpoints under the base path: discovery, and Users and Groups through one set
//! of handlers generic over [`ResourceKind`]. Handlers only read the request
//! and pick the service call; the service does the work and the rescue answers errors.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, StatusCode, header};
use serde_json::Value;

use super::AppState;
use super::rescue::scim_response;
use super::scim_id::ScimId;
use crate::scim::discovery;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::list::{ListParams, Projection};
use crate::service::groups::GroupsService;
use crate::service::users::UsersService;
use crate::service::{RequestContext, ScimService, ServiceError};
use crate::telemetry::trail;

type Answer = Result<Response, ScimError>;

/// The decoded `name=value` pairs of a query string.
pub(super) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// A SCIM answer; a resource with `meta.version` also carries it as the ETag header.
fn ok(status: StatusCode, body: &Value) -> Response {
    note_user_name(body);
    let mut response = scim_response(status, body);
    copy_header(&mut response, header::ETAG, body, "/meta/version");
    response
}

/// Sets header `name` to the text at `pointer` in the answer's body, when there is text there
/// that a header can carry.
fn copy_header(response: &mut Response, name: HeaderName, body: &Value, pointer: &str) {
    if let Some(value) = body
        .pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|v| http::HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert(name, value);
    }
}

/// The version an `If-Match` header pins (RFC 7644 §3.14), `None` without one or for `*`.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ScimError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| {
            ScimError::new(
                412,
                None,
                format!("If-Match {text:?} names no version of this resource"),
            )
        })
}

fn service(e: ServiceError) -> ScimError {
    e.into()
}

/// Reads a JSON body within the size limit; a wrong media type, an oversized or malformed
/// body is the client's error and named as such.
async fn json_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Value, ScimError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or("").trim();
        if !matches!(media, "application/scim+json" | "application/json") {
            return Err(ScimError::new(
                415,
                None,
                format!("unsupported Content-Type {media:?}: send application/scim+json"),
            ));
        }
    }
    let bytes = axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|_| {
            ScimError::new(
                413,
                None,
                format!("request body larger than {} bytes", state.max_body_bytes),
            )
        })?;
    let body = serde_json::from_slice(&bytes).map_err(|e| {
        ScimError::bad_request(ScimType::InvalidSyntax, format!("malformed JSON body: {e}"))
    })?;
    note_user_name(&body);
    Ok(body)
}

/// Tells the activity record which user a request is about (see `telemetry::trail`).
fn note_user_name(body: &Value) {
    if let Some(name) = body.get("userName").and_then(Value::as_str) {
        trail::user_name(name);
    }
}

pub async fn service_provider_config(ctx: RequestContext) -> Response {
    ok(
        StatusCode::OK,
        &discovery::service_provider_config(&ctx.base_url),
    )
}

/// A list of discovery documents, served whole and one by id: `/ResourceTypes`, `/Schemas`.
pub trait Documents {
    /// What one document is, for a 404.
    const WHAT: &'static str;

    /// A tenant's documents, with URLs under `base_url`.
    fn of(s: &AppState, base_url: &str) -> Vec<Value>;
}

/// `/ResourceTypes`: Users, and Groups where the tenant serves them.
pub struct ResourceTypes;

impl Documents for ResourceTypes {
    const WHAT: &'static str = "resource type";

    fn of(s: &AppState, base_url: &str) -> Vec<Value> {
        let mut types = vec![discovery::user_resource_type(base_url, &s.advertised)];
        if s.groups.is_some() {
            types.push(discovery::group_resource_type(base_url));
        }
        types
    }
}

/// `/Schemas`: the User schema and its extensions as advertised, and Group's.
pub struct Schemas;

impl Documents for Schemas {
    const WHAT: &'static str = "schema";

    fn of(s: &AppState, base_url: &str) -> Vec<Value> {
        let mut schemas: Vec<&crate::scim::schema::SchemaDef> = std::iter::once(&s.advertised.core)
            .chain(&s.advertised.extensions)
            .collect();
        if let Some(g) = &s.groups {
            schemas.push(&g.schema.core);
        }
        schemas
            .into_iter()
            .map(|schema| discovery::schema_document(base_url, schema))
            .collect()
    }
}

/// `GET /ResourceTypes`, `GET /Schemas`.
pub async fn documents<D: Documents>(
    State(s): State<Arc<AppState>>,
    ctx: RequestContext,
) -> Response {
    ok(
        StatusCode::OK,
        &discovery::list_all(D::of(&s, &ctx.base_url)),
    )
}

/// `GET /ResourceTypes/{id}`, `GET /Schemas/{id}`: the document whose `id` is `id` (ignoring
/// case), or 404 naming what was asked for.
pub async fn document<D: Documents>(
    State(s): State<Arc<AppState>>,
    ctx: RequestContext,
    ScimId(id): ScimId,
) -> Answer {
    D::of(&s, &ctx.base_url)
        .into_iter()
        .find(|d| {
            d["id"]
                .as_str()
                .is_some_and(|d| d.eq_ignore_ascii_case(&id))
        })
        .map(|d| ok(StatusCode::OK, &d))
        .ok_or_else(|| ScimError::new(404, None, format!("no {} {id:?}", D::WHAT)))
}

/// Where a resource type's service is in a tenant's state.
pub trait ResourceKind: ScimService + Sync + Sized + 'static {
    /// This kind's service; 404 where the tenant does not offer it.
    fn of(state: &AppState) -> Result<&Self, ScimError>;
}

impl ResourceKind for UsersService {
    fn of(state: &AppState) -> Result<&Self, ScimError> {
        Ok(&state.users)
    }
}

impl ResourceKind for GroupsService {
    fn of(state: &AppState) -> Result<&Self, ScimError> {
        state.groups.as_ref().ok_or_else(|| {
            ScimError::new(
                404,
                None,
                "this gateway serves no groups ([groups] mode is disabled)",
            )
        })
    }
}

/// `GET /Users`, `GET /Groups`.
pub async fn list<K: ResourceKind>(
    State(s): State<Arc<AppState>>,
    ctx: RequestContext,
    RawQuery(query): RawQuery,
) -> Answer {
    let kind = K::of(&s)?;
    let params =
        ListParams::parse(&query_pairs(query.as_deref())).map_err(|e| service(e.into()))?;
    let body = kind.list(&ctx, &params).await.map_err(service)?;
    Ok(ok(StatusCode::OK, &body))
}

/// `POST /Users/.search`, `POST /Groups/.search`.
pub async fn search<K: ResourceKind>(
    State(s): State<Arc<AppState>>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let kind = K::of(&s)?;
    let input = json_body(&s, &headers, body).await?;
    let params = ListParams::from_search_request(&input).map_err(|e| service(e.into()))?;
    let body = kind.list(&ctx, &params).await.map_err(service)?;
    Ok(ok(StatusCode::OK, &body))
}

/// `POST /.search` across resource types is optional (RFC 7644 §3.4.3): 501 says so.
pub async fn search_root() -> ScimError {
    ScimError::new(
        501,
        None,
        "search across resource types is not supported: POST /Users/.search or /Groups/.search",
    )
}

pub async fn create<K: ResourceKind>(
    State(s): State<Arc<AppState>>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let kind = K::of(&s)?;
    let input = json_body(&s, &headers, body).await?;
    let created = kind.create(&ctx, &input).await.map_err(service)?;
    Ok(created_response(created))
}

/// 201 with the resource and its Location (RFC 7644 §3.3).
fn created_response(created: Value) -> Response {
    let mut response = ok(StatusCode::CREATED, &created);
    copy_header(&mut response, header::LOCATION, &created, "/meta/location");
    response
}

pub async fn get<K: ResourceKind>(
    State(s): State<Arc<AppState>>,
    ctx: RequestContext,
    ScimId(id): ScimId,
    RawQuery(query): RawQuery,
) -> Answer {
    let kind = K::of(&s)?;
    let projection =
        Projection::parse(&query_pairs(query.as_deref())).map_err(|e| service(e.into()))?;
    let resource = kind.get(&ctx, &id, &projection).await.map_err(service)?;
    Ok(ok(StatusCode::OK, &resource))
}

pub async fn replace<K: ResourceKind>(
    State(s): State<Arc<AppState>>,
    ctx: RequestContext,
    headers: HeaderMap,
    ScimId(id): ScimId,
    body: Body,
) -> Answer {
    let kind = K::of(&s)?;
    let input = json_body(&s, &headers, body).await?;
    let version = if_match(&headers)?;
    let resource = kind
        .replace(&ctx, &id, &input, version)
        .await
        .map_err(service)?;
    Ok(ok(StatusCode::OK, &resource))
}

pub async fn patch<K: ResourceKind>(
    State(s): State<Arc<AppState>>,
    ctx: RequestContext,
    headers: HeaderMap,
    ScimId(id): ScimId,
    body: Body,
) -> Answer {
    let kind = K::of(&s)?;
    let input = json_body(&s, &headers, body).await?;
    let version = if_match(&headers)?;
    match kind
        .patch(&ctx, &id, &input, version)
        .await
        .map_err(service)?
    {
        Some(resource) => Ok(ok(StatusCode::OK, &resource)),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

pub async fn delete<K: ResourceKind>(
    State(s): State<Arc<AppState>>,
    ctx: RequestContext,
    headers: HeaderMap,
    ScimId(id): ScimId,
) -> Answer {
    let kind = K::of(&s)?;
    let version = if_match(&headers)?;
    kind.delete(&ctx, &id, version).await.map_err(service)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn not_found(uri: http::Uri) -> ScimError {
    ScimError::new(404, None, format!("no SCIM endpoint at {}", uri.path()))
}

pub async fn method_not_allowed(method: http::Method, uri: http::Uri) -> ScimError {
    ScimError::new(
        405,
        None,
        format!("{method} is not supported on {}", uri.path()),
    )
}
