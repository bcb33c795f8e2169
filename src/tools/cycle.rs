//! `scim-gateway entra-cycle`: a SCIM client that drives a gateway the way Microsoft Entra ID's
//! provisioning service does, then checks the end state through SCIM alone.
//!
//! Why: Entra's traffic has a shape that unit tests and wrk runs do not reproduce: a matching
//! `GET /Users?filter=userName eq "..."` before every write, a PATCH right after each create
//! (for attributes such as manager), capitalised ops with `"False"` strings, and many users in
//! flight at once. Running a whole cycle (initial, delta, disable) for N users and then listing
//! every user shows what a real tenant would hit: lost or duplicated users, wrong attributes,
//! failed calls, and the throughput and latency of each phase.
//!
//! The cycle is a library function ([`run`]) so tests can run it in-process; the CLI
//! ([`run_cli`]) prints progress on stderr and a summary on stdout. The Secret Token is only
//! ever sent as `Authorization: Bearer`; it is never printed or put into errors.

mod client;
mod stats;
mod summary;
mod verify;

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};

use client::{Lookup, ScimClient};
pub use stats::{Latency, OpStats, PhaseReport};
pub use verify::{Verification, WrongUser};

/// The enterprise extension's schema URN (department, employeeNumber, manager).
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core User schema URN.
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The domain of every generated userName.
const DOMAIN: &str = "example.com";

/// What to run: the target and the size of the cycle.
#[derive(Clone)]
pub struct CycleOptions {
    /// Tenant URL, i.e. the SCIM base such as `http://127.0.0.1:8080/scim/v2`.
    pub url: String,
    /// Secret Token, sent as `Authorization: Bearer`; never printed.
    pub token: String,
    /// Number of users provisioned (`<prefix>-1@example.com` to `<prefix>-N@example.com`).
    pub users: usize,
    /// Users in flight at once.
    pub concurrency: usize,
    /// Start of every userName; ASCII letters, digits, `.`, `_` and `-` only.
    pub prefix: String,
    /// Print a progress line on stderr about every 10% of each phase.
    pub progress: bool,
    /// Allow a Tenant URL that is not on this machine (the cycle writes users into it).
    pub remote: bool,
    /// Delete every user the cycle made or matched once it is verified.
    pub cleanup: bool,
}

impl CycleOptions {
    /// Options with the CLI's defaults: 10,000 users, 16 in flight, prefix `cycle`, no progress.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: token.into(),
            users: 10_000,
            concurrency: 16,
            prefix: "cycle".into(),
            progress: false,
            remote: false,
            cleanup: false,
        }
    }
}

impl fmt::Debug for CycleOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CycleOptions")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field("users", &self.users)
            .field("concurrency", &self.concurrency)
            .field("prefix", &self.prefix)
            .field("progress", &self.progress)
            .finish()
    }
}

/// Why a cycle did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    /// The options cannot describe a cycle (bad URL, zero users, ...).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The HTTP client could not be built (TLS stack).
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    /// Entra's "Test Connection" (`GET /Users?filter=userName eq "<guid>"`) failed, so no
    /// cycle was attempted.
    #[error("test connection failed: {0}")]
    Connection(String),
    /// The cycle ran but some SCIM calls failed or verification found lost, duplicated or
    /// wrong users; the report has the details.
    #[error("{}", .0.failure_message())]
    Failed(Box<CycleReport>),
}

/// The phases of a cycle, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Match by userName, create when missing, then the post-create PATCH.
    Initial,
    /// Match by userName again, then PATCH a changed attribute.
    Delta,
    /// PATCH `active` to `"False"`.
    Disable,
    /// List every user through SCIM and check the end state.
    Verify,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 4] = [Phase::Initial, Phase::Delta, Phase::Disable, Phase::Verify];

    /// The phase's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Initial => "initial",
            Phase::Delta => "delta",
            Phase::Disable => "disable",
            Phase::Verify => "verify",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kinds of SCIM call a cycle makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `GET /Users?filter=userName eq "..."`.
    Match,
    /// `POST /Users`.
    Create,
    /// `PATCH /Users/{id}`.
    Patch,
    /// `GET /Users?startIndex=..&count=..`.
    List,
}

impl Op {
    /// Every kind, in report order.
    pub const ALL: [Op; 4] = [Op::Match, Op::Create, Op::Patch, Op::List];

