//! Dry runs of downstream calls (`scim-gateway explain`, `?dry_run=true`): reads go out as
//! usual, since what a write sends is computed from what they return; every other call is
//! recorded and answered with a made-up success instead of being sent. The record shows each
//! call as an operator may see it: the credential, the configured headers and the fields of
//! sensitive attributes (`sensitive = true`, SCIM's password) masked.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::{Method, Url};
use serde::Serialize;
use serde_json::{Map, Value};

use super::auth::DownstreamAuth;
use super::error::DownstreamError;
use super::transport::{Call, HttpTransport};
use crate::json_pointer::JsonPointer;
use crate::mapping::MASK;

/// The id a dry-run create is answered with, where the new record's id would be.
pub const NEW_ID: &str = "(new id)";

/// One downstream call of a dry run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedCall {
    pub method: String,
    /// With credentials in the user info or the query masked.
    pub url: String,
    /// The credential and the configured headers, their values masked.
    pub headers: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// True for reads, which were sent; false for writes, which were not.
    pub sent: bool,
}

/// The transport of a dry-run client: every call is recorded in its log; reads are then sent
/// through the real transport, every other call answered with a made-up success instead.
#[derive(Debug, Clone)]
pub struct RecordingTransport {
    http: Arc<HttpTransport>,
    log: CallLog,
}

impl RecordingTransport {
    /// Records over `http`, masking its credential and headers and the body fields at
    /// `sensitive`.
    pub fn new(http: Arc<HttpTransport>, sensitive: Vec<JsonPointer>) -> Self {
        let settings = http.settings();
        let log = CallLog::new(&settings.auth, &settings.headers, sensitive);
        Self { http, log }
    }

    /// The calls recorded by this transport and its clones.
    pub fn log(&self) -> &CallLog {
        &self.log
    }

    /// The transport the reads go through.
    pub fn http(&self) -> &Arc<HttpTransport> {
        &self.http
    }

    /// One attempt: recorded, then sent if it is a read; a write's made-up answer carries
    /// [`NEW_ID`] at `id_at` (a create's id pointer).
    pub async fn send_once(
        &self,
        call: Call<'_>,
        id_at: Option<&JsonPointer>,
    ) -> Result<Option<Value>, DownstreamError> {
        let read = call.method == Method::GET;
        self.log.record(call.method, call.url, call.body, read);
        if read {
            self.http.send_once(call).await
        } else {
            Ok(synthetic_answer(call.body, id_at))
        }
    }
}

/// The calls of one dry run, in order; clones share the list.
#[derive(Debug, Clone)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<PlannedCall>>>,
    masker: Arc<Masker>,
}

impl CallLog {
    /// An empty log for a client with this credential and these extra headers, masking the
    /// body fields at `sensitive`.
    fn new(
        auth: &DownstreamAuth,
        headers: &[(String, String)],
        sensitive: Vec<JsonPointer>,
    ) -> Self {
        Self {
            calls: Arc::default(),
            masker: Arc::new(Masker::new(auth, headers, sensitive)),
        }
    }

    /// Records a call, masked.
    fn record(&self, method: &Method, url: &Url, body: Option<&Value>, sent: bool) {
        let call = PlannedCall {
            method: method.to_string(),
            url: self.masker.url(url),
            headers: self
                .masker
                .headers
                .iter()
                .map(|name| (name.clone(), Value::String(MASK.to_owned())))
                .collect(),
            body: body.map(|b| self.masker.body(b)),
            sent,
        };
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
    }

