//! The SQL both backends share, and the one [`Store`](super::Store) implementation written
//! once over it. SQLite and PostgreSQL accept the same statements here (`$n` parameters,
//! `ON CONFLICT`, `RETURNING`); the few that differ (JSON array expansion, how a write
//! transaction begins) come from the backend. A macro rather than generics: sqlx's generic
//! bounds over `Database` would bury every method under where-clauses, and the macro keeps
//! each backend type-checked on its own.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::StoreError;

mod write;

pub(super) use write::{Arg, Returns, Statement, Write, Written, resource_write};

/// The columns of a resource row, in the order `resource_from_row` reads them by name.
macro_rules! resource_columns {
    () => {
        "tenant, resource_type, scim_id, downstream_id, external_id, lookup_key, attributes, \
         version, created, last_modified"
    };
}

/// `SELECT` of a table's columns (named by one of the `*_columns` macros, after the row id
/// when asked), then `$rest`.
macro_rules! select {
    ($columns:ident, $rest:literal) => {
        concat!("SELECT ", $columns!(), " ", $rest)
    };
    (id, $columns:ident, $rest:literal) => {
        concat!("SELECT id, ", $columns!(), " ", $rest)
    };
}

/// `INSERT` into `$table` of its columns (named by one of the `*_columns` macros).
macro_rules! insert {
    ($table:literal, $columns:ident, $values:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (",
            $columns!(),
            ") VALUES ",
            $values
        )
    };
}

pub(super) const PUT_RESOURCE: &str = concat!(
    "INSERT INTO resources (tenant, resource_type, scim_id, downstream_id, external_id, \
     lookup_key, attributes, version, created, last_modified) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) \
     ON CONFLICT (tenant, resource_type, scim_id) DO UPDATE SET \
     downstream_id = excluded.downstream_id, external_id = excluded.external_id, \
     lookup_key = excluded.lookup_key, attributes = excluded.attributes, \
     version = resources.version + 1, last_modified = excluded.last_modified \
     RETURNING ",
    resource_columns!()
);

pub(super) const UPDATE_RESOURCE: &str = concat!(
    "UPDATE resources SET downstream_id = $4, \
     external_id = $5, lookup_key = $6, attributes = $7, version = version + 1, \
     last_modified = $8 \
     WHERE tenant = $1 AND resource_type = $2 AND scim_id = $3 \
     AND ($9 IS NULL OR version = $9) RETURNING ",
    resource_columns!()
);

pub(super) const TOUCH_RESOURCE: &str = "UPDATE resources SET version = version + 1, \
     last_modified = $4 WHERE tenant = $1 AND resource_type = $2 AND scim_id = $3 \
     AND ($5 IS NULL OR version = $5) RETURNING version";

pub(super) const RESOURCE_VERSION: &str =
    "SELECT version FROM resources WHERE tenant = $1 AND resource_type = $2 AND scim_id = $3";

/// The resources of tenant `$1` and type `$2`, narrowed and ordered by `$rest`.
macro_rules! resources_of_type {
    ($rest:literal) => {
        concat!(
            select!(
                resource_columns,
                "FROM resources WHERE tenant = $1 AND resource_type = $2"
            ),
            $rest
        )
    };
}

pub(super) const BY_SCIM_ID: &str = resources_of_type!(" AND scim_id = $3");

pub(super) const BY_DOWNSTREAM_ID: &str = resources_of_type!(" AND downstream_id = $3");

pub(super) const BY_LOOKUP_KEY: &str = resources_of_type!(" AND lookup_key = $3 ORDER BY scim_id");

pub(super) const BY_EXTERNAL_ID: &str =
    resources_of_type!(" AND external_id = $3 ORDER BY scim_id");

pub(super) const LIST_RESOURCES: &str = resources_of_type!(" ORDER BY scim_id LIMIT $3 OFFSET $4");

pub(super) const COUNT_RESOURCES: &str =
    "SELECT COUNT(*) FROM resources WHERE tenant = $1 AND resource_type = $2";

pub(super) const DELETE_RESOURCE: &str =
    "DELETE FROM resources WHERE tenant = $1 AND resource_type = $2 AND scim_id = $3";

pub(super) const DELETE_GROUP_MEMBERSHIPS: &str =
    "DELETE FROM memberships WHERE tenant = $1 AND group_id = $2";

pub(super) const DELETE_MEMBER_MEMBERSHIPS: &str =
    "DELETE FROM memberships WHERE tenant = $1 AND member_id = $2";

pub(super) const MEMBERS_FIRST_PAGE: &str = "SELECT member_id FROM memberships \
     WHERE tenant = $1 AND group_id = $2 ORDER BY member_id LIMIT $3";

