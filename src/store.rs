//! The gateway's durable state: what the downstream API cannot hold. Correlations between SCIM
//! ids and downstream ids, SCIM attributes the downstream has no field for, virtual groups and
//! their memberships, ETag versions, and a journal of half-done writes so a restart can repair
//! them. Small traits by concern ([`api`]) with two backends, chosen by URL in [`open`]: an
//! embedded SQLite file (the default, nothing to run) and PostgreSQL (several gateway
//! instances sharing state). A [`Store`] holds one part per concern and a [`TenantStore`]
//! binds it to one tenant. [`CachedResources`] and [`CachedMemberships`] put bounded in-memory
//! caches in front of the hot lookups; [`ScratchStore`] keeps a dry run's writes away from
//! the real store.
//!
//! It also keeps the Secret Tokens the gateway issued, as digests ([`IssuedToken`]), and the
//! provisioning activity the operator console shows ([`Activity`]).
//!
//! Every row is scoped by tenant: no method reads or writes across tenants.

pub mod activity;
pub mod api;
pub mod cached;
pub mod cached_members;
pub mod error;
pub mod handle;
pub mod intent;
pub mod migrations;
pub mod pace;
pub mod postgres;
pub mod resource;
pub mod scratch;
mod sql;
pub mod sqlite;
pub mod token;

#[cfg(test)]
mod tests;

pub use activity::{Activity, ActivityCounts, ActivityFilter};
pub use api::{
    ActivityLog, Backend, BoxFuture, IntentJournal, LeaseStore, MembershipStore, ResourceStore,
    TokenStore,
};
pub use cached::CachedResources;
pub use cached_members::CachedMemberships;
pub use error::StoreError;
pub use handle::{Store, TenantStore};
pub use intent::{Intent, IntentId};
pub use postgres::PostgresStore;
pub use resource::{Resource, ResourceData, ResourceType};
pub use scratch::ScratchStore;
pub use sqlite::SqliteStore;
pub use token::IssuedToken;

/// Opens the store a URL names, creating and migrating its schema as needed: `sqlite://path`
/// (file created on first run), `sqlite::memory:` (tests), or `postgres://...`
/// (`postgresql://` too; `?options=-c%20search_path%3Dname` selects a schema).
pub async fn open(url: &str) -> Result<Store, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Store::of(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Store::of(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::Config(format!(
            "unsupported store url {}: expected sqlite: or postgres://",
            redact_url(url)
        )))
    }
}

/// The URL with any password (in the user info or a `password=` parameter) replaced by
/// `***`, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                    let hidden = if userinfo.contains(':') { ":***" } else { "" };
                    format!("{scheme}://{user}{hidden}@{host}{path}")
                }
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}
