//! Every error answer of the SCIM listener is a SCIM error (RFC 7644 §3.12). The gateway's own
//! errors already are (see [`super::rescue`]); this layer catches the rest: the rejections of
//! axum's extractors (`text/plain` "Invalid URL: …" for a path segment that is not UTF-8),
//! the bare 405 of a root route, and whatever else answers an error without a JSON body. The
//! status and the headers (`Allow`, `Retry-After`, …) stay; the body becomes a SCIM error
//! whose detail is the rejection's text when it has one.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::rescue::SCIM_JSON;
use crate::scim::error::ScimError;

/// The longest rejection text carried over as the detail; a longer body is not read.
const MAX_DETAIL_BYTES: usize = 1024;

/// Turns an error answer (4xx or 5xx) without a JSON body into the same status with a SCIM
/// error body; any other answer passes unchanged. JSON error bodies pass too: the SCIM ones
/// and `/readyz`'s report.
pub async fn scim_error_bodies(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    rewrite(response, &method, &path).await
}

async fn rewrite(response: Response, method: &Method, path: &str) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = if is_text(&parts.headers) {
        axum::body::to_bytes(body, MAX_DETAIL_BYTES)
            .await
            .ok()
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    } else {
        None
    };
    let detail = text.unwrap_or_else(|| default_detail(status, method, path));
    tracing::info!(status = status.as_u16(), %detail, "request refused");
    let json = ScimError::new(status.as_u16(), None, detail)
        .to_json()
        .to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    Response::from_parts(parts, Body::from(json))
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

fn is_text(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m == "text/plain")
}

/// What a bare status says, for a client that only reads the body.
fn default_detail(status: StatusCode, method: &Method, path: &str) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not supported on {path}"),
        StatusCode::NOT_FOUND => format!("no SCIM endpoint at {path}"),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_owned(),
        _ => status
            .canonical_reason()
            .map_or_else(|| format!("HTTP {}", status.as_u16()), str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;
    use serde_json::Value;

    use super::*;

    async fn body_json(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_text_rejection_keeps_its_status_headers_and_text() {
        let mut rejection = (
            StatusCode::BAD_REQUEST,
            "Invalid URL: Invalid UTF-8 in `id`",
        )
            .into_response();
        rejection
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        let answer = rewrite(rejection, &Method::GET, "/scim/v2/Users/%FF").await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert_eq!(answer.headers()[header::CONTENT_TYPE], SCIM_JSON);
        assert_eq!(answer.headers()[header::RETRY_AFTER], "3");
        let body = body_json(answer).await;
        assert_eq!(body["status"], "400");
        assert_eq!(body["detail"], "Invalid URL: Invalid UTF-8 in `id`");
    }

    #[tokio::test]
    async fn successes_and_json_errors_pass_unchanged() {
        let ok = (StatusCode::OK, "fine").into_response();
        assert_eq!(
            rewrite(ok, &Method::GET, "/").await.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let ready = (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"status\":\"not ready\"}",
        )
            .into_response();
        let answer = rewrite(ready, &Method::GET, "/readyz").await;
        assert_eq!(body_json(answer).await["status"], "not ready");
    }

    #[tokio::test]
    async fn a_bare_405_names_the_method_and_path() {
        let bare = StatusCode::METHOD_NOT_ALLOWED.into_response();
        let answer = rewrite(bare, &Method::POST, "/healthz").await;
        assert_eq!(answer.headers()[header::CONTENT_TYPE], SCIM_JSON);
        let body = body_json(answer).await;
        assert_eq!(body["status"], "405");
        assert_eq!(body["detail"], "POST is not supported on /healthz");
    }
}
