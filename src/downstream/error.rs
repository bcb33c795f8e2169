//! What went wrong talking to the downstream API, classified by whose fault it is and whether a
//! retry can help; the HTTP edge turns each variant into one SCIM error.

use std::time::Duration;

use thiserror::Error;

use super::retry_after::RETRY_LATER;

/// A failed downstream call.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownstreamError {
    /// The record does not exist downstream (the client's fault: 404).
    #[error("resource {0} not found")]
    NotFound(String),
    /// The downstream refused a duplicate (the client's fault: 409 uniqueness).
    #[error("the downstream API reports a conflict: {0}")]
    Conflict(String),
    /// The downstream refused the values (the client's fault: 400 invalidValue).
    #[error("the downstream API rejected the request: {0}")]
    Rejected(String),
    /// The downstream refused the gateway's own credentials (an operator's fault: 502).
    #[error(
        "the downstream API refused the gateway's credentials (HTTP {0}); check [downstream] auth"
    )]
    Unauthorized(u16),
    /// The downstream answered an error status; for 429 and 5xx a retry may help (503), any
    /// other is an answer gateway.toml does not describe (502).
    #[error("the downstream API failed with HTTP {0}")]
    Failed(u16),
    /// No answer in time; the call may have been carried out. A retry may help (503).
    #[error("the downstream API did not answer within {0} ms")]
    Timeout(u64),
    /// Nothing listens at the configured address: the call never left. A retry may help (503).
    #[error("the downstream API is unreachable")]
    Unreachable,
    /// The connection broke after the call was sent, before the whole answer came: the call
    /// may have been carried out. A retry may help (503).
    #[error("the connection to the downstream API broke before its answer: {0}")]
    Interrupted(String),
    /// The answer is not what gateway.toml describes (an operator's fault: 502).
    #[error("the downstream API answered unexpectedly: {0}")]
    BadResponse(String),
    /// Listing would read more records than allowed to answer one request (400 tooMany).
    #[error("answering this needs more than {0} downstream records; narrow the filter")]
    TooMany(u64),
    /// The call could not start within `max_queue_wait_ms`: the downstream's rate, concurrency
    /// or a pause it asked for holds it back (503 with Retry-After). Nothing was sent.
    #[error("the downstream API is busy: the call could not start within {waited_ms} ms")]
    Busy {
        waited_ms: u64,
        retry_after: Duration,
    },
    /// The circuit breaker is open after consecutive failures: the downstream is given time to
    /// recover and the call is not made (503 with Retry-After).
    #[error(
        "the downstream API failed repeatedly; calls resume in {} s",
        super::retry_after::whole_seconds(*.retry_after)
    )]
    CircuitOpen { retry_after: Duration },
    /// The pace that instances sharing a PostgreSQL store keep together could not be read
    /// there: nothing was sent (503 with Retry-After).
    #[error("the shared pace of the downstream API is unavailable: {0}")]
    PaceUnavailable(String),
}

impl DownstreamError {
    /// True when the downstream itself is failing (5xx, 429, no or no timely answer): what the
    /// circuit breaker counts. A 4xx answer other than 429 is the downstream working.
    pub fn is_downstream_failure(&self) -> bool {
        match self {
            Self::Failed(status) => *status == 429 || *status >= 500,
            Self::Timeout(_) | Self::Unreachable | Self::Interrupted(_) => true,
            _ => false,
        }
    }

    /// True when the call may have been carried out although no success came back, so a
    /// second POST could create a second record: a timeout, a connection that broke after
    /// sending, a 5xx.
    pub fn may_have_applied(&self) -> bool {
        match self {
            Self::Failed(status) => *status >= 500,
            Self::Timeout(_) | Self::Interrupted(_) => true,
            _ => false,
        }
    }

    /// True when trying the same call again may succeed and cannot do the work twice. A call
    /// that is `idempotent` (see [`is_idempotent`](super::retry::is_idempotent)) retries on
    /// transport failures, timeouts, 429, 502, 503 and 504; a 500 is taken as the API's final
    /// word. Any other call (a POST) retries only when it surely did nothing: it never left,
    /// or the API refused it with 429.
    pub fn is_retriable(&self, idempotent: bool) -> bool {
        match self {
            Self::Unreachable | Self::Failed(429) => true,
            Self::Failed(502..=504) | Self::Timeout(_) | Self::Interrupted(_) => idempotent,
            _ => false,
        }
    }

