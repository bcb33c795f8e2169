//! Fault injection over real HTTP: while an Entra-like client provisions users, the sample API
//! answers 500 in bursts, 429 with Retry-After, breaks connections after creating, is slower
//! than `timeout_ms`, or dies and comes back. No user is lost or duplicated, every answer is
//! 2xx or a 429/503 with Retry-After and a SCIM error body, the API never sees more than the
//! configured pace, and the circuit breaker opens and closes as configured.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use scim_gateway::tools::legacy::{Fault, LegacyApi};
use serde_json::{Value, json};
use tokio::time::timeout;

use crate::support::{Answer, Stack, TOKEN, assert_scim_error, entra_user};

/// Longer than any of these tests takes: past it, something hangs.
const HANG: Duration = Duration::from_secs(120);

/// Quick retries and a short breaker, so that faults play out in seconds.
const QUICK: &str = "retries = { max = 3, base_ms = 20, max_ms = 200 }\n\
                     breaker = { failures = 5, open_ms = 300 }";

/// The example config with `lines` added to `[downstream]`.
fn downstream(lines: &str) -> impl FnOnce(&str) -> String + '_ {
    move |text| {
        let anchor = "timeout_ms = 10000\n";
        assert!(text.contains(anchor), "the example config changed");
        text.replacen(anchor, &format!("{anchor}{lines}\n"), 1)
    }
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// Asserts a retriable SCIM error: 429 or 503, a SCIM error body and Retry-After seconds.
fn assert_retry_later(status: StatusCode, retry_after: Option<&str>, body: &Value) -> u64 {
    assert!(
        matches!(status.as_u16(), 429 | 503),
        "{status} is neither 2xx nor a retriable 429/503: {body}"
    );
    assert_scim_error(status, body, status.as_u16(), None);
    let seconds = retry_after
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("a {status} without Retry-After seconds: {body}"));
    assert!(seconds >= 1, "Retry-After {seconds}");
    seconds
}

/// A user as its client got it provisioned.
#[derive(Debug)]
struct Provisioned {
    user_name: String,
    id: String,
    /// Acknowledged with 201 (rather than found by a later match).
    created: bool,
}

/// A SCIM client that provisions like Entra ID: match by userName, create when missing, and
/// after a 429 or 503 try the user again later (Entra waits minutes; this waits 100 ms).
/// It checks every answer on the way.
#[derive(Clone)]
struct Entra {
    http: reqwest::Client,
    base: String,
    /// 429 and 503 answers seen.
    retried: Arc<AtomicUsize>,
}

impl Entra {
    fn of(stack: &Stack) -> Self {
        Self {
            // Longer than the gateway's request deadline: a timeout here is a hang there.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(40))
                .build()
                .unwrap(),
            base: stack.base.clone(),
            retried: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// One SCIM call: the answer when it is 2xx, `None` for a retriable 429/503 (checked);
    /// anything else fails the test.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Option<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("{method} {path}: {status} with a non-JSON body {text:?}: {e}")
        });
        if status.is_success() {
            return Some(body);
        }
        assert_retry_later(status, retry_after.as_deref(), &body);
        self.retried.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Provisions one user, coming back to it until it is there.
    async fn provision(&self, user_name: String, given: String) -> Provisioned {
        let filter = format!("/Users?filter=userName%20eq%20%22{user_name}%22");
        loop {
            if let Some(found) = self.call(Method::GET, &filter, None).await {
                match found["totalResults"].as_u64() {
                    Some(0) => {
                        let user = entra_user(&user_name, &given, "Resilient");
                        if let Some(created) = self.call(Method::POST, "/Users", Some(user)).await {
                            let id = created["id"].as_str().unwrap().to_owned();
                            return Provisioned {
                                user_name,
                                id,
                                created: true,
                            };
                        }
                    }
                    Some(1) => {
                        let id = found["Resources"][0]["id"].as_str().unwrap().to_owned();
                        return Provisioned {
                            user_name,
                            id,
                            created: false,
                        };
                    }
                    other => panic!("{user_name} matches {other:?} users: {found}"),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Provisions `users` users named `<prefix>-<i>@example.com`, `concurrency` at a time.
    async fn provision_all(
        self,
        prefix: &str,
        users: usize,
        concurrency: usize,
    ) -> Vec<Provisioned> {
        let next = Arc::new(AtomicUsize::new(1));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (entra, next, prefix) = (self.clone(), next.clone(), prefix.to_owned());
            workers.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i > users {
                        return done;
                    }
                    let user_name = format!("{prefix}-{i}@example.com");
                    done.push(entra.provision(user_name, format!("U{i}")).await);
                }
            });
        }
        let mut all = Vec::new();
        while let Some(done) = workers.join_next().await {
            all.extend(done.unwrap());
        }
        all
    }
}

