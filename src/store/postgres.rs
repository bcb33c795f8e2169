//! The shared backend: PostgreSQL, for several gateway instances serving the same tenants.
//! Migrations run under a session advisory lock on a dedicated connection, so instances
//! starting together apply each migration exactly once (the others wait, then find it
//! recorded); the lock goes with the connection even if the migrating process dies.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, Transaction};

use super::error::StoreError;
use super::migrations::{self, Migration};
use super::sql;

/// The advisory lock key held while migrating (any constant unlikely to clash).
const MIGRATION_LOCK: i64 = 0x5C1A_6A7E_0001;
/// Pooled connections per gateway instance.
const MAX_CONNECTIONS: u32 = 10;
/// How long a call waits for a free connection before failing as
/// [`StoreError::Unavailable`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Members of group `$2` of tenant `$1` from JSON array `$3` (text cast to jsonb).
const ADD_MEMBERS: &str = "INSERT INTO memberships (tenant, group_id, member_id) \
     SELECT $1, $2, value FROM jsonb_array_elements_text($3::jsonb) WHERE true \
     ON CONFLICT DO NOTHING";
const REMOVE_MEMBERS: &str = "DELETE FROM memberships WHERE tenant = $1 AND group_id = $2 \
     AND member_id IN (SELECT value FROM jsonb_array_elements_text($3::jsonb))";

/// The PostgreSQL [`Store`](super::Store).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to and migrates the database at `url` (`postgres://user:pass@host/db`; add
    /// `?options=-c%20search_path%3Dschema` to keep the tables in a schema that exists).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid postgres url: {e}")))?;
        Self::open_with(options).await
    }

    /// Connects with options built in code (e.g. a password from a secret store).
    pub async fn open_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        migrate(&options, migrations::POSTGRES).await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        tracing::info!(backend = "postgres", "store opened");
        Ok(PostgresStore { pool })
    }

    /// Writes share the pool with reads: the server's row locks order them, and a commit
    /// is durable when it returns (`synchronous_commit` on, the server's default).
    async fn write(&self, write: sql::Write) -> Result<Vec<sql::Written>, StoreError> {
        Self::write_on_pool(&self.pool, write).await
    }

    /// A write transaction (row locks make concurrent writers wait, not fail).
    async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(pool.begin().await?)
    }

    async fn close_pools(&self) {
        self.pool.close().await;
    }
}

/// Applies the migrations not yet recorded, holding the migration lock on a connection of
/// its own that is closed (releasing the lock) whatever happens.
async fn migrate(options: &PgConnectOptions, list: &[Migration]) -> Result<(), StoreError> {
    let mut conn = PgConnection::connect_with(options).await?;
    let result = migrate_locked(&mut conn, list).await;
    if let Err(e) = conn.close().await {
        tracing::debug!(error = %e, "closing the migration connection failed");
    }
    result
}

async fn migrate_locked(conn: &mut PgConnection, list: &[Migration]) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    sqlx::query(migrations::CREATE_SCHEMA_MIGRATIONS)
        .execute(&mut *conn)
        .await?;
    for m in list {
        let applied: i64 = sqlx::query_scalar(sql::APPLIED_MIGRATION)
            .bind(m.version)
            .fetch_one(&mut *conn)
            .await?;
        if applied > 0 {
            continue;
        }
        let mut tx = conn.begin().await?;
        PostgresStore::apply_migration(&mut tx, m).await?;
        tx.commit().await?;
        migrations::applied("postgres", m);
    }
    let latest: Option<i64> = sqlx::query_scalar(sql::LATEST_MIGRATION)
        .fetch_one(&mut *conn)
        .await?;
    migrations::warn_if_newer("postgres", latest, list);
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

sql::impl_sql_store!(
    PostgresStore,
    PgRow,
    backend = "postgres",
    add_members = ADD_MEMBERS,
    remove_members = REMOVE_MEMBERS,
);
