//! README's "From your API to Entra in ten minutes", run as written: a profile copied into a
//! fresh folder, its secrets in the environment, then `check`, `explain`, `token create`,
//! `serve` and `verify`, each command line as the README shows it, against a fake of the
//! profile's API. If a step of the quick path breaks, this test names it.

use std::path::Path;
use std::process::{Command, Output};

use crate::profiles::names_and_email::{API_TOKEN, shape};
use crate::support::process::{TempDir, free_port, spawn_gateway};
use crate::support::profile_api::ProfileApi;

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

/// Runs `scim-gateway args` in `dir` with `env`, as the README's shell lines do.
async fn run(dir: &Path, env: &[(&'static str, String)], args: &[&str]) -> Output {
    let (dir, env) = (dir.to_owned(), env.to_vec());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .current_dir(&dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout(step: &str, out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "step {step} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test]
async fn the_readme_quick_path_ends_with_a_passing_verify() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for line in [
        "cp examples/names-and-email/gateway.toml .",
        "scim-gateway check --config gateway.toml",
        "scim-gateway explain --config gateway.toml -X POST /Users",
        "scim-gateway token create --config gateway.toml --name entra",
        "scim-gateway serve --config gateway.toml",
        "scim-gateway verify --url",
    ] {
        assert!(
            readme.contains(line),
            "README's quick path no longer shows {line:?}"
        );
    }
    scim_gateway::downstream::client::install_crypto_provider();
    let api = ProfileApi::start(shape()).await;
    let dir = TempDir::new("quick-path");
    // 1. cp examples/names-and-email/gateway.toml . (listening on a free port here)
    let port = free_port();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/names-and-email/gateway.toml"
    );
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace("0.0.0.0:8080", &format!("127.0.0.1:{port}"));
    std::fs::write(dir.0.join("gateway.toml"), text).unwrap();
    // 2. export PRODUCT_API_URL=... PRODUCT_API_TOKEN=...
    let env = vec![
        ("PRODUCT_API_URL", api.url.clone()),
        ("PRODUCT_API_TOKEN", API_TOKEN.to_owned()),
    ];
    // 3. check
    let checked = stdout(
        "check",
        &run(&dir.0, &env, &["check", "--config", "gateway.toml"]).await,
    );
    assert!(checked.contains("gateway.toml: ok"), "{checked}");
    // 4. explain an Entra create
    let user = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com","name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"type":"work","primary":true,"value":"ann@example.com"}],"active":true}"#;
    std::fs::write(dir.0.join("user.json"), user).unwrap();
    let args = [
        "explain",
        "--config",
        "gateway.toml",
        "-X",
        "POST",
        "/Users",
        "-d",
        "@user.json",
    ];
    let explained = stdout("explain", &run(&dir.0, &env, &args).await);
    assert!(
        explained.contains("POST") && explained.contains("/api/users"),
        "{explained}"
    );
    assert!(api.users_in("").is_empty(), "explain wrote downstream");
    // 5. token create
    let args = [
        "token",
        "create",
        "--config",
        "gateway.toml",
        "--name",
        "entra",
    ];
    let issued = stdout("token create", &run(&dir.0, &env, &args).await);
    let token = issued.lines().last().unwrap_or_default().trim().to_owned();
    assert!(token.starts_with("sgw_"), "{issued}");
    // 6. serve (here without the TLS terminator)
    let config = dir.0.join("gateway.toml");
    let _serving = spawn_gateway(&config, &env, port, None).await;
    // 7. verify
    let mut verify_env = env.clone();
    verify_env.push(("SCIM_TOKEN", token));
    let url = format!("http://127.0.0.1:{port}/scim/v2");
    let verified = stdout(
        "verify",
        &run(&dir.0, &verify_env, &["verify", "--url", &url]).await,
    );
    assert!(verified.contains(" 0 failed"), "{verified}");
    assert!(api.users_in("").is_empty(), "verify left users behind");
}
