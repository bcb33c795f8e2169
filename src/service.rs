//! The orchestration of SCIM operations: parse and validate, map, call the downstream, map
//! back. One file per resource kind; errors stay typed until the HTTP edge.

pub mod dropped;
pub mod groups;
pub mod turns;
pub mod users;

use serde_json::Value;

use crate::scim::list::{ListParams, Projection};
use thiserror::Error;

use crate::downstream::DownstreamError;
use crate::mapping::MappingError;
use crate::scim::list::ListParamError;
use crate::scim::patch::PatchError;
use crate::scim::resource::ResourceError;
use crate::store::StoreError;

/// Why a SCIM operation failed, by the layer that found out.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Resource(#[from] ResourceError),
    #[error(transparent)]
    List(#[from] ListParamError),
    #[error(transparent)]
    Patch(#[from] PatchError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Downstream(#[from] DownstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A uniqueness rule the gateway enforces itself (409 uniqueness).
    #[error("{0}")]
    Conflict(String),
    /// If-Match named another version (412).
    #[error("{0}")]
    Precondition(String),
    /// The request names something that is not there (404).
    #[error("{0}")]
    NotFound(String),
    /// The request could not start its work in time, and did nothing (503 with Retry-After).
    #[error("{0}")]
    Busy(String),
    /// A write carries an attribute nothing keeps, and `unmapped = "reject"` (400).
    #[error("{}", unmapped_detail(.0))]
    Unmapped(crate::mapping::Dropped),
}

fn unmapped_detail(d: &crate::mapping::Dropped) -> String {
    match d.read_only {
        true => format!(
            "{}: the gateway computes this attribute (a read-only rule in gateway.toml) and \
             does not take a value other than the computed one (unmapped = \"reject\")",
            d.attribute
        ),
        false => format!(
            "{}: no rule in gateway.toml maps this attribute and unmapped = \"reject\" \
             refuses what would be dropped; leave it out or ask for it to be mapped",
            d.attribute
        ),
    }
}

/// Where the resources of a request live, for `meta.location`.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// e.g. `https://gateway.example.com/scim/v2`.
    pub base_url: String,
}

/// If-Match (RFC 7644 §3.14): a write proceeds only on the version the client read.
pub(crate) fn check_version(
    row: Option<&crate::store::Resource>,
    if_match: Option<i64>,
) -> Result<(), ServiceError> {
    match (row, if_match) {
        (Some(row), Some(want)) if row.version != want => Err(ServiceError::Precondition(format!(
            "the resource is at version {}, not {}",
            row.etag(),
            crate::store::resource::etag(want)
        ))),
        (None, Some(_)) => Err(ServiceError::Precondition(
            "the resource has no version yet".into(),
        )),
        _ => Ok(()),
    }
}

/// The calls of one SCIM resource type, so that Users and Groups share every HTTP handler.
/// Only a PATCH answer differs: a user comes back (200), a group does not (204), so that
/// Entra's member PATCHes never read the members.
pub trait ScimService {
    fn create(
        &self,
        ctx: &RequestContext,
        body: &Value,
    ) -> impl Future<Output = Result<Value, ServiceError>> + Send;
    fn get(
        &self,
        ctx: &RequestContext,
        id: &str,
        projection: &Projection,
    ) -> impl Future<Output = Result<Value, ServiceError>> + Send;
    fn list(
        &self,
        ctx: &RequestContext,
        params: &ListParams,
    ) -> impl Future<Output = Result<Value, ServiceError>> + Send;
    fn replace(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        version: Option<i64>,
    ) -> impl Future<Output = Result<Value, ServiceError>> + Send;
    /// The resource after the PATCH, or `None` for an answer without body (204).
    fn patch(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        version: Option<i64>,
    ) -> impl Future<Output = Result<Option<Value>, ServiceError>> + Send;
    fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        version: Option<i64>,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;
}
