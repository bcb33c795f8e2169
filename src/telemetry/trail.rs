//! What one SCIM request did, gathered while it runs for the activity record
//! (`server/audit.rs`): the downstream calls made for it (method, path, status, time; never a
//! body), the client the authentication layer let in and the userName the request or its
//! answer names. Kept in a task-local like the request id, so the downstream client, the auth
//! layer and the routes add to it without every signature between them carrying it. Outside a
//! collecting scope every function here does nothing.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The most calls kept for one request; a group PATCH with thousands of members makes as
/// many calls, and the record stays small (the rest are counted in [`Trail::calls_omitted`]).
pub const MAX_CALLS: usize = 50;

/// One downstream call made for a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub method: String,
    /// The URL's path only: no query, no body.
    pub path: String,
    /// `None` when no answer came (timeout, connection refused).
    pub status: Option<u16>,
    pub ms: u64,
}

/// What a request did, as far as it got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trail {
    pub calls: Vec<Call>,
    /// Calls made past [`MAX_CALLS`].
    pub calls_omitted: u64,
    /// How the client authenticated and its name there (never a secret).
    pub client: Option<(&'static str, String)>,
    pub user_name: Option<String>,
}

tokio::task_local! {
    static CURRENT: Arc<Mutex<Trail>>;
}

/// Runs `future` collecting its trail, and returns both.
pub async fn collect<F: Future>(future: F) -> (F::Output, Trail) {
    let trail = Arc::new(Mutex::new(Trail::default()));
    let output = CURRENT.scope(trail.clone(), future).await;
    let trail = std::mem::take(&mut *trail.lock().unwrap_or_else(PoisonError::into_inner));
    (output, trail)
}

fn with(change: impl FnOnce(&mut Trail)) {
    let _ =
        CURRENT.try_with(|trail| change(&mut trail.lock().unwrap_or_else(PoisonError::into_inner)));
}

/// Notes a downstream call of the current request.
pub fn downstream_call(method: &str, path: &str, status: Option<u16>, elapsed: Duration) {
    with(|trail| {
        if trail.calls.len() >= MAX_CALLS {
            trail.calls_omitted += 1;
            return;
        }
        trail.calls.push(Call {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        });
    });
}

/// Notes who the current request comes from.
pub fn client(method: &'static str, name: &str) {
    with(|trail| trail.client = Some((method, name.to_owned())));
}

/// Notes the userName the current request (or its answer) names; the first one noted stays.
pub fn user_name(name: &str) {
    with(|trail| {
        trail.user_name.get_or_insert_with(|| name.to_owned());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trail_holds_what_its_scope_noted_and_nothing_outside_it() {
        downstream_call("GET", "/outside", Some(200), Duration::from_millis(1));
        let ((), trail) = collect(async {
            client("token", "entra");
            user_name("ada@example.com");
            user_name("second@example.com");
            for _ in 0..MAX_CALLS + 2 {
                downstream_call("POST", "/api/users", Some(201), Duration::from_millis(7));
            }
        })
        .await;
        assert_eq!(trail.client, Some(("token", "entra".to_owned())));
        assert_eq!(trail.user_name.as_deref(), Some("ada@example.com"));
        assert_eq!(trail.calls.len(), MAX_CALLS);
        assert_eq!(trail.calls_omitted, 2);
        assert_eq!(trail.calls[0].ms, 7);
        let ((), empty) = collect(async {}).await;
        assert_eq!(empty, Trail::default());
    }
}
