//! The schema, as migrations kept in the code so a gateway binary always carries the schema it
//! needs: each backend applies those not yet recorded in `schema_migrations`, each in its own
//! transaction, in version order. Append new migrations; never edit an applied one.
//!
//! The two lists describe the same tables. The ids results are ordered by (`scim_id`,
//! `group_id`, `member_id`) sort in byte order on both backends (PostgreSQL: `COLLATE "C"`),
//! so pages and keyset cursors mean the same thing on either.

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number, recorded in `schema_migrations` once applied.
    pub version: i64,
    /// What it does, for logs.
    pub description: &'static str,
    /// Its statements, run in order in one transaction.
    pub statements: &'static [&'static str],
}

/// The migrations in a backend's words for a text id that sorts in byte order (`sorted`), a
/// version number (`integer`) and a generated row id (`row_id`): the one place the tables
/// are described, so the two lists cannot drift apart.
macro_rules! schema {
    (sorted = $sorted:literal, integer = $integer:literal, row_id = $row_id:literal $(,)?) => {
        &[
            Migration {
                version: 1,
                description: "resources, memberships, intents",
                statements: &[
                    concat!("CREATE TABLE resources (
            tenant TEXT NOT NULL,
            resource_type TEXT NOT NULL,
            scim_id ", $sorted, " NOT NULL,
            downstream_id TEXT,
            external_id TEXT,
            lookup_key TEXT,
            attributes TEXT NOT NULL,
            version ", $integer, " NOT NULL,
            created TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            PRIMARY KEY (tenant, resource_type, scim_id)
        )"),
                    "CREATE UNIQUE INDEX resources_downstream_id
            ON resources (tenant, resource_type, downstream_id) WHERE downstream_id IS NOT NULL",
                    "CREATE INDEX resources_lookup_key ON resources (tenant, resource_type, lookup_key)",
                    "CREATE INDEX resources_external_id ON resources (tenant, resource_type, external_id)",
                    concat!("CREATE TABLE memberships (
            tenant TEXT NOT NULL,
            group_id ", $sorted, " NOT NULL,
            member_id ", $sorted, " NOT NULL,
            PRIMARY KEY (tenant, group_id, member_id)
        )"),
                    "CREATE INDEX memberships_member ON memberships (tenant, member_id)",
                    concat!("CREATE TABLE intents (
            id ", $row_id, ",
            tenant TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            created TEXT NOT NULL
        )"),
                    "CREATE INDEX intents_tenant ON intents (tenant, id)",
                ],
            },
            TOKENS,
            LOOKUP_ORDER,
            LEASES,
            PACE,
            GROUP_COMMIT,
            Migration {
                version: 7,
                description: "provisioning activity",
                statements: &[
                    concat!("CREATE TABLE activity (
            id ", $row_id, ",
            at_ms BIGINT NOT NULL,
            tenant TEXT NOT NULL,
            client_auth TEXT NOT NULL,
            client TEXT NOT NULL,
            operation TEXT NOT NULL,
            resource_type TEXT NOT NULL,
            resource_id TEXT,
            user_name TEXT,
            status BIGINT NOT NULL,
            scim_type TEXT,
            detail TEXT,
            request_id TEXT NOT NULL,
            duration_ms BIGINT NOT NULL,
            calls TEXT NOT NULL,
            calls_omitted BIGINT NOT NULL
        )"),
                    ACTIVITY_TENANT_INDEX,
                    ACTIVITY_TIME_INDEX,
                ],
            },
        ]
    };
}

/// The SQLite schema.
pub const SQLITE: &[Migration] = schema!(
    sorted = "TEXT",
    integer = "INTEGER",
    row_id = "INTEGER PRIMARY KEY AUTOINCREMENT",
);

/// The PostgreSQL schema.
pub const POSTGRES: &[Migration] = schema!(
    sorted = r#"TEXT COLLATE "C""#,
    integer = "BIGINT",
    row_id = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
);

