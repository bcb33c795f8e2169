//! Verification of JWT bearer tokens (RFC 7519) for tenants whose SCIM client authenticates
//! with OAuth, as Microsoft Entra ID does when its Secret Token field is left blank. Algorithms
//! are pinned per tenant, so a token cannot choose how it is checked (RFC 8725 §3.1).

mod error;
mod jwks;
#[cfg(test)]
mod tests;

pub use error::{JwksError, JwtConfigError, JwtError};

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use reqwest::Url;
use serde::Deserialize;

use jwks::{JwksCache, JwksSource};

/// Clock skew tolerated on `exp` and `nbf` when gateway.toml does not say.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The largest leeway accepted: more would keep expired tokens alive.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// How long one JWKS fetch may take when gateway.toml does not say.
pub const DEFAULT_JWKS_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest time between two JWKS fetches when gateway.toml does not say.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Tokens longer than this are refused unparsed (Entra's are about 1.5 KB).
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The algorithms a tenant may pin, by their JOSE names (RFC 7518 §3.1, RFC 8037 §3.1).
const ALGORITHMS: [(&str, Algorithm); 12] = [
    ("HS256", Algorithm::HS256),
    ("HS384", Algorithm::HS384),
    ("HS512", Algorithm::HS512),
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

/// Reads an algorithm name of gateway.toml, exactly as JOSE spells it; refuses `none`.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, JwtConfigError> {
    if name.eq_ignore_ascii_case("none") {
        return Err(JwtConfigError::AlgorithmNone);
    }
    algorithm_named(name).ok_or_else(|| JwtConfigError::UnknownAlgorithm(name.to_owned()))
}

fn algorithm_named(name: &str) -> Option<Algorithm> {
    ALGORITHMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, alg)| *alg)
}

/// Checked settings of one tenant's JWT auth (built by config from gateway.toml).
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// The `alg` values a token may carry; never empty, never HMAC beside public-key ones.
    pub algorithms: Vec<Algorithm>,
    /// Where the verification keys come from.
    pub key: JwtKeySource,
    /// The exact `iss` a token must carry.
    pub issuer: String,
    /// The `aud` a token must carry (alone or in its list).
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in whole seconds; at most [`MAX_LEEWAY`].
    pub leeway: Duration,
}

/// The keys that verify a tenant's tokens.
#[derive(Clone)]
pub enum JwtKeySource {
    /// The raw shared secret of HS256/384/512, at least as long as the hash output.
    Secret(Vec<u8>),
    /// The issuer's JWKS endpoint, for RS*, PS*, ES* and EdDSA.
    Jwks {
        /// https, or http on loopback.
        url: Url,
        /// Limit of one fetch, connect to last byte.
        timeout: Duration,
        /// Shortest time between two fetches triggered by unknown `kid`s.
        min_refresh_interval: Duration,
    },
}

/// By hand, so that the secret never reaches a log.
impl fmt::Debug for JwtKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
            Self::Jwks {
                url,
                timeout,
                min_refresh_interval,
            } => f
                .debug_struct("Jwks")
                .field("url", &url.as_str())
                .field("timeout", timeout)
                .field("min_refresh_interval", min_refresh_interval)
                .finish(),
        }
    }
}

/// Who a verified token says the client is, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIdentity {
    /// The `sub` claim (for Entra, the provisioning service principal).
    pub subject: String,
    /// The `iss` claim, equal to the configured issuer.
    pub issuer: String,
}

/// Verifies one tenant's bearer tokens. Cheap to clone: clones share the JWKS cache.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// One prepared validation per pinned algorithm; a token's `alg` selects one.
    validations: Vec<(Algorithm, Validation)>,
    keys: Keys,
}

