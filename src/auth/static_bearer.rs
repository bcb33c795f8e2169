//! Bearer tokens written in gateway.toml (`auth.bearer`, `auth.bearer_sha256`), known to the
//! gateway only as SHA-256 digests and compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Verifies bearer tokens against configured digests.
#[derive(Clone)]
pub struct BearerVerifier {
    digests: Vec<[u8; 32]>,
}

impl BearerVerifier {
    /// A verifier accepting tokens whose SHA-256 is one of `digests`.
    pub fn new(digests: Vec<[u8; 32]>) -> Self {
        Self { digests }
    }

    /// True when the token's digest matches one configured digest. Every digest is compared,
    /// so the time taken does not reveal which one (or whether any) matched.
    pub fn verify(&self, token: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |ok, d| ok | d.ct_eq(&presented))
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{generate_token, token_digest_hex};

    #[test]
    fn accepts_only_configured_tokens() {
        let token = generate_token().unwrap();
        let digest: [u8; 32] = hex::decode(token_digest_hex(&token))
            .unwrap()
            .try_into()
            .unwrap();
        let v = BearerVerifier::new(vec![[0u8; 32], digest]);
        assert!(v.verify(&token));
        assert!(!v.verify("wrong"));
        assert!(!v.verify(""));
        assert_ne!(generate_token().unwrap(), token);
    }
}