/// A tenant's activity, newest first (the Activity page, the Overview's counts).
const ACTIVITY_TENANT_INDEX: &str = "CREATE INDEX activity_tenant ON activity (tenant, at_ms)";
/// Retention by age.
const ACTIVITY_TIME_INDEX: &str = "CREATE INDEX activity_time ON activity (at_ms)";

/// Issued tokens: the same statements on both backends (SQLite reads BIGINT as INTEGER).
const TOKENS: Migration = Migration {
    version: 2,
    description: "issued tokens",
    statements: &[
        "CREATE TABLE tokens (
            tenant TEXT NOT NULL,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL,
            digest TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT,
            revoked_at BIGINT,
            last_used_at BIGINT,
            PRIMARY KEY (tenant, id)
        )",
        "CREATE UNIQUE INDEX tokens_digest ON tokens (tenant, digest)",
    ],
};

/// Lookups by userName or externalId answer in SCIM id order. Without the id in their
/// indexes, SQLite's planner walked the primary key to get that order, scanning every user
/// of the tenant: each lookup grew with the user count (44 µs at 300 users, 490 µs at 3,300).
const LOOKUP_ORDER: Migration = Migration {
    version: 3,
    description: "lookup indexes in SCIM id order",
    statements: &[
        "DROP INDEX resources_lookup_key",
        "CREATE INDEX resources_lookup_key ON resources (tenant, resource_type, lookup_key, scim_id)",
        "DROP INDEX resources_external_id",
        "CREATE INDEX resources_external_id \
            ON resources (tenant, resource_type, external_id, scim_id)",
    ],
};

/// Leases that make writers of one resource in several instances take turns (same on both
/// backends; expiry in Unix milliseconds).
const LEASES: Migration = Migration {
    version: 4,
    description: "write leases",
    statements: &["CREATE TABLE leases (
            key TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at BIGINT NOT NULL
        )"],
};

/// The pace of the calls to a downstream that instances sharing a store keep together: one
/// row per pace (its theoretical arrival time and a pause the API asked for) and its
/// concurrency slots, leased with an expiry. Times in microseconds of the database's clock. Only
/// PostgreSQL uses them (a SQLite store serves one instance, which paces in memory); SQLite has
/// them too so that both backends keep one schema.
const PACE: Migration = Migration {
    version: 5,
    description: "shared downstream pace",
    statements: &[
        "CREATE TABLE pace (
            key TEXT PRIMARY KEY,
            tat BIGINT NOT NULL,
            paused_until BIGINT NOT NULL
        )",
        "CREATE TABLE pace_slots (
            key TEXT NOT NULL,
            slot BIGINT NOT NULL,
            holder TEXT,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (key, slot)
        )",
    ],
};

/// The row whose write once made a SQLite store fsync its log for all the writes that waited
/// for it; the writing thread (`store/sqlite/writer.rs`) now fsyncs the log file itself.
/// Kept: a migration, once released, is history that every database has applied.
const GROUP_COMMIT: Migration = Migration {
    version: 6,
    description: "group commit mark",
    statements: &[
        "CREATE TABLE group_commit (id INTEGER PRIMARY KEY, mark BIGINT NOT NULL)",
        "INSERT INTO group_commit (id, mark) VALUES (1, 0)",
    ],
};

/// The table recording applied versions (same on both backends).
pub const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    applied TEXT NOT NULL
)";

/// Logs a migration `backend` just applied.
pub(super) fn applied(backend: &'static str, m: &Migration) {
    tracing::info!(
        backend,
        version = m.version,
        description = m.description,
        "applied schema migration"
    );
}

/// Warns when the database (whose latest recorded version is `latest`) was migrated by a
/// newer gateway than this one, which knows `list`.
pub(super) fn warn_if_newer(backend: &'static str, latest: Option<i64>, list: &[Migration]) {
    let known = list.iter().map(|m| m.version).max().unwrap_or(0);
    if latest.is_some_and(|v| v > known) {
        tracing::warn!(
            backend,
            database = latest,
            known,
            "the database schema is newer than this gateway"
        );
    }
}
