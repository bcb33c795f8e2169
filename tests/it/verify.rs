//! `scim-gateway verify` as an operator runs it against a deployed gateway: every check passes
//! against the demo mapping and the fixture mapping, a broken mapping fails the check that shows
//! it (and only that one), and the probe leaves nothing behind in the downstream.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::fixture::Fixture;
use crate::support::{Stack, TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

/// Runs `verify --json` against `url`; its exit success and report.
pub async fn verify(url: &str) -> (bool, Value) {
    let url = url.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["verify", "--json", "--url", &url])
            .env("SCIM_TOKEN", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (out.status.success(), report)
}

/// The names of the checks with this outcome.
pub fn named(report: &Value, outcome: &str) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == outcome)
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_check_passes_against_the_demo_and_nothing_is_left() {
    let stack = Stack::start().await;
    let before = stack.legacy.accounts().len();
    let (ok, report) = verify(&stack.gateway.base).await;
    assert!(ok, "{report:#}");
    assert!(named(&report, "fail").is_empty() && named(&report, "skip").is_empty());
    assert!(named(&report, "pass").len() >= 18, "{report:#}");
    assert_eq!(stack.legacy.accounts().len(), before, "users left behind");
    let (status, groups) = stack.get("/Groups").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(groups["totalResults"], 0, "groups left behind: {groups}");
}

#[tokio::test]
async fn the_fixture_mapping_passes_without_groups_to_check() {
    let fixture = Fixture::start_with(str::to_owned).await;
    let (ok, report) = verify(&fixture.gateway.base).await;
    assert!(ok, "{report:#}");
    assert_eq!(named(&report, "skip"), ["groups"], "{report:#}");
    assert!(fixture.dir.users().is_empty(), "{:?}", fixture.dir.users());
}

#[tokio::test]
async fn a_broken_mapping_fails_the_check_that_shows_it() {
    // givenName goes downstream upper-cased: what Entra writes does not read back.
    let stack = Stack::start_with(|config| {
        config.replace(
            r#""name.givenName" = "/first_name""#,
            r#""name.givenName" = { path = "/first_name", case = "upper" }"#,
        )
    })
    .await;
    let (ok, report) = verify(&stack.gateway.base).await;
    assert!(!ok);
    assert_eq!(
        named(&report, "fail"),
        ["PATCH with a capitalised op (Replace name.givenName), read back"],
        "{report:#}"
    );
    let failed = &report["checks"][8];
    assert_eq!(
        failed["why"],
        r#"/name/givenName is "VERIFIED", expected "Verified""#
    );
    assert!(
        failed["request"]
            .as_str()
            .unwrap()
            .starts_with("GET /Users/")
    );
    assert!(stack.legacy.accounts().is_empty(), "users left behind");
}

#[tokio::test]
async fn an_unreachable_or_wrong_url_fails_every_check_and_says_why() {
    let stack = Stack::start().await;
    let (ok, report) = verify(&format!("{}/nowhere", stack.gateway.root)).await;
    assert!(!ok);
    let first = &report["checks"][0];
    assert_eq!(first["outcome"], "fail");
    assert!(
        first["why"].as_str().unwrap().contains("status 404"),
        "{first}"
    );
    assert!(!report.to_string().contains(TOKEN), "the token was echoed");
}
