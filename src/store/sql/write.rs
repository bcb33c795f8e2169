//! A write as data: the statements it runs, in one transaction, and what each gives back.
//! The store methods describe their writes this way once; each backend runs them its own
//! way (sqlx for PostgreSQL and an in-memory SQLite, the writing thread for a SQLite file).

use super::{attributes_text, now};
use crate::store::error::StoreError;

/// A value for one parameter of a write statement: the two types the store binds.
#[derive(Debug, Clone)]
pub(in crate::store) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(Some(text.to_owned()))
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(Some(text))
    }
}

impl From<Option<&str>> for Arg {
    fn from(text: Option<&str>) -> Self {
        Arg::Text(text.map(str::to_owned))
    }
}

impl From<Option<String>> for Arg {
    fn from(text: Option<String>) -> Self {
        Arg::Text(text)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Int(Some(n))
    }
}

impl From<Option<i64>> for Arg {
    fn from(n: Option<i64>) -> Self {
        Arg::Int(n)
    }
}

/// What a write statement gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Returns {
    /// How many rows it changed.
    Count,
    /// The resource row of its `RETURNING` (none when it matched no row).
    Resource,
    /// The one integer column of its `RETURNING` (none when it matched no row).
    Integer,
}

/// One statement of a [`Write`]: its SQL, the values of `$1`, `$2`, ... in order, and what
/// it gives back.
#[derive(Debug)]
pub(in crate::store) struct Statement {
    pub(in crate::store) sql: &'static str,
    pub(in crate::store) args: Vec<Arg>,
    pub(in crate::store) returns: Returns,
}

impl Statement {
    /// A statement whose answer is the number of rows it changed.
    pub(in crate::store) fn count(sql: &'static str, args: Vec<Arg>) -> Self {
        Statement {
            sql,
            args,
            returns: Returns::Count,
        }
    }
}

/// What one statement of a write gave back, as its [`Returns`] asked.
#[derive(Debug)]
pub(in crate::store) enum Written {
    Count(u64),
    /// Boxed: a row is large beside a count.
    Resource(Option<Box<crate::store::resource::Resource>>),
    Integer(Option<i64>),
}

impl Written {
    /// Rows changed (0 for a statement that returns rows).
    pub(in crate::store) fn count(&self) -> u64 {
        match self {
            Written::Count(n) => *n,
            Written::Resource(_) | Written::Integer(_) => 0,
        }
    }

    /// The row a `RETURNING` statement gave back, if it matched one.
    pub(in crate::store) fn into_resource(self) -> Option<crate::store::resource::Resource> {
        match self {
            Written::Resource(row) => row.map(|row| *row),
            Written::Count(_) | Written::Integer(_) => None,
        }
    }

    /// The integer a `RETURNING` statement gave back, if it matched a row.
    pub(in crate::store) fn integer(&self) -> Option<i64> {
        match self {
            Written::Integer(n) => *n,
            Written::Count(_) | Written::Resource(_) => None,
        }
    }
}

/// The statements of one write, run in one transaction (a lone statement in its own). A
/// durable write returns only once it would survive a power cut; the others (activity,
/// leases, a dry run's copies) once committed.
#[derive(Debug)]
pub(in crate::store) struct Write {
    pub(in crate::store) statements: Vec<Statement>,
    pub(in crate::store) durable: bool,
}

impl Write {
    /// A write that must be on disk when it returns.
    pub(in crate::store) fn durable(statements: Vec<Statement>) -> Self {
        Write {
            statements,
            durable: true,
        }
    }

    /// A write that may be lost with the machine (never with the process).
    pub(in crate::store) fn committed(statements: Vec<Statement>) -> Self {
        Write {
            statements,
            durable: false,
        }
    }
}

/// The statement that writes one resource row with `sql` (tenant, type, SCIM id, the data
/// and the time, then the version expected when `expected` is given) and returns it.
pub(in crate::store) fn resource_write(
    sql: &'static str,
    tenant: &str,
    resource_type: crate::store::resource::ResourceType,
    scim_id: &str,
    data: &crate::store::resource::ResourceData,
    expected: Option<Option<i64>>,
) -> Result<Statement, StoreError> {
    let mut args = vec![
        Arg::from(tenant),
        Arg::from(resource_type.as_str()),
        Arg::from(scim_id),
        Arg::from(data.downstream_id.as_deref()),
        Arg::from(data.external_id.as_deref()),
        Arg::from(
            data.lookup_key
                .as_deref()
                .map(crate::store::resource::normalize_key),
        ),
        Arg::from(attributes_text(&data.attributes)?),
        Arg::from(now()?),
    ];
    if let Some(expected) = expected {
        args.push(Arg::from(expected));
    }
    Ok(Statement {
        sql,
        args,
        returns: Returns::Resource,
    })
}
