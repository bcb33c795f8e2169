//! Shared helpers: start the sample legacy API (or another downstream) and the gateway in front
//! of it on loopback, and speak SCIM to it.

pub mod fake_downstream;
pub mod pg;
pub mod pki;
pub mod process;
pub mod profile_api;
pub mod raw;
pub mod recording;

use std::net::SocketAddr;

use reqwest::{Method, StatusCode};
use scim_gateway::cli::demo::EXAMPLE_CONFIG;
use scim_gateway::server;
use scim_gateway::settings::Config;
use scim_gateway::tools::legacy::{self, LegacyApi};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The token the test gateways accept.
pub const TOKEN: &str = "test-token-0123456789abcdef";
const LEGACY_KEY: &str = "legacy-key-for-tests";

/// A running gateway and a client for it.
pub struct Gateway {
    /// Tenant URL of the first tenant, e.g. `http://127.0.0.1:4711/scim/v2`.
    pub base: String,
    /// Scheme and address, e.g. `http://127.0.0.1:4711`.
    pub root: String,
    pub client: reqwest::Client,
    /// Where the gateway listens.
    pub addr: SocketAddr,
    /// The operator console's root, e.g. `http://127.0.0.1:4712`, when the config has
    /// `[admin] listen` (it is served on a fresh loopback port over the same store).
    pub console: Option<String>,
    _stop: watch::Sender<()>,
    served: JoinHandle<()>,
}

/// The sample legacy API and a gateway configured by the example gateway.toml.
pub struct Stack {
    pub legacy: LegacyApi,
    pub gateway: Gateway,
    config: String,
    env: Vec<(&'static str, String)>,
    legacy_addr: SocketAddr,
    /// The sample API's server: its stop switch and task; `None` while it is stopped.
    legacy_server: Option<(watch::Sender<()>, JoinHandle<std::io::Result<()>>)>,
}

/// Serves `api` on `listener` until the returned switch is dropped.
fn serve_legacy(
    listener: TcpListener,
    api: &LegacyApi,
) -> (watch::Sender<()>, JoinHandle<std::io::Result<()>>) {
    // Every test starts the sample API or a gateway before its first TLS-capable client.
    scim_gateway::crypto::install_provider();
    let (stop, stopped) = stopper();
    (
        stop,
        tokio::spawn(legacy::serve(listener, api.clone(), stopped)),
    )
}

/// A shutdown future for a server task.
fn stopper() -> (watch::Sender<()>, impl Future<Output = ()> + Send + 'static) {
    let (tx, mut rx) = watch::channel(());
    (tx, async move {
        let _ = rx.changed().await;
    })
}

/// Starts a gateway with `config_text`; `env` resolves `${NAME}` (TOKEN is `SCIM_TOKEN`).
pub async fn start_gateway(config_text: &str, env: &[(&str, String)]) -> Gateway {
    scim_gateway::crypto::install_provider();
    let lookup = |name: &str| {
        if name == "SCIM_TOKEN" {
            return Some(TOKEN.to_owned());
        }
        env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    };
    let mut config =
        Config::parse("test.toml", config_text, &lookup).expect("test config is valid");
    if config.store_url == "sqlite://gateway.db" {
        config.store_url = "sqlite::memory:".into();
    }
    let store = server::open_store(&config).await.expect("store opens");
    let (app, tenants) = server::app_with_tenants(&config, store.clone())
        .await
        .expect("gateway starts");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = stopper();
    let console = match config.admin.listen {
        Some(_) => {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let root = format!("http://{}", listener.local_addr().unwrap());
            let serving = server::serving::ServingState::new(config.clone(), tenants);
            let router = scim_gateway::admin::router(serving, store).unwrap();
            let mut stopped = stop.subscribe();
            tokio::spawn(scim_gateway::admin::serve(listener, router, async move {
                let _ = stopped.changed().await;
            }));
            Some(root)
        }
        None => None,
    };
    let served = tokio::spawn(
        server::serve(listener, server::LiveApp::new(app), &config.server, stopped)
            .expect("the listener starts"),
    );
    Gateway {
        base: format!(
            "{}://{addr}{}",
            config.server.scheme(),
            config.tenants[0].base_path
        ),
        root: format!("{}://{addr}", config.server.scheme()),
        client: reqwest::Client::new(),
        addr,
        console,
        _stop: stop,
        served,
    }
}

impl Stack {
    /// The sample API behind a gateway running the example gateway.toml.
    pub async fn start() -> Self {
        Self::start_with(|text| text.to_owned()).await
    }

