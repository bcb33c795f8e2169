//! Clients that race, over real HTTP: Entra sends no If-Match, so writes of one resource that
//! arrive together must all succeed (RFC 7644 §3.14 gives 412 only to a failed If-Match),
//! each answer showing its own change; a DELETE among PATCHes leaves the user gone for every
//! later read; and a read never shows a state older than a write already answered.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::groups::{PATCH_OP, group, user};
use crate::support::{Stack, entra_user};

fn given_name(value: &str) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "name.givenName", "value": value}
    ]})
}

fn version(resource: &Value) -> u64 {
    resource["meta"]["version"]
        .as_str()
        .and_then(|v| v.trim_start_matches("W/").trim_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("no version in {resource}"))
}

#[tokio::test]
async fn a_delete_among_patches_leaves_the_user_gone_for_every_read() {
    let stack = Arc::new(Stack::start().await);
    for round in 0..100 {
        let email = format!("race{round}@example.com");
        let id = user(&stack, &email).await;
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..13 {
            let (stack, id) = (stack.clone(), id.clone());
            tasks.spawn(async move {
                let path = format!("/Users/{id}");
                match n {
                    // The DELETE goes in the middle of the PATCHes.
                    5 => ("DELETE", stack.call(Method::DELETE, &path, None).await),
                    // Readers run alongside until they see the user gone.
                    10.. => {
                        let mut answer = stack.get(&path).await;
                        for _ in 0..200 {
                            if answer.0 == StatusCode::NOT_FOUND {
                                break;
                            }
                            assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
                            answer = stack.get(&path).await;
                        }
                        ("GET", answer)
                    }
                    n => {
                        let patch = given_name(&format!("n{n}"));
                        ("PATCH", stack.call(Method::PATCH, &path, Some(patch)).await)
                    }
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (method, (status, body)) = done.unwrap();
            match method {
                "DELETE" => assert_eq!(status, StatusCode::NO_CONTENT, "{body}"),
                _ => assert!(
                    status == StatusCode::OK || status == StatusCode::NOT_FOUND,
                    "round {round}: {method} answered {status}: {body}"
                ),
            }
        }
        assert!(
            stack.account(&email).is_none(),
            "round {round}: still downstream"
        );
        let (status, body) = stack.get(&format!("/Users/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "round {round}: {body}");
        let filter = format!("/Users?filter=userName%20eq%20%22{email}%22");
        let (status, body) = stack.get(&filter).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["totalResults"], 0, "round {round}: {body}");
    }
}

#[tokio::test]
async fn fifty_patches_of_one_user_without_if_match_all_succeed() {
    let stack = Arc::new(Stack::start().await);
    let id = user(&stack, "busy@example.com").await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let (stack, id) = (stack.clone(), id.clone());
        tasks.spawn(async move {
            let value = format!("g{n}");
            let (status, body) = stack
                .call(
                    Method::PATCH,
                    &format!("/Users/{id}"),
                    Some(given_name(&value)),
                )
                .await;
            (value, status, body)
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (value, status, body) = done.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"]["givenName"], json!(value), "its own change");
        answers.push(body);
    }
    let versions: BTreeSet<u64> = answers.iter().map(version).collect();
    assert_eq!(versions.len(), 50, "each write made a version of its own");
    let last = answers.iter().max_by_key(|a| version(a)).unwrap();
    let (_, now) = stack.get(&format!("/Users/{id}")).await;
    assert_eq!(now["name"]["givenName"], last["name"]["givenName"]);
    assert_eq!(
        stack.account("busy@example.com").unwrap()["first_name"],
        last["name"]["givenName"],
        "the last write won downstream too"
    );
}

#[tokio::test]
async fn fifty_patches_of_one_group_without_if_match_all_succeed() {
    let stack = Arc::new(Stack::start().await);
    let g = group(&stack, "Crowd").await;
    let mut ids = Vec::new();
    for n in 0..25 {
        ids.push(user(&stack, &format!("crowd{n}@example.com")).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let (stack, g) = (stack.clone(), g.clone());
        // Renames and member adds interleaved, as Entra's group sync sends them.
        let op = match ids.get(n / 2) {
            Some(member) if n % 2 == 0 => {
                json!({"op": "add", "path": "members", "value": [{"value": member}]})
            }
            _ => json!({"op": "replace", "path": "displayName", "value": format!("Crowd {n}")}),
        };
        tasks.spawn(async move {
            let body = json!({"schemas": [PATCH_OP], "Operations": [op]});
            stack
                .call(Method::PATCH, &format!("/Groups/{g}"), Some(body))
                .await
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (status, body) = done.unwrap();
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (_, now) = stack.get(&format!("/Groups/{g}")).await;
    let members: BTreeSet<&str> = now["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, ids.iter().map(String::as_str).collect());
    assert!(now["displayName"].as_str().unwrap().starts_with("Crowd "));
}

#[tokio::test]
async fn a_read_never_goes_back_before_an_answered_write() {
    let stack = Arc::new(Stack::start().await);
    let id = stack
        .create_user(entra_user("clock@example.com", "t0", "Clock"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The number of the last PATCH answered; a read that starts after it must show it.
    let answered = Arc::new(AtomicU64::new(0));
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (stack, id, answered) = (stack.clone(), id.clone(), answered.clone());
        readers.spawn(async move {
            let mut seen = 0;
            let mut reads = 0;
            while answered.load(Ordering::SeqCst) < 60 {
                let floor = answered.load(Ordering::SeqCst);
                let (status, body) = stack.get(&format!("/Users/{id}")).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let shown: u64 = body["name"]["givenName"].as_str().unwrap()[1..]
                    .parse()
                    .unwrap();
                assert!(shown >= floor, "read t{shown} after t{floor} was answered");
                assert!(shown >= seen, "went back from t{seen} to t{shown}");
                seen = shown;
                reads += 1;
            }
            reads
        });
    }
    for n in 1..=60u64 {
        let (status, body) = stack
            .call(
                Method::PATCH,
                &format!("/Users/{id}"),
                Some(given_name(&format!("t{n}"))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        answered.store(n, Ordering::SeqCst);
    }
    while let Some(reads) = readers.join_next().await {
        assert!(reads.unwrap() > 0);
    }
}
