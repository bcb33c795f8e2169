//! `scim-gateway init` as a vendor runs it: the binary reads an OpenAPI document and writes a
//! gateway.toml; `check --allow-missing-env` accepts the file as written; a gateway on that
//! file, untouched, serves an Entra-shaped cycle (match by userName, create with the enterprise
//! extension, PATCH with a capitalised `Replace`, disable with the string "False", delete)
//! against a fake of the described API over real HTTP.

use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::support::process::{TempDir, run_binary};
use crate::support::{Gateway, entra_user, start_gateway};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A test document of tests/fixtures/openapi/.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openapi")
        .join(name)
}

/// The binary run without the variables a written file reads, as on a vendor's laptop.
fn run(args: &[&str]) -> (bool, String) {
    run_binary(args, &[], &["SCIM_TOKEN", "API_URL", "API_KEY"])
}

/// A gateway.toml written by `init` from `document` (with `extra` arguments), already
/// accepted by `check --allow-missing-env`.
struct Written {
    path: PathBuf,
    text: String,
    summary: String,
    _dir: TempDir,
}

impl Written {
    /// Asserts that the file written contains `needle`.
    fn shows(&self, needle: &str) {
        assert!(
            self.text.contains(needle),
            "{needle:?} not in:\n{}",
            self.text
        );
    }
}

fn init(document: &Path, extra: &[&str]) -> Written {
    let dir = TempDir::new("init");
    let output = dir.0.join("gateway.toml");
    let output_arg = output.to_str().unwrap();
    let mut args = vec![
        "init",
        "--openapi",
        document.to_str().unwrap(),
        "-o",
        output_arg,
    ];
    args.extend_from_slice(extra);
    let (ok, summary) = run(&args);
    assert!(ok, "init failed: {summary}");
    assert!(summary.contains("next:"), "{summary}");
    assert!(summary.contains("check --config"), "{summary}");
    let (ok, checked) = run(&["check", "--config", output_arg, "--allow-missing-env"]);
    assert!(ok, "check refused the file init wrote: {checked}");
    let text = std::fs::read_to_string(&output).unwrap();
    Written {
        path: output.clone(),
        text,
        summary,
        _dir: dir,
    }
}

/// Where the cycle looks in the fake's records.
struct Downstream<'a> {
    /// The record whose login (or email) is this, as the fake holds it.
    find: &'a dyn Fn(&str) -> Option<Value>,
    given: &'a str,
    family: &'a str,
    /// The field and value of a disabled user.
    inactive: (&'a str, Value),
    department: Option<&'a str>,
}

impl Downstream<'_> {
    fn at(&self, user: &str, pointer: &str) -> Value {
        let record = (self.find)(user).unwrap_or_else(|| panic!("{user} is downstream"));
        record.pointer(pointer).cloned().unwrap_or(Value::Null)
    }
}

/// `scim-gateway verify` against the gateway: every check passes or is skipped.
async fn verified(gw: &Gateway) {
    let (ok, report) = crate::verify::verify(&gw.base).await;
    assert!(ok, "{report:#}");
    assert!(
        crate::verify::named(&report, "fail").is_empty(),
        "{report:#}"
    );
}

