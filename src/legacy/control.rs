//! Test controls of the sample API (request counters, injected failures, an
//! artificial delay) and the middleware that applies them and checks the API key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State as Extract};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::State;
use super::error::ApiError;

/// How many requests the API received, by HTTP method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `GET` requests (reads and lists).
    pub gets: u64,
    /// `POST` requests (creates).
    pub posts: u64,
    /// `PUT` requests (replacements).
    pub puts: u64,
    /// `PATCH` requests (partial updates).
    pub patches: u64,
    /// `DELETE` requests.
    pub deletes: u64,
    /// Requests with any other method.
    pub others: u64,
}

impl RequestCounts {
    /// All requests, whatever their method.
    pub fn total(&self) -> u64 {
        self.gets + self.posts + self.puts + self.patches + self.deletes + self.others
    }
}

/// Lock-free counters and switches shared by all requests.
#[derive(Debug, Default)]
pub(crate) struct Control {
    gets: AtomicU64,
    posts: AtomicU64,
    puts: AtomicU64,
    patches: AtomicU64,
    deletes: AtomicU64,
    others: AtomicU64,
    fail_next: AtomicUsize,
    delay_nanos: AtomicU64,
}

impl Control {
    pub(crate) fn counts(&self) -> RequestCounts {
        RequestCounts {
            gets: self.gets.load(Ordering::Relaxed),
            posts: self.posts.load(Ordering::Relaxed),
            puts: self.puts.load(Ordering::Relaxed),
            patches: self.patches.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            others: self.others.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn reset_counts(&self) {
        for counter in self.counters() {
            counter.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    pub(crate) fn set_delay(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.delay_nanos.store(nanos, Ordering::SeqCst);
    }

    fn counters(&self) -> [&AtomicU64; 6] {
        [
            &self.gets,
            &self.posts,
            &self.puts,
            &self.patches,
            &self.deletes,
            &self.others,
        ]
    }

    fn count(&self, method: &Method) {
        let counter = match *method {
            Method::GET => &self.gets,
            Method::POST => &self.posts,
            Method::PUT => &self.puts,
            Method::PATCH => &self.patches,
            Method::DELETE => &self.deletes,
            _ => &self.others,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one injected failure if any is pending.
    fn take_failure(&self) -> bool {
        self.fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn delay(&self) -> Duration {
        Duration::from_nanos(self.delay_nanos.load(Ordering::SeqCst))
    }
}

/// Counts the request, applies the delay, answers an injected failure if one
/// is pending, then checks `X-Api-Key` before the route runs.
pub(crate) async fn guard(
    Extract(state): Extract<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let control = &state.control;
    control.count(request.method());
    let delay = control.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if control.take_failure() {
        tracing::debug!(method = %request.method(), uri = %request.uri(), "injected failure");
        return ApiError::Injected.into_response();
    }
    let authorized = request
        .headers()
        .get("x-api-key")
        .is_some_and(|key| bool::from(key.as_bytes().ct_eq(state.api_key.as_bytes())));
    if !authorized {
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}
