//! The URL clients reach the gateway by, which every `meta.location`, `Location` header and
//! discovery document names: `[server] public_url` when set; else the scheme and host a
//! trusted proxy forwarded (`X-Forwarded-Proto`/`-Host`, or `Forwarded`); else the listener's
//! own scheme and the request's `Host`. A forwarded or `Host` value that is not a plain
//! `host[:port]` is never echoed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use http::{HeaderMap, header};
use ipnet::IpNet;

use super::AppState;
use crate::service::RequestContext;
use crate::settings::ServerConfig;

/// What decides the gateway's URL for one request.
#[derive(Debug, Clone)]
pub struct Origin {
    public_url: Option<String>,
    trusted: Vec<IpNet>,
    scheme: &'static str,
}

impl Origin {
    /// The rules `[server]` gives.
    pub fn new(server: &ServerConfig) -> Self {
        Self {
            public_url: server.public_url.clone(),
            trusted: server.trusted_proxies.clone(),
            scheme: server.scheme(),
        }
    }

    /// `scheme://host[:port][/prefix]` for a request with `headers` from `peer` (`None` when
    /// it did not come over the network, as in `explain`).
    pub fn url(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| plain_host(h));
        let forwarded = peer
            .filter(|ip| self.trusts(*ip))
            .map(|_| Forwarded::from(headers))
            .unwrap_or_default();
        format!(
            "{}://{}",
            forwarded.proto.unwrap_or(self.scheme),
            forwarded.host.as_deref().or(host).unwrap_or("localhost")
        )
    }

    fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted.iter().any(|net| net.contains(&peer))
    }
}

/// What a proxy said the client used; each part only when well-formed.
#[derive(Debug, Default, PartialEq)]
struct Forwarded {
    proto: Option<&'static str>,
    host: Option<String>,
}

impl From<&HeaderMap> for Forwarded {
    /// `X-Forwarded-Proto`/`-Host` first, then RFC 7239 `Forwarded`; of a list, the first
    /// entry (the proxy nearest the client).
    fn from(headers: &HeaderMap) -> Self {
        let first = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
        };
        let standard = first(header::FORWARDED.as_str())
            .map(forwarded_pairs)
            .unwrap_or_default();
        let standard = |key: &str| standard.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        Self {
            proto: first("x-forwarded-proto")
                .or_else(|| standard("proto"))
                .and_then(proto),
            host: first("x-forwarded-host")
                .or_else(|| standard("host"))
                .filter(|h| plain_host(h))
                .map(str::to_owned),
        }
    }
}

/// The `name=value` pairs of one `Forwarded` element, names lowercased, quotes removed.
fn forwarded_pairs(element: &str) -> Vec<(String, &str)> {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_ascii_lowercase(), v)
        })
        .collect()
}

fn proto(value: &str) -> Option<&'static str> {
    match value.to_ascii_lowercase().as_str() {
        "https" => Some("https"),
        "http" => Some("http"),
        _ => None,
    }
}

/// A host name or address with an optional port, and nothing else (no path, user, spaces).
fn plain_host(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
        && value.parse::<http::uri::Authority>().is_ok()
}

/// A request's [`RequestContext`]: the Tenant URL it was sent to, as the client sees it.
impl FromRequestParts<Arc<AppState>> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(Self {
            base_url: format!(
                "{}{}",
                state.origin.url(&parts.headers, peer),
                state.base_path
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(public_url: Option<&str>, trusted: &[&str]) -> Origin {
        Origin {
            public_url: public_url.map(str::to_owned),
            trusted: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            scheme: "http",
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                )
            })
            .collect()
    }

    const PROXY: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7)));

    #[test]
    fn public_url_wins_over_everything() {
        let h = headers(&[("host", "internal:8080"), ("x-forwarded-host", "x.test")]);
        let o = origin(Some("https://scim.example.com/gw"), &["10.0.0.0/8"]);
        assert_eq!(o.url(&h, PROXY), "https://scim.example.com/gw");
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_peers() {
        let h = headers(&[
            ("host", "internal:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "scim.example.com, internal"),
        ]);
        assert_eq!(
            origin(None, &["10.0.0.0/8"]).url(&h, PROXY),
            "https://scim.example.com"
        );
        assert_eq!(
            origin(None, &["192.168.0.0/16"]).url(&h, PROXY),
            "http://internal:8080"
        );
        assert_eq!(
            origin(None, &["10.0.0.0/8"]).url(&h, None),
            "http://internal:8080"
        );
    }

    #[test]
    fn the_standard_forwarded_header_is_read_too() {
        let h = headers(&[
            ("host", "internal"),
            (
                "forwarded",
                "for=192.0.2.1;proto=HTTPS;host=\"scim.example.com:8443\", for=10.0.0.1",
            ),
        ]);
        assert_eq!(
            origin(None, &["10.0.0.7/32"]).url(&h, PROXY),
            "https://scim.example.com:8443"
        );
    }

    #[test]
    fn malformed_values_are_never_echoed() {
        for hostile in [
            "evil.test/path",
            "evil.test x",
            "user@evil.test",
            "evil.test\"",
            "",
        ] {
            let h = headers(&[
                ("host", "internal"),
                ("x-forwarded-host", hostile),
                ("x-forwarded-proto", "javascript"),
            ]);
            assert_eq!(
                origin(None, &["10.0.0.0/8"]).url(&h, PROXY),
                "http://internal",
                "{hostile:?}"
            );
        }
        let h = headers(&[("host", "evil.test/x")]);
        assert_eq!(origin(None, &[]).url(&h, PROXY), "http://localhost");
    }

    #[test]
    fn an_ipv4_peer_seen_as_ipv6_is_matched() {
        let h = headers(&[("host", "internal"), ("x-forwarded-proto", "https")]);
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(
            origin(None, &["10.0.0.0/8"]).url(&h, Some(mapped)),
            "https://internal"
        );
    }
}
