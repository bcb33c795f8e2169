//! `[server] public_url` and `trusted_proxies`: how the gateway learns the URL its clients use
//! when a TLS-terminating proxy stands in front of it.

use crate::config::Spanned;
use ipnet::IpNet;

use crate::config::error::Source;
use crate::config::{ConfigError, Interp};

/// `public_url` checked: an absolute http(s) URL without credentials, query or fragment,
/// kept without its trailing slash so that a Tenant URL path can be appended.
pub(super) fn compile_public_url(
    raw: Option<&Spanned<String>>,
    src: &Source,
    interp: &Interp,
) -> Result<Option<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let key = "server.public_url";
    let text = interp(key, raw)?;
    let invalid = |why: &str| {
        src.invalid(
            raw.span(),
            key,
            format!("{why}: write the URL clients use, e.g. https://scim.example.com"),
        )
    };
    let url = reqwest::Url::parse(text.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("use an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("the URL may not hold a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the URL may not have a query (?) or fragment (#)"));
    }
    Ok(Some(url.as_str().trim_end_matches('/').to_owned()))
}

/// `trusted_proxies` checked: each an IP address (one host) or a CIDR block.
pub(super) fn compile_trusted_proxies(
    raw: &[Spanned<String>],
    src: &Source,
) -> Result<Vec<IpNet>, ConfigError> {
    raw.iter()
        .map(|entry| {
            let text = entry.get_ref().trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    src.invalid(
                        entry.span(),
                        "server.trusted_proxies",
                        format!(
                            "{text:?} is not an IP address or CIDR block, e.g. \"127.0.0.1\" or \"10.0.0.0/8\""
                        ),
                    )
                })
        })
        .collect()
}
