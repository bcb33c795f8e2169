//! The embedded default backend: one SQLite file, created on first run, nothing to operate.
//! WAL mode lets lookups proceed while one write commits. Every write goes to one thread that
//! owns the one writing connection ([`writer`]): this process's writers queue there in order
//! instead of meeting SQLite's busy lock (whose handler sleeps a millisecond and more before
//! each retry), and a write returns once it is durable (the intent journal depends on it),
//! through one fsync of the log for all the writes that waited together. The busy timeout still
//! makes a second process's writers queue instead of failing; write transactions begin
//! IMMEDIATE so two of them never deadlock upgrading a read lock. Reads go through three
//! sqlx connections of their own. Two gateways opening the same file migrate it safely: each
//! migration re-checks `schema_migrations` inside its own IMMEDIATE transaction.
//!
//! `sqlite::memory:` (tests, the demo, every dry run) is one sqlx connection that reads and
//! writes: the database lives as long as that connection, and nothing is durable to wait for.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

mod writer;

use super::error::StoreError;
use super::migrations::{self, Migration};
use super::resource::Resource;
use super::sql;
use writer::Writer;

/// How long a statement waits for another connection's write lock before failing as
/// [`StoreError::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Reading connections for a file database (readers run in parallel under WAL, beside the
/// one writing connection).
const READ_CONNECTIONS: u32 = 3;

/// Members of group `$2` of tenant `$1` from JSON array `$3`. (`WHERE true` resolves
/// SQLite's parsing ambiguity between a join's ON and the upsert's ON CONFLICT.)
const ADD_MEMBERS: &str = "INSERT INTO memberships (tenant, group_id, member_id) \
     SELECT $1, $2, value FROM json_each($3) WHERE true ON CONFLICT DO NOTHING";
const REMOVE_MEMBERS: &str = "DELETE FROM memberships WHERE tenant = $1 AND group_id = $2 \
     AND member_id IN (SELECT value FROM json_each($3))";
/// A resource row copied as it is, version and timestamps included; a row already there
/// (or one with the same downstream id) is kept.
const IMPORT_RESOURCE: &str = "INSERT INTO resources (tenant, resource_type, scim_id, \
     downstream_id, external_id, lookup_key, attributes, version, created, last_modified) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";

/// Where a SQLite store's writes go.
#[derive(Debug, Clone)]
enum Writes {
    /// A file: the writing thread.
    Thread(Arc<Writer>),
    /// In memory: the one connection of `pool`, through sqlx.
    Pool,
}

/// The SQLite [`Store`](super::Store).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Reads (and, in memory, writes).
    pool: SqlitePool,
    writes: Writes,
}

impl SqliteStore {
    /// Opens (creating it and its directory if missing) and migrates the database at `url`:
    /// `sqlite://path`, `sqlite:path`, or `sqlite::memory:` (private to this store: one
    /// connection that lives as long as the store).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid sqlite url: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Reads never write; the writing thread sets its own connection up the same way.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        if url.contains(":memory:") || url.contains("mode=memory") {
            // An in-memory database lives as long as a connection to it: keep exactly one.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            // A fresh in-memory database is always migrated from nothing: not worth an
            // operator's attention.
            migrate(&pool, migrations::SQLITE, false).await?;
            return Ok(SqliteStore {
                pool,
                writes: Writes::Pool,
            });
        }
        create_parent_dir(options.get_filename())?;
        // Migrations run through sqlx on a connection of their own, closed before the
        // writing thread opens its one.
        let migrating = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let migrated = migrate(&migrating, migrations::SQLITE, true).await;
        migrating.close().await;
        migrated?;
        let writer = Writer::start(options.get_filename(), BUSY_TIMEOUT)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options)
            .await?;
        tracing::info!(backend = "sqlite", "store opened");
        Ok(SqliteStore {
            pool,
            writes: Writes::Thread(Arc::new(writer)),
        })
    }

    /// Stores a copy of a resource read from another store, with its version and
    /// timestamps, unless a row with its SCIM id or downstream id is here already: how a dry
    /// run's scratch store ([`ScratchStore`](super::ScratchStore)) takes rows from the real one.
    pub async fn import_resource(&self, row: &Resource) -> Result<(), StoreError> {
        let args = vec![
            sql::Arg::from(row.tenant.as_str()),
            sql::Arg::from(row.resource_type.as_str()),
            sql::Arg::from(row.scim_id.as_str()),
            sql::Arg::from(row.downstream_id.as_deref()),
            sql::Arg::from(row.external_id.as_deref()),
            sql::Arg::from(row.lookup_key.as_deref()),
            sql::Arg::from(sql::attributes_text(&row.attributes)?),
            sql::Arg::from(row.version),
            sql::Arg::from(row.created.as_str()),
            sql::Arg::from(row.last_modified.as_str()),
        ];
        let statement = sql::Statement::count(IMPORT_RESOURCE, args);
        self.write(sql::Write::committed(vec![statement])).await?;
        Ok(())
    }

    /// Runs a write: on the writing thread for a file, through the one connection in memory.
    async fn write(&self, write: sql::Write) -> Result<Vec<sql::Written>, StoreError> {
        match &self.writes {
            Writes::Thread(writer) => writer.write(write).await,
            Writes::Pool => Self::write_on_pool(&self.pool, write).await,
        }
    }

    async fn close_pools(&self) {
        if let Writes::Thread(writer) = &self.writes {
            writer.close().await;
        }
        self.pool.close().await;
    }

    /// A transaction that holds the write lock from its first statement.
    async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Applies the migrations not yet recorded through `pool`, each once, each in its own
/// transaction; `report` logs each one.
async fn migrate(pool: &SqlitePool, list: &[Migration], report: bool) -> Result<(), StoreError> {
    sqlx::query(migrations::CREATE_SCHEMA_MIGRATIONS)
        .execute(pool)
        .await?;
    for m in list {
        let mut tx = SqliteStore::begin_write(pool).await?;
        let applied: i64 = sqlx::query_scalar(sql::APPLIED_MIGRATION)
            .bind(m.version)
            .fetch_one(&mut *tx)
            .await?;
        if applied > 0 {
            tx.rollback().await?;
            continue;
        }
        SqliteStore::apply_migration(&mut tx, m).await?;
        tx.commit().await?;
        if report {
            migrations::applied("sqlite", m);
        }
    }
    let latest: Option<i64> = sqlx::query_scalar(sql::LATEST_MIGRATION)
        .fetch_one(pool)
        .await?;
    migrations::warn_if_newer("sqlite", latest, list);
    Ok(())
}

/// Creates the database file's directory on first run.
fn create_parent_dir(file: &Path) -> Result<(), StoreError> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

sql::impl_sql_store!(
    SqliteStore,
    SqliteRow,
    backend = "sqlite",
    add_members = ADD_MEMBERS,
    remove_members = REMOVE_MEMBERS,
);
