//! Authentication of SCIM clients, per tenant: static bearer tokens from gateway.toml, tokens
//! the gateway issued (kept in the store), JWTs signed by an IdP ([`jwt`]) and HTTP Basic. Secrets are kept only as SHA-256
//! digests and compared in constant time, so neither the config, the store nor a timing side
//! channel gives one away. A failure never says which part was wrong.

pub mod basic;
pub mod issued;
pub mod jwt;
pub mod settings;
pub mod static_bearer;

use sha2::{Digest, Sha256};

use crate::store::Store;
use basic::BasicVerifier;
use issued::IssuedTokens;
use jwt::{JwtError, JwtVerifier};
use settings::ClientAuthConfig;
pub use static_bearer::BearerVerifier;

/// Who a request comes from, for the audit log: how it authenticated and the name it has
/// there (a token's name, a Basic user name). Never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub method: &'static str,
    pub name: String,
}

/// Why a request is not let in.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials, unusable ones or wrong ones: 401.
    #[error("authentication required")]
    Rejected,
    /// The credentials could not be checked now (the store is down): 503, retry later.
    #[error("cannot check credentials now: {0}")]
    Unavailable(String),
}

/// Everything one tenant accepts.
#[derive(Clone)]
pub struct Authenticator {
    bearer: BearerVerifier,
    issued: Option<IssuedTokens>,
    basic: Option<BasicVerifier>,
    jwt: Option<JwtVerifier>,
}

impl Authenticator {
    /// The methods `auth` enables for `tenant`; issued tokens are looked up in `store`.
    pub fn new(tenant: &str, auth: &ClientAuthConfig, store: Store) -> Self {
        Self {
            bearer: BearerVerifier::new(auth.bearer_sha256.clone()),
            issued: auth
                .issued_tokens
                .then(|| IssuedTokens::new(store.tokens, tenant)),
            basic: auth.basic.as_ref().map(BasicVerifier::new),
            jwt: auth.jwt.clone(),
        }
    }

    /// Checks an `Authorization` header value.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<ClientIdentity, AuthError> {
        let (scheme, credentials) = authorization
            .and_then(|v| v.trim().split_once(' '))
            .ok_or(AuthError::Rejected)?;
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            if self.bearer.verify(credentials) {
                return Ok(identity("bearer", "configured token"));
            }
            if let Some(jwt) = self.jwt.as_ref().filter(|_| looks_like_jwt(credentials)) {
                return match jwt.verify(credentials).await {
                    Ok(who) => Ok(identity("jwt", &who.subject)),
                    Err(JwtError::KeysUnavailable(e)) => Err(AuthError::Unavailable(e.to_string())),
                    Err(e) => {
                        tracing::debug!(reason = %e, "JWT refused");
                        Err(AuthError::Rejected)
                    }
                };
            }
            if let Some(issued) = &self.issued {
                match issued.verify(credentials).await {
                    Ok(Some(name)) => return Ok(identity("token", &name)),
                    Ok(None) => {}
                    Err(e) => return Err(AuthError::Unavailable(e.to_string())),
                }
            }
        } else if scheme.eq_ignore_ascii_case("basic")
            && let Some(user) = self.basic.as_ref().and_then(|b| b.verify(credentials))
        {
            return Ok(identity("basic", user));
        }
        Err(AuthError::Rejected)
    }

    /// The `WWW-Authenticate` challenge of a 401: Basic when that is how this tenant is
    /// reached, Bearer otherwise.
    pub fn challenge(&self) -> &'static str {
        if self.basic.is_some() {
            "Basic realm=\"scim\", charset=\"UTF-8\""
        } else {
            "Bearer realm=\"scim\""
        }
    }
}

/// Three base64url parts: a compact JWS.
fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

fn identity(method: &'static str, name: &str) -> ClientIdentity {
    ClientIdentity {
        method,
        name: name.to_owned(),
    }
}

/// The hex SHA-256 of a token, as written in `auth.bearer_sha256`.
pub fn token_digest_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: 32 bytes from the OS, hex-encoded.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}
