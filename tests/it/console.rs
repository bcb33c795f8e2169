//! The operator console over plain HTTP, as a browser without JavaScript uses it: sign-in,
//! CSRF refusal, the activity of Entra-shaped writes and a failed request's detail, tokens
//! created and revoked, security headers, and no page showing a secret of the config.

use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use scim_gateway::settings::Config;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::{Stack, TOKEN};

mod browser;
mod mapping;

pub(crate) const ADMIN_TOKEN: &str = "console-admin-token-0123456789";
pub(crate) const LEGACY_KEY: &str = "legacy-key-for-tests";

/// The example config with a console and issued tokens.
pub(crate) async fn stack() -> Stack {
    let digest = hex::encode(Sha256::digest(ADMIN_TOKEN.as_bytes()));
    Stack::start_with(|text| {
        text.replace(
            "bearer = [\"${SCIM_TOKEN}\"]",
            "bearer = [\"${SCIM_TOKEN}\"]\nissued_tokens = true",
        ) + &format!("\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken_sha256 = \"{digest}\"\n")
    })
    .await
}

/// A browser's view: one cookie jar, no redirects followed, no JavaScript.
pub(crate) struct Browser {
    client: reqwest::Client,
    root: String,
    cookie: Option<String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    headers: HeaderMap,
    pub(crate) html: String,
}

impl Page {
    /// The value of the first hidden `name` field.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.html))
            + marker.len();
        let end = self.html[start..].find('"').unwrap();
        self.html[start..start + end].to_owned()
    }
}

impl Browser {
    fn new(stack: &Stack) -> Self {
        Self::at(stack.console.clone().expect("the console runs"))
    }