    /// The calls recorded so far.
    pub fn calls(&self) -> Vec<PlannedCall> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The made-up success a write gets in a dry run: the body it sent, echoed (as APIs that
/// answer with the stored record do), with [`NEW_ID`] at `id_at` for a create; no body
/// when none was sent.
fn synthetic_answer(body: Option<&Value>, id_at: Option<&JsonPointer>) -> Option<Value> {
    let mut answer = body?.clone();
    if let Some(pointer) = id_at {
        pointer.set(&mut answer, Value::String(NEW_ID.to_owned()));
    }
    Some(answer)
}

/// What must never show in a recorded call.
struct Masker {
    /// Names of the headers every call carries (credential first); their values are masked.
    headers: Vec<String>,
    /// Credential values: masked wherever they appear in a URL or a body.
    credentials: Vec<String>,
    /// Values of the configured headers: masked where a query value is one of them.
    header_values: Vec<String>,
    /// Body fields holding sensitive attributes: masked whatever their value.
    sensitive: Vec<JsonPointer>,
}

impl Masker {
    fn new(
        auth: &DownstreamAuth,
        headers: &[(String, String)],
        sensitive: Vec<JsonPointer>,
    ) -> Self {
        let (auth_header, credentials) = match auth {
            DownstreamAuth::None => (None, Vec::new()),
            DownstreamAuth::Header { name, value } => (Some(name.clone()), vec![value.clone()]),
            DownstreamAuth::Bearer(token) => (Some("Authorization".into()), vec![token.clone()]),
            DownstreamAuth::Basic { password, .. } => {
                (Some("Authorization".into()), vec![password.clone()])
            }
            DownstreamAuth::OAuth2(c) => {
                (Some("Authorization".into()), vec![c.client_secret.clone()])
            }
        };
        Self {
            headers: auth_header
                .into_iter()
                .chain(headers.iter().map(|(name, _)| name.clone()))
                .collect(),
            credentials: credentials.into_iter().filter(|c| !c.is_empty()).collect(),
            header_values: headers
                .iter()
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
                .collect(),
            sensitive,
        }
    }

    fn reveals_credential(&self, text: &str) -> bool {
        self.credentials.iter().any(|c| text.contains(c.as_str()))
    }

    fn url(&self, url: &Url) -> String {
        let mut url = url.clone();
        if url.password().is_some() {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = url.set_password(Some(MASK));
        }
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let secret =
            |v: &str| self.reveals_credential(v) || self.header_values.iter().any(|h| h == v);
        if pairs.iter().any(|(_, v)| secret(v)) {
            let masked = pairs.into_iter().map(|(k, v)| {
                if secret(&v) {
                    (k, MASK.to_owned())
                } else {
                    (k, v)
                }
            });
            url.query_pairs_mut().clear().extend_pairs(masked);
        }
        let shown = url.to_string();
        if self.reveals_credential(&shown) {
            // A credential in the path (an operation written with one): hide it there too.
            return self
                .credentials
                .iter()
                .fold(shown, |text, c| text.replace(c.as_str(), MASK));
        }
        shown
    }

    fn body(&self, body: &Value) -> Value {
        let mut shown = self.without_credentials(body);
        for field in &self.sensitive {
            if field.get(&shown).is_some_and(|v| !v.is_null()) {
                field.set(&mut shown, Value::String(MASK.to_owned()));
            }
        }
        shown
    }

    fn without_credentials(&self, body: &Value) -> Value {
        match body {
            Value::String(s) if self.reveals_credential(s) => Value::String(MASK.to_owned()),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.without_credentials(v)).collect())
            }
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), self.without_credentials(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masker(headers: {:?}, values: ***)", self.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log() -> CallLog {
        CallLog::new(
            &DownstreamAuth::Header {
                name: "X-Api-Key".into(),
                value: "s3cr3t-key".into(),
            },
            &[("X-Tenant".into(), "acme".into())],
            vec!["/user/secret".parse().unwrap()],
        )
    }

    #[test]
    fn headers_and_credentials_are_masked_everywhere() {
        let log = log();
        let url = Url::parse(
            "http://svc:s3cr3t-key@127.0.0.1:9/s3cr3t-key/users?key=s3cr3t-key&t=acme&q=ann%20lee",
        )
        .unwrap();
        log.record(
            &Method::POST,
            &url,
            Some(&json!({"token": "x-s3cr3t-key", "name": "acme", "n": 1})),
            false,
        );
        let call = &log.calls()[0];
        let shown = serde_json::to_string(call).unwrap();
        assert!(!shown.contains("s3cr3t-key"), "{shown}");
        assert_eq!(call.headers["X-Api-Key"], json!(MASK));
        assert_eq!(call.headers["X-Tenant"], json!(MASK));
        assert_eq!(
            call.url,
            "http://svc:***@127.0.0.1:9/***/users?key=***&t=***&q=ann+lee"
        );
        // Body text that merely equals a header value is data, not a secret.
        assert_eq!(
            call.body,
            Some(json!({"token": MASK, "name": "acme", "n": 1}))
        );
        assert!(!format!("{log:?}").contains("s3cr3t"));
    }

    #[test]
    fn sensitive_fields_are_masked_whatever_their_value() {
        let log = log();
        let url = Url::parse("http://127.0.0.1:9/users").unwrap();
        let sent = json!({"user": {"secret": "hunter2", "name": "ann"}});
        log.record(&Method::POST, &url, Some(&sent), false);
        log.record(
            &Method::PATCH,
            &url,
            Some(&json!({"user": {"name": "bo"}})),
            false,
        );
        let calls = log.calls();
        assert_eq!(
            calls[0].body,
            Some(json!({"user": {"secret": MASK, "name": "ann"}}))
        );
        // A call without the field is shown without it, not with a mask that was never sent.
        assert_eq!(calls[1].body, Some(json!({"user": {"name": "bo"}})));
    }

    #[test]
    fn a_url_without_secrets_is_shown_as_sent() {
        let log = log();
        let url = Url::parse("http://127.0.0.1:9/users?email=ann%40example.com&page=1").unwrap();
        log.record(&Method::GET, &url, None, true);
        assert_eq!(log.calls()[0].url, url.as_str());
        assert!(log.calls()[0].sent);
    }

    #[test]
    fn a_create_is_answered_with_its_record_and_a_placeholder_id() {
        let id_at: JsonPointer = "/account/id".parse().unwrap();
        let sent = json!({"account": {"email": "ann@example.com"}});
        assert_eq!(
            synthetic_answer(Some(&sent), Some(&id_at)),
            Some(json!({"account": {"email": "ann@example.com", "id": NEW_ID}}))
        );
        assert_eq!(synthetic_answer(Some(&sent), None), Some(sent));
        assert_eq!(synthetic_answer(None, Some(&id_at)), None);
    }
}