    /// The call's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Match => "GET filter",
            Op::Create => "POST",
            Op::Patch => "PATCH",
            Op::List => "GET page",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One SCIM call that did not do what the cycle needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    /// The phase it happened in.
    pub phase: Phase,
    /// The call.
    pub op: Op,
    /// The userName concerned (none for list pages).
    pub user: Option<String>,
    /// The HTTP status when the answer was not 2xx; `None` for transport errors and for
    /// 2xx answers that were unusable (not JSON, no id, no or several matching users).
    pub status: Option<u16>,
    /// The SCIM error's `detail` (with its `scimType`), or what was wrong.
    pub detail: String,
}

/// Everything a cycle measured and found.
#[derive(Debug, Clone)]
pub struct CycleReport {
    /// Tenant URL the cycle ran against.
    pub url: String,
    /// Users in the cycle.
    pub users: usize,
    /// Users in flight at once.
    pub concurrency: usize,
    /// userName prefix.
    pub prefix: String,
    /// Users the initial cycle created.
    pub created: usize,
    /// Users the initial cycle found already there (matched by userName) and updated.
    pub matched: usize,
    /// Per phase: calls, time, latency, errors.
    pub phases: Vec<PhaseReport>,
    /// Every failed call, in the order they were seen.
    pub failures: Vec<CallFailure>,
    /// The end state as listed through SCIM.
    pub verification: Verification,
    /// Users deleted at the end (`--cleanup`), or `None` when they were left.
    pub removed: Option<usize>,
}

impl CycleReport {
    /// True when no call failed and verification found every user exactly once, as expected.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.verification.passed()
    }

    /// One line saying why the cycle failed (or that it passed).
    pub fn failure_message(&self) -> String {
        if self.passed() {
            return "the Entra cycle passed".into();
        }
        let mut reasons = Vec::new();
        if !self.failures.is_empty() {
            reasons.push(format!("{} SCIM call(s) failed", self.failures.len()));
        }
        if !self.verification.passed() {
            reasons.push(format!("verification: {}", self.verification.problems()));
        }
        format!("the Entra cycle failed: {}", reasons.join("; "))
    }
}

/// Runs a whole cycle and verifies it. `Ok` only when every call succeeded and every user is
/// there exactly once with the expected attributes; [`CycleError::Failed`] carries the report
/// otherwise.
pub async fn run(options: CycleOptions) -> Result<CycleReport, CycleError> {
    validate(&options)?;
    let client = ScimClient::new(&options)?;
    client
        .test_connection()
        .await
        .map_err(CycleError::Connection)?;
    let ctx = Arc::new(Ctx {
        client,
        prefix: options.prefix.clone(),
        users: options.users,
        concurrency: options.concurrency,
        progress: options.progress,
        ids: Mutex::new(vec![None; options.users]),
        manager: Mutex::new(None),
        created: AtomicUsize::new(0),
        matched: AtomicUsize::new(0),
    });

    let mut elapsed = provision(&ctx).await;
    let (verification, verify_time) = verify_users(&ctx).await;
    elapsed.push((Phase::Verify, verify_time));
    let removed = match options.cleanup {
        true => Some(remove_all(&ctx).await),
        false => None,
    };
    let (samples, failures) = ctx.client.take_records();
    let phases = elapsed
        .into_iter()
        .map(|(phase, time)| {
            let users = if phase == Phase::Verify {
                verification.listed
            } else {
                ctx.users
            };
            stats::phase_report(phase, users, time, &samples, &failures)
        })
        .collect();
    let report = CycleReport {
        url: options.url,
        users: ctx.users,
        concurrency: ctx.concurrency,
        prefix: ctx.prefix.clone(),
        created: ctx.created.load(Ordering::Relaxed),
        matched: ctx.matched.load(Ordering::Relaxed),
        phases,
        failures,
        verification,
        removed,
    };
    if report.passed() {
        Ok(report)
    } else {
        Err(CycleError::Failed(Box::new(report)))
    }
}

/// The provisioning phases (initial, delta, disable) over every user, and how long each took.
async fn provision(ctx: &Arc<Ctx>) -> Vec<(Phase, Duration)> {
    let mut elapsed = Vec::new();
    // User 1 goes first and alone: every other user gets it as manager in the PATCH Entra
    // sends after a create, so it must exist by then.
    let mut progress = Progress::new(ctx, Phase::Initial);
    run_users(ctx, 1..=1, &mut progress, initial_user).await;
    run_users(ctx, 2..=ctx.users, &mut progress, initial_user).await;
    elapsed.push((Phase::Initial, progress.started.elapsed()));
    for (phase, work) in [
        (Phase::Delta, delta_user as fn(Arc<Ctx>, usize) -> UserTask),
        (Phase::Disable, disable_user),
    ] {
        let mut progress = Progress::new(ctx, phase);
        run_users(ctx, 1..=ctx.users, &mut progress, work).await;
        elapsed.push((phase, progress.started.elapsed()));
    }
    elapsed
}

