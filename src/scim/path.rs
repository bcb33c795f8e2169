//! Attribute paths (RFC 7644 §3.10) and PATCH paths (RFC 7644 §3.5.2): parsing, canonical
//! display and resolution against a [`ResourceSchema`], shared by filters, PATCH and mapping.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::filter::{Filter, FilterError, parser};
use super::schema::{
    AttrType, AttributeDef, Mutability, ResourceSchema, Returned, SchemaDef, Uniqueness,
    find_attribute,
};

#[cfg(test)]
mod tests;

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

/// A PATCH path (RFC 7644 §3.5.2 `PATH = attrPath / valuePath [subAttr]`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (with URN and sub-attribute when no value filter follows).
    pub attr: AttrPath,
    /// The value filter of `emails[type eq "work"]`.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter: `.value` in `emails[type eq "work"].value`.
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

/// What a PATCH path designates once resolved against a schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PatchTarget<'a> {
    /// A whole schema: the path is just a URN. For an extension URN (e.g.
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, as Entra ID sends) it is the
    /// extension object; for the core URN it is the resource's core attributes.
    Schema(&'a SchemaDef),
    /// An attribute; the effective sub-attribute (`name.givenName` or `emails[...].value`) is
    /// in [`ResolvedAttr::sub`], the value filter stays on the [`PatchPath`].
    Attribute(ResolvedAttr<'a>),
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

impl FromStr for PatchPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let start = skip_ws(s, 0);
        let (attr, mut pos) = scan_attr_path(s, start).map_err(PathError::from)?;
        let mut filter = None;
        let mut sub = None;
        if s.as_bytes().get(pos) == Some(&b'[') {
            let (f, after) = parser::parse_value_filter(s, pos + 1)?;
            filter = Some(f);
            pos = after;
            if s.as_bytes().get(pos) == Some(&b'.') {
                let (name, after) = scan_name(s, pos + 1).map_err(PathError::from)?;
                sub = Some(name);
                pos = after;
            }
        }
        let end = skip_ws(s, pos);
        if end < s.len() {
            return Err(unexpected(s, end, "expected the end of the path").into());
        }
        Ok(PatchPath { attr, filter, sub })
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl PatchPath {
    /// Parses `s` and checks it against `schema` (see [`PatchPath::target`]). Unlike `FromStr`
    /// it also accepts any schema URN of the resource type as a whole path, e.g.
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, which Entra ID sends to
    /// address the extension object itself.
    pub fn parse_in(s: &str, schema: &ResourceSchema) -> Result<PatchPath, PathError> {
        let trimmed = s.trim();
        let is_schema_urn = trimmed.len() > 4
            && trimmed.is_char_boundary(4)
            && trimmed[..4].eq_ignore_ascii_case("urn:")
            && schema.schema_for(Some(trimmed)).is_some();
        let path = match trimmed.rfind(':') {
            Some(i) if is_schema_urn => PatchPath {
                attr: AttrPath {
                    urn: Some(trimmed[..i].to_string()),
                    name: trimmed[i + 1..].to_string(),
                    sub: None,
                },
                filter: None,
                sub: None,
            },
            _ => s.parse()?,
        };
        path.target(schema)?;
        Ok(path)
    }

    /// Resolves what the path designates in `schema` and checks it is meaningful: a value filter
    /// needs a multi-valued complex attribute and valid sub-attributes, at most one
    /// sub-attribute is named, and sub-attributes exist.
    pub fn target<'a>(&self, schema: &'a ResourceSchema) -> Result<PatchTarget<'a>, PathError> {
        if self.filter.is_none() && self.sub.is_none() && self.attr.urn.is_some() {
            let whole = self.attr.to_string();
            if let Some(def) = schema.schema_for(Some(&whole)) {
                return Ok(PatchTarget::Schema(def));
            }
        }
        let resolved = self.attr.resolve(schema)?;
        let Some(filter) = &self.filter else {
            return Ok(PatchTarget::Attribute(resolved));
        };
        let path = self.to_string();
        if self.attr.sub.is_some() {
            return Err(PathError::Invalid {
                path,
                message: format!(
                    "a value filter must follow the attribute name; write '{}[...]' instead of '{}[...]'",
                    resolved.attr.name, self.attr
                ),
            });
        }
        if resolved.attr.attr_type != AttrType::Complex || !resolved.attr.multi_valued {
            return Err(PathError::Invalid {
                path,
                message: format!(
                    "attribute '{}' is not multi-valued and complex, so it cannot take a value filter; remove the '[...]'",
                    resolved.attr.name
                ),
            });
        }
        super::filter::validate_value_filter(filter, resolved.attr)?;
        let sub = match &self.sub {
            None => None,
            Some(name) => Some(resolve_sub(resolved.attr, name, &path)?),
        };
        Ok(PatchTarget::Attribute(ResolvedAttr { sub, ..resolved }))
    }
}

