//! Who is signed in to the console: a session in a cookie signed with HMAC-SHA256 under a key
//! drawn at random when the process starts (a restart signs everyone out), the credential check
//! at the login form, and the CSRF token every form carries (an HMAC of the session id, so it
//! needs no server state).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::settings::AdminCredential;

/// The cookie's name.
pub const COOKIE: &str = "gw_admin";
/// How long a session lasts, in seconds.
const LIFETIME_S: i64 = 8 * 3600;

type HmacSha256 = Hmac<Sha256>;

/// A session read from a valid cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    expires: i64,
    /// Whether its holder gave the credential (every session, when none is set).
    pub signed_in: bool,
}

/// Why the console cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot draw a random key: {0}")]
    Random(#[from] getrandom::Error),
}

/// The signing key and the credential.
pub struct Sessions {
    key: [u8; 32],
    credential: AdminCredential,
}

impl Sessions {
    /// A fresh random key for this process.
    pub fn new(credential: AdminCredential) -> Result<Self, SessionError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self { key, credential })
    }

    fn mac(&self, text: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A new session, signed in or not, and its cookie value.
    pub fn start(&self, signed_in: bool, now: i64) -> Result<(Session, String), SessionError> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id)?;
        let session = Session {
            id: hex::encode(id),
            expires: now + LIFETIME_S,
            signed_in: signed_in || !self.credential.is_set(),
        };
        let body = format!(
            "{}.{}.{}",
            session.id,
            session.expires,
            u8::from(session.signed_in)
        );
        let value = format!("{body}.{}", self.mac(&format!("s|{body}")));
        Ok((session, value))
    }

    /// The session a cookie value holds, if it is ours and current.
    pub fn read(&self, value: &str, now: i64) -> Option<Session> {
        let (body, mac) = value.rsplit_once('.')?;
        let expected = self.mac(&format!("s|{body}"));
        if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            return None;
        }
        let mut parts = body.split('.');
        let id = parts.next()?.to_owned();
        let expires: i64 = parts.next()?.parse().ok()?;
        let signed_in = parts.next()? == "1";
        (now < expires).then_some(Session {
            id,
            expires,
            signed_in,
        })
    }

    /// The CSRF token of a session's forms.
    pub fn csrf(&self, session: &Session) -> String {
        self.mac(&format!("c|{}", session.id))
    }

    /// Whether a form's CSRF token belongs to this session.
    pub fn csrf_ok(&self, session: &Session, presented: &str) -> bool {
        bool::from(self.csrf(session).as_bytes().ct_eq(presented.as_bytes()))
    }

    /// Whether the login form's user and secret match the credential: the admin token with no
    /// user, or the Basic user and password. Compared as digests, in constant time.
    pub fn credential_ok(&self, user: &str, secret: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let c = &self.credential;
        if user.is_empty() {
            return c.token_sha256.is_some_and(|t| bool::from(t.ct_eq(&digest)));
        }
        c.basic.as_ref().is_some_and(|b| {
            bool::from(b.username.as_bytes().ct_eq(user.as_bytes()))
                & bool::from(b.password_sha256.ct_eq(&digest))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        Sessions::new(AdminCredential {
            token_sha256: Some(Sha256::digest(b"admin-token-0123456789").into()),
            basic: None,
        })
        .unwrap()
    }

    #[test]
    fn a_cookie_is_read_back_only_unaltered_and_in_time() {
        let s = sessions();
        let (session, cookie) = s.start(true, 1_000).unwrap();
        assert_eq!(s.read(&cookie, 1_001), Some(session.clone()));
        assert_eq!(s.read(&cookie, 1_000 + LIFETIME_S), None, "expired");
        let (_, anonymous) = s.start(false, 1_000).unwrap();
        let promoted = anonymous.replace(
            &format!(".{}.0.", 1_000 + LIFETIME_S),
            &format!(".{}.1.", 1_000 + LIFETIME_S),
        );
        assert_eq!(
            s.read(&promoted, 1_001),
            None,
            "promoted without the credential"
        );
        assert_eq!(
            sessions().read(&cookie, 1_001),
            None,
            "another process's key"
        );
        assert!(s.csrf_ok(&session, &s.csrf(&session)));
        let (other, _) = s.start(true, 1_000).unwrap();
        assert!(!s.csrf_ok(&other, &s.csrf(&session)));
    }

    #[test]
    fn only_the_admin_token_signs_in() {
        let s = sessions();
        assert!(s.credential_ok("", "admin-token-0123456789"));
        assert!(!s.credential_ok("", "admin-token-012345678"));
        assert!(!s.credential_ok("ops", "admin-token-0123456789"));
    }
}
