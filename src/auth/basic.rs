//! HTTP Basic credentials (RFC 7617) for products whose setup guide gives the SCIM client a
//! user name and password. The password is kept as its SHA-256 only; both parts are compared
//! in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::settings::BasicCredentials;

/// Checks `Authorization: Basic` values against one tenant's credentials.
#[derive(Clone)]
pub struct BasicVerifier {
    username_sha256: [u8; 32],
    password_sha256: [u8; 32],
    username: String,
}

impl BasicVerifier {
    pub fn new(credentials: &BasicCredentials) -> Self {
        Self {
            username_sha256: Sha256::digest(credentials.username.as_bytes()).into(),
            password_sha256: credentials.password_sha256,
            username: credentials.username.clone(),
        }
    }

    /// The user name when the base64 `user:password` after `Basic ` matches. Both halves are
    /// compared as digests, so the time taken reveals neither length nor content.
    pub fn verify(&self, encoded: &str) -> Option<&str> {
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        let user: [u8; 32] = Sha256::digest(user.as_bytes()).into();
        let password: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        let ok = user.ct_eq(&self.username_sha256) & password.ct_eq(&self.password_sha256);
        bool::from(ok).then_some(self.username.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> BasicVerifier {
        BasicVerifier::new(&BasicCredentials {
            username: "entra".into(),
            password_sha256: Sha256::digest(b"correct horse battery").into(),
        })
    }

    #[test]
    fn accepts_the_configured_pair_only() {
        let v = verifier();
        let good = STANDARD.encode("entra:correct horse battery");
        assert_eq!(v.verify(&good), Some("entra"));
        for bad in [
            STANDARD.encode("entra:wrong"),
            STANDARD.encode("other:correct horse battery"),
            STANDARD.encode("entracorrect horse battery"),
            "%%%not-base64".to_owned(),
            String::new(),
        ] {
            assert_eq!(v.verify(&bad), None, "{bad}");
        }
    }
}
