//! End-to-end tests of the sample legacy API over real HTTP on 127.0.0.1.

use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::{LegacyApi, RequestCounts, serve};

const KEY: &str = "test-key";

/// A served API; dropping it shuts the server down.
struct Running {
    api: LegacyApi,
    base: String,
    client: Client,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let api = LegacyApi::new(KEY);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, api.clone(), async move {
        let _ = stopped.await;
    }));
    Running {
        api,
        base,
        client: {
            crate::crypto::install_provider();
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
            .header("X-Api-Key", KEY);
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

    async fn raw(&self, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("X-Api-Key", KEY)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn create(&self, account: Value) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/accounts",
                Some(json!({ "account": account })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["account"].clone()
    }
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap()
}

#[tokio::test]
async fn create_applies_defaults_and_get_returns_it() {
    let s = start().await;
    let created = s
        .create(json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}))
        .await;
    assert_eq!(created["id"], 1);
    assert_eq!(created["email"], "ann@example.com");
    assert_eq!(created["status"], "active");
    assert_eq!(created["role"], "user");
    assert_eq!(created["licences"], json!([]));
    for nullable in [
        "department",
        "employee_number",
        "manager_id",
        "external_ref",
        "phone",
    ] {
        assert_eq!(created[nullable], Value::Null, "{nullable}");
    }
    let created_at = created["created_at"].as_str().unwrap();
    time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(created["updated_at"], created["created_at"]);

    let (status, body) = s.call(Method::GET, "/accounts/1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "account": created }));

    let second = s.create(json!({"email": "bob@example.com"})).await;
    assert_eq!(second["id"], 2);
    assert_eq!(second["first_name"], Value::Null);
    assert_eq!(s.api.accounts(), vec![created, second]);
}

#[tokio::test]
async fn create_validates_its_input() {
    let s = start().await;
    let cases = [
        (
            json!({"account": {}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email is required",
        ),
        (
            json!({"account": {"email": "nope"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email must be a valid email address, not \"nope\"",
        ),
        (
            json!({"account": {"email": "a@b.c", "first_name": 5}}),
            StatusCode::BAD_REQUEST,
            "first_name must be a string or null",
        ),
        (
            json!({"account": {"email": "a@b.c", "status": "gone"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "status must be \"active\" or \"suspended\", not \"gone\"",
        ),
        (
            json!({"account": {"email": "a@b.c", "nickname": "x"}}),
            StatusCode::BAD_REQUEST,
            "unknown field \"nickname\"",
        ),
        (
            json!({"account": {"email": "a@b.c"}, "extra": 1}),
            StatusCode::BAD_REQUEST,
            "unknown field \"extra\"",
        ),
        (
            json!({"email": "a@b.c"}),
            StatusCode::BAD_REQUEST,
            "body must have an \"account\" object",
        ),
        (
            json!({"account": {"email": "a@b.c", "licences": ["a", 1]}}),
            StatusCode::BAD_REQUEST,
            "licences must be an array of strings",
        ),
        (
            json!({"account": {"email": "a@b.c", "manager_id": "7"}}),
            StatusCode::BAD_REQUEST,
            "manager_id must be an integer or null",
        ),
        (
            json!({"account": {"email": "a@b.c", "manager_id": 7}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "manager_id 7 does not refer to an existing account",
        ),
        (
            json!({"account": {"email": "a@b.c", "role": null}}),
            StatusCode::BAD_REQUEST,
            "role must be a string",
        ),
    ];
    for (body, want_status, want_message) in cases {
        let (status, got) = s.call(Method::POST, "/accounts", Some(body.clone())).await;
        assert_eq!(status, want_status, "{body} -> {got}");
        let code = if want_status == StatusCode::BAD_REQUEST {
            "bad_request"
        } else {
            "invalid"
        };
        assert_eq!(got, error(code, want_message), "{body}");
    }
    let (status, got) = s.raw(Method::POST, "/accounts", "{\"account\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(got["error"]["code"], "bad_request");
    assert!(message(&got).starts_with("malformed JSON"), "{got}");
    assert!(s.api.accounts().is_empty());
}

#[tokio::test]
async fn duplicate_email_is_409_case_insensitively() {
    let s = start().await;
    let ann = s.create(json!({"email": "Ann@Example.com"})).await;
    let (status, body) = s
        .call(
            Method::POST,
            "/accounts",
            Some(json!({"account": {"email": "ann@example.COM"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, error("duplicate", "email already taken"));

    // Changing another account to a taken email is refused too; keeping one's own is fine.
    let bob = s.create(json!({"email": "bob@example.com"})).await;
    let bob_path = format!("/accounts/{}", bob["id"]);
    let (status, _) = s
        .call(
            Method::PATCH,
            &bob_path,
            Some(json!({"account": {"email": "ANN@example.com"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let ann_path = format!("/accounts/{}", ann["id"]);
    let (status, _) = s
        .call(
            Method::PUT,
            &ann_path,
            Some(json!({"account": {"email": "ann@example.com"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn patch_changes_only_given_fields_and_null_clears() {
    let s = start().await;
    let boss = s.create(json!({"email": "boss@example.com"})).await;
    s.create(json!({
        "email": "ann@example.com", "first_name": "Ann", "department": "Sales",
        "phone": "+1 555", "licences": ["crm"], "manager_id": boss["id"],
    }))
    .await;
    let (status, body) = s
        .call(
            Method::PATCH,
            "/accounts/2",
            Some(json!({"account": {"department": null, "status": "suspended", "role": "admin"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let account = &body["account"];
    assert_eq!(account["department"], Value::Null);
    assert_eq!(account["status"], "suspended");
    assert_eq!(account["role"], "admin");
    assert_eq!(account["first_name"], "Ann");
    assert_eq!(account["phone"], "+1 555");
    assert_eq!(account["licences"], json!(["crm"]));
    assert_eq!(account["manager_id"], 1);
    assert_eq!(account["email"], "ann@example.com");

    let (status, body) = s
        .call(
            Method::PATCH,
            "/accounts/2",
            Some(json!({"account": {"manager_id": 2}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        error("invalid", "manager_id cannot refer to the account itself")
    );
    let (status, body) = s
        .call(
            Method::PATCH,
            "/accounts/9",
            Some(json!({"account": {"role": "x"}})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, error("not_found", "account 9 not found"));
}

#[tokio::test]
async fn put_replaces_all_writable_fields() {
    let s = start().await;
    let before = s
        .create(json!({
            "email": "ann@example.com", "first_name": "Ann", "role": "admin",
            "licences": ["crm"], "external_ref": "X1", "status": "suspended",
        }))
        .await;
    let (status, body) = s
        .call(
            Method::PUT,
            "/accounts/1",
            Some(json!({"account": {"email": "ann.lee@example.com", "last_name": "Lee"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = &body["account"];
    assert_eq!(after["id"], 1);
    assert_eq!(after["email"], "ann.lee@example.com");
    assert_eq!(after["last_name"], "Lee");
    assert_eq!(after["first_name"], Value::Null);
    assert_eq!(after["role"], "user");
    assert_eq!(after["status"], "active");
    assert_eq!(after["licences"], json!([]));
    assert_eq!(after["external_ref"], Value::Null);
    assert_eq!(after["created_at"], before["created_at"]);

    let (status, body) = s
        .call(
            Method::PUT,
            "/accounts/1",
            Some(json!({"account": {"first_name": "Ann"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, error("invalid", "email is required"));
}

#[tokio::test]
async fn list_pages_by_id() {
    let s = start().await;
    for i in 1..=30 {
        s.create(json!({ "email": format!("user{i}@example.com") }))
            .await;
    }
    let (status, body) = s.call(Method::GET, "/accounts", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["meta"],
        json!({"page": 1, "per_page": 25, "total": 30})
    );
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 25);
    assert_eq!(data[0]["id"], 1);
    assert_eq!(data[24]["id"], 25);

    let (_, body) = s.call(Method::GET, "/accounts?page=2", None).await;
    let ids: Vec<&Value> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(ids, [26, 27, 28, 29, 30]);

    let (_, body) = s
        .call(Method::GET, "/accounts?page=3&per_page=7", None)
        .await;
    assert_eq!(body["meta"], json!({"page": 3, "per_page": 7, "total": 30}));
    assert_eq!(body["data"][0]["id"], 15);
    assert_eq!(body["data"].as_array().unwrap().len(), 7);

    let (_, body) = s.call(Method::GET, "/accounts?page=9", None).await;
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["meta"]["total"], 30);

    let (_, body) = s.call(Method::GET, "/accounts?per_page=100", None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 30);

    for (query, want) in [
        ("per_page=101", "per_page must be at most 100"),
        ("per_page=0", "per_page must be a positive integer"),
        ("page=0", "page must be a positive integer"),
        ("page=abc", "page must be a positive integer"),
        ("page=-1", "page must be a positive integer"),
    ] {
        let (status, body) = s
            .call(Method::GET, &format!("/accounts?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body, error("bad_request", want), "{query}");
    }
}

#[tokio::test]
async fn list_filters_by_email_case_insensitively() {
    let s = start().await;
    s.create(json!({"email": "ann@example.com"})).await;
    s.create(json!({"email": "Bob@Example.com"})).await;
    s.create(json!({"email": "bobby@example.com"})).await;
    let (status, body) = s
        .call(Method::GET, "/accounts?email=BOB%40example.COM", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["meta"], json!({"page": 1, "per_page": 25, "total": 1}));
    assert_eq!(body["data"][0]["id"], 2);
    assert_eq!(body["data"][0]["email"], "Bob@Example.com");

    let (_, body) = s
        .call(Method::GET, "/accounts?email=nobody@example.com", None)
        .await;
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["meta"]["total"], 0);
}

#[tokio::test]
async fn delete_removes_and_unknown_ids_are_404() {
    let s = start().await;
    s.create(json!({"email": "boss@example.com"})).await;
    s.create(json!({"email": "ann@example.com", "manager_id": 1}))
        .await;
    let (status, body) = s.call(Method::DELETE, "/accounts/1", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, body) = s.call(Method::GET, "/accounts/1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, error("not_found", "account 1 not found"));
    let (status, _) = s.call(Method::DELETE, "/accounts/1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The report loses its dangling manager.
    let accounts = s.api.accounts();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["manager_id"], Value::Null);

    for id in ["abc", "-1", "1.5", "+2", "99999999999999999999999"] {
        let (status, body) = s.call(Method::GET, &format!("/accounts/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(body, error("not_found", &format!("account {id} not found")));
    }
}

#[tokio::test]
async fn wrong_or_missing_api_key_is_401() {
    let s = start().await;
    let url = format!("{}/accounts", s.base);
    let want = error("unauthorized", "invalid api key");
    let missing = s.client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json::<Value>().await.unwrap(), want);
    for key in ["test-kez", "test-key-longer", ""] {
        let wrong = s
            .client
            .post(&url)
            .header("X-Api-Key", key)
            .json(&json!({"account": {"email": "a@b.c"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{key}");
        assert_eq!(wrong.json::<Value>().await.unwrap(), want);
    }
    assert!(s.api.accounts().is_empty());
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_format() {
    let s = start().await;
    let (status, body) = s.call(Method::GET, "/users", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, error("not_found", "no route for GET /api/v1/users"));
    let (status, body) = s.call(Method::DELETE, "/accounts", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn injected_failures_answer_500_without_side_effects() {
    let s = start().await;
    s.api.fail_next(2);
    let want = error("internal", "injected failure");
    for _ in 0..2 {
        let (status, body) = s
            .call(
                Method::POST,
                "/accounts",
                Some(json!({"account": {"email": "ann@example.com"}})),
            )
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, want);
    }
    assert!(s.api.accounts().is_empty());
    s.create(json!({"email": "ann@example.com"})).await;
    let (status, _) = s.call(Method::GET, "/accounts/1", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.call(Method::DELETE, "/accounts/1", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.api.request_count(),
        RequestCounts {
            gets: 1,
            posts: 3,
            deletes: 1,
            ..RequestCounts::default()
        }
    );
    assert_eq!(s.api.request_count().total(), 5);
    s.api.reset_request_count();
    assert_eq!(s.api.request_count(), RequestCounts::default());
}

#[tokio::test]
async fn delay_slows_every_answer_and_a_timed_out_write_never_lands() {
    let s = start().await;
    s.api.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    let (status, _) = s.call(Method::GET, "/accounts", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let impatient = s
        .client
        .post(format!("{}/accounts", s.base))
        .header("X-Api-Key", KEY)
        .timeout(Duration::from_millis(50))
        .json(&json!({"account": {"email": "ann@example.com"}}))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(s.api.accounts().is_empty());

    s.api.set_delay(Duration::ZERO);
    let started = Instant::now();
    s.create(json!({"email": "ann@example.com"})).await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn serve_stops_when_shutdown_resolves() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, LegacyApi::new(KEY), async move {
        let _ = stopped.await;
    }));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn members_store_any_fields_as_given_under_string_ids() {
    let s = start().await;
    let sent = json!({"login": "9f4eb973-not-an-email", "id": 7, "phones": [{"type": "home",
        "value": "x"}], "nested": {"a": [1, true, null]}, "n": 1.5});
    let (status, created) = s.call(Method::POST, "/members", Some(sent.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "mbr-1", "the server owns the id");
    for key in ["login", "phones", "nested", "n"] {
        assert_eq!(created[key], sent[key], "{key}");
    }
    // The same login again: no uniqueness check. An empty object: no required field.
    let (status, second) = s.call(Method::POST, "/members", Some(sent)).await;
    assert_eq!(
        (status, &second["id"]),
        (StatusCode::CREATED, &json!("mbr-2"))
    );
    let (status, empty) = s.call(Method::POST, "/members", Some(json!({}))).await;
    assert_eq!(
        (status, empty),
        (StatusCode::CREATED, json!({"id": "mbr-3"}))
    );

    let (status, read) = s.call(Method::GET, "/members/mbr-1", None).await;
    assert_eq!((status, read), (StatusCode::OK, created));
    assert_eq!(s.api.members().len(), 3);
    for body in ["[1]", "\"x\"", "{"] {
        let (status, _) = s.raw(Method::POST, "/members", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn members_put_replaces_patch_merges_delete_removes() {
    let s = start().await;
    let fields = json!({"login": "a", "name": {"given": "Ann", "family": "Lee"}, "x": 1});
    s.call(Method::POST, "/members", Some(fields)).await;
    let (status, patched) = s
        .call(
            Method::PATCH,
            "/members/mbr-1",
            Some(json!({"name": {"given": null, "middle": "M"}, "x": null, "y": [2]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        patched,
        json!({"id": "mbr-1", "login": "a", "name": {"family": "Lee", "middle": "M"}, "y": [2]})
    );
    let (status, replaced) = s
        .call(Method::PUT, "/members/mbr-1", Some(json!({"login": "b"})))
        .await;
    assert_eq!(
        (status, replaced),
        (StatusCode::OK, json!({"id": "mbr-1", "login": "b"}))
    );

    let (status, _) = s.call(Method::DELETE, "/members/mbr-1", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for id in ["mbr-1", "mbr-01", "1", "mbr-x"] {
        for method in [Method::GET, Method::DELETE, Method::PATCH] {
            let body = (method == Method::PATCH).then(|| json!({}));
            let (status, answer) = s
                .call(method.clone(), &format!("/members/{id}"), body)
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {id}: {answer}");
        }
    }
}

#[tokio::test]
async fn members_list_pages_by_offset_and_filters_by_any_field() {
    let s = start().await;
    for i in 0..5 {
        let team = if i % 2 == 0 { "even" } else { "odd" };
        s.call(
            Method::POST,
            "/members",
            Some(json!({"n": i.to_string(), "team": team})),
        )
        .await;
    }
    let (status, page) = s.call(Method::GET, "/members?offset=1&limit=2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 5);
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mbr-2", "mbr-3"]);

    let (_, odd) = s.call(Method::GET, "/members?team=odd&n=3", None).await;
    assert_eq!(odd["total"], 1);
    assert_eq!(odd["items"][0]["id"], "mbr-4");
    let (_, none) = s.call(Method::GET, "/members?team=Odd", None).await;
    assert_eq!(none, json!({"items": [], "total": 0}));
    for query in ["limit=0", "limit=501", "offset=-1", "limit=x"] {
        let (status, _) = s
            .call(Method::GET, &format!("/members?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
    }
}
