//! Provisioning activity as the store keeps it: one row per SCIM write or refused request,
//! with who asked, what for, how it ended and the downstream calls it made (never a body).
//! What the operator console's Overview and Activity pages read. Times are Unix milliseconds so
//! that ranges and retention are plain comparisons on any backend.

use crate::telemetry::trail::Call;

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The store's id, increasing; 0 before it is stored.
    pub id: i64,
    /// When it was answered, Unix milliseconds.
    pub at_ms: i64,
    pub tenant: String,
    /// How the client authenticated (`bearer`, `token`, `basic`, `jwt`), `-` when it did not.
    pub client_auth: String,
    /// The client's name there (a token's name, a Basic user); never a secret.
    pub client: String,
    /// `create`, `replace`, `patch`, `delete`, or `read`/`search` for a refused read.
    pub operation: String,
    /// `Users`, `Groups`, or the path's first segment.
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub user_name: Option<String>,
    pub status: u16,
    pub scim_type: Option<String>,
    /// The error's `detail`, as the client was told (truncated).
    pub detail: Option<String>,
    pub request_id: String,
    pub duration_ms: u64,
    pub calls: Vec<Call>,
    /// Downstream calls made past the ones kept in `calls`.
    pub calls_omitted: u64,
}

impl Activity {
    /// Whether the request failed (any 4xx or 5xx answer).
    pub fn failed(&self) -> bool {
        self.status >= 400
    }
}

/// Which requests a page of activity shows; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub tenant: Option<String>,
    /// A userName (ignoring case) or a resource id.
    pub user: Option<String>,
    pub operation: Option<String>,
    /// `Some(true)`: only failed requests; `Some(false)`: only successful ones.
    pub failed: Option<bool>,
    /// Only requests answered at or after this time (Unix milliseconds).
    pub since_ms: Option<i64>,
}

/// How many requests a tenant made in a time range, and how many of them failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActivityCounts {
    pub requests: u64,
    pub errors: u64,
}
