//! What went wrong talking to the downstream API, classified by whose fault it is and whether a
//! retry can help; the HTTP edge turns each variant into one SCIM error.

use thiserror::Error;

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
    /// The downstream failed (502, or 503 when it says it is unavailable); a retry may help.
    #[error("the downstream API failed with HTTP {0}")]
    Failed(u16),
    /// No answer in time (504); a retry may help.
    #[error("the downstream API did not answer within {0} ms")]
    Timeout(u64),
    /// Nothing listens at the configured address (503); a retry may help later.
    #[error("the downstream API is unreachable")]
    Unreachable,
    /// The answer is not what gateway.toml describes (an operator's fault: 502).
    #[error("the downstream API answered unexpectedly: {0}")]
    BadResponse(String),
    /// gateway.toml describes a URL that does not parse (an operator's fault: 502).
    #[error("invalid downstream URL {0}")]
    InvalidUrl(String),
    /// Listing would read more records than allowed to answer one request (400 tooMany).
    #[error("answering this needs more than {0} downstream records; narrow the filter")]
    TooMany(u64),
}

impl DownstreamError {
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
            Self::InvalidUrl(_) => Some("invalid_url"),
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
    use super::message_of;

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
