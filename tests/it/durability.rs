//! What the gateway remembers survives a restart, and a gateway killed with SIGKILL in the
//! middle of an Entra-like burst loses nothing: on restart every user it acknowledged is there
//! and every downstream record is correlated again.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

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

#[tokio::test]
async fn kill_9_during_a_burst_loses_nothing() {
    let dir = TempDir::new("kill9");
    let stack = Stack::start().await;
    let port = free_port();
    let config = dir.0.join("gateway.toml");
    let text = with_store(
        scim_gateway::demo::EXAMPLE_CONFIG,
        &dir.0.join("gateway.db"),
    )
    .replace(
        "listen = \"127.0.0.1:8080\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    )
    .replace("request_timeout_ms = 30000", "request_timeout_ms = 1000");
    std::fs::write(&config, text).unwrap();
    let gateway = spawn_gateway(&config, stack.legacy_env(), port, None).await;
    let base = format!("http://127.0.0.1:{port}/scim/v2");

    // 16 clients create users as fast as they can; SIGKILL lands mid-burst.
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (client, base) = (client.clone(), base.clone());
        tasks.spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..1000 {
                let user = entra_user(&format!("w{worker}-{i}@example.com"), "K", "N");
                let sent = client
                    .post(format!("{base}/Users"))
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/scim+json")
                    .body(user.to_string())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        acknowledged.push(body["id"].as_str().unwrap_or_default().to_owned());
                    }
                    _ => break,
                }
            }
            acknowledged
        });
    }
    while stack.legacy.accounts().len() < 150 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(gateway); // SIGKILL
    let mut acknowledged = Vec::new();
    while let Some(done) = tasks.join_next().await {
        acknowledged.extend(done.unwrap());
    }

    // Journaled writes older than the request deadline are settled at start-up.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let _gateway = spawn_gateway(&config, stack.legacy_env(), port, None).await;
    for id in &acknowledged {
        let r = client
            .get(format!("{base}/Users/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "acknowledged user {id} was lost"
        );
    }
    let accounts = stack.legacy.accounts();
    assert!(accounts.len() >= acknowledged.len());
    for account in &accounts {
        let email = account["email"].as_str().unwrap();
        let found: serde_json::Value = client
            .get(format!("{base}/Users?filter=userName%20eq%20%22{email}%22"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            found["totalResults"], 1,
            "{email} is not found exactly once: {found}"
        );
    }
}
