//! The orchestration of SCIM operations: parse and validate, map, call the downstream, map
//! back. One file per resource kind; errors stay typed until the HTTP edge.

pub mod users;

use thiserror::Error;

use crate::downstream::DownstreamError;
use crate::mapping::MappingError;
use crate::scim::list::ListParamError;
use crate::scim::patch::PatchError;
use crate::scim::resource::ResourceError;

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
}

/// Where the resources of a request live, for `meta.location`.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// e.g. `https://gateway.example.com/scim/v2`.
    pub base_url: String,
}