/// Lists every user through SCIM and checks the cycle's users in it; also how long it took.
async fn verify_users(ctx: &Ctx) -> (verify::Verification, Duration) {
    let started = Instant::now();
    if ctx.progress {
        eprintln!("[entra-cycle] verify: listing every user through SCIM");
    }
    let listing = verify::list_all(&ctx.client).await;
    let manager = lock(&ctx.manager).clone();
    let verification = verify::check(&ctx.prefix, ctx.users, manager.as_deref(), listing);
    let took = started.elapsed();
    if ctx.progress {
        eprintln!(
            "[entra-cycle] verify: {} users listed in {:.1} s",
            verification.listed,
            started.elapsed().as_secs_f64()
        );
    }
    (verification, took)
}

/// The CLI: runs the cycle with progress on stderr and prints the summary on stdout, also
/// when the cycle failed (the error then says why in one line).
pub async fn run_cli(mut options: CycleOptions) -> Result<(), String> {
    options.progress = true;
    eprintln!(
        "[entra-cycle] {} users, concurrency {}, prefix {:?}, against {}",
        options.users, options.concurrency, options.prefix, options.url
    );
    match run(options).await {
        Ok(report) => {
            println!("{report}");
            Ok(())
        }
        Err(CycleError::Failed(report)) => {
            println!("{report}");
            Err(report.failure_message())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn validate(options: &CycleOptions) -> Result<(), CycleError> {
    let invalid = |m: &str| Err(CycleError::InvalidOptions(m.to_owned()));
    if options.users == 0 {
        return invalid("--users must be at least 1");
    }
    if options.concurrency == 0 || options.concurrency > 1024 {
        return invalid("--concurrency must be between 1 and 1024");
    }
    if options.prefix.is_empty()
        || !options
            .prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return invalid("--prefix must be ASCII letters, digits, '.', '_' or '-'");
    }
    if options.token.trim().is_empty() {
        return invalid("the Secret Token is empty");
    }
    if !options.remote && !is_loopback(&options.url) {
        return invalid(
            "the cycle writes users into the Tenant URL and it is not on this machine; \
             pass --yes to run it there anyway",
        );
    }
    Ok(())
}

/// True for a URL whose host is this machine (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Deletes every user the cycle knows the id of, `concurrency` at a time; how many went.
async fn remove_all(ctx: &Arc<Ctx>) -> usize {
    let ids: Vec<String> = lock(&ctx.ids).iter().flatten().cloned().collect();
    if ctx.progress {
        eprintln!("[entra-cycle] cleanup: deleting {} users", ids.len());
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(ctx.concurrency));
    let mut deletes = tokio::task::JoinSet::new();
    for id in ids {
        let (ctx, slots) = (ctx.clone(), slots.clone());
        deletes.spawn(async move {
            let _slot = slots.acquire_owned().await;
            ctx.client.delete(&id).await
        });
    }
    let mut removed = 0;
    while let Some(done) = deletes.join_next().await {
        removed += usize::from(matches!(done, Ok(true)));
    }
    removed
}

/// State shared by every user task.
struct Ctx {
    client: ScimClient,
    prefix: String,
    users: usize,
    concurrency: usize,
    progress: bool,
    /// SCIM id of user i at index i-1, once known.
    ids: Mutex<Vec<Option<String>>>,
    /// SCIM id of user 1, everyone else's manager.
    manager: Mutex<Option<String>>,
    created: AtomicUsize,
    matched: AtomicUsize,
}

impl Ctx {
    fn user_name(&self, i: usize) -> String {
        user_name(&self.prefix, i)
    }

    fn id(&self, i: usize) -> Option<String> {
        lock(&self.ids).get(i - 1).cloned().flatten()
    }

    fn set_id(&self, i: usize, id: &str) {
        if let Some(slot) = lock(&self.ids).get_mut(i - 1) {
            *slot = Some(id.to_owned());
        }
        if i == 1 {
            *lock(&self.manager) = Some(id.to_owned());
        }
    }

    /// The id of user `i` from an earlier phase, or from a matching GET when none is known.
    async fn resolve(&self, phase: Phase, i: usize, name: &str) -> Option<String> {
        if let Some(id) = self.id(i) {
            return Some(id);
        }
        let id = self.match_one(phase, name).await?;
        self.set_id(i, &id);
        Some(id)
    }

    /// Entra's matching query, where exactly one user must answer.
    async fn match_one(&self, phase: Phase, name: &str) -> Option<String> {
        match self.client.find(phase, name).await? {
            Lookup::One(id) => Some(id),
            Lookup::Missing => {
                self.client.fail(
                    phase,
                    Op::Match,
                    Some(name),
                    None,
                    "lost: no user matches".into(),
                );
                None
            }
            Lookup::Many(n) => {
                self.client.fail(
                    phase,
                    Op::Match,
                    Some(name),
                    None,
                    format!("duplicate: {n} users match"),
                );
                None
            }
        }
    }
}

/// The userName of user `i`.
pub(crate) fn user_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i}@{DOMAIN}")
}

