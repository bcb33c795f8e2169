//! What can go wrong in the store, classified so the caller knows whether to answer the client
//! (not found, version mismatch, conflict), to retry (the database is busy or unreachable), or
//! to tell an operator (configuration, corrupt data, a failed statement).

use thiserror::Error;

/// A failed store operation.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// No resource with that id (SCIM 404).
    #[error("{resource_type} {scim_id} not found in the store")]
    NotFound {
        /// "User" or "Group".
        resource_type: &'static str,
        /// The SCIM id asked for.
        scim_id: String,
    },
    /// The resource changed since the caller read it (SCIM 412 for If-Match).
    #[error("version mismatch: expected {expected}, the stored version is {actual}")]
    VersionMismatch {
        /// The version the caller expected.
        expected: i64,
        /// The version stored now.
        actual: i64,
    },
    /// A uniqueness rule refused the write, e.g. a downstream id already correlated with
    /// another resource (SCIM 409).
    #[error("the store refused a duplicate: {0}")]
    Conflict(String),
    /// The database is busy, locked, unreachable or failed over; a retry may help.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The store was closed (the gateway is shutting down).
    #[error("the store is closed")]
    Closed,
    /// The store URL or options are wrong (an operator's fault).
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// A stored value does not decode (hand-edited database, or a newer gateway's schema).
    #[error("corrupt data in the store: {0}")]
    Corrupt(String),
    /// This store does not take this kind of write (a dry run's scratch store keeps no
    /// tokens); an internal error, never the client's.
    #[error("the store does not take this write: {0}")]
    ReadOnly(&'static str),
    /// Any other database failure; retrying will not help.
    #[error("the store failed: {0}")]
    Database(String),
}

impl StoreError {
    /// Whether the same call may succeed if retried later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(db) => {
                let message = db.message().to_owned();
                if db.is_unique_violation() {
                    StoreError::Conflict(message)
                } else if db.code().is_some_and(|c| transient_code(&c)) {
                    StoreError::Unavailable(message)
                } else {
                    StoreError::Database(message)
                }
            }
            sqlx::Error::PoolTimedOut => {
                StoreError::Unavailable("no database connection free in time".to_owned())
            }
            sqlx::Error::PoolClosed => StoreError::Closed,
            sqlx::Error::Io(e) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Tls(e) => StoreError::Unavailable(format!("tls: {e}")),
            sqlx::Error::Protocol(m) => StoreError::Unavailable(format!("protocol: {m}")),
            sqlx::Error::WorkerCrashed => {
                StoreError::Unavailable("the database worker thread stopped".to_owned())
            }
            sqlx::Error::Configuration(e) => StoreError::Config(e.to_string()),
            e @ (sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::TypeNotFound { .. }) => StoreError::Corrupt(e.to_string()),
            e => StoreError::Database(e.to_string()),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e {
            rusqlite::Error::SqliteFailure(failure, message) => {
                let message = message.unwrap_or_else(|| failure.to_string());
                match failure.code {
                    ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                        StoreError::Unavailable(message)
                    }
                    ErrorCode::ConstraintViolation
                        if matches!(
                            failure.extended_code,
                            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        ) =>
                    {
                        StoreError::Conflict(message)
                    }
                    _ => StoreError::Database(message),
                }
            }
            e @ (rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::InvalidColumnName(_)
            | rusqlite::Error::Utf8Error(..)) => StoreError::Corrupt(e.to_string()),
            e => StoreError::Database(e.to_string()),
        }
    }
}

/// Whether a database error code means "try again": SQLite's BUSY and LOCKED (numeric,
/// possibly extended), PostgreSQL's serialization failure, deadlock, lock timeout, connection
/// and resource classes, and shutdown.
fn transient_code(code: &str) -> bool {
    if let Ok(n) = code.parse::<u32>() {
        return matches!(n & 0xff, 5 | 6);
    }
    matches!(
        code,
        "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03"
    ) || code.starts_with("08")
        || code.starts_with("53")
}
