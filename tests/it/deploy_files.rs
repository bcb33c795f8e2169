//! The deployment files (deploy/) match the code: their gateway.toml files pass `check`, the
//! ports they publish are the ones the configs listen on, and the probe paths they name answer
//! 200 on a gateway started from the compose file's own gateway.toml on PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;

use crate::support::pg::Schema;
use crate::support::{Stack, TOKEN, call_with, entra_user, start_gateway};

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `scim-gateway check` of a deploy/ config with `env` set; its output, asserting success.
fn check(path: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(deploy(path))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{path}: {text}");
    text
}

/// The port of a config's `server.listen`.
fn listen_port(path: &str) -> String {
    let config: toml::Value = toml::from_str(&read(path)).unwrap();
    let listen = config["server"]["listen"].as_str().unwrap();
    listen.rsplit(':').next().unwrap().to_owned()
}

#[test]
fn the_deploy_configs_pass_check_and_publish_the_ports_they_listen_on() {
    let store = ("STORE_URL", "postgres://scim:scim@postgres:5432/scim");
    let token = ("SCIM_TOKEN", "a-token-of-sixteen-or-more");
    check(
        "compose/gateway.toml",
        &[
            token,
            store,
            ("LEGACY_URL", "http://legacy:9090"),
            ("LEGACY_API_KEY", "k"),
        ],
    );
    check("kubernetes/gateway.toml", &[token, store, ("API_KEY", "k")]);

    let port = listen_port("kubernetes/gateway.toml");
    let deployment = read("kubernetes/deployment.yaml");
    assert!(
        deployment.contains(&format!("containerPort: {port}")),
        "{deployment}"
    );
    for probe in ["path: /healthz", "path: /readyz"] {
        assert!(deployment.contains(probe), "{probe} missing");
    }
    let port = listen_port("compose/gateway.toml");
    let compose = read("compose.yaml");
    assert!(
        compose.contains(&format!("http://127.0.0.1:{port}/readyz")),
        "{compose}"
    );
    let nginx = read("compose/nginx.conf");
    for gateway in ["gateway-a", "gateway-b"] {
        assert!(
            nginx.contains(&format!("server {gateway}:{port};")),
            "{nginx}"
        );
        assert!(
            compose.contains(&format!("  {gateway}: *gateway")),
            "{compose}"
        );
    }
    // Every secret the Kubernetes config names is in the Secret's example.
    let secrets = read("kubernetes/secrets.env.example");
    for name in ["SCIM_TOKEN", "API_KEY", "STORE_URL"] {
        assert!(secrets.contains(&format!("{name}=")), "{name} missing");
    }
}

#[tokio::test]
async fn the_compose_config_serves_scim_and_answers_the_probes_on_postgresql() {
    let stack = Stack::start().await;
    let schema = Schema::create().await;
    let mut env = stack.legacy_env().to_vec();
    env.push(("STORE_URL", schema.url()));
    let gateway = start_gateway(&read("compose/gateway.toml"), &env).await;
    for probe in ["/healthz", "/readyz"] {
        let response = gateway
            .client
            .get(format!("{}{probe}", gateway.root))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{probe}");
    }
    let (status, created) = call_with(
        &gateway.client,
        &gateway.base,
        &format!("Bearer {TOKEN}"),
        reqwest::Method::POST,
        "/Users",
        Some(entra_user("compose@example.com", "Com", "Pose")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(stack.account("compose@example.com").is_some());
    drop(gateway);
    schema.drop_now().await;
}