/// Locks a mutex, also after a panic elsewhere (the data is plain values).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type UserTask = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `work` for each user of `indices`, at most `concurrency` at once.
async fn run_users(
    ctx: &Arc<Ctx>,
    indices: RangeInclusive<usize>,
    progress: &mut Progress,
    work: fn(Arc<Ctx>, usize) -> UserTask,
) {
    let semaphore = Arc::new(Semaphore::new(ctx.concurrency));
    let mut tasks = JoinSet::new();
    for i in indices {
        let Ok(permit) = Arc::clone(&semaphore).acquire_owned().await else {
            break; // never closed
        };
        let task = work(Arc::clone(ctx), i);
        tasks.spawn(async move {
            task.await;
            drop(permit);
        });
        while let Some(done) = tasks.try_join_next() {
            progress.user_done(ctx, done);
        }
    }
    while let Some(done) = tasks.join_next().await {
        progress.user_done(ctx, done);
    }
}

/// Progress of one phase, printed about every 10%.
struct Progress {
    phase: Phase,
    started: Instant,
    done: usize,
    printed_tenth: usize,
    calls_before: usize,
    failures_before: usize,
}

impl Progress {
    fn new(ctx: &Ctx, phase: Phase) -> Self {
        Self {
            phase,
            started: Instant::now(),
            done: 0,
            printed_tenth: 0,
            calls_before: ctx.client.call_count(),
            failures_before: ctx.client.failure_count(),
        }
    }

    fn user_done(&mut self, ctx: &Ctx, outcome: Result<(), JoinError>) {
        if let Err(e) = outcome {
            ctx.client.fail(
                self.phase,
                Op::Patch,
                None,
                None,
                format!("a user task failed: {e}"),
            );
        }
        self.done += 1;
        let tenth = self.done * 10 / ctx.users;
        if !ctx.progress || tenth == self.printed_tenth {
            return;
        }
        self.printed_tenth = tenth;
        let secs = self.started.elapsed().as_secs_f64();
        let calls = ctx.client.call_count() - self.calls_before;
        eprintln!(
            "[entra-cycle] {}: {}/{} users ({}%), {:.1} s, {:.0} calls/s, {} errors",
            self.phase,
            self.done,
            ctx.users,
            self.done * 100 / ctx.users,
            secs,
            calls as f64 / secs.max(Duration::from_millis(1).as_secs_f64()),
            ctx.client.failure_count() - self.failures_before
        );
    }
}

/// The PATCH message around some operations.
fn patch_body(operations: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    })
}

