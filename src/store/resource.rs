//! A correlated SCIM resource as the store keeps it: which downstream record it is, the keys
//! clients look it up by, the attributes only the gateway holds, and its version for ETags.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::error::StoreError;

/// The SCIM resource types the gateway stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// urn:ietf:params:scim:schemas:core:2.0:User
    User,
    /// urn:ietf:params:scim:schemas:core:2.0:Group (also virtual groups)
    Group,
}

impl ResourceType {
    /// The SCIM name, as stored: "User" or "Group".
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResourceType {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "User" => Ok(ResourceType::User),
            "Group" => Ok(ResourceType::Group),
            other => Err(StoreError::Corrupt(format!(
                "unknown resource type {other:?}"
            ))),
        }
    }
}

/// What a write sets on a resource; the store adds version and timestamps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceData {
    /// The downstream record's id; `None` for virtual resources held only by the gateway.
    pub downstream_id: Option<String>,
    /// The client's externalId.
    pub external_id: Option<String>,
    /// userName (User) or displayName (Group); stored lowercased.
    pub lookup_key: Option<String>,
    /// SCIM attributes the downstream cannot hold (a JSON object; `Null` stores `{}`).
    pub attributes: Value,
}

/// A stored resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The tenant that owns it.
    pub tenant: String,
    /// User or Group.
    pub resource_type: ResourceType,
    /// The SCIM id clients use.
    pub scim_id: String,
    /// The downstream record's id, if any.
    pub downstream_id: Option<String>,
    /// The client's externalId.
    pub external_id: Option<String>,
    /// The lookup key, lowercased.
    pub lookup_key: Option<String>,
    /// Attributes only the gateway holds.
    pub attributes: Value,
    /// Incremented on every write, starting at 1.
    pub version: i64,
    /// When it was first stored (RFC 3339).
    pub created: String,
    /// When it was last written (RFC 3339).
    pub last_modified: String,
}

impl Resource {
    /// True when writing `data` would change nothing, so a repeated request (Entra and Okta
    /// send the same update again) makes no write and no new version.
    pub fn holds(&self, data: &ResourceData) -> bool {
        let empty = |v: &Value| v.is_null() || v.as_object().is_some_and(|o| o.is_empty());
        self.downstream_id == data.downstream_id
            && self.external_id == data.external_id
            && self.lookup_key == data.lookup_key
            && (self.attributes == data.attributes
                || empty(&self.attributes) && empty(&data.attributes))
    }

    /// The weak ETag of this version: `W/"<version>"`.
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

/// The weak ETag of a version: `W/"<version>"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The form a lookup key is stored and compared in.
pub fn normalize_key(key: &str) -> String {
    key.to_lowercase()
}
