//! The shared pace in PostgreSQL. A turn of the rate is one upsert of the pace's row (GCRA: a
//! call may start at `max(now, tat - tolerance, paused_until)`, and `tat` moves on by one
//! period), so instances never overtake each other; a slot is taken with `FOR UPDATE SKIP
//! LOCKED`, so instances polling for slots do not wait on each other's row locks.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{Cadence, PaceStore, Reservation};
use crate::store::api::store_fns;
use crate::store::error::StoreError;

/// Connections of the pace's own pool: each turn is one short statement.
const MAX_CONNECTIONS: u32 = 4;
/// How long a turn waits for a free connection before failing as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Now on the database's clock, in microseconds (`now()` is the statement's start: a turn
/// computed from it is never earlier than one computed from the moment it is answered).
macro_rules! now_us {
    () => {
        "(extract(epoch FROM now()) * 1000000)::bigint"
    };
}

/// `$1` key, `$2` period, `$3` tolerance ((burst - 1) periods), `$4` the longest wait; returns
/// the wait before the turn granted, or no row when it would come later than `$4`.
const RESERVE: &str = concat!(
    "INSERT INTO pace (key, tat, paused_until) VALUES ($1, ",
    now_us!(),
    " + $2, 0) ON CONFLICT (key) DO UPDATE \
     SET tat = GREATEST(pace.tat, ",
    now_us!(),
    ", pace.paused_until) + $2 \
     WHERE GREATEST(pace.tat - $3, pace.paused_until) <= ",
    now_us!(),
    " + $4 RETURNING GREATEST(",
    now_us!(),
    ", pace.tat - $2 - $3, pace.paused_until) - ",
    now_us!()
);

/// `$1` key, `$2` tolerance: how long until the next turn (after a refused reservation).
const NEXT_TURN: &str = concat!(
    "SELECT GREATEST(tat - $2, paused_until) - ",
    now_us!(),
    " FROM pace WHERE key = $1"
);

/// `$1` key, `$2` the pause.
const PAUSE: &str = concat!(
    "INSERT INTO pace (key, tat, paused_until) VALUES ($1, 0, ",
    now_us!(),
    " + $2) ON CONFLICT (key) DO UPDATE \
     SET paused_until = GREATEST(pace.paused_until, excluded.paused_until)"
);

/// `$1` key, `$2` slot count: the slot rows, each free.
const CREATE_SLOTS: &str = "INSERT INTO pace_slots (key, slot, holder, expires_at) \
     SELECT $1, n, NULL, 0 FROM generate_series(0::bigint, $2 - 1) AS n \
     ON CONFLICT DO NOTHING";

/// `$1` key, `$2` slot count, `$3` holder, `$4` lease: the slot taken, if any.
const TAKE_SLOT: &str = concat!(
    "UPDATE pace_slots SET holder = $3, expires_at = ",
    now_us!(),
    " + $4 WHERE key = $1 AND slot = (SELECT slot FROM pace_slots \
     WHERE key = $1 AND slot < $2 AND (holder IS NULL OR expires_at < ",
    now_us!(),
    ") ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING slot"
);

/// `$1` key, `$2` slot, `$3` holder, `$4` lease.
const RENEW_SLOT: &str = concat!(
    "UPDATE pace_slots SET expires_at = ",
    now_us!(),
    " + $4 WHERE key = $1 AND slot = $2 AND holder = $3"
);

/// `$1` key, `$2` slot, `$3` holder.
const RELEASE_SLOT: &str = "UPDATE pace_slots SET holder = NULL, expires_at = 0 \
     WHERE key = $1 AND slot = $2 AND holder = $3";

/// The PostgreSQL [`PaceStore`].
#[derive(Debug)]
pub struct PostgresPace {
    pool: PgPool,
    /// The (key, slot count) pairs whose slot rows exist.
    slot_rows: Mutex<HashSet<(String, u32)>>,
}

impl PostgresPace {
    /// A pace on the database at `url`, connecting when first used.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid postgres url: {e}")))?;
        Ok(Self {
            pool: PgPoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options),
            slot_rows: Mutex::default(),
        })
    }

    /// Creates the slot rows of `key` the first time this instance uses them.
    async fn create_slots(&self, key: &str, slots: u32) -> Result<(), StoreError> {
        let pair = (key.to_owned(), slots);
        let known = |set: &HashSet<_>| set.contains(&pair);
        if known(
            &self
                .slot_rows
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        ) {
            return Ok(());
        }
        sqlx::query(CREATE_SLOTS)
            .bind(key)
            .bind(i64::from(slots))
            .execute(&self.pool)
            .await?;
        self.slot_rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pair);
        Ok(())
    }
}

/// A duration as the pace rows keep it.
fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A wait the database computed (never negative).
fn wait(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

impl PaceStore for PostgresPace {
    store_fns! {
        fn reserve(self, key: &'a str, cadence: Cadence, within: Duration) -> Reservation {
            Box::pin(async move {
                let tolerance = cadence.period * cadence.burst.saturating_sub(1);
                let granted: Option<i64> = sqlx::query_scalar(RESERVE)
                    .bind(key)
                    .bind(micros(cadence.period))
                    .bind(micros(tolerance))
                    .bind(micros(within))
                    .fetch_optional(&self.pool)
                    .await?;
                if let Some(us) = granted {
                    return Ok(Reservation::Granted(wait(us)));
                }
                let next = sqlx::query_scalar(NEXT_TURN).bind(key).bind(micros(tolerance));
                let next: Option<i64> = next.fetch_optional(&self.pool).await?;
                Ok(Reservation::Refused(wait(next.unwrap_or(0)).max(within)))
            })
        }

        fn pause(self, key: &'a str, delay: Duration) -> () {
            let query = sqlx::query(PAUSE).bind(key).bind(micros(delay));
            Box::pin(async move {
                query.execute(&self.pool).await?;
                Ok(())
            })
        }

        fn take_slot(
            self, key: &'a str, slots: u32, holder: &'a str, lease: Duration,
        ) -> Option<u32> {
            Box::pin(async move {
                self.create_slots(key, slots).await?;
                let slot: Option<i64> = sqlx::query_scalar(TAKE_SLOT)
                    .bind(key)
                    .bind(i64::from(slots))
                    .bind(holder)
                    .bind(micros(lease))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(slot.and_then(|s| u32::try_from(s).ok()))
            })
        }

        fn renew_slot(self, key: &'a str, slot: u32, holder: &'a str, lease: Duration) -> bool {
            let query = sqlx::query(RENEW_SLOT).bind(key).bind(i64::from(slot)).bind(holder);
            let query = query.bind(micros(lease));
            Box::pin(async move { Ok(query.execute(&self.pool).await?.rows_affected() == 1) })
        }

        fn release_slot(self, key: &'a str, slot: u32, holder: &'a str) -> () {
            let query = sqlx::query(RELEASE_SLOT).bind(key).bind(i64::from(slot)).bind(holder);
            Box::pin(async move {
                query.execute(&self.pool).await?;
                Ok(())
            })
        }
    }
}
