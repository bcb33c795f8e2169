//! Test controls of the sample API (request counters and arrival times, injected failures,
//! an artificial delay) and the middleware that applies them and checks the API key.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State as Extract};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use subtle::ConstantTimeEq;

use super::State;
use super::error::ApiError;

/// Arrival times kept (the most recent ones): enough for long benchmark runs, bounded memory.
const MAX_ARRIVALS: usize = 1_000_000;

/// A failure the sample API plays on the next requests, to test how a client copes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answers `status` without handling the request (nothing changes), with `Retry-After`
    /// when given (seconds or an HTTP date), as a rate-limited or overloaded API does.
    Refuse {
        status: u16,
        retry_after: Option<String>,
    },
    /// Handles the request (a create creates), then answers 500 instead of its answer.
    FailAfter,
    /// Handles the request, then breaks the connection before the answer is complete.
    ResetAfter,
}

/// A fault for the next `remaining` requests (of `method` only, when given).
#[derive(Debug)]
struct Injection {
    fault: Fault,
    method: Option<Method>,
    remaining: usize,
}

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

/// Counters and switches shared by all requests.
#[derive(Debug, Default)]
pub(crate) struct Control {
    gets: AtomicU64,
    posts: AtomicU64,
    puts: AtomicU64,
    patches: AtomicU64,
    deletes: AtomicU64,
    others: AtomicU64,
    injection: Mutex<Option<Injection>>,
    faults_played: AtomicU64,
    delay_nanos: AtomicU64,
    /// Requests being handled right now, and the most there were at once since the reset.
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    arrivals: Mutex<VecDeque<Instant>>,
    /// `METHOD /path?query` of each request (the most recent [`MAX_SEEN`]), oldest first.
    seen: Mutex<VecDeque<String>>,
}

/// How many requests [`Control::seen`] remembers.
const MAX_SEEN: usize = 100_000;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
        self.peak_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
        lock(&self.arrivals).clear();
        lock(&self.seen).clear();
    }

    /// The most requests handled at once since the counts were reset.
    pub(crate) fn peak_in_flight(&self) -> u64 {
        self.peak_in_flight.load(Ordering::SeqCst)
    }

    /// Counts a request as in flight until the returned guard is dropped.
    fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    pub(crate) fn inject(&self, n: usize, method: Option<Method>, fault: Fault) {
        *lock(&self.injection) = (n > 0).then_some(Injection {
            fault,
            method,
            remaining: n,
        });
    }

    pub(crate) fn faults_played(&self) -> u64 {
        self.faults_played.load(Ordering::Relaxed)
    }

    /// When each request arrived (the most recent [`MAX_ARRIVALS`]), oldest first.
    pub(crate) fn arrivals(&self) -> Vec<Instant> {
        lock(&self.arrivals).iter().copied().collect()
    }

    /// `METHOD /path?query` of each request since the counts were reset, oldest first.
    pub(crate) fn seen(&self) -> Vec<String> {
        lock(&self.seen).iter().cloned().collect()
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

    fn count(&self, method: &Method, uri: &axum::http::Uri) {
        let counter = match *method {
            Method::GET => &self.gets,
            Method::POST => &self.posts,
            Method::PUT => &self.puts,
            Method::PATCH => &self.patches,
            Method::DELETE => &self.deletes,
            _ => &self.others,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut arrivals = lock(&self.arrivals);
        if arrivals.len() == MAX_ARRIVALS {
            arrivals.pop_front();
        }
        arrivals.push_back(Instant::now());
        drop(arrivals);
        let mut seen = lock(&self.seen);
        if seen.len() == MAX_SEEN {
            seen.pop_front();
        }
        seen.push_back(format!("{method} {uri}"));
    }

    /// Takes one injected fault for a request with `method`, if any is pending.
    fn take_fault(&self, method: &Method) -> Option<Fault> {
        let mut injection = lock(&self.injection);
        let pending = injection.as_mut()?;
        if pending.method.as_ref().is_some_and(|m| m != method) {
            return None;
        }
        let fault = pending.fault.clone();
        self.faults_played.fetch_add(1, Ordering::Relaxed);
        pending.remaining -= 1;
        if pending.remaining == 0 {
            *injection = None;
        }
        Some(fault)
    }

    fn delay(&self) -> Duration {
        Duration::from_nanos(self.delay_nanos.load(Ordering::SeqCst))
    }
}

/// A request being handled; it stops counting when dropped (answered, or its client gone).
struct InFlight<'a>(&'a Control);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The most requests that arrived within any one second, among `arrivals` (oldest first).
pub(crate) fn peak_per_second(arrivals: &[Instant]) -> usize {
    let mut first = 0;
    let mut peak = 0;
    for (last, at) in arrivals.iter().enumerate() {
        while at.duration_since(arrivals[first]) >= Duration::from_secs(1) {
            first += 1;
        }
        peak = peak.max(last - first + 1);
    }
    peak
}

/// Counts the request, applies the delay, plays an injected fault if one is pending, then
/// checks `X-Api-Key` (or a bearer token from the token endpoint) before the route runs.
pub(crate) async fn guard(
    Extract(state): Extract<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    let control = &state.control;
    control.count(request.method(), request.uri());
    let _in_flight = control.enter();
    let delay = control.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let fault = control.take_fault(request.method());
    if let Some(fault) = &fault {
        tracing::debug!(method = %request.method(), uri = %request.uri(), ?fault, "injected fault");
    }
    if let Some(Fault::Refuse {
        status,
        retry_after,
    }) = fault
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return ApiError::Injected(status, retry_after).into_response();
    }
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let authorized = headers
        .get("x-api-key")
        .is_some_and(|key| bool::from(key.as_bytes().ct_eq(state.api_key.as_bytes())))
        || bearer.is_some_and(|token| state.tokens.accepts(token));
    if !authorized {
        return ApiError::Unauthorized.into_response();
    }
    let response = next.run(request).await;
    match fault {
        Some(Fault::FailAfter) => {
            ApiError::Injected(StatusCode::INTERNAL_SERVER_ERROR, None).into_response()
        }
        Some(Fault::ResetAfter) => {
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::new(Broken))
        }
        _ => response,
    }
}

/// A response body that fails before its first byte: the server gives up on the connection
/// and the client never gets a complete answer.
struct Broken;

impl http_body::Body for Broken {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection reset",
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_counts_arrivals_less_than_a_second_apart() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(peak_per_second(&[]), 0);
        assert_eq!(peak_per_second(&[at(0)]), 1);
        assert_eq!(peak_per_second(&[at(0), at(999), at(1000)]), 2);
        assert_eq!(
            peak_per_second(&[at(0), at(1500), at(1600), at(2400), at(2600)]),
            3
        );
    }
}
