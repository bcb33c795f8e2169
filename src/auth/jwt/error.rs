//! What can be wrong with a JWT tenant's settings, with a presented token, or with the issuer's
//! key set. No message quotes a token: only names the gateway chose, or a `kid` made printable.

use std::sync::Arc;

use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use thiserror::Error;

/// Settings that cannot make a safe verifier; config names the gateway.toml key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// `none` means an unsigned token, which anyone can write (RFC 8725 §3.2).
    #[error("\"none\" is not an allowed JWT algorithm: tokens must be signed")]
    AlgorithmNone,
    /// A name that is not a JOSE signature algorithm jsonwebtoken verifies.
    #[error(
        "unknown JWT algorithm {0:?}; expected one of HS256, HS384, HS512, RS256, RS384, \
         RS512, PS256, PS384, PS512, ES256, ES384, EdDSA (names are case-sensitive)"
    )]
    UnknownAlgorithm(String),
    /// An empty list would pin nothing.
    #[error("no JWT algorithm given: list at least one, e.g. algorithms = [\"RS256\"]")]
    NoAlgorithms,
    /// HMAC beside a public-key algorithm invites the HS/RS confusion attack (RFC 8725 §2.1).
    #[error(
        "algorithms mix {hmac:?} (shared secret) with {public:?} (public key); \
         a tenant uses one kind only"
    )]
    MixedAlgorithms { hmac: Algorithm, public: Algorithm },
    /// An HMAC algorithm was paired with a JWKS URL.
    #[error("{0:?} verifies with a shared secret: set secret, not jwks_url")]
    SecretRequired(Algorithm),
    /// A public-key algorithm was paired with a shared secret.
    #[error("{0:?} verifies with the issuer's public keys: set jwks_url, not secret")]
    JwksRequired(Algorithm),
    /// RFC 7518 §3.2: an HMAC key at least as long as the hash output.
    #[error("the secret has {len} bytes; {alg:?} needs at least {min} random bytes")]
    SecretTooShort {
        alg: Algorithm,
        len: usize,
        min: usize,
    },
    /// Keys fetched in clear text could be swapped by anyone on the path.
    #[error("jwks_url {0} must use https (plain http is allowed on loopback only)")]
    InsecureJwksUrl(String),
    /// An empty issuer would match nothing a real IdP sends.
    #[error("issuer is empty")]
    EmptyIssuer,
    /// An empty audience would match nothing a real IdP sends.
    #[error("audience is empty")]
    EmptyAudience,
    /// A large leeway keeps expired tokens alive.
    #[error("leeway of {got} s is too large; at most {max} s")]
    LeewayTooLarge { got: u64, max: u64 },
}

/// Why a presented token was refused. The HTTP layer answers 503 for
/// [`JwtError::KeysUnavailable`] (a retry may help) and 401 for everything else.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not a compact JWS with JSON header and claims (the client's fault).
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not pinned for this tenant; `None` for `none` or an unknown name.
    #[error("token algorithm {} is not allowed for this tenant", algorithm_name(.0))]
    AlgorithmNotAllowed(Option<Algorithm>),
    /// The signature does not match the key.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is past, beyond the leeway.
    #[error("token has expired")]
    Expired,
    /// `nbf` is ahead, beyond the leeway.
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("token issuer does not match")]
    WrongIssuer,
    /// `aud` does not name the configured audience.
    #[error("token audience does not match")]
    WrongAudience,
    /// A claim the gateway requires (`exp`, `iss`, `aud`, `sub`) is absent or of the wrong
    /// JSON type (e.g. `exp` as text).
    #[error("token lacks a usable {0} claim")]
    MissingClaim(String),
    /// An optional registered claim has the wrong JSON type (e.g. `nbf` as text).
    #[error("token claim {0} has the wrong type")]
    BadClaim(String),
    /// No key of the issuer's key set fits the token's `kid` and `alg`, even after a refetch.
    #[error(
        "no key in the issuer's key set matches the token (kid {})",
        .kid.as_deref().unwrap_or("absent")
    )]
    UnknownKey {
        /// The token's `kid`, or a placeholder when it is not printable.
        kid: Option<String>,
    },
    /// The key set could not be fetched (the IdP's or the network's fault; a retry may help).
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(#[source] JwksError),
    /// The key found cannot check this token (a key the IdP published in an unusable form).
    #[error("the key found for the token cannot check its signature")]
    KeyUnusable,
}

/// Why the issuer's key set could not be had.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum JwksError {
    /// No answer: connection refused, timeout, TLS failure.
    #[error("cannot fetch the key set: {0}")]
    Fetch(#[source] Arc<reqwest::Error>),
    /// The endpoint answered with an error status.
    #[error("the key set endpoint answered HTTP {0}")]
    Status(u16),
    /// The answer exceeds the size any real key set has.
    #[error("the key set is larger than {0} bytes")]
    TooLarge(usize),
    /// The answer is not a JWK Set (RFC 7517 §5).
    #[error("the answer is not a JWK set: {0}")]
    Parse(#[source] Arc<serde_json::Error>),
    /// The fetch task was stopped before it finished (the gateway is shutting down).
    #[error("the key set fetch was interrupted")]
    Interrupted,
}

/// The longest `kid` quoted in an error; longer ones, or any with a non-printable
/// character, are replaced so that a token cannot write into the log.
const MAX_QUOTED_KID: usize = 128;

impl JwtError {
    /// [`JwtError::UnknownKey`] quoting `kid` only when it is short and printable.
    pub(super) fn unknown_key(kid: Option<&str>) -> Self {
        let printable =
            |k: &&str| k.len() <= MAX_QUOTED_KID && k.bytes().all(|b| b.is_ascii_graphic());
        let kid = kid.map(|k| match Some(k).filter(printable) {
            Some(k) => k.to_owned(),
            None => "(unprintable)".to_owned(),
        });
        Self::UnknownKey { kid }
    }

    /// The variant for an error of jsonwebtoken's `decode`.
    pub(super) fn from_decode(e: &jsonwebtoken::errors::Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidClaimFormat(claim) => Self::BadClaim(claim.clone()),
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => {
                Self::Malformed("header or claims are not the JSON a JWT carries")
            }
            // The rest concern the key (a JWK that parses but is no valid point or modulus)
            // or kinds added to jsonwebtoken later; none is described better by another variant.
            _ => Self::KeyUnusable,
        }
    }
}

fn algorithm_name(alg: &Option<Algorithm>) -> String {
    match alg {
        Some(alg) => format!("{alg:?}"),
        None => "(none or unknown)".to_owned(),
    }
}
