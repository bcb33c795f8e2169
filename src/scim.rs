//! The SCIM protocol, free of I/O: schemas, attribute paths, filters, PATCH, list parameters,
//! resource validation, errors and discovery documents.

pub mod attr_path;
pub mod catalog;
pub mod discovery;
pub mod error;
pub mod filter;
pub(crate) mod lexer;
pub mod list;
pub mod patch;
pub mod path;
pub mod resource;
pub mod schema;
