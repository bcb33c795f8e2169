//! An id addresses one resource only: ids that URL parsers would turn into dot segments
//! (`..`, `.`, `%2e` in any spelling) or leave empty are refused with a SCIM 404 before any
//! downstream call, for every operation of the demo mapping (virtual and downstream groups)
//! and of the fixture mapping; odd but valid ids reach the downstream as exactly one encoded
//! segment of the configured path. A recording proxy between gateway and downstream sees the
//! requests exactly as the gateway sent them.

use std::net::SocketAddr;

use scim_gateway::cli::demo::EXAMPLE_CONFIG;
use scim_gateway::tools::legacy::{self, LegacyApi};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::groups_downstream::downstream_groups;
use crate::support::fake_downstream::{self, FakeDirectory};
use crate::support::raw::{self, RawAnswer};
use crate::support::recording::{Record, recording_proxy};
use crate::support::{Gateway, TOKEN, assert_scim_error, entra_user, start_gateway};

/// Request targets whose id is a dot segment once decoded, or empty.
const HOSTILE: [&str; 10] = [
    "..", ".", "%2e", "%2E", "%2e%2e", "%2E%2e", ".%2e", "%2e.", "%2E%2E", "%2e%2E",
];

/// Odd ids that are ids all the same, and the one path segment each must become downstream.
const ODD: [(&str, &str); 5] = [
    ("...", "..."),
    (".a", ".a"),
    ("%252e%252e", "%252e%252e"),
    ("a%2F..%2F..", "a%2F..%2F.."),
    ("%2e%2e%2fadmin", "..%2Fadmin"),
];

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A gateway whose downstream calls all pass a recording proxy.
struct Proxied {
    gateway: Gateway,
    seen: Record,
}

impl Proxied {
    fn base_path(&self) -> String {
        self.gateway
            .base
            .trim_start_matches(&self.gateway.root)
            .to_owned()
    }

    async fn send(&self, method: &str, target: &str, body: Option<&Value>) -> RawAnswer {
        let auth = format!("Bearer {TOKEN}");
        let text = body.map(Value::to_string);
        raw::request(
            self.gateway.addr,
            method,
            &format!("{}{target}", self.base_path()),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/scim+json"),
            ],
            text.as_deref(),
        )
        .await
    }

    fn requests(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|s| format!("{} {}", s.method, s.uri))
            .collect()
    }

    fn forget_requests(&self) {
        self.seen.lock().unwrap().clear();
    }
}

/// The sample API behind the proxy, behind a gateway running `config`.
async fn sample_api(config: &str) -> (Proxied, LegacyApi) {
    let api = LegacyApi::new("key");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(legacy::serve(listener, api.clone(), std::future::pending()));
    let (proxy, seen) = recording_proxy(format!("http://{addr}")).await;
    let gateway = start_gateway(
        config,
        &[("LEGACY_URL", proxy), ("LEGACY_API_KEY", "key".to_owned())],
    )
    .await;
    (Proxied { gateway, seen }, api)
}

fn user_body(name: &str) -> Value {
    entra_user(&format!("{name}@example.com"), name, "Hostile")
}

/// Creates a user (and a group holding it, when groups are served); returns their ids.
async fn seed(p: &Proxied, with_group: bool) -> (String, Option<String>) {
    let created = p.send("POST", "/Users", Some(&user_body("ann"))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let user: Value = serde_json::from_str(&created.body).unwrap();
    let user_id = user["id"].as_str().unwrap().to_owned();
    if !with_group {
        return (user_id, None);
    }
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Sales",
        "members": [{"value": user_id}]
    });
    let created = p.send("POST", "/Groups", Some(&group)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let group: Value = serde_json::from_str(&created.body).unwrap();
    (user_id, Some(group["id"].as_str().unwrap().to_owned()))
}

