//! `scim-gateway reconcile` compares the store with the downstream and, with `--fix`, repairs:
//! correlations whose record is gone are dropped, records nobody correlated are adopted.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Stack, TOKEN, entra_user};

/// Runs `reconcile` off the test's runtime thread, which keeps serving the sample API
/// meanwhile, with the config named by SCIM_GATEWAY_CONFIG; its exit code, stdout and stderr.
async fn reconcile(
    config: &std::path::Path,
    env: &[(&'static str, String)],
    fix: bool,
) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
    command
        .arg("reconcile")
        .env("SCIM_GATEWAY_CONFIG", config)
        .env_remove("RUST_LOG")
        .env("SCIM_TOKEN", TOKEN);
    if fix {
        command.arg("--fix");
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn reconcile_reports_then_repairs_missing_and_orphaned_users() {
    let dir = std::env::temp_dir().join(format!("scim-gateway-reconcile-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("gateway.db");
    let store = format!("\n[store]\nurl = \"sqlite://{}\"\n", db.display());
    let stack = Stack::start_with(|t| format!("{t}{store}")).await;
    let kept = stack
        .create_user(entra_user("kept@example.com", "K", "T"))
        .await;
    let gone = stack
        .create_user(entra_user("gone@example.com", "G", "N"))
        .await;

    // Behind the gateway's back: one account deleted, one created.
    let (url, key) = (&stack.legacy_env()[0].1, &stack.legacy_env()[1].1);
    let http = reqwest::Client::new();
    let gone_id = gone["id"].as_str().unwrap();
    let r = http
        .delete(format!("{url}/api/v1/accounts/{gone_id}"))
        .header("X-Api-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = http
        .post(format!("{url}/api/v1/accounts"))
        .header("X-Api-Key", key)
        .json(&json!({"account": {"email": "orphan@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!("{}{store}", scim_gateway::cli::demo::EXAMPLE_CONFIG),
    )
    .unwrap();
    let env = stack.legacy_env();
    // Drift: exit status 1, progress on stderr, the report on stdout.
    let (code, report, progress) = reconcile(&config, env, false).await;
    assert_eq!(code, Some(1), "{report}{progress}");
    assert!(
        report.contains("1 missing") && report.contains("1 orphaned"),
        "{report}"
    );
    assert!(report.contains(gone_id), "{report}");
    assert!(
        progress.contains("reconcile: read 2 of 2 downstream users")
            && progress.contains("reconcile: comparing 2 downstream users with 2 in the store"),
        "{progress}"
    );
    let (code, report, _) = reconcile(&config, env, true).await;
    assert_eq!(code, Some(1), "drift was found, and fixed: {report}");
    assert!(report.contains("fixed"), "{report}");
    let (code, report, _) = reconcile(&config, env, false).await;
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("0 missing") && report.contains("0 orphaned"),
        "{report}"
    );
    // An error is 2, told apart from drift.
    let (code, _, err) = reconcile(&dir.join("absent.toml"), env, false).await;
    assert_eq!(code, Some(2), "{err}");

    assert_eq!(kept["userName"], "kept@example.com");
    let (_, found) = stack
        .get("/Users?filter=userName%20eq%20%22orphan@example.com%22")
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    std::fs::remove_dir_all(&dir).unwrap();
}
