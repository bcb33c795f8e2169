//! The five vendor profiles in examples/, each deployed the way a vendor deploys it (its
//! gateway.toml untouched but for the store path, Secret Tokens issued by the CLI) in front of
//! a fake API of its own shape, and driven through an Entra-shaped cycle: create, update,
//! group changes, deactivation, deletion, with the downstream state asserted after each step.

mod custom_extensions_basic_auth;
mod deactivate_never_delete;
pub(crate) mod names_and_email;
mod roles_and_licences;
mod users_only_per_location;

use std::path::PathBuf;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::process::{SpawnedGateway, TempDir, free_port, spawn_gateway};
use crate::support::profile_api::ProfileApi;
use crate::support::{Gateway, TOKEN, call_with, entra_user, start_gateway};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn example_path(profile: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(profile)
        .join("gateway.toml")
}

/// A profile's gateway, running on its own example file.
pub struct Deployed {
    /// The in-process gateway; `None` when the process serves (see [`Deployed::spawn`]).
    _gateway: Option<Gateway>,
    /// Scheme and address the gateway answers on.
    root: String,
    config: PathBuf,
    env: Vec<(&'static str, String)>,
    _dir: TempDir,
}

impl Deployed {
    /// Starts the gateway on `examples/<profile>/gateway.toml` with its store in a fresh
    /// directory; `env` gives the `${NAME}` values the file asks for.
    pub async fn start(profile: &str, env: Vec<(&'static str, String)>) -> Self {
        Self::start_edited(profile, env, str::to_owned).await
    }

    /// Like [`Deployed::start`], with the example file edited first (as an operator would).
    pub async fn start_edited(
        profile: &str,
        env: Vec<(&'static str, String)>,
        edit: impl FnOnce(&str) -> String,
    ) -> Self {
        let dir = TempDir::new(profile);
        let example = std::fs::read_to_string(example_path(profile)).unwrap();
        let text = edit(&example).replace(
            "url = \"sqlite://gateway.db\"",
            &format!("url = \"sqlite://{}\"", dir.0.join("gateway.db").display()),
        );
        let config = dir.0.join("gateway.toml");
        std::fs::write(&config, &text).unwrap();
        let gateway = start_gateway(&text, &env).await;
        Self {
            root: gateway.root.clone(),
            _gateway: Some(gateway),
            config,
            env,
            _dir: dir,
        }
    }

    /// The profile served by the `scim-gateway serve` process on its example file, edited
    /// by `edit` (listening on a free loopback port): for what needs the real process, a
    /// reload of the file above all. Stopped when dropped.
    pub async fn spawn(
        profile: &str,
        env: Vec<(&'static str, String)>,
        edit: impl FnOnce(&str) -> String,
    ) -> Spawned {
        scim_gateway::downstream::client::install_crypto_provider();
        let dir = TempDir::new(profile);
        let port = free_port();
        let config = dir.0.join("gateway.toml");
        let text = Spawned::localised(&dir, port, &edit(&example(profile)));
        std::fs::write(&config, text).unwrap();
        let process = spawn_gateway(&config, &env, port, None).await;
        Spawned {
            deployed: Self {
                _gateway: None,
                root: format!("http://127.0.0.1:{port}"),
                config,
                env,
                _dir: dir,
            },
            port,
            process,
        }
    }

    /// A Secret Token for `tenant`, issued by `scim-gateway token create` and shown once.
    pub async fn issue_token(&self, tenant: Option<&str>) -> String {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
        command
            .args([
                "token",
                "create",
                "--name",
                "entra",
                "--expires",
                "365d",
                "--config",
            ])
            .arg(&self.config)
            .env("SCIM_TOKEN", TOKEN)
            .env("RUST_LOG", "warn");
        if let Some(t) = tenant {
            command.args(["--tenant", t]);
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.lines().last().unwrap().trim().to_owned()
    }

    /// The SCIM client Entra is, for one Tenant URL path and `Authorization` value.
    pub fn client(&self, path: &str, authorization: String) -> Scim {
        scim_gateway::downstream::client::install_crypto_provider();
        Scim {
            client: reqwest::Client::new(),
            base: format!("{}{path}", self.root),
            authorization,
        }
    }
}

fn example(profile: &str) -> String {
    std::fs::read_to_string(example_path(profile)).unwrap()
}

/// A profile served by the gateway process.
pub struct Spawned {
    pub deployed: Deployed,
    port: u16,
    process: SpawnedGateway,
}

impl Spawned {
    /// The file as deployed: listening on `port`, its store in `dir`.
    fn localised(dir: &TempDir, port: u16, text: &str) -> String {
        text.replace(
            "listen = \"0.0.0.0:8080\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace(
            "url = \"sqlite://gateway.db\"",
            &format!("url = \"sqlite://{}\"", dir.0.join("gateway.db").display()),
        )
    }

    /// Writes the example file, edited by `edit`, over the served one and sends SIGHUP, as an
    /// operator reloading it would.
    pub fn reload(&self, profile: &str, edit: impl FnOnce(&str) -> String) {
        let text = Self::localised(&self.deployed._dir, self.port, &edit(&example(profile)));
        std::fs::write(&self.deployed.config, text).unwrap();
        let status = Command::new("kill")
            .args(["-HUP", &self.process.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -HUP failed");
    }

    /// Runs `scim-gateway <args> --config <file>` on the example file edited by `edit`, with
    /// the served store (the served file is not touched: no reload) and returns its stdout.
    pub async fn cli(
        &self,
        profile: &str,
        edit: impl FnOnce(&str) -> String,
        args: &[&str],
    ) -> String {
        let file = self.deployed._dir.0.join("cli.toml");
        let text = Self::localised(&self.deployed._dir, self.port, &edit(&example(profile)));
        std::fs::write(&file, text).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
        command
            .args(args)
            .arg("--config")
            .arg(file)
            .env("RUST_LOG", "warn");
        for (k, v) in &self.deployed.env {
            command.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// Waits up to 10 s for `done` to hold (a reload is seen within a second or so).
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    until(what, || std::future::ready(done())).await;
}

/// Like [`eventually`], for a check that has to ask over HTTP (a tenant a reload adds).
pub async fn until<F: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(10) {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("not within 10 s: {what}");
}

/// Entra ID's side of one app: its Tenant URL and credentials.
pub struct Scim {
    client: reqwest::Client,
    base: String,
    authorization: String,
}

impl Scim {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call_with(
            &self.client,
            &self.base,
            &self.authorization,
            method,
            path,
            body,
        )
        .await
    }

    /// POSTs a resource and returns it, asserting 201.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let (status, created) = self.call(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created
    }

    /// PATCHes with these operations, asserting success.
    pub async fn patch(&self, path: &str, operations: Value) {
        let (status, body) = self
            .call(
                Method::PATCH,
                path,
                Some(json!({"schemas": [PATCH_OP], "Operations": operations})),
            )
            .await;
        assert!(status.is_success(), "{status} {body}");
    }

    /// DELETEs, asserting 204.
    pub async fn delete(&self, path: &str) {
        let (status, body) = self.call(Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
}

/// Guides 001, 003 and 004: a user's userPrincipalName is not always their mail, and a product
/// that keys people on email (its `field`) must get the mail whichever source the admin gives
/// userName in Entra (userPrincipalName, or mail as the guides advise). Drives `entra` with
/// Entra's shapes and checks the records of `location` ("" for an API without locations).
pub async fn mail_reaches_the_product_whatever_feeds_user_name(
    entra: &Scim,
    api: &ProfileApi,
    location: &str,
    field: &str,
) {
    let count = || api.users_in(location).len();
    let before = count();
    let record = |mail: &str| {
        api.user_where(location, field, mail)
            .unwrap_or_else(|| panic!("a record with {field} {mail}: {:?}", api.users_in(location)))
    };

    // userName from userPrincipalName, which is not the mail: the product gets the mail.
    let upn = "kim.upn@contoso.onmicrosoft.com";
    let mut kim = entra_user(upn, "Kim", "Lee");
    kim["emails"] = json!([{"primary": true, "type": "work", "value": "Kim.Lee@Contoso.com"}]);
    let created = entra.create("/Users", kim).await;
    let kim_id = record("kim.lee@contoso.com")["id"].clone();
    assert_eq!(
        created["userName"], upn,
        "userName is kept as Entra sent it"
    );
    assert!(
        api.user_where(location, field, upn).is_none(),
        "the UPN is not the product's {field}"
    );
    // Entra's matching query (by userName) before its next write finds her.
    let (status, found) = entra
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22kim.upn%40contoso.onmicrosoft.com%22",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], created["id"]);
    // Her mail changes in Entra: the same record follows.
    entra
        .patch(
            &format!("/Users/{}", created["id"].as_str().unwrap()),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value",
                    "value": "Kim.Park@Contoso.com"}]),
        )
        .await;
    assert_eq!(record("kim.park@contoso.com")["id"], kim_id);
    assert_eq!(count(), before + 1);

    // userName from mail (the guides' advice): the same mail either way.
    let ray = entra
        .create("/Users", entra_user("Ray.Mail@Contoso.com", "Ray", "Mail"))
        .await;
    record("ray.mail@contoso.com");
    assert_eq!(ray["userName"], "Ray.Mail@Contoso.com");

    // No mail in Entra at all: userName stands in.
    let mut bare = entra_user("no.mail@contoso.com", "No", "Mail");
    bare.as_object_mut().unwrap().remove("emails");
    entra.create("/Users", bare).await;
    record("no.mail@contoso.com");
    assert_eq!(count(), before + 3);
}

/// Entra's group create: displayName and members.
pub fn entra_group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "externalId": format!("ext-{name}"),
        "members": members,
    })
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn every_profile_passes_check() {
    for entry in
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
            .unwrap()
    {
        let dir = entry.unwrap().path();
        let config = dir.join("gateway.toml");
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
        assert!(
            readme.contains("Entra"),
            "{}: README.md explains the Entra side",
            dir.display()
        );
        let text = std::fs::read_to_string(&config).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
        command.args(["check", "--config"]).arg(&config);
        // Give every ${NAME} the file uses a plausible value.
        for name in text.split("${").skip(1).filter_map(|s| s.split('}').next()) {
            let value = if name.ends_with("_URL") {
                "http://127.0.0.1:9"
            } else {
                "a-long-enough-secret-value"
            };
            command.env(name, value);
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            config.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