    /// Like [`Stack::start`], with the example config edited first.
    pub async fn start_with(edit: impl FnOnce(&str) -> String) -> Self {
        let legacy = LegacyApi::new(LEGACY_KEY);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let legacy_addr = listener.local_addr().unwrap();
        let legacy_server = Some(serve_legacy(listener, &legacy));
        let env = vec![
            ("LEGACY_URL", format!("http://{legacy_addr}")),
            ("LEGACY_API_KEY", LEGACY_KEY.to_owned()),
        ];
        let config = edit(EXAMPLE_CONFIG);
        let gateway = start_gateway(&config, &env).await;
        Self {
            legacy,
            gateway,
            config,
            env,
            legacy_addr,
            legacy_server,
        }
    }

    /// Stops the sample API as a dying server does: new connections are refused and open
    /// ones are closed once their request is answered. Its data stays for
    /// [`Stack::restart_legacy`].
    pub async fn stop_legacy(&mut self) {
        if let Some((stop, served)) = self.legacy_server.take() {
            drop(stop);
            tokio::time::timeout(std::time::Duration::from_secs(30), served)
                .await
                .expect("the sample API stops")
                .unwrap()
                .unwrap();
        }
    }

    /// Serves the sample API again, on the same address and with the data it had.
    pub async fn restart_legacy(&mut self) {
        self.stop_legacy().await;
        let listener = TcpListener::bind(self.legacy_addr)
            .await
            .expect("the sample API's address is free again");
        self.legacy_server = Some(serve_legacy(listener, &self.legacy));
    }

    /// Stops the gateway and starts a new one on the same config, store and sample API.
    pub async fn restart_gateway(&mut self) {
        self.gateway = start_gateway(&self.config, &self.env).await;
    }

    /// The sample API's address, for configs run by a spawned gateway binary.
    pub fn legacy_env(&self) -> &[(&'static str, String)] {
        &self.env
    }

    /// The downstream account with this email.
    pub fn account(&self, email: &str) -> Option<Value> {
        self.legacy
            .accounts()
            .into_iter()
            .find(|a| a["email"] == json!(email))
    }
}

impl std::ops::Deref for Stack {
    type Target = Gateway;
    fn deref(&self) -> &Gateway {
        &self.gateway
    }
}

impl Gateway {
    /// Begins shutdown; the returned task ends when the listener has drained.
    pub fn shut_down(self) -> JoinHandle<()> {
        self.served
    }

    /// Sends an authenticated SCIM request; returns the status and the JSON body (Null if none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let auth = format!("Bearer {TOKEN}");
        self.call_at(&self.base, &auth, method, path, body).await
    }

    /// Like [`Gateway::call`], to another Tenant URL with another `Authorization` value.
    pub async fn call_at(
        &self,
        base: &str,
        authorization: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call_with(&self.client, base, authorization, method, path, body).await
    }

    /// Sends a request to `url` with this `Authorization` header (none when `None`); returns
    /// the status, the `WWW-Authenticate` and `Retry-After` headers and the JSON body.
    pub async fn send_as(
        &self,
        method: Method,
        url: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("gateway answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (challenge, retry_after) = (header("www-authenticate"), header("retry-after"));
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            challenge,
            retry_after,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    /// Creates a user and returns its SCIM resource, asserting 201.
    pub async fn create_user(&self, user: Value) -> Value {
        let (status, body) = self.call(Method::POST, "/Users", Some(user)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

/// What [`Gateway::send_as`] saw.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub challenge: Option<String>,
    pub retry_after: Option<String>,
    pub body: Value,
}

/// An Entra-shaped create body (core + enterprise extension).
pub fn entra_user(user_name: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": format!("ext-{given}"),
        "userName": user_name,
        "active": true,
        "displayName": format!("{given} {family}"),
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("{given} {family}"), "familyName": family, "givenName": given},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "employeeNumber": "E-1"}
    })
}

/// A SCIM request to `{base}{path}` with this `Authorization` value; the status and the
/// JSON body (null when empty).
pub async fn call_with(
    client: &reqwest::Client,
    base: &str,
    authorization: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client
        .request(method, format!("{base}{path}"))
        .header("authorization", authorization);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("gateway answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON answer {text:?}: {e}"))
    };
    (status, json)
}

/// Asserts a SCIM error body with this status and scimType.
pub fn assert_scim_error(status: StatusCode, body: &Value, want: u16, scim_type: Option<&str>) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{body}"
    );
    assert_eq!(body["status"], json!(want.to_string()), "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}
