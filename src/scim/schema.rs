//! SCIM schema definitions (RFC 7643 §7): the attribute characteristics the protocol code needs
//! (case-exactness, multi-valuedness, mutability) and the `/Schemas` documents the gateway serves.

use serde::{Deserialize, Serialize};

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// Whether and how a client may change an attribute (RFC 7643 §7 `mutability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 §7 `returned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

/// Uniqueness of an attribute's values (RFC 7643 §7 `uniqueness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition, in the JSON shape of RFC 7643 §7 so catalogs deserialize directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub attr_type: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttributeDef>,
}

/// A schema (RFC 7643 §7): a URN and its attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaDef {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

/// A resource type's schemas: the core schema and its extensions (RFC 7643 §3.3), with the
/// case-insensitive lookups (RFC 7643 §2.1) that filters, PATCH and mapping share.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    pub core: SchemaDef,
    pub extensions: Vec<SchemaDef>,
}

impl ResourceSchema {
    /// The extension schema whose URN is `urn` (case-insensitive).
    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The schema a path's URN names: the core schema when `urn` is `None` or the core URN.
    pub fn schema_for(&self, urn: Option<&str>) -> Option<&SchemaDef> {
        match urn {
            None => Some(&self.core),
            Some(u) if u.eq_ignore_ascii_case(&self.core.id) => Some(&self.core),
            Some(u) => self.extension(u),
        }
    }

    /// A top-level attribute by schema URN (`None` = core) and name, case-insensitively.
    pub fn attribute(&self, urn: Option<&str>, name: &str) -> Option<&AttributeDef> {
        find_attribute(&self.schema_for(urn)?.attributes, name)
    }
}

/// The attribute called `name` (case-insensitive) among `attributes`.
pub fn find_attribute<'a>(attributes: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
pub(crate) mod fixtures;
