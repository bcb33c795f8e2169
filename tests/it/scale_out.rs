//! Two gateway processes on one PostgreSQL store, as a vendor runs them behind a load
//! balancer: what one answered, the other shows (a PATCH, a DELETE), and member changes split
//! across both reach a member-list API without losing anyone.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::groups::PATCH_OP;
use crate::groups_downstream::member_list_groups;
use crate::support::pg::Schema;
use crate::support::process::{SpawnedGateway, TempDir, free_port, spawn_gateway};
use crate::support::{Stack, TOKEN, entra_user};

/// One instance: its process and its Tenant URL.
struct Instance {
    _process: SpawnedGateway,
    base: String,
}

/// Two instances of `config` sharing the store `schema`, in front of the stack's sample API.
async fn two_instances(
    stack: &Stack,
    dir: &TempDir,
    schema: &Schema,
    config: &str,
) -> [Instance; 2] {
    let text = config.replace("listen = \"127.0.0.1:8080\"", "listen = \"${LISTEN}\"")
        + &format!("\n[store]\nurl = \"{}\"\n", schema.url());
    let path = dir.0.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let port = free_port();
        let mut env = stack.legacy_env().to_vec();
        env.push(("LISTEN", format!("127.0.0.1:{port}")));
        instances.push(Instance {
            _process: spawn_gateway(&path, &env, port, None).await,
            base: format!("http://127.0.0.1:{port}/scim/v2"),
        });
    }
    let [a, b] = <[Instance; 2]>::try_from(instances).ok().unwrap();
    [a, b]
}

async fn call(
    on: &Instance,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_at(&on.base, method, path, body).await
}

async fn call_at(
    base: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn what_one_instance_answered_the_other_shows() {
    let stack = Stack::start().await;
    let (dir, schema) = (TempDir::new("scale-out"), Schema::create().await);
    let [a, b] = two_instances(
        &stack,
        &dir,
        &schema,
        scim_gateway::cli::demo::EXAMPLE_CONFIG,
    )
    .await;
    let (status, created) = call(
        &a,
        Method::POST,
        "/Users",
        Some(entra_user("two@example.com", "T0", "Wo")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    for round in 1..=20 {
        // B has the user in its caches before A changes it.
        let (status, _) = call(&b, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        let (writer, reader) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let value = format!("T{round}");
        let patch = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "name.givenName", "value": value}
        ]});
        let (status, body) = call(writer, Method::PATCH, &path, Some(patch)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, seen) = call(reader, Method::GET, &path, None).await;
        assert_eq!(seen["name"]["givenName"], json!(value), "round {round}");
    }
    let (status, _) = call(&a, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&b, Method::GET, &path, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "deleted through A, still on B: {body}"
    );
    let filter = "/Users?filter=userName%20eq%20%22two%40example.com%22";
    let (_, found) = call(&b, Method::GET, filter, None).await;
    assert_eq!(found["totalResults"], 0, "{found}");
    drop((a, b));
    schema.drop_now().await;
}

#[tokio::test]
async fn member_changes_split_across_instances_lose_nobody() {
    let stack = Stack::start().await;
    let (dir, schema) = (TempDir::new("scale-out-members"), Schema::create().await);
    let config = member_list_groups(scim_gateway::cli::demo::EXAMPLE_CONFIG);
    let [a, b] = two_instances(&stack, &dir, &schema, &config).await;
    let group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Split"});
    let (status, g) = call(&a, Method::POST, "/Groups", Some(group)).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let g = g["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for n in 0..50 {
        let user = entra_user(&format!("split{n}@example.com"), "S", "Plit");
        let (status, created) = call(&a, Method::POST, "/Users", Some(user)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    // A slow API widens the window in which both instances write the team's list.
    stack.legacy.set_delay(std::time::Duration::from_millis(20));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, id) in ids.iter().enumerate() {
        let base = if n % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let path = format!("/Groups/{g}");
        let patch = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "Add", "path": "members", "value": [{"value": id}]}
        ]});
        tasks.spawn(async move { call_at(&base, Method::PATCH, &path, Some(patch)).await });
    }
    while let Some(done) = tasks.join_next().await {
        let (status, body) = done.unwrap();
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    stack.legacy.set_delay(std::time::Duration::ZERO);
    let team = stack
        .legacy
        .teams()
        .into_iter()
        .find(|t| t.name == "Split")
        .unwrap();
    let want: BTreeSet<u64> = ids.iter().map(|id| id.parse().unwrap()).collect();
    assert_eq!(team.members, want, "the API's list lost members");
    let (_, got) = call(&b, Method::GET, &format!("/Groups/{g}"), None).await;
    assert_eq!(got["members"].as_array().unwrap().len(), 50);
    drop((a, b));
    schema.drop_now().await;
}
