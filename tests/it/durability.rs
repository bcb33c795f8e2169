//! What the gateway remembers survives a restart, and a gateway killed with SIGKILL in the
//! middle of an Entra-like burst loses nothing: on restart every user it acknowledged is there
//! and every downstream record is correlated again.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use scim_gateway::store::ResourceType;

use crate::support::process::{TempDir, free_port, spawn_gateway};
use crate::support::{Stack, TOKEN, entra_user};

/// `config` with its store in the SQLite file `db`.
pub(crate) fn with_store(config: &str, db: &std::path::Path) -> String {
    format!("{config}\n[store]\nurl = \"sqlite://{}\"\n", db.display())
}

#[tokio::test]
async fn a_restart_keeps_every_correlation() {
    let dir = TempDir::new("restart");
    let db = dir.0.join("gateway.db");
    let mut stack = Stack::start_with(|t| with_store(t, &db)).await;
    // A userName the API cannot hold: only the gateway's store knows it.
    let mut user = entra_user("Kept_User_1", "Kay", "Pt");
    user["emails"] = json!([{"type": "work", "primary": true, "value": "kept@example.com"}]);
    let created = stack.create_user(user).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, group) = stack
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Admins", "members": [{"value": id}]})),
        )
        .await;
    let group_id = group["id"].as_str().unwrap().to_owned();

    stack.restart_gateway().await;

    let (_, found) = stack
        .get("/Users?filter=userName%20eq%20%22kept_user_1%22")
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], json!(id));
    assert_eq!(found["Resources"][0]["userName"], "Kept_User_1");
    let (_, got) = stack.get(&format!("/Groups/{group_id}")).await;
    assert_eq!(got["members"][0]["value"], json!(id));
    assert_eq!(got["meta"]["version"], group["meta"]["version"]);
}

/// The userName of the burst user with this email: a userPrincipalName that is not the mail,
/// as Entra sends for many real users (the API keys on email and never sees it).
fn upn_of(email: &str) -> String {
    email.replace("@example.com", ".upn@corp.example")
}

