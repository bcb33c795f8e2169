//! Secret Tokens the gateway issues itself (`scim-gateway token create`): 256 random bits
//! behind a recognisable prefix, shown once, stored as a SHA-256 digest. A high-entropy token
//! needs no slow password hash: nobody can guess it, so a digest leak reveals nothing usable.
//! Every request looks the digest up in the store, so a revocation or expiry made by another
//! process applies to the next request.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use time::OffsetDateTime;

use super::{generate_token, token_digest_hex};
use crate::store::{IssuedToken, StoreError, TokenStore};

/// Every issued token starts with this, so scanners and operators can tell what it is.
pub const TOKEN_PREFIX: &str = "sgw_";
/// Characters of a token shown in `token list` (the prefix and 8 hex digits).
const SHOWN_CHARS: usize = TOKEN_PREFIX.len() + 8;
/// How often `last used` is written per token, at most.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// A freshly issued token: the secret (print it once) and what the store keeps.
pub struct NewToken {
    pub secret: String,
    pub record: IssuedToken,
}

/// Makes a token for `tenant` named `name`, expiring `expires_in` after `now` (if given).
pub fn issue(
    tenant: &str,
    name: &str,
    now: i64,
    expires_in: Option<Duration>,
) -> Result<NewToken, getrandom::Error> {
    let secret = format!("{TOKEN_PREFIX}{}", generate_token()?);
    let record = IssuedToken {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.to_owned(),
        name: name.to_owned(),
        prefix: secret[..SHOWN_CHARS].to_owned(),
        digest: token_digest_hex(&secret),
        created_at: now,
        expires_at: expires_in.map(|d| now.saturating_add(duration_secs(d))),
        revoked_at: None,
        last_used_at: None,
    };
    Ok(NewToken { secret, record })
}

/// Issues and stores a token (the `token` command and the console); the caller shows the
/// secret once.
pub async fn create(
    store: &dyn TokenStore,
    tenant: &str,
    name: &str,
    expires_in: Option<Duration>,
) -> Result<NewToken, String> {
    let token = issue(tenant, name, unix_now(), expires_in)
        .map_err(|e| format!("no randomness for a token: {e}"))?;
    store
        .insert_token(&token.record)
        .await
        .map_err(|e| e.to_string())?;
    Ok(token)
}

/// Rotation with overlap: issues a token named like the first of `old` and lets every one of
/// `old` expire `overlap` from now, so the SCIM client can switch without a failed call.
pub async fn replace(
    store: &dyn TokenStore,
    tenant: &str,
    old: &[IssuedToken],
    overlap: Duration,
    expires_in: Option<Duration>,
) -> Result<NewToken, String> {
    let Some(first) = old.first() else {
        return Err(format!("tenant {tenant} has no such valid token"));
    };
    // Without `expires_in`, the successor lives as long as the old one was given.
    let lifetime = first
        .expires_at
        .map(|e| Duration::from_secs(e.saturating_sub(first.created_at).max(1).unsigned_abs()));
    let new = create(store, tenant, &first.name, expires_in.or(lifetime)).await?;
    let until = unix_now().saturating_add(duration_secs(overlap));
    for token in old {
        store
            .shorten_token(tenant, &token.id, until)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(new)
}

/// Whole seconds of a duration, saturating.
pub fn duration_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Now, in Unix seconds.
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Verifies presented tokens of one tenant against the store.
#[derive(Clone)]
pub struct IssuedTokens {
    store: Arc<dyn TokenStore>,
    tenant: String,
    recently_touched: Cache<String, ()>,
}

impl IssuedTokens {
    pub fn new(store: Arc<dyn TokenStore>, tenant: &str) -> Self {
        Self {
            store,
            tenant: tenant.to_owned(),
            recently_touched: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(TOUCH_INTERVAL)
                .build(),
        }
    }

    /// The token's name when it is one of this tenant's, not revoked and not expired.
    /// Only the digest reaches the store: the lookup is by a hash the client cannot steer.
    pub async fn verify(&self, presented: &str) -> Result<Option<String>, StoreError> {
        if !looks_issued(presented) {
            return Ok(None);
        }
        let digest = token_digest_hex(presented);
        let Some(token) = self.store.token_by_digest(&self.tenant, &digest).await? else {
            return Ok(None);
        };
        let now = unix_now();
        if !token.is_valid_at(now) {
            return Ok(None);
        }
        if !self.recently_touched.contains_key(&token.id) {
            self.recently_touched.insert(token.id.clone(), ());
            let (store, tenant, id) = (self.store.clone(), self.tenant.clone(), token.id.clone());
            tokio::spawn(async move {
                if let Err(e) = store.touch_token(&tenant, &id, now).await {
                    tracing::debug!(error = %e, "could not record a token's last use");
                }
            });
        }
        Ok(Some(token.name))
    }
}

/// Whether a string has the shape of an issued token (saves a store lookup for garbage).
fn looks_issued(presented: &str) -> bool {
    presented
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_random_prefixed_and_stored_as_digests() {
        let a = issue("acme", "entra", 1_000, Some(Duration::from_secs(90))).unwrap();
        let b = issue("acme", "entra", 1_000, None).unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(looks_issued(&a.secret));
        assert!(a.secret.starts_with(&a.record.prefix));
        assert_eq!(a.record.digest, token_digest_hex(&a.secret));
        assert!(!a.record.digest.contains(&a.secret[SHOWN_CHARS..]));
        assert_eq!(a.record.expires_at, Some(1_090));
        assert!(a.record.is_valid_at(1_089));
        assert!(!a.record.is_valid_at(1_090));
        assert!(b.record.is_valid_at(i64::MAX));
        assert!(!looks_issued("sgw_xyz"));
        assert!(!looks_issued(&a.secret[1..]));
    }
}
