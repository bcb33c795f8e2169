//! The scratch store answers like the real one would after the same writes, and the real one
//! never changes.

use serde_json::json;

use super::*;
use crate::store::{ResourceData, ResourceType, SqliteStore, TenantStore};

const T: &str = "acme";
const USER: ResourceType = ResourceType::User;
const GROUP: ResourceType = ResourceType::Group;

fn user(downstream_id: &str, name: &str) -> ResourceData {
    ResourceData {
        downstream_id: Some(downstream_id.to_owned()),
        external_id: None,
        lookup_key: Some(name.to_owned()),
        attributes: json!({"userName": name}),
    }
}

/// The users whose userName is `name`.
async fn named(store: &TenantStore, name: &str) -> Vec<Resource> {
    store.resources_by_lookup_key(USER, name).await.unwrap()
}

/// The user with this SCIM id.
async fn user_by_id(store: &TenantStore, id: &str) -> Option<Resource> {
    store.resource_by_scim_id(USER, id).await.unwrap()
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i:03}")).collect()
}

/// A real store with users u1 (ann) and u2 (bob) and group g1 holding both, and a scratch
/// store over it.
async fn stores() -> (TenantStore, TenantStore) {
    let real = Store::of(SqliteStore::open("sqlite::memory:").await.unwrap()).tenant(T);
    real.put_resource(USER, "u1", &user("1", "ann"))
        .await
        .unwrap();
    real.put_resource(USER, "u2", &user("2", "bob"))
        .await
        .unwrap();
    real.put_resource(GROUP, "g1", &ResourceData::default())
        .await
        .unwrap();
    real.add_members("g1", &["u1".into(), "u2".into()])
        .await
        .unwrap();
    let scratch = ScratchStore::overlay(real.store().clone()).await.unwrap();
    (real, scratch.tenant(T))
}

#[tokio::test]
async fn reads_see_the_real_rows_with_their_versions() {
    let (real, scratch) = stores().await;
    real.update_resource(USER, "u1", &user("1", "ann"), None)
        .await
        .unwrap();
    let row = scratch
        .resource_by_scim_id(USER, "u1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row,
        real.resource_by_scim_id(USER, "u1").await.unwrap().unwrap()
    );
    assert_eq!(row.version, 2);
    assert_eq!(
        scratch.resources_by_lookup_key(USER, "BOB").await.unwrap()[0].scim_id,
        "u2"
    );
    assert_eq!(
        scratch
            .resource_by_downstream_id(USER, "2")
            .await
            .unwrap()
            .unwrap()
            .scim_id,
        "u2"
    );
    assert_eq!(scratch.count_resources(USER).await.unwrap(), 2);
}

#[tokio::test]
async fn writes_are_seen_by_later_reads_and_never_reach_the_real_store() {
    let (real, scratch) = stores().await;
    let before = real.resource_by_scim_id(USER, "u1").await.unwrap();
    let written = scratch
        .update_resource(USER, "u1", &user("1", "ann.lee"), Some(1))
        .await
        .unwrap();
    assert_eq!(written.version, 2);
    assert!(named(&scratch, "ann").await.is_empty());
    assert_eq!(
        scratch
            .resources_by_lookup_key(USER, "ann.lee")
            .await
            .unwrap()[0]
            .version,
        2
    );
    // A stale version is refused as the real store would.
    assert!(matches!(
        scratch
            .update_resource(USER, "u1", &user("1", "x"), Some(1))
            .await,
        Err(StoreError::VersionMismatch { .. })
    ));
    scratch
        .put_resource(USER, "u3", &user("3", "cy"))
        .await
        .unwrap();
    // A second correlation of a downstream id the real store has is refused too.
    assert!(matches!(
        scratch.put_resource(USER, "u9", &user("2", "dup")).await,
        Err(StoreError::Conflict(_))
    ));
    let intent = scratch
        .begin_intent("create-user", &json!({}))
        .await
        .unwrap();
    assert!(scratch.complete_intent(intent).await.unwrap());

    assert_eq!(real.resource_by_scim_id(USER, "u1").await.unwrap(), before);
    assert!(user_by_id(&real, "u3").await.is_none());
    let pending = real.store().intents.pending_intents(None).await;
    assert!(pending.unwrap().is_empty());
    assert_eq!(real.count_resources(USER).await.unwrap(), 2);
}

