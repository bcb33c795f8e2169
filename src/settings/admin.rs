//! `[admin]` checked: where the operator console listens, the credential it asks for, and how
//! long provisioning activity is kept (which applies with or without a console).

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Spanned;
use sha2::{Digest, Sha256};

use crate::auth::settings::{BasicCredentials, compile_basic, parse_digest};
use crate::config::Interp;
use crate::config::error::{ConfigError, Source};
use crate::config::raw::RawAdmin;

/// The operator console's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `None`: no console (the default).
    pub listen: Option<SocketAddr>,
    pub credential: AdminCredential,
    pub retention: Retention,
}

/// What the console accepts at its login form; with neither, anyone who reaches its (then
/// loopback) address is in.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AdminCredential {
    /// SHA-256 of the admin token.
    pub token_sha256: Option<[u8; 32]>,
    pub basic: Option<BasicCredentials>,
}

impl AdminCredential {
    /// Whether any credential is set.
    pub fn is_set(&self) -> bool {
        self.token_sha256.is_some() || self.basic.is_some()
    }
}

impl std::fmt::Debug for AdminCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AdminCredential(token: {}, basic: {})",
            self.token_sha256.is_some(),
            self.basic.as_ref().map_or("no", |b| b.username.as_str())
        )
    }
}

/// How long provisioning activity is kept: by age and by count, whichever is smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Duration,
    pub max_entries: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(30 * 86_400),
            max_entries: 100_000,
        }
    }
}

/// Compiles `[admin]`; `scim_listen` is the SCIM listener, which the console never shares.
pub(super) fn compile_admin(
    raw: &RawAdmin,
    scim_listen: SocketAddr,
    src: &Source,
    interp: &Interp,
) -> Result<AdminConfig, ConfigError> {
    let token_sha256 = match (&raw.token, &raw.token_sha256) {
        (Some(_), Some(h)) => {
            return Err(src.invalid(
                h.span(),
                "admin.token_sha256",
                "give token (use ${ENV}) or token_sha256, not both",
            ));
        }
        (Some(t), None) => {
            let token = interp("admin.token", t)?;
            if token.len() < 16 {
                return Err(src.invalid(
                    t.span(),
                    "admin.token",
                    "the admin token needs at least 16 characters",
                ));
            }
            Some(Sha256::digest(token.as_bytes()).into())
        }
        (None, Some(h)) => Some(parse_digest(h.get_ref()).ok_or_else(|| {
            src.invalid(h.span(), "admin.token_sha256", "expected 64 hex digits")
        })?),
        (None, None) => None,
    };
    let basic = raw
        .basic
        .as_ref()
        .map(|b| compile_basic(b, src, interp, "admin.basic"))
        .transpose()?;
    let credential = AdminCredential {
        token_sha256,
        basic,
    };
    let listen = raw
        .listen
        .as_ref()
        .map(|l| compile_listen(l, scim_listen, credential.is_set(), src, interp))
        .transpose()?;
    let mut retention = Retention::default();
    if let Some(days) = &raw.keep_days {
        if !(0..=3650).contains(days.get_ref()) {
            return Err(src.invalid(
                days.span(),
                "admin.keep_days",
                "give 0 (record no activity) to 3650 days",
            ));
        }
        retention.max_age = Duration::from_secs(days.get_ref() * 86_400);
    }
    if let Some(entries) = &raw.keep_entries {
        if *entries.get_ref() == 0 {
            return Err(src.invalid(
                entries.span(),
                "admin.keep_entries",
                "keep at least one entry",
            ));
        }
        retention.max_entries = *entries.get_ref();
    }
    Ok(AdminConfig {
        listen,
        credential,
        retention,
    })
}

fn compile_listen(
    raw: &Spanned<String>,
    scim_listen: SocketAddr,
    has_credential: bool,
    src: &Source,
    interp: &Interp,
) -> Result<SocketAddr, ConfigError> {
    let listen: SocketAddr = interp("admin.listen", raw)?.trim().parse().map_err(|e| {
        src.invalid(
            raw.span(),
            "admin.listen",
            format!("{e}: write host:port, e.g. 127.0.0.1:9091"),
        )
    })?;
    if listen.port() == scim_listen.port() && listen.port() != 0 {
        return Err(src.invalid(
            raw.span(),
            "admin.listen",
            "the console never shares the SCIM listener's port: pick another, e.g. 9091",
        ));
    }
    if !has_credential && !listen.ip().is_loopback() {
        return Err(src.invalid(
            raw.span(),
            "admin.listen",
            "without admin.token, admin.token_sha256 or admin.basic the console listens only \
             on a loopback address (127.0.0.1 or [::1])",
        ));
    }
    Ok(listen)
}
