//! The SCIM PATCH engine (RFC 7644 §3.5.2): parses a `PatchOp` request and applies it to a
//! resource's JSON atomically, tolerating the request shapes Microsoft Entra ID sends.

use serde_json::Value;

use super::path::{PatchPath, PathError};

mod apply;
mod index;
mod request;
mod value;

#[cfg(test)]
mod tests;

pub use apply::{apply, apply_bounded};

/// The most operations one PATCH may carry. RFC 7644 sets no number. Entra ID and Okta send
/// one operation per changed attribute (tens at most) and put a batch of group members in
/// one operation's value; a client removing members one `members[value eq "id"]` at a time
/// sends hundreds. Each operation re-reads the attribute it changes, so 1,000 keeps a PATCH
/// well within its deadline while leaving room for those clients.
pub const MAX_OPERATIONS: usize = 1_000;

/// How much one PATCH may ask for. The service uses the default ([`MAX_OPERATIONS`] and
/// [`MAX_VALUES`](super::schema::MAX_VALUES)); [`PatchBounds::NONE`] lets a bench measure the
/// engine itself on inputs over the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchBounds {
    /// The most operations in one request.
    pub max_operations: usize,
    /// The most values one multi-valued attribute (other than Group `members`) may be sent
    /// or hold after an operation.
    pub max_values: usize,
}

impl PatchBounds {
    /// No bound at all.
    pub const NONE: PatchBounds = PatchBounds {
        max_operations: usize::MAX,
        max_values: usize::MAX,
    };
}

impl Default for PatchBounds {
    fn default() -> Self {
        PatchBounds {
            max_operations: MAX_OPERATIONS,
            max_values: super::schema::MAX_VALUES,
        }
    }
}

/// The `schemas` URN a PATCH body must carry (RFC 7644 §3.5.2).
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A PATCH operation's kind (RFC 7644 §3.5.2 `op`), parsed case-insensitively because Entra ID
/// sends `"Add"`, `"Replace"` and `"Remove"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

/// One PATCH operation. `path` is `None` when the value is an object of attribute paths;
/// `value` is `None` only for `remove`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: PatchOpKind,
    /// Where; `None` means the value's keys are the paths.
    pub path: Option<PatchPath>,
    /// The new value(s), as sent (coerced to the schema when applied).
    pub value: Option<Value>,
}

/// A parsed `PatchOp` request body (RFC 7644 §3.5.2), applied in order by [`apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, in request order.
    pub operations: Vec<PatchOperation>,
}

/// Why a PATCH failed; each variant is one SCIM `scimType` (RFC 7644 §3.12), answered with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body is not a well-formed `PatchOp` message.
    #[error("{0}")]
    InvalidSyntax(String),
    /// A path is malformed or names an attribute the resource does not have.
    #[error("{0}")]
    InvalidPath(String),
    /// The value filter of a path is malformed or unsupported (RFC 7644 §3.12 lists
    /// `invalidFilter` for PATCH path filters).
    #[error("{0}")]
    InvalidFilter(String),
    /// A value is missing, of the wrong type, or would unassign a required attribute.
    #[error("{0}")]
    InvalidValue(String),
    /// The path selects nothing and the operation needs a target.
    #[error("{0}")]
    NoTarget(String),
    /// The operation would change a read-only, or an already set immutable, attribute.
    #[error("{0}")]
    Mutability(String),
}

impl PatchError {
    /// The SCIM `scimType` for the error response (RFC 7644 §3.12 table 9).
    pub fn scim_type(&self) -> &'static str {
        match self {
            PatchError::InvalidSyntax(_) => "invalidSyntax",
            PatchError::InvalidPath(_) => "invalidPath",
            PatchError::InvalidFilter(_) => "invalidFilter",
            PatchError::InvalidValue(_) => "invalidValue",
            PatchError::NoTarget(_) => "noTarget",
            PatchError::Mutability(_) => "mutability",
        }
    }

    /// The same error with `prefix` put before its message (e.g. which operation failed).
    pub(crate) fn prefixed(self, prefix: &str) -> Self {
        let add = |m: String| format!("{prefix}{m}");
        match self {
            PatchError::InvalidSyntax(m) => PatchError::InvalidSyntax(add(m)),
            PatchError::InvalidPath(m) => PatchError::InvalidPath(add(m)),
            PatchError::InvalidFilter(m) => PatchError::InvalidFilter(add(m)),
            PatchError::InvalidValue(m) => PatchError::InvalidValue(add(m)),
            PatchError::NoTarget(m) => PatchError::NoTarget(add(m)),
            PatchError::Mutability(m) => PatchError::Mutability(add(m)),
        }
    }
}

impl From<PathError> for PatchError {
    fn from(e: PathError) -> Self {
        match e {
            PathError::Filter(f) => PatchError::InvalidFilter(f.to_string()),
            other => PatchError::InvalidPath(other.to_string()),
        }
    }
}
