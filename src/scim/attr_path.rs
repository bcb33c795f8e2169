//! Attribute paths (RFC 7644 §3.10 `attrPath`): parsing, canonical display and resolution
//! against a [`ResourceSchema`], shared by filters, PATCH paths and mapping.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::filter::error::FilterError;
use super::lexer::{SyntaxError, is_path_char, scan_name_until, skip_ws, unexpected};
use super::schema::{
    AttrType, AttributeDef, Mutability, ResourceSchema, Returned, SchemaDef, Uniqueness,
    find_attribute,
};

/// An attribute path (RFC 7644 §3.10 `attrPath`): `[URN ":"] attrName ["." subAttr]`.
/// Names keep the case the client wrote; comparisons are case-insensitive (RFC 7643 §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub urn: Option<String>,
    /// The attribute name.
    pub name: String,
    /// The sub-attribute after `.`, e.g. `givenName` in `name.givenName`.
    pub sub: Option<String>,
}

/// Why a path could not be parsed or resolved; the HTTP layer maps it to `invalidPath`
/// (or `invalidFilter` for [`PathError::Filter`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    /// The path text does not follow the RFC 7644 §3.10 grammar; `offset` is a byte offset.
    #[error("{message}")]
    Syntax {
        /// Byte offset of the problem in the path text.
        offset: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The value filter inside `[...]` is malformed or names unknown sub-attributes.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The URN prefix names neither the core schema nor one of the resource's extensions.
    #[error(
        "unknown schema '{urn}'; use the core schema URN or one of the resource type's extension URNs"
    )]
    UnknownSchema {
        /// The URN as written.
        urn: String,
    },
    /// No such attribute (or sub-attribute) in the schema.
    #[error("unknown attribute '{path}'; use an attribute defined in the resource's schemas")]
    UnknownAttribute {
        /// The path as written.
        path: String,
    },
    /// The path is well-formed but makes no sense for the attribute's definition.
    #[error("{message}")]
    Invalid {
        /// The path as written.
        path: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// An [`AttrPath`] resolved against a schema, so callers get definitions (case-exactness,
/// mutability, type) and the canonical names under which values are stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedAttr<'a> {
    /// The extension whose JSON object holds the attribute (RFC 7643 §3.3); `None` for core
    /// and common (RFC 7643 §3.1) attributes, which sit at the top level of the resource.
    pub extension: Option<&'a SchemaDef>,
    /// The top-level attribute.
    pub attr: &'a AttributeDef,
    /// The sub-attribute the path names, if any.
    pub sub: Option<&'a AttributeDef>,
}

impl<'a> ResolvedAttr<'a> {
    /// The definition of the value the path designates: the sub-attribute's, else the attribute's.
    pub fn leaf(&self) -> &'a AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
}

impl From<SyntaxError> for PathError {
    fn from(e: SyntaxError) -> Self {
        PathError::Syntax {
            offset: e.offset,
            message: e.message,
        }
    }
}

impl FromStr for AttrPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let start = skip_ws(s, 0);
        let (path, pos) = scan_attr_path(s, start).map_err(PathError::from)?;
        let end = skip_ws(s, pos);
        if end < s.len() {
            return Err(unexpected(s, end, "expected the end of the attribute path").into());
        }
        Ok(path)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl AttrPath {
    /// A path without URN or sub-attribute, for building paths in code.
    pub fn simple(name: &str) -> Self {
        AttrPath {
            urn: None,
            name: name.to_string(),
            sub: None,
        }
    }

    /// Resolves the path against `schema` case-insensitively (RFC 7643 §2.1). The common
    /// attributes `id`, `externalId`, `meta` and `schemas` (RFC 7643 §3.1) are always known.
    pub fn resolve<'a>(&self, schema: &'a ResourceSchema) -> Result<ResolvedAttr<'a>, PathError> {
        let in_core = match self.urn.as_deref() {
            None => true,
            Some(u) => u.eq_ignore_ascii_case(&schema.core.id),
        };
        let (extension, attr) = if in_core {
            let attr = find_attribute(&schema.core.attributes, &self.name)
                .or_else(|| common_attribute(&self.name));
            (None, attr)
        } else {
            let urn = self.urn.as_deref().unwrap_or_default();
            let ext = schema
                .extension(urn)
                .ok_or_else(|| PathError::UnknownSchema {
                    urn: urn.to_string(),
                })?;
            (Some(ext), find_attribute(&ext.attributes, &self.name))
        };
        let attr = attr.ok_or_else(|| PathError::UnknownAttribute {
            path: self.to_string(),
        })?;
        let sub = match &self.sub {
            None => None,
            Some(name) => Some(resolve_sub(attr, name, &self.to_string())?),
        };
        Ok(ResolvedAttr {
            extension,
            attr,
            sub,
        })
    }
}

