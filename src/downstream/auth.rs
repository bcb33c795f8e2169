//! How the gateway authenticates to the downstream API. Secrets live only here, and `Debug`
//! masks them so they never reach a log line.

use std::fmt;

use super::oauth::ClientCredentials;

/// One downstream credential.
#[derive(Clone, PartialEq, Eq)]
pub enum DownstreamAuth {
    None,
    /// An API key in a header, e.g. `X-Api-Key`.
    Header {
        name: String,
        value: String,
    },
    Bearer(String),
    Basic {
        username: String,
        password: String,
    },
    /// A bearer token fetched from an identity provider with client credentials.
    OAuth2(ClientCredentials),
}

impl DownstreamAuth {
    /// Adds a fixed credential to a request; an OAuth2 token is added by the client, which
    /// holds the token in use.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::None | Self::OAuth2(_) => request,
            Self::Header { name, value } => request.header(name.as_str(), value.as_str()),
            Self::Bearer(token) => request.bearer_auth(token),
            Self::Basic { username, password } => request.basic_auth(username, Some(password)),
        }
    }
}

impl fmt::Debug for DownstreamAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Header { name, .. } => write!(f, "Header({name}: ***)"),
            Self::Bearer(_) => f.write_str("Bearer(***)"),
            Self::Basic { username, .. } => write!(f, "Basic({username}:***)"),
            Self::OAuth2(credentials) => write!(f, "OAuth2({credentials:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret() {
        let all = [
            DownstreamAuth::Header {
                name: "X-Api-Key".into(),
                value: "k3y".into(),
            },
            DownstreamAuth::Bearer("t0ken".into()),
            DownstreamAuth::Basic {
                username: "svc".into(),
                password: "pa55".into(),
            },
        ];
        let shown = format!("{all:?}");
        for secret in ["k3y", "t0ken", "pa55"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
