//! The sample API's error type and its one wire format,
//! `{"error":{"code":"…","message":"…"}}`, so every failure path answers alike.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Every way a request to the sample API can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    /// Malformed JSON, a wrong type, an unknown field or a bad query parameter.
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed input that breaks a validation rule.
    #[error("{0}")]
    Invalid(String),
    /// Missing or wrong `X-Api-Key`.
    #[error("invalid api key")]
    Unauthorized,
    /// Unknown account or route.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method.
    #[error("method {0} not allowed here")]
    MethodNotAllowed(String),
    /// Another account already has this email.
    #[error("email already taken")]
    Duplicate,
    /// A failure injected through `LegacyApi::inject` (or `fail_next`), with the
    /// `Retry-After` to send.
    #[error("injected failure")]
    Injected(StatusCode, Option<String>),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Duplicate => StatusCode::CONFLICT,
            Self::Injected(status, _) => *status,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Invalid(_) => "invalid",
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Duplicate => "duplicate",
            Self::Injected(StatusCode::TOO_MANY_REQUESTS, _) => "rate_limited",
            Self::Injected(StatusCode::SERVICE_UNAVAILABLE, _) => "unavailable",
            Self::Injected(..) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code(), "message": self.to_string()}});
        let mut response = json_response(self.status(), &body);
        if let Self::Injected(_, Some(retry_after)) = &self
            && let Ok(value) = HeaderValue::from_str(retry_after)
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// A response with a JSON body (axum's `Json` is not enabled in this build).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
