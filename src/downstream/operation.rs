//! A downstream operation as written in gateway.toml (`"PATCH /api/v1/accounts/{id}"`) and the
//! URL it makes, with the id percent-encoded so no id can change the path or query, and ids
//! that no encoding keeps in their segment (empty, `.`, `..`) refused before any call.

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

/// True when `id` can stand in a URL path segment and still address one record: not empty,
/// and not `.` or `..`, which URL parsers remove as dot segments (RFC 3986 §5.2.4; the WHATWG
/// URL standard also for `%2e` and `%2E%2e`), so that `/accounts/{id}` would become the
/// collection or its parent. Every other id is kept in its segment by [`ID_ENCODE`].
pub fn is_addressable(id: &str) -> bool {
    !matches!(id, "" | "." | "..")
}

/// The encoded path segment of an id; an id that cannot address a record names none (404).
fn segment(id: &str) -> Result<String, DownstreamError> {
    if is_addressable(id) {
        Ok(utf8_percent_encode(id, ID_ENCODE).to_string())
    } else {
        Err(DownstreamError::NotFound(format!("{id:?}")))
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

    /// This operation with `{member}` replaced by the encoded member id; an id that cannot
    /// address a record is not found.
    pub fn with_member(&self, member: &str) -> Result<Operation, DownstreamError> {
        Ok(Operation {
            method: self.method.clone(),
            path: self.path.replace("{member}", &segment(member)?),
        })
    }

    /// The URL for this operation under `base`, with `{id}` replaced by the encoded id; an id
    /// that cannot address a record is not found, and nothing is called.
    pub fn url(&self, base: &Url, id: Option<&str>) -> Result<Url, DownstreamError> {
        let path = match id {
            Some(id) => self.path.replace("{id}", &segment(id)?),
            None => self.path.clone(),
        };
        // The base's scheme and host were parsed once, with the config; only the path and
        // query are new (a full parse per call cost a GET a twentieth of its instructions).
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path.as_str(), None),
        };
        let mut url = base.clone();
        url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
        url.set_query(query);
        url.set_fragment(None);
        Ok(url)
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
        let url = member
            .with_member("7/../8")
            .unwrap()
            .url(&base, Some("t1"))
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/teams/t1/members/7%2F..%2F8"
        );
    }

    /// `..` and `.` survive percent-encoding as dot segments: `GET /Users/..` called the
    /// parent of the read path, `GET /Users/.` the list endpoint.
    #[test]
    fn dot_segments_and_empty_ids_address_nothing() {
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        let op: Operation = "DELETE /api/locations/7/employees/{id}".parse().unwrap();
        let member: Operation = "PUT /teams/{id}/members/{member}".parse().unwrap();
        for id in ["", ".", ".."] {
            assert!(!is_addressable(id));
            assert!(matches!(
                op.url(&base, Some(id)),
                Err(DownstreamError::NotFound(_))
            ));
            assert!(matches!(
                member.with_member(id),
                Err(DownstreamError::NotFound(_))
            ));
        }
        for id in ["...", ".a", "a.", "%2e", "%2e%2e", " .."] {
            let url = op.url(&base, Some(id)).unwrap();
            let last = url.path_segments().unwrap().next_back().unwrap().to_owned();
            assert_eq!(url.path_segments().unwrap().count(), 5, "{id}: {url}");
            let decoded = percent_encoding::percent_decode_str(&last)
                .decode_utf8()
                .unwrap();
            assert_eq!(decoded, id, "{id}: {url}");
        }
    }
}
