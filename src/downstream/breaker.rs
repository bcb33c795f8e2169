//! A circuit breaker per downstream: after `failures` consecutive failed calls it opens, and
//! calls fail at once for `open`; then one probe call is let through (half-open), whose
//! success closes the breaker and whose failure opens it again.
//!
//! Why: Entra ID quarantines an app whose calls keep failing slowly, and a downstream that is
//! down recovers sooner without a stream of retries. An open breaker answers 503 with the
//! seconds left as Retry-After, without touching the downstream.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::error::DownstreamError;

/// How long clients are asked to wait while the probe call is still out.
const PROBE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// `[downstream] breaker`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failed calls that open the breaker (at least 1).
    pub failures: u32,
    /// How long it stays open before a probe call is let through.
    pub open: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failures: 5,
            open: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// The open time is over; `probing` while the one probe call is out.
    HalfOpen {
        probing: bool,
    },
}

/// What the breaker lets through now, for the operator console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerStatus {
    /// Calls go through; `failures` consecutive ones have failed so far.
    Closed { failures: u32 },
    /// Calls fail at once for `remaining` more.
    Open { remaining: Duration },
    /// The open time is over: the next call (or the one out) probes the downstream.
    HalfOpen,
}

impl std::fmt::Display for BreakerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed { failures: 0 } => f.write_str("closed"),
            Self::Closed { failures } => write!(f, "closed ({failures} failed in a row)"),
            Self::Open { remaining } => write!(f, "open ({} s left)", remaining.as_secs() + 1),
            Self::HalfOpen => f.write_str("half-open (probing)"),
        }
    }
}

/// The breaker of one downstream, shared by all its calls.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    state: Mutex<State>,
}

/// Leave to make one call. Report its outcome with [`Ticket::record`]; a ticket dropped
/// without one (the call was cancelled or never sent) counts neither way.
#[derive(Debug)]
pub struct Ticket<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the breaker does with a call now.
    pub fn status(&self) -> BreakerStatus {
        match *self.state() {
            State::Closed { failures } => BreakerStatus::Closed { failures },
            State::Open { until } => match until.checked_duration_since(Instant::now()) {
                Some(remaining) if !remaining.is_zero() => BreakerStatus::Open { remaining },
                _ => BreakerStatus::HalfOpen,
            },
            State::HalfOpen { .. } => BreakerStatus::HalfOpen,
        }
    }

    /// Lets a call through, or refuses it at once with [`DownstreamError::CircuitOpen`] while
    /// the breaker is open (or its probe is out).
    pub fn admit(&self) -> Result<Ticket<'_>, DownstreamError> {
        let mut state = self.state();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(DownstreamError::CircuitOpen {
                        retry_after: until - now,
                    });
                }
                true
            }
            State::HalfOpen { probing: true } => {
                return Err(DownstreamError::CircuitOpen {
                    retry_after: PROBE_RETRY_AFTER,
                });
            }
            State::HalfOpen { probing: false } => true,
        };
        if probe {
            *state = State::HalfOpen { probing: true };
            tracing::info!("downstream circuit breaker half-open: one probe call goes through");
        }
        Ok(Ticket {
            breaker: self,
            probe,
            recorded: false,
        })
    }

    fn open(&self, state: &mut State, why: &str) {
        *state = State::Open {
            until: Instant::now() + self.settings.open,
        };
        tracing::warn!(
            open_ms = u64::try_from(self.settings.open.as_millis()).unwrap_or(u64::MAX),
            "downstream circuit breaker opened: {why}; calls fail at once until it probes again"
        );
    }
}

impl Ticket<'_> {
    /// Reports the call's outcome: `failed` when the downstream failed (see
    /// [`DownstreamError::is_downstream_failure`]).
    pub fn record(mut self, failed: bool) {
        self.recorded = true;
        let breaker = self.breaker;
        let mut state = breaker.state();
        match (*state, self.probe, failed) {
            (_, true, false) => {
                *state = State::Closed { failures: 0 };
                tracing::info!("downstream circuit breaker closed: the probe call succeeded");
            }
            (_, true, true) => breaker.open(&mut state, "the probe call failed"),
            (State::Closed { failures }, false, true) => {
                let failures = failures.saturating_add(1);
                if failures >= breaker.settings.failures {
                    breaker.open(&mut state, &format!("{failures} consecutive calls failed"));
                } else {
                    *state = State::Closed { failures };
                }
            }
            (State::Closed { .. }, false, false) => *state = State::Closed { failures: 0 },
            // A call admitted before the breaker opened: the probe decides, not it.
            (State::Open { .. } | State::HalfOpen { .. }, false, _) => {}
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            // The probe never reported: let the next call probe instead.
            let mut state = self.breaker.state();
            if *state == (State::HalfOpen { probing: true }) {
                *state = State::HalfOpen { probing: false };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32, open_ms: u64) -> Breaker {
        Breaker::new(BreakerSettings {
            failures,
            open: Duration::from_millis(open_ms),
        })
    }

    fn fail(b: &Breaker) {
        b.admit().unwrap().record(true);
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = breaker(3, 60_000);
        fail(&b);
        fail(&b);
        b.admit().unwrap().record(false); // a success starts the count again
        fail(&b);
        fail(&b);
        assert!(b.admit().is_ok());
        fail(&b);
        match b.admit() {
            Err(DownstreamError::CircuitOpen { retry_after }) => {
                assert!(retry_after > Duration::from_secs(50), "{retry_after:?}");
            }
            other => panic!("expected the breaker open, got {other:?}"),
        }
    }

    #[test]
    fn the_status_tells_closed_open_and_half_open() {
        let b = breaker(2, 60_000);
        assert_eq!(b.status(), BreakerStatus::Closed { failures: 0 });
        fail(&b);
        assert_eq!(b.status().to_string(), "closed (1 failed in a row)");
        fail(&b);
        assert!(
            matches!(b.status(), BreakerStatus::Open { remaining } if remaining > Duration::from_secs(50))
        );
        let quick = breaker(1, 0);
        fail(&quick);
        assert_eq!(quick.status(), BreakerStatus::HalfOpen);
    }

    #[tokio::test]
    async fn after_the_open_time_one_probe_decides() {
        let b = breaker(1, 20);
        fail(&b);
        assert!(b.admit().is_err());
        tokio::time::sleep(Duration::from_millis(30)).await;
        let probe = b.admit().unwrap();
        assert!(b.admit().is_err(), "only one probe at a time");
        probe.record(true);
        assert!(b.admit().is_err(), "a failed probe opens it again");
        tokio::time::sleep(Duration::from_millis(30)).await;
        b.admit().unwrap().record(false);
        assert!(
            b.admit().is_ok() && b.admit().is_ok(),
            "a good probe closes it"
        );
    }

    #[tokio::test]
    async fn a_probe_that_never_reports_hands_over_to_the_next_call() {
        let b = breaker(1, 1);
        fail(&b);
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(b.admit().unwrap());
        b.admit().unwrap().record(false);
        assert!(b.admit().is_ok());
    }
}
