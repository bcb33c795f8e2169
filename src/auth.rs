//! Authentication of SCIM clients. Static tokens are kept only as SHA-256 digests and compared
//! in constant time, so neither the config nor a timing side channel gives a token away; JWT
//! bearer tokens signed by an IdP are checked by [`jwt`].

pub mod jwt;

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

#[cfg(test)]
mod tests {
    use super::*;

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
