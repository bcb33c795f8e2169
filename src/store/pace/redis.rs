//! The shared pace in Redis (`[store] redis_url`), for deployments that would rather not put
//! every downstream call's turn on PostgreSQL. Each operation is one Lua script, atomic on the
//! server, on Redis's clock (`TIME`): the GCRA state of a pace is a hash that expires once it
//! holds nothing a later turn needs; each slot is a key set with `NX` and a `PX` lease.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, FromRedisValue, Script, ScriptInvocation};

use super::{Cadence, PaceStore, Reservation};
use crate::store::api::store_fns;
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

impl RedisPace {
    /// Runs one of the scripts on the shared connection.
    async fn run<T: FromRedisValue>(&self, script: &ScriptInvocation<'_>) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        script
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)
    }
}

impl PaceStore for RedisPace {
    store_fns! {
        fn reserve(self, key: &'a str, cadence: Cadence, within: Duration) -> Reservation {
            Box::pin(async move {
                let tolerance = cadence.period * cadence.burst.saturating_sub(1);
                let mut script = self.scripts.reserve.key(pace_key(key));
                script.arg(micros(cadence.period)).arg(micros(tolerance)).arg(micros(within));
                let (granted, wait): (i64, i64) = self.run(&script).await?;
                let wait = Duration::from_micros(u64::try_from(wait).unwrap_or(0));
                Ok(if granted == 1 {
                    Reservation::Granted(wait)
                } else {
                    Reservation::Refused(wait)
                })
            })
        }

        fn pause(self, key: &'a str, delay: Duration) -> () {
            Box::pin(async move {
                let mut script = self.scripts.pause.key(pace_key(key));
                let _: i64 = self.run(script.arg(micros(delay))).await?;
                Ok(())
            })
        }

        fn take_slot(
            self, key: &'a str, slots: u32, holder: &'a str, lease: Duration,
        ) -> Option<u32> {
            Box::pin(async move {
                let mut script = self.scripts.take_slot.key(slots_prefix(key));
                script.arg(slots).arg(holder).arg(millis(lease));
                let slot: i64 = self.run(&script).await?;
                Ok(u32::try_from(slot).ok())
            })
        }

        fn renew_slot(self, key: &'a str, slot: u32, holder: &'a str, lease: Duration) -> bool {
            Box::pin(async move {
                let mut script = self.scripts.renew_slot.key(slot_key(key, slot));
                let renewed: i64 = self.run(script.arg(holder).arg(millis(lease))).await?;
                Ok(renewed == 1)
            })
        }

        fn release_slot(self, key: &'a str, slot: u32, holder: &'a str) -> () {
            Box::pin(async move {
                let mut script = self.scripts.release_slot.key(slot_key(key, slot));
                let _: i64 = self.run(script.arg(holder)).await?;
                Ok(())
            })
        }
    }
}
