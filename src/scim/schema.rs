//! SCIM schema definitions (RFC 7643 §7): the attribute characteristics the protocol code needs
//! (case-exactness, multi-valuedness, mutability) and the `/Schemas` documents the gateway serves.

use serde::{Deserialize, Serialize};

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 §7 `returned`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

/// Uniqueness of an attribute's values (RFC 7643 §7 `uniqueness`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition, in the JSON shape of RFC 7643 §7 so catalogs deserialize directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// An open extension takes attributes of any name, as strings (e.g. free metadata keys);
    /// see [`ResourceSchema::widened`].
    #[serde(skip)]
    pub open: bool,
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

impl ResourceSchema {
    /// This schema with a string attribute added to each open extension for every name the
    /// request or resource `values` use under it (as an `urn:...:name` path or a key of the
    /// extension's object), so the protocol code can treat free keys like declared ones.
    /// Borrowed when no extension is open.
    pub fn widened<'a>(&'a self, values: &[&serde_json::Value]) -> std::borrow::Cow<'a, Self> {
        let open: Vec<&str> = self
            .extensions
            .iter()
            .filter(|e| e.open)
            .map(|e| e.id.as_str())
            .collect();
        if open.is_empty() {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut names: Vec<(String, String)> = Vec::new();
        for v in values {
            collect_open_names(v, &open, &mut names);
        }
        self.with_free_keys(&names)
    }

    /// [`widened`](Self::widened) for names already known as (extension URN, name) pairs,
    /// e.g. the paths of a parsed filter. Borrowed when no extension is open.
    pub fn widened_by_names<'a, 'n>(
        &'a self,
        names: impl IntoIterator<Item = (&'n str, &'n str)>,
    ) -> std::borrow::Cow<'a, Self> {
        if !self.extensions.iter().any(|e| e.open) {
            return std::borrow::Cow::Borrowed(self);
        }
        let names: Vec<(String, String)> = names
            .into_iter()
            .map(|(urn, name)| (urn.to_owned(), name.to_owned()))
            .collect();
        self.with_free_keys(&names)
    }

    /// A copy with a free string attribute for each (URN, name) an open extension lacks.
    fn with_free_keys<'a>(&self, names: &[(String, String)]) -> std::borrow::Cow<'a, Self> {
        let mut schema = self.clone();
        for ext in schema.extensions.iter_mut().filter(|e| e.open) {
            // A set of the names present, so a request naming many free keys costs time in
            // proportion to them (each lookup in the list would be quadratic).
            let mut known: std::collections::HashSet<String> = ext
                .attributes
                .iter()
                .map(|a| a.name.to_ascii_lowercase())
                .collect();
            for (urn, name) in names {
                if urn.eq_ignore_ascii_case(&ext.id) && known.insert(name.to_ascii_lowercase()) {
                    ext.attributes.push(free_string(name));
                }
            }
        }
        std::borrow::Cow::Owned(schema)
    }
}

/// A free-key attribute of an open extension.
fn free_string(name: &str) -> AttributeDef {
    AttributeDef {
        name: name.to_owned(),
        attr_type: AttrType::String,
        multi_valued: false,
        description: String::new(),
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: Vec::new(),
        reference_types: Vec::new(),
        sub_attributes: Vec::new(),
    }
}

/// Every (extension URN, attribute name) a JSON value names under an open extension: keys of
/// an object that is the value of the extension's URN, and strings or keys of the form
/// `urn...:name` (PATCH paths, no-path keys, filters are passed as strings too).
fn collect_open_names(v: &serde_json::Value, open: &[&str], out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    let from_path = |text: &str, out: &mut Vec<(String, String)>| {
        for urn in open {
            let lower = text.to_ascii_lowercase();
            let prefix = format!("{}:", urn.to_ascii_lowercase());
            for (at, _) in lower.match_indices(&prefix) {
                let rest = &text[at + prefix.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                if !name.is_empty() {
                    out.push(((*urn).to_owned(), name));
                }
            }
        }
    };
    match v {
        Value::String(s) => from_path(s, out),
        Value::Array(items) => items.iter().for_each(|i| collect_open_names(i, open, out)),
        Value::Object(fields) => {
            for (k, child) in fields {
                from_path(k, out);
                if let (Some(urn), Value::Object(attrs)) =
                    (open.iter().find(|u| u.eq_ignore_ascii_case(k)), child)
                {
                    out.extend(attrs.keys().map(|n| ((*urn).to_owned(), n.clone())));
                }
                collect_open_names(child, open, out);
            }
        }
        _ => {}
    }
}

/// The most values one multi-valued attribute (emails, phoneNumbers, roles, entitlements, an
/// extension's lists) may hold in a request or after a PATCH. RFC 7643 sets no number; people
/// have a handful of addresses, and IdPs send at most tens of roles or entitlements, while
/// the cost of a write grows with the values. 1,000 leaves room for an unusual API and keeps
/// a request far from the 1 MiB body limit's 20,000 values. Group `members` are exempt: see
/// [`value_bound`].
pub const MAX_VALUES: usize = 1_000;

/// The bound on the number of values of `def` (when multi-valued): `max` for every
/// multi-valued attribute except Group `members`, which are bounded only by the body size.
/// Memberships are rows of their own, each costing one store write and at most one downstream
/// call, and Entra ID and Okta send the membership of a big group in few requests (hundreds
/// or thousands of members in one PATCH or PUT); refusing those would break group sync with
/// no setting on the IdP side to make it send fewer.
pub fn value_bound(def: &AttributeDef, max: usize) -> Option<usize> {
    (def.multi_valued && !def.name.eq_ignore_ascii_case("members")).then_some(max)
}

/// The attribute called `name` (case-insensitive) among `attributes`.
pub fn find_attribute<'a>(attributes: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
pub(crate) mod fixtures;
