//! `scim-gateway token create|list|revoke|rotate`: the operator's side of issued Secret
//! Tokens. Each command works on the store gateway.toml names, so a running gateway sees the
//! change on its next request; the secret is printed once, by `create` and `rotate`, and
//! never stored.

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::TokenCommand;
use crate::auth::issued::{self, NewToken, unix_now};
use crate::settings::{Config, TenantConfig};
use crate::store::{IssuedToken, TokenStore};

/// Parses `90d`, `24h`, `30m`, `45s` or `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?}: add a unit: s, m, h, d or w (e.g. 90d)"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, e.g. 90d"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        other => return Err(format!("{other:?}: use s, m, h, d or w")),
    };
    n.checked_mul(unit_secs)
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?}: out of range"))
}

/// The tenant a token command is about; its auth must take issued tokens.
pub fn tenant<'a>(config: &'a Config, name: Option<&str>) -> Result<&'a TenantConfig, String> {
    let tenant = config.select_tenant(name).map_err(|e| e.to_string())?;
    if !tenant.auth.issued_tokens {
        return Err(format!(
            "tenant {} does not accept issued tokens: set issued_tokens = true in its auth",
            tenant.name
        ));
    }
    Ok(tenant)
}

pub use crate::auth::issued::create;

/// Revokes the tenant's tokens whose name or prefix is `selector`; returns those revoked.
pub async fn revoke(
    store: &dyn TokenStore,
    tenant: &str,
    selector: &str,
) -> Result<Vec<IssuedToken>, String> {
    let now = unix_now();
    let mut revoked = Vec::new();
    for token in matching(store, tenant, selector).await? {
        if store
            .revoke_token(tenant, &token.id, now)
            .await
            .map_err(|e| e.to_string())?
        {
            revoked.push(token);
        }
    }
    Ok(revoked)
}

/// Issues a new token named like the valid ones `selector` names and lets those expire after
/// `overlap`, so the SCIM client can switch without a failed call. Without `expires_in` the
/// new token lives as long as the old one was given (a 365-day token's successor is one too).
pub async fn rotate(
    store: &dyn TokenStore,
    tenant: &str,
    selector: &str,
    overlap: Duration,
    expires_in: Option<Duration>,
) -> Result<(NewToken, Vec<IssuedToken>), String> {
    let now = unix_now();
    let old: Vec<IssuedToken> = matching(store, tenant, selector)
        .await?
        .into_iter()
        .filter(|t| t.is_valid_at(now))
        .collect();
    if old.is_empty() {
        return Err(format!("tenant {tenant} has no valid token {selector:?}"));
    }
    let new = issued::replace(store, tenant, &old, overlap, expires_in).await?;
    Ok((new, old))
}

async fn matching(
    store: &dyn TokenStore,
    tenant: &str,
    selector: &str,
) -> Result<Vec<IssuedToken>, String> {
    let found: Vec<IssuedToken> = store
        .list_tokens(tenant)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|t| t.name == selector || t.prefix == selector)
        .collect();
    if found.is_empty() {
        return Err(format!(
            "tenant {tenant} has no token named or prefixed {selector:?}"
        ));
    }
    Ok(found)
}

/// One line per token for `token list`: never the secret, only its prefix.
pub fn describe(token: &IssuedToken, now: i64) -> String {
    let state = match (token.revoked_at, token.expires_at) {
        (Some(_), _) => "revoked",
        (None, Some(e)) if e <= now => "expired",
        _ => "valid",
    };
    format!(
        "{:<20} {:<14} {:<8} created {}  expires {}  last used {}",
        token.name,
        format!("{}…", token.prefix),
        state,
        timestamp(Some(token.created_at)),
        timestamp(token.expires_at),
        timestamp(token.last_used_at),
    )
}

/// Unix seconds as RFC 3339; `never` for none (no expiry, not used yet).
pub fn timestamp(at: Option<i64>) -> String {
    match at {
        None => "never".to_owned(),
        Some(s) => OffsetDateTime::from_unix_timestamp(s)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| format!("@{s}")),
    }
}

/// Runs a `token` subcommand against the store gateway.toml names.
pub(super) async fn command(command: TokenCommand) -> Result<(), String> {
    let target = match &command {
        TokenCommand::Create { target, .. }
        | TokenCommand::List { target }
        | TokenCommand::Revoke { target, .. }
        | TokenCommand::Rotate { target, .. } => target,
    };
    let config = Config::load(&target.config.file).map_err(|e| e.to_string())?;
    let tenant = tenant(&config, target.tenant.as_deref())?;
    let store = crate::store::open(&config.store_url)
        .await
        .map_err(|e| e.to_string())?;
    let result = run(&command, store.tokens.as_ref(), tenant).await;
    store.close().await;
    result
}

async fn run(
    command: &TokenCommand,
    store: &dyn TokenStore,
    tenant: &crate::settings::TenantConfig,
) -> Result<(), String> {
    let lifetime = |e: &Option<String>| e.as_deref().map(parse_duration).transpose();
    match command {
        TokenCommand::Create { name, expires, .. } => {
            let token = create(store, &tenant.name, name, lifetime(expires)?).await?;
            print_new_token(tenant, &token);
        }
        TokenCommand::List { .. } => {
            let now = crate::auth::issued::unix_now();
            let tokens = store
                .list_tokens(&tenant.name)
                .await
                .map_err(|e| e.to_string())?;
            if tokens.is_empty() {
                println!("tenant {} has no issued tokens", tenant.name);
            }
            for token in &tokens {
                println!("{}", describe(token, now));
            }
        }
        TokenCommand::Revoke { token, .. } => {
            let revoked = revoke(store, &tenant.name, token).await?;
            if revoked.is_empty() {
                println!("nothing to revoke: {token} was revoked already");
            }
            for t in &revoked {
                println!("revoked {} ({}…): refused from now on", t.name, t.prefix);
            }
        }
        TokenCommand::Rotate {
            token,
            overlap,
            expires,
            ..
        } => {
            let overlap = parse_duration(overlap)?;
            let (new, old) =
                rotate(store, &tenant.name, token, overlap, lifetime(expires)?).await?;
            print_new_token(tenant, &new);
            let until = crate::auth::issued::unix_now()
                .saturating_add(crate::auth::issued::duration_secs(overlap));
            for t in &old {
                println!(
                    "old token {}… keeps working until {}",
                    t.prefix,
                    timestamp(Some(until))
                );
            }
        }
    }
    Ok(())
}

/// The one time a secret is shown: on stdout, for the operator to paste into Entra ID.
fn print_new_token(tenant: &crate::settings::TenantConfig, token: &NewToken) {
    println!(
        "tenant {}: token {:?} ({}…), expires {}",
        tenant.name,
        token.record.name,
        token.record.prefix,
        timestamp(token.record.expires_at)
    );
    println!("Secret Token (shown once, store it now):");
    println!("{}", token.secret);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(1_209_600)));
        for bad in ["90", "d", "0d", "5y", "-1d", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
