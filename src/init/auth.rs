//! `[downstream] auth` from the document's security schemes: an API key header, a bearer
//! token, HTTP Basic or OAuth2 client credentials, every secret as a `${VAR}` the operator sets.

use serde_json::Value;

use super::document::ApiDocument;
use super::guess::{Confidence, Reason};

/// The variable holding the API's origin (`base_url`).
pub const URL_VAR: &str = "API_URL";

/// The `auth = { ... }` value chosen, the variables it needs, and why.
#[derive(Debug, Clone)]
pub struct AuthGuess {
    /// The inline table as TOML text, e.g. `{ bearer = "${API_TOKEN}" }`; `None` when no
    /// scheme the gateway speaks is described.
    pub table: Option<String>,
    pub reason: Reason,
    /// Variables the operator must set for it.
    pub vars: Vec<&'static str>,
    /// Other schemes the document offers, as comments.
    pub others: Vec<String>,
}

/// Picks the first scheme of the document's default `security` the gateway can speak (else
/// the first such scheme of all).
pub fn auth_guess(doc: &ApiDocument) -> AuthGuess {
    let schemes = doc.security_schemes();
    let mut order: Vec<&(String, Value)> = doc
        .default_security()
        .iter()
        .filter_map(|name| schemes.iter().find(|(n, _)| n == name))
        .collect();
    for scheme in &schemes {
        if !order.iter().any(|(n, _)| *n == scheme.0) {
            order.push(scheme);
        }
    }
    let mut chosen: Option<AuthGuess> = None;
    let mut others = Vec::new();
    for (name, scheme) in order {
        match (chosen.is_none(), translate(name, scheme)) {
            (true, Ok(guess)) => chosen = Some(guess),
            (_, Ok(guess)) => others.push(format!("{name}: {}", guess.table.unwrap_or_default())),
            (_, Err(why)) => others.push(format!("{name}: {why}")),
        }
    }
    let mut guess = chosen.unwrap_or_else(|| AuthGuess {
        table: None,
        reason: Reason::new(
            Confidence::Low,
            "the document describes no security scheme the gateway speaks: add auth by hand",
        ),
        vars: Vec::new(),
        others: Vec::new(),
    });
    guess.others = others;
    guess
}

/// One scheme as `auth`, or why it cannot be.
fn translate(name: &str, scheme: &Value) -> Result<AuthGuess, String> {
    let field = |k: &str| scheme.get(k).and_then(Value::as_str).unwrap_or("");
    let made = |table: String, vars: Vec<&'static str>, why: String| AuthGuess {
        table: Some(table),
        reason: Reason::new(Confidence::High, why),
        vars,
        others: Vec::new(),
    };
    match (field("type"), field("scheme").to_ascii_lowercase().as_str()) {
        ("apiKey", _) if field("in") == "header" => {
            let header = toml_string(field("name"));
            Ok(made(
                format!("{{ header = {header}, value = \"${{API_KEY}}\" }}"),
                vec!["API_KEY"],
                format!("security scheme {name}: an API key in the {header} header"),
            ))
        }
        ("apiKey", _) => Err(format!(
            "an API key in the {} (the gateway sends credentials in headers only)",
            field("in")
        )),
        ("http", "bearer") => Ok(made(
            "{ bearer = \"${API_TOKEN}\" }".into(),
            vec!["API_TOKEN"],
            format!("security scheme {name}: HTTP bearer token"),
        )),
        ("http", "basic") | ("basic", _) => Ok(made(
            "{ username = \"${API_USERNAME}\", password = \"${API_PASSWORD}\" }".into(),
            vec!["API_USERNAME", "API_PASSWORD"],
            format!("security scheme {name}: HTTP Basic"),
        )),
        ("oauth2", _) => client_credentials(name, scheme),
        (other, _) => Err(format!("type {other:?} is not supported by the gateway")),
    }
}

/// OAuth2 with a client-credentials flow (OpenAPI 3 `flows.clientCredentials`, Swagger 2.0
/// `flow: application`); a token URL relative to the server is made relative to `${API_URL}`.
fn client_credentials(name: &str, scheme: &Value) -> Result<AuthGuess, String> {
    let flow = scheme
        .pointer("/flows/clientCredentials")
        .or_else(|| {
            (scheme.get("flow").and_then(Value::as_str) == Some("application")).then_some(scheme)
        })
        .ok_or("OAuth2 without a client-credentials flow (the gateway has no user to sign in)")?;
    let url = flow
        .get("tokenUrl")
        .and_then(Value::as_str)
        .ok_or("OAuth2 client credentials without a tokenUrl")?;
    let url = if url.contains("://") {
        url.to_owned()
    } else {
        format!("${{{URL_VAR}}}/{}", url.trim_start_matches('/'))
    };
    let scopes: Vec<&str> = flow
        .get("scopes")
        .and_then(Value::as_object)
        .map(|s| s.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let scope = if scopes.is_empty() {
        String::new()
    } else {
        format!(", scope = {}", toml_string(&scopes.join(" ")))
    };
    Ok(AuthGuess {
        table: Some(format!(
            "{{ token_url = {}, client_id = \"${{API_CLIENT_ID}}\", client_secret = \"${{API_CLIENT_SECRET}}\"{scope} }}",
            toml_string(&url)
        )),
        reason: Reason::new(
            Confidence::High,
            format!(
                "security scheme {name}: OAuth2 client credentials{}",
                if scopes.is_empty() {
                    String::new()
                } else {
                    " with every scope the document lists: keep only those the gateway needs".into()
                }
            ),
        ),
        vars: vec!["API_CLIENT_ID", "API_CLIENT_SECRET"],
        others: Vec::new(),
    })
}

/// A TOML key: bare when it can be (`userName`), else quoted.
pub fn toml_key(key: &str) -> String {
    if crate::config::shape::is_bare_key(key) {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// A TOML basic string, quoted and escaped.
pub fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests;
