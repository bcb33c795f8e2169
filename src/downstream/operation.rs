//! A downstream operation as written in gateway.toml (`"PATCH /api/v1/accounts/{id}"`) and the
//! URL it makes, with the id percent-encoded so no id can change the path or query.

use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, Url};

use super::DownstreamError;

/// Everything but RFC 3986 unreserved characters is encoded in an id.
const ID_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An HTTP method and a path template relative to the downstream base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub method: Method,
    pub path: String,
}

impl FromStr for Operation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (method, path) = s
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("{s:?}: write \"METHOD /path\", e.g. \"GET /users/{{id}}\""))?;
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            other => return Err(format!("unsupported method {other}")),
        };
        let path = path.trim();
        if !path.starts_with('/') {
            return Err(format!("{path:?}: the path starts with '/'"));
        }
        Ok(Self {
            method,
            path: path.to_owned(),
        })
    }
}

impl Operation {
    /// True when the path names a record with `{id}`.
    pub fn has_id(&self) -> bool {
        self.path.contains("{id}")
    }

    /// True when the path names a member with `{member}`.
    pub fn has_member(&self) -> bool {
        self.path.contains("{member}")
    }

    /// This operation with `{member}` replaced by the encoded member id.
    pub fn with_member(&self, member: &str) -> Operation {
        Operation {
            method: self.method.clone(),
            path: self.path.replace(
                "{member}",
                &utf8_percent_encode(member, ID_ENCODE).to_string(),
            ),
        }
    }

    /// The URL for this operation under `base`, with `{id}` replaced by the encoded id.
    pub fn url(&self, base: &Url, id: Option<&str>) -> Result<Url, DownstreamError> {
        let path = match id {
            Some(id) => self
                .path
                .replace("{id}", &utf8_percent_encode(id, ID_ENCODE).to_string()),
            None => self.path.clone(),
        };
        let joined = format!("{}{}", base.as_str().trim_end_matches('/'), path);
        Url::parse(&joined).map_err(|e| DownstreamError::InvalidUrl(format!("{joined}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_method_and_path() {
        let op: Operation = "patch /api/v1/accounts/{id}".parse().unwrap();
        assert_eq!(op.method, Method::PATCH);
        assert!(op.has_id());
        assert!("FETCH /x".parse::<Operation>().is_err());
        assert!("GET x".parse::<Operation>().is_err());
        assert!("/x".parse::<Operation>().is_err());
    }

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        let op: Operation = "GET /api/accounts/{id}?expand=1".parse().unwrap();
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        let url = op.url(&base, Some("../admin?x=1#f")).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/api/accounts/..%2Fadmin%3Fx%3D1%23f?expand=1"
        );
        let member: Operation = "PUT /teams/{id}/members/{member}".parse().unwrap();
        assert!(member.has_member());
        let url = member.with_member("7/../8").url(&base, Some("t1")).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/teams/t1/members/7%2F..%2F8"
        );
    }
}
