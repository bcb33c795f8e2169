//! The time the downstream calls of one SCIM request may spend. The server's deadline layer
//! sets it (a task-local, like the request id) a little before the request's own deadline,
//! and the downstream client keeps within it: no wait in the queue, pause between retries or
//! call runs past it. A request whose downstream is slow then ends as a retriable 503 with
//! Retry-After, its half-done work rolled back in the time left, instead of being cut off at
//! the deadline in the middle of it. Outside a request (the CLI's `explain`) there is no
//! budget and only the configured timeouts apply.

use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static SPEND_UNTIL: Instant;
    static ENDS_AT: Instant;
}

/// The share of a request's time kept back from its downstream calls, for what follows a
/// failed call (rolling the store back, undoing a create) and for writing the answer.
const KEPT_BACK: u32 = 5;

/// Runs `future`, the work of a request that must answer within `limit`, with a budget of
/// four fifths of `limit` for its downstream calls.
pub async fn scope<F: Future>(limit: Duration, future: F) -> F::Output {
    let start = Instant::now();
    let until = start + limit - limit / KEPT_BACK;
    ENDS_AT
        .scope(start + limit, SPEND_UNTIL.scope(until, future))
        .await
}

/// When the current request must have answered; `None` outside a request.
pub fn request_ends() -> Option<Instant> {
    ENDS_AT.try_with(|at| *at).ok()
}

/// When the downstream calls of the current request must be done; `None` outside a request.
pub fn spend_until() -> Option<Instant> {
    SPEND_UNTIL.try_with(|until| *until).ok()
}

/// The earlier of `instant` and the end of the budget.
pub fn cap(instant: Instant) -> Instant {
    spend_until().map_or(instant, |until| until.min(instant))
}

/// `wanted`, or less when the budget ends sooner.
pub fn cap_duration(wanted: Duration) -> Duration {
    match spend_until() {
        Some(until) => wanted.min(until.saturating_duration_since(Instant::now())),
        None => wanted,
    }
}

/// Whether waiting `delay` and then calling again still leaves time for the call.
pub fn allows_wait(delay: Duration) -> bool {
    spend_until().is_none_or(|until| Instant::now() + delay < until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_spends_four_fifths_of_its_time_downstream() {
        let limit = Duration::from_millis(500);
        scope(limit, async {
            let left = cap_duration(Duration::from_secs(30));
            assert!(left <= Duration::from_millis(400) && left > Duration::from_millis(300));
            let short = Duration::from_millis(100);
            assert_eq!(cap_duration(short), short);
            assert!(cap(Instant::now() + Duration::from_secs(30)) <= Instant::now() + left);
            assert!(allows_wait(short));
            assert!(!allows_wait(Duration::from_millis(400)));
            tokio::time::sleep(Duration::from_millis(450)).await;
            assert_eq!(cap_duration(short), Duration::ZERO);
            assert!(!allows_wait(Duration::ZERO));
        })
        .await;
    }

    #[tokio::test]
    async fn outside_a_request_nothing_is_capped() {
        let wanted = Duration::from_secs(3600);
        assert_eq!(cap_duration(wanted), wanted);
        assert!(allows_wait(wanted));
        assert_eq!(spend_until(), None);
    }
}
