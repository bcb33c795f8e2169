//! The shared pace in Redis (`[store] redis_url`), for deployments that would rather not put
//! every downstream call's turn on PostgreSQL. Each operation is one Lua script, atomic on the
//! server, on Redis's clock (`TIME`): the GCRA state of a pace is a hash that expires once it
//! holds nothing a later turn needs; each slot is a key set with `NX` and a `PX` lease.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use super::{Cadence, PaceStore, Reservation};
use crate::store::api::BoxFuture;
use crate::store::error::StoreError;

/// Lua's `now` in microseconds on the server's clock (exact: below 2^53).
const NOW: &str = "local t = redis.call('TIME') \
     local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) ";

/// KEYS[1] the pace; ARGV period, tolerance, longest wait (µs). Returns {granted, wait}.
const RESERVE: &str = "local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or now) \
     local paused = tonumber(redis.call('HGET', KEYS[1], 'paused') or 0) \
     local period, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]) \
     local start = math.max(now, tat - tolerance, paused) \
     if start > now + tonumber(ARGV[3]) then return {0, start - now} end \
     tat = math.max(tat, now, paused) + period \
     redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat)) \
     redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(tat, paused) - now) / 1000) + 1000) \
     return {1, start - now}";

/// KEYS[1] the pace; ARGV the pause (µs).
const PAUSE: &str = "local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or now) \
     local paused = math.max(tonumber(redis.call('HGET', KEYS[1], 'paused') or 0), now + tonumber(ARGV[1])) \
     redis.call('HSET', KEYS[1], 'paused', string.format('%.0f', paused)) \
     redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(tat, paused) - now) / 1000) + 1000) \
     return 1";

/// KEYS[1] the slots' prefix; ARGV count, holder, lease (ms). Returns the slot or -1.
const TAKE_SLOT: &str = "for n = 0, tonumber(ARGV[1]) - 1 do \
       if redis.call('SET', KEYS[1] .. n, ARGV[2], 'NX', 'PX', ARGV[3]) then return n end \
     end \
     return -1";

/// KEYS[1] the slot; ARGV holder, lease (ms). Returns 1 when renewed.
const RENEW_SLOT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
       return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
     return 0";

/// KEYS[1] the slot; ARGV holder.
const RELEASE_SLOT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
       return redis.call('DEL', KEYS[1]) end \
     return 0";

/// The Redis [`PaceStore`]. Keys start with `scim-gateway:pace:`; give each deployment its own
/// Redis database (`redis://host/2`) if several share a server.
pub struct RedisPace {
    connection: ConnectionManager,
    scripts: Scripts,
}

struct Scripts {
    reserve: Script,
    pause: Script,
    take_slot: Script,
    renew_slot: Script,
    release_slot: Script,
}

impl std::fmt::Debug for RedisPace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisPace")
    }
}

impl RedisPace {
    /// A pace on the Redis server at `url`, connecting when first used (and again after a
    /// lost connection).
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        let client =
            Client::open(url).map_err(|e| StoreError::Config(format!("invalid redis url: {e}")))?;
        let connection = client
            .get_connection_manager_lazy(ConnectionManagerConfig::new())
            .map_err(unavailable)?;
        let timed = |body: &str| Script::new(&format!("{NOW}{body}"));
        Ok(Self {
            connection,
            scripts: Scripts {
                reserve: timed(RESERVE),
                pause: timed(PAUSE),
                take_slot: Script::new(TAKE_SLOT),
                renew_slot: Script::new(RENEW_SLOT),
                release_slot: Script::new(RELEASE_SLOT),
            },
        })
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

fn pace_key(key: &str) -> String {
    format!("scim-gateway:pace:{key}")
}

/// The slot keys of a pace are this followed by the slot's number.
fn slots_prefix(key: &str) -> String {
    format!("scim-gateway:pace:{key}:slot:")
}

fn slot_key(key: &str, slot: u32) -> String {
    format!("{}{slot}", slots_prefix(key))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A lease in whole milliseconds, at least one.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl PaceStore for RedisPace {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        cadence: Cadence,
        within: Duration,
    ) -> BoxFuture<'a, Result<Reservation, StoreError>> {
        Box::pin(async move {
            let tolerance = cadence.period * cadence.burst.saturating_sub(1);
            let (granted, wait): (i64, i64) = self
                .scripts
                .reserve
                .key(pace_key(key))
                .arg(micros(cadence.period))
                .arg(micros(tolerance))
                .arg(micros(within))
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(unavailable)?;
            let wait = Duration::from_micros(u64::try_from(wait).unwrap_or(0));
            Ok(if granted == 1 {
                Reservation::Granted(wait)
            } else {
                Reservation::Refused(wait)
            })
        })
    }

    fn pause<'a>(&'a self, key: &'a str, delay: Duration) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let _: i64 = self
                .scripts
                .pause
                .key(pace_key(key))
                .arg(micros(delay))
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    fn take_slot<'a>(
        &'a self,
        key: &'a str,
        slots: u32,
        holder: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<u32>, StoreError>> {
        Box::pin(async move {
            let slot: i64 = self
                .scripts
                .take_slot
                .key(slots_prefix(key))
                .arg(slots)
                .arg(holder)
                .arg(millis(lease))
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(unavailable)?;
            Ok(u32::try_from(slot).ok())
        })
    }

    fn renew_slot<'a>(
        &'a self,
        key: &'a str,
        slot: u32,
        holder: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let renewed: i64 = self
                .scripts
                .renew_slot
                .key(slot_key(key, slot))
                .arg(holder)
                .arg(millis(lease))
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(unavailable)?;
            Ok(renewed == 1)
        })
    }

    fn release_slot<'a>(
        &'a self,
        key: &'a str,
        slot: u32,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let _: i64 = self
                .scripts
                .release_slot
                .key(slot_key(key, slot))
                .arg(holder)
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }
}
