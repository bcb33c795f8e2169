//! Criterion benchmarks of the hot paths: filter parsing and evaluation, PATCH, the mapping
//! both ways, and a group member PATCH through the whole gateway at group sizes 10 and
//! 20,000 (its cost must not grow with the group), and a user PATCH replacing `emails` with
//! 2,000 and 20,000 elements through the service's path (the 20,000 case must stay within 10x
//! of the 2,000 one: work proportional to the input), and what a durable store write costs on
//! a SQLite file, alone and with 16 writers at once (`store_write/*`: the fsync is most of it).
//! Run with `cargo bench --bench core`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use scim_gateway::cli::demo::EXAMPLE_CONFIG;
use scim_gateway::scim::filter::{Filter, matches};
use scim_gateway::scim::patch::{PatchBounds, PatchRequest, apply, apply_bounded};
use scim_gateway::server;
use scim_gateway::settings::Config;
use scim_gateway::store::Store;
use scim_gateway::tools::legacy::{self, LegacyApi};
use serde_json::json;

const TOKEN: &str = "bench-token-0123456789abcdef";

fn env(legacy: &str) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| match name {
        "LEGACY_URL" => Some(legacy.to_owned()),
        "LEGACY_API_KEY" => Some("bench-key".into()),
        "SCIM_TOKEN" => Some(TOKEN.into()),
        _ => None,
    }
}

fn protocol(c: &mut Criterion) {
    let config = Config::parse("gateway.toml", EXAMPLE_CONFIG, &env("http://127.0.0.1:9")).unwrap();
    let mapping = &config.tenants[0].users.mapping;
    let schema = &mapping.catalog;
    let text = r#"emails[type eq "work" and value co "@example.com"] and (userName sw "ann" or not (active eq false))"#;
    c.bench_function("filter/parse", |b| {
        b.iter(|| black_box(text).parse::<Filter>().unwrap())
    });
    let filter: Filter = text.parse().unwrap();
    let record = json!({"id": 7, "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
        "status": "active", "role": "admin", "licences": ["crm"], "department": "Sales",
        "manager_id": 3, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"});
    let mut resource = mapping.to_scim(&record);
    mapping.fill_defaults(&mut resource);
    c.bench_function("filter/match", |b| {
        b.iter(|| matches(&filter, black_box(&resource), schema))
    });
    c.bench_function("mapping/to_scim", |b| {
        b.iter(|| mapping.to_scim(black_box(&record)))
    });
    c.bench_function("mapping/to_downstream", |b| {
        b.iter(|| mapping.to_downstream_create(black_box(&resource)).unwrap())
    });
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "value": {"name.givenName": "Anna", "active": "False",
            "emails[type eq \"work\"].value": "anna@example.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"}}]});
    c.bench_function("patch/parse_apply", |b| {
        b.iter(|| {
            let request = PatchRequest::parse(black_box(&body), schema).unwrap();
            let mut r = resource.clone();
            apply(&mut r, &request, schema).unwrap();
            r
        })
    });
}

/// A `replace emails` PATCH body with `n` elements (about 50 bytes each, so 20,000 is 1 MB),
/// the first one the primary work address.
fn emails_patch(n: usize) -> serde_json::Value {
    let emails: Vec<serde_json::Value> = (0..n)
        .map(|i| match i {
            0 => json!({"value": "ann@example.com", "type": "work", "primary": true}),
            _ => json!({"value": format!("ann.{i:06}@example.com"), "type": "other"}),
        })
        .collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "replace", "path": "emails", "value": emails}]})
}

