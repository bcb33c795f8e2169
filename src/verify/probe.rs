//! One SCIM call and what came back, kept whole for the report: the request as a line (method,
//! path, body; never the token) and the answer's status and body.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde_json::Value;

use super::VerifyError;

const SCIM_JSON: &str = "application/scim+json";

/// A client bound to one Tenant URL and token.
pub(super) struct Probe {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// One call: what was sent and what came back (status 0: no answer, `text` says why).
#[derive(Debug, Clone)]
pub(super) struct Exchange {
    pub request: String,
    pub status: u16,
    pub text: String,
    pub json: Value,
}

impl Exchange {
    /// The answer as the report shows it.
    pub fn answer(&self) -> String {
        if self.status == 0 {
            return format!("no answer: {}", self.text);
        }
        format!("{} {}", self.status, self.text)
    }
}

impl Probe {
    pub fn new(url: &str, token: &str) -> Result<Self, VerifyError> {
        let invalid = |reason: String| VerifyError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https".into()));
        }
        crate::downstream::client::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("scim-gateway-verify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| VerifyError::Client(e.to_string()))?;
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    /// `method` on `path` (relative to the Tenant URL, starting with `/`) with `body`.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Exchange {
        let request = match body {
            Some(body) => format!("{method} {path} {body}"),
            None => format!("{method} {path}"),
        };
        let mut builder = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header(ACCEPT, SCIM_JSON);
        if let Some(body) = body {
            builder = builder
                .header(CONTENT_TYPE, SCIM_JSON)
                .body(body.to_string());
        }
        let (status, text) = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(text) => (status, text),
                    Err(e) => (0, format!("the answer broke off: {e}")),
                }
            }
            Err(e) => (0, chain(&e.without_url())),
        };
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Exchange {
            request,
            status,
            text,
            json,
        }
    }
}

/// An error with its causes ("error sending request: connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