    /// A browser for the console at `root`, e.g. `http://127.0.0.1:4712`.
    pub(crate) fn at(root: String) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            root,
            cookie: None,
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request.send().await.unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            self.cookie = Some(pair);
        }
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            html: response.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(format!("{}{path}", self.root));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.client.post(format!("{}{path}", self.root)).form(form);
        self.send(request).await
    }

    pub(crate) async fn sign_in(&mut self) {
        let login = self.get("/login").await;
        let csrf = login.field("csrf");
        let done = self
            .post(
                "/login",
                &[("csrf", &csrf), ("user", ""), ("secret", ADMIN_TOKEN)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    }
}

fn assert_no_secret(page: &Page) {
    for secret in [TOKEN, ADMIN_TOKEN, LEGACY_KEY] {
        assert!(
            !page.html.contains(secret),
            "a page shows a secret: {}",
            page.html
        );
    }
}

/// Waits for the page at `path` to contain every one of `texts` (activity is written off the
/// request path, in batches that may split one test's requests).
async fn page_with(browser: &mut Browser, path: &str, texts: &[&str]) -> Page {
    for _ in 0..100 {
        let page = browser.get(path).await;
        if texts.iter().all(|text| page.html.contains(text)) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never showed all of {texts:?}");
}

#[tokio::test]
async fn the_console_needs_the_admin_credential() {
    let stack = stack().await;
    let mut browser = Browser::new(&stack);
    let first = browser.get("/").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(first.headers[LOCATION], "/login");
    let login = browser.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    let csrf = login.field("csrf");
    for wrong in ["", "not-the-admin-token-0000000"] {
        let refused = browser
            .post(
                "/login",
                &[("csrf", &csrf), ("user", ""), ("secret", wrong)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(refused.html.contains("Wrong credential"));
    }
    let still_out = browser.get("/tokens").await;
    assert_eq!(still_out.status, StatusCode::SEE_OTHER);
    // The right credential without the form's CSRF token is refused too.
    let forged = browser
        .post(
            "/login",
            &[("csrf", "forged"), ("user", ""), ("secret", ADMIN_TOKEN)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    browser.sign_in().await;
    let overview = browser.get("/").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.html.contains("Overview"), "{}", overview.html);
    // Another browser without the cookie is not let in.
    let mut stranger = Browser::new(&stack);
    assert_eq!(
        stranger.get("/activity").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_a_strict_cookie() {
    let stack = stack().await;
    let mut browser = Browser::new(&stack);
    let login = browser.get("/login").await;
    let h = &login.headers;
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!login.html.contains("<script"), "no script at all");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.contains_key("referrer-policy"));
    let cookie = h[SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[tokio::test]
async fn activity_shows_entra_writes_and_why_one_failed() {
    let stack = stack().await;
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada.console@example.com",
        "externalId": "ext-ada",
        "active": true,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "type": "work", "value": "ada.console@example.com"}]
    });
    let (status, created) = stack.call(Method::POST, "/Users", Some(user.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    });
    let (status, _) = stack
        .call(Method::PATCH, &format!("/Users/{id}"), Some(patch))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = stack.call(Method::POST, "/Users", Some(user)).await;
    assert_eq!(status, StatusCode::CONFLICT, "the same userName again");
    let refused = stack
        .send_as(
            Method::GET,
            &format!("{}/Users", stack.base),
            Some("Bearer wrong"),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    // The duplicate create and the refused read are both listed as failed.
    let page = page_with(
        &mut browser,
        "/activity?tenant=default&outcome=failed",
        &["uniqueness", "401"],
    )
    .await;
    let all = page_with(
        &mut browser,
        "/activity?user=ada.console%40example.com",
        &["create", "patch"],
    )
    .await;
    assert_no_secret(&all);

    // The failed create's detail: its status, scimType, detail and the calls it made.
    let link = page
        .html
        .split("href=\"/activity/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect::<Vec<_>>();
    let mut detail = None;
    for id in link {
        let entry = browser.get(&format!("/activity/{id}")).await;
        if entry.html.contains("<td class=\"failed\">409</td>") {
            detail = Some(entry);
            break;
        }
    }
    let detail = detail.expect("the failed create has a detail page");
    assert!(detail.html.contains("uniqueness"), "{}", detail.html);
    assert!(detail.html.contains("ada.console@example.com"));
    assert!(detail.html.contains("Downstream calls"));
    assert_no_secret(&detail);
    for path in ["/", "/tokens", "/login"] {
        assert_no_secret(&browser.get(path).await);
    }
    assert_eq!(
        browser.get("/activity/999999").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_token_made_in_the_console_works_until_it_is_revoked_there() {
    let stack = stack().await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let tokens = browser.get("/tokens").await;
    let csrf = tokens.field("csrf");
    // Without the session's CSRF token nothing is made.
    let forged = browser
        .post(
            "/tokens/create",
            &[
                ("csrf", "x"),
                ("tenant", "default"),
                ("name", "entra"),
                ("days", "30"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!browser.get("/tokens").await.html.contains("Revoke"));

    let created = browser
        .post(
            "/tokens/create",
            &[
                ("csrf", &csrf),
                ("tenant", "default"),
                ("name", "entra"),
                ("days", "30"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.html);
    let start = created.html.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let secret = created.html[start..].split('<').next().unwrap().to_owned();
    let bearer = format!("Bearer {secret}");
    let url = format!("{}/Users", stack.base);
    assert_eq!(
        stack
            .send_as(Method::GET, &url, Some(&bearer), None)
            .await
            .status,
        StatusCode::OK
    );
    // Shown once: the list shows only its prefix.
    let listed = browser.get("/tokens").await;
    assert!(!listed.html.contains(&secret));
    assert!(listed.html.contains("valid"));

    let revoked = browser
        .post(
            "/tokens/revoke",
            &[
                ("csrf", &csrf),
                ("tenant", "default"),
                ("id", &listed.field("id")),
            ],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.html);
    assert_eq!(
        stack
            .send_as(Method::GET, &url, Some(&bearer), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert!(browser.get("/tokens").await.html.contains("revoked"));
}

#[test]
fn an_open_console_listens_only_on_loopback_and_never_on_the_scim_port() {
    let env = |name: &str| match name {
        "LEGACY_URL" => Some("http://127.0.0.1:9".to_owned()),
        _ => Some("0123456789abcdef0123".to_owned()),
    };
    let base = scim_gateway::cli::demo::EXAMPLE_CONFIG;
    let parse =
        |admin: &str| Config::parse("gateway.toml", &format!("{base}\n[admin]\n{admin}\n"), &env);
    let open = parse("listen = \"0.0.0.0:9091\"").unwrap_err().to_string();
    assert!(
        open.contains("admin.listen") && open.contains("loopback"),
        "{open}"
    );
    assert!(parse("listen = \"0.0.0.0:9091\"\ntoken = \"${ADMIN_TOKEN}\"").is_ok());
    let loopback = parse("listen = \"127.0.0.1:9091\"").unwrap();
    assert_eq!(
        loopback.admin.listen,
        Some("127.0.0.1:9091".parse().unwrap())
    );
    let shared = parse("listen = \"127.0.0.1:8080\"")
        .unwrap_err()
        .to_string();
    assert!(shared.contains("SCIM listener"), "{shared}");
}

#[tokio::test]
async fn rotating_a_token_in_the_console_keeps_the_old_one_working_for_the_overlap() {
    let stack = stack().await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let csrf = browser.get("/tokens").await.field("csrf");
    let new_token = |page: &Page| {
        let start = page.html.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
        page.html[start..].split('<').next().unwrap().to_owned()
    };
    let first = browser
        .post(
            "/tokens/create",
            &[
                ("csrf", &csrf),
                ("tenant", "default"),
                ("name", "entra"),
                ("days", ""),
            ],
        )
        .await;
    let old = new_token(&first);
    let id = browser.get("/tokens").await.field("id");
    let rotated = browser
        .post(
            "/tokens/rotate",
            &[("csrf", &csrf), ("tenant", "default"), ("id", &id)],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.html);
    let new = new_token(&rotated);
    assert_ne!(old, new);
    let url = format!("{}/Users", stack.base);
    for token in [&old, &new] {
        let bearer = format!("Bearer {token}");
        let answer = stack.send_as(Method::GET, &url, Some(&bearer), None).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "both work during the overlap"
        );
    }
    // The old one now expires within the overlap: flagged.
    assert!(browser.get("/tokens").await.html.contains("expires soon"));
}
