//! The console in a real browser: Debian's headless Chromium driven over WebDriver by
//! chromedriver, spawned by each test on a free port. The WebDriver calls are plain HTTP JSON
//! sent with reqwest (already a dependency), a dozen lines instead of a WebDriver crate and its
//! own HTTP and TLS stack to build. Without /usr/bin/chromedriver (a machine that has not run
//! .ci/run) the test says so and passes.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ADMIN_TOKEN, LEGACY_KEY, stack};
use crate::support::TOKEN;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One headless browser session; the driver process ends with it.
struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    /// The browser's profile, removed with it.
    profile: std::path::PathBuf,
}

impl Browser {
    async fn start() -> Option<Self> {
        if !std::path::Path::new(CHROMEDRIVER).exists() {
            eprintln!("skipped: {CHROMEDRIVER} is missing (.ci/run installs chromium-driver)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // A process group of its own, so that the browsers it starts end with it.
        let driver = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            let ready = http.get(format!("{root}/status")).send().await;
            if ready.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = std::env::temp_dir().join(format!("console-test-{port}"));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let created: Value = http
            .post(format!("{root}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"));
        Some(Self {
            http,
            session: format!("{root}/session/{session}"),
            driver,
            profile,
        })
    }

    async fn command(&self, method: Method, path: &str, body: Value) -> Value {
        let answer = self.try_command(method, path, body).await;
        assert!(answer.get("error").is_none(), "{path}: {answer}");
        answer
    }

    /// A WebDriver command's `value`, an error included.
    async fn try_command(&self, method: Method, path: &str, body: Value) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.command(Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// The element `css` selects, waiting up to five seconds for the page that has it (a
    /// click's navigation may still be loading).
    async fn find(&self, css: &str) -> String {
        for _ in 0..100 {
            let found = self
                .try_command(
                    Method::POST,
                    "/element",
                    json!({"using": "css selector", "value": css}),
                )
                .await;
            if let Some(element) = found[ELEMENT].as_str() {
                return element.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no element {css}: {}", self.source().await);
    }

    /// The page's source once it contains `text` (a click's navigation may still be loading).
    async fn wait_for(&self, text: &str) -> String {
        for _ in 0..100 {
            let source = self.source().await;
            if source.contains(text) {
                return source;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the page never showed {text}: {}", self.source().await);
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(
            Method::POST,
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(
            Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        let text = self
            .command(
                Method::GET,
                &format!("/element/{element}/text"),
                Value::Null,
            )
            .await;
        text.as_str().unwrap().to_owned()
    }

    async fn source(&self) -> String {
        let source = self.command(Method::GET, "/source", Value::Null).await;
        let source = source.as_str().unwrap().to_owned();
        for secret in [TOKEN, ADMIN_TOKEN, LEGACY_KEY] {
            assert!(!source.contains(secret), "a page shows a secret: {source}");
        }
        source
    }

    /// Opens `url` until its page contains every one of `texts` (activity is written off the
    /// request path, in batches that may split one test's requests).
    async fn open_until(&self, url: &str, texts: &[&str]) -> String {
        for _ in 0..50 {
            self.open(url).await;
            let source = self.source().await;
            if texts.iter().all(|text| source.contains(text)) {
                return source;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{url} never showed all of {texts:?}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver's group (it and the browser it started), by its id.
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.driver.id()))
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[tokio::test]
async fn an_operator_follows_entra_manages_tokens_and_tries_the_mapping_in_chromium() {
    let stack = stack().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let console = stack.console.clone().unwrap();
    // Signed out, every page leads to the login form.
    browser.open(&format!("{console}/activity")).await;
    browser.wait_for("Sign in").await;
    browser.type_into("input[name=secret]", ADMIN_TOKEN).await;
    browser.click("button[type=submit]").await;
    browser.wait_for("Requests, last hour").await;

    // An Entra-shaped create, and the same userName again (409).
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "grace.browser@example.com",
        "externalId": "ext-grace",
        "active": true,
        "name": {"givenName": "Grace", "familyName": "Hopper"},
        "emails": [{"primary": true, "type": "work", "value": "grace.browser@example.com"}]
    });
    let (status, _) = stack.call(Method::POST, "/Users", Some(user.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = stack.call(Method::POST, "/Users", Some(user)).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Both requests show, the create's success and the duplicate's uniqueness error.
    browser
        .open_until(
            &format!("{console}/activity?tenant=default"),
            &["grace.browser@example.com", ">201 <", ">409 uniqueness<"],
        )
        .await;
    browser
        .open(&format!("{console}/activity?tenant=default&outcome=failed"))
        .await;
    browser.click("a[href^='/activity/']").await;
    let detail = browser.wait_for("Downstream calls").await;
    assert!(detail.contains("uniqueness"), "{detail}");
    assert!(detail.contains("Downstream calls"), "{detail}");

    // A token made here works for SCIM until it is revoked here.
    browser.open(&format!("{console}/tokens")).await;
    browser.type_into("input[name=name]", "entra-browser").await;
    browser.click("form[action='/tokens/create'] button").await;
    let secret = browser.text("#new-token").await;
    let bearer = format!("Bearer {secret}");
    let url = format!("{}/Users", stack.base);
    let answer = stack.send_as(Method::GET, &url, Some(&bearer), None).await;
    assert_eq!(answer.status, StatusCode::OK);
    browser.click("form[action='/tokens/revoke'] button").await;
    browser.wait_for("revoked").await;
    let answer = stack.send_as(Method::GET, &url, Some(&bearer), None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);

    // The playground explains the search Entra's Test Connection sends.
    browser.click("nav a[href='/mapping']").await;
    browser.click("form[action='/mapping'] button").await;
    browser.wait_for("would make").await;
    let explained = browser.text("#explained").await;
    assert!(
        explained.contains("(tenant default) would make 1 downstream call:")
            && explained.contains("(read: sent)"),
        "{explained}"
    );
    let _ = browser.command(Method::DELETE, "", Value::Null).await;
}