#[tokio::test]
async fn a_deleted_row_stays_deleted_for_every_lookup() {
    let (real, scratch) = stores().await;
    assert!(scratch.delete_resource(USER, "u1").await.unwrap());
    assert!(user_by_id(&scratch, "u1").await.is_none());
    assert!(named(&scratch, "ann").await.is_empty());
    assert!(
        scratch
            .resource_by_downstream_id(USER, "1")
            .await
            .unwrap()
            .is_none()
    );
    // Its memberships went with it.
    assert_eq!(
        scratch.members_page("g1", None, 10).await.unwrap(),
        vec!["u2"]
    );
    assert_eq!(scratch.count_resources(USER).await.unwrap(), 1);
    assert!(real.is_member("g1", "u1").await.unwrap());
}

#[tokio::test]
async fn memberships_follow_the_dry_runs_changes() {
    let (real, scratch) = stores().await;
    // Looked at member by member first, then as a whole: no member lost or doubled.
    assert_eq!(scratch.groups_of("u1").await.unwrap(), vec!["g1"]);
    assert_eq!(
        scratch.remove_members("g1", &["u1".into()]).await.unwrap(),
        1
    );
    assert_eq!(scratch.add_members("g1", &["u3".into()]).await.unwrap(), 1);
    assert_eq!(scratch.add_members("g1", &["u2".into()]).await.unwrap(), 0);
    assert_eq!(
        scratch.members_page("g1", None, 10).await.unwrap(),
        vec!["u2", "u3"]
    );
    assert_eq!(scratch.member_count("g1").await.unwrap(), 2);
    assert!(scratch.groups_of("u1").await.unwrap().is_empty());
    assert!(scratch.is_member("g1", "u3").await.unwrap());

    // A replaced member list is the dry run's alone.
    scratch.replace_members("g1", &["u1".into()]).await.unwrap();
    assert!(scratch.groups_of("u2").await.unwrap().is_empty());
    assert_eq!(
        scratch.members_page("g1", None, 10).await.unwrap(),
        vec!["u1"]
    );
    assert_eq!(
        real.members_page("g1", None, 10).await.unwrap(),
        vec!["u1", "u2"]
    );
}

#[tokio::test]
async fn a_large_member_change_copies_the_group_once() {
    let (real, scratch) = stores().await;
    let many = ids(40);
    real.add_members("g1", &many).await.unwrap();
    let removed = scratch.remove_members("g1", &many[..30]).await.unwrap();
    assert_eq!(removed, 30);
    assert_eq!(scratch.member_count("g1").await.unwrap(), 12);
    assert!(scratch.groups_of("m000").await.unwrap().is_empty());
    assert_eq!(scratch.groups_of("m035").await.unwrap(), vec!["g1"]);
}

#[tokio::test]
async fn a_deleted_group_has_no_members_left() {
    let (real, scratch) = stores().await;
    assert!(scratch.delete_resource(GROUP, "g1").await.unwrap());
    assert!(scratch.groups_of("u1").await.unwrap().is_empty());
    assert!(
        scratch
            .members_page("g1", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(real.member_count("g1").await.unwrap(), 2);
}

#[tokio::test]
async fn tokens_are_read_from_the_real_store_and_never_written() {
    let (_real, scratch) = stores().await;
    assert!(
        scratch
            .store()
            .tokens
            .list_tokens(T)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        scratch.store().tokens.revoke_token(T, "x", 0).await,
        Err(StoreError::ReadOnly(_))
    ));
}