/// A syntax error found while scanning, before it is wrapped into the caller's error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

impl From<SyntaxError> for PathError {
    fn from(e: SyntaxError) -> Self {
        PathError::Syntax {
            offset: e.offset,
            message: e.message,
        }
    }
}

/// An error "unexpected X at offset N; hint" describing what sits at `pos` in `src`.
pub(crate) fn unexpected(src: &str, pos: usize, hint: &str) -> SyntaxError {
    SyntaxError {
        offset: pos,
        message: format!(
            "unexpected {} at offset {pos}; {hint}",
            describe_at(src, pos)
        ),
    }
}

/// A short quoted description of the token at `pos` (a word, or one character), for messages.
pub(crate) fn describe_at(src: &str, pos: usize) -> String {
    let Some(rest) = src.get(pos..) else {
        return "end of input".to_string();
    };
    let word: String = rest
        .chars()
        .take_while(|c| is_path_char(*c))
        .take(40)
        .collect();
    if !word.is_empty() {
        return format!("'{word}'");
    }
    match rest.chars().next() {
        Some(c) => format!("'{c}'"),
        None => "end of input".to_string(),
    }
}

/// The first position at or after `pos` that is not ASCII whitespace.
pub(crate) fn skip_ws(src: &str, mut pos: usize) -> usize {
    let bytes = src.as_bytes();
    while bytes.get(pos).is_some_and(|b| b.is_ascii_whitespace()) {
        pos += 1;
    }
    pos
}

/// Characters an attribute path token may contain (names, URNs, `.` and `$ref`).
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$' | ':' | '.')
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

/// Scans one attribute name starting at `start` (used after `]` in PATCH paths).
pub(crate) fn scan_name(src: &str, start: usize) -> Result<(String, usize), SyntaxError> {
    let bytes = src.as_bytes();
    let mut end = start;
    while bytes
        .get(end)
        .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$'))
    {
        end += 1;
    }
    scan_name_until(src, start, end)
}

/// Validates the `ATTRNAME` (RFC 7644 §3.10: ALPHA *(nameChar), or `$ref`) beginning at `start`
/// and ending at the first '.' or at `limit`; returns it and where it ends.
fn scan_name_until(src: &str, start: usize, limit: usize) -> Result<(String, usize), SyntaxError> {
    let bytes = src.as_bytes();
    let mut end = start;
    while end < limit && bytes.get(end).is_some_and(|b| *b != b'.') {
        end += 1;
    }
    let name = src.get(start..end).unwrap_or_default();
    if name.is_empty() {
        return Err(SyntaxError {
            offset: start,
            message: format!("missing attribute name at offset {start}; names start with a letter"),
        });
    }
    if name == "$ref" {
        return Ok((name.to_string(), end));
    }
    for (i, c) in name.char_indices() {
        let ok = if i == 0 {
            c.is_ascii_alphabetic()
        } else {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        };
        if !ok {
            let offset = start + i;
            let hint = if i == 0 {
                "attribute names start with a letter"
            } else {
                "attribute names contain only letters, digits, '-' and '_'"
            };
            return Err(SyntaxError {
                offset,
                message: format!("unexpected '{c}' at offset {offset}; {hint}"),
            });
        }
    }
    Ok((name.to_string(), end))
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
