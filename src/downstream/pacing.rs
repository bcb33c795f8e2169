//! The pace of the calls to one downstream: a sustained rate with a burst (governor's token
//! bucket), a cap on calls in flight (a semaphore), and pauses the downstream asks for with
//! `Retry-After`. A call over them waits its turn instead of failing; only when the wait would
//! pass `max_queue_wait` does it give up, as [`DownstreamError::Busy`], without being sent.
//!
//! Why waiting: Entra ID sends bursts with no rate limit of its own, while legacy APIs allow a
//! few calls per second; a short queue turns the burst into the pace the API accepts.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, sleep_until, timeout_at};

use super::budget;
use super::error::DownstreamError;

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

/// The shared pacing state of one downstream (every service of a tenant uses the same one).
#[derive(Debug)]
pub struct Pacer {
    max_queue_wait: Duration,
    rate: Option<DefaultDirectRateLimiter>,
    /// Calls take the rate's tokens one at a time, in arrival order (tokio's Mutex is fair),
    /// so a call that waits long is not overtaken by later ones.
    rate_turn: tokio::sync::Mutex<()>,
    slots: Option<Arc<Semaphore>>,
    paused_until: Mutex<Option<Instant>>,
}

/// The right to make one call now: it holds a concurrency slot until dropped, so keep it
/// until the answer is read.
#[derive(Debug)]
pub struct Pass {
    _slot: Option<OwnedSemaphorePermit>,
}

impl Pacer {
    pub fn new(settings: &PacingSettings) -> Self {
        let rate = settings.rate.and_then(|rate| {
            let period = Duration::from_secs_f64(1.0 / rate.per_second);
            let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(rate.burst)?);
            Some(RateLimiter::direct(quota))
        });
        Self {
            max_queue_wait: settings.max_queue_wait,
            rate,
            rate_turn: tokio::sync::Mutex::new(()),
            slots: settings
                .max_concurrent
                .map(|n| Arc::new(Semaphore::new(n as usize))),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits until a call may be made: no pause, a free slot, and a token of the rate.
    /// [`DownstreamError::Busy`] when that would take longer than `max_queue_wait` (at once
    /// when a pause already ends later than that).
    pub async fn admit(&self) -> Result<Pass, DownstreamError> {
        // The wait ends at max_queue_wait, or sooner when the request has less time left.
        let started = Instant::now();
        let deadline = budget::cap(started + self.max_queue_wait);
        let window = deadline.saturating_duration_since(started);
        if let Some(until) = self.pause_end().filter(|until| *until > deadline) {
            return Err(Self::busy(window, until - Instant::now()));
        }
        let slot = match &self.slots {
            None => None,
            Some(slots) => match timeout_at(deadline, slots.clone().acquire_owned()).await {
                Ok(Ok(permit)) => Some(permit),
                // The semaphore is never closed; a timeout is the only way here.
                Ok(Err(_)) | Err(_) => return Err(Self::busy(window, window)),
            },
        };
        // A pause may begin while this call waits for the rate (another call got a 429): then
        // it waits for the pause too, and for a new token after it.
        loop {
            if let Some(until) = self.pause_end() {
                if until > deadline {
                    return Err(Self::busy(window, until - Instant::now()));
                }
                sleep_until(until).await;
            }
            if let Some(rate) = &self.rate {
                let paced = timeout_at(deadline, async {
                    let _turn = self.rate_turn.lock().await;
                    rate.until_ready().await;
                });
                if paced.await.is_err() {
                    return Err(Self::busy(window, window));
                }
            }
            if self.pause_end().is_none() {
                return Ok(Pass { _slot: slot });
            }
        }
    }

    /// Holds every call back for `delay` (a downstream's `Retry-After`); a longer pause
    /// already in force stays.
    pub fn pause_for(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// When the current pause ends; `None` when calls are not paused.
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

    /// The call could not start within `window`; the SCIM client may try again after
    /// `retry_after`.
    fn busy(window: Duration, retry_after: Duration) -> DownstreamError {
        DownstreamError::Busy {
            waited_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(rate: Option<Rate>, max_concurrent: Option<u32>, wait_ms: u64) -> Pacer {
        Pacer::new(&PacingSettings {
            rate,
            max_concurrent,
            max_queue_wait: Duration::from_millis(wait_ms),
        })
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
        pacer.pause_for(Duration::from_millis(100));
        let started = Instant::now();
        pacer.admit().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(100));

        pacer.pause_for(Duration::from_secs(60));
        let retry_after = is_busy(pacer.admit().await).unwrap();
        assert!(retry_after > Duration::from_secs(50), "{retry_after:?}");
        // A shorter pause does not cut a longer one short.
        pacer.pause_for(Duration::from_millis(1));
        assert!(is_busy(pacer.admit().await).unwrap() > Duration::from_secs(50));
    }
}
