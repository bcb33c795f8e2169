//! `scim-gateway explain`: the downstream calls one SCIM request would make, printed for an
//! operator, without a write reaching the downstream or the store. Reads are sent (what a
//! write sends is computed from what they return) and the output says so. The request runs
//! through the same handlers and services as `serve` (see [`crate::server::dry_run`]), so
//! the translation shown is the one the gateway makes.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::PathBuf;

use axum::body::Body;
use http::{Method, Request, header};
use serde_json::Value;

use crate::server::dry_run::{self, Explanation};
use crate::server::{self, StartError};
use crate::settings::{Config, ConfigError, TenantChoiceError};
use crate::store::StoreError;

/// What to explain, as given on the command line.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    pub config: PathBuf,
    pub tenant: Option<String>,
    /// As with curl: GET by default, POST when there is a body.
    pub method: Option<String>,
    /// Under the Tenant URL, e.g. `/Users/42` (the Tenant URL's path may be included).
    pub path: String,
    /// JSON text, `@file`, or `@-` for standard input.
    pub data: Option<String>,
}

/// Why `explain` cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tenant(#[from] TenantChoiceError),
    #[error("unsupported method {0:?}: use GET, POST, PUT, PATCH or DELETE")]
    Method(String),
    #[error("{0} takes no body")]
    UnwantedBody(Method),
    #[error("{0} needs a body: -d '{{...}}' or -d @file.json")]
    MissingBody(Method),
    #[error("cannot read the body from {path}: {source}")]
    ReadBody {
        path: String,
        source: std::io::Error,
    },
    #[error("the body is not JSON: {0}")]
    BodyJson(serde_json::Error),
    #[error("{0:?} is not a SCIM path: write it like /Users/42 or /Groups")]
    Path(String),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Start(#[from] StartError),
}

/// What one request would do, ready to print.
#[derive(Debug)]
pub struct Explained {
    pub tenant: String,
    pub method: Method,
    /// Relative to the Tenant URL.
    pub path: String,
    pub explanation: Explanation,
}

/// Loads the config, opens its store and runs the request as a dry run.
pub async fn run(request: &ExplainRequest) -> Result<Explained, ExplainError> {
    let config = Config::load(&request.config)?;
    let tenant = config.select_tenant(request.tenant.as_deref())?;
    let body = request.data.as_deref().map(read_body).transpose()?;
    let method = method_of(request.method.as_deref(), body.is_some())?;
    let path = request
        .path
        .strip_prefix(tenant.base_path.as_str())
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(&request.path)
        .to_owned();
    if !path.starts_with('/') {
        return Err(ExplainError::Path(request.path.clone()));
    }
    let mut http = Request::builder().method(method.clone()).uri(&path);
    if body.is_some() {
        http = http.header(header::CONTENT_TYPE, "application/scim+json");
    }
    let http = http
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .map_err(|_| ExplainError::Path(request.path.clone()))?;
    let store = server::open_store(&config).await?;
    let explained: Result<Explanation, ExplainError> =
        match server::tenant_state(&config, tenant, store.clone()) {
            Ok(state) => dry_run::explain(&state, http).await.map_err(Into::into),
            Err(e) => Err(e.into()),
        };
    store.close().await;
    Ok(Explained {
        tenant: tenant.name.clone(),
        method,
        path,
        explanation: explained?,
    })
}

/// The method as curl picks it: the one given, else POST with a body and GET without; a
/// body must come with exactly the methods that take one.
fn method_of(given: Option<&str>, has_body: bool) -> Result<Method, ExplainError> {
    let method = match given.map(str::to_ascii_uppercase).as_deref() {
        None if has_body => Method::POST,
        None | Some("GET") => Method::GET,
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        Some("PATCH") => Method::PATCH,
        Some("DELETE") => Method::DELETE,
        Some(other) => return Err(ExplainError::Method(other.to_owned())),
    };
    let takes_body = matches!(method, Method::POST | Method::PUT | Method::PATCH);
    match (takes_body, has_body) {
        (false, true) => Err(ExplainError::UnwantedBody(method)),
        (true, false) => Err(ExplainError::MissingBody(method)),
        _ => Ok(method),
    }
}

/// The body given with `-d`: inline JSON, `@file`, or `@-` (standard input).
fn read_body(data: &str) -> Result<Value, ExplainError> {
    let text = match data.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| ExplainError::ReadBody {
                    path: "standard input".into(),
                    source,
                })?;
            text
        }
        Some(path) => std::fs::read_to_string(path).map_err(|source| ExplainError::ReadBody {
            path: path.to_owned(),
            source,
        })?,
        None => data.to_owned(),
    };
    serde_json::from_str(&text).map_err(ExplainError::BodyJson)
}

