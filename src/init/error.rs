//! Why `init` could not write a gateway.toml; each message says what to do about it.

use thiserror::Error;

/// A reason `scim-gateway init` stops without writing anything.
#[derive(Debug, Error)]
pub enum InitError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the document is not valid JSON: {0}")]
    Json(String),
    #[error("the document is not valid YAML: {0}")]
    Yaml(String),
    #[error(
        "not an OpenAPI 3 or Swagger 2.0 document (version {0}): the top level needs `openapi: 3.x` or `swagger: \"2.0\"`"
    )]
    NotOpenApi(String),
    #[error("the document has no `paths` object")]
    NoPaths,
    #[error(
        "no user resource found: no path pair like /users and /users/{{id}} with POST and GET whose records look like people ({0})"
    )]
    NoResource(String),
    #[error("--resource {wanted}: no such resource; the document has {known}")]
    UnknownResource { wanted: String, known: String },
    #[error("several resources look like users ({0}): pick one with --resource")]
    Ambiguous(String),
    #[error(
        "{0} has no DELETE and its records no field for active, so a SCIM delete has nothing to call: describe the DELETE, or the status field, in the document"
    )]
    NoDelete(String),
    #[error("{0} exists already: choose another file with -o, or add --force to overwrite it")]
    Exists(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the gateway.toml written from this document does not pass check, which is a bug in init (please report it with the document): {0}"
    )]
    Unchecked(String),
}