pub(super) const MEMBERS_PAGE_AFTER: &str = "SELECT member_id FROM memberships \
     WHERE tenant = $1 AND group_id = $2 AND member_id > $3 ORDER BY member_id LIMIT $4";

pub(super) const MEMBER_COUNT: &str =
    "SELECT COUNT(*) FROM memberships WHERE tenant = $1 AND group_id = $2";

pub(super) const GROUPS_OF: &str =
    "SELECT group_id FROM memberships WHERE tenant = $1 AND member_id = $2 ORDER BY group_id";

pub(super) const IS_MEMBER: &str = "SELECT COUNT(*) FROM memberships \
     WHERE tenant = $1 AND group_id = $2 AND member_id = $3";

pub(super) const BEGIN_INTENT: &str = "INSERT INTO intents (tenant, kind, payload, created) \
     VALUES ($1, $2, $3, $4) RETURNING id";

pub(super) const COMPLETE_INTENT: &str = "DELETE FROM intents WHERE id = $1";

pub(super) const PENDING_INTENTS: &str =
    "SELECT id, tenant, kind, payload, created FROM intents ORDER BY id";

pub(super) const PENDING_INTENTS_OF: &str =
    "SELECT id, tenant, kind, payload, created FROM intents WHERE tenant = $1 ORDER BY id";

/// The columns of a token row.
macro_rules! token_columns {
    () => {
        "tenant, id, name, prefix, digest, created_at, expires_at, revoked_at, last_used_at"
    };
}