/// A user PATCH replacing `emails` with 2,000 and 20,000 elements, through the steps the users
/// service takes: parse against the widened schema, apply to the resource read from the
/// record, then map to the downstream (changed fields for a PATCH API, the whole record for a
/// PUT one) and the stored part. Both sizes are over the service's bound of 1,000 values per
/// attribute (a 400), so the engine runs unbounded here: this measures that its cost grows
/// with the input, not with its square.
fn large_patch(c: &mut Criterion) {
    let config = Config::parse("gateway.toml", EXAMPLE_CONFIG, &env("http://127.0.0.1:9")).unwrap();
    let mapping = &config.tenants[0].users.mapping;
    let record = json!({"id": 7, "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
        "status": "active", "role": "admin", "licences": ["crm"], "department": "Sales",
        "manager_id": 3, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"});
    let mut group = c.benchmark_group("patch/replace_emails");
    group.sample_size(10);
    for n in [2_000usize, 20_000] {
        let body = emails_patch(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &body, |b, body| {
            b.iter(|| {
                let request = PatchRequest::parse_bounded(
                    black_box(body),
                    &mapping.catalog.widened(&[body]),
                    PatchBounds::NONE,
                )
                .unwrap();
                let old = mapping.to_scim(&record);
                let mut resource = old.clone();
                mapping.fill_defaults(&mut resource);
                let schema = mapping.catalog.widened(&[body, &resource]);
                apply_bounded(&mut resource, &request, &schema, PatchBounds::NONE).unwrap();
                let changed = mapping.changed_fields(&old, &resource).unwrap();
                let replaced = mapping.to_downstream_replace(&resource, &record).unwrap();
                (changed, replaced, mapping.stored_part(&resource))
            })
        });
    }
    group.finish();
}

/// A sample API and a gateway on loopback, with a file store (dropped with the value).
struct Running {
    base: String,
    store: Store,
    client: reqwest::Client,
    dir: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start() -> Running {
    scim_gateway::crypto::install_provider();
    let dir = std::env::temp_dir().join(format!("scim-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let legacy_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let legacy_url = format!("http://{}", legacy_listener.local_addr().unwrap());
    tokio::spawn(legacy::serve(
        legacy_listener,
        LegacyApi::new("bench-key"),
        std::future::pending(),
    ));
    let mut config = Config::parse("gateway.toml", EXAMPLE_CONFIG, &env(&legacy_url)).unwrap();
    config.store_url = format!("sqlite://{}", dir.join("gateway.db").display());
    let store = server::open_store(&config).await.unwrap();
    let app = server::app(&config, store.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/scim/v2", listener.local_addr().unwrap());
    tokio::spawn(
        server::serve(
            listener,
            server::LiveApp::new(app),
            &config.server,
            std::future::pending(),
        )
        .unwrap(),
    );
    Running {
        base,
        store,
        client: reqwest::Client::new(),
        dir,
    }
}

async fn send(
    r: &Running,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = r
        .client
        .request(method, format!("{}{path}", r.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or_default()
}

fn member_patch(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let running = runtime.block_on(start());
    let user = runtime.block_on(send(
        &running,
        reqwest::Method::POST,
        "/Users",
        json!({"userName": "member@example.com"}),
    ));
    let user_id = user["id"].as_str().unwrap().to_owned();
    // Both groups exist and are filled before either is measured, so they share one
    // database state (a big insert just before one measurement would skew it).
    let mut groups = Vec::new();
    for size in [10usize, 20_000] {
        let created = runtime.block_on(send(
            &running,
            reqwest::Method::POST,
            "/Groups",
            json!({"displayName": format!("Group of {size}")}),
        ));
        let gid = created["id"].as_str().unwrap().to_owned();
        let others: Vec<String> = (0..size).map(|i| format!("other-{size}-{i:06}")).collect();
        runtime
            .block_on(running.store.members.add_members(
                scim_gateway::settings::DEFAULT_TENANT,
                &gid,
                &others,
            ))
            .unwrap();
        groups.push((size, gid));
    }
    let mut group = c.benchmark_group("group_member_patch");
    for (size, gid) in &groups {
        group.bench_with_input(BenchmarkId::from_parameter(size), gid, |b, gid| {
            b.to_async(&runtime).iter(|| async {
                for op in ["Add", "Remove"] {
                    send(
                        &running,
                        reqwest::Method::PATCH,
                        &format!("/Groups/{gid}"),
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                               "Operations": [{"op": op, "path": "members", "value": [{"value": user_id}]}]}),
                    )
                    .await;
                }
            })
        });
    }
    group.finish();
}

/// Store writes on a SQLite file: one writer, then 16 at once (each iteration is the whole
/// batch), each an `update_resource` of its own row that must be durable when it returns.
fn store_write(c: &mut Criterion) {
    use scim_gateway::store::{ResourceData, ResourceType};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("scim-gateway-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("store.db").display());
    let store = runtime.block_on(scim_gateway::store::open(&url)).unwrap();
    let data = |n: usize| ResourceData {
        downstream_id: Some(format!("d{n}")),
        external_id: None,
        lookup_key: Some(format!("user{n}@example.com")),
        attributes: json!({"title": "bench"}),
    };
    for n in 0..16 {
        runtime
            .block_on(store.resources.put_resource(
                "t",
                ResourceType::User,
                &format!("u{n}"),
                &data(n),
            ))
            .unwrap();
    }
    let mut group = c.benchmark_group("store_write");
    for writers in [1usize, 16] {
        group.bench_with_input(
            BenchmarkId::from_parameter(writers),
            &writers,
            |b, &writers| {
                b.to_async(&runtime).iter(|| async {
                    let writes = (0..writers).map(|n| {
                        let store = store.clone();
                        let data = data(n);
                        tokio::spawn(async move {
                            store
                                .resources
                                .update_resource(
                                    "t",
                                    ResourceType::User,
                                    &format!("u{n}"),
                                    &data,
                                    None,
                                )
                                .await
                                .unwrap();
                        })
                    });
                    for write in writes.collect::<Vec<_>>() {
                        write.await.unwrap();
                    }
                })
            },
        );
    }
    group.finish();
    runtime.block_on(store.close());
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = protocol, large_patch, member_patch, store_write
}
criterion_main!(benches);
