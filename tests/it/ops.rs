//! What an operator sees of a running gateway, over real HTTP: liveness and readiness probes
//! (readiness following the downstream down and up again), Prometheus metrics labelled by
//! route, the request id carried to the downstream and into JSON logs, and a SIGTERM that lets
//! the request in flight finish before the process exits and leaves the store whole.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use scim_gateway::cli::demo::EXAMPLE_CONFIG;
use scim_gateway::store::ResourceType;
use scim_gateway::tools::legacy::{self, LegacyApi};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::support::process::{
    TempDir, free_port, spawn_gateway, spawn_gateway_with, write_config,
};
use crate::support::recording::recording_downstream;
use crate::support::{Gateway, Stack, TOKEN, entra_user, start_gateway};

const KEY: &str = "ops-legacy-key";

/// GETs a root endpoint without credentials; the status and the JSON body.
pub(crate) async fn probe(gateway: &Gateway, path: &str) -> (StatusCode, Value) {
    let response = gateway
        .client
        .get(format!("{}{path}", gateway.root))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/json", "{path}");
    (status, response.json().await.unwrap())
}

/// Polls `/readyz` until `want` holds of its answer (it is cached for 2 s).
async fn readyz_until(gateway: &Gateway, want: impl Fn(StatusCode, &Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = probe(gateway, "/readyz").await;
        if want(status, &body) {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "readiness stuck at {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The sample API serving on `listener` until the returned sender is dropped or sent to.
fn serve_sample(listener: TcpListener, api: &LegacyApi) -> (watch::Sender<()>, JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(());
    let served = tokio::spawn(legacy::serve(listener, api.clone(), async move {
        let _ = stopped.changed().await;
    }));
    (
        stop,
        tokio::spawn(async move { served.await.unwrap().unwrap() }),
    )
}

fn sample_env(addr: SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        ("LEGACY_URL", format!("http://{addr}")),
        ("LEGACY_API_KEY", KEY.to_owned()),
    ]
}

#[tokio::test]
async fn healthz_answers_ok_without_credentials() {
    let stack = Stack::start().await;
    let (status, body) = probe(&stack, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_follows_the_downstream_down_and_up_again() {
    let api = LegacyApi::new(KEY);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, served) = serve_sample(listener, &api);
    let gateway = start_gateway(EXAMPLE_CONFIG, &sample_env(addr)).await;

    let (status, body) = probe(&gateway, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"downstream:default": "ok", "store": "ok"}})
    );
    // Probes within 2 s share one check: twenty probes cost the API at most two HEADs.
    api.reset_request_count();
    for _ in 0..20 {
        assert_eq!(probe(&gateway, "/readyz").await.0, StatusCode::OK);
    }
    assert!(api.request_count().others <= 2, "{:?}", api.request_count());

    let _ = stop.send(());
    served.await.unwrap();
    let body = readyz_until(&gateway, |status, body| {
        status == StatusCode::SERVICE_UNAVAILABLE
            && body["checks"]["downstream:default"] == "unreachable"
    })
    .await;
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["checks"]["store"], "ok");

    // The API comes back on the same address.
    let listener = TcpListener::bind(addr).await.unwrap();
    let _serving = serve_sample(listener, &api);
    let body = readyz_until(&gateway, |status, _| status == StatusCode::OK).await;
    assert_eq!(body["checks"]["downstream:default"], "ok");
}

#[tokio::test]
async fn readyz_asks_the_configured_health_operation() {
    let (url, seen) = recording_downstream().await;
    let env = [("LEGACY_URL", url), ("LEGACY_API_KEY", KEY.to_owned())];
    let with_health = |path: &str| {
        EXAMPLE_CONFIG.replacen(
            "[downstream]\n",
            &format!("[downstream]\nhealth = \"GET {path}\"\n"),
            1,
        )
    };
    let gateway = start_gateway(&with_health("/api/v1/health"), &env).await;
    let (status, body) = probe(&gateway, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let calls: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| format!("{} {}", s.method, s.uri))
        .collect();
    assert_eq!(calls, ["GET /api/v1/health"]);

    // A health operation must answer 2xx: a path the API does not know is not ready.
    let gateway = start_gateway(&with_health("/api/v1/nothing-here"), &env).await;
    let (status, body) = probe(&gateway, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["downstream:default"], "HTTP 404");
}

/// The example config serving one tenant called `name` (its own metric labels).
fn one_tenant(config: &str, name: &str) -> String {
    config.replace("bearer = [\"${SCIM_TOKEN}\"]", "").replacen(
        "[users]\n",
        &format!(
            "[[tenants]]\nname = \"{name}\"\nauth = {{ bearer = [\"${{SCIM_TOKEN}}\"] }}\n\n[users]\n"
        ),
        1,
    )
}

