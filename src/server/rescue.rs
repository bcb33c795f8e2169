//! The one place where errors become HTTP answers: each typed cause is turned into a SCIM error
//! with the status that says whose fault it is (4xx the client's, 502/503/504 the downstream's)
//! and a detail that says what to do.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::downstream::DownstreamError;
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
                    crate::scim::resource::ResourceError::WrongType { .. } => {
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

fn downstream(e: DownstreamError, detail: String) -> ScimError {
    match e {
        DownstreamError::NotFound(_) => ScimError::new(404, None, detail),
        DownstreamError::Conflict(_) => ScimError::new(409, Some(ScimType::Uniqueness), detail),
        DownstreamError::Rejected(_) => ScimError::bad_request(ScimType::InvalidValue, detail),
        DownstreamError::TooMany(_) => ScimError::bad_request(ScimType::TooMany, detail),
        DownstreamError::Timeout(_) => ScimError::new(504, None, detail),
        DownstreamError::Unreachable | DownstreamError::Failed(503) => {
            ScimError::new(503, None, detail)
        }
        _ => ScimError::new(502, None, detail),
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
        scim_response(status, &self.to_json())
    }
}

/// A SCIM JSON answer.
pub fn scim_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}