pub(super) const INSERT_TOKEN: &str = insert!(
    "tokens",
    token_columns,
    "($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);

pub(super) const TOKEN_BY_DIGEST: &str = select!(
    token_columns,
    "FROM tokens WHERE tenant = $1 AND digest = $2"
);

pub(super) const LIST_TOKENS: &str = select!(
    token_columns,
    "FROM tokens WHERE tenant = $1 ORDER BY created_at, id"
);

pub(super) const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked_at = $3 \
     WHERE tenant = $1 AND id = $2 AND revoked_at IS NULL";

pub(super) const SHORTEN_TOKEN: &str = "UPDATE tokens SET expires_at = $3 \
     WHERE tenant = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3)";

pub(super) const TOUCH_TOKEN: &str =
    "UPDATE tokens SET last_used_at = $3 WHERE tenant = $1 AND id = $2";

/// Takes a lease nobody holds, or one whose holder's time ran out; one row changed when taken.
pub(super) const TAKE_LEASE: &str = "INSERT INTO leases (key, holder, expires_at) \
     VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE \
     SET holder = excluded.holder, expires_at = excluded.expires_at \
     WHERE leases.expires_at < $4";

pub(super) const RELEASE_LEASE: &str = "DELETE FROM leases WHERE key = $1 AND holder = $2";

/// The columns of an activity row.
macro_rules! activity_columns {
    () => {
        "at_ms, tenant, client_auth, client, operation, resource_type, resource_id, user_name, \
         status, scim_type, detail, request_id, duration_ms, calls, calls_omitted"
    };
}

pub(super) const INSERT_ACTIVITY: &str = insert!(
    "activity",
    activity_columns,
    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);

/// A page of activity: `$1` tenant, `$2` userName or resource id, `$3` operation, `$4`
/// `failed`/`ok`, `$5` since; each NULL to not filter.
pub(super) const ACTIVITY_PAGE: &str = select!(
    id,
    activity_columns,
    "FROM activity WHERE ($1 IS NULL OR tenant = $1) \
     AND ($2 IS NULL OR lower(user_name) = lower($2) OR resource_id = $2) \
     AND ($3 IS NULL OR operation = $3) \
     AND ($4 IS NULL OR ($4 = 'failed' AND status >= 400) OR ($4 = 'ok' AND status < 400)) \
     AND ($5 IS NULL OR at_ms >= $5) \
     ORDER BY id DESC LIMIT $6 OFFSET $7"
);

pub(super) const ACTIVITY_BY_ID: &str =
    select!(id, activity_columns, "FROM activity WHERE id = $1");

pub(super) const ACTIVITY_COUNTS: &str = "SELECT COUNT(*), \
     COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) \
     FROM activity WHERE tenant = $1 AND at_ms >= $2";

pub(super) const PRUNE_ACTIVITY_AGE: &str = "DELETE FROM activity WHERE at_ms < $1";

/// All but the newest `$1` entries.
pub(super) const PRUNE_ACTIVITY_COUNT: &str = "DELETE FROM activity WHERE id <= \
     (SELECT id FROM activity ORDER BY id DESC LIMIT 1 OFFSET $1)";

pub(super) const APPLIED_MIGRATION: &str =
    "SELECT COUNT(*) FROM schema_migrations WHERE version = $1";

pub(super) const RECORD_MIGRATION: &str =
    "INSERT INTO schema_migrations (version, description, applied) VALUES ($1, $2, $3)";

pub(super) const LATEST_MIGRATION: &str = "SELECT MAX(version) FROM schema_migrations";

/// Now, as stored: RFC 3339 in UTC, to the millisecond.
pub(super) fn now() -> Result<String, StoreError> {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_millisecond(now.millisecond()).unwrap_or(now);
    now.format(&Rfc3339)
        .map_err(|e| StoreError::Database(format!("cannot format the time: {e}")))
}

/// Attributes as stored: JSON text, `{}` for none.
pub(super) fn attributes_text(attributes: &Value) -> Result<String, StoreError> {
    if attributes.is_null() {
        return Ok("{}".to_owned());
    }
    serde_json::to_string(attributes)
        .map_err(|e| StoreError::Database(format!("cannot encode attributes: {e}")))
}

/// Stored JSON text back to a value.
pub(super) fn parse_json(text: &str, what: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A member batch as one JSON array parameter, sorted and without duplicates: one statement
/// per batch, and concurrent batches lock rows in the same order (no deadlocks).
pub(super) fn id_array(ids: &[String]) -> Result<String, StoreError> {
    let mut sorted: Vec<&str> = ids.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    serde_json::to_string(&sorted)
        .map_err(|e| StoreError::Database(format!("cannot encode member ids: {e}")))
}

/// A count or limit as SQL binds it.
pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count SQL returned, as Rust uses it.
pub(super) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A resource row decoded (a sqlx row, or the SQLite writer's rusqlite row: both read a
/// column with `try_get(name)`).
macro_rules! resource_from {
    ($row:ident) => {{
        let resource_type: String = $row.try_get("resource_type")?;
        let attributes: String = $row.try_get("attributes")?;
        Ok($crate::store::sql::from_columns!($row => Resource {
            tenant, scim_id, downstream_id, external_id, lookup_key, version, created,
            last_modified;
            resource_type: resource_type.parse()?,
            attributes: $crate::store::sql::parse_json(&attributes, "resource attributes")?,
        }))
    }};
}

pub(super) use resource_from;

/// A struct read from a row: each field before the `;` from the column of its name, each
/// after it as given.
macro_rules! from_columns {
    ($row:ident => $ty:ident {
        $($column:ident),* $(; $($field:ident: $value:expr),* $(,)?)?
    }) => {
        $ty {
            $($column: $row.try_get(stringify!($column))?,)*
            $($($field: $value,)*)?
        }
    };
}

pub(super) use from_columns;

/// Writes `impl Store` for a backend struct with a `pool` field (reads), inherent
/// `async fn write(&self, write: Write) -> Result<Vec<Written>, StoreError>` (runs every
/// write; [`write_on_pool`](Self::write_on_pool), written here, does it through sqlx),
/// `async fn begin_write(pool: &Pool) -> Result<Transaction<'static, _>, StoreError>` and
/// `async fn close_pools(&self)`, and the statements that add and remove a JSON array (`$3`)
/// of members of group `$2` of tenant `$1`.
macro_rules! impl_sql_store {
    (
        $store:ty,
        $row:ty,
        backend = $backend:literal,
        add_members = $add:expr,
        remove_members = $remove:expr $(,)?
    ) => {
        // A block of its own, so that these imports do not clash with the backend module's.
        const _: () = {
            use sqlx::Row as _;
            use $crate::store::api::{
                ActivityLog, Backend, IntentJournal, LeaseStore, MembershipStore, ResourceStore,
                TokenStore, store_fns,
            };
            use $crate::store::resource::normalize_key;
            use $crate::store::sql::{
                self, Arg, Returns, Statement, Write, Written, id_array, now, parse_json, to_i64,
                to_u64,
            };
            use $crate::store::{
                Activity, ActivityCounts, ActivityFilter, Intent, IntentId, IssuedToken, Resource,
                ResourceData, ResourceType, StoreError,
            };

            fn resource_from_row(row: &$row) -> Result<Resource, StoreError> {
                sql::resource_from!(row)
            }

            fn intent_from_row(row: &$row) -> Result<Intent, StoreError> {
                let payload: String = row.try_get("payload")?;
                Ok(sql::from_columns!(row => Intent {
                    tenant, kind, created;
                    id: IntentId(row.try_get("id")?),
                    payload: parse_json(&payload, "intent payload")?,
                }))
            }

            fn token_from_row(row: &$row) -> Result<IssuedToken, StoreError> {
                Ok(sql::from_columns!(row => IssuedToken {
                    tenant, id, name, prefix, digest, created_at, expires_at, revoked_at,
                    last_used_at
                }))
            }

            fn activity_from_row(row: &$row) -> Result<Activity, StoreError> {
                let calls: String = row.try_get("calls")?;
                let status: i64 = row.try_get("status")?;
                let duration: i64 = row.try_get("duration_ms")?;
                let omitted: i64 = row.try_get("calls_omitted")?;
                Ok(sql::from_columns!(row => Activity {
                    id, at_ms, tenant, client_auth, client, operation, resource_type, resource_id,
                    user_name, scim_type, detail, request_id;
                    status: u16::try_from(status).unwrap_or(0),
                    duration_ms: to_u64(duration),
                    calls: serde_json::from_str(&calls)
                        .map_err(|e| StoreError::Corrupt(format!("activity calls: {e}")))?,
                    calls_omitted: to_u64(omitted),
                }))
            }

            impl $store {
                /// Runs a migration's statements and records it, in the caller's transaction.
                async fn apply_migration(
                    tx: &mut sqlx::Transaction<'_, <$row as sqlx::Row>::Database>,
                    m: &$crate::store::migrations::Migration,
                ) -> Result<(), StoreError> {
                    for statement in m.statements {
                        sqlx::query(*statement)
                            .execute(&mut **tx)
                            .await
                            .inspect_err(|e| {
                                tracing::error!(
                                    version = m.version,
                                    error = %e,
                                    "schema migration failed"
                                );
                            })?;
                    }
                    sqlx::query(sql::RECORD_MIGRATION)
                        .bind(m.version)
                        .bind(m.description)
                        .bind(now()?)
                        .execute(&mut **tx)
                        .await?;
                    Ok(())
                }

                /// Runs a write's statements through sqlx on `pool`: a lone statement on its
                /// own, several in one write transaction. Nothing more to wait for once it
                /// commits: PostgreSQL's commit is durable when it returns, and an in-memory
                /// SQLite has no disk.
                async fn write_on_pool(
                    pool: &sqlx::Pool<<$row as sqlx::Row>::Database>,
                    write: Write,
                ) -> Result<Vec<Written>, StoreError> {
                    let mut written = Vec::with_capacity(write.statements.len());
                    if write.statements.len() == 1 {
                        let mut conn = pool.acquire().await?;
                        for statement in write.statements {
                            written.push(Self::run_statement(&mut conn, statement).await?);
                        }
                    } else {
                        let mut tx = Self::begin_write(pool).await?;
                        for statement in write.statements {
                            written.push(Self::run_statement(&mut tx, statement).await?);
                        }
                        tx.commit().await?;
                    }
                    Ok(written)
                }

                /// Runs one statement of a write on `conn`.
                async fn run_statement(
                    conn: &mut <<$row as sqlx::Row>::Database as sqlx::Database>::Connection,
                    statement: Statement,
                ) -> Result<Written, StoreError> {
                    let mut query = sqlx::query(statement.sql);
                    for arg in statement.args {
                        query = match arg {
                            Arg::Text(text) => query.bind(text),
                            Arg::Int(n) => query.bind(n),
                        };
                    }
                    Ok(match statement.returns {
                        Returns::Count => Written::Count(query.execute(&mut *conn).await?.rows_affected()),
                        Returns::Resource => {
                            let row = query.fetch_optional(&mut *conn).await?;
                            Written::Resource(
                                row.as_ref().map(resource_from_row).transpose()?.map(Box::new),
                            )
                        }
                        Returns::Integer => {
                            let row = query.fetch_optional(&mut *conn).await?;
                            Written::Integer(row.map(|row| row.try_get(0)).transpose()?)
                        }
                    })
                }

                /// Runs a write of one statement; what it gave back.
                async fn write_one(&self, statement: Statement) -> Result<Written, StoreError> {
                    let written = self.write(Write::durable(vec![statement])).await?;
                    written
                        .into_iter()
                        .next()
                        .ok_or_else(|| StoreError::Database("a write gave nothing back".into()))
                }

                /// Sets one time column of a token; false when the statement matched no row.
                async fn set_token_time(
                    &self,
                    sql: &'static str,
                    tenant: &str,
                    id: &str,
                    at: i64,
                ) -> Result<bool, StoreError> {
                    let args = vec![Arg::from(tenant), Arg::from(id), Arg::from(at)];
                    let written = self.write_one(Statement::count(sql, args)).await?;
                    Ok(written.count() > 0)
                }

                /// Runs a statement over a batch of members (`$3`, a JSON array) of group `$2`
                /// of tenant `$1`; how many rows it changed.
                async fn members_batch(
                    &self,
                    sql: &'static str,
                    tenant: &str,
                    group_id: &str,
                    members: &[String],
                ) -> Result<usize, StoreError> {
                    if members.is_empty() {
                        return Ok(0);
                    }
                    let args = vec![Arg::from(tenant), Arg::from(group_id), Arg::from(id_array(members)?)];
                    let changed = self.write_one(Statement::count(sql, args)).await?.count();
                    Ok(usize::try_from(changed).unwrap_or(usize::MAX))
                }

                /// Writes one resource row with `sql` (tenant, type, SCIM id, the data and the
                /// time), durably: an upsert when `expected` is `None`, else an update that
                /// expects that version (`$9`) and says why it matched no row.
                async fn write_resource(
                    &self,
                    sql: &'static str,
                    tenant: &str,
                    resource_type: ResourceType,
                    scim_id: &str,
                    data: &ResourceData,
                    expected: Option<Option<i64>>,
                ) -> Result<Resource, StoreError> {
                    let statement =
                        sql::resource_write(sql, tenant, resource_type, scim_id, data, expected)?;
                    match (self.write_one(statement).await?.into_resource(), expected) {
                        (Some(row), _) => Ok(row),
                        (None, Some(expected)) => Err(self
                            .version_miss(tenant, resource_type, scim_id, expected)
                            .await),
                        // An upsert always returns its row.
                        (None, None) => Err(sqlx::Error::RowNotFound.into()),
                    }
                }

                /// Why an update matched no row: the resource is gone, or its version moved.
                async fn version_miss(
                    &self,
                    tenant: &str,
                    resource_type: ResourceType,
                    scim_id: &str,
                    expected: Option<i64>,
                ) -> StoreError {
                    let actual: Result<Option<i64>, sqlx::Error> =
                        sqlx::query_scalar(sql::RESOURCE_VERSION)
                            .bind(tenant)
                            .bind(resource_type.as_str())
                            .bind(scim_id)
                            .fetch_optional(&self.pool)
                            .await;
                    match (expected, actual) {
                        (_, Err(e)) => e.into(),
                        (Some(expected), Ok(Some(actual))) => {
                            StoreError::VersionMismatch { expected, actual }
                        }
                        _ => StoreError::NotFound {
                            resource_type: resource_type.as_str(),
                            scim_id: scim_id.to_owned(),
                        },
                    }
                }

                /// The first resource one query with `tenant, type, value` parameters returns.
                async fn resource_where(
                    &self,
                    sql: &'static str,
                    tenant: &str,
                    resource_type: ResourceType,
                    value: &str,
                ) -> Result<Option<Resource>, StoreError> {
                    let found = self
                        .resources_where(sql, tenant, resource_type, value)
                        .await?;
                    Ok(found.into_iter().next())
                }

                /// The resources one query with `tenant, type, value` parameters returns.
                async fn resources_where(
                    &self,
                    sql: &'static str,
                    tenant: &str,
                    resource_type: ResourceType,
                    value: &str,
                ) -> Result<Vec<Resource>, StoreError> {
                    let query = sqlx::query(sql).bind(tenant).bind(resource_type.as_str());
                    let rows = query.bind(value).fetch_all(&self.pool).await?;
                    rows.iter().map(resource_from_row).collect()
                }

                /// The count one query with `tenant` and one more text parameter returns.
                async fn count_where(
                    &self,
                    sql: &'static str,
                    tenant: &str,
                    value: &str,
                ) -> Result<u64, StoreError> {
                    let query = sqlx::query_scalar(sql).bind(tenant).bind(value);
                    let n: i64 = query.fetch_one(&self.pool).await?;
                    Ok(to_u64(n))
                }
            }

            impl ResourceStore for $store {
                store_fns! {
                    fn put_resource(
                        self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
                        data: &'a ResourceData,
                    ) -> Resource {
                        Box::pin(self.write_resource(
                            sql::PUT_RESOURCE, tenant, resource_type, scim_id, data, None,
                        ))
                    }

                    fn update_resource(
                        self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
                        data: &'a ResourceData, expected_version: Option<i64>,
                    ) -> Resource {
                        Box::pin(self.write_resource(
                            sql::UPDATE_RESOURCE, tenant, resource_type, scim_id, data,
                            Some(expected_version),
                        ))
                    }

                    fn touch_resource(
                        self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
                        expected_version: Option<i64>,
                    ) -> i64 {
                        Box::pin(async move {
                            let statement = Statement {
                                sql: sql::TOUCH_RESOURCE,
                                args: vec![
                                    Arg::from(tenant),
                                    Arg::from(resource_type.as_str()),
                                    Arg::from(scim_id),
                                    Arg::from(now()?),
                                    Arg::from(expected_version),
                                ],
                                returns: Returns::Integer,
                            };
                            match self.write_one(statement).await?.integer() {
                                Some(v) => Ok(v),
                                None => Err(self
                                    .version_miss(tenant, resource_type, scim_id, expected_version)
                                    .await),
                            }
                        })
                    }

                    fn resource_by_scim_id(
                        self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
                    ) -> Option<Resource> {
                        let sql = sql::BY_SCIM_ID;
                        Box::pin(self.resource_where(sql, tenant, resource_type, scim_id))
                    }

                    fn resource_by_downstream_id(
                        self, tenant: &'a str, resource_type: ResourceType, downstream_id: &'a str,
                    ) -> Option<Resource> {
                        let sql = sql::BY_DOWNSTREAM_ID;
                        Box::pin(self.resource_where(sql, tenant, resource_type, downstream_id))
                    }

                    fn resources_by_lookup_key(
                        self, tenant: &'a str, resource_type: ResourceType, key: &'a str,
                    ) -> Vec<Resource> {
                        Box::pin(async move {
                            let key = normalize_key(key);
                            self.resources_where(sql::BY_LOOKUP_KEY, tenant, resource_type, &key)
                                .await
                        })
                    }

                    fn resources_by_external_id(
                        self, tenant: &'a str, resource_type: ResourceType, external_id: &'a str,
                    ) -> Vec<Resource> {
                        let sql = sql::BY_EXTERNAL_ID;
                        Box::pin(self.resources_where(sql, tenant, resource_type, external_id))
                    }

                    fn delete_resource(
                        self, tenant: &'a str, resource_type: ResourceType, scim_id: &'a str,
                    ) -> bool {
                        Box::pin(async move {
                            let key = || vec![Arg::from(tenant), Arg::from(scim_id)];
                            let row = vec![
                                Arg::from(tenant),
                                Arg::from(resource_type.as_str()),
                                Arg::from(scim_id),
                            ];
                            let mut statements = vec![
                                Statement::count(sql::DELETE_RESOURCE, row),
                                Statement::count(sql::DELETE_MEMBER_MEMBERSHIPS, key()),
                            ];
                            if resource_type == ResourceType::Group {
                                statements.push(Statement::count(sql::DELETE_GROUP_MEMBERSHIPS, key()));
                            }
                            let written = self.write(Write::durable(statements)).await?;
                            Ok(written.first().is_some_and(|w| w.count() > 0))
                        })
                    }

                    fn list_resources(
                        self, tenant: &'a str, resource_type: ResourceType, offset: u64, limit: u64,
                    ) -> Vec<Resource> {
                        Box::pin(async move {
                            let rows = sqlx::query(sql::LIST_RESOURCES)
                                .bind(tenant)
                                .bind(resource_type.as_str())
                                .bind(to_i64(limit))
                                .bind(to_i64(offset))
                                .fetch_all(&self.pool)
                                .await?;
                            rows.iter().map(resource_from_row).collect()
                        })
                    }

                    fn count_resources(self, tenant: &'a str, resource_type: ResourceType) -> u64 {
                        let kind = resource_type.as_str();
                        Box::pin(self.count_where(sql::COUNT_RESOURCES, tenant, kind))
                    }
                }
            }

            impl MembershipStore for $store {
                store_fns! {
                    fn add_members(
                        self, tenant: &'a str, group_id: &'a str, members: &'a [String],
                    ) -> usize {
                        Box::pin(self.members_batch($add, tenant, group_id, members))
                    }

                    fn remove_members(
                        self, tenant: &'a str, group_id: &'a str, members: &'a [String],
                    ) -> usize {
                        Box::pin(self.members_batch($remove, tenant, group_id, members))
                    }

                    fn replace_members(
                        self, tenant: &'a str, group_id: &'a str, members: &'a [String],
                    ) -> usize {
                        Box::pin(async move {
                            let group = vec![Arg::from(tenant), Arg::from(group_id)];
                            let mut statements =
                                vec![Statement::count(sql::DELETE_GROUP_MEMBERSHIPS, group.clone())];
                            if !members.is_empty() {
                                let mut args = group;
                                args.push(Arg::from(id_array(members)?));
                                statements.push(Statement::count($add, args));
                            }
                            let written = self.write(Write::durable(statements)).await?;
                            let added = written.get(1).map_or(0, Written::count);
                            Ok(usize::try_from(added).unwrap_or(usize::MAX))
                        })
                    }

                    fn members_page(
                        self, tenant: &'a str, group_id: &'a str, after: Option<&'a str>,
                        limit: u32,
                    ) -> Vec<String> {
                        Box::pin(async move {
                            if limit == 0 {
                                return Ok(Vec::new());
                            }
                            let query = match after {
                                None => sqlx::query_scalar(sql::MEMBERS_FIRST_PAGE)
                                    .bind(tenant)
                                    .bind(group_id),
                                Some(after) => sqlx::query_scalar(sql::MEMBERS_PAGE_AFTER)
                                    .bind(tenant)
                                    .bind(group_id)
                                    .bind(after),
                            };
                            Ok(query.bind(i64::from(limit)).fetch_all(&self.pool).await?)
                        })
                    }

                    fn member_count(self, tenant: &'a str, group_id: &'a str) -> u64 {
                        Box::pin(self.count_where(sql::MEMBER_COUNT, tenant, group_id))
                    }

                    fn groups_of(self, tenant: &'a str, member_id: &'a str) -> Vec<String> {
                        let query = sqlx::query_scalar(sql::GROUPS_OF).bind(tenant).bind(member_id);
                        Box::pin(async move { Ok(query.fetch_all(&self.pool).await?) })
                    }

                    fn is_member(
                        self, tenant: &'a str, group_id: &'a str, member_id: &'a str,
                    ) -> bool {
                        Box::pin(async move {
                            let n: i64 = sqlx::query_scalar(sql::IS_MEMBER)
                                .bind(tenant)
                                .bind(group_id)
                                .bind(member_id)
                                .fetch_one(&self.pool)
                                .await?;
                            Ok(n > 0)
                        })
                    }
                }
            }

            impl IntentJournal for $store {
                store_fns! {
                    fn begin_intent(
                        self, tenant: &'a str, kind: &'a str, payload: &'a serde_json::Value,
                    ) -> IntentId {
                        Box::pin(async move {
                            let payload = serde_json::to_string(payload).map_err(|e| {
                                StoreError::Database(format!("cannot encode payload: {e}"))
                            })?;
                            let statement = Statement {
                                sql: sql::BEGIN_INTENT,
                                args: vec![
                                    Arg::from(tenant),
                                    Arg::from(kind),
                                    Arg::from(payload),
                                    Arg::from(now()?),
                                ],
                                returns: Returns::Integer,
                            };
                            match self.write_one(statement).await?.integer() {
                                Some(id) => Ok(IntentId(id)),
                                None => Err(sqlx::Error::RowNotFound.into()),
                            }
                        })
                    }

                    fn complete_intent(self, id: IntentId) -> bool {
                        Box::pin(async move {
                            let statement = Statement::count(sql::COMPLETE_INTENT, vec![Arg::from(id.0)]);
                            Ok(self.write_one(statement).await?.count() > 0)
                        })
                    }

                    fn pending_intents(self, tenant: Option<&'a str>) -> Vec<Intent> {
                        Box::pin(async move {
                            let query = match tenant {
                                None => sqlx::query(sql::PENDING_INTENTS),
                                Some(tenant) => sqlx::query(sql::PENDING_INTENTS_OF).bind(tenant),
                            };
                            let rows = query.fetch_all(&self.pool).await?;
                            rows.iter().map(intent_from_row).collect()
                        })
                    }
                }
            }

            impl TokenStore for $store {
                store_fns! {
                    fn insert_token(self, token: &'a IssuedToken) -> () {
                        Box::pin(async move {
                            let args = vec![
                                Arg::from(token.tenant.as_str()),
                                Arg::from(token.id.as_str()),
                                Arg::from(token.name.as_str()),
                                Arg::from(token.prefix.as_str()),
                                Arg::from(token.digest.as_str()),
                                Arg::from(token.created_at),
                                Arg::from(token.expires_at),
                                Arg::from(token.revoked_at),
                                Arg::from(token.last_used_at),
                            ];
                            self.write_one(Statement::count(sql::INSERT_TOKEN, args)).await?;
                            Ok(())
                        })
                    }

                    fn token_by_digest(
                        self, tenant: &'a str, digest: &'a str,
                    ) -> Option<IssuedToken> {
                        let query = sqlx::query(sql::TOKEN_BY_DIGEST).bind(tenant).bind(digest);
                        Box::pin(async move {
                            let row = query.fetch_optional(&self.pool).await?;
                            row.as_ref().map(token_from_row).transpose()
                        })
                    }

                    fn list_tokens(self, tenant: &'a str) -> Vec<IssuedToken> {
                        Box::pin(async move {
                            let rows = sqlx::query(sql::LIST_TOKENS)
                                .bind(tenant)
                                .fetch_all(&self.pool)
                                .await?;
                            rows.iter().map(token_from_row).collect()
                        })
                    }

                    fn revoke_token(self, tenant: &'a str, id: &'a str, at: i64) -> bool {
                        Box::pin(self.set_token_time(sql::REVOKE_TOKEN, tenant, id, at))
                    }

                    fn shorten_token(self, tenant: &'a str, id: &'a str, expires_at: i64) -> bool {
                        Box::pin(self.set_token_time(sql::SHORTEN_TOKEN, tenant, id, expires_at))
                    }

                    fn touch_token(self, tenant: &'a str, id: &'a str, at: i64) -> bool {
                        Box::pin(self.set_token_time(sql::TOUCH_TOKEN, tenant, id, at))
                    }
                }
            }

            impl LeaseStore for $store {
                store_fns! {
                    fn take_lease(
                        self, key: &'a str, holder: &'a str, now_ms: i64, expires_ms: i64,
                    ) -> bool {
                        Box::pin(async move {
                            let args = vec![
                                Arg::from(key),
                                Arg::from(holder),
                                Arg::from(expires_ms),
                                Arg::from(now_ms),
                            ];
                            let write = Write::committed(vec![Statement::count(sql::TAKE_LEASE, args)]);
                            let written = self.write(write).await?;
                            Ok(written.first().is_some_and(|w| w.count() == 1))
                        })
                    }

                    fn release_lease(self, key: &'a str, holder: &'a str) -> () {
                        Box::pin(async move {
                            let args = vec![Arg::from(key), Arg::from(holder)];
                            let statement = Statement::count(sql::RELEASE_LEASE, args);
                            self.write(Write::committed(vec![statement])).await?;
                            Ok(())
                        })
                    }
                }
            }

            impl ActivityLog for $store {
                store_fns! {
                    fn record_activity(self, entries: &'a [Activity]) -> () {
                        Box::pin(async move {
                            let mut statements = Vec::with_capacity(entries.len());
                            for e in entries {
                                let calls = serde_json::to_string(&e.calls).map_err(|e| {
                                    StoreError::Database(format!("cannot encode calls: {e}"))
                                })?;
                                let args = vec![
                                    Arg::from(e.at_ms),
                                    Arg::from(e.tenant.as_str()),
                                    Arg::from(e.client_auth.as_str()),
                                    Arg::from(e.client.as_str()),
                                    Arg::from(e.operation.as_str()),
                                    Arg::from(e.resource_type.as_str()),
                                    Arg::from(e.resource_id.as_deref()),
                                    Arg::from(e.user_name.as_deref()),
                                    Arg::from(i64::from(e.status)),
                                    Arg::from(e.scim_type.as_deref()),
                                    Arg::from(e.detail.as_deref()),
                                    Arg::from(e.request_id.as_str()),
                                    Arg::from(to_i64(e.duration_ms)),
                                    Arg::from(calls),
                                    Arg::from(to_i64(e.calls_omitted)),
                                ];
                                statements.push(Statement::count(sql::INSERT_ACTIVITY, args));
                            }
                            if !statements.is_empty() {
                                self.write(Write::committed(statements)).await?;
                            }
                            Ok(())
                        })
                    }

                    fn activity_page(
                        self, filter: &'a ActivityFilter, offset: u64, limit: u64,
                    ) -> Vec<Activity> {
                        Box::pin(async move {
                            let outcome = filter.failed.map(|f| if f { "failed" } else { "ok" });
                            let rows = sqlx::query(sql::ACTIVITY_PAGE)
                                .bind(filter.tenant.as_deref())
                                .bind(filter.user.as_deref())
                                .bind(filter.operation.as_deref())
                                .bind(outcome)
                                .bind(filter.since_ms)
                                .bind(to_i64(limit))
                                .bind(to_i64(offset))
                                .fetch_all(&self.pool)
                                .await?;
                            rows.iter().map(activity_from_row).collect()
                        })
                    }

                    fn activity_by_id(self, id: i64) -> Option<Activity> {
                        let query = sqlx::query(sql::ACTIVITY_BY_ID).bind(id);
                        Box::pin(async move {
                            let row = query.fetch_optional(&self.pool).await?;
                            row.as_ref().map(activity_from_row).transpose()
                        })
                    }

                    fn activity_counts(self, tenant: &'a str, since_ms: i64) -> ActivityCounts {
                        Box::pin(async move {
                            let query = sqlx::query_as(sql::ACTIVITY_COUNTS).bind(tenant);
                            let (requests, errors): (i64, i64) =
                                query.bind(since_ms).fetch_one(&self.pool).await?;
                            Ok(ActivityCounts {
                                requests: to_u64(requests),
                                errors: to_u64(errors),
                            })
                        })
                    }

                    fn prune_activity(self, before_ms: i64, keep: u64) -> u64 {
                        Box::pin(async move {
                            let statements = vec![
                                Statement::count(sql::PRUNE_ACTIVITY_AGE, vec![Arg::from(before_ms)]),
                                Statement::count(sql::PRUNE_ACTIVITY_COUNT, vec![Arg::from(to_i64(keep))]),
                            ];
                            let written = self.write(Write::committed(statements)).await?;
                            Ok(written.iter().map(Written::count).sum())
                        })
                    }
                }
            }

            impl Backend for $store {
                fn backend(&self) -> &'static str {
                    $backend
                }

                fn ping(&self) -> $crate::store::BoxFuture<'_, Result<(), StoreError>> {
                    Box::pin(async move {
                        sqlx::query("SELECT 1").execute(&self.pool).await?;
                        Ok(())
                    })
                }

                fn close(&self) -> $crate::store::BoxFuture<'_, ()> {
                    Box::pin(self.close_pools())
                }
            }
        };
    };
}

pub(super) use impl_sql_store;