/// Every operation on a hostile id answers a SCIM 404 and calls nothing downstream.
async fn hostile_ids_reach_nothing(p: &Proxied, resources: &[&str]) {
    p.forget_requests();
    let patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "X"}]});
    for resource in resources {
        for id in HOSTILE {
            for (method, body) in [
                ("GET", None),
                ("PUT", Some(user_body("put"))),
                ("PATCH", Some(patch.clone())),
                ("DELETE", None),
            ] {
                let answer = p
                    .send(method, &format!("/{resource}/{id}"), body.as_ref())
                    .await;
                let what = format!("{method} /{resource}/{id}");
                assert_eq!(
                    answer.header("content-type"),
                    Some("application/scim+json"),
                    "{what}: {answer:?}"
                );
                let json: Value = serde_json::from_str(&answer.body).unwrap();
                assert_scim_error(
                    reqwest::StatusCode::from_u16(answer.status).unwrap(),
                    &json,
                    404,
                    None,
                );
                assert!(p.requests().is_empty(), "{what} called {:?}", p.requests());
            }
        }
    }
}

/// A hostile member id never becomes a member call of its own.
async fn hostile_members_reach_nothing(p: &Proxied, group: &str) {
    for member in ["..", ".", ""] {
        p.forget_requests();
        for op in ["add", "remove"] {
            let patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": op, "path": "members", "value": [{"value": member}]}]});
            let answer = p
                .send("PATCH", &format!("/Groups/{group}"), Some(&patch))
                .await;
            assert!(answer.status < 500, "{op} {member:?}: {answer:?}");
        }
        // Only the group's own record may be written (a member-list API), never a member
        // path or anything outside the group.
        for request in p.requests() {
            assert!(
                request.ends_with(&format!("/api/v1/teams/{group}")),
                "member {member:?} made the call {request}"
            );
        }
    }
}

/// Odd but valid ids reach the read path as exactly one encoded segment.
async fn odd_ids_stay_in_their_segment(p: &Proxied, read_path: &str) {
    for (id, segment) in ODD {
        p.forget_requests();
        let answer = p.send("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(answer.status, 404, "{id}: {answer:?}");
        assert_eq!(
            p.requests(),
            vec![format!("GET {read_path}/{segment}")],
            "{id}"
        );
    }
}

#[tokio::test]
async fn hostile_ids_never_reach_the_sample_api_with_virtual_groups() {
    let (p, api) = sample_api(EXAMPLE_CONFIG).await;
    let (user, group) = seed(&p, true).await;
    let before = api.accounts();
    hostile_ids_reach_nothing(&p, &["Users", "Groups"]).await;
    hostile_members_reach_nothing(&p, group.as_deref().unwrap()).await;
    odd_ids_stay_in_their_segment(&p, "/api/v1/accounts").await;
    assert_eq!(api.accounts(), before, "nothing changed downstream");
    let answer = p.send("GET", &format!("/Users/{user}"), None).await;
    assert_eq!(answer.status, 200, "the real user is still there");
}

#[tokio::test]
async fn hostile_ids_never_reach_the_sample_api_with_downstream_groups() {
    let (p, api) = sample_api(&downstream_groups(EXAMPLE_CONFIG)).await;
    let (_, group) = seed(&p, true).await;
    let teams = api.teams();
    hostile_ids_reach_nothing(&p, &["Users", "Groups"]).await;
    hostile_members_reach_nothing(&p, group.as_deref().unwrap()).await;
    assert_eq!(api.teams(), teams, "no team or membership changed");
}

#[tokio::test]
async fn hostile_ids_never_reach_the_fixture_directory() {
    let dir = FakeDirectory::new("dir-token");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(fake_downstream::serve(
        listener,
        dir.clone(),
        std::future::pending(),
    ));
    let (proxy, seen) = recording_proxy(upstream).await;
    let gateway = start_gateway(
        include_str!("../fixtures/directory.toml"),
        &[("DIR_URL", proxy), ("DIR_TOKEN", "dir-token".to_owned())],
    )
    .await;
    let p = Proxied { gateway, seen };
    let (user, _) = seed(&p, false).await;
    let people = dir.users();
    hostile_ids_reach_nothing(&p, &["Users", "Groups"]).await;
    odd_ids_stay_in_their_segment(&p, "/v2/people").await;
    assert_eq!(dir.users(), people, "nothing changed downstream");
    let answer = p.send("GET", &format!("/Users/{user}"), None).await;
    assert_eq!(answer.status, 200);
}
