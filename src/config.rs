//! gateway.toml in two stages: [`raw`] is the file as written, [`Config`] the checked runtime
//! form (pointers parsed, operations compiled, secrets interpolated and hashed). Every error
//! names the key and its line:col.

pub mod error;
pub mod interpolate;
pub mod raw;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use serde_spanned::Spanned;
use sha2::{Digest, Sha256};

use crate::downstream::auth::DownstreamAuth;
use crate::downstream::client::DownstreamSettings;
use crate::downstream::endpoints::{DeleteMode, Endpoints};
use crate::mapping::ResourceMapping;
use crate::mapping::group_rules::{GroupGrant, GroupRules};
use crate::mapping::target::ScimTarget;
use crate::scim::catalog;
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, SchemaDef};
use crate::server::tls::{self, TlsFiles};
pub use error::ConfigError;
use error::Source;
use raw::RawConfig;

/// The checked configuration the gateway runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: ClientAuthConfig,
    pub downstream: DownstreamSettings,
    pub users: ResourceConfig,
    pub groups: GroupsConfig,
    /// Store URL: `sqlite://...`, `sqlite::memory:` or `postgres://...`.
    pub store_url: String,
}

/// Whether the gateway offers a Group resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupsMode {
    /// Groups and memberships live in the gateway's store and drive the rules.
    Virtual,
    /// No Group resource is advertised or served (users-only products).
    Disabled,
}

/// `[groups]`, checked.
#[derive(Debug, Clone)]
pub struct GroupsConfig {
    pub mode: GroupsMode,
    pub rules: GroupRules,
    /// Where the rules write the role and the licences in a user resource.
    pub role_target: Option<ScimTarget>,
    pub licence_target: Option<ScimTarget>,
}

