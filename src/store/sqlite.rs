//! The embedded default backend: one SQLite file, created on first run, nothing to operate.
//! WAL mode lets lookups proceed while one write commits; a write returns once it is durable
//! (the intent journal depends on it), through a group commit that lets concurrent writers
//! share one fsync ([`group_commit`]). Writes go through one connection of their own, so
//! this process's writers queue for it in the pool (in order, without sleeping) instead of
//! meeting SQLite's busy lock, whose handler sleeps a millisecond and more before each retry;
//! the busy timeout still makes a second process's writers queue instead of failing; write
//! transactions begin IMMEDIATE so two of them never deadlock upgrading a read lock. Two
//! gateways opening the same file migrate it safely: each migration re-checks
//! `schema_migrations` inside its own IMMEDIATE transaction.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

mod group_commit;

use std::sync::Arc;

use group_commit::GroupCommit;

use super::error::StoreError;
use super::migrations::{self, Migration};
use super::resource::Resource;
use super::sql;

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

/// The SQLite [`Store`](super::Store).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Reads (the same one connection as `writer` in memory).
    pool: SqlitePool,
    /// The one connection that writes.
    writer: SqlitePool,
    /// Makes a file database's writes durable before they return; none in memory.
    group_commit: Option<Arc<GroupCommit>>,
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
            // NORMAL: a commit does not fsync; `settle` waits for the group commit's fsync.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_parent_dir(options.get_filename())?;
        }
        let (pool, writer) = if in_memory {
            // An in-memory database lives as long as a connection to it: keep exactly one.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options.clone())
                .await?;
            (pool.clone(), pool)
        } else {
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            let pool = SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options.clone())
                .await?;
            (pool, writer)
        };
        let mut store = SqliteStore {
            pool,
            writer,
            group_commit: None,
        };
        // A fresh in-memory database (tests, the demo, every dry run) is always migrated
        // from nothing: not worth an operator's attention.
        store.migrate(migrations::SQLITE, !in_memory).await?;
        if !in_memory {
            store.group_commit = Some(Arc::new(GroupCommit::new(options.get_filename())));
        }
        if !in_memory {
            tracing::info!(backend = "sqlite", "store opened");
        }
        Ok(store)
    }

    /// Stores a copy of a resource read from another store, with its version and
    /// timestamps, unless a row with its SCIM id or downstream id is here already: how a dry
    /// run's scratch store ([`ScratchStore`](super::ScratchStore)) takes rows from the real one.
    pub async fn import_resource(&self, row: &Resource) -> Result<(), StoreError> {
        sqlx::query(IMPORT_RESOURCE)
            .bind(&row.tenant)
            .bind(row.resource_type.as_str())
            .bind(&row.scim_id)
            .bind(row.downstream_id.as_deref())
            .bind(row.external_id.as_deref())
            .bind(row.lookup_key.as_deref())
            .bind(sql::attributes_text(&row.attributes)?)
            .bind(row.version)
            .bind(&row.created)
            .bind(&row.last_modified)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Returns once the write that just committed is on disk (nothing to wait for in memory).
    async fn settle(&self) -> Result<(), StoreError> {
        match &self.group_commit {
            Some(group_commit) => group_commit.settle().await,
            None => Ok(()),
        }
    }

    async fn close_pools(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// A transaction that holds the write lock from its first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Applies the migrations not yet recorded, each once, each in its own transaction;
    /// `report` logs each one.
    async fn migrate(&self, list: &[Migration], report: bool) -> Result<(), StoreError> {
        sqlx::query(migrations::CREATE_SCHEMA_MIGRATIONS)
            .execute(&self.writer)
            .await?;
        for m in list {
            let mut tx = self.begin_write().await?;
            let applied: i64 = sqlx::query_scalar(sql::APPLIED_MIGRATION)
                .bind(m.version)
                .fetch_one(&mut *tx)
                .await?;
            if applied > 0 {
                tx.rollback().await?;
                continue;
            }
            Self::apply_migration(&mut tx, m).await?;
            tx.commit().await?;
            if report {
                migrations::applied("sqlite", m);
            }
        }
        let latest: Option<i64> = sqlx::query_scalar(sql::LATEST_MIGRATION)
            .fetch_one(&self.pool)
            .await?;
        migrations::warn_if_newer("sqlite", latest, list);
        Ok(())
    }
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