/// Provisions `users` users while `chaos` plays on the sample API over and over; stops it
/// when every user is provisioned. Also says how many 429/503 answers the client got. Faults
/// come in time windows, as a real outage does: a fault left pending while nothing reaches the
/// API (an open breaker) would fail every probe forever.
async fn provision_under<F, Fut>(stack: &Stack, users: usize, chaos: F) -> (Vec<Provisioned>, usize)
where
    F: Fn(LegacyApi) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let chaos = tokio::spawn({
        let (api, stop) = (stack.legacy.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::SeqCst) {
                chaos(api.clone()).await;
            }
        }
    });
    let entra = Entra::of(stack);
    let retried = entra.retried.clone();
    let done = timeout(HANG, entra.provision_all("res", users, 8))
        .await
        .expect("provisioning hangs");
    stop.store(true, Ordering::SeqCst);
    chaos.await.unwrap();
    stack.legacy.clear_faults();
    stack.legacy.set_delay(Duration::ZERO);
    (done, retried.load(Ordering::Relaxed))
}

/// Every user is downstream exactly once, no other record was made, and each reads back
/// through SCIM under the id its client got.
async fn assert_each_once(stack: &Stack, done: &[Provisioned], users: usize) {
    assert_eq!(done.len(), users);
    let accounts = stack.legacy.accounts();
    for user in done {
        let copies = accounts
            .iter()
            .filter(|a| a["email"] == json!(user.user_name))
            .count();
        assert_eq!(copies, 1, "{} is downstream {copies} times", user.user_name);
        let (status, got) = stack.get(&format!("/Users/{}", user.id)).await;
        assert_eq!(status, StatusCode::OK, "{user:?}: {got}");
        assert_eq!(got["userName"], json!(user.user_name));
    }
    assert_eq!(accounts.len(), users, "records nobody asked for");
}

/// Against an API that takes duplicates (so a second POST would show), for a userName that is
/// the mail and for one that is not (Entra's userPrincipalName; the API keys on email).
#[tokio::test]
async fn a_create_the_api_carried_out_before_failing_is_adopted_not_repeated() {
    let stack = Stack::start_with(downstream(QUICK)).await;
    stack.legacy.accept_duplicates(true);
    let cases = [
        (Fault::ResetAfter, "half-done-0@example.com"),
        (Fault::FailAfter, "half-done-1@example.com"),
        (Fault::ResetAfter, "Half.Done2@corp.example"),
        (Fault::FailAfter, "Half.Done3@corp.example"),
    ];
    for (i, (fault, user_name)) in cases.into_iter().enumerate() {
        let email = format!("half-done-{i}@example.com");
        let mut user = entra_user(user_name, "Half", "Done");
        user["emails"] = json!([{"type": "work", "primary": true, "value": email}]);
        stack.legacy.reset_request_count();
        stack.legacy.inject(1, Some(Method::POST), fault.clone());
        let (status, created) = stack.call(Method::POST, "/Users", Some(user)).await;
        assert_eq!(status, StatusCode::CREATED, "{fault:?}: {created}");
        assert_eq!(
            stack.legacy.faults_played(),
            i as u64 + 1,
            "{fault:?} was not played"
        );
        assert_eq!(
            stack.legacy.request_count().posts,
            1,
            "{fault:?} {user_name}: posted again"
        );
        let copies: Vec<_> = stack
            .legacy
            .accounts()
            .into_iter()
            .filter(|a| a["email"] == json!(email))
            .collect();
        assert_eq!(copies.len(), 1, "{fault:?} {user_name}");
        assert_eq!(created["id"], json!(copies[0]["id"].to_string()));
        let (status, got) = stack
            .get(&format!("/Users/{}", created["id"].as_str().unwrap()))
            .await;
        assert_eq!(
            (status, &got["userName"]),
            (StatusCode::OK, &json!(user_name))
        );
    }
}

