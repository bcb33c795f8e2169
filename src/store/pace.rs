//! Where gateway instances sharing a PostgreSQL store keep one pace of calls to a downstream:
//! a GCRA row per pace (the theoretical arrival time of the next call, and a pause the API
//! asked for) updated in one atomic statement, and a fixed set of concurrency slots leased with
//! an expiry. Every time is the database's clock, so instances need no synchronised clocks; an
//! instance that dies gives its slots back when their leases expire, within seconds.
//!
//! With `[store] redis_url` the same is kept in Redis instead ([`RedisPace`]). A SQLite store
//! serves one instance, which paces in memory: [`open`] gives `None` for it.

mod postgres;
mod redis;

#[cfg(test)]
mod tests;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use super::api::store_fns;
use super::error::StoreError;

pub use postgres::PostgresPace;
pub use redis::RedisPace;

/// A rate as the shared pace applies it (GCRA): one call per `period`, `burst` of them back to
/// back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    pub period: Duration,
    pub burst: u32,
}

/// The answer to a request for a turn of the rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reservation {
    /// The turn is taken: the call may start after this wait.
    Granted(Duration),
    /// The turn would come only after this wait, longer than the caller may wait; nothing
    /// was taken.
    Refused(Duration),
}

/// The shared pace rows of one store. `key` names one pace (a tenant's downstream).
pub trait PaceStore: Send + Sync + Debug {
    store_fns! {
        /// Takes the next turn of `cadence`, after any pause, if it comes within `within`.
        fn reserve(self, key: &'a str, cadence: Cadence, within: Duration) -> Reservation;

        /// Holds every later turn back for `delay` from now (a `Retry-After`); a longer pause
        /// already in force stays.
        fn pause(self, key: &'a str, delay: Duration) -> ();

        /// Takes a free (or expired) slot among the first `slots` for `holder` until `lease`
        /// from now; `None` when all are held.
        fn take_slot(
            self, key: &'a str, slots: u32, holder: &'a str, lease: Duration,
        ) -> Option<u32>;

        /// Extends `holder`'s lease of `slot` to `lease` from now; false when it lost the slot
        /// (its lease expired and another holder took it).
        fn renew_slot(self, key: &'a str, slot: u32, holder: &'a str, lease: Duration) -> bool;

        /// Gives `slot` back, if `holder` still holds it.
        fn release_slot(self, key: &'a str, slot: u32, holder: &'a str) -> ();
    }
}

/// The shared pace of instances whose store is at `store_url`: in Redis at `redis_url` when
/// given, else PostgreSQL's, on a small pool of its own (a call waiting for its turn never
/// takes a connection a store query needs); `None` for SQLite. Both connect when first used;
/// a PostgreSQL store must have been opened (migrated) first.
pub fn open(
    store_url: &str,
    redis_url: Option<&str>,
) -> Result<Option<Arc<dyn PaceStore>>, StoreError> {
    if let Some(url) = redis_url {
        Ok(Some(Arc::new(RedisPace::connect_lazy(url)?)))
    } else if store_url.starts_with("postgres://") || store_url.starts_with("postgresql://") {
        Ok(Some(Arc::new(PostgresPace::connect_lazy(store_url)?)))
    } else {
        Ok(None)
    }
}
