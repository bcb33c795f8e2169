//! Retries with jittered exponential backoff (the backon crate) for downstream calls a retry
//! can fix. Which failures those are is the caller's choice: `DownstreamError::is_retriable`
//! for a plain call; a user create decides after looking its record up.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::Method;

use super::budget;

/// True for the methods the gateway may send twice without doing the work twice: GET, PUT,
/// DELETE, and PATCH (the gateway's PATCH bodies hold absolute values, never increments).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::PATCH
    )
}

/// `[downstream] retries`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub max: u32,
    /// The wait before the first retry; each next one doubles it.
    pub base: Duration,
    /// The longest wait before jitter; the jitter adds up to as much again, so that clients
    /// that failed together do not retry together.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max: 3,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails in a way `retriable` says a retry cannot fix, or
    /// `max` retries are spent; then its last error is the answer.
    pub async fn run<T, E, F, Fut>(
        &self,
        attempt: F,
        retriable: impl FnMut(&E) -> bool,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let backoff = ExponentialBuilder::new()
            .with_min_delay(self.base)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max as usize)
            .with_jitter();
        attempt
            .retry(backoff)
            .when(retriable)
            // No pause that would leave the request no time for the next attempt.
            .adjust(|_, delay| delay.filter(|d| budget::allows_wait(*d)))
            .notify(|error, delay| {
                tracing::debug!(%error, delay_ms = delay.as_millis() as u64, "retrying a downstream call");
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::downstream::DownstreamError;

    const QUICK: RetryPolicy = RetryPolicy {
        max: 3,
        base: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    };

    async fn attempts_until(
        policy: RetryPolicy,
        outcomes: &[Result<(), DownstreamError>],
    ) -> (u32, Result<(), DownstreamError>) {
        let tries = AtomicU32::new(0);
        let result = policy
            .run(
                || async {
                    let n = tries.fetch_add(1, Ordering::SeqCst) as usize;
                    outcomes[n.min(outcomes.len() - 1)].clone()
                },
                |e: &DownstreamError| e.is_retriable(true),
            )
            .await;
        (tries.load(Ordering::SeqCst), result)
    }

    #[tokio::test]
    async fn retries_what_a_retry_can_fix_up_to_max() {
        let (tries, result) = attempts_until(
            QUICK,
            &[
                Err(DownstreamError::Failed(503)),
                Err(DownstreamError::Unreachable),
                Ok(()),
            ],
        )
        .await;
        assert_eq!((tries, result), (3, Ok(())));

        let (tries, result) = attempts_until(QUICK, &[Err(DownstreamError::Failed(502))]).await;
        assert_eq!((tries, result), (4, Err(DownstreamError::Failed(502))));

        let none = RetryPolicy { max: 0, ..QUICK };
        let (tries, _) = attempts_until(none, &[Err(DownstreamError::Failed(502))]).await;
        assert_eq!(tries, 1);
    }

    #[tokio::test]
    async fn never_retries_what_a_retry_cannot_fix() {
        for final_answer in [
            DownstreamError::Failed(500),
            DownstreamError::NotFound("7".into()),
            DownstreamError::Rejected("bad email".into()),
        ] {
            let (tries, result) = attempts_until(QUICK, &[Err(final_answer.clone())]).await;
            assert_eq!((tries, result), (1, Err(final_answer)));
        }
    }
}
