//! Tests of the fake directory over real HTTP on 127.0.0.1.

use std::collections::HashSet;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::{DirectoryCounts, FakeDirectory, person_id, serve};

const TOKEN: &str = "s3cret";

struct Running {
    dir: FakeDirectory,
    base: String,
    client: Client,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v2/people", listener.local_addr().unwrap());
    let dir = FakeDirectory::new(TOKEN);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, dir.clone(), async move {
        let _ = stopped.await;
    }));
    Running {
        dir,
        base,
        client: {
            scim_gateway::crypto::install_provider();
            Client::new()
        },
        _stop: stop,
    }
}

impl Running {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }

    async fn create(&self, body: Value) -> Value {
        let (status, person) = self.call(Method::POST, "", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{person}");
        person
    }
}

fn ann() -> Value {
    json!({
        "login": "ann@example.com",
        "profile": {"name": {"first": "Ann", "last": "Lee"}, "title": null},
        "enabled": true,
        "tags": "a;b;c",
    })
}

#[tokio::test]
async fn create_get_put_delete_round_trip() {
    let s = start().await;
    let created = s.create(ann()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("usr_") && id.len() == 16, "{id}");
    assert!(id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created["login"], "ann@example.com");
    assert_eq!(created["profile"], ann()["profile"]);
    assert_eq!(created["tags"], "a;b;c");
    assert!(created["created"].is_string());

    let (status, got) = s.call(Method::GET, &format!("/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);

    // PUT replaces everything: absent fields go back to their defaults.
    let (status, replaced) = s
        .call(
            Method::PUT,
            &format!("/{id}"),
            Some(json!({"login": "ann.lee@example.com", "enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["id"], id.as_str());
    assert_eq!(replaced["enabled"], false);
    assert_eq!(
        replaced["profile"],
        json!({"name": {"first": null, "last": null}, "title": null})
    );
    assert_eq!(replaced["tags"], "");
    assert_eq!(replaced["created"], created["created"]);
    assert_eq!(s.dir.users(), vec![replaced]);

    let (status, body) = s.call(Method::DELETE, &format!("/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, body) = s.call(Method::GET, &format!("/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"message": "no such person"}));
    let (status, _) = s.call(Method::DELETE, &format!("/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(s.dir.users().is_empty());
}

#[tokio::test]
async fn login_rules_and_patch_is_405() {
    let s = start().await;
    let created = s.create(ann()).await;
    let (status, body) = s
        .call(Method::POST, "", Some(json!({"login": "ANN@example.com"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"message": "login exists"}));
    let (status, body) = s
        .call(Method::POST, "", Some(json!({"profile": {"title": "CEO"}})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"message": "login is required"}));

    let bob = s.create(json!({"login": "bob"})).await;
    let (status, body) = s
        .call(
            Method::PUT,
            &format!("/{}", bob["id"].as_str().unwrap()),
            Some(json!({"login": "Ann@Example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"message": "login exists"}));

    let response = s
        .client
        .patch(format!("{}/{}", s.base, created["id"].as_str().unwrap()))
        .bearer_auth(TOKEN)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(!allow.contains("PATCH") && allow.contains("PUT"), "{allow}");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "method not allowed"})
    );
    assert_eq!(s.dir.users()[0]["enabled"], true);
    assert_eq!(s.dir.request_count().patches, 1);
}

#[tokio::test]
async fn list_pages_by_offset_and_limit_and_ignores_search() {
    let s = start().await;
    for i in 0..60 {
        s.create(json!({ "login": format!("user{i}") })).await;
    }
    let (status, body) = s.call(Method::GET, "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 60);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert_eq!(items[0]["login"], "user0");

    let (_, body) = s.call(Method::GET, "?offset=55&limit=10", None).await;
    let logins: Vec<&Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["login"])
        .collect();
    assert_eq!(logins, ["user55", "user56", "user57", "user58", "user59"]);

    // Limits above 50 are clamped, and search parameters are ignored.
    let (_, body) = s
        .call(Method::GET, "?limit=500&login=user3&filter=x", None)
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 50);
    assert_eq!(body["count"], 60);

    let (status, body) = s.call(Method::GET, "?offset=-1", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"message": "offset must be a non-negative integer"})
    );
}

#[tokio::test]
async fn bearer_token_is_required_and_failures_can_be_injected() {
    let s = start().await;
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic s3cret"),
        Some(TOKEN),
    ] {
        let mut request = s.client.get(&s.base);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"message": "unauthorized"})
        );
    }
    s.dir.fail_next(1);
    let (status, _) = s.call(Method::POST, "", Some(ann())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(s.dir.users().is_empty());
    s.create(ann()).await;
    assert_eq!(
        s.dir.request_count(),
        DirectoryCounts {
            gets: 4,
            posts: 2,
            ..DirectoryCounts::default()
        }
    );
}

#[test]
fn ids_are_distinct_and_well_formed() {
    let ids: HashSet<String> = (1..=10_000).map(person_id).collect();
    assert_eq!(ids.len(), 10_000);
    assert!(
        ids.iter()
            .all(|id| id.len() == 16 && id.starts_with("usr_"))
    );
}
