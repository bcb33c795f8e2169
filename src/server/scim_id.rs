//! The `{id}` of a SCIM URL (`/Users/{id}`), refused at the edge when it cannot name a
//! resource: not UTF-8, empty, `.` or `..` (which URL parsers drop as dot segments, so such an
//! id would address the downstream collection or its parent). The refusal is a SCIM 404, the
//! answer for any id that names nothing, and no downstream call is made.

use axum::extract::{FromRequestParts, Path};
use http::request::Parts;

use crate::downstream::operation::is_addressable;
use crate::scim::error::ScimError;

/// A resource id from the path, percent-decoded and addressable.
pub struct ScimId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ScimId {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ScimError> {
        let path = parts.uri.path().to_owned();
        let not_found = || {
            ScimError::new(
                404,
                None,
                format!("no resource at {path}: its id names nothing"),
            )
        };
        // The one rejection a `{id}` route can give is an id that is not UTF-8 once decoded.
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found())?;
        if is_addressable(&id) {
            Ok(ScimId(id))
        } else {
            Err(not_found())
        }
    }
}