/// The requests Microsoft Entra ID sends for one user, with the downstream state asserted
/// after each.
async fn entra_cycle(gw: &Gateway, d: &Downstream<'_>) {
    const USER: &str = "ann.lee@example.com";
    let filter = "/Users?filter=userName%20eq%20%22ann.lee%40example.com%22";
    let (status, found) = gw.get(filter).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 0, "{found}");

    let created = gw.create_user(entra_user(USER, "Ann", "Lee")).await;
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(d.at(USER, d.given), "Ann");
    assert_eq!(d.at(USER, d.family), "Lee");
    if let Some(department) = d.department {
        assert_eq!(d.at(USER, department), "Sales");
    }
    assert_eq!(
        created["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales",
        "{created}"
    );

    let (status, found) = gw.get(filter).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], json!(id));

    let replace = |path: &str, value: Value| json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": path, "value": value}]});
    let item = format!("/Users/{id}");
    let (status, patched) = gw
        .call(
            Method::PATCH,
            &item,
            Some(replace("name.familyName", json!("Lee-Smith"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(d.at(USER, d.family), "Lee-Smith");
    assert_eq!(d.at(USER, d.given), "Ann", "a PATCH keeps the other fields");

    let (status, disabled) = gw
        .call(
            Method::PATCH,
            &item,
            Some(replace("active", json!("False"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(d.at(USER, d.inactive.0), d.inactive.1);
    let (_, read) = gw.get(&item).await;
    assert_eq!(read["active"], false, "{read}");

    let (status, _) = gw.call(Method::DELETE, &item, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!((d.find)(USER).is_none(), "deleted downstream");
    let (status, _) = gw.get(&item).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    verified(gw).await;
}

mod sample_api {
    //! The sample API's own document, fetched from `/openapi.json` as a demo user would.

    use super::*;
    use scim_gateway::tools::legacy::{self, LegacyApi};

    const KEY: &str = "sample-key-for-init";

    async fn serve() -> (LegacyApi, String) {
        scim_gateway::crypto::install_provider();
        let api = LegacyApi::new(KEY);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(legacy::serve(listener, api.clone(), std::future::pending()));
        (api, url)
    }

    /// `/openapi.json`, read without a key.
    async fn document(url: &str) -> Value {
        let answer = reqwest::get(format!("{url}{}", legacy::OPENAPI_PATH))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        answer.json().await.unwrap()
    }

    #[tokio::test]
    async fn its_openapi_document_yields_a_config_that_serves_an_entra_cycle() {
        let (api, url) = serve().await;
        let dir = TempDir::new("sample-openapi");
        let file = dir.0.join("openapi.json");
        std::fs::write(&file, document(&url).await.to_string()).unwrap();
        let written = init(&file, &[]);
        assert!(
            written.summary.contains("/api/v1/accounts"),
            "{}",
            written.summary
        );
        written.shows("envelope = \"/account\"");
        written.shows("#   /metadata: object");

        let gateway = start_gateway(
            &written.text,
            &[("API_URL", url.clone()), ("API_KEY", KEY.to_owned())],
        )
        .await;
        let find = |email: &str| {
            api.accounts()
                .into_iter()
                .find(|a| a["email"] == json!(email))
        };
        let downstream = Downstream {
            find: &find,
            given: "/first_name",
            family: "/last_name",
            inactive: ("/status", json!("suspended")),
            department: Some("/department"),
        };
        entra_cycle(&gateway, &downstream).await;
        let explained = explain_create(&written, &url).await;
        assert!(
            explained.contains("POST") && explained.contains("/api/v1/accounts"),
            "explain shows the create the document describes: {explained}"
        );
        assert!(explained.contains("\"first_name\":\"Ann\""), "{explained}");
        assert!(
            !explained.contains(KEY),
            "the API key is masked: {explained}"
        );
        let (ok, refused) = run(&[
            "init",
            "--openapi",
            file.to_str().unwrap(),
            "-o",
            written.path.to_str().unwrap(),
        ]);
        assert!(!ok, "an existing file is kept");
        assert!(refused.contains("--force"), "{refused}");
        let searched = api
            .requests()
            .iter()
            .any(|r| r.starts_with("GET /api/v1/accounts?") && r.contains("email=ann.lee"));
        assert!(
            searched,
            "userName eq is pushed down as ?email=: {:?}",
            api.requests()
        );
    }

    /// `explain` of an Entra create against the written file, with the sample API at `url`.
    async fn explain_create(written: &Written, url: &str) -> String {
        let config = written.path.to_str().unwrap().to_owned();
        let url = url.to_owned();
        let body = entra_user("kim@example.com", "Ann", "Park").to_string();
        let (ok, out) = tokio::task::spawn_blocking(move || {
            run_binary(
                &[
                    "explain", "--config", &config, "-X", "POST", "/Users", "-d", &body,
                ],
                &[
                    ("API_URL", &url),
                    ("API_KEY", KEY),
                    ("SCIM_TOKEN", "explain-token-0123456789"),
                ],
                &[],
            )
        })
        .await
        .unwrap();
        assert!(ok, "{out}");
        out
    }

    /// Every path and method of the document answers on the sample API: none is unknown to
    /// its router (404 "no route") or refused as a method it does not serve (405).
    #[tokio::test]
    async fn every_operation_of_its_document_is_served() {
        let (api, url) = serve().await;
        let doc = document(&url).await;
        let client = reqwest::Client::new();
        let send = |method: Method, path: String, body: Option<Value>| {
            let mut request = client
                .request(method, format!("{url}{path}"))
                .header("x-api-key", KEY);
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            request.send()
        };
        let account = send(
            Method::POST,
            "/api/v1/accounts".into(),
            Some(json!({"account": {"email": "probe@example.com"}})),
        )
        .await
        .unwrap();
        assert_eq!(account.status(), StatusCode::CREATED);
        send(
            Method::POST,
            "/api/v1/members".into(),
            Some(json!({"a": "b"})),
        )
        .await
        .unwrap();
        send(
            Method::POST,
            "/api/v1/teams".into(),
            Some(json!({"team": {"name": "T"}})),
        )
        .await
        .unwrap();
        let (member, team, account) = (
            api.members()[0]["id"].clone(),
            api.teams()[0].id,
            api.accounts()[0]["id"].clone(),
        );
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            let id = match path.as_str() {
                p if p.starts_with("/api/v1/members") => member.as_str().unwrap().to_owned(),
                p if p.starts_with("/api/v1/teams") => team.to_string(),
                _ => account.to_string(),
            };
            let concrete = path
                .replace("{id}", &id)
                .replace("{account}", &account.to_string());
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_none() {
                    continue;
                }
                operations += 1;
                let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let answer = send(m, concrete.clone(), Some(json!({}))).await.unwrap();
                let status = answer.status();
                let body: Value = answer.json().await.unwrap_or(Value::Null);
                let message = body
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {body}"
                );
                assert!(!message.starts_with("no route"), "{method} {path}: {body}");
            }
        }
        assert!(
            operations >= 15,
            "the document describes {operations} operations"
        );
        let list: Value = send(Method::GET, "/api/v1/accounts".into(), None)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for field in doc
            .pointer("/components/schemas/AccountPage/properties")
            .and_then(Value::as_object)
            .unwrap()
            .keys()
        {
            assert!(
                list.get(field).is_some(),
                "the list answer lacks {field}: {list}"
            );
        }
    }
}

mod fixture_api {
    //! The fixture API (tests/it/support/fake_downstream.rs) from an OpenAPI 3.1 YAML document.

    use super::*;
    use crate::support::fake_downstream::{FakeDirectory, serve};

    const TOKEN: &str = "directory-token-for-init";

    #[tokio::test]
    async fn its_yaml_document_yields_a_config_that_serves_an_entra_cycle() {
        let written = init(&fixture("directory.yaml"), &[]);
        written.shows("update = \"PUT /v2/people/{id}\"");
        written.shows("paging = \"offset\"");
        written.shows("max_page_size = 50");
        written.shows("#   /tags: string");

        let dir = FakeDirectory::new(TOKEN);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, dir.clone(), std::future::pending()));
        let gateway = start_gateway(
            &written.text,
            &[("API_URL", url), ("API_TOKEN", TOKEN.to_owned())],
        )
        .await;
        let find = |login: &str| crate::fixture::person(&dir, login);
        let downstream = Downstream {
            find: &find,
            given: "/profile/name/first",
            family: "/profile/name/last",
            inactive: ("/enabled", json!(false)),
            department: None,
        };
        entra_cycle(&gateway, &downstream).await;
        assert_eq!(
            dir.request_count().patches,
            0,
            "this API is updated by PUT only"
        );
    }
}

mod described_apis {
    //! Three more shapes, each served by the schemaless fake of tests/it/support/profile_api.rs
    //! in the shape its document describes.

    use super::*;
    use crate::support::profile_api::{
        CURSOR_PAGE_CAP, Extras, IdKind, ProfileApi, Shape, TokenEndpoint,
    };

    /// Runs `init` on `document`, serves the cycle against `api` with `env`, and returns the
    /// file written.
    async fn round_trip(
        document: &str,
        api: &ProfileApi,
        env: &[(&str, String)],
        downstream: Downstream<'_>,
    ) -> Written {
        let written = init(&fixture(document), &[]);
        let mut env = env.to_vec();
        env.push(("API_URL", api.url.clone()));
        let gateway = start_gateway(&written.text, &env).await;
        entra_cycle(&gateway, &downstream).await;
        written
    }

    #[tokio::test]
    async fn a_swagger_2_document_with_basic_auth_and_put_only_serves_an_entra_cycle() {
        use base64::Engine;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode("svc-hr:hr-password-123");
        let api = ProfileApi::start(Shape {
            users: "/hr/api/staff",
            groups: None,
            id_field: "staffId",
            id_kind: IdKind::Number,
            envelope: Some("staff"),
            unique: Some("userName"),
            required: &["userName"],
            auth: ("authorization", format!("Basic {credentials}")),
            patch: false,
        })
        .await;
        let find = |login: &str| api.user_where("", "userName", login);
        let env = [
            ("API_USERNAME", "svc-hr".to_owned()),
            ("API_PASSWORD", "hr-password-123".to_owned()),
        ];
        let downstream = Downstream {
            find: &find,
            given: "/givenName",
            family: "/surname",
            inactive: ("/active", json!(false)),
            department: Some("/dept"),
        };
        let written = round_trip("staff-swagger2.json", &api, &env, downstream).await;
        written.shows("id = \"/staffId\"");
        written.shows("update = \"PUT /hr/api/staff/{id}\"");
        let searched = api
            .requests()
            .iter()
            .any(|r| r.uri.starts_with("/hr/api/staff?") && r.uri.contains("userName=ann.lee"));
        assert!(searched, "userName eq is pushed down as ?userName=");
        assert!(api.requests().iter().all(|r| r.method != "PATCH"));
    }

    #[tokio::test]
    async fn a_document_of_all_of_parts_and_ref_chains_serves_an_entra_cycle() {
        let api = ProfileApi::start(Shape {
            users: "/api/v3/employees",
            groups: None,
            id_field: "id",
            id_kind: IdKind::Text,
            envelope: Some("data"),
            unique: Some("work_email"),
            required: &["work_email"],
            auth: ("x-auth-token", "workforce-key-0123".to_owned()),
            patch: true,
        })
        .await;
        let find = |email: &str| api.user_where("", "work_email", email);
        let env = [("API_KEY", "workforce-key-0123".to_owned())];
        let downstream = Downstream {
            find: &find,
            given: "/given_name",
            family: "/family_name",
            inactive: ("/state", json!("DISABLED")),
            department: Some("/department"),
        };
        let written = round_trip("employees-allof.yaml", &api, &env, downstream).await;
        written.shows("envelope = \"/data\"");
        written.shows("map_read = { \"INVITED\" = true }");
        written.shows("#   /shift_pattern: string");
        let searched = api
            .requests()
            .iter()
            .any(|r| r.uri.contains("work_email=ann.lee"));
        assert!(searched, "userName eq is pushed down as ?work_email=");
    }

    #[tokio::test]
    async fn a_cursor_paged_api_behind_oauth2_client_credentials_serves_an_entra_cycle() {
        let endpoint = TokenEndpoint {
            path: "/oauth2/token",
            client_id: "gateway-client",
            client_secret: "cloud-secret-0123",
            token: "issued-token-0123",
        };
        let api = ProfileApi::start_with(
            Shape {
                users: "/v1/users",
                groups: None,
                id_field: "user_id",
                id_kind: IdKind::Text,
                envelope: None,
                unique: Some("username"),
                required: &["username"],
                auth: ("authorization", "Bearer issued-token-0123".to_owned()),
                patch: true,
            },
            Extras {
                cursor: true,
                token_endpoint: Some(endpoint),
            },
        )
        .await;
        let find = |login: &str| api.user_where("", "username", login);
        let env = [
            ("API_CLIENT_ID", "gateway-client".to_owned()),
            ("API_CLIENT_SECRET", "cloud-secret-0123".to_owned()),
        ];
        let downstream = Downstream {
            find: &find,
            given: "/first_name",
            family: "/last_name",
            inactive: ("/status", json!("SUSPENDED")),
            department: Some("/department"),
        };
        let written = round_trip("users-cursor-oauth.json", &api, &env, downstream).await;
        let gateway = start_gateway(
            &init(&fixture("users-cursor-oauth.json"), &[]).text,
            &[env[0].clone(), env[1].clone(), ("API_URL", api.url.clone())],
        )
        .await;
        for name in ["a", "b", "c", "d", "e"] {
            gateway
                .create_user(json!({"userName": format!("{name}@example.com")}))
                .await;
        }
        let (_, all) = gateway.get("/Users?count=50").await;
        assert_eq!(
            all["totalResults"], 5,
            "every cursor page is followed: {all}"
        );
        let pages = api
            .requests()
            .iter()
            .filter(|r| r.uri.starts_with("/v1/users?") && r.uri.contains("cursor=c"))
            .count();
        assert!(
            pages >= 2,
            "pages of {CURSOR_PAGE_CAP} are read by their cursor"
        );
        written.shows("paging = \"cursor\"");
        written.shows("token_url = \"${API_URL}/oauth2/token\"");
        let cursor_read = api
            .requests()
            .iter()
            .any(|r| r.uri.starts_with("/v1/users?") && r.uri.contains("username=ann.lee"));
        assert!(cursor_read, "userName eq is pushed down as ?username=");
    }
}
