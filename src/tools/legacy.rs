//! The bundled sample legacy user API: a deliberately non-SCIM REST service
//! (integer ids, `{"account": …}` envelopes, page/per_page paging) that the
//! gateway's demo and tests proxy to, and a permissive `members` resource that stores any
//! JSON object as given (string ids, offset paging). It also offers test controls to count
//! requests, record when they arrived, and simulate a failing, rate-limited or slow
//! downstream. It describes itself in an OpenAPI document at `/openapi.json`.

mod account;
mod control;
mod error;
mod input;
mod members;
mod oauth;
mod routes;
mod store;
mod teams;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

pub use control::{Fault, RequestCounts};
pub use oauth::{CLIENT_ID as OAUTH_CLIENT_ID, TOKEN_PATH as OAUTH_TOKEN_PATH};
pub use teams::Team;

use control::Control;

/// Where the sample API serves its OpenAPI document (no key needed).
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The sample API's OpenAPI 3.0 document: every route, schema, paging parameter and
/// security scheme it has.
pub const OPENAPI_DOCUMENT: &str = include_str!("legacy/openapi.json");
use store::Store;

/// Shared state behind every handler of the sample API.
struct State {
    api_key: String,
    store: Store,
    teams: teams::Teams,
    members: members::Members,
    control: Control,
    tokens: oauth::Tokens,
}

/// The sample legacy API: an in-memory account store with its HTTP routes.
///
/// Cloning is cheap and every clone shares the same data, so a test can keep a
/// handle to inspect or steer the API while it is being served.
#[derive(Clone)]
pub struct LegacyApi {
    state: Arc<State>,
}

impl LegacyApi {
    /// Creates an empty API that accepts requests carrying `X-Api-Key: <api_key>`, or a bearer
    /// token its OAuth2 token endpoint issued to [`OAUTH_CLIENT_ID`] with the key as secret.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            state: Arc::new(State {
                api_key: api_key.into(),
                store: Store::default(),
                teams: teams::Teams::default(),
                members: members::Members::default(),
                control: Control::default(),
                tokens: oauth::Tokens::default(),
            }),
        }
    }

    /// Returns the router serving every `/api/v1` route, with this API's state attached.
    pub fn router(&self) -> axum::Router {
        routes::router(Arc::clone(&self.state))
    }

    /// Makes the API accept an email already taken (an API without a uniqueness check), so
    /// a test can see a duplicate the gateway made instead of the API refusing it.
    pub fn accept_duplicates(&self, accept: bool) {
        self.state.store.accept_duplicates(accept);
    }

    /// Snapshot of all accounts, ordered by id, as the JSON the API returns for each.
    pub fn accounts(&self) -> Vec<serde_json::Value> {
        self.state
            .store
            .all()
            .iter()
            .map(account::Account::to_json)
            .collect()
    }

    /// Snapshot of all members of the permissive resource, in creation order, as the JSON
    /// the API returns for each.
    pub fn members(&self) -> Vec<serde_json::Value> {
        self.state.members.all()
    }

    /// Snapshot of all teams, ordered by id.
    pub fn teams(&self) -> Vec<Team> {
        self.state.teams.all()
    }

    /// Counts of the requests received so far, by HTTP method (every request
    /// that reached the router, including rejected and failed ones).
    pub fn request_count(&self) -> RequestCounts {
        self.state.control.counts()
    }

    /// `METHOD /path?query` of each request since the count was last reset (the most
    /// recent 100,000), oldest first: which calls a test's SCIM requests made.
    pub fn requests(&self) -> Vec<String> {
        self.state.control.seen()
    }

    /// Sets every request counter back to zero and forgets the arrival times.
    pub fn reset_request_count(&self) {
        self.state.control.reset_counts();
    }

    /// Makes the next `n` requests answer 500 `internal` without touching any
    /// data (replaces any previous setting; 0 disables).
    pub fn fail_next(&self, n: usize) {
        self.inject(
            n,
            None,
            Fault::Refuse {
                status: 500,
                retry_after: None,
            },
        );
    }

    /// Plays `fault` on the next `n` requests, or on the next `n` with `method` when one is
    /// given (replaces any previous setting; 0 disables).
    pub fn inject(&self, n: usize, method: Option<axum::http::Method>, fault: Fault) {
        self.state.control.inject(n, method, fault);
    }

    /// How many injected faults were played so far.
    pub fn faults_played(&self) -> u64 {
        self.state.control.faults_played()
    }

    /// Forgets any fault still to be played.
    pub fn clear_faults(&self) {
        self.state.control.inject(0, None, Fault::FailAfter);
    }

    /// When each request arrived since the last reset (the most recent million), oldest
    /// first: the pace a client keeps.
    pub fn arrivals(&self) -> Vec<std::time::Instant> {
        self.state.control.arrivals()
    }

    /// The most requests that arrived within any one second since the last reset.
    pub fn peak_per_second(&self) -> usize {
        control::peak_per_second(&self.state.control.arrivals())
    }

    /// The most requests the API was handling at once since the last reset: the concurrency
    /// a client keeps.
    pub fn peak_in_flight(&self) -> u64 {
        self.state.control.peak_in_flight()
    }

    /// Revokes every OAuth2 token issued so far, as a key rotation at an identity provider
    /// would: calls carrying one get 401.
    pub fn revoke_tokens(&self) {
        self.state.tokens.revoke_all();
    }

    /// The OAuth2 tokens still valid (to check that none reaches a log).
    pub fn valid_tokens(&self) -> Vec<String> {
        self.state.tokens.valid()
    }

    /// How many OAuth2 tokens the token endpoint issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens.issued_count()
    }

    /// How long OAuth2 tokens issued from now on last (an hour unless set).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state.tokens.set_lifetime(lifetime);
    }

    /// Delays every request by `d` before it is handled (`Duration::ZERO`
    /// disables). A client that gives up during the delay leaves no change behind.
    pub fn set_delay(&self, d: Duration) {
        self.state.control.set_delay(d);
    }
}

/// Serves the API on a bound listener until `shutdown` resolves, then stops
/// gracefully (in-flight requests finish).
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: LegacyApi,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "sample legacy API listening");
    }
    axum::serve(listener, api.router())
        .with_graceful_shutdown(shutdown)
        .await
}
