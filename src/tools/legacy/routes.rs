//! The sample API's HTTP surface: axum handlers for `/api/v1/accounts` (and the routes of
//! `teams` and `members`) that
//! parse with `input`, act on the `store`, and answer in the API's envelopes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State as Extract};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::State;
use super::account::Account;
use super::control::guard;
use super::error::{ApiError, json_response};
use super::input::{self, QueryString};

type Shared = Extract<Arc<State>>;
type Body = Result<Bytes, BytesRejection>;

/// Builds the router with every route, the JSON fallbacks and the guard middleware; the
/// token endpoint is outside the guard, since it is how a client without the key gets in, and
/// so is the API's OpenAPI document, which anyone may read (`scim-gateway init` starts there).
pub(crate) fn router(state: Arc<State>) -> Router {
    let token = Router::new()
        .route(super::oauth::TOKEN_PATH, post(super::oauth::token))
        .route(super::OPENAPI_PATH, get(openapi))
        .with_state(Arc::clone(&state));
    let api = Router::new()
        .route("/api/v1/accounts", get(list).post(create))
        .route(
            "/api/v1/accounts/{id}",
            get(read).put(replace).patch(patch).delete(remove),
        )
        .merge(super::teams::routes())
        .merge(super::members::routes())
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(from_fn_with_state(Arc::clone(&state), guard))
        .with_state(state);
    token.merge(api)
}

/// `GET /openapi.json`: the API described, as `scim-gateway init` reads it.
async fn openapi() -> Response {
    let mut response = super::OPENAPI_DOCUMENT.into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

fn account_response(status: StatusCode, account: &Account) -> Response {
    json_response(status, &json!({"account": account.to_json()}))
}

fn body_bytes(body: Body) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError::BadRequest(format!("cannot read body: {e}")))
}

async fn create(Extract(state): Shared, body: Body) -> Result<Response, ApiError> {
    let fields = input::account_body(&body_bytes(body)?)?
        .into_full()
        .ok_or_else(|| ApiError::Invalid("email is required".into()))?;
    let account = state.store.create(fields)?;
    tracing::debug!(id = account.id, "account created");
    Ok(account_response(StatusCode::CREATED, &account))
}

async fn read(Extract(state): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = input::account_id(&id)?;
    let account = state.store.get(id).ok_or_else(|| input::not_found(id))?;
    Ok(account_response(StatusCode::OK, &account))
}

async fn replace(
    Extract(state): Shared,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = input::account_id(&id)?;
    let fields = input::account_body(&body_bytes(body)?)?
        .into_full()
        .ok_or_else(|| ApiError::Invalid("email is required".into()))?;
    let account = state.store.replace(id, fields)?;
    Ok(account_response(StatusCode::OK, &account))
}

async fn patch(
    Extract(state): Shared,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = input::account_id(&id)?;
    let patch = input::account_body(&body_bytes(body)?)?;
    let account = state.store.patch(id, patch)?;
    Ok(account_response(StatusCode::OK, &account))
}

async fn remove(Extract(state): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = input::account_id(&id)?;
    state.store.delete(id)?;
    tracing::debug!(id, "account deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list(Extract(state): Shared, query: QueryString) -> Result<Response, ApiError> {
    let params = input::query_params(query)?;
    let q = input::list_query(&params)?;
    let page = state.store.list(q.email.as_deref(), q.page, q.per_page);
    let data: Vec<Value> = page.accounts.iter().map(Account::to_json).collect();
    let body = json!({
        "data": data,
        "meta": {"page": q.page, "per_page": q.per_page, "total": page.total},
    });
    Ok(json_response(StatusCode::OK, &body))
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

async fn wrong_method(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
