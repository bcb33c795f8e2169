//! Two gateway processes on one PostgreSQL store, as a vendor runs them behind a load
//! balancer: what one answered, the other shows (a PATCH, a DELETE), member changes split
//! across both reach a member-list API without losing anyone, and the downstream sees one
//! pace (`rate_limit`, `max_concurrent`) for both, even when one of them dies mid-call.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::groups::PATCH_OP;
use crate::groups_downstream::member_list_groups;
use crate::support::pg::Schema;
use crate::support::process::{SpawnedGateway, TempDir, free_port, spawn_gateway};
use crate::support::{Stack, TOKEN, entra_user};
use scim_gateway::legacy::Fault;
use scim_gateway::legacy::LegacyApi;

/// One instance: its process and its Tenant URL.
struct Instance {
    process: SpawnedGateway,
    base: String,
}

/// Two instances of `config` sharing the store `schema`, in front of the stack's sample API.
async fn two_instances(
    stack: &Stack,
    dir: &TempDir,
    schema: &Schema,
    config: &str,
) -> [Instance; 2] {
    two_instances_with(stack, dir, schema, config, "").await
}

/// [`two_instances`] with `store_lines` added to `[store]`.
async fn two_instances_with(
    stack: &Stack,
    dir: &TempDir,
    schema: &Schema,
    config: &str,
    store_lines: &str,
) -> [Instance; 2] {
    let text = config.replace("listen = \"127.0.0.1:8080\"", "listen = \"${LISTEN}\"")
        + &format!("\n[store]\nurl = \"{}\"\n{store_lines}\n", schema.url());
    let path = dir.0.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let port = free_port();
        let mut env = stack.legacy_env().to_vec();
        env.push(("LISTEN", format!("127.0.0.1:{port}")));
        instances.push(Instance {
            process: spawn_gateway(&path, &env, port, None).await,
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
    let [a, b] = two_instances(&stack, &dir, &schema, scim_gateway::demo::EXAMPLE_CONFIG).await;
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
    let config = member_list_groups(scim_gateway::demo::EXAMPLE_CONFIG);
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

/// The example config with `lines` added to its `[downstream]` section.
fn paced(lines: &str) -> String {
    let anchor = "timeout_ms = 10000\n";
    let config = scim_gateway::demo::EXAMPLE_CONFIG;
    assert!(config.contains(anchor), "the example config changed");
    config.replacen(anchor, &format!("{anchor}{lines}\n"), 1)
}

/// Creates a user through `on`; returns the path of its resource.
async fn user_path(on: &Instance, name: &str) -> String {
    let (status, created) = call(
        on,
        Method::POST,
        "/Users",
        Some(entra_user(name, "Pa", "Ced")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    format!("/Users/{}", created["id"].as_str().unwrap())
}

/// A client on each instance per path, alternately, reading its path over and over until the
/// API got `calls` calls (or `reads` times); every answer must be 200. Returns how many reads
/// were answered.
async fn read_from_both(
    instances: [&Instance; 2],
    paths: &[String],
    api: &LegacyApi,
    calls: u64,
    reads: usize,
) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for (n, path) in paths.iter().enumerate() {
        let (base, path, api) = (instances[n % 2].base.clone(), path.clone(), api.clone());
        tasks.spawn(async move {
            let mut done = 0;
            while done < reads && api.request_count().total() < calls {
                let (status, body) = call_at(&base, Method::GET, &path, None).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                done += 1;
            }
            done
        });
    }
    tasks.join_all().await.into_iter().sum()
}

/// `n` users, each created through the instance that will not read it in
/// [`read_from_both`]: an instance answers reads of a user it wrote from its record cache,
/// and reads of one user arriving together may share a call; these all reach the API.
async fn users_to_read(instances: [&Instance; 2], tag: &str, n: usize) -> Vec<String> {
    let mut paths = Vec::new();
    for n in 0..n {
        let writer = instances[(n + 1) % 2];
        paths.push(user_path(writer, &format!("{tag}{n}@example.com")).await);
    }
    paths
}

#[tokio::test]
async fn two_instances_together_keep_the_downstream_rate() {
    keep_one_rate("").await;
}

#[tokio::test]
async fn two_instances_keep_the_downstream_rate_through_redis() {
    keep_one_rate("redis_url = \"redis://127.0.0.1:6379/0\"").await;
}

/// Two instances (with `store_lines` in `[store]`) paced at 5 calls/s, burst 1, read as fast
/// as four clients can: the API never gets more than 6 calls within one second, where each
/// instance alone would send 5. (A slow rate: a call admitted on time may still reach the API
/// late on a loaded machine, and only a delay of a whole period could add one to a second.)
async fn keep_one_rate(store_lines: &str) {
    let stack = Stack::start().await;
    let (dir, schema) = (TempDir::new("scale-out-rate"), Schema::create().await);
    let config = paced("rate_limit = { requests_per_second = 5, burst = 1 }");
    let [a, b] = two_instances_with(&stack, &dir, &schema, &config, store_lines).await;
    let paths = users_to_read([&a, &b], "rate", 4).await;
    stack.legacy.reset_request_count();
    read_from_both([&a, &b], &paths, &stack.legacy, 20, usize::MAX).await;
    let peak = stack.legacy.peak_per_second();
    assert!(
        peak <= 5 + 1,
        "{peak} downstream calls within one second from two instances"
    );
    drop((a, b));
    schema.drop_now().await;
}

#[tokio::test]
async fn two_instances_together_keep_max_concurrent() {
    let stack = Stack::start().await;
    let (dir, schema) = (TempDir::new("scale-out-slots"), Schema::create().await);
    let [a, b] = two_instances(&stack, &dir, &schema, &paced("max_concurrent = 1")).await;
    let paths = users_to_read([&a, &b], "slots", 8).await;
    stack.legacy.reset_request_count();
    // A slow API keeps each call in flight long enough for the other instance to try one.
    stack.legacy.set_delay(Duration::from_millis(40));
    let reads = read_from_both([&a, &b], &paths, &stack.legacy, u64::MAX, 5).await;
    stack.legacy.set_delay(Duration::ZERO);
    assert_eq!(reads, 40);
    assert_eq!(stack.legacy.request_count().total(), 40);
    assert_eq!(
        stack.legacy.peak_in_flight(),
        1,
        "two calls in flight at once"
    );
    drop((a, b));
    schema.drop_now().await;
}

/// Two users, each written through the other instance: `[read by a, read by b]` (an instance
/// may answer reads of a user it wrote itself from its cache).
async fn crossed_users(a: &Instance, b: &Instance, tag: &str) -> [String; 2] {
    [
        user_path(b, &format!("{tag}-a@example.com")).await,
        user_path(a, &format!("{tag}-b@example.com")).await,
    ]
}

/// Starts a read of `path` through `on` that the API holds for `delay`, and returns once the
/// API has it (later calls are not delayed).
async fn held_at_the_api(
    stack: &Stack,
    on: &Instance,
    path: String,
    delay: Duration,
) -> tokio::task::JoinHandle<(StatusCode, Value)> {
    stack.legacy.reset_request_count();
    stack.legacy.set_delay(delay);
    let base = on.base.clone();
    let held = tokio::spawn(async move { call_at(&base, Method::GET, &path, None).await });
    while stack.legacy.request_count().gets == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stack.legacy.set_delay(Duration::ZERO);
    held
}

#[tokio::test]
async fn an_instance_killed_mid_call_gives_its_slot_back_within_seconds() {
    let stack = Stack::start().await;
    let (dir, schema) = (TempDir::new("scale-out-kill"), Schema::create().await);
    let [mut a, b] = two_instances(&stack, &dir, &schema, &paced("max_concurrent = 1")).await;
    let [read_by_a, read_by_b] = crossed_users(&a, &b, "killed").await;
    let stuck = held_at_the_api(&stack, &a, read_by_a, Duration::from_secs(8)).await;
    // A holds the one slot for its call, and dies with it.
    a.process.0.kill().unwrap();
    a.process.0.wait().unwrap();
    stuck.abort();
    // B waits at most max_queue_wait_ms (5 s) for the slot, which A can no longer renew.
    let (status, body) = call(&b, Method::GET, &read_by_b, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the dead instance's slot was never given back: {body}"
    );
    assert_eq!(stack.legacy.request_count().gets, 2);
    drop(b);
    schema.drop_now().await;
}

#[tokio::test]
async fn a_call_longer_than_the_slot_lease_keeps_its_slot() {
    let stack = Stack::start().await;
    let (dir, schema) = (TempDir::new("scale-out-renew"), Schema::create().await);
    let [a, b] = two_instances(&stack, &dir, &schema, &paced("max_concurrent = 1")).await;
    let [read_by_a, read_by_b] = crossed_users(&a, &b, "long").await;
    // Longer than a slot's lease (3 s), shorter than B's longest wait (5 s).
    let long = held_at_the_api(&stack, &a, read_by_a, Duration::from_secs(4)).await;
    let (status, body) = call(&b, Method::GET, &read_by_b, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(long.await.unwrap().0, StatusCode::OK);
    assert_eq!(
        stack.legacy.peak_in_flight(),
        1,
        "B's call went while A's was in flight"
    );
    drop((a, b));
    schema.drop_now().await;
}

#[tokio::test]
async fn a_pause_the_api_asked_of_one_instance_holds_the_other_back_too() {
    let stack = Stack::start().await;
    let (dir, schema) = (TempDir::new("scale-out-pause"), Schema::create().await);
    let config = paced("rate_limit = { requests_per_second = 100, burst = 5 }");
    let [a, b] = two_instances(&stack, &dir, &schema, &config).await;
    let [read_by_a, read_by_b] = crossed_users(&a, &b, "paused").await;
    stack.legacy.reset_request_count();
    let refuse = Fault::Refuse {
        status: 429,
        retry_after: Some("60".into()),
    };
    stack.legacy.inject(1, None, refuse);
    let (status, _) = call(&a, Method::GET, &read_by_a, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let asked = stack.legacy.request_count().total();
    // B never got the 429, yet does not call the API during the minute it asked for.
    let response = reqwest::Client::new()
        .get(format!("{}{read_by_b}", b.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 50, "Retry-After {retry_after}");
    assert_eq!(
        stack.legacy.request_count().total(),
        asked,
        "B called the paused API"
    );
    drop((a, b));
    schema.drop_now().await;
}
