//! The same flow against a differently shaped downstream, configured by
//! tests/fixtures/directory.toml only.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::support::fake_downstream::{FakeDirectory, serve};
use crate::support::{Gateway, entra_user, start_gateway};

const FIXTURE: &str = include_str!("../fixtures/directory.toml");
const DIR_TOKEN: &str = "directory-token";

/// The fake directory and a gateway configured by the fixture mapping.
pub struct Fixture {
    pub dir: FakeDirectory,
    pub gateway: Gateway,
    _stop: oneshot::Sender<()>,
}

impl Fixture {
    /// Starts the directory and a gateway whose config is `edit(fixture mapping)`.
    pub async fn start_with(edit: impl FnOnce(&str) -> String) -> Self {
        start_config(&edit(FIXTURE)).await
    }
}

async fn start() -> Fixture {
    start_config(FIXTURE).await
}

async fn start_config(config: &str) -> Fixture {
    let dir = FakeDirectory::new(DIR_TOKEN);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, dir.clone(), async move {
        let _ = stopped.await;
    }));
    let gateway = start_gateway(config, &[("DIR_URL", url), ("DIR_TOKEN", DIR_TOKEN.into())]).await;
    Fixture {
        dir,
        gateway,
        _stop: stop,
    }
}

/// The person with this login in the directory.
pub fn person(dir: &FakeDirectory, login: &str) -> Option<Value> {
    dir.users().into_iter().find(|u| u["login"] == json!(login))
}

#[tokio::test]
async fn the_fixture_mapping_runs_the_whole_lifecycle() {
    let f = start().await;
    let gw = &f.gateway;
    let mut user = entra_user("kim@example.com", "Kim", "Park");
    user["entitlements"] = json!([{"value": "beta"}, {"value": "eu"}]);
    user["title"] = json!("Engineer");
    let created = gw.create_user(user).await;
    let stored = person(&f.dir, "kim@example.com").expect("created downstream");
    assert_eq!(
        stored["profile"]["name"],
        json!({"first": "Kim", "last": "Park"})
    );
    assert_eq!(stored["tags"], "beta;eu");
    assert_eq!(stored["enabled"], true);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(json!(id), stored["id"]);
    assert_eq!(
        created["entitlements"],
        json!([{"value": "beta"}, {"value": "eu"}])
    );

    let (_, list) = gw
        .get("/Users?filter=userName%20eq%20%22KIM@example.com%22")
        .await;
    assert_eq!(list["totalResults"], 1, "{list}");
    assert_eq!(list["Resources"][0]["id"], json!(id));

    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "value": {"name.familyName": "Park-Lee", "active": "False"}}]
    });
    let (status, patched) = gw
        .call(Method::PATCH, &format!("/Users/{id}"), Some(patch))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let stored = person(&f.dir, "kim@example.com").unwrap();
    assert_eq!(stored["profile"]["name"]["last"], "Park-Lee");
    assert_eq!(stored["enabled"], false);
    assert_eq!(stored["profile"]["title"], "Engineer");
    assert_eq!(
        f.dir.request_count().patches,
        0,
        "this API is updated by PUT only"
    );

    let mut replacement = entra_user("kim@example.com", "Kimberly", "Park");
    replacement["active"] = json!(true);
    let (status, _) = gw
        .call(Method::PUT, &format!("/Users/{id}"), Some(replacement))
        .await;
    assert_eq!(status, StatusCode::OK);
    let stored = person(&f.dir, "kim@example.com").unwrap();
    assert_eq!(stored["profile"]["name"]["first"], "Kimberly");
    assert_eq!(stored["enabled"], true);
    let (_, got) = gw.get(&format!("/Users/{id}")).await;
    assert!(
        got.get("entitlements").is_none(),
        "a PUT without entitlements clears them: {got}"
    );

    let (status, _) = gw.call(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(person(&f.dir, "kim@example.com").is_none());
    let (status, _) = gw.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn offset_paging_reaches_every_record() {
    let f = start().await;
    for i in 0..60 {
        f.gateway
            .create_user(json!({"userName": format!("p{i:02}@example.com")}))
            .await;
    }
    let (_, list) = f.gateway.get("/Users?startIndex=49&count=5").await;
    assert_eq!(list["totalResults"], 60);
    let names: Vec<&str> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "p48@example.com",
            "p49@example.com",
            "p50@example.com",
            "p51@example.com",
            "p52@example.com"
        ]
    );
}
