//! Tenants as a vendor runs them: each customer has its own Tenant URL, its own Secret Token
//! (issued by `scim-gateway token create`, shown once, revocable at once) or Basic
//! credentials, its own downstream values, and sees nothing of the others. Limits answer 429
//! with Retry-After.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use scim_gateway::cli::demo::EXAMPLE_CONFIG;
use scim_gateway::tools::legacy::{self, LegacyApi};
use tokio::net::TcpListener;

use crate::support::process::TempDir;
use crate::support::{Gateway, TOKEN, assert_scim_error, entra_user, start_gateway};

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");
const LEGACY_KEY: &str = "legacy-key-for-tenant-tests";
const SOUTH_PASSWORD: &str = "south-basic-password-42";

/// Two customers, each with its own sample API, sharing one gateway and one store file.
struct TwoTenants {
    north_api: LegacyApi,
    south_api: LegacyApi,
    config_path: PathBuf,
    config: String,
    env: Vec<(&'static str, String)>,
    dir: TempDir,
    _stops: Vec<tokio::sync::watch::Sender<()>>,
}

async fn sample_api() -> (LegacyApi, String, tokio::sync::watch::Sender<()>) {
    let api = LegacyApi::new(LEGACY_KEY);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, mut stopped) = tokio::sync::watch::channel(());
    tokio::spawn(legacy::serve(listener, api.clone(), async move {
        let _ = stopped.changed().await;
    }));
    (api, url, stop)
}

impl TwoTenants {
    /// `south_limits` is the inline table of south's limits.
    async fn new(south_limits: &str) -> Self {
        let (north_api, north_url, s1) = sample_api().await;
        let (south_api, south_url, s2) = sample_api().await;
        let dir = TempDir::new("tenants");
        let tenants = format!(
            "[[tenants]]\nname = \"north\"\nauth = {{ issued_tokens = true }}\n\
             vars = {{ LEGACY_URL = \"{north_url}\" }}\n\n\
             [[tenants]]\nname = \"south\"\n\
             auth = {{ bearer = [\"${{SCIM_TOKEN}}\"], basic = {{ username = \"entra\", password = \"${{SOUTH_PASSWORD}}\" }} }}\n\
             vars = {{ LEGACY_URL = \"{south_url}\" }}\nlimits = {south_limits}\n\n[users]\n"
        );
        let config = EXAMPLE_CONFIG
            .replace("bearer = [\"${SCIM_TOKEN}\"]", "")
            .replacen("[users]\n", &tenants, 1)
            + &format!(
                "\n[store]\nurl = \"sqlite://{}\"\n",
                dir.0.join("gw.db").display()
            );
        let config_path = dir.0.join("gateway.toml");
        std::fs::write(&config_path, &config).unwrap();
        Self {
            north_api,
            south_api,
            config_path,
            config,
            env: vec![
                ("LEGACY_API_KEY", LEGACY_KEY.to_owned()),
                ("SOUTH_PASSWORD", SOUTH_PASSWORD.to_owned()),
            ],
            dir,
            _stops: vec![s1, s2],
        }
    }

    async fn gateway(&self) -> Gateway {
        start_gateway(&self.config, &self.env).await
    }

