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

/// The columns of a resource row, in the order `resource_from_row` reads them by name.
macro_rules! resource_columns {
    () => {
        "tenant, resource_type, scim_id, downstream_id, external_id, lookup_key, attributes, \
         version, created, last_modified"
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

pub(super) const BY_SCIM_ID: &str = concat!(
    "SELECT ",
    resource_columns!(),
    " FROM resources WHERE tenant = $1 AND resource_type = $2 AND scim_id = $3"
);

pub(super) const BY_DOWNSTREAM_ID: &str = concat!(
    "SELECT ",
    resource_columns!(),
    " FROM resources WHERE tenant = $1 AND resource_type = $2 AND downstream_id = $3"
);

pub(super) const BY_LOOKUP_KEY: &str = concat!(
    "SELECT ",
    resource_columns!(),
    " FROM resources WHERE tenant = $1 AND resource_type = $2 AND lookup_key = $3 \
     ORDER BY scim_id"
);

pub(super) const BY_EXTERNAL_ID: &str = concat!(
    "SELECT ",
    resource_columns!(),
    " FROM resources WHERE tenant = $1 AND resource_type = $2 AND external_id = $3 \
     ORDER BY scim_id"
);

pub(super) const LIST_RESOURCES: &str = concat!(
    "SELECT ",
    resource_columns!(),
    " FROM resources WHERE tenant = $1 AND resource_type = $2 \
     ORDER BY scim_id LIMIT $3 OFFSET $4"
);

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

pub(super) const INSERT_TOKEN: &str = concat!(
    "INSERT INTO tokens (",
    token_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);

pub(super) const TOKEN_BY_DIGEST: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM tokens WHERE tenant = $1 AND digest = $2"
);

pub(super) const LIST_TOKENS: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM tokens WHERE tenant = $1 ORDER BY created_at, id"
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

pub(super) const INSERT_ACTIVITY: &str = concat!(
    "INSERT INTO activity (",
    activity_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);

/// A page of activity: `$1` tenant, `$2` userName or resource id, `$3` operation, `$4`
/// `failed`/`ok`, `$5` since; each NULL to not filter.
pub(super) const ACTIVITY_PAGE: &str = concat!(
    "SELECT id, ",
    activity_columns!(),
    " FROM activity WHERE ($1 IS NULL OR tenant = $1) \
     AND ($2 IS NULL OR lower(user_name) = lower($2) OR resource_id = $2) \
     AND ($3 IS NULL OR operation = $3) \
     AND ($4 IS NULL OR ($4 = 'failed' AND status >= 400) OR ($4 = 'ok' AND status < 400)) \
     AND ($5 IS NULL OR at_ms >= $5) \
     ORDER BY id DESC LIMIT $6 OFFSET $7"
);

pub(super) const ACTIVITY_BY_ID: &str = concat!(
    "SELECT id, ",
    activity_columns!(),
    " FROM activity WHERE id = $1"
);

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

/// Writes `impl Store` for a backend struct with a `pool` field, inherent
/// `async fn begin_write(&self) -> Result<Transaction<'static, _>, StoreError>`,
/// `async fn settle(&self) -> Result<(), StoreError>` (awaited after every write that must be
/// durable when it returns) and `async fn close_pools(&self)`, and the statements that add and
/// remove a JSON array (`$3`) of members of group `$2` of tenant `$1`.
macro_rules! impl_sql_store {
    (
        $store:ty,
        $row:ty,
        backend = $backend:literal,
        add_members = $add:expr,
        remove_members = $remove:expr $(,)?
    ) => {
        fn resource_from_row(
            row: &$row,
        ) -> Result<$crate::store::Resource, $crate::store::StoreError> {
            use sqlx::Row as _;
            let resource_type: String = row.try_get("resource_type")?;
            let attributes: String = row.try_get("attributes")?;
            Ok($crate::store::Resource {
                tenant: row.try_get("tenant")?,
                resource_type: resource_type.parse()?,
                scim_id: row.try_get("scim_id")?,
                downstream_id: row.try_get("downstream_id")?,
                external_id: row.try_get("external_id")?,
                lookup_key: row.try_get("lookup_key")?,
                attributes: $crate::store::sql::parse_json(&attributes, "resource attributes")?,
                version: row.try_get("version")?,
                created: row.try_get("created")?,
                last_modified: row.try_get("last_modified")?,
            })
        }

        fn intent_from_row(row: &$row) -> Result<$crate::store::Intent, $crate::store::StoreError> {
            use sqlx::Row as _;
            let payload: String = row.try_get("payload")?;
            Ok($crate::store::Intent {
                id: $crate::store::IntentId(row.try_get("id")?),
                tenant: row.try_get("tenant")?,
                kind: row.try_get("kind")?,
                payload: $crate::store::sql::parse_json(&payload, "intent payload")?,
                created: row.try_get("created")?,
            })
        }

        fn token_from_row(
            row: &$row,
        ) -> Result<$crate::store::IssuedToken, $crate::store::StoreError> {
            use sqlx::Row as _;
            Ok($crate::store::IssuedToken {
                tenant: row.try_get("tenant")?,
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                prefix: row.try_get("prefix")?,
                digest: row.try_get("digest")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                revoked_at: row.try_get("revoked_at")?,
                last_used_at: row.try_get("last_used_at")?,
            })
        }

        fn activity_from_row(
            row: &$row,
        ) -> Result<$crate::store::Activity, $crate::store::StoreError> {
            use sqlx::Row as _;
            let calls: String = row.try_get("calls")?;
            let status: i64 = row.try_get("status")?;
            let duration: i64 = row.try_get("duration_ms")?;
            let omitted: i64 = row.try_get("calls_omitted")?;
            Ok($crate::store::Activity {
                id: row.try_get("id")?,
                at_ms: row.try_get("at_ms")?,
                tenant: row.try_get("tenant")?,
                client_auth: row.try_get("client_auth")?,
                client: row.try_get("client")?,
                operation: row.try_get("operation")?,
                resource_type: row.try_get("resource_type")?,
                resource_id: row.try_get("resource_id")?,
                user_name: row.try_get("user_name")?,
                status: u16::try_from(status).unwrap_or(0),
                scim_type: row.try_get("scim_type")?,
                detail: row.try_get("detail")?,
                request_id: row.try_get("request_id")?,
                duration_ms: $crate::store::sql::to_u64(duration),
                calls: serde_json::from_str(&calls).map_err(|e| {
                    $crate::store::StoreError::Corrupt(format!("activity calls: {e}"))
                })?,
                calls_omitted: $crate::store::sql::to_u64(omitted),
            })
        }

        impl $store {
            /// Sets one time column of a token; false when the statement matched no row.
            async fn set_token_time(
                &self,
                sql: &'static str,
                tenant: &str,
                id: &str,
                at: i64,
            ) -> Result<bool, $crate::store::StoreError> {
                let n = sqlx::query(sql)
                    .bind(tenant)
                    .bind(id)
                    .bind(at)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                self.settle().await?;
                Ok(n > 0)
            }

            /// Runs a statement over a batch of members (`$3`, a JSON array) of group `$2` of
            /// tenant `$1`; how many rows it changed.
            async fn members_batch(
                &self,
                sql: &'static str,
                tenant: &str,
                group_id: &str,
                members: &[String],
            ) -> Result<usize, $crate::store::StoreError> {
                if members.is_empty() {
                    return Ok(0);
                }
                let changed = sqlx::query(sql)
                    .bind(tenant)
                    .bind(group_id)
                    .bind($crate::store::sql::id_array(members)?)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                self.settle().await?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }

            /// Why an update matched no row: the resource is gone, or its version moved.
            async fn version_miss(
                &self,
                tenant: &str,
                resource_type: $crate::store::ResourceType,
                scim_id: &str,
                expected: Option<i64>,
            ) -> $crate::store::StoreError {
                let actual: Result<Option<i64>, sqlx::Error> =
                    sqlx::query_scalar($crate::store::sql::RESOURCE_VERSION)
                        .bind(tenant)
                        .bind(resource_type.as_str())
                        .bind(scim_id)
                        .fetch_optional(&self.pool)
                        .await;
                match (expected, actual) {
                    (_, Err(e)) => e.into(),
                    (Some(expected), Ok(Some(actual))) => {
                        $crate::store::StoreError::VersionMismatch { expected, actual }
                    }
                    _ => $crate::store::StoreError::NotFound {
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
                resource_type: $crate::store::ResourceType,
                value: &str,
            ) -> Result<Option<$crate::store::Resource>, $crate::store::StoreError> {
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
                resource_type: $crate::store::ResourceType,
                value: &str,
            ) -> Result<Vec<$crate::store::Resource>, $crate::store::StoreError> {
                let rows = sqlx::query(sql)
                    .bind(tenant)
                    .bind(resource_type.as_str())
                    .bind(value)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(resource_from_row).collect()
            }
        }

        impl $crate::store::api::ResourceStore for $store {
            fn put_resource<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
                scim_id: &'a str,
                data: &'a $crate::store::ResourceData,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<$crate::store::Resource, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let now = $crate::store::sql::now()?;
                    let row = sqlx::query($crate::store::sql::PUT_RESOURCE)
                        .bind(tenant)
                        .bind(resource_type.as_str())
                        .bind(scim_id)
                        .bind(data.downstream_id.as_deref())
                        .bind(data.external_id.as_deref())
                        .bind(
                            data.lookup_key
                                .as_deref()
                                .map($crate::store::resource::normalize_key),
                        )
                        .bind($crate::store::sql::attributes_text(&data.attributes)?)
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await?;
                    self.settle().await?;
                    resource_from_row(&row)
                })
            }

            fn update_resource<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
                scim_id: &'a str,
                data: &'a $crate::store::ResourceData,
                expected_version: Option<i64>,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<$crate::store::Resource, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let now = $crate::store::sql::now()?;
                    let row = sqlx::query($crate::store::sql::UPDATE_RESOURCE)
                        .bind(tenant)
                        .bind(resource_type.as_str())
                        .bind(scim_id)
                        .bind(data.downstream_id.as_deref())
                        .bind(data.external_id.as_deref())
                        .bind(
                            data.lookup_key
                                .as_deref()
                                .map($crate::store::resource::normalize_key),
                        )
                        .bind($crate::store::sql::attributes_text(&data.attributes)?)
                        .bind(now)
                        .bind(expected_version)
                        .fetch_optional(&self.pool)
                        .await?;
                    match row {
                        Some(row) => {
                            self.settle().await?;
                            resource_from_row(&row)
                        }
                        None => Err(self
                            .version_miss(tenant, resource_type, scim_id, expected_version)
                            .await),
                    }
                })
            }

            fn touch_resource<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
                scim_id: &'a str,
                expected_version: Option<i64>,
            ) -> $crate::store::BoxFuture<'a, Result<i64, $crate::store::StoreError>> {
                Box::pin(async move {
                    let now = $crate::store::sql::now()?;
                    let version: Option<i64> =
                        sqlx::query_scalar($crate::store::sql::TOUCH_RESOURCE)
                            .bind(tenant)
                            .bind(resource_type.as_str())
                            .bind(scim_id)
                            .bind(now)
                            .bind(expected_version)
                            .fetch_optional(&self.pool)
                            .await?;
                    match version {
                        Some(v) => {
                            self.settle().await?;
                            Ok(v)
                        }
                        None => Err(self
                            .version_miss(tenant, resource_type, scim_id, expected_version)
                            .await),
                    }
                })
            }

            fn resource_by_scim_id<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
                scim_id: &'a str,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<Option<$crate::store::Resource>, $crate::store::StoreError>,
            > {
                Box::pin(self.resource_where(
                    $crate::store::sql::BY_SCIM_ID,
                    tenant,
                    resource_type,
                    scim_id,
                ))
            }

            fn resource_by_downstream_id<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
                downstream_id: &'a str,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<Option<$crate::store::Resource>, $crate::store::StoreError>,
            > {
                Box::pin(self.resource_where(
                    $crate::store::sql::BY_DOWNSTREAM_ID,
                    tenant,
                    resource_type,
                    downstream_id,
                ))
            }

            fn resources_by_lookup_key<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
                key: &'a str,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<Vec<$crate::store::Resource>, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let key = $crate::store::resource::normalize_key(key);
                    self.resources_where(
                        $crate::store::sql::BY_LOOKUP_KEY,
                        tenant,
                        resource_type,
                        &key,
                    )
                    .await
                })
            }

            fn resources_by_external_id<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
                external_id: &'a str,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<Vec<$crate::store::Resource>, $crate::store::StoreError>,
            > {
                Box::pin(self.resources_where(
                    $crate::store::sql::BY_EXTERNAL_ID,
                    tenant,
                    resource_type,
                    external_id,
                ))
            }

            fn delete_resource<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
                scim_id: &'a str,
            ) -> $crate::store::BoxFuture<'a, Result<bool, $crate::store::StoreError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let deleted = sqlx::query($crate::store::sql::DELETE_RESOURCE)
                        .bind(tenant)
                        .bind(resource_type.as_str())
                        .bind(scim_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if resource_type == $crate::store::ResourceType::Group {
                        sqlx::query($crate::store::sql::DELETE_GROUP_MEMBERSHIPS)
                            .bind(tenant)
                            .bind(scim_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query($crate::store::sql::DELETE_MEMBER_MEMBERSHIPS)
                        .bind(tenant)
                        .bind(scim_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    self.settle().await?;
                    Ok(deleted > 0)
                })
            }

            fn list_resources<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
                offset: u64,
                limit: u64,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<Vec<$crate::store::Resource>, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let rows = sqlx::query($crate::store::sql::LIST_RESOURCES)
                        .bind(tenant)
                        .bind(resource_type.as_str())
                        .bind($crate::store::sql::to_i64(limit))
                        .bind($crate::store::sql::to_i64(offset))
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(resource_from_row).collect()
                })
            }

            fn count_resources<'a>(
                &'a self,
                tenant: &'a str,
                resource_type: $crate::store::ResourceType,
            ) -> $crate::store::BoxFuture<'a, Result<u64, $crate::store::StoreError>> {
                Box::pin(async move {
                    let n: i64 = sqlx::query_scalar($crate::store::sql::COUNT_RESOURCES)
                        .bind(tenant)
                        .bind(resource_type.as_str())
                        .fetch_one(&self.pool)
                        .await?;
                    Ok($crate::store::sql::to_u64(n))
                })
            }
        }

        impl $crate::store::api::MembershipStore for $store {
            fn add_members<'a>(
                &'a self,
                tenant: &'a str,
                group_id: &'a str,
                members: &'a [String],
            ) -> $crate::store::BoxFuture<'a, Result<usize, $crate::store::StoreError>> {
                Box::pin(self.members_batch($add, tenant, group_id, members))
            }

            fn remove_members<'a>(
                &'a self,
                tenant: &'a str,
                group_id: &'a str,
                members: &'a [String],
            ) -> $crate::store::BoxFuture<'a, Result<usize, $crate::store::StoreError>> {
                Box::pin(self.members_batch($remove, tenant, group_id, members))
            }

            fn replace_members<'a>(
                &'a self,
                tenant: &'a str,
                group_id: &'a str,
                members: &'a [String],
            ) -> $crate::store::BoxFuture<'a, Result<usize, $crate::store::StoreError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    sqlx::query($crate::store::sql::DELETE_GROUP_MEMBERSHIPS)
                        .bind(tenant)
                        .bind(group_id)
                        .execute(&mut *tx)
                        .await?;
                    let added = if members.is_empty() {
                        0
                    } else {
                        sqlx::query($add)
                            .bind(tenant)
                            .bind(group_id)
                            .bind($crate::store::sql::id_array(members)?)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected()
                    };
                    tx.commit().await?;
                    self.settle().await?;
                    Ok(usize::try_from(added).unwrap_or(usize::MAX))
                })
            }

            fn members_page<'a>(
                &'a self,
                tenant: &'a str,
                group_id: &'a str,
                after: Option<&'a str>,
                limit: u32,
            ) -> $crate::store::BoxFuture<'a, Result<Vec<String>, $crate::store::StoreError>> {
                Box::pin(async move {
                    if limit == 0 {
                        return Ok(Vec::new());
                    }
                    let page = match after {
                        None => {
                            sqlx::query_scalar($crate::store::sql::MEMBERS_FIRST_PAGE)
                                .bind(tenant)
                                .bind(group_id)
                                .bind(i64::from(limit))
                                .fetch_all(&self.pool)
                                .await?
                        }
                        Some(after) => {
                            sqlx::query_scalar($crate::store::sql::MEMBERS_PAGE_AFTER)
                                .bind(tenant)
                                .bind(group_id)
                                .bind(after)
                                .bind(i64::from(limit))
                                .fetch_all(&self.pool)
                                .await?
                        }
                    };
                    Ok(page)
                })
            }

            fn member_count<'a>(
                &'a self,
                tenant: &'a str,
                group_id: &'a str,
            ) -> $crate::store::BoxFuture<'a, Result<u64, $crate::store::StoreError>> {
                Box::pin(async move {
                    let n: i64 = sqlx::query_scalar($crate::store::sql::MEMBER_COUNT)
                        .bind(tenant)
                        .bind(group_id)
                        .fetch_one(&self.pool)
                        .await?;
                    Ok($crate::store::sql::to_u64(n))
                })
            }

            fn groups_of<'a>(
                &'a self,
                tenant: &'a str,
                member_id: &'a str,
            ) -> $crate::store::BoxFuture<'a, Result<Vec<String>, $crate::store::StoreError>> {
                Box::pin(async move {
                    let groups = sqlx::query_scalar($crate::store::sql::GROUPS_OF)
                        .bind(tenant)
                        .bind(member_id)
                        .fetch_all(&self.pool)
                        .await?;
                    Ok(groups)
                })
            }

            fn is_member<'a>(
                &'a self,
                tenant: &'a str,
                group_id: &'a str,
                member_id: &'a str,
            ) -> $crate::store::BoxFuture<'a, Result<bool, $crate::store::StoreError>> {
                Box::pin(async move {
                    let n: i64 = sqlx::query_scalar($crate::store::sql::IS_MEMBER)
                        .bind(tenant)
                        .bind(group_id)
                        .bind(member_id)
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(n > 0)
                })
            }
        }

        impl $crate::store::api::IntentJournal for $store {
            fn begin_intent<'a>(
                &'a self,
                tenant: &'a str,
                kind: &'a str,
                payload: &'a serde_json::Value,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<$crate::store::IntentId, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let payload = serde_json::to_string(payload).map_err(|e| {
                        $crate::store::StoreError::Database(format!("cannot encode payload: {e}"))
                    })?;
                    let id: i64 = sqlx::query_scalar($crate::store::sql::BEGIN_INTENT)
                        .bind(tenant)
                        .bind(kind)
                        .bind(payload)
                        .bind($crate::store::sql::now()?)
                        .fetch_one(&self.pool)
                        .await?;
                    self.settle().await?;
                    Ok($crate::store::IntentId(id))
                })
            }

            fn complete_intent(
                &self,
                id: $crate::store::IntentId,
            ) -> $crate::store::BoxFuture<'_, Result<bool, $crate::store::StoreError>> {
                Box::pin(async move {
                    let done = sqlx::query($crate::store::sql::COMPLETE_INTENT)
                        .bind(id.0)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    self.settle().await?;
                    Ok(done > 0)
                })
            }

            fn pending_intents<'a>(
                &'a self,
                tenant: Option<&'a str>,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<Vec<$crate::store::Intent>, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let rows = match tenant {
                        None => {
                            sqlx::query($crate::store::sql::PENDING_INTENTS)
                                .fetch_all(&self.pool)
                                .await?
                        }
                        Some(tenant) => {
                            sqlx::query($crate::store::sql::PENDING_INTENTS_OF)
                                .bind(tenant)
                                .fetch_all(&self.pool)
                                .await?
                        }
                    };
                    rows.iter().map(intent_from_row).collect()
                })
            }
        }

        impl $crate::store::api::TokenStore for $store {
            fn insert_token<'a>(
                &'a self,
                token: &'a $crate::store::IssuedToken,
            ) -> $crate::store::BoxFuture<'a, Result<(), $crate::store::StoreError>> {
                Box::pin(async move {
                    sqlx::query($crate::store::sql::INSERT_TOKEN)
                        .bind(&token.tenant)
                        .bind(&token.id)
                        .bind(&token.name)
                        .bind(&token.prefix)
                        .bind(&token.digest)
                        .bind(token.created_at)
                        .bind(token.expires_at)
                        .bind(token.revoked_at)
                        .bind(token.last_used_at)
                        .execute(&self.pool)
                        .await?;
                    self.settle().await?;
                    Ok(())
                })
            }

            fn token_by_digest<'a>(
                &'a self,
                tenant: &'a str,
                digest: &'a str,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<Option<$crate::store::IssuedToken>, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let row = sqlx::query($crate::store::sql::TOKEN_BY_DIGEST)
                        .bind(tenant)
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(token_from_row).transpose()
                })
            }

            fn list_tokens<'a>(
                &'a self,
                tenant: &'a str,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<Vec<$crate::store::IssuedToken>, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let rows = sqlx::query($crate::store::sql::LIST_TOKENS)
                        .bind(tenant)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(token_from_row).collect()
                })
            }

            fn revoke_token<'a>(
                &'a self,
                tenant: &'a str,
                id: &'a str,
                at: i64,
            ) -> $crate::store::BoxFuture<'a, Result<bool, $crate::store::StoreError>> {
                Box::pin(self.set_token_time($crate::store::sql::REVOKE_TOKEN, tenant, id, at))
            }

            fn shorten_token<'a>(
                &'a self,
                tenant: &'a str,
                id: &'a str,
                expires_at: i64,
            ) -> $crate::store::BoxFuture<'a, Result<bool, $crate::store::StoreError>> {
                Box::pin(self.set_token_time(
                    $crate::store::sql::SHORTEN_TOKEN,
                    tenant,
                    id,
                    expires_at,
                ))
            }

            fn touch_token<'a>(
                &'a self,
                tenant: &'a str,
                id: &'a str,
                at: i64,
            ) -> $crate::store::BoxFuture<'a, Result<bool, $crate::store::StoreError>> {
                Box::pin(self.set_token_time($crate::store::sql::TOUCH_TOKEN, tenant, id, at))
            }
        }

        impl $crate::store::api::LeaseStore for $store {
            fn take_lease<'a>(
                &'a self,
                key: &'a str,
                holder: &'a str,
                now_ms: i64,
                expires_ms: i64,
            ) -> $crate::store::BoxFuture<'a, Result<bool, $crate::store::StoreError>> {
                Box::pin(async move {
                    let done = sqlx::query($crate::store::sql::TAKE_LEASE)
                        .bind(key)
                        .bind(holder)
                        .bind(expires_ms)
                        .bind(now_ms)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn release_lease<'a>(
                &'a self,
                key: &'a str,
                holder: &'a str,
            ) -> $crate::store::BoxFuture<'a, Result<(), $crate::store::StoreError>> {
                Box::pin(async move {
                    sqlx::query($crate::store::sql::RELEASE_LEASE)
                        .bind(key)
                        .bind(holder)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }
        }

        impl $crate::store::api::ActivityLog for $store {
            fn record_activity<'a>(
                &'a self,
                entries: &'a [$crate::store::Activity],
            ) -> $crate::store::BoxFuture<'a, Result<(), $crate::store::StoreError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    for e in entries {
                        let calls = serde_json::to_string(&e.calls).map_err(|e| {
                            $crate::store::StoreError::Database(format!("cannot encode calls: {e}"))
                        })?;
                        sqlx::query($crate::store::sql::INSERT_ACTIVITY)
                            .bind(e.at_ms)
                            .bind(&e.tenant)
                            .bind(&e.client_auth)
                            .bind(&e.client)
                            .bind(&e.operation)
                            .bind(&e.resource_type)
                            .bind(e.resource_id.as_deref())
                            .bind(e.user_name.as_deref())
                            .bind(i64::from(e.status))
                            .bind(e.scim_type.as_deref())
                            .bind(e.detail.as_deref())
                            .bind(&e.request_id)
                            .bind($crate::store::sql::to_i64(e.duration_ms))
                            .bind(calls)
                            .bind($crate::store::sql::to_i64(e.calls_omitted))
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn activity_page<'a>(
                &'a self,
                filter: &'a $crate::store::ActivityFilter,
                offset: u64,
                limit: u64,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<Vec<$crate::store::Activity>, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let outcome = filter.failed.map(|f| if f { "failed" } else { "ok" });
                    let rows = sqlx::query($crate::store::sql::ACTIVITY_PAGE)
                        .bind(filter.tenant.as_deref())
                        .bind(filter.user.as_deref())
                        .bind(filter.operation.as_deref())
                        .bind(outcome)
                        .bind(filter.since_ms)
                        .bind($crate::store::sql::to_i64(limit))
                        .bind($crate::store::sql::to_i64(offset))
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(activity_from_row).collect()
                })
            }

            fn activity_by_id(
                &self,
                id: i64,
            ) -> $crate::store::BoxFuture<
                '_,
                Result<Option<$crate::store::Activity>, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let row = sqlx::query($crate::store::sql::ACTIVITY_BY_ID)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(activity_from_row).transpose()
                })
            }

            fn activity_counts<'a>(
                &'a self,
                tenant: &'a str,
                since_ms: i64,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<$crate::store::ActivityCounts, $crate::store::StoreError>,
            > {
                Box::pin(async move {
                    let (requests, errors): (i64, i64) =
                        sqlx::query_as($crate::store::sql::ACTIVITY_COUNTS)
                            .bind(tenant)
                            .bind(since_ms)
                            .fetch_one(&self.pool)
                            .await?;
                    Ok($crate::store::ActivityCounts {
                        requests: $crate::store::sql::to_u64(requests),
                        errors: $crate::store::sql::to_u64(errors),
                    })
                })
            }

            fn prune_activity(
                &self,
                before_ms: i64,
                keep: u64,
            ) -> $crate::store::BoxFuture<'_, Result<u64, $crate::store::StoreError>> {
                Box::pin(async move {
                    let old = sqlx::query($crate::store::sql::PRUNE_ACTIVITY_AGE)
                        .bind(before_ms)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    let over = sqlx::query($crate::store::sql::PRUNE_ACTIVITY_COUNT)
                        .bind($crate::store::sql::to_i64(keep))
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    Ok(old + over)
                })
            }
        }

        impl $crate::store::api::Backend for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            fn ping(&self) -> $crate::store::BoxFuture<'_, Result<(), $crate::store::StoreError>> {
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
}

pub(super) use impl_sql_store;
