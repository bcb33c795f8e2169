//! PATCH paths (RFC 7644 §3.5.2): an attribute path, a value filter and a sub-attribute:
//! parsing, canonical display and what they designate in a [`ResourceSchema`].

use std::fmt;
use std::str::FromStr;

use super::filter::{Filter, parser};
use super::lexer::{scan_name, skip_ws, unexpected};
use super::schema::{AttrType, ResourceSchema, SchemaDef};

pub use super::attr_path::{AttrPath, PathError, ResolvedAttr};
pub(crate) use super::attr_path::{resolve_sub, scan_attr_path};

#[cfg(test)]
mod tests;

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