/// `[server]`, with defaults applied.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Path prefix of the SCIM endpoints, without a trailing slash.
    pub base_path: String,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// The certificate files when the gateway terminates TLS itself; `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// How long a client may take to send a request head or finish its TLS handshake
    /// (slowloris protection); also how long an idle HTTP/1.1 keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// The largest request head, in bytes: the HTTP/1.1 read buffer and HTTP/2's
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`.
    pub max_header_bytes: usize,
    /// How long in-flight requests may run once shutdown begins.
    pub shutdown_grace: Duration,
}

impl ServerConfig {
    /// The URL scheme clients reach the gateway with, for `meta.location`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// hyper's smallest HTTP/1.1 read buffer: a smaller `max_header_bytes` would make it panic.
const MIN_HEADER_BYTES: u64 = 8192;

/// The bearer tokens SCIM clients may present, as SHA-256 digests only.
#[derive(Clone, Default)]
pub struct ClientAuthConfig {
    pub bearer_sha256: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ClientAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClientAuthConfig({} bearer token digests)",
            self.bearer_sha256.len()
        )
    }
}

/// One resource type: its downstream operations and its attribute mapping.
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    pub endpoints: Endpoints,
    pub mapping: ResourceMapping,
    pub ids: IdStyle,
}

/// How SCIM ids are made (`[users] ids`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStyle {
    /// The downstream id is the SCIM id (default).
    Downstream,
    /// The gateway generates a UUID and keeps the correlation in its store.
    Uuid,
}

impl Config {
    /// Reads and checks a gateway.toml, interpolating `${ENV}` from the process environment.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text, &interpolate::from_env)
    }

    /// Checks gateway.toml text; `env` resolves `${NAME}` references.
    pub fn parse(
        file: &str,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let src = Source { file, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = src.line_col(e.span().map_or(0, |s| s.start));
            ConfigError::Syntax {
                file: file.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        let interp = |key: &str, v: &Spanned<String>| {
            interpolate::interpolate(v.get_ref(), env)
                .map_err(|e| src.invalid(v.span(), key, e.to_string()))
        };
        let server = compile_server(&raw, file, &src, &interp)?;
        let auth = compile_client_auth(&raw, &src, &interp)?;
        let downstream = compile_downstream(&raw, &src, &interp)?;
        let endpoints = Endpoints::compile("users", &raw.users, &src)?;
        let mut user_schema = catalog::user_schema();
        for ext in &raw.users.extensions {
            let schema = compile_extension(ext, &user_schema, &src)?;
            user_schema.extensions.push(schema);
        }
        let mapping = ResourceMapping::compile("users", &raw.users, user_schema, &src)?;
        if endpoints.delete == DeleteMode::Deactivate
            && !mapping
                .rules
                .iter()
                .any(|r| r.target.attr == "active" && r.written_field().is_some())
        {
            return Err(src.invalid(
                raw.users.delete.span(),
                "users.delete",
                "deactivate needs a writable rule for `active`",
            ));
        }
        let groups = compile_groups(&raw.groups, &mapping, &src)?;
        let store_url = compile_store_url(&raw.store, file, &src, &interp)?;
        Ok(Self {
            server,
            auth,
            downstream,
            users: ResourceConfig {
                endpoints,
                mapping,
                ids: compile_ids(&raw.users, &src)?,
            },
            groups,
            store_url,
        })
    }
}

/// Checks a `[[users.extensions]]` schema: a new URN and well-formed attribute definitions.
fn compile_extension(
    raw: &Spanned<raw::RawExtension>,
    known: &ResourceSchema,
    src: &Source,
) -> Result<SchemaDef, ConfigError> {
    let ext = raw.get_ref();
    let err = |m: String| src.invalid(raw.span(), "users.extensions", m);
    if !ext.id.to_ascii_lowercase().starts_with("urn:") || ext.id.ends_with(':') {
        return Err(err(format!(
            "{:?}: a schema id is a URN, e.g. urn:ietf:params:scim:schemas:extension:2.0:Acme",
            ext.id
        )));
    }
    if known.schema_for(Some(&ext.id)).is_some() {
        return Err(err(format!("{} is declared twice or is built in", ext.id)));
    }
    check_attributes(&ext.attributes, &ext.id).map_err(err)?;
    Ok(SchemaDef {
        id: ext.id.clone(),
        name: ext
            .name
            .clone()
            .unwrap_or_else(|| ext.id.rsplit(':').next().unwrap_or_default().to_owned()),
        description: ext.description.clone(),
        attributes: ext.attributes.clone(),
        open: ext.open,
    })
}

fn check_attributes(attributes: &[AttributeDef], owner: &str) -> Result<(), String> {
    for (i, a) in attributes.iter().enumerate() {
        let valid = a
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && a.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "{owner}: attribute name {:?}: use letters, digits, _ and -",
                a.name
            ));
        }
        if attributes[..i]
            .iter()
            .any(|b| b.name.eq_ignore_ascii_case(&a.name))
        {
            return Err(format!("{owner}: attribute {} is declared twice", a.name));
        }
        match (a.attr_type, a.sub_attributes.is_empty()) {
            (AttrType::Complex, true) => {
                return Err(format!(
                    "{owner}: complex attribute {} needs subAttributes",
                    a.name
                ));
            }
            (AttrType::Complex, false) => check_attributes(&a.sub_attributes, &a.name)?,
            (_, false) => {
                return Err(format!(
                    "{owner}: only complex attributes have subAttributes ({})",
                    a.name
                ));
            }
            (_, true) => {}
        }
    }
    Ok(())
}

fn compile_ids(raw: &raw::RawResource, src: &Source) -> Result<IdStyle, ConfigError> {
    match &raw.ids {
        None => Ok(IdStyle::Downstream),
        Some(ids) => match ids.get_ref().as_str() {
            "downstream" => Ok(IdStyle::Downstream),
            "uuid" => Ok(IdStyle::Uuid),
            other => Err(src.invalid(
                ids.span(),
                "users.ids",
                format!("{other:?}: use downstream or uuid"),
            )),
        },
    }
}

fn compile_groups(
    raw: &raw::RawGroups,
    mapping: &ResourceMapping,
    src: &Source,
) -> Result<GroupsConfig, ConfigError> {
    let mode = match &raw.mode {
        None => GroupsMode::Disabled,
        Some(m) => match m.get_ref().as_str() {
            "virtual" => GroupsMode::Virtual,
            "disabled" => GroupsMode::Disabled,
            other => {
                return Err(src.invalid(
                    m.span(),
                    "groups.mode",
                    format!("{other:?}: use virtual or disabled"),
                ));
            }
        },
    };
    let target = |key: &str, path: &Option<Spanned<String>>| {
        path.as_ref()
            .map(|p| {
                let target = ScimTarget::resolve(p.get_ref(), &mapping.catalog)
                    .map_err(|e| src.invalid(p.span(), key, e))?;
                if !mapping
                    .rules
                    .iter()
                    .any(|r| r.target == target && r.written_field().is_some())
                {
                    return Err(src.invalid(
                        p.span(),
                        key,
                        format!(
                            "{}: map it in [users.attributes] so the result reaches the downstream",
                            p.get_ref()
                        ),
                    ));
                }
                Ok(target)
            })
            .transpose()
    };
    let role_target = target("groups.role_attribute", &raw.role_attribute)?;
    let licence_target = target("groups.licence_attribute", &raw.licence_attribute)?;
    let mut grants = Vec::new();
    for rule in &raw.rules {
        let r = rule.get_ref();
        if r.role.is_some() && role_target.is_none() {
            return Err(src.invalid(
                rule.span(),
                "groups.rules",
                "a role needs groups.role_attribute",
            ));
        }
        if !r.licences.is_empty() && licence_target.is_none() {
            return Err(src.invalid(
                rule.span(),
                "groups.rules",
                "licences need groups.licence_attribute",
            ));
        }
        grants.push(GroupGrant {
            group: r.group.clone(),
            role: r.role.clone().map(|role| (role, r.rank)),
            licences: r.licences.clone(),
        });
    }
    let rules = GroupRules {
        grants,
        default_role: raw.default_role.clone(),
        default_licences: raw.default_licences.clone(),
        strip_when_inactive: raw.strip_when_inactive.unwrap_or(true),
        inactive_role: raw.inactive_role.clone(),
    };
    if rules.is_active() && mode == GroupsMode::Disabled {
        return Err(src.invalid(0..0, "groups", "rules need groups.mode = \"virtual\""));
    }
    Ok(GroupsConfig {
        mode,
        rules,
        role_target,
        licence_target,
    })
}

fn compile_store_url(
    raw: &raw::RawStore,
    file: &str,
    src: &Source,
    interp: &Interp,
) -> Result<String, ConfigError> {
    let Some(url) = &raw.url else {
        let dir = std::path::Path::new(file)
            .parent()
            .unwrap_or(std::path::Path::new(""));
        return Ok(format!("sqlite://{}", dir.join("gateway.db").display()));
    };
    let value = interp("store.url", url)?;
    if !(value.starts_with("sqlite:")
        || value.starts_with("postgres://")
        || value.starts_with("postgresql://"))
    {
        return Err(src.invalid(
            url.span(),
            "store.url",
            "use sqlite://FILE, sqlite::memory: or postgres://...",
        ));
    }
    Ok(value)
}

fn compile_server(
    raw: &RawConfig,
    file: &str,
    src: &Source,
    interp: &Interp,
) -> Result<ServerConfig, ConfigError> {
    let s = &raw.server;
    let listen = match &s.listen {
        Some(l) => l.get_ref().parse().map_err(|e| {
            src.invalid(
                l.span(),
                "server.listen",
                format!("{e}: write host:port, e.g. 0.0.0.0:8080"),
            )
        })?,
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let base_path = match &s.base_path {
        Some(p) => {
            let path = p.get_ref().trim_end_matches('/');
            if !path.starts_with('/') {
                return Err(src.invalid(
                    p.span(),
                    "server.base_path",
                    "starts with '/', e.g. /scim/v2",
                ));
            }
            path.to_owned()
        }
        None => "/scim/v2".to_owned(),
    };
    Ok(ServerConfig {
        listen,
        base_path,
        max_body_bytes: s
            .max_body_bytes
            .as_ref()
            .map_or(1024 * 1024, |b| *b.get_ref() as usize),
        request_timeout: Duration::from_millis(
            s.request_timeout_ms
                .as_ref()
                .map_or(30_000, |t| *t.get_ref()),
        ),
        tls: s
            .tls
            .as_ref()
            .map(|t| compile_tls(t, file, src, interp))
            .transpose()?,
        header_read_timeout: match &s.header_read_timeout_ms {
            Some(t) if *t.get_ref() == 0 => {
                return Err(src.invalid(
                    t.span(),
                    "server.header_read_timeout_ms",
                    "0 would close every connection at once; give milliseconds, e.g. 10000",
                ));
            }
            Some(t) => Duration::from_millis(*t.get_ref()),
            None => Duration::from_secs(10),
        },
        max_header_bytes: match &s.max_header_bytes {
            Some(b) if !(MIN_HEADER_BYTES..=u64::from(u32::MAX)).contains(b.get_ref()) => {
                return Err(src.invalid(
                    b.span(),
                    "server.max_header_bytes",
                    format!("give {MIN_HEADER_BYTES} to {} bytes, e.g. 16384", u32::MAX),
                ));
            }
            Some(b) => usize::try_from(*b.get_ref()).unwrap_or(usize::MAX),
            None => 16 * 1024,
        },
        shutdown_grace: Duration::from_millis(
            s.shutdown_grace_ms
                .as_ref()
                .map_or(10_000, |t| *t.get_ref()),
        ),
    })
}

/// Resolves `server.tls` paths against gateway.toml's folder and checks that the files make a
/// certificate and key pair, so a bad file fails at start-up rather than at the first handshake.
fn compile_tls(
    raw: &Spanned<raw::RawTls>,
    file: &str,
    src: &Source,
    interp: &Interp,
) -> Result<TlsFiles, ConfigError> {
    let dir = std::path::Path::new(file)
        .parent()
        .unwrap_or(std::path::Path::new(""));
    let tls = raw.get_ref();
    let files = TlsFiles {
        cert: dir.join(interp("server.tls.cert", &tls.cert)?),
        key: dir.join(interp("server.tls.key", &tls.key)?),
    };
    let chain = tls::cert_chain(&files.cert)
        .map_err(|e| src.invalid(tls.cert.span(), "server.tls.cert", e.to_string()))?;
    let key = tls::private_key(&files.key)
        .map_err(|e| src.invalid(tls.key.span(), "server.tls.key", e.to_string()))?;
    tls::certified_key(&files, chain, key)
        .map_err(|e| src.invalid(raw.span(), "server.tls", e.to_string()))?;
    Ok(files)
}

type Interp<'a> = dyn Fn(&str, &Spanned<String>) -> Result<String, ConfigError> + 'a;

fn compile_client_auth(
    raw: &RawConfig,
    src: &Source,
    interp: &Interp,
) -> Result<ClientAuthConfig, ConfigError> {
    let mut digests = Vec::new();
    for h in &raw.auth.bearer_sha256 {
        let bytes = hex::decode(h.get_ref().trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                src.invalid(
                    h.span(),
                    "auth.bearer_sha256",
                    "expected 64 hex digits (a SHA-256 digest)",
                )
            })?;
        digests.push(bytes);
    }
    for t in &raw.auth.bearer {
        let token = interp("auth.bearer", t)?;
        if token.len() < 16 {
            return Err(src.invalid(
                t.span(),
                "auth.bearer",
                "a bearer token needs at least 16 characters",
            ));
        }
        digests.push(Sha256::digest(token.as_bytes()).into());
    }
    if digests.is_empty() {
        return Err(src.invalid(
            0..0,
            "auth",
            "no way to authenticate SCIM clients: add auth.bearer_sha256 or auth.bearer",
        ));
    }
    Ok(ClientAuthConfig {
        bearer_sha256: digests,
    })
}

fn compile_downstream(
    raw: &RawConfig,
    src: &Source,
    interp: &Interp,
) -> Result<DownstreamSettings, ConfigError> {
    let d = &raw.downstream;
    let base = interp("downstream.base_url", &d.base_url)?;
    let base_url = reqwest::Url::parse(&base)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            src.invalid(
                d.base_url.span(),
                "downstream.base_url",
                "expected an http(s) URL",
            )
        })?;
    let auth = match &d.auth {
        None => DownstreamAuth::None,
        Some(a) => {
            let span = a.span();
            let a = a.get_ref();
            let value = |s: &Option<String>| {
                s.as_ref()
                    .map(|v| interp("downstream.auth", &Spanned::new(span.clone(), v.clone())))
                    .transpose()
            };
            match (
                value(&a.header)?,
                value(&a.value)?,
                value(&a.bearer)?,
                value(&a.username)?,
                value(&a.password)?,
            ) {
                (Some(name), Some(value), None, None, None) => {
                    DownstreamAuth::Header { name, value }
                }
                (None, None, Some(token), None, None) => DownstreamAuth::Bearer(token),
                (None, None, None, Some(username), Some(password)) => {
                    DownstreamAuth::Basic { username, password }
                }
                _ => {
                    return Err(src.invalid(
                        span,
                        "downstream.auth",
                        "give { header, value }, { bearer } or { username, password }",
                    ));
                }
            }
        }
    };
    let headers = d
        .headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), interp(&format!("downstream.headers.{k}"), v)?)))
        .collect::<Result<_, ConfigError>>()?;
    Ok(DownstreamSettings {
        base_url,
        auth,
        timeout: Duration::from_millis(d.timeout_ms.as_ref().map_or(10_000, |t| *t.get_ref())),
        headers,
    })
}
