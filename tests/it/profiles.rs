//! The five vendor profiles in examples/, each deployed the way a vendor deploys it (its
//! gateway.toml untouched but for the store path, Secret Tokens issued by the CLI) in front of
//! a fake API of its own shape, and driven through an Entra-shaped cycle: create, update,
//! group changes, deactivation, deletion, with the downstream state asserted after each step.

mod custom_extensions_basic_auth;
mod deactivate_never_delete;
mod names_and_email;
mod roles_and_licences;
mod users_only_per_location;

use std::path::PathBuf;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::process::TempDir;
use crate::support::{Gateway, TOKEN, start_gateway};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn example_path(profile: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(profile)
        .join("gateway.toml")
}

/// A profile's gateway, running on its own example file.
pub struct Deployed {
    pub gateway: Gateway,
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
            gateway,
            config,
            env,
            _dir: dir,
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
    pub fn client(&self, path: &str, authorization: String) -> Scim<'_> {
        Scim {
            gateway: &self.gateway,
            base: format!("{}{path}", self.gateway.root),
            authorization,
        }
    }
}

/// Entra ID's side of one app: its Tenant URL and credentials.
pub struct Scim<'a> {
    gateway: &'a Gateway,
    base: String,
    authorization: String,
}

impl Scim<'_> {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.gateway
            .call_at(&self.base, &self.authorization, method, path, body)
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
