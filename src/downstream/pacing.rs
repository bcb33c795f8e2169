//! The pace of the calls to one downstream: a sustained rate with a burst, a cap on calls in
//! flight, and pauses the downstream asks for with `Retry-After`. A call over them waits its
//! turn instead of failing; only when the wait would pass `max_queue_wait` does it give up, as
//! [`DownstreamError::Busy`], without being sent.
//!
//! Why waiting: Entra ID sends bursts with no rate limit of its own, while legacy APIs allow a
//! few calls per second; a short queue turns the burst into the pace the API accepts.
//!
//! One instance keeps the pace in memory (governor's token bucket, a semaphore). Instances
//! sharing a PostgreSQL store keep it together through the store's pace rows, or Redis
//! ([`PaceStore`]): the rate is one GCRA row, the cap a set of slots leased with an expiry
//! (`rate.rs`, `slots.rs`), so that the downstream sees one pace however many instances run.

mod rate;
mod slots;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::budget;
use super::error::DownstreamError;
use crate::store::pace::PaceStore;
use rate::RateGate;
use slots::{Slot, SlotGate};

/// A sustained rate and the calls allowed at once above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Calls per second, on average (may be fractional: 0.5 is one call every 2 s).
    pub per_second: f64,
    /// Calls that may go back to back before the pace applies (at least 1).
    pub burst: u32,
}

/// `[downstream]` rate_limit, max_concurrent and max_queue_wait_ms, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct PacingSettings {
    /// `None`: calls are not paced.
    pub rate: Option<Rate>,
    /// Calls in flight at once; `None` is unlimited.
    pub max_concurrent: Option<u32>,
    /// The longest a call waits for its turn before the SCIM client gets 503.
    pub max_queue_wait: Duration,
}

impl Default for PacingSettings {
    fn default() -> Self {
        Self {
            rate: None,
            max_concurrent: None,
            max_queue_wait: Duration::from_secs(5),
        }
    }
}

/// The pace rows, in a store other instances share, that one pace is kept in.
#[derive(Debug, Clone)]
pub struct SharedPace {
    pub store: Arc<dyn PaceStore>,
    /// Names this pace among the store's (the tenant: one downstream each).
    pub key: String,
}

/// The pacing state of one downstream (every service of a tenant uses the same one).
#[derive(Debug)]
pub struct Pacer {
    max_queue_wait: Duration,
    rate: Option<RateGate>,
    slots: Option<SlotGate>,
    paused_until: Mutex<Option<Instant>>,
}

/// The right to make one call now: it holds a concurrency slot until dropped, so keep it
/// until the answer is read.
#[derive(Debug)]
pub struct Pass {
    _slot: Option<Slot>,
}