enum Keys {
    Secret(Arc<DecodingKey>),
    Jwks(JwksCache),
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithms: Vec<Algorithm> = self.inner.validations.iter().map(|(a, _)| *a).collect();
        f.debug_struct("JwtVerifier")
            .field("algorithms", &algorithms)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Checks the settings and prepares the verifier; the JWKS is fetched on first use,
    /// with `http` (give it the gateway's TLS setup).
    pub fn new(settings: JwtSettings, http: reqwest::Client) -> Result<Self, JwtConfigError> {
        install_jwt_crypto();
        let JwtSettings {
            algorithms,
            key,
            issuer,
            audience,
            leeway,
        } = settings;
        check_algorithms(&algorithms)?;
        if issuer.is_empty() {
            return Err(JwtConfigError::EmptyIssuer);
        }
        if audience.is_empty() {
            return Err(JwtConfigError::EmptyAudience);
        }
        if leeway > MAX_LEEWAY {
            return Err(JwtConfigError::LeewayTooLarge {
                got: leeway.as_secs(),
                max: MAX_LEEWAY.as_secs(),
            });
        }
        let keys = match key {
            JwtKeySource::Secret(secret) => Keys::Secret(Arc::new(hmac_key(&algorithms, &secret)?)),
            JwtKeySource::Jwks {
                url,
                timeout,
                min_refresh_interval,
            } => {
                if let Some(hmac) = algorithms
                    .iter()
                    .find(|a| a.family() == AlgorithmFamily::Hmac)
                {
                    return Err(JwtConfigError::SecretRequired(*hmac));
                }
                check_jwks_url(&url)?;
                let source = JwksSource {
                    url,
                    timeout,
                    min_refresh_interval,
                };
                Keys::Jwks(JwksCache::new(http, source, algorithms.clone()))
            }
        };
        let validations = algorithms
            .iter()
            .map(|alg| (*alg, validation(*alg, &issuer, &audience, leeway)))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner { validations, keys }),
        })
    }

    /// Verifies signature, alg, iss, aud, exp, nbf; returns who the client is (for the audit log).
    pub async fn verify(&self, token: &str) -> Result<JwtIdentity, JwtError> {
        let header = peek_header(token)?;
        let (alg, validation) = self
            .inner
            .validations
            .iter()
            .find(|(alg, _)| Some(*alg) == header.alg)
            .ok_or(JwtError::AlgorithmNotAllowed(header.alg))?;
        let key = match &self.inner.keys {
            Keys::Secret(key) => Arc::clone(key),
            Keys::Jwks(cache) => cache.key_for(header.kid.as_deref(), *alg).await?,
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key, validation)
            .map_err(|e| JwtError::from_decode(&e))?
            .claims;
        // Both are required claims, so decode has refused a token without them already.
        Ok(JwtIdentity {
            subject: claims
                .sub
                .ok_or_else(|| JwtError::MissingClaim("sub".into()))?,
            issuer: claims
                .iss
                .ok_or_else(|| JwtError::MissingClaim("iss".into()))?,
        })
    }
}

/// The claims the gateway reads; `iss` as a plain string, so a list is refused as malformed.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    iss: Option<String>,
}

/// What the header says, read before any key is chosen.
struct TokenHeader {
    /// `None` for `none` and for names jsonwebtoken does not know.
    alg: Option<Algorithm>,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

/// Reads `alg` and `kid` from a compact JWS (RFC 7515 §7.1) without trusting anything yet,
/// so that `alg: none` is refused as a disallowed algorithm rather than as bad JSON.
fn peek_header(token: &str) -> Result<TokenHeader, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed("longer than 16 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not three dot-separated parts"));
    };
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Malformed("header is not base64url"))?;
    let raw: RawHeader = serde_json::from_slice(&json)
        .map_err(|_| JwtError::Malformed("header is not a JSON object with alg"))?;
    Ok(TokenHeader {
        alg: algorithm_named(&raw.alg),
        kid: raw.kid,
    })
}

/// Refuses an empty list and HMAC beside public-key algorithms (RFC 8725 §2.1).
fn check_algorithms(algorithms: &[Algorithm]) -> Result<(), JwtConfigError> {
    let is_hmac = |a: &&Algorithm| a.family() == AlgorithmFamily::Hmac;
    let hmac = algorithms.iter().find(is_hmac);
    let public = algorithms.iter().find(|a| !is_hmac(a));
    match (hmac, public) {
        (None, None) => Err(JwtConfigError::NoAlgorithms),
        (Some(hmac), Some(public)) => Err(JwtConfigError::MixedAlgorithms {
            hmac: *hmac,
            public: *public,
        }),
        _ => Ok(()),
    }
}

/// The HMAC key, at least as long as the longest hash it serves (RFC 7518 §3.2).
fn hmac_key(algorithms: &[Algorithm], secret: &[u8]) -> Result<DecodingKey, JwtConfigError> {
    let mut needed = (Algorithm::HS256, 32);
    for alg in algorithms {
        let min = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            other => return Err(JwtConfigError::JwksRequired(*other)),
        };
        if min > needed.1 {
            needed = (*alg, min);
        }
    }
    let (alg, min) = needed;
    let too_short = || JwtConfigError::SecretTooShort {
        alg,
        len: secret.len(),
        min,
    };
    if secret.len() < min {
        return Err(too_short());
    }
    // from_secret refuses only an empty secret.
    DecodingKey::from_secret(secret).map_err(|_| too_short())
}

/// https, or http to a loopback address (tests, a local IdP).
fn check_jwks_url(url: &Url) -> Result<(), JwtConfigError> {
    let loopback = match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(JwtConfigError::InsecureJwksUrl(url.to_string())),
    }
}

/// What jsonwebtoken checks for one pinned algorithm: `exp`, `iss`, `aud`, `sub` present,
/// `nbf` when present, both times with the leeway.
fn validation(alg: Algorithm, issuer: &str, audience: &str, leeway: Duration) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = leeway.as_secs();
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v
}

/// Makes jsonwebtoken use RustCrypto. It picks that by itself while `rust_crypto` is its only
/// backend feature, but would panic on first use should another crate turn on `aws_lc_rs` too.
fn install_jwt_crypto() {
    if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
        let _raced = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
}
