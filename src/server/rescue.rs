//! The one place where errors become HTTP answers: each typed cause is turned into a SCIM error
//! with the status that says whose fault it is (4xx the client's, 502/503/504 the downstream's)
//! and a detail that says what to do.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::downstream::DownstreamError;
use crate::downstream::retry_after::{RETRY_LATER, whole_seconds};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::patch::PatchError;
use crate::service::ServiceError;
use crate::store::StoreError;

/// The media type of every SCIM answer (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

impl From<ServiceError> for ScimError {
    fn from(e: ServiceError) -> Self {
        let detail = e.to_string();
        match e {
            ServiceError::Resource(r) => {
                let t = match r {
                    crate::scim::resource::ResourceError::WrongType { .. }
                    | crate::scim::resource::ResourceError::TooManyValues { .. } => {
                        ScimType::InvalidValue
                    }
                    _ => ScimType::InvalidSyntax,
                };
                ScimError::bad_request(t, detail)
            }
            ServiceError::List(crate::scim::list::ListParamError::Filter(_)) => {
                ScimError::bad_request(ScimType::InvalidFilter, detail)
            }
            ServiceError::List(_) => ScimError::bad_request(ScimType::InvalidValue, detail),
            ServiceError::Patch(p) => ScimError::bad_request(patch_type(&p), detail),
            ServiceError::Mapping(_) => ScimError::bad_request(ScimType::InvalidValue, detail),
            ServiceError::Downstream(d) => downstream(d, detail),
            ServiceError::Store(s) => store(s),
            ServiceError::Conflict(_) => ScimError::new(409, Some(ScimType::Uniqueness), detail),
            ServiceError::Precondition(_) => ScimError::new(412, None, detail),
            ServiceError::NotFound(_) => ScimError::new(404, None, detail),
            ServiceError::Busy(_) => {
                ScimError::new(503, None, detail).with_retry_after(whole_seconds(RETRY_LATER))
            }
            ServiceError::Unmapped(d) if d.read_only => {
                ScimError::bad_request(ScimType::Mutability, detail)
            }
            ServiceError::Unmapped(_) => ScimError::bad_request(ScimType::InvalidValue, detail),
        }
    }
}

fn patch_type(e: &PatchError) -> ScimType {
    match e {
        PatchError::InvalidSyntax(_) => ScimType::InvalidSyntax,
        PatchError::InvalidPath(_) => ScimType::InvalidPath,
        PatchError::InvalidFilter(_) => ScimType::InvalidFilter,
        PatchError::InvalidValue(_) => ScimType::InvalidValue,
        PatchError::NoTarget(_) => ScimType::NoTarget,
        PatchError::Mutability(_) => ScimType::Mutability,
    }
}

fn store(e: StoreError) -> ScimError {
    let detail = e.to_string();
    match e {
        StoreError::NotFound { .. } => ScimError::new(404, None, detail),
        StoreError::VersionMismatch { .. } => ScimError::new(412, None, detail),
        StoreError::Conflict(_) => ScimError::new(409, Some(ScimType::Uniqueness), detail),
        StoreError::Unavailable(_) | StoreError::Closed => {
            ScimError::new(503, None, "the gateway's store is unavailable; retry later")
                .with_retry_after(whole_seconds(RETRY_LATER))
        }
        _ => {
            tracing::error!(error = %detail, "store failure");
            ScimError::new(
                500,
                None,
                "the gateway's store failed; the gateway log has the cause",
            )
        }
    }
}

/// A downstream failure a later retry can fix (5xx, 429, timeout, unreachable, busy, breaker
/// open) is a 503 with Retry-After: the answer Entra ID and Okta retry, rather than one that
/// counts against the app; an answer gateway.toml does not describe stays a 502.
fn downstream(e: DownstreamError, detail: String) -> ScimError {
    match e {
        DownstreamError::NotFound(_) => ScimError::new(404, None, detail),
        DownstreamError::Conflict(_) => ScimError::new(409, Some(ScimType::Uniqueness), detail),
        DownstreamError::Rejected(_) => ScimError::bad_request(ScimType::InvalidValue, detail),
        DownstreamError::TooMany(_) => ScimError::bad_request(ScimType::TooMany, detail),
        e => match e.retry_after() {
            Some(delay) => ScimError::new(503, None, detail).with_retry_after(whole_seconds(delay)),
            None => ScimError::new(502, None, detail),
        },
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(status = self.status, detail = %self.detail, "request failed");
        } else {
            tracing::info!(status = self.status, detail = %self.detail, "request refused");
        }
        let mut response = scim_response(status, &self.to_json());
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// A SCIM JSON answer.
pub fn scim_response(status: StatusCode, body: &serde_json::Value) -> Response {
    // Written straight into bytes: `Value`'s `Display` goes through `fmt::Write` piece by
    // piece, three times the instructions for a user. Serializing a `Value` into a `Vec`
    // cannot fail (string keys, a writer that never refuses); the fallback only spares a
    // panic path.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| body.to_string().into_bytes());
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}
