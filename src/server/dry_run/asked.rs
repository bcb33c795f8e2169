//! A SCIM request as an operator writes it for a dry run (the `explain` command, the
//! console's mapping playground), checked into the request the tenant's handlers take, and
//! the text that shows what it would do. Both front ends share it, so they accept the same
//! requests and show the same explanation.

use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::Request;
use http::{Method, header};
use serde_json::Value;

use super::{Explanation, explain};
use crate::server::AppState;
use crate::store::StoreError;

/// Why a request cannot be explained as written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    #[error("unsupported method {0:?}: use GET, POST, PUT, PATCH or DELETE")]
    Method(String),
    #[error("{0} takes no body")]
    UnwantedBody(Method),
    #[error("{0} needs a body: -d '{{...}}' or -d @file.json")]
    MissingBody(Method),
    #[error("{0:?} is not a SCIM path: write it like /Users/42 or /Groups")]
    Path(String),
}

/// A checked request to explain.
#[derive(Debug, Clone)]
pub struct Asked {
    pub method: Method,
    /// Relative to the Tenant URL.
    pub path: String,
    body: Option<Value>,
}

impl Asked {
    /// The method as curl picks it (the one given, else POST with a body and GET without; a
    /// body comes with exactly the methods that take one), and `path` under the Tenant URL at
    /// `base_path` (which it may include).
    pub fn new(
        base_path: &str,
        method: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> Result<Self, AskError> {
        let method = method_of(method, body.is_some())?;
        let relative = path
            .strip_prefix(base_path)
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(path);
        let relative = uri_escaped(relative);
        if !relative.starts_with('/') || relative.parse::<http::Uri>().is_err() {
            return Err(AskError::Path(path.to_owned()));
        }
        Ok(Self {
            method,
            path: relative,
            body,
        })
    }

    /// The request the tenant's handlers take.
    fn request(&self) -> Request {
        let mut request = Request::new(
            self.body
                .as_ref()
                .map_or_else(Body::empty, |b| Body::from(b.to_string())),
        );
        *request.method_mut() = self.method.clone();
        // Checked to parse in `new`.
        *request.uri_mut() = self.path.parse().unwrap_or_default();
        if self.body.is_some() {
            request.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/scim+json"),
            );
        }
        request
    }
}

/// `path` with what a URI cannot hold percent-encoded, so that a filter can be written as
/// Entra sends it before encoding (`/Users?filter=userName eq "a@b.c"`).
fn uri_escaped(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_graphic() && !"\"<>\\^`{|}".contains(c) {
            out.push(c);
        } else {
            let mut bytes = [0; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

/// The method as curl picks it.
fn method_of(given: Option<&str>, has_body: bool) -> Result<Method, AskError> {
    let method = match given.map(str::to_ascii_uppercase).as_deref() {
        None if has_body => Method::POST,
        None | Some("GET") => Method::GET,
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        Some("PATCH") => Method::PATCH,
        Some("DELETE") => Method::DELETE,
        Some(other) => return Err(AskError::Method(other.to_owned())),
    };
    let takes_body = matches!(method, Method::POST | Method::PUT | Method::PATCH);
    match (takes_body, has_body) {
        (false, true) => Err(AskError::UnwantedBody(method)),
        (true, false) => Err(AskError::MissingBody(method)),
        _ => Ok(method),
    }
}

/// What one request would do, ready to show.
#[derive(Debug)]
pub struct Explained {
    pub tenant: String,
    pub method: Method,
    /// Relative to the Tenant URL.
    pub path: String,
    pub explanation: Explanation,
}

/// Runs `asked` as `state`'s tenant would, as a dry run (see [`explain`]).
pub async fn explain_asked(state: &AppState, asked: Asked) -> Result<Explained, StoreError> {
    let explanation = explain(state, asked.request()).await?;
    Ok(Explained {
        tenant: state.tenant.clone(),
        method: asked.method,
        path: asked.path,
        explanation,
    })
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
            Err(AskError::UnwantedBody(_))
        ));
        assert!(matches!(
            method_of(Some("PUT"), false),
            Err(AskError::MissingBody(_))
        ));
        assert!(matches!(
            method_of(Some("FETCH"), false),
            Err(AskError::Method(_))
        ));
    }

    #[test]
    fn a_path_is_under_the_tenant_url() {
        let asked = Asked::new("/scim/v2", None, "/scim/v2/Users/7", None).unwrap();
        assert_eq!(asked.path, "/Users/7");
        let filter = Asked::new("/scim/v2", None, "/Users?filter=userName eq \"é\"", None);
        assert_eq!(
            filter.unwrap().path,
            "/Users?filter=userName%20eq%20%22%C3%A9%22"
        );
        for bad in ["Users", "", "http://elsewhere/Users"] {
            assert!(
                matches!(
                    Asked::new("/scim/v2", None, bad, None),
                    Err(AskError::Path(_))
                ),
                "{bad:?}"
            );
        }
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