/// What Entra sends to create user `i`.
fn create_body(prefix: &str, i: usize) -> Value {
    let name = user_name(prefix, i);
    let (given, family) = (format!("Given{i}"), format!("Family{i}"));
    json!({
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": format!("{prefix}-ext-{i}"),
        "userName": name,
        "active": true,
        "displayName": format!("{given} {family}"),
        "emails": [{"primary": true, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("{given} {family}"), "familyName": family, "givenName": given},
        ENTERPRISE: {"department": department(i)},
    })
}

fn department(i: usize) -> String {
    format!("Dept{}", i % 10)
}

/// The operations Entra sends after a create: attributes it writes separately, the manager
/// among them.
fn after_create_ops(i: usize, manager: Option<&str>) -> Vec<Value> {
    let mut ops = vec![json!({
        "op": "Add",
        "path": format!("{ENTERPRISE}:employeeNumber"),
        "value": format!("E{i}"),
    })];
    if let Some(manager) = manager.filter(|_| i != 1) {
        ops.push(json!({"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager}));
    }
    ops
}

/// The operations Entra sends to a matched (already existing) user to bring it in line.
fn update_ops(i: usize, manager: Option<&str>) -> Vec<Value> {
    let mut ops = vec![
        json!({"op": "Replace", "path": "name.givenName", "value": format!("Given{i}")}),
        json!({"op": "Replace", "path": "name.familyName", "value": format!("Family{i}")}),
        json!({"op": "Replace", "path": "active", "value": "True"}),
        json!({"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": department(i)}),
    ];
    ops.extend(after_create_ops(i, manager));
    ops
}

fn initial_user(ctx: Arc<Ctx>, i: usize) -> UserTask {
    Box::pin(async move {
        let phase = Phase::Initial;
        let name = ctx.user_name(i);
        let Some(lookup) = ctx.client.find(phase, &name).await else {
            return;
        };
        let manager = lock(&ctx.manager).clone();
        let (id, ops) = match lookup {
            Lookup::Missing => {
                let body = create_body(&ctx.prefix, i);
                let Some(id) = ctx.client.create(phase, &name, &body).await else {
                    return;
                };
                ctx.created.fetch_add(1, Ordering::Relaxed);
                (id, after_create_ops(i, manager.as_deref()))
            }
            Lookup::One(id) => {
                ctx.matched.fetch_add(1, Ordering::Relaxed);
                (id, update_ops(i, manager.as_deref()))
            }
            Lookup::Many(n) => {
                ctx.client.fail(
                    phase,
                    Op::Match,
                    Some(&name),
                    None,
                    format!("duplicate: {n} users match"),
                );
                return;
            }
        };
        ctx.set_id(i, &id);
        ctx.client.patch(phase, &name, &id, &patch_body(ops)).await;
    })
}

fn delta_user(ctx: Arc<Ctx>, i: usize) -> UserTask {
    Box::pin(async move {
        let phase = Phase::Delta;
        let name = ctx.user_name(i);
        let Some(id) = ctx.match_one(phase, &name).await else {
            return;
        };
        ctx.set_id(i, &id);
        let ops =
            vec![json!({"op": "Replace", "path": "name.familyName", "value": format!("Delta{i}")})];
        ctx.client.patch(phase, &name, &id, &patch_body(ops)).await;
    })
}

fn disable_user(ctx: Arc<Ctx>, i: usize) -> UserTask {
    Box::pin(async move {
        let phase = Phase::Disable;
        let name = ctx.user_name(i);
        let Some(id) = ctx.resolve(phase, i, &name).await else {
            return;
        };
        let ops = vec![json!({"op": "Replace", "path": "active", "value": "False"})];
        ctx.client.patch(phase, &name, &id, &patch_body(ops)).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_debug_hides_the_token() {
        let options = CycleOptions::new("http://127.0.0.1:1/scim/v2", "very-secret-token-123");
        let shown = format!("{options:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn rejects_options_that_cannot_make_a_cycle() {
        let ok = CycleOptions::new("http://127.0.0.1:1/scim/v2", "t0ken");
        assert!(validate(&ok).is_ok());
        for bad in [
            CycleOptions {
                users: 0,
                ..ok.clone()
            },
            CycleOptions {
                concurrency: 0,
                ..ok.clone()
            },
            CycleOptions {
                prefix: "a\"b".into(),
                ..ok.clone()
            },
            CycleOptions {
                prefix: String::new(),
                ..ok.clone()
            },
            CycleOptions {
                token: " ".into(),
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(validate(&bad), Err(CycleError::InvalidOptions(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bodies_have_entra_shapes() {
        let body = create_body("cy", 7);
        assert_eq!(body["userName"], "cy-7@example.com");
        assert_eq!(
            body["emails"][0],
            json!({"primary": true, "type": "work", "value": "cy-7@example.com"})
        );
        assert_eq!(body[ENTERPRISE]["department"], "Dept7");
        assert_eq!(body["schemas"], json!([CORE_USER, ENTERPRISE]));
        let ops = after_create_ops(7, Some("1"));
        assert_eq!(ops[0]["op"], "Add");
        assert_eq!(ops[0]["value"], "E7");
        assert_eq!(ops[1]["path"], format!("{ENTERPRISE}:manager"));
        assert_eq!(
            after_create_ops(1, Some("1")).len(),
            1,
            "user 1 has no manager"
        );
        assert_eq!(after_create_ops(2, None).len(), 1);
    }
}
