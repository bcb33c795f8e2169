//! The text a configuration was loaded from, kept for the operator console: its version (a
//! digest, so an operator can tell which file is being served after a reload) and a view of
//! it with every secret masked. Secrets belong in `${VAR}` references, which are names and
//! stay visible; a literal credential written into the file is replaced by `"********"`.

use std::ops::Range;
use std::sync::Arc;

use serde_spanned::Spanned;
use sha2::{Digest, Sha256};
use toml::de::{DeTable, DeValue};

/// What a masked secret shows instead.
const MASK: &str = "\"********\"";

/// Key names (or parts of them) that hold a secret wherever they stand.
const SECRET_WORDS: &[&str] = &[
    "password",
    "secret",
    "token",
    "bearer",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "cookie",
    "private",
];

/// Keys under an `auth` or `headers` table that name things rather than hold secrets.
const NOT_SECRET: &[&str] = &[
    "header",
    "username",
    "user",
    "client_id",
    "scope",
    "client_auth",
    "issuer",
    "audience",
    "algorithms",
    "jwks_url",
    "token_url",
];

/// The text of a loaded gateway.toml. Its `Debug` shows only the version: the text may hold
/// a literal secret.
#[derive(Clone)]
pub struct FileText {
    text: Arc<str>,
    version: String,
}

impl FileText {
    pub fn new(text: &str) -> Self {
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        Self {
            text: text.into(),
            version: digest[..12].to_owned(),
        }
    }

    /// The first 12 hex digits of the text's SHA-256.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The text with every secret value masked (see the module's comment).
    pub fn masked(&self) -> String {
        masked(&self.text)
    }
}

impl std::fmt::Debug for FileText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileText({})", self.version)
    }
}

/// `text` with the value of every secret key masked. A text that does not parse as TOML is
/// masked whole (a loaded configuration always parses).
pub fn masked(text: &str) -> String {
    let (document, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return MASK.to_owned();
    }
    let mut spans = Vec::new();
    for (key, value) in document.get_ref() {
        secret_spans(value, &[key.get_ref()], &mut spans);
    }
    spans.sort_by_key(|span| std::cmp::Reverse(span.start));
    let mut out = text.to_owned();
    for span in spans {
        if out.get(span.clone()).is_some() {
            out.replace_range(span, MASK);
        }
    }
    out
}

/// Collects the spans of the secret strings in `value`, found at the keys `path`.
fn secret_spans(value: &Spanned<DeValue>, path: &[&str], spans: &mut Vec<Range<usize>>) {
    match value.get_ref() {
        DeValue::String(text) if is_secret_key(path) && !only_references(text) => {
            spans.push(value.span());
        }
        DeValue::Array(array) => {
            for element in array {
                secret_spans(element, path, spans);
            }
        }
        DeValue::Table(table) => {
            for (key, inner) in table {
                let mut deeper = path.to_vec();
                deeper.push(key.get_ref());
                secret_spans(inner, &deeper, spans);
            }
        }
        _ => {}
    }
}

/// Whether the value at `path` is a secret: its key says so, or it stands in an `auth` or
/// `headers` table under a key that names something else than a secret.
fn is_secret_key(path: &[&str]) -> bool {
    let Some((leaf, parents)) = path.split_last() else {
        return false;
    };
    let leaf = leaf.to_ascii_lowercase();
    if leaf.ends_with("_url") {
        return false;
    }
    SECRET_WORDS.iter().any(|word| leaf.contains(word))
        || (parents.iter().any(|p| matches!(*p, "auth" | "headers"))
            && !NOT_SECRET.contains(&leaf.as_str()))
}

/// True when `text` takes its secret from the environment: it holds `${NAME}` references
/// and, besides them, at most an HTTP auth scheme such as `Bearer`.
fn only_references(text: &str) -> bool {
    let mut rest = text;
    let mut literal = String::new();
    let mut references = 0;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return false;
        };
        references += 1;
        rest = &rest[start + end + 1..];
    }
    literal.push_str(rest);
    let literal = literal.trim();
    references > 0
        && (literal.is_empty()
            || ["bearer", "basic", "token"].contains(&literal.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_secrets_are_masked_and_references_shown() {
        let text = r#"
[server]
listen = "127.0.0.1:8080"

[auth]
bearer = ["${SCIM_TOKEN}", "literal-token-abc"]
basic = { username = "entra", password = "hunter2" }

[downstream]
url = "https://api.example.com"
auth = { header = "X-Api-Key", value = "key-123-literal" }
headers = { "X-Tenant" = "acme-secret-9", "Authorization" = "Bearer ${API_KEY}" }

[[tenants]]
name = "acme"
downstream.auth = { token_url = "https://idp/token", client_id = "gw", client_secret = "s3cr3t" }
"#;
        let shown = masked(text);
        for secret in [
            "literal-token-abc",
            "hunter2",
            "key-123-literal",
            "acme-secret-9",
            "s3cr3t",
        ] {
            assert!(!shown.contains(secret), "{secret} shows in {shown}");
        }
        for kept in [
            "${SCIM_TOKEN}",
            "Bearer ${API_KEY}",
            "username = \"entra\"",
            "header = \"X-Api-Key\"",
            "https://idp/token",
            "client_id = \"gw\"",
            "https://api.example.com",
            "name = \"acme\"",
        ] {
            assert!(shown.contains(kept), "{kept} is missing from {shown}");
        }
        assert_eq!(shown.matches(MASK).count(), 5, "{shown}");
    }

    #[test]
    fn a_reference_with_literal_text_around_it_is_masked() {
        assert!(only_references("${A}"));
        assert!(only_references("Bearer ${A}"));
        assert!(!only_references("abc${A}"));
        assert!(!only_references("plain"));
        assert!(!only_references("${unterminated"));
    }

    #[test]
    fn the_version_follows_the_text_and_debug_hides_it() {
        let a = FileText::new("password = \"x\"");
        assert_eq!(a.version().len(), 12);
        assert_ne!(a.version(), FileText::new("password = \"y\"").version());
        assert!(!format!("{a:?}").contains("password"));
    }
}
