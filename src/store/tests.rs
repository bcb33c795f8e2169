//! One behaviour suite run against every backend: a SQLite file, `sqlite::memory:`,
//! PostgreSQL (a fresh schema per test, dropped afterwards), and the cache wrapper over both
//! durable backends; then the backend-specific checks (migrations, reopen, concurrent opens).
//!
//! PostgreSQL is taken from `STORE_TEST_POSTGRES_URL`, else the local trust-auth server.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

use super::*;

const USER: ResourceType = ResourceType::User;
const GROUP: ResourceType = ResourceType::Group;

fn pg_base() -> String {
    std::env::var("STORE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The PostgreSQL URL whose connections use `schema`.
fn pg_url(schema: &str) -> String {
    let base = pg_base();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Runs one statement on a connection of its own to the test database (creating and dropping
/// a test's schema).
async fn as_admin(sql: String) {
    let mut admin = PgConnection::connect(&pg_base()).await.unwrap();
    let statement = sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
    statement.execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
}

/// What a test needs cleaned up after it.
pub(super) enum Scratch {
    Dir(PathBuf),
    Schema(String),
    Nothing,
}

impl Scratch {
    fn dir() -> (Self, PathBuf) {
        let dir = std::env::temp_dir().join(format!("store-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        (Scratch::Dir(dir.clone()), dir)
    }

    pub(super) async fn schema() -> (Self, String) {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        as_admin(format!("CREATE SCHEMA {schema}")).await;
        (Scratch::Schema(schema.clone()), pg_url(&schema))
    }

    pub(super) async fn clean(self) {
        match self {
            Scratch::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::Schema(schema) => {
                as_admin(format!("DROP SCHEMA {schema} CASCADE")).await;
            }
            Scratch::Nothing => {}
        }
    }
}

#[derive(Clone, Copy)]
enum Backend {
    SqliteFile,
    SqliteMemory,
    Postgres,
    CachedSqlite,
    CachedPostgres,
}

async fn fresh(backend: Backend) -> (Store, Scratch) {
    match backend {
        Backend::SqliteFile => {
            let (scratch, dir) = Scratch::dir();
            let url = format!("sqlite://{}", dir.join("gateway.db").display());
            (open(&url).await.unwrap(), scratch)
        }
        Backend::SqliteMemory => (open("sqlite::memory:").await.unwrap(), Scratch::Nothing),
        Backend::Postgres => {
            let (scratch, url) = Scratch::schema().await;
            (open(&url).await.unwrap(), scratch)
        }
        Backend::CachedSqlite | Backend::CachedPostgres => {
            let inner = if matches!(backend, Backend::CachedSqlite) {
                Backend::SqliteFile
            } else {
                Backend::Postgres
            };
            let (store, scratch) = Box::pin(fresh(inner)).await;
            (store.cached(1 << 20, Duration::from_secs(60)), scratch)
        }
    }
}

/// Runs one behaviour test on a fresh store, cleaning up even when it panics.
async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (store, scratch) = fresh(backend).await;
    let outcome = tokio::spawn(test(store.clone())).await;
    store.close().await;
    scratch.clean().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn data(downstream: Option<&str>, external: Option<&str>, key: Option<&str>) -> ResourceData {
    ResourceData {
        downstream_id: downstream.map(str::to_owned),
        external_id: external.map(str::to_owned),
        lookup_key: key.map(str::to_owned),
        attributes: json!({}),
    }
}

/// Stores a resource: the tests' setup, which must succeed.
async fn put(s: &Store, t: &str, kind: ResourceType, id: &str, data: &ResourceData) -> Resource {
    s.resources.put_resource(t, kind, id, data).await.unwrap()
}

/// The resource of tenant `t` with this SCIM id.
async fn by_id(s: &Store, t: &str, kind: ResourceType, id: &str) -> Option<Resource> {
    s.resources.resource_by_scim_id(t, kind, id).await.unwrap()
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:02}")).collect()
}

// ---- the behaviour suite ----

async fn upsert_and_lookup_by_every_key(s: Store) {
    let s = s.resources;
    let t = "acme";
    let mut d = data(Some("42"), Some("ext-1"), Some("Alice@Example.COM"));
    d.attributes = json!({"zeta": 1, "alpha": {"b": 2, "a": 1}});
    let r = s.put_resource(t, USER, "u1", &d).await.unwrap();
    assert_eq!(r.version, 1);
    assert_eq!(r.etag(), "W/\"1\"");
    assert_eq!(r.lookup_key.as_deref(), Some("alice@example.com"));
    assert_eq!(r.created, r.last_modified);
    assert!(
        time::OffsetDateTime::parse(&r.created, &time::format_description::well_known::Rfc3339)
            .is_ok()
    );
    // Attribute order survives the round trip.
    assert_eq!(
        serde_json::to_string(&r.attributes).unwrap(),
        r#"{"zeta":1,"alpha":{"b":2,"a":1}}"#
    );

    assert_eq!(
        s.resource_by_scim_id(t, USER, "u1").await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(
        s.resource_by_downstream_id(t, USER, "42").await.unwrap(),
        Some(r.clone())
    );
    for key in [
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
        "Alice@Example.Com",
    ] {
        assert_eq!(
            s.resources_by_lookup_key(t, USER, key).await.unwrap(),
            vec![r.clone()]
        );
    }
    assert_eq!(
        s.resources_by_external_id(t, USER, "ext-1").await.unwrap(),
        vec![r.clone()]
    );
    assert!(
        s.resources_by_external_id(t, USER, "EXT-1")
            .await
            .unwrap()
            .is_empty()
    );
    // Types are separate namespaces.
    assert_eq!(s.resource_by_scim_id(t, GROUP, "u1").await.unwrap(), None);
    assert_eq!(
        s.resource_by_downstream_id(t, GROUP, "42").await.unwrap(),
        None
    );
    // Misses.
    assert_eq!(s.resource_by_scim_id(t, USER, "nope").await.unwrap(), None);
    assert_eq!(
        s.resource_by_downstream_id(t, USER, "nope").await.unwrap(),
        None
    );
    assert!(
        s.resources_by_lookup_key(t, USER, "nope")
            .await
            .unwrap()
            .is_empty()
    );

    // Upsert: version bumps, created stays, every key follows.
    let d2 = data(Some("43"), None, Some("Alicia"));
    let r2 = s.put_resource(t, USER, "u1", &d2).await.unwrap();
    assert_eq!(r2.version, 2);
    assert_eq!(r2.created, r.created);
    assert_eq!(r2.attributes, json!({}));
    assert!(
        s.resources_by_lookup_key(t, USER, "alice@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.resources_by_lookup_key(t, USER, "ALICIA").await.unwrap(),
        vec![r2.clone()]
    );
    assert_eq!(
        s.resource_by_downstream_id(t, USER, "42").await.unwrap(),
        None
    );
    assert_eq!(
        s.resource_by_downstream_id(t, USER, "43").await.unwrap(),
        Some(r2.clone())
    );
    assert!(
        s.resources_by_external_id(t, USER, "ext-1")
            .await
            .unwrap()
            .is_empty()
    );

    // A lookup key shared by two resources returns both, ordered by id.
    let r3 = s
        .put_resource(t, USER, "u0", &data(None, None, Some("alicia")))
        .await
        .unwrap();
    let both = s.resources_by_lookup_key(t, USER, "Alicia").await.unwrap();
    assert_eq!(both, vec![r3, r2]);
}

async fn downstream_id_is_unique_per_type(s: Store) {
    let s = s.resources;
    let t = "acme";
    s.put_resource(t, USER, "u1", &data(Some("d1"), None, None))
        .await
        .unwrap();
    let err = s
        .put_resource(t, USER, "u2", &data(Some("d1"), None, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(!err.is_retryable());
    // The refused write changed nothing.
    assert_eq!(s.resource_by_scim_id(t, USER, "u2").await.unwrap(), None);
    // Virtual resources (no downstream id) do not collide; other types and tenants do not.
    s.put_resource(t, USER, "v1", &data(None, None, None))
        .await
        .unwrap();
    s.put_resource(t, USER, "v2", &data(None, None, None))
        .await
        .unwrap();
    s.put_resource(t, GROUP, "g1", &data(Some("d1"), None, None))
        .await
        .unwrap();
    s.put_resource("other", USER, "u2", &data(Some("d1"), None, None))
        .await
        .unwrap();
    // update_resource enforces it too.
    let err = s
        .update_resource(t, USER, "v1", &data(Some("d1"), None, None), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

async fn tenants_are_isolated(s: Store) {
    let (a, b) = ("tenant-a", "tenant-b");
    let ra = put(
        &s,
        a,
        USER,
        "u1",
        &data(Some("d1"), Some("x1"), Some("Bob")),
    )
    .await;
    put(&s, a, GROUP, "g1", &data(None, None, Some("Admins"))).await;
    s.members
        .add_members(a, "g1", &["u1".to_owned()])
        .await
        .unwrap();
    s.intents
        .begin_intent(a, "create-user", &json!({"id": "u1"}))
        .await
        .unwrap();

    assert_eq!(by_id(&s, b, USER, "u1").await, None);
    assert_eq!(
        s.resources
            .resource_by_downstream_id(b, USER, "d1")
            .await
            .unwrap(),
        None
    );
    assert!(
        s.resources
            .resources_by_lookup_key(b, USER, "bob")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.resources
            .resources_by_external_id(b, USER, "x1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.resources
            .list_resources(b, USER, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.resources.count_resources(b, USER).await.unwrap(), 0);
    assert_eq!(s.members.member_count(b, "g1").await.unwrap(), 0);
    assert!(!s.members.is_member(b, "g1", "u1").await.unwrap());
    assert!(s.members.groups_of(b, "u1").await.unwrap().is_empty());
    assert!(
        s.members
            .members_page(b, "g1", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.intents.pending_intents(Some(b)).await.unwrap().is_empty());
    let err = s
        .resources
        .update_resource(b, USER, "u1", &data(None, None, None), Some(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    // B's writes with the same ids leave A untouched.
    put(&s, b, USER, "u1", &data(Some("d1"), None, Some("Carol"))).await;
    s.members.replace_members(b, "g1", &[]).await.unwrap();
    s.members
        .remove_members(b, "g1", &["u1".to_owned()])
        .await
        .unwrap();
    assert!(s.resources.delete_resource(b, USER, "u1").await.unwrap());
    assert!(!s.resources.delete_resource(b, GROUP, "g1").await.unwrap());

    assert_eq!(by_id(&s, a, USER, "u1").await, Some(ra));
    assert!(s.members.is_member(a, "g1", "u1").await.unwrap());
    assert_eq!(s.resources.count_resources(a, USER).await.unwrap(), 1);
    assert_eq!(s.intents.pending_intents(Some(a)).await.unwrap().len(), 1);
}

async fn versions_guard_updates(s: Store) {
    let s = s.resources;
    let t = "acme";
    let r = s
        .put_resource(t, USER, "u1", &data(None, None, Some("bob")))
        .await
        .unwrap();
    assert_eq!(r.version, 1);

    let mut d = data(Some("d9"), Some("e9"), Some("Robert"));
    d.attributes = json!({"nickName": "Bobby"});
    let written = s.update_resource(t, USER, "u1", &d, Some(1)).await.unwrap();
    assert_eq!(written.version, 2);
    // The row returned is the row stored: no read back needed.
    let got = s.resource_by_scim_id(t, USER, "u1").await.unwrap().unwrap();
    assert_eq!(got, written);
    assert_eq!(got.downstream_id.as_deref(), Some("d9"));
    assert_eq!(got.lookup_key.as_deref(), Some("robert"));
    assert_eq!(got.attributes, json!({"nickName": "Bobby"}));
    assert_eq!(got.created, r.created);

    // A stale version is refused and changes nothing.
    let err = s
        .update_resource(t, USER, "u1", &data(None, None, None), Some(1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::VersionMismatch {
            expected: 1,
            actual: 2
        }
    );
    assert!(!err.is_retryable());
    assert_eq!(
        s.resource_by_scim_id(t, USER, "u1").await.unwrap().unwrap(),
        got
    );

    // No expected version: unconditional.
    let written = s.update_resource(t, USER, "u1", &d, None).await;
    assert_eq!(written.unwrap().version, 3);
    // Touch bumps the version only.
    assert_eq!(s.touch_resource(t, USER, "u1", Some(3)).await.unwrap(), 4);
    assert_eq!(s.touch_resource(t, USER, "u1", None).await.unwrap(), 5);
    let err = s.touch_resource(t, USER, "u1", Some(3)).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::VersionMismatch {
            expected: 3,
            actual: 5
        }
    );
    let touched = s.resource_by_scim_id(t, USER, "u1").await.unwrap().unwrap();
    assert_eq!(touched.version, 5);
    assert_eq!(touched.etag(), "W/\"5\"");
    assert_eq!(touched.attributes, got.attributes);
    // put_resource continues the sequence.
    assert_eq!(s.put_resource(t, USER, "u1", &d).await.unwrap().version, 6);

    // Missing resources.
    for expected in [None, Some(1)] {
        let err = s
            .update_resource(t, USER, "nope", &d, expected)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
        let err = s
            .touch_resource(t, USER, "nope", expected)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }
}

async fn list_and_count(s: Store) {
    let s = s.resources;
    let t = "acme";
    for id in ids("u", 12).iter().rev() {
        s.put_resource(t, USER, id, &data(None, None, Some(id)))
            .await
            .unwrap();
    }
    s.put_resource(t, GROUP, "g1", &data(None, None, None))
        .await
        .unwrap();
    assert_eq!(s.count_resources(t, USER).await.unwrap(), 12);
    assert_eq!(s.count_resources(t, GROUP).await.unwrap(), 1);
    let mut seen = Vec::new();
    for offset in (0..12).step_by(5) {
        let page = s.list_resources(t, USER, offset, 5).await.unwrap();
        seen.extend(page.into_iter().map(|r| r.scim_id));
    }
    assert_eq!(seen, ids("u", 12));
    assert!(s.list_resources(t, USER, 12, 5).await.unwrap().is_empty());
    assert!(s.list_resources(t, USER, 0, 0).await.unwrap().is_empty());
    assert_eq!(
        s.list_resources(t, USER, 0, u64::MAX).await.unwrap().len(),
        12
    );
    assert!(s.delete_resource(t, USER, "u03").await.unwrap());
    assert!(!s.delete_resource(t, USER, "u03").await.unwrap());
    assert_eq!(s.count_resources(t, USER).await.unwrap(), 11);
}

async fn memberships(s: Store) {
    let s = s.members;
    let t = "acme";
    let m = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(s.add_members(t, "g1", &m(&["u1", "u2"])).await.unwrap(), 2);
    // Idempotent: existing members are skipped, duplicates in one call count once.
    assert_eq!(
        s.add_members(t, "g1", &m(&["u2", "u3", "u3"]))
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.add_members(t, "g1", &m(&["u1"])).await.unwrap(), 0);
    assert_eq!(s.add_members(t, "g1", &[]).await.unwrap(), 0);
    assert_eq!(s.member_count(t, "g1").await.unwrap(), 3);
    assert!(s.is_member(t, "g1", "u3").await.unwrap());
    assert!(!s.is_member(t, "g1", "u9").await.unwrap());
    assert!(!s.is_member(t, "g2", "u1").await.unwrap());

    // Removing non-members succeeds.
    assert_eq!(s.remove_members(t, "g1", &m(&["u9"])).await.unwrap(), 0);
    assert_eq!(
        s.remove_members(t, "g1", &m(&["u1", "u9", "u1"]))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.remove_members(t, "nogroup", &m(&["u1"])).await.unwrap(),
        0
    );
    assert_eq!(s.remove_members(t, "g1", &[]).await.unwrap(), 0);
    assert_eq!(
        s.members_page(t, "g1", None, 10).await.unwrap(),
        m(&["u2", "u3"])
    );

    s.add_members(t, "g2", &m(&["u2"])).await.unwrap();
    assert_eq!(s.groups_of(t, "u2").await.unwrap(), m(&["g1", "g2"]));
    assert_eq!(s.groups_of(t, "u3").await.unwrap(), m(&["g1"]));
    assert!(s.groups_of(t, "u1").await.unwrap().is_empty());

    // Replace: the whole list, at once.
    assert_eq!(
        s.replace_members(t, "g1", &m(&["u7", "u8", "u7"]))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.members_page(t, "g1", None, 10).await.unwrap(),
        m(&["u7", "u8"])
    );
    assert_eq!(s.groups_of(t, "u2").await.unwrap(), m(&["g2"]));
    assert_eq!(s.replace_members(t, "g1", &[]).await.unwrap(), 0);
    assert_eq!(s.member_count(t, "g1").await.unwrap(), 0);
    assert_eq!(s.member_count(t, "g2").await.unwrap(), 1);
}

/// Adds each batch to group `g` of tenant `t` in a task of its own, all at once; how many
/// members the batches added together.
async fn add_concurrently(
    s: &Arc<dyn MembershipStore>,
    t: &'static str,
    g: &'static str,
    batches: Vec<Vec<String>>,
) -> usize {
    let mut tasks = Vec::new();
    for batch in batches {
        let s = s.clone();
        tasks.push(tokio::spawn(
            async move { s.add_members(t, g, &batch).await },
        ));
    }
    let mut added = 0;
    for task in tasks {
        added += task.await.unwrap().unwrap();
    }
    added
}

async fn concurrent_add_members_lose_nothing(s: Store) {
    let s = s.members;
    let t = "acme";
    let members = ids("m", 50);
    // 50 tasks, one distinct member each.
    let batches = members.iter().map(|m| vec![m.clone()]).collect();
    assert_eq!(add_concurrently(&s, t, "g1", batches).await, 50);
    assert_eq!(s.member_count(t, "g1").await.unwrap(), 50);

    // 50 tasks with overlapping batches: each member is added exactly once overall.
    let batches = (0..50)
        .map(|i| {
            vec![
                members[i].clone(),
                members[(i + 1) % 50].clone(),
                members[(i + 17) % 50].clone(),
                members[(i * 7) % 50].clone(),
            ]
        })
        .collect();
    assert_eq!(add_concurrently(&s, t, "g2", batches).await, 50);
    assert_eq!(s.member_count(t, "g2").await.unwrap(), 50);
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s.members_page(t, "g2", after.as_deref(), 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.clone());
        all.extend(page);
    }
    assert_eq!(all, members);
}

async fn members_page_is_keyset(s: Store) {
    let s = s.members;
    let t = "acme";
    let mut members = ids("m", 25);
    members.extend(["B".to_owned(), "a".to_owned(), "Z-1".to_owned()]);
    // Add in shuffled batches.
    for chunk in members.iter().rev().cloned().collect::<Vec<_>>().chunks(4) {
        s.add_members(t, "g1", chunk).await.unwrap();
    }
    let mut expected = members.clone();
    expected.sort(); // byte order on both backends: "B" < "Z-1" < "a" < "m00"
    assert_eq!(&expected[..3], &["B", "Z-1", "a"]);

    let first = s.members_page(t, "g1", None, 10).await.unwrap();
    assert_eq!(first, expected[..10]);
    let second = s.members_page(t, "g1", Some(&first[9]), 10).await.unwrap();
    assert_eq!(second, expected[10..20]);
    let third = s.members_page(t, "g1", Some(&second[9]), 10).await.unwrap();
    assert_eq!(third, expected[20..]);
    assert!(
        s.members_page(t, "g1", Some(&third[7]), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A removed cursor still works: paging resumes after it.
    s.remove_members(t, "g1", &[expected[9].clone()])
        .await
        .unwrap();
    assert_eq!(
        s.members_page(t, "g1", Some(&expected[9]), 3)
            .await
            .unwrap(),
        expected[10..13]
    );
    assert!(s.members_page(t, "g1", None, 0).await.unwrap().is_empty());
    assert!(
        s.members_page(t, "empty", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn deletes_cascade_to_memberships(s: Store) {
    let t = "acme";
    let m = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    put(&s, t, GROUP, "g1", &data(None, None, Some("Admins"))).await;
    put(&s, t, GROUP, "g2", &data(None, None, Some("Staff"))).await;
    put(&s, t, USER, "u1", &data(Some("1"), None, Some("ann"))).await;
    put(&s, t, USER, "u2", &data(Some("2"), None, Some("ben"))).await;
    s.members
        .add_members(t, "g1", &m(&["u1", "u2"]))
        .await
        .unwrap();
    s.members
        .add_members(t, "g2", &m(&["u1", "g1"]))
        .await
        .unwrap(); // g1 nested in g2
    s.members
        .add_members("other", "g1", &m(&["u1"]))
        .await
        .unwrap();

    assert!(s.resources.delete_resource(t, GROUP, "g1").await.unwrap());
    assert_eq!(s.members.member_count(t, "g1").await.unwrap(), 0);
    assert_eq!(
        s.members.groups_of(t, "u2").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(s.members.groups_of(t, "u1").await.unwrap(), m(&["g2"]));
    assert!(!s.members.is_member(t, "g2", "g1").await.unwrap());
    assert_eq!(s.members.member_count("other", "g1").await.unwrap(), 1);

    assert!(s.resources.delete_resource(t, USER, "u1").await.unwrap());
    assert!(s.members.groups_of(t, "u1").await.unwrap().is_empty());
    assert_eq!(s.members.member_count(t, "g2").await.unwrap(), 0);
    assert_eq!(by_id(&s, t, USER, "u2").await.unwrap().version, 1);
    assert!(s.members.is_member("other", "g1", "u1").await.unwrap());
}

async fn intents_journal(s: Store) {
    let s = s.intents;
    let p1 = json!({"op": "create", "user": {"userName": "ann", "z": 1, "a": 2}});
    let i1 = s.begin_intent("a", "create-user", &p1).await.unwrap();
    let i2 = s
        .begin_intent("b", "delete-user", &json!({"id": "u9"}))
        .await
        .unwrap();
    let i3 = s
        .begin_intent("a", "patch-group", &json!([1, 2]))
        .await
        .unwrap();
    assert!(i1 < i2 && i2 < i3);

    let all = s.pending_intents(None).await.unwrap();
    assert_eq!(
        all.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![i1, i2, i3]
    );
    let of_a = s.pending_intents(Some("a")).await.unwrap();
    assert_eq!(of_a.len(), 2);
    assert_eq!(of_a[0].id, i1);
    assert_eq!(of_a[0].tenant, "a");
    assert_eq!(of_a[0].kind, "create-user");
    assert_eq!(
        serde_json::to_string(&of_a[0].payload).unwrap(),
        p1.to_string()
    );
    assert!(!of_a[0].created.is_empty());

    assert!(s.complete_intent(i1).await.unwrap());
    assert!(!s.complete_intent(i1).await.unwrap());
    assert!(!s.complete_intent(IntentId(i64::MAX)).await.unwrap());
    let of_a = s.pending_intents(Some("a")).await.unwrap();
    assert_eq!(of_a.iter().map(|i| i.id).collect::<Vec<_>>(), vec![i3]);
    assert!(s.complete_intent(i2).await.unwrap());
    assert!(s.complete_intent(i3).await.unwrap());
    assert!(s.pending_intents(None).await.unwrap().is_empty());
    // Ids are not reused after completion.
    let i4 = s.begin_intent("a", "x", &json!(null)).await.unwrap();
    assert!(i4 > i3);
}

async fn issued_tokens(s: Store) {
    let s = s.tokens;
    let token = |tenant: &str, id: &str, digest: &str| IssuedToken {
        id: id.into(),
        tenant: tenant.into(),
        name: "entra".into(),
        prefix: "sgw_0123abcd".into(),
        digest: digest.into(),
        created_at: 1_000,
        expires_at: Some(5_000),
        revoked_at: None,
        last_used_at: None,
    };
    let a = token("a", "t1", "d1");
    s.insert_token(&a).await.unwrap();
    s.insert_token(&token("a", "t2", "d2")).await.unwrap();
    s.insert_token(&token("b", "t3", "d1")).await.unwrap();
    assert!(matches!(
        s.insert_token(&token("a", "t4", "d1")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.token_by_digest("a", "d1").await.unwrap(), Some(a.clone()));
    // Another tenant's digest is not found, even when it is the same token.
    assert_eq!(s.token_by_digest("b", "d2").await.unwrap(), None);
    assert_eq!(
        s.token_by_digest("b", "d1").await.unwrap().unwrap().id,
        "t3"
    );

    assert!(s.touch_token("a", "t1", 1_500).await.unwrap());
    assert!(s.shorten_token("a", "t1", 2_000).await.unwrap());
    assert!(
        !s.shorten_token("a", "t1", 3_000).await.unwrap(),
        "never lengthened"
    );
    assert!(s.revoke_token("a", "t2", 1_600).await.unwrap());
    assert!(
        !s.revoke_token("a", "t2", 1_700).await.unwrap(),
        "revoked once"
    );
    assert!(
        !s.revoke_token("b", "t1", 1_700).await.unwrap(),
        "not b's token"
    );

    let listed = s.list_tokens("a").await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].last_used_at, Some(1_500));
    assert_eq!(listed[0].expires_at, Some(2_000));
    assert_eq!(listed[1].revoked_at, Some(1_600));
    assert!(listed[0].is_valid_at(1_999) && !listed[0].is_valid_at(2_000));
    assert!(!listed[1].is_valid_at(1_601));
    assert_eq!(s.list_tokens("b").await.unwrap().len(), 1);
}

fn activity(tenant: &str, at_ms: i64, user: &str, operation: &str, status: u16) -> Activity {
    Activity {
        id: 0,
        at_ms,
        tenant: tenant.to_owned(),
        client_auth: "token".to_owned(),
        client: "entra".to_owned(),
        operation: operation.to_owned(),
        resource_type: "Users".to_owned(),
        resource_id: Some(format!("id-{user}")),
        user_name: Some(user.to_owned()),
        status,
        scim_type: (status == 409).then(|| "uniqueness".to_owned()),
        detail: (status >= 400).then(|| "refused".to_owned()),
        request_id: format!("req-{at_ms}"),
        duration_ms: 12,
        calls: vec![crate::telemetry::trail::Call {
            method: "POST".to_owned(),
            path: "/api/users".to_owned(),
            status: Some(201),
            ms: 9,
        }],
        calls_omitted: 0,
    }
}

async fn activity_log(s: Store) {
    let s = s.activity;
    let entries = [
        activity("acme", 1_000, "Ada@Example.com", "create", 201),
        activity("acme", 2_000, "bob@example.com", "create", 409),
        activity("acme", 3_000, "ada@example.com", "patch", 200),
        activity("other", 4_000, "ada@example.com", "delete", 401),
    ];
    s.record_activity(&entries).await.unwrap();
    s.record_activity(&[]).await.unwrap();

    let all = s
        .activity_page(&ActivityFilter::default(), 0, 10)
        .await
        .unwrap();
    let times: Vec<i64> = all.iter().map(|a| a.at_ms).collect();
    assert_eq!(times, [4_000, 3_000, 2_000, 1_000], "newest first");
    let stored = s.activity_by_id(all[3].id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        Activity {
            id: all[3].id,
            ..entries[0].clone()
        }
    );
    assert_eq!(s.activity_by_id(-1).await.unwrap(), None);

    let page = |filter: ActivityFilter, offset, limit| {
        let s = s.clone();
        async move {
            let found = s.activity_page(&filter, offset, limit).await.unwrap();
            found.iter().map(|a| a.at_ms).collect::<Vec<_>>()
        }
    };
    let acme = |f: ActivityFilter| ActivityFilter {
        tenant: Some("acme".to_owned()),
        ..f
    };
    assert_eq!(page(acme(ActivityFilter::default()), 1, 1).await, [2_000]);
    let user = acme(ActivityFilter {
        user: Some("ADA@example.COM".to_owned()),
        ..Default::default()
    });
    assert_eq!(
        page(user, 0, 10).await,
        [3_000, 1_000],
        "userName ignoring case"
    );
    let by_id = ActivityFilter {
        user: Some("id-bob@example.com".to_owned()),
        ..Default::default()
    };
    assert_eq!(page(by_id, 0, 10).await, [2_000], "or the resource id");
    let failed = ActivityFilter {
        failed: Some(true),
        ..Default::default()
    };
    assert_eq!(page(failed, 0, 10).await, [4_000, 2_000]);
    let ok_creates = ActivityFilter {
        failed: Some(false),
        operation: Some("create".to_owned()),
        since_ms: Some(500),
        ..Default::default()
    };
    assert_eq!(page(ok_creates, 0, 10).await, [1_000]);

    assert_eq!(
        s.activity_counts("acme", 2_000).await.unwrap(),
        ActivityCounts {
            requests: 2,
            errors: 1
        }
    );
    assert_eq!(
        s.activity_counts("nobody", 0).await.unwrap(),
        ActivityCounts::default()
    );

    // Older than 1500 goes, then all but the newest two.
    assert_eq!(s.prune_activity(1_500, 2).await.unwrap(), 2);
    assert_eq!(page(ActivityFilter::default(), 0, 10).await, [4_000, 3_000]);
    assert_eq!(s.prune_activity(0, 10).await.unwrap(), 0);
}

async fn answers_a_ping(s: Store) {
    s.ping().await.unwrap();
}

macro_rules! suite {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::*;

            suite!(@tests $backend;
                upsert_and_lookup_by_every_key,
                downstream_id_is_unique_per_type,
                tenants_are_isolated,
                versions_guard_updates,
                list_and_count,
                memberships,
                concurrent_add_members_lose_nothing,
                members_page_is_keyset,
                deletes_cascade_to_memberships,
                intents_journal,
                issued_tokens,
                activity_log,
                answers_a_ping,
            );
        }
    };
    (@tests $backend:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                run($backend, super::$test).await;
            }
        )*
    };
}

suite!(sqlite_file, Backend::SqliteFile);
suite!(sqlite_memory, Backend::SqliteMemory);
suite!(postgres, Backend::Postgres);
suite!(cached_sqlite, Backend::CachedSqlite);
suite!(cached_postgres, Backend::CachedPostgres);

// ---- the cache wrapper ----

/// The version of a user, if there is one.
async fn version_of(s: &dyn ResourceStore, t: &str, id: &str) -> Option<i64> {
    let row = s.resource_by_scim_id(t, USER, id).await.unwrap();
    row.map(|r| r.version)
}

/// The users with a lookup key.
async fn keyed(s: &dyn ResourceStore, t: &str, key: &str) -> Vec<Resource> {
    s.resources_by_lookup_key(t, USER, key).await.unwrap()
}

/// Shows the cache is really used (a write behind its back is not seen) and that every write
/// through it, or through a clone of it, is.
async fn cache_invalidation(inner: Store) {
    let t = "acme";
    let store = inner.clone().cached(1 << 20, Duration::from_secs(60));
    let (cached, twin) = (store.resources.as_ref(), store.clone().resources);
    let behind = inner.resources.as_ref();
    let bob = data(Some("1"), None, Some("Bob"));
    cached.put_resource(t, USER, "u1", &bob).await.unwrap();
    assert_eq!(version_of(cached, t, "u1").await, Some(1));
    assert_eq!(keyed(cached, t, "bob").await.len(), 1);

    // Behind the cache's back: still the cached copy.
    behind.touch_resource(t, USER, "u1", None).await.unwrap();
    assert_eq!(version_of(cached, t, "u1").await, Some(1));

    // Through the wrapper: seen at once, by the clone too.
    assert_eq!(cached.touch_resource(t, USER, "u1", None).await, Ok(3));
    assert_eq!(version_of(twin.as_ref(), t, "u1").await, Some(3));

    // Renaming through the clone: the old key no longer finds it, the new one does.
    let robert = data(Some("1"), None, Some("Robert"));
    let renamed = twin.update_resource(t, USER, "u1", &robert, Some(3)).await;
    assert_eq!(renamed.unwrap().version, 4);
    assert!(keyed(cached, t, "BOB").await.is_empty());
    let found = keyed(cached, t, "robert").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].version, 4);

    // A new resource taking a cached key shows up.
    keyed(cached, t, "carol").await;
    let carol = data(None, None, Some("Carol"));
    cached.put_resource(t, USER, "u2", &carol).await.unwrap();
    assert_eq!(keyed(cached, t, "carol").await.len(), 1);

    // A failed conditional write still drops the cached copy (it was stale).
    behind.touch_resource(t, USER, "u2", None).await.unwrap();
    let err = cached.update_resource(t, USER, "u2", &carol, Some(1)).await;
    assert_eq!(
        err,
        Err(StoreError::VersionMismatch {
            expected: 1,
            actual: 2
        })
    );
    assert_eq!(version_of(cached, t, "u2").await, Some(2));

    // Delete.
    assert_eq!(cached.delete_resource(t, USER, "u1").await, Ok(true));
    assert_eq!(version_of(twin.as_ref(), t, "u1").await, None);
    assert!(keyed(twin.as_ref(), t, "robert").await.is_empty());

    // Tenants do not share cache entries.
    assert_eq!(version_of(cached, "other", "u2").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_invalidation_sqlite() {
    run(Backend::SqliteFile, cache_invalidation).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_invalidation_postgres() {
    run(Backend::Postgres, cache_invalidation).await;
}

// ---- opening, migrations, persistence ----

async fn migration_versions(url: &str) -> Vec<i64> {
    let sql = "SELECT version FROM schema_migrations ORDER BY version";
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        v
    } else {
        let mut conn = PgConnection::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        v
    }
}

/// Several instances opening one empty database at once, then a reopen: each migration is
/// applied once and the data written before survives.
async fn open_concurrently_then_reopen(url: &str, expected: Vec<i64>) {
    let (a, b, c) = tokio::join!(open(url), open(url), open(url));
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(migration_versions(url).await, expected);

    // Instances share state.
    put(&a, "t", USER, "u1", &data(Some("1"), None, Some("ann"))).await;
    a.members
        .add_members("t", "g1", &["u1".to_owned()])
        .await
        .unwrap();
    let intent = a
        .intents
        .begin_intent("t", "create-user", &json!({"id": "u1"}))
        .await
        .unwrap();
    assert_eq!(by_id(&b, "t", USER, "u1").await.unwrap().version, 1);
    assert!(c.members.is_member("t", "g1", "u1").await.unwrap());
    for s in [a, b, c] {
        s.close().await;
    }

    let s = open(url).await.unwrap();
    assert_eq!(migration_versions(url).await, expected);
    let r = by_id(&s, "t", USER, "u1").await.unwrap();
    assert_eq!(r.lookup_key.as_deref(), Some("ann"));
    assert!(s.members.is_member("t", "g1", "u1").await.unwrap());
    assert_eq!(s.intents.pending_intents(None).await.unwrap()[0].id, intent);
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_migrates_once_and_persists() {
    let (scratch, dir) = Scratch::dir();
    let path = dir.join("sub").join("gateway.db"); // directory created by open
    let url = format!("sqlite://{}", path.display());
    let expected = migrations::SQLITE.iter().map(|m| m.version).collect();
    open_concurrently_then_reopen(&url, expected).await;
    assert!(path.exists());
    // WAL mode is on.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    pool.close().await;
    scratch.clean().await;
}

/// Every lookup the service makes per request uses an index that also gives its order, so its
/// cost does not grow with the number of users (SQLite's planner otherwise walks the primary
/// key for `ORDER BY scim_id`).
#[tokio::test]
async fn sqlite_lookups_use_their_indexes() {
    let (scratch, dir) = Scratch::dir();
    let url = format!("sqlite://{}", dir.join("plan.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    api::Backend::close(&store).await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for (sql, index) in [
        (super::sql::BY_LOOKUP_KEY, "resources_lookup_key"),
        (super::sql::BY_EXTERNAL_ID, "resources_external_id"),
        (super::sql::BY_DOWNSTREAM_ID, "resources_downstream_id"),
        (super::sql::TOKEN_BY_DIGEST, "tokens_digest"),
    ] {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .bind("t")
                .bind("User")
                .bind("x")
                .fetch_all(&pool)
                .await
                .unwrap();
        let plan: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        assert!(
            plan.iter().any(|p| p.contains(index))
                && !plan.iter().any(|p| p.contains("TEMP B-TREE")),
            "{sql}: {plan:?}"
        );
    }
    pool.close().await;
    scratch.clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrates_once_and_persists() {
    let (scratch, url) = Scratch::schema().await;
    let expected = migrations::POSTGRES.iter().map(|m| m.version).collect();
    open_concurrently_then_reopen(&url, expected).await;
    scratch.clean().await;
}

#[tokio::test]
async fn sqlite_memory_stores_are_private() {
    let a = open("sqlite::memory:").await.unwrap();
    let b = open("sqlite::memory:").await.unwrap();
    put(&a, "t", USER, "u1", &data(None, None, None)).await;
    assert_eq!(by_id(&b, "t", USER, "u1").await, None);
    assert_eq!(a.backend.backend(), "sqlite");
}

#[tokio::test]
async fn closed_store_says_so() {
    let s = open("sqlite::memory:").await.unwrap();
    s.ping().await.unwrap();
    s.close().await;
    assert_eq!(s.ping().await.unwrap_err(), StoreError::Closed);
    let err = s
        .resources
        .resource_by_scim_id("t", USER, "u1")
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Closed);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn bad_urls_are_config_errors() {
    for url in ["mysql://localhost/db", "gateway.db", ""] {
        let err = open(url).await.err().unwrap();
        assert!(matches!(err, StoreError::Config(_)), "{url}: {err:?}");
    }
    let err = open("postgres://user:hunter2@127.0.0.1:1/db?sslmode=bogus")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2"));
    let err = open("mysql://user:hunter2@localhost/db")
        .await
        .err()
        .unwrap();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn unreachable_postgres_is_retryable() {
    let err = open("postgres://postgres@127.0.0.1:1/test")
        .await
        .err()
        .unwrap();
    assert!(err.is_retryable(), "{err:?}");
}

#[test]
fn urls_are_redacted() {
    assert_eq!(
        redact_url("postgres://u:secret@h:5432/db?x=1"),
        "postgres://u:***@h:5432/db?x=1"
    );
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(
        redact_url("postgres://h/db?password=x@y&a=b"),
        "postgres://h/db?password=***&a=b"
    );
    assert_eq!(
        redact_url("sqlite://data/gateway.db"),
        "sqlite://data/gateway.db"
    );
}

#[test]
fn migration_versions_increase() {
    for list in [migrations::SQLITE, migrations::POSTGRES] {
        assert!(list.windows(2).all(|w| w[0].version < w[1].version));
        assert!(list.first().is_some_and(|m| m.version == 1));
    }
    assert_eq!(migrations::SQLITE.len(), migrations::POSTGRES.len());
}