    /// Runs `scim-gateway token ...` on this config; returns (success, stdout, stderr).
    async fn token(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = Command::new(BIN);
        command
            .arg("token")
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .env("SCIM_TOKEN", TOKEN)
            .env("RUST_LOG", "warn");
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Issues a north token through the CLI and returns the secret it printed once.
    async fn issue(&self, name: &str) -> String {
        let (ok, out, err) = self
            .token(&[
                "create",
                "--tenant",
                "north",
                "--name",
                name,
                "--expires",
                "90d",
            ])
            .await;
        assert!(ok, "{out}{err}");
        assert!(out.contains("shown once"), "{out}");
        out.lines().last().unwrap().trim().to_owned()
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

#[tokio::test]
async fn tenants_see_only_their_own_users_and_credentials() {
    let t = TwoTenants::new("{}").await;
    let north_token = t.issue("entra-north").await;
    let gw = t.gateway().await;
    let north = format!("{}/north/scim/v2", gw.root);
    let south = format!("{}/south/scim/v2", gw.root);

    let created = gw
        .send_as(
            Method::POST,
            &format!("{north}/Users"),
            Some(&bearer(&north_token)),
            Some(entra_user("ann@north.example", "Ann", "North")),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(
        created.body["meta"]["location"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{north}/Users/"))
    );
    // The account went to north's downstream only.
    assert_eq!(t.north_api.accounts().len(), 1);
    assert!(t.south_api.accounts().is_empty());

    // South sees nothing of it, through either of its methods.
    for auth in [bearer(TOKEN), basic("entra", SOUTH_PASSWORD)] {
        let listed = gw
            .send_as(Method::GET, &format!("{south}/Users"), Some(&auth), None)
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
        assert_eq!(listed.body["totalResults"], 0);
        let read = gw
            .send_as(
                Method::GET,
                &format!("{south}/Users/{id}"),
                Some(&auth),
                None,
            )
            .await;
        assert_scim_error(read.status, &read.body, 404, None);
    }
    // Neither tenant's credentials open the other's door.
    let crossed = [
        (format!("{south}/Users"), bearer(&north_token)),
        (format!("{north}/Users"), bearer(TOKEN)),
        (format!("{north}/Users"), basic("entra", SOUTH_PASSWORD)),
        (
            format!("{south}/Users"),
            basic("entra", "wrong-password-000"),
        ),
        (format!("{south}/Users"), basic("other", SOUTH_PASSWORD)),
    ];
    for (url, auth) in crossed {
        let answer = gw.send_as(Method::GET, &url, Some(&auth), None).await;
        assert_scim_error(answer.status, &answer.body, 401, None);
        assert!(answer.challenge.is_some(), "{url}");
    }
    // South's challenge asks for Basic, north's for Bearer.
    let south_401 = gw
        .send_as(Method::GET, &format!("{south}/Users"), None, None)
        .await;
    assert!(south_401.challenge.unwrap().starts_with("Basic"));
    let north_401 = gw
        .send_as(Method::GET, &format!("{north}/Users"), None, None)
        .await;
    assert!(north_401.challenge.unwrap().starts_with("Bearer"));
    // The single-tenant path does not exist once tenants are configured.
    let bare = gw
        .send_as(
            Method::GET,
            &format!("{}/scim/v2/Users", gw.root),
            Some(&bearer(TOKEN)),
            None,
        )
        .await;
    assert_eq!(bare.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn issued_tokens_are_listed_rotated_and_revoked_at_once() {
    let t = TwoTenants::new("{}").await;
    let first = t.issue("entra").await;
    assert!(first.starts_with("sgw_") && first.len() == 68, "{first}");
    let gw = t.gateway().await;
    let users = format!("{}/north/scim/v2/Users", gw.root);
    let status = |token: String| {
        let (gw, users) = (&gw, &users);
        async move {
            gw.send_as(Method::GET, users, Some(&bearer(&token)), None)
                .await
                .status
        }
    };
    assert_eq!(status(first.clone()).await, StatusCode::OK);

    // The list names the token and never shows the secret.
    let (ok, listed, _) = t.token(&["list", "--tenant", "north"]).await;
    assert!(ok);
    assert!(
        listed.contains("entra") && listed.contains("valid"),
        "{listed}"
    );
    assert!(listed.contains(&first[..12]), "{listed}");
    assert!(
        !listed.contains(&first[12..]),
        "the secret leaked: {listed}"
    );
    assert!(
        !listed.contains("last used never"),
        "use is recorded: {listed}"
    );

    // Rotation: a new token, and the old one keeps working through the overlap.
    let (ok, rotated, err) = t
        .token(&["rotate", "--tenant", "north", "entra", "--overlap", "1h"])
        .await;
    assert!(ok, "{rotated}{err}");
    // The 90-day token's successor lives 90 days too.
    let in_90_days = time::OffsetDateTime::now_utc() + time::Duration::days(90);
    let date = format!(
        "expires {}",
        &in_90_days
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()[..10]
    );
    assert!(rotated.contains(&date), "{rotated}");
    let second = rotated
        .lines()
        .find(|l| l.starts_with("sgw_"))
        .unwrap()
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(status(second.clone()).await, StatusCode::OK);
    assert_eq!(status(first.clone()).await, StatusCode::OK);

    // Revoking the new one by its prefix refuses it on the very next request.
    let (ok, out, err) = t
        .token(&["revoke", "--tenant", "north", &second[..12]])
        .await;
    assert!(ok, "{out}{err}");
    assert_eq!(status(second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(first.clone()).await, StatusCode::OK);
    // Revoking by name takes every token of that name.
    let (ok, _, _) = t.token(&["revoke", "--tenant", "north", "entra"]).await;
    assert!(ok);
    assert_eq!(status(first).await, StatusCode::UNAUTHORIZED);

    // An expired token is refused without a restart.
    let store = scim_gateway::store::open(&format!("sqlite://{}", t.dir.0.join("gw.db").display()))
        .await
        .unwrap();
    let now = scim_gateway::auth::issued::unix_now();
    let mut expired = scim_gateway::auth::issued::issue("north", "old", now - 100, None).unwrap();
    expired.record.expires_at = Some(now - 1);
    store.tokens.insert_token(&expired.record).await.unwrap();
    let mut live = scim_gateway::auth::issued::issue("north", "live", now, None).unwrap();
    live.record.expires_at = Some(now + 3_600);
    store.tokens.insert_token(&live.record).await.unwrap();
    store.close().await;
    assert_eq!(status(expired.secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(live.secret).await, StatusCode::OK);

    // Mistakes are named.
    let (ok, _, err) = t.token(&["create", "--tenant", "south"]).await;
    assert!(
        !ok && err.contains("does not accept issued tokens"),
        "{err}"
    );
    let (ok, _, err) = t.token(&["create", "--tenant", "west"]).await;
    assert!(!ok && err.contains("no tenant \"west\""), "{err}");
    let (ok, _, err) = t
        .token(&["create", "--tenant", "north", "--expires", "90"])
        .await;
    assert!(!ok && err.contains("add a unit"), "{err}");
    let (ok, _, err) = t.token(&["revoke", "--tenant", "north", "nobody"]).await;
    assert!(!ok && err.contains("no token named or prefixed"), "{err}");
}

#[tokio::test]
async fn over_its_rate_a_tenant_gets_429_with_retry_after() {
    // One request per 10 s after a burst of two: the third in a row is over.
    let t = TwoTenants::new("{ requests_per_second = 0.1, burst = 2 }").await;
    let gw = t.gateway().await;
    let south = format!("{}/south/scim/v2/Users", gw.root);
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(
            gw.send_as(Method::GET, &south, Some(&bearer(TOKEN)), None)
                .await,
        );
    }
    assert_eq!(answers[0].status, StatusCode::OK);
    assert_eq!(answers[1].status, StatusCode::OK);
    assert_scim_error(answers[2].status, &answers[2].body, 429, None);
    let wait: u64 = answers[2].retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    // The other tenant has its own budget.
    let north_token = t.issue("n").await;
    let north = format!("{}/north/scim/v2/Users", gw.root);
    for _ in 0..3 {
        let answer = gw
            .send_as(Method::GET, &north, Some(&bearer(&north_token)), None)
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn over_its_concurrency_a_tenant_gets_429() {
    let t = TwoTenants::new("{ max_concurrent = 1 }").await;
    let gw = t.gateway().await;
    t.south_api.set_delay(Duration::from_millis(1_500));
    let south = format!("{}/south/scim/v2/Users", gw.root);
    let auth = bearer(TOKEN);
    let slow = gw.send_as(Method::GET, &south, Some(&auth), None);
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        gw.send_as(Method::GET, &south, Some(&auth), None).await
    };
    let (slow, second) = tokio::join!(slow, second);
    assert_eq!(slow.status, StatusCode::OK);
    assert_scim_error(second.status, &second.body, 429, None);
    assert_eq!(second.retry_after.as_deref(), Some("1"));
    t.south_api.set_delay(Duration::ZERO);
    let after = gw.send_as(Method::GET, &south, Some(&auth), None).await;
    assert_eq!(after.status, StatusCode::OK, "{:?}", after.body);
}