impl Explained {
    /// The text `explain` prints: each call with its headers (masked) and body, then what
    /// the SCIM client would get.
    pub fn render(&self) -> String {
        let ex = &self.explanation;
        let mut out = String::new();
        let count = match ex.calls.len() {
            0 => "no downstream call".to_owned(),
            1 => "1 downstream call".to_owned(),
            n => format!("{n} downstream calls"),
        };
        let _ = writeln!(
            out,
            "{} {} (tenant {}) would make {count}:",
            self.method, self.path, self.tenant
        );
        for call in &ex.calls {
            let how = if call.sent {
                "read: sent"
            } else {
                "write: NOT sent"
            };
            let _ = writeln!(out, "\n  {} {}    ({how})", call.method, call.url);
            for (name, value) in &call.headers {
                let _ = writeln!(out, "    {name}: {}", value.as_str().unwrap_or_default());
            }
            if let Some(body) = &call.body {
                let _ = writeln!(out, "    {body}");
            }
        }
        let detail = ex
            .error
            .as_ref()
            .and_then(|e| e.get("detail"))
            .and_then(Value::as_str)
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\nThe SCIM client would get {}{detail}.",
            ex.status.as_u16()
        );
        let _ = if ex.calls.iter().any(|c| c.sent) {
            writeln!(
                out,
                "Reads (GET) were sent to the downstream, since a write is computed from what \
                 they return; nothing else was sent, and the gateway's store was not changed."
            )
        } else {
            writeln!(
                out,
                "Nothing was sent to the downstream, and the gateway's store was not changed."
            )
        };
        out
    }
}

/// Runs `request` and prints the calls, as text or as JSON.
pub(super) async fn command(request: &ExplainRequest, json: bool) -> Result<(), String> {
    let explained = run(request).await.map_err(|e| e.to_string())?;
    if json {
        let doc = explained.explanation.to_json();
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", explained.render());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use serde_json::json;

    use super::*;
    use crate::downstream::dry_run::PlannedCall;

    #[test]
    fn the_method_follows_curl() {
        assert_eq!(method_of(None, false).ok(), Some(Method::GET));
        assert_eq!(method_of(None, true).ok(), Some(Method::POST));
        assert_eq!(method_of(Some("patch"), true).ok(), Some(Method::PATCH));
        assert!(matches!(
            method_of(Some("DELETE"), true),
            Err(ExplainError::UnwantedBody(_))
        ));
        assert!(matches!(
            method_of(Some("PUT"), false),
            Err(ExplainError::MissingBody(_))
        ));
        assert!(matches!(
            method_of(Some("FETCH"), false),
            Err(ExplainError::Method(_))
        ));
    }

    #[test]
    fn a_body_is_inline_json_or_a_file() {
        assert_eq!(read_body(r#"{"a": 1}"#).ok(), Some(json!({"a": 1})));
        assert!(matches!(read_body("{"), Err(ExplainError::BodyJson(_))));
        assert!(matches!(
            read_body("@/nonexistent/body.json"),
            Err(ExplainError::ReadBody { .. })
        ));
    }

    #[test]
    fn the_text_shows_each_call_and_the_outcome() {
        let call = |method: &str, sent: bool, body: Option<Value>| PlannedCall {
            method: method.into(),
            url: "http://127.0.0.1:9/api/v1/accounts/7".into(),
            headers: [("X-Api-Key".to_owned(), json!("***"))]
                .into_iter()
                .collect(),
            body,
            sent,
        };
        let explained = Explained {
            tenant: "default".into(),
            method: Method::PATCH,
            path: "/Users/7".into(),
            explanation: Explanation {
                status: StatusCode::OK,
                error: None,
                calls: vec![
                    call("GET", true, None),
                    call(
                        "PATCH",
                        false,
                        Some(json!({"account": {"first_name": "Al"}})),
                    ),
                ],
            },
        };
        let text = explained.render();
        assert!(text.starts_with("PATCH /Users/7 (tenant default) would make 2 downstream calls:"));
        assert!(text.contains(
            "\n  GET http://127.0.0.1:9/api/v1/accounts/7    (read: sent)\n    X-Api-Key: ***\n"
        ));
        assert!(text.contains(
            "\n  PATCH http://127.0.0.1:9/api/v1/accounts/7    (write: NOT sent)\n    X-Api-Key: ***\n    {\"account\":{\"first_name\":\"Al\"}}\n"
        ));
        assert!(text.contains("The SCIM client would get 200."));
    }
}