impl Pacer {
    /// The pace of `settings`, kept in this process, or together with the other instances
    /// sharing `shared` when given.
    pub fn new(settings: &PacingSettings, shared: Option<SharedPace>) -> Self {
        Self {
            max_queue_wait: settings.max_queue_wait,
            rate: settings
                .rate
                .and_then(|rate| RateGate::new(rate, shared.clone())),
            slots: settings.max_concurrent.map(|n| SlotGate::new(n, shared)),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits until a call may be made: no pause, a free slot, and a turn of the rate.
    /// [`DownstreamError::Busy`] when that would take longer than `max_queue_wait` (at once
    /// when a pause already ends later than that).
    pub async fn admit(&self) -> Result<Pass, DownstreamError> {
        // The wait ends at max_queue_wait, or sooner when the request has less time left.
        let started = Instant::now();
        let deadline = budget::cap(started + self.max_queue_wait);
        let window = deadline.saturating_duration_since(started);
        if let Some(until) = self.pause_end().filter(|until| *until > deadline) {
            return Err(busy(window, until - Instant::now()));
        }
        let slot = match &self.slots {
            None => None,
            Some(slots) => Some(slots.take(deadline, window).await?),
        };
        // A pause may begin while this call waits for the rate (another call got a 429): then
        // it waits for the pause too, and for a new turn after it.
        loop {
            if let Some(until) = self.pause_end() {
                if until > deadline {
                    return Err(busy(window, until - Instant::now()));
                }
                sleep_until(until).await;
            }
            if let Some(rate) = &self.rate {
                rate.take(deadline, window).await?;
            }
            if self.pause_end().is_none() {
                return Ok(Pass { _slot: slot });
            }
        }
    }

    /// Holds every call back for `delay` (a downstream's `Retry-After`); a longer pause
    /// already in force stays. A shared rate passes the pause on to the other instances.
    pub async fn pause_for(&self, delay: Duration) {
        let until = Instant::now() + delay;
        {
            let mut paused = self
                .paused_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if paused.is_none_or(|current| current < until) {
                *paused = Some(until);
            }
        }
        if let Some(rate) = &self.rate {
            rate.publish_pause(delay).await;
        }
    }

    /// When the current pause ends; `None` when calls are not paused.
    /// How much longer calls are held back by a downstream's `Retry-After`, if they are.
    pub fn paused_for(&self) -> Option<Duration> {
        self.pause_end().map(|until| until - Instant::now())
    }

    fn pause_end(&self) -> Option<Instant> {
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *paused {
            Some(until) if until > Instant::now() => Some(until),
            _ => {
                *paused = None;
                None
            }
        }
    }
}

/// The call could not start within `window`; the SCIM client may try again after
/// `retry_after`.
fn busy(window: Duration, retry_after: Duration) -> DownstreamError {
    DownstreamError::Busy {
        waited_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
        retry_after,
    }
}

/// The shared pace could not be read: the call is not sent, the client may retry soon.
fn unavailable(e: crate::store::StoreError) -> DownstreamError {
    tracing::warn!(error = %e, "the shared downstream pace is unavailable; the call was not sent");
    DownstreamError::PaceUnavailable(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(rate: Option<Rate>, max_concurrent: Option<u32>, wait_ms: u64) -> Pacer {
        let settings = PacingSettings {
            rate,
            max_concurrent,
            max_queue_wait: Duration::from_millis(wait_ms),
        };
        Pacer::new(&settings, None)
    }

    fn is_busy(result: Result<Pass, DownstreamError>) -> Option<Duration> {
        match result {
            Err(DownstreamError::Busy { retry_after, .. }) => Some(retry_after),
            other => panic!("expected Busy, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_call_over_the_concurrency_waits_for_a_slot() {
        let pacer = Arc::new(pacer(None, Some(1), 5_000));
        let first = pacer.admit().await.unwrap();
        let waiting = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.admit().await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the second call did not wait");
        drop(first);
        waiting.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_call_that_would_wait_too_long_is_busy_and_not_admitted() {
        let pacer = pacer(None, Some(1), 50);
        let _first = pacer.admit().await.unwrap();
        assert!(is_busy(pacer.admit().await).is_some());

        let paced = self::pacer(
            Some(Rate {
                per_second: 0.1,
                burst: 1,
            }),
            None,
            50,
        );
        paced.admit().await.unwrap();
        assert!(is_busy(paced.admit().await).is_some());
    }

    #[tokio::test]
    async fn a_pause_holds_calls_back_and_a_long_one_answers_busy_at_once() {
        let pacer = pacer(None, None, 5_000);
        pacer.pause_for(Duration::from_millis(100)).await;
        let started = Instant::now();
        pacer.admit().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(100));

        pacer.pause_for(Duration::from_secs(60)).await;
        let retry_after = is_busy(pacer.admit().await).unwrap();
        assert!(retry_after > Duration::from_secs(50), "{retry_after:?}");
        // A shorter pause does not cut a longer one short.
        pacer.pause_for(Duration::from_millis(1)).await;
        assert!(is_busy(pacer.admit().await).unwrap() > Duration::from_secs(50));
    }

    #[tokio::test]
    async fn a_call_whose_shared_pace_cannot_be_reached_is_not_admitted_and_may_retry() {
        let store =
            crate::store::pace::PostgresPace::connect_lazy("postgres://postgres@127.0.0.1:1/test");
        let settings = PacingSettings {
            rate: Some(Rate {
                per_second: 10.0,
                burst: 1,
            }),
            ..PacingSettings::default()
        };
        let shared = SharedPace {
            store: Arc::new(store.unwrap()),
            key: "t".into(),
        };
        match Pacer::new(&settings, Some(shared)).admit().await {
            Err(e @ DownstreamError::PaceUnavailable(_)) => assert!(e.retry_after().is_some()),
            other => panic!("expected PaceUnavailable, got {other:?}"),
        }
    }
}
