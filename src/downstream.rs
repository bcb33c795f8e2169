//! The client side of the gateway: calls to the proprietary API that gateway.toml describes,
//! with its credentials, paging style and error shapes mapped onto SCIM's, paced, retried and
//! cut off by a circuit breaker so that a slow or failing API is neither overrun nor hammered.

pub mod auth;
pub mod breaker;
pub mod budget;
pub mod client;
pub mod dry_run;
pub mod endpoints;
pub mod error;
pub mod groups;
pub mod oauth;
pub mod operation;
pub mod pacing;
pub mod paging;
pub mod records;
pub mod retry;
pub mod retry_after;
pub mod settings;
pub mod transport;

pub use error::DownstreamError;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::json_pointer::JsonPointer;
use breaker::BreakerSettings;
use operation::Operation;
use pacing::PacingSettings;
use retry::RetryPolicy;

/// Connection settings of the downstream API.
#[derive(Debug, Clone)]
pub struct DownstreamSettings {
    pub base_url: reqwest::Url,
    pub auth: auth::DownstreamAuth,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Headers sent with every call.
    pub headers: Vec<(String, String)>,
    /// The call `/readyz` makes to tell whether the API is up (`[downstream] health`); a
    /// HEAD of `base_url` when `None`.
    pub health: Option<Operation>,
    /// Rate, concurrency and queue bound of the calls.
    pub pacing: PacingSettings,
    /// Backoff of the calls a retry can fix.
    pub retries: RetryPolicy,
    /// When consecutive failures stop the calls for a while.
    pub breaker: BreakerSettings,
}

/// A record wrapped in its envelope (`{"account": {...}}` for `/account`), or as it is.
pub fn wrap(envelope: Option<&JsonPointer>, record: Value) -> Value {
    match envelope {
        Some(p) => {
            let mut doc = Value::Object(Map::new());
            p.set(&mut doc, record);
            doc
        }
        None => record,
    }
}

/// A record's id as text, when it can address the record in a URL (see
/// [`operation::is_addressable`]): a downstream that answers an id of `..` must not make the
/// gateway call the parent of its path later.
pub fn record_id(v: &Value) -> Option<String> {
    transform_id(v).filter(|id| operation::is_addressable(id))
}

/// The id at `at` of `record`, when it can address the record; else a bad response naming
/// `which` record lacks one and the `setting` to check.
pub fn id_at(
    at: &JsonPointer,
    record: &Value,
    which: &str,
    setting: &str,
) -> Result<String, DownstreamError> {
    at.get(record).and_then(record_id).ok_or_else(|| {
        DownstreamError::BadResponse(format!(
            "{which} has no usable id at {at} (check {setting})"
        ))
    })
}

/// An id or cursor as text: downstream ids may be numbers or strings.
pub fn transform_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
