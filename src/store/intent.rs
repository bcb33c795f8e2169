//! The write-ahead journal's entries. A multi-step write (create downstream, then correlate;
//! remove a member downstream, then locally) is journaled before it starts and completed after
//! it ends, so an entry left behind by a crash tells a restarted gateway what to replay or
//! report.

use std::fmt;

use serde_json::Value;

/// The id of a journal entry (unique across tenants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntentId(pub i64);

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An operation that was begun and not (yet) completed.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// Its id, for [`complete_intent`](super::Store::complete_intent).
    pub id: IntentId,
    /// The tenant it belongs to.
    pub tenant: String,
    /// What kind of operation, as the caller named it (e.g. "create-user").
    pub kind: String,
    /// What the caller needs to replay or report it.
    pub payload: Value,
    /// When it was begun (RFC 3339).
    pub created: String,
}