#[tokio::test]
async fn metrics_count_scim_requests_and_downstream_calls_by_route() {
    let stack = Stack::start_with(|text| one_tenant(text, "metered")).await;
    let user = stack
        .create_user(entra_user("metered@example.com", "Met", "Ered"))
        .await;
    let id = user["id"].as_str().unwrap();
    for _ in 0..2 {
        assert_eq!(stack.get(&format!("/Users/{id}")).await.0, StatusCode::OK);
    }
    let anonymous = stack
        .send_as(Method::GET, &format!("{}/Users", stack.base), None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    stack.legacy.fail_next(1);
    // A downstream 500 is a failure a retry can fix: 503 with Retry-After.
    assert_eq!(stack.get("/Users").await.0, StatusCode::SERVICE_UNAVAILABLE);

    let response = stack
        .client
        .get(format!("{}/metrics", stack.root))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap()
    };
    let scim = |labels: &str| {
        value(&format!(
            "scim_requests_total{{tenant=\"metered\",{labels}}}"
        ))
    };
    assert_eq!(
        scim(r#"resource="Users",operation="create",status="201""#),
        1.0
    );
    assert_eq!(
        scim(r#"resource="Users",operation="get",status="200""#),
        2.0
    );
    assert_eq!(
        scim(r#"resource="Users",operation="list",status="401""#),
        1.0
    );
    assert_eq!(
        scim(r#"resource="Users",operation="list",status="503""#),
        1.0
    );
    assert_eq!(
        value(
            r#"scim_request_duration_seconds_count{tenant="metered",resource="Users",operation="get"}"#
        ),
        2.0
    );
    assert_eq!(
        value(r#"downstream_requests_total{tenant="metered",method="POST",status="201"}"#),
        1.0
    );
    assert_eq!(
        value(r#"downstream_requests_total{tenant="metered",method="GET",status="500"}"#),
        1.0
    );
    assert_eq!(
        value(r#"downstream_errors_total{tenant="metered",kind="failed"}"#),
        1.0
    );
    assert!(value(r#"downstream_request_duration_seconds_count{tenant="metered"}"#) >= 2.0);
    // The second read of the user came from the record cache.
    assert!(value(r#"cache_requests_total{cache="records",result="hit"}"#) >= 1.0);
    assert!(text.contains(r#"cache_requests_total{cache="store_by_id",result="#));
    // Labels name routes, never a path or an id.
    assert!(!text.contains("/Users/"), "{text}");
}

#[tokio::test]
async fn metrics_can_be_switched_off() {
    let stack =
        Stack::start_with(|text| text.replacen("[server]\n", "[server]\nmetrics = false\n", 1))
            .await;
    let response = stack
        .client
        .get(format!("{}/metrics", stack.root))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_request_id_reaches_every_downstream_call() {
    let (url, seen) = recording_downstream().await;
    let gateway = start_gateway(
        EXAMPLE_CONFIG,
        &[("LEGACY_URL", url), ("LEGACY_API_KEY", KEY.to_owned())],
    )
    .await;
    let list = format!(
        "{}/Users?filter=userName%20eq%20%22ann%40example.com%22",
        gateway.base
    );
    // The client's own id, a missing one, and one unfit for a log line or a header.
    for sent in [Some("ops-req-42"), None, Some("id with spaces")] {
        seen.lock().unwrap().clear();
        let mut request = gateway.client.get(&list).bearer_auth(TOKEN);
        if let Some(id) = sent {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answered = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        match sent {
            Some("ops-req-42") => assert_eq!(answered, "ops-req-42"),
            _ => assert_eq!(answered.len(), 36, "a fresh UUID: {answered}"),
        }
        let seen = seen.lock().unwrap().clone();
        assert!(!seen.is_empty());
        for call in seen {
            assert_eq!(
                call.request_id.as_deref(),
                Some(answered.as_str()),
                "{call:?}"
            );
        }
    }
}

#[tokio::test]
async fn json_log_lines_parse_and_carry_the_request_id() {
    let stack = Stack::start().await;
    let dir = TempDir::new("json-log");
    let port = free_port();
    let config = write_config(&dir, port, |text| text);
    let log = dir.0.join("gateway.log");
    let gateway = spawn_gateway_with(
        &config,
        stack.legacy_env(),
        port,
        Some(&log),
        &["--log-format", "json"],
    )
    .await;
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/scim/v2/Users"))
        .bearer_auth(TOKEN)
        .header("x-request-id", "json-log-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(gateway);

    let text = std::fs::read_to_string(&log).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let downstream_call = events
        .iter()
        .find(|e| {
            e["message"] == "downstream call"
                && e["spans"]
                    .as_array()
                    .is_some_and(|spans| spans.iter().any(|s| s["request_id"] == "json-log-7"))
        })
        .unwrap_or_else(|| panic!("no downstream call logged under the request id:\n{text}"));
    assert_eq!(downstream_call["level"], "DEBUG");
    assert!(downstream_call["timestamp"].is_string());
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_cleanly() {
    let stack = Stack::start().await;
    let dir = TempDir::new("sigterm");
    let port = free_port();
    let config = write_config(&dir, port, |text| text);
    let mut gateway = spawn_gateway(&config, stack.legacy_env(), port, None).await;
    stack.legacy.set_delay(Duration::from_secs(3));
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    let slow = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{base}/Users"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/scim+json")
            .body(entra_user("slow@example.com", "Slow", "Poke").to_string())
            .send(),
    );
    // The create has reached the (slow) API: the gateway is mid-request.
    let started = Instant::now();
    while stack.legacy.request_count().posts == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the create never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    gateway.terminate();
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "still accepting after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !slow.is_finished(),
        "the slow request ended before the drain"
    );

    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let status = gateway.exit_status(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status:?}");

    // The write-ahead log was checkpointed on close; the file alone is the whole store.
    let db = dir.0.join("gateway.db");
    let wal = dir.0.join("gateway.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL was left behind"
    );
    let url = format!("sqlite://{}", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    pool.close().await;
    let store = scim_gateway::store::open(&url).await.unwrap();
    assert!(
        store
            .resources
            .resource_by_scim_id("default", ResourceType::User, id)
            .await
            .unwrap()
            .is_some(),
        "the drained create is not in the store"
    );
    assert!(
        store
            .intents
            .pending_intents(None)
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}
