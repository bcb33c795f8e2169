//! The `auth` section of a tenant compiled: static bearer digests, issued tokens, Basic and
//! JWT/JWKS settings.

use std::time::Duration;

use crate::config::Spanned;
use sha2::{Digest, Sha256};

use super::jwt::{self, JwtVerifier};
use crate::config::Interp;
use crate::config::error::{ConfigError, Source};
use crate::config::raw::{self, RawAuth};

/// How SCIM clients of one tenant may authenticate. Static secrets are kept as SHA-256
/// digests only.
#[derive(Clone, Default)]
pub struct ClientAuthConfig {
    pub bearer_sha256: Vec<[u8; 32]>,
    /// Tokens issued by `scim-gateway token create`, looked up in the store.
    pub issued_tokens: bool,
    pub basic: Option<BasicCredentials>,
    /// JWT bearer tokens signed by an IdP (its JWKS cache lives here).
    pub jwt: Option<JwtVerifier>,
}

/// The one user name and password a tenant (or the operator console) accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    pub username: String,
    pub password_sha256: [u8; 32],
}

impl std::fmt::Debug for ClientAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClientAuthConfig({} bearer token digests, issued tokens: {}, basic: {}, jwt: {:?})",
            self.bearer_sha256.len(),
            self.issued_tokens,
            self.basic.as_ref().map_or("no", |b| b.username.as_str()),
            self.jwt
        )
    }
}

/// Compiles a tenant's `auth` section.
pub fn compile_client_auth(
    raw: &RawAuth,
    src: &Source,
    interp: &Interp,
) -> Result<ClientAuthConfig, ConfigError> {
    let mut digests = Vec::new();
    for h in &raw.bearer_sha256 {
        digests.push(parse_digest(h.get_ref()).ok_or_else(|| {
            src.invalid(
                h.span(),
                "auth.bearer_sha256",
                "expected 64 hex digits (a SHA-256 digest)",
            )
        })?);
    }
    for t in &raw.bearer {
        let token = interp("auth.bearer", t)?;
        if token.len() < 16 {
            return Err(src.invalid(
                t.span(),
                "auth.bearer",
                "a bearer token needs at least 16 characters",
            ));
        }
        digests.push(Sha256::digest(token.as_bytes()).into());
    }
    let basic = raw
        .basic
        .as_ref()
        .map(|b| compile_basic(b, src, interp, "auth.basic"))
        .transpose()?;
    if raw.is_empty() {
        return Err(src.invalid(
            0..0,
            "auth",
            "no way to authenticate SCIM clients: set issued_tokens = true (tokens from \
             `scim-gateway token create`), bearer, bearer_sha256, basic or jwt",
        ));
    }
    let jwt = raw
        .jwt
        .as_ref()
        .map(|j| compile_jwt(j, src, interp))
        .transpose()?;
    Ok(ClientAuthConfig {
        bearer_sha256: digests,
        issued_tokens: raw.issued_tokens,
        basic,
        jwt,
    })
}

/// `auth.jwt`: pinned algorithms, key source, issuer, audience and leeway, checked by building
/// the verifier (its JWKS is fetched on first use, not here).
fn compile_jwt(
    raw: &Spanned<raw::RawJwt>,
    src: &Source,
    interp: &Interp,
) -> Result<JwtVerifier, ConfigError> {
    let span = raw.span();
    let j = raw.get_ref();
    let err = |m: String| src.invalid(span.clone(), "auth.jwt", m);
    let text = |v: &str| interp("auth.jwt", &Spanned::new(span.clone(), v.to_owned()));
    let algorithms = j
        .algorithms
        .iter()
        .map(|a| jwt::parse_algorithm(a).map_err(|e| err(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let key = match (&j.secret, &j.jwks_url) {
        (Some(secret), None) => jwt::JwtKeySource::Secret(text(secret)?.into_bytes()),
        (None, Some(url)) => jwt::JwtKeySource::Jwks {
            url: reqwest::Url::parse(&text(url)?).map_err(|e| err(format!("jwks_url: {e}")))?,
            timeout: j
                .jwks_timeout_ms
                .map_or(jwt::DEFAULT_JWKS_TIMEOUT, Duration::from_millis),
            min_refresh_interval: jwt::DEFAULT_MIN_REFRESH_INTERVAL,
        },
        _ => {
            return Err(err(
                "give jwks_url (RS*, ES*) or secret (HS*), not both".into()
            ));
        }
    };
    let settings = jwt::JwtSettings {
        algorithms,
        key,
        issuer: text(&j.issuer)?,
        audience: text(&j.audience)?,
        leeway: j.leeway_s.map_or(jwt::DEFAULT_LEEWAY, Duration::from_secs),
    };
    let http = crate::crypto::http_client()
        .map_err(|e| err(format!("cannot set up the JWKS client: {e}")))?
        .build()
        .map_err(|e| err(format!("cannot set up the JWKS client: {e}")))?;
    JwtVerifier::new(settings, http).map_err(|e| err(e.to_string()))
}

/// A hex SHA-256 digest.
/// A hex SHA-256 digest as bytes.
pub fn parse_digest(text: &str) -> Option<[u8; 32]> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
}

/// Compiles a `basic = { username, password | password_sha256 }` table found at `key`.
pub fn compile_basic(
    raw: &Spanned<raw::RawBasic>,
    src: &Source,
    interp: &Interp,
    key: &str,
) -> Result<BasicCredentials, ConfigError> {
    let span = raw.span();
    let b = raw.get_ref();
    let err = |m: &str| src.invalid(span.clone(), key, m);
    if b.username.is_empty() || b.username.contains(':') {
        return Err(err("username: not empty and without ':'"));
    }
    let password_sha256 = match (&b.password, &b.password_sha256) {
        (Some(p), None) => {
            let password = interp(key, &Spanned::new(span.clone(), p.clone()))?;
            if password.len() < 12 {
                return Err(err("the password needs at least 12 characters"));
            }
            Sha256::digest(password.as_bytes()).into()
        }
        (None, Some(h)) => {
            parse_digest(h).ok_or_else(|| err("password_sha256: expected 64 hex digits"))?
        }
        _ => {
            return Err(err(
                "give password (use ${ENV}) or password_sha256, not both",
            ));
        }
    };
    Ok(BasicCredentials {
        username: b.username.clone(),
        password_sha256,
    })
}
