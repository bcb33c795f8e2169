//! Secret Tokens the gateway issued (`scim-gateway token create`), as the store keeps them:
//! a SHA-256 digest and a short prefix to recognise the token by, never the token itself.
//! Times are Unix seconds so that expiry is a plain comparison on any backend.

/// One issued token of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// Stable id (a UUID), unique across tenants.
    pub id: String,
    pub tenant: String,
    /// What the operator called it (e.g. "entra-prod"); names may repeat across rotations.
    pub name: String,
    /// The token's first characters, shown in lists so an operator can tell tokens apart.
    pub prefix: String,
    /// Hex SHA-256 of the whole token.
    pub digest: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl IssuedToken {
    /// Whether the token lets a client in at `now` (Unix seconds): not revoked, not expired.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}
