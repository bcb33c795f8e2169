//! The issuer's public keys, fetched from its JWKS endpoint (RFC 7517 §5) and cached by `kid`.
//! A token naming an unknown `kid` (the IdP rotated its keys) triggers a refetch, at most one
//! per `min_refresh_interval`, so that a stream of garbage tokens cannot hammer the IdP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use reqwest::Url;
use tokio::sync::{Mutex, OwnedMutexGuard, RwLock};

use super::error::{JwksError, JwtError};

/// Larger than any real key set (Entra's holds a handful of keys in about 10 KB).
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Where and how often to fetch the key set.
pub(super) struct JwksSource {
    pub url: Url,
    pub timeout: Duration,
    pub min_refresh_interval: Duration,
}

/// The cached key set of one tenant, shared by all its verifications.
pub(super) struct JwksCache {
    shared: Arc<Shared>,
}

struct Shared {
    http: reqwest::Client,
    source: JwksSource,
    /// The tenant's pinned algorithms: keys fitting none of them are not kept.
    algorithms: Vec<Algorithm>,
    /// Read by every verification; written only to swap in a fetched set.
    keys: RwLock<Arc<KeySet>>,
    /// Held while fetching, so that concurrent verifications share one fetch.
    refresh: Arc<Mutex<RefreshState>>,
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    last_error: Option<JwksError>,
}

/// One fetched key set; `generation` counts the successful fetches.
#[derive(Default)]
struct KeySet {
    generation: u64,
    keys: Vec<Key>,
}

struct Key {
    kid: Option<String>,
    /// Which of the tenant's algorithms this key verifies.
    algorithms: Vec<Algorithm>,
    key: Arc<DecodingKey>,
}

impl JwksCache {
    /// An empty cache; the first verification fetches.
    pub(super) fn new(
        http: reqwest::Client,
        source: JwksSource,
        algorithms: Vec<Algorithm>,
    ) -> Self {
        let shared = Shared {
            http,
            source,
            algorithms,
            keys: RwLock::default(),
            refresh: Arc::default(),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The key for a token's `kid` and `alg`: from the cache, else after one refetch if the
    /// last fetch started more than `min_refresh_interval` ago.
    pub(super) async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<DecodingKey>, JwtError> {
        let shared = &self.shared;
        let seen = shared.key_set().await;
        if let Some(key) = seen.find(kid, alg) {
            return Ok(key);
        }
        let refresh = Arc::clone(&shared.refresh).lock_owned().await;
        let current = shared.key_set().await;
        if current.generation != seen.generation {
            // Another verification fetched while this one waited for the lock.
            return current
                .find(kid, alg)
                .ok_or_else(|| JwtError::unknown_key(kid));
        }
        if let Some(at) = refresh.last_attempt
            && at.elapsed() < shared.source.min_refresh_interval
        {
            return Err(match &refresh.last_error {
                Some(e) => JwtError::KeysUnavailable(e.clone()),
                None => JwtError::unknown_key(kid),
            });
        }
        // The fetch is its own task holding the lock, so that a verification dropped mid-fetch
        // (its client hung up) neither wastes the fetch nor leaves the cache half-updated.
        let refreshed = tokio::spawn(Arc::clone(shared).refresh(refresh, current.generation));
        match refreshed.await {
            Ok(Ok(fresh)) => fresh
                .find(kid, alg)
                .ok_or_else(|| JwtError::unknown_key(kid)),
            Ok(Err(e)) => Err(JwtError::KeysUnavailable(e)),
            Err(_) => Err(JwtError::KeysUnavailable(JwksError::Interrupted)),
        }
    }
}

impl Shared {
    async fn key_set(&self) -> Arc<KeySet> {
        Arc::clone(&*self.keys.read().await)
    }

    /// Fetches the key set and swaps it in; a failure is kept to be repeated, not retried,
    /// until the interval has passed.
    async fn refresh(
        self: Arc<Self>,
        mut state: OwnedMutexGuard<RefreshState>,
        generation: u64,
    ) -> Result<Arc<KeySet>, JwksError> {
        state.last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                state.last_error = None;
                let fresh = Arc::new(KeySet::from_jwks(set, generation + 1, &self.algorithms));
                if fresh.keys.is_empty() {
                    tracing::warn!(
                        url = %self.source.url,
                        algorithms = ?self.algorithms,
                        "the JWKS holds no key for the tenant's algorithms"
                    );
                }
                *self.keys.write().await = Arc::clone(&fresh);
                Ok(fresh)
            }
            Err(e) => {
                tracing::warn!(url = %self.source.url, error = %e, "cannot fetch the JWKS");
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<JwkSet, JwksError> {
        let fetch_error = |e| JwksError::Fetch(Arc::new(e));
        let mut response = self
            .http
            .get(self.source.url.clone())
            .timeout(self.source.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(fetch_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(JwksError::Status(status.as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(JwksError::TooLarge(MAX_JWKS_BYTES));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| JwksError::Parse(Arc::new(e)))
    }
}

impl KeySet {
    /// Keeps the keys that verify at least one of `algorithms`; skips the rest (encryption
    /// keys, other curves, kinds jsonwebtoken cannot read) without failing the whole set.
    fn from_jwks(set: JwkSet, generation: u64, algorithms: &[Algorithm]) -> Self {
        let total = set.keys.len();
        let keys: Vec<Key> = set
            .keys
            .into_iter()
            .filter_map(|jwk| {
                let fitting: Vec<Algorithm> = algorithms
                    .iter()
                    .copied()
                    .filter(|alg| fits(&jwk, *alg))
                    .collect();
                if fitting.is_empty() {
                    return None;
                }
                let key = DecodingKey::from_jwk(&jwk).ok()?;
                Some(Key {
                    kid: jwk.common.key_id,
                    algorithms: fitting,
                    key: Arc::new(key),
                })
            })
            .collect();
        tracing::debug!(
            kept = keys.len(),
            skipped = total - keys.len(),
            generation,
            "fetched the JWKS"
        );
        Self { generation, keys }
    }

    /// The key named `kid` that verifies `alg`; without a `kid`, the only key that does.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<DecodingKey>> {
        let mut fitting = self.keys.iter().filter(|k| k.algorithms.contains(&alg));
        let key = match kid {
            Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid)),
            None => match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            },
        };
        key.map(|k| Arc::clone(&k.key))
    }
}

/// Whether `jwk` may verify `alg`: a signing key (RFC 7517 §4.2), declaring that algorithm or
/// none (§4.4), of the key type and curve the algorithm needs (RFC 7518 §3.1, RFC 8037 §3.1).
fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return false;
    }
    if matches!(jwk.common.key_algorithm, Some(declared) if declared != KeyAlgorithm::from(alg)) {
        return false;
    }
    match (&jwk.algorithm, alg.family()) {
        (AlgorithmParameters::RSA(_), AlgorithmFamily::Rsa) => true,
        (AlgorithmParameters::EllipticCurve(ec), AlgorithmFamily::Ec) => matches!(
            (alg, &ec.curve),
            (Algorithm::ES256, EllipticCurve::P256) | (Algorithm::ES384, EllipticCurve::P384)
        ),
        (AlgorithmParameters::OctetKeyPair(okp), AlgorithmFamily::Ed) => {
            okp.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}