#[tokio::test]
async fn bursts_of_500_neither_lose_nor_duplicate_users() {
    let stack = Stack::start_with(downstream(QUICK)).await;
    // An API without a uniqueness check: a second POST would leave a second record.
    stack.legacy.accept_duplicates(true);
    let (done, retried) = provision_under(&stack, 30, |api| async move {
        api.fail_next(4);
        tokio::time::sleep(Duration::from_millis(100)).await;
        api.clear_faults();
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    assert!(stack.legacy.faults_played() > 0 && retried > 0);
    assert_each_once(&stack, &done, 30).await;
}

#[tokio::test]
async fn rate_limit_answers_with_retry_after_neither_lose_nor_duplicate_users() {
    let stack = Stack::start_with(downstream(QUICK)).await;
    // An API without a uniqueness check: a second POST would leave a second record.
    stack.legacy.accept_duplicates(true);
    let (done, retried) = provision_under(&stack, 20, |api| async move {
        let fault = Fault::Refuse {
            status: 429,
            retry_after: Some("1".into()),
        };
        api.inject(2, None, fault);
        tokio::time::sleep(Duration::from_millis(300)).await;
        api.clear_faults();
        tokio::time::sleep(Duration::from_millis(1200)).await;
    })
    .await;
    assert!(
        stack.legacy.faults_played() > 0,
        "no 429 was answered ({retried} retries)"
    );
    assert_each_once(&stack, &done, 20).await;
}

#[tokio::test]
async fn connections_broken_after_creating_neither_lose_nor_duplicate_users() {
    let stack = Stack::start_with(downstream(QUICK)).await;
    // An API without a uniqueness check: a second POST would leave a second record.
    stack.legacy.accept_duplicates(true);
    let (done, retried) = provision_under(&stack, 30, |api| async move {
        api.inject(2, Some(Method::POST), Fault::ResetAfter);
        tokio::time::sleep(Duration::from_millis(100)).await;
        api.inject(2, Some(Method::POST), Fault::FailAfter);
        tokio::time::sleep(Duration::from_millis(100)).await;
        api.clear_faults();
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    assert!(
        stack.legacy.faults_played() > 0,
        "no fault was played ({retried} retries)"
    );
    assert_each_once(&stack, &done, 30).await;
}

#[tokio::test]
async fn a_downstream_slower_than_timeout_ms_neither_loses_nor_duplicates_users() {
    let stack = Stack::start_with(|t| {
        downstream(QUICK)(t).replace("timeout_ms = 10000", "timeout_ms = 300")
    })
    .await;
    let (done, retried) = provision_under(&stack, 20, |api| async move {
        api.set_delay(Duration::from_millis(700));
        tokio::time::sleep(Duration::from_millis(800)).await;
        api.set_delay(Duration::ZERO);
        tokio::time::sleep(Duration::from_millis(400)).await;
    })
    .await;
    assert!(retried > 0, "the slow phases never timed out");
    assert_each_once(&stack, &done, 20).await;
}

#[tokio::test]
async fn a_downstream_that_dies_mid_cycle_keeps_every_acknowledged_user() {
    let mut stack = Stack::start_with(downstream(QUICK)).await;
    let entra = Entra::of(&stack);
    let retried = entra.retried.clone();
    let cycle = tokio::spawn(entra.provision_all("dies", 40, 8));
    timeout(HANG, async {
        while stack.legacy.accounts().len() < 10 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the cycle never got going");
    stack.stop_legacy().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.restart_legacy().await;
    let done = timeout(HANG, cycle)
        .await
        .expect("the cycle hangs")
        .unwrap();
    assert!(done.iter().filter(|u| u.created).count() >= 10);
    assert!(
        retried.load(Ordering::Relaxed) > 0,
        "the outage went unnoticed"
    );
    assert_each_once(&stack, &done, 40).await;
}

#[tokio::test]
async fn over_its_rate_the_downstream_gets_the_configured_pace_and_nobody_a_503() {
    let stack = Stack::start_with(downstream(
        "rate_limit = { requests_per_second = 10, burst = 2 }\nmax_concurrent = 4",
    ))
    .await;
    let entra = Entra::of(&stack);
    let retried = entra.retried.clone();
    // 16 users in flight at once, two downstream calls each (match, create).
    let done = timeout(HANG, entra.provision_all("paced", 30, 16))
        .await
        .expect("provisioning hangs");
    assert_eq!(
        retried.load(Ordering::Relaxed),
        0,
        "calls over the rate waited, not failed"
    );
    assert_each_once(&stack, &done, 30).await;
    let peak = stack.legacy.peak_per_second();
    assert!(peak <= 10 + 2, "{peak} calls within one second");
}

#[tokio::test]
async fn a_call_that_would_wait_past_max_queue_wait_is_a_503_with_retry_after() {
    let stack = Stack::start_with(downstream(
        "rate_limit = { requests_per_second = 0.2, burst = 1 }\nmax_queue_wait_ms = 100",
    ))
    .await;
    a_second_call_is_given_up_with_a_503(&stack, Duration::from_millis(1000)).await;
}

/// Makes one call that uses up the downstream's rate, then asserts that the next is answered
/// 503 with Retry-After within `within`, without being sent.
async fn a_second_call_is_given_up_with_a_503(stack: &Stack, within: Duration) {
    let url = format!("{}/Users?count=1", stack.base);
    let first = stack
        .send_as(Method::GET, &url, Some(&bearer()), None)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let started = std::time::Instant::now();
    let second = timeout(
        HANG,
        stack.send_as(Method::GET, &url, Some(&bearer()), None),
    )
    .await
    .unwrap();
    assert_retry_later(second.status, second.retry_after.as_deref(), &second.body);
    assert!(
        started.elapsed() < within,
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(
        stack.legacy.request_count().total(),
        1,
        "the busy call was sent"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_pauses_every_call_and_the_call_is_retried() {
    let stack = Stack::start_with(downstream(QUICK)).await;
    stack.legacy.inject(
        1,
        Some(Method::POST),
        Fault::Refuse {
            status: 429,
            retry_after: Some("1".into()),
        },
    );
    let create = stack.call(
        Method::POST,
        "/Users",
        Some(entra_user("paused@example.com", "Pau", "Sed")),
    );
    let list_meanwhile = async {
        while stack.legacy.request_count().posts == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stack.get("/Users?count=1").await
    };
    let ((created, body), (listed, _)) =
        timeout(HANG, async { tokio::join!(create, list_meanwhile) })
            .await
            .unwrap();
    assert_eq!(created, StatusCode::CREATED, "{body}");
    assert_eq!(listed, StatusCode::OK);
    assert_eq!(stack.legacy.request_count().posts, 2);
    assert_eq!(stack.legacy.accounts().len(), 1);
    let arrivals = stack.legacy.arrivals();
    assert_eq!(arrivals.len(), 3, "refused POST, its retry, the list");
    for later in &arrivals[1..] {
        assert!(
            later.duration_since(arrivals[0]) >= Duration::from_secs(1),
            "a call went out during the pause the API asked for"
        );
    }
}

#[tokio::test]
async fn a_503_with_an_http_date_pauses_until_that_date() {
    let stack = Stack::start_with(downstream(QUICK)).await;
    let until = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    stack.legacy.inject(
        1,
        None,
        Fault::Refuse {
            status: 503,
            retry_after: Some(until),
        },
    );
    let (status, body) = timeout(HANG, stack.get("/Users?count=1")).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let arrivals = stack.legacy.arrivals();
    assert_eq!(arrivals.len(), 2);
    assert!(arrivals[1].duration_since(arrivals[0]) >= Duration::from_secs(1));
}

#[tokio::test]
async fn the_breaker_opens_after_the_configured_failures_and_a_good_probe_closes_it() {
    let stack = Stack::start_with(downstream(
        "retries = { max = 0 }\nbreaker = { failures = 3, open_ms = 1000 }",
    ))
    .await;
    let url = format!("{}/Users?count=1", stack.base);
    let auth = bearer();
    let list = || stack.send_as(Method::GET, &url, Some(&auth), None);
    let calls = || stack.legacy.request_count().total();
    let assert_503 = |answer: &Answer| {
        assert_retry_later(answer.status, answer.retry_after.as_deref(), &answer.body)
    };
    let open_up = || async {
        stack.legacy.fail_next(3);
        for _ in 0..3 {
            assert_503(&list().await);
        }
        let before = calls();
        let refused = list().await;
        assert!(
            assert_503(&refused) <= 1,
            "Retry-After is the open time left"
        );
        assert_eq!(calls(), before, "an open breaker let a call through");
    };

    open_up().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let probe = list().await;
    assert_eq!(probe.status, StatusCode::OK, "{probe:?}");
    // Closed again: one failure does not open it.
    stack.legacy.fail_next(1);
    assert_503(&list().await);
    let before = calls();
    assert_eq!(list().await.status, StatusCode::OK);
    assert_eq!(calls(), before + 1);

    // A failed probe opens it again at once.
    open_up().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stack.legacy.fail_next(1);
    let before = calls();
    assert_503(&list().await);
    assert_eq!(calls(), before + 1, "the probe went out");
    assert_503(&list().await);
    assert_eq!(
        calls(),
        before + 1,
        "after a failed probe the breaker is open again"
    );
}

/// The example config with a request deadline of `ms` and `lines` added to `[downstream]`.
fn deadline_and_downstream(ms: u64, lines: &str) -> impl FnOnce(&str) -> String + '_ {
    move |text| {
        let anchor = "request_timeout_ms = 30000\n";
        assert!(text.contains(anchor), "the example config changed");
        downstream(lines)(&text.replacen(anchor, &format!("request_timeout_ms = {ms}\n"), 1))
    }
}

#[tokio::test]
async fn retries_stop_in_time_for_a_retriable_503_before_the_request_deadline() {
    // Ten retries 0.4 to 0.8 s apart would take seconds; the request has 1.5 s.
    let stack = Stack::start_with(deadline_and_downstream(
        1500,
        "retries = { max = 10, base_ms = 400, max_ms = 400 }\n\
         breaker = { failures = 100 }",
    ))
    .await;
    stack.legacy.inject(
        100,
        None,
        Fault::Refuse {
            status: 502,
            retry_after: None,
        },
    );
    let url = format!("{}/Users?count=1", stack.base);
    let started = std::time::Instant::now();
    let answer = timeout(
        HANG,
        stack.send_as(Method::GET, &url, Some(&bearer()), None),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    assert_retry_later(answer.status, answer.retry_after.as_deref(), &answer.body);
    assert!(
        took < Duration::from_millis(1500),
        "answered after {took:?}"
    );
    let sent = stack.legacy.request_count().total();
    assert!(
        (2..=4).contains(&sent),
        "{sent} calls: the retries should go on while time is left, and only then"
    );
}

#[tokio::test]
async fn a_queue_wait_longer_than_the_request_has_left_is_a_503_not_a_timeout() {
    // max_queue_wait_ms is 5 s by default; the request has 1.5 s.
    let stack = Stack::start_with(deadline_and_downstream(
        1500,
        "rate_limit = { requests_per_second = 0.1, burst = 1 }",
    ))
    .await;
    a_second_call_is_given_up_with_a_503(&stack, Duration::from_millis(1500)).await;
}
