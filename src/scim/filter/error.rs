//! Why a filter was rejected, as one error type the path and filter modules share.

use crate::scim::lexer::SyntaxError;

/// Why a filter was rejected; the HTTP layer answers 400 with scimType `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The text does not follow the RFC 7644 §3.4.2.2 grammar; `offset` is a byte offset.
    #[error("{message}")]
    Syntax {
        /// Byte offset of the problem in the filter text.
        offset: usize,
        /// What is wrong and how to fix it, including the offset.
        message: String,
    },
    /// The filter names an attribute the resource type does not have.
    #[error(
        "unknown attribute '{attribute}' in filter; use an attribute defined in the resource's schemas"
    )]
    UnknownAttribute {
        /// The attribute path as written.
        attribute: String,
    },
    /// The filter is longer than [`super::MAX_FILTER_LENGTH`] bytes.
    #[error("the filter is {length} bytes long, more than the {max} a filter may have")]
    TooLong {
        /// The filter's length in bytes.
        length: usize,
        /// The bound.
        max: usize,
    },
    /// The operator or value does not fit the attribute's type (e.g. `active gt true`).
    #[error("{message}")]
    Unsupported {
        /// The attribute path as written.
        attribute: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl From<SyntaxError> for FilterError {
    fn from(e: SyntaxError) -> Self {
        FilterError::Syntax {
            offset: e.offset,
            message: e.message,
        }
    }
}
