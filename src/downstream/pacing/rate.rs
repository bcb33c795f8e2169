//! The rate half of the pace: governor's token bucket in this process, or a turn of the GCRA
//! row in the store that other instances share. Both wait in the call for the turn and give up
//! when it would come after the deadline.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::{Instant, timeout_at};

use super::{SharedPace, busy, unavailable};
use crate::downstream::error::DownstreamError;
use crate::store::pace::{Cadence, Reservation};

/// Where the turns of a rate are taken.
#[derive(Debug)]
pub(super) enum RateGate {
    /// This instance alone: a token bucket.
    Local {
        limiter: DefaultDirectRateLimiter,
        /// Calls take the rate's tokens one at a time, in arrival order (tokio's Mutex is
        /// fair), so a call that waits long is not overtaken by later ones.
        turn: tokio::sync::Mutex<()>,
    },
    /// Every instance sharing the store: one GCRA row, each turn reserved in one statement
    /// (turns are taken in the order the store serves them).
    Shared { pace: SharedPace, cadence: Cadence },
}

impl RateGate {
    /// The gate of `rate`; `None` when the rate cannot pace anything (checked config never
    /// gives one).
    pub(super) fn new(rate: super::Rate, shared: Option<SharedPace>) -> Option<Self> {
        let period = Duration::from_secs_f64(1.0 / rate.per_second);
        let burst = NonZeroU32::new(rate.burst)?;
        Some(match shared {
            Some(pace) => Self::Shared {
                pace,
                cadence: Cadence {
                    period,
                    burst: burst.get(),
                },
            },
            None => Self::Local {
                limiter: RateLimiter::direct(Quota::with_period(period)?.allow_burst(burst)),
                turn: tokio::sync::Mutex::new(()),
            },
        })
    }

    /// Waits for this call's turn; [`DownstreamError::Busy`] when it would come after
    /// `deadline` (`window` from the call's arrival).
    pub(super) async fn take(
        &self,
        deadline: Instant,
        window: Duration,
    ) -> Result<(), DownstreamError> {
        match self {
            Self::Local { limiter, turn } => {
                let paced = timeout_at(deadline, async {
                    let _turn = turn.lock().await;
                    limiter.until_ready().await;
                });
                paced.await.map_err(|_| busy(window, window))
            }
            Self::Shared { pace, cadence } => {
                let within = deadline.saturating_duration_since(Instant::now());
                match pace.store.reserve(&pace.key, *cadence, within).await {
                    Ok(Reservation::Granted(wait)) => {
                        tokio::time::sleep(wait).await;
                        Ok(())
                    }
                    Ok(Reservation::Refused(wait)) => Err(busy(window, wait)),
                    Err(e) => Err(unavailable(e)),
                }
            }
        }
    }

    /// Tells the other instances of a shared rate to hold their calls back for `delay` too
    /// (were that to fail, they learn of the pause from the API itself).
    pub(super) async fn publish_pause(&self, delay: Duration) {
        if let Self::Shared { pace, .. } = self
            && let Err(e) = pace.store.pause(&pace.key, delay).await
        {
            tracing::warn!(error = %e, "a downstream pause was not shared with the other instances");
        }
    }
}