/// The sub-attribute `name` of `attr`, or an error naming `path` when there is none.
pub(crate) fn resolve_sub<'a>(
    attr: &'a AttributeDef,
    name: &str,
    path: &str,
) -> Result<&'a AttributeDef, PathError> {
    if attr.attr_type != AttrType::Complex {
        return Err(PathError::Invalid {
            path: path.to_string(),
            message: format!(
                "attribute '{}' is not complex and has no sub-attributes; remove '.{name}' from '{path}'",
                attr.name
            ),
        });
    }
    find_attribute(&attr.sub_attributes, name).ok_or_else(|| PathError::UnknownAttribute {
        path: path.to_string(),
    })
}

/// Scans an `attrPath` starting at `start`; returns it and the position just after it.
/// The URN of `urn:...:User:manager.value` is everything before the last `:`.
pub(crate) fn scan_attr_path(src: &str, start: usize) -> Result<(AttrPath, usize), SyntaxError> {
    let bytes = src.as_bytes();
    let mut end = start;
    while bytes.get(end).is_some_and(|b| is_path_char(*b as char)) {
        end += 1;
    }
    if end == start {
        return Err(unexpected(src, start, "expected an attribute name"));
    }
    let token = &src[start..end];
    let is_urn = token.len() >= 4 && token[..4].eq_ignore_ascii_case("urn:");
    let (urn, rest_start) = if is_urn {
        match token.rfind(':') {
            Some(i) if i > 3 => (Some(token[..i].to_string()), start + i + 1),
            _ => (None, start),
        }
    } else {
        (None, start)
    };
    if is_urn && urn.is_none() {
        return Err(SyntaxError {
            offset: start,
            message: format!(
                "schema URN without attribute at offset {start}; write '<urn>:<attribute>'"
            ),
        });
    }
    let (name, after_name) = scan_name_until(src, rest_start, end)?;
    let mut sub = None;
    if after_name < end {
        // `scan_name_until` stops only at '.' inside the token.
        let (s, after_sub) = scan_name_until(src, after_name + 1, end)?;
        if after_sub < end {
            return Err(SyntaxError {
                offset: after_sub,
                message: format!(
                    "unexpected '.' at offset {after_sub}; a path names at most one sub-attribute"
                ),
            });
        }
        sub = Some(s);
    }
    Ok((AttrPath { urn, name, sub }, end))
}

/// The common attributes every resource has (RFC 7643 §3.1), plus `schemas` (§3), so paths
/// naming them resolve even when the configured schema does not list them.
fn common_attribute(name: &str) -> Option<&'static AttributeDef> {
    static COMMON: LazyLock<Vec<AttributeDef>> = LazyLock::new(|| {
        let meta_subs = vec![
            common_def("resourceType", AttrType::String, true, Mutability::ReadOnly),
            common_def("created", AttrType::DateTime, false, Mutability::ReadOnly),
            common_def(
                "lastModified",
                AttrType::DateTime,
                false,
                Mutability::ReadOnly,
            ),
            common_def("location", AttrType::Reference, true, Mutability::ReadOnly),
            common_def("version", AttrType::String, true, Mutability::ReadOnly),
        ];
        vec![
            AttributeDef {
                returned: Returned::Always,
                uniqueness: Uniqueness::Server,
                ..common_def("id", AttrType::String, true, Mutability::ReadOnly)
            },
            common_def("externalId", AttrType::String, true, Mutability::ReadWrite),
            AttributeDef {
                sub_attributes: meta_subs,
                ..common_def("meta", AttrType::Complex, false, Mutability::ReadOnly)
            },
            AttributeDef {
                multi_valued: true,
                ..common_def("schemas", AttrType::Reference, true, Mutability::ReadOnly)
            },
        ]
    });
    find_attribute(&COMMON, name)
}

/// A plain single-valued, optional attribute definition for [`common_attribute`].
fn common_def(name: &str, attr_type: AttrType, case_exact: bool, m: Mutability) -> AttributeDef {
    AttributeDef {
        name: name.to_string(),
        attr_type,
        multi_valued: false,
        description: String::new(),
        required: false,
        case_exact,
        mutability: m,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: Vec::new(),
        reference_types: Vec::new(),
        sub_attributes: Vec::new(),
    }
}

/// The entry of `map` whose key equals `name` case-insensitively (RFC 7643 §2.1), preferring
/// an exact match.
pub(crate) fn get_ci<'m>(
    map: &'m Map<String, Value>,
    name: &str,
) -> Option<(&'m String, &'m Value)> {
    map.get_key_value(name)
        .or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
}
