//! The Entra-like provisioning cycle (`scim_gateway::cycle`) against the sample API behind the
//! gateway: nothing lost or duplicated, every account suspended downstream; a rerun matches
//! the existing users instead of creating them again; a wrong token stops before any write.

use std::collections::HashMap;

use scim_gateway::cycle::{self, CycleError, CycleOptions, Phase};

use crate::support::{Stack, TOKEN};

fn options(stack: &Stack, users: usize, prefix: &str) -> CycleOptions {
    CycleOptions {
        users,
        concurrency: 16,
        prefix: prefix.into(),
        ..CycleOptions::new(stack.base.clone(), TOKEN)
    }
}

#[tokio::test]
async fn a_200_user_cycle_loses_and_duplicates_nothing() {
    let stack = Stack::start().await;
    let report = match cycle::run(options(&stack, 200, "it")).await {
        Ok(report) => report,
        Err(CycleError::Failed(report)) => panic!("{}\n{report}", report.failure_message()),
        Err(e) => panic!("{e}"),
    };
    assert!(report.passed(), "{report}");
    assert!(report.failures.is_empty(), "{report}");
    let v = &report.verification;
    assert_eq!((v.expected, v.found), (200, 200), "{report}");
    assert!(v.lost.is_empty() && v.duplicates.is_empty(), "{report}");
    assert!(v.repeated.is_empty() && v.unexpected.is_empty(), "{report}");
    assert!(v.wrong.is_empty(), "{report}");
    assert_eq!((report.created, report.matched), (200, 0));
    let calls: HashMap<Phase, usize> = report.phases.iter().map(|p| (p.phase, p.calls)).collect();
    assert_eq!(calls[&Phase::Initial], 600, "GET + POST + PATCH per user");
    assert_eq!(calls[&Phase::Delta], 400, "GET + PATCH per user");
    assert_eq!(calls[&Phase::Disable], 200, "PATCH per user");

    let accounts = stack.legacy.accounts();
    assert_eq!(accounts.len(), 200);
    let by_email: HashMap<&str, &serde_json::Value> = accounts
        .iter()
        .map(|a| (a["email"].as_str().unwrap(), a))
        .collect();
    assert_eq!(by_email.len(), 200, "one account per email");
    let manager = &by_email["it-1@example.com"]["id"];
    for i in 1..=200 {
        let account = by_email[format!("it-{i}@example.com").as_str()];
        assert_eq!(account["status"], "suspended", "{account}");
        assert_eq!(account["last_name"], format!("Delta{i}"), "{account}");
        assert_eq!(account["first_name"], format!("Given{i}"), "{account}");
        assert_eq!(account["employee_number"], format!("E{i}"), "{account}");
        assert_eq!(
            account["department"],
            format!("Dept{}", i % 10),
            "{account}"
        );
        if i > 1 {
            assert_eq!(&account["manager_id"], manager, "{account}");
        }
    }
}

#[tokio::test]
async fn a_rerun_matches_existing_users_and_a_larger_earlier_cycle_fails_verification() {
    let stack = Stack::start().await;
    cycle::run(options(&stack, 5, "re"))
        .await
        .expect("first cycle passes");
    let Err(CycleError::Failed(report)) = cycle::run(options(&stack, 4, "re")).await else {
        panic!("user re-5 is left over from the first cycle and must fail verification");
    };
    assert_eq!((report.created, report.matched), (0, 4), "{report}");
    assert!(report.failures.is_empty(), "{report}");
    let v = &report.verification;
    assert_eq!(v.found, 4, "{report}");
    assert_eq!(v.unexpected, ["re-5@example.com"], "{report}");
    assert!(v.lost.is_empty() && v.duplicates.is_empty() && v.wrong.is_empty());
    assert!(
        report.to_string().contains("unexpected: re-5@example.com"),
        "{report}"
    );
    assert_eq!(stack.legacy.accounts().len(), 5, "no user created twice");
}

#[tokio::test]
async fn a_wrong_token_stops_at_the_test_connection_without_showing_the_token() {
    let stack = Stack::start().await;
    let secret = "not-the-right-token-0123456789";
    let options = CycleOptions {
        users: 3,
        ..CycleOptions::new(stack.base.clone(), secret)
    };
    let err = cycle::run(options).await.expect_err("401");
    let text = err.to_string();
    assert!(matches!(err, CycleError::Connection(_)), "{text}");
    assert!(
        text.contains("401") && text.contains("Secret Token"),
        "{text}"
    );
    assert!(!text.contains(secret), "{text}");
    assert!(stack.legacy.accounts().is_empty());
}

#[tokio::test]
async fn cleanup_deletes_every_user_the_cycle_made() {
    let stack = Stack::start().await;
    let report = cycle::run(CycleOptions {
        cleanup: true,
        ..options(&stack, 30, "gone")
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.removed, Some(30), "{report}");
    assert!(stack.legacy.accounts().is_empty(), "users left behind");
    assert!(report.to_string().contains("cleanup: 30 users deleted"));
}

#[tokio::test]
async fn a_tenant_url_off_this_machine_needs_yes_and_nothing_is_sent() {
    for url in [
        "http://192.0.2.10:8080/scim/v2",
        "https://scim.example.com/scim/v2",
    ] {
        let refused = cycle::run(CycleOptions::new(url, TOKEN)).await;
        match refused {
            Err(CycleError::InvalidOptions(why)) => assert!(why.contains("--yes"), "{why}"),
            other => panic!("{url}: {:?}", other.map(|r| r.to_string())),
        }
    }
    for url in ["http://localhost:9/scim/v2", "http://[::1]:9/scim/v2"] {
        // Loopback passes the check and fails later, connecting.
        let outcome = cycle::run(CycleOptions::new(url, TOKEN)).await;
        assert!(
            matches!(outcome, Err(CycleError::Connection(_))),
            "{url}: {:?}",
            outcome.map(|r| r.to_string())
        );
    }
}
