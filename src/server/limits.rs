//! Per-tenant request limits: a token-bucket rate (governor) and a cap on requests in
//! progress. Over either, the client gets 429 with `Retry-After` and a SCIM error body, which
//! Entra ID and Okta retry, rather than a queue that would hold their connections open.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use super::around::{Around, Next, around_layer};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::downstream::retry_after::whole_seconds;
use crate::scim::error::ScimError;
use crate::settings::Limits;

/// One tenant's rate and concurrency state.
pub struct TenantLimiter {
    rate: Option<DefaultDirectRateLimiter>,
    in_progress: Option<Arc<Semaphore>>,
}

impl TenantLimiter {
    pub fn new(limits: &Limits) -> Self {
        let rate = limits.rate.and_then(|(per_second, burst)| {
            let period = Duration::from_secs_f64(1.0 / per_second);
            let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst)?);
            Some(RateLimiter::direct(quota))
        });
        Self {
            rate,
            in_progress: limits
                .max_concurrent
                .map(|n| Arc::new(Semaphore::new(n as usize))),
        }
    }
}

around_layer! {
    /// Admits a request within the tenant's limits, or answers 429.
    pub struct LimitLayer(pub Arc<TenantLimiter>);
}

impl Around for LimitLayer {
    async fn around(&self, request: Request, next: Next) -> Response {
        let limiter = &self.0;
        if let Some(rate) = &limiter.rate
            && let Err(not_until) = rate.check()
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return too_many(wait, "request rate limit of this tenant reached");
        }
        let _permit = match &limiter.in_progress {
            None => None,
            Some(semaphore) => match semaphore.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return too_many(
                        Duration::from_secs(1),
                        "too many requests of this tenant in progress",
                    );
                }
            },
        };
        next.run(request).await
    }
}

/// 429 with `Retry-After` in whole seconds (at least 1).
fn too_many(wait: Duration, detail: &str) -> Response {
    let seconds = whole_seconds(wait);
    ScimError::new(429, None, format!("{detail}; retry after {seconds} s"))
        .with_retry_after(seconds)
        .into_response()
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::server::around::testing::{Counting, request};

    fn layer(limits: Limits) -> LimitLayer {
        LimitLayer(Arc::new(TenantLimiter::new(&limits)))
    }

    #[tokio::test]
    async fn a_request_over_the_rate_gets_429_with_retry_after() {
        // One request per 1,000 s, burst 1: the second cannot be admitted.
        let layer = layer(Limits {
            rate: Some((0.001, 1)),
            max_concurrent: None,
        });
        let inner = Counting::default();
        let first = layer.layer(inner.service(StatusCode::OK));
        let second = first.clone();
        let ok = first.oneshot(request("GET", "/Users", None)).await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let refused = second
            .oneshot(request("GET", "/Users", None))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key(http::header::RETRY_AFTER));
        assert_eq!(inner.calls(), 1);
    }

    #[tokio::test]
    async fn a_request_over_the_concurrency_gets_429() {
        let layer = layer(Limits {
            rate: None,
            max_concurrent: Some(0),
        });
        let inner = Counting::default();
        let refused = inner
            .through(&layer, StatusCode::OK, request("GET", "/Users", None))
            .await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(inner.calls(), 0);
    }
}
