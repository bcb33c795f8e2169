//! `scim-gateway explain`: the downstream calls one SCIM request would make, printed for an
//! operator, without a write reaching the downstream or the store. Reads are sent (what a
//! write sends is computed from what they return) and the output says so. The request runs
//! through the same handlers and services as `serve` (see [`crate::server::dry_run`]), so
//! the translation shown is the one the gateway makes.

use std::io::Read as _;
use std::path::PathBuf;

use serde_json::Value;

use crate::server::dry_run::{self, AskError, Asked, Explained};
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
    #[error(transparent)]
    Ask(#[from] AskError),
    #[error("cannot read the body from {path}: {source}")]
    ReadBody {
        path: String,
        source: std::io::Error,
    },
    #[error("the body is not JSON: {0}")]
    BodyJson(serde_json::Error),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Loads the config, opens its store and runs the request as a dry run.
pub async fn run(request: &ExplainRequest) -> Result<Explained, ExplainError> {
    let config = Config::load(&request.config)?;
    let tenant = config.select_tenant(request.tenant.as_deref())?;
    let body = request.data.as_deref().map(read_body).transpose()?;
    let asked = Asked::new(
        &tenant.base_path,
        request.method.as_deref(),
        &request.path,
        body,
    )?;
    let store = server::open_store(&config).await?;
    let explained: Result<Explained, ExplainError> =
        match server::tenant_state(&config, tenant, store.clone()) {
            Ok(state) => dry_run::explain_asked(&state, asked)
                .await
                .map_err(Into::into),
            Err(e) => Err(e.into()),
        };
    store.close().await;
    explained
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
    use serde_json::json;

    use super::*;

    #[test]
    fn a_body_is_inline_json_or_a_file() {
        assert_eq!(read_body(r#"{"a": 1}"#).ok(), Some(json!({"a": 1})));
        assert!(matches!(read_body("{"), Err(ExplainError::BodyJson(_))));
        assert!(matches!(
            read_body("@/nonexistent/body.json"),
            Err(ExplainError::ReadBody { .. })
        ));
    }
}