    /// How long a SCIM client should wait before trying again, for failures a later retry may
    /// fix (the SCIM answer is then 503 with this as Retry-After); `None` for the others.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Busy { retry_after, .. } | Self::CircuitOpen { retry_after } => {
                Some(*retry_after)
            }
            Self::PaceUnavailable(_) => Some(RETRY_LATER),
            e if e.is_downstream_failure() => Some(RETRY_LATER),
            _ => None,
        }
    }

    /// What kind of failure this is when the downstream, or the way to it, is to blame (the
    /// `kind` label of `downstream_errors_total`); `None` when the answer is about the SCIM
    /// client's request (404, 409, 400) and the downstream worked as it should.
    pub fn fault(&self) -> Option<&'static str> {
        match self {
            Self::NotFound(_) | Self::Conflict(_) | Self::Rejected(_) | Self::TooMany(_) => None,
            Self::Unauthorized(_) => Some("unauthorized"),
            Self::Failed(_) => Some("failed"),
            Self::Timeout(_) => Some("timeout"),
            Self::Unreachable => Some("unreachable"),
            Self::BadResponse(_) => Some("bad_response"),
            Self::Interrupted(_) => Some("interrupted"),
            // Refused before any call: the downstream was not asked.
            Self::Busy { .. } => Some("queue_full"),
            Self::CircuitOpen { .. } => Some("breaker_open"),
            Self::PaceUnavailable(_) => Some("pace_unavailable"),
        }
    }
}

/// The most useful message in a downstream error body: the common JSON error shapes first,
/// else the start of the text.
pub fn message_of(body: &str) -> String {
    const POINTERS: [&str; 6] = [
        "/error/message",
        "/message",
        "/detail",
        "/errors/0/message",
        "/error_description",
        "/error",
    ];
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body) {
        for p in POINTERS {
            if let Some(serde_json::Value::String(s)) = json.pointer(p) {
                return s.clone();
            }
        }
    }
    let text: String = body.chars().take(200).collect();
    if text.trim().is_empty() {
        "no details given".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_of_the_downstream_count_and_only_safe_calls_retry() {
        use DownstreamError as E;
        let failing = [
            E::Failed(500),
            E::Failed(503),
            E::Failed(429),
            E::Timeout(1),
            E::Unreachable,
        ];
        assert!(failing.iter().all(E::is_downstream_failure));
        let working = [
            E::NotFound("1".into()),
            E::Conflict(String::new()),
            E::Rejected(String::new()),
            E::Failed(405),
        ];
        assert!(!working.iter().any(E::is_downstream_failure));
        assert!(working.iter().all(|e| e.retry_after().is_none()));

        let (idempotent, post) = (true, false);
        assert!(E::Failed(503).is_retriable(idempotent));
        assert!(!E::Failed(500).is_retriable(idempotent));
        assert!(!E::Failed(503).is_retriable(post));
        assert!(!E::Timeout(1).is_retriable(post));
        assert!(E::Failed(429).is_retriable(post));
        assert!(E::Unreachable.is_retriable(post));

        assert!(
            E::Failed(502).may_have_applied() && E::Interrupted("reset".into()).may_have_applied()
        );
        assert!(!E::Failed(429).may_have_applied() && !E::Unreachable.may_have_applied());
        let open = E::CircuitOpen {
            retry_after: Duration::from_millis(1500),
        };
        assert_eq!(open.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(
            open.to_string(),
            "the downstream API failed repeatedly; calls resume in 2 s"
        );
    }

    #[test]
    fn finds_the_message_in_common_error_shapes() {
        assert_eq!(
            message_of(r#"{"error":{"code":"x","message":"email taken"}}"#),
            "email taken"
        );
        assert_eq!(message_of(r#"{"message":"login exists"}"#), "login exists");
        assert_eq!(message_of(r#"{"errors":[{"message":"bad"}]}"#), "bad");
        assert_eq!(message_of("plain text"), "plain text");
        assert_eq!(message_of(""), "no details given");
    }
}