#[tokio::test]
async fn kill_9_during_a_burst_loses_nothing() {
    let dir = TempDir::new("kill9");
    let stack = Stack::start().await;
    let port = free_port();
    let config = dir.0.join("gateway.toml");
    let db = dir.0.join("gateway.db");
    let text = with_store(scim_gateway::cli::demo::EXAMPLE_CONFIG, &db)
        .replace(
            "listen = \"127.0.0.1:8080\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace("request_timeout_ms = 30000", "request_timeout_ms = 1000");
    std::fs::write(&config, text).unwrap();
    let gateway = spawn_gateway(&config, stack.legacy_env(), port, None).await;
    let base = format!("http://127.0.0.1:{port}/scim/v2");

    // 16 clients create users as fast as they can; SIGKILL lands mid-burst. A worker stops at
    // the first request the dead gateway cannot answer; any answer but 201 (or a retriable
    // 503) before that is a failure.
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (client, base) = (client.clone(), base.clone());
        tasks.spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..1000 {
                let email = format!("w{worker}-{i}@example.com");
                let mut user = entra_user(&upn_of(&email), "K", "N");
                user["emails"] = json!([{"type": "work", "primary": true, "value": email}]);
                let sent = client
                    .post(format!("{base}/Users"))
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/scim+json")
                    .body(user.to_string())
                    .send()
                    .await;
                let Ok(answer) = sent else { break };
                match answer.status() {
                    StatusCode::CREATED => {
                        let Ok(body) = answer.json::<serde_json::Value>().await else {
                            break;
                        };
                        let id = body["id"].as_str().expect("a created user has an id");
                        acknowledged.push((id.to_owned(), upn_of(&email)));
                    }
                    StatusCode::SERVICE_UNAVAILABLE => {}
                    other => panic!("{email}: answered {other}"),
                }
            }
            acknowledged
        });
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        while stack.legacy.accounts().len() < 150 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the burst reaches 150 accounts");
    drop(gateway); // SIGKILL
    let mut acknowledged = Vec::new();
    while let Some(done) = tasks.join_next().await {
        acknowledged.extend(done.unwrap());
    }
    assert!(!acknowledged.is_empty());

    // Journaled writes older than the request deadline are settled at start-up.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let _gateway = spawn_gateway(&config, stack.legacy_env(), port, None).await;
    let store = scim_gateway::store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    assert!(
        store
            .intents
            .pending_intents(None)
            .await
            .unwrap()
            .is_empty(),
        "a journal entry was left unsettled"
    );
    for (id, user_name) in &acknowledged {
        let row = store
            .resources
            .resource_by_scim_id("default", ResourceType::User, id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged user {id} lost its correlation"));
        assert_eq!(row.lookup_key.as_deref(), Some(user_name.as_str()));
    }
    // Every record the API made, acknowledged or not, is correlated again, under the
    // userName its client sent, and found by it exactly once.
    let accounts = stack.legacy.accounts();
    assert!(accounts.len() >= acknowledged.len());
    for account in &accounts {
        let email = account["email"].as_str().unwrap();
        let row = store
            .resources
            .resource_by_downstream_id("default", ResourceType::User, &account["id"].to_string())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{email} has no correlation"));
        assert_eq!(row.lookup_key.as_deref(), Some(upn_of(email).as_str()));
        let found: serde_json::Value = client
            .get(format!(
                "{base}/Users?filter=userName%20eq%20%22{}%22",
                upn_of(email)
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["totalResults"], 1, "{email}: {found}");
        assert_eq!(found["Resources"][0]["id"], json!(row.scim_id));
    }
    store.close().await;
}

/// `recover` itself, on the journal entries a crash leaves: a delete whose record went is
/// finished in the store, one whose record stayed keeps its user; a create that reached the
/// API is correlated under the userName its client sent (a userPrincipalName the API never
/// saw, found by the email the create sent), one that did not reach it is ruled out.
#[tokio::test]
async fn journaled_writes_a_crash_interrupted_are_settled() {
    let dir = TempDir::new("journal");
    let db = dir.0.join("gateway.db");
    let stack = Stack::start_with(|t| {
        with_store(t, &db).replace("request_timeout_ms = 30000", "request_timeout_ms = 300")
    })
    .await;
    let id_of = |v: serde_json::Value| v["id"].as_str().unwrap().to_owned();
    let gone = id_of(
        stack
            .create_user(entra_user("gone@example.com", "G", "One"))
            .await,
    );
    let stays = id_of(
        stack
            .create_user(entra_user("stays@example.com", "S", "Tays"))
            .await,
    );
    let legacy = stack.legacy_env()[0].1.clone();
    let key = stack.legacy_env()[1].1.clone();
    let client = reqwest::Client::new();
    let deleted = client
        .delete(format!("{legacy}/api/v1/accounts/{gone}"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let made: serde_json::Value = client
        .post(format!("{legacy}/api/v1/accounts"))
        .header("x-api-key", &key)
        .json(&json!({"account": {"email": "made@example.com", "first_name": "M", "last_name": "Ade", "external_ref": "ext-made"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let made_id = made["account"]["id"].to_string();
    let accounts = stack.legacy.accounts().len();

    // What a gateway killed in the middle of each write leaves in its journal.
    let store = scim_gateway::store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    for (kind, payload) in [
        ("delete-user", json!({"id": gone, "downstreamId": gone})),
        ("delete-user", json!({"id": stays, "downstreamId": stays})),
        (
            "create-user",
            json!({"userName": "Made.Upn@corp.example", "externalId": "ext-made",
                   "identity": "emails.value eq \"made@example.com\""}),
        ),
        (
            "create-user",
            json!({"userName": "Never.Upn@corp.example",
                   "identity": "emails.value eq \"never@example.com\""}),
        ),
    ] {
        store
            .intents
            .begin_intent("default", kind, &payload)
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while !store
            .intents
            .pending_intents(None)
            .await
            .unwrap()
            .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the journal is settled within a few request deadlines");

    let row = |id: String| {
        let store = store.clone();
        async move {
            store
                .resources
                .resource_by_scim_id("default", ResourceType::User, &id)
                .await
                .unwrap()
        }
    };
    assert!(
        row(gone.clone()).await.is_none(),
        "the finished delete kept its row"
    );
    assert!(
        row(stays.clone()).await.is_some(),
        "a delete that never happened removed the user"
    );
    let (status, _) = stack.get(&format!("/Users/{stays}")).await;
    assert_eq!(status, StatusCode::OK);

    let (_, found) = stack
        .get("/Users?filter=userName%20eq%20%22Made.Upn%40corp.example%22")
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let user = &found["Resources"][0];
    assert_eq!(user["id"], json!(made_id));
    assert_eq!(user["userName"], "Made.Upn@corp.example");
    assert_eq!(user["externalId"], "ext-made");
    let (_, never) = stack
        .get("/Users?filter=userName%20eq%20%22Never.Upn%40corp.example%22")
        .await;
    assert_eq!(never["totalResults"], 0, "{never}");
    assert_eq!(
        stack.legacy.accounts().len(),
        accounts,
        "recovery made a record"
    );
    store.close().await;
}
