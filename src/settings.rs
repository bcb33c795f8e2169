//! gateway.toml's second stage: the checked [`Config`] the gateway runs on, assembled from the
//! raw file ([`crate::config`]) by each domain's compiler (downstream, auth, TLS, mapping) plus
//! the tenant-level pieces compiled here. Every error names the key and its line:col.

mod admin;
mod public_url;
mod restart;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::config::Spanned;

use crate::auth::settings::compile_client_auth;
pub use crate::auth::settings::{BasicCredentials, ClientAuthConfig};
use crate::config::error::Source;
pub use crate::config::error::{ConfigError, Problems, TenantChoiceError};
use crate::config::file_text::FileText;
use crate::config::raw::{self, RawAuth, RawConfig, RawLimits};
use crate::config::{Interp, RATE_RANGE, interpolate, rate_in_range, shape};
use crate::downstream::DownstreamSettings;
use crate::downstream::endpoints::{DeleteMode, Endpoints};
use crate::downstream::groups::GroupEndpoints;
use crate::downstream::settings::{compile_downstream, compile_group_endpoints};
use crate::mapping::ResourceMapping;
use crate::mapping::group_rules::{GroupGrant, GroupRules};
use crate::mapping::target::ScimTarget;
use crate::scim::catalog;
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, SchemaDef};
use crate::tls::TlsFiles;
use crate::tls::settings::compile_tls;
pub use admin::{AdminConfig, AdminCredential, Retention};

/// The checked configuration the gateway runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    /// Store URL: `sqlite://...`, `sqlite::memory:` or `postgres://...`.
    pub store_url: String,
    /// `[store] redis_url`: where instances sharing a PostgreSQL store keep the downstream
    /// pace instead of PostgreSQL (`redis://...`).
    pub redis_url: Option<String>,
    pub cache: CacheConfig,
    /// Never empty: a file without `[[tenants]]` describes one tenant named
    /// [`DEFAULT_TENANT`] at `base_path`.
    pub tenants: Vec<TenantConfig>,
    /// `[admin]`: the operator console and how long activity is kept.
    pub admin: AdminConfig,
    /// The text it was loaded from: its version and masked view in the console.
    pub text: FileText,
}

/// Megabytes the caches hold by default: the records of about 1,500 users of the sample API's
/// size and the rows of about 3,000, more than the users an Entra cycle reads and then writes
/// within the time-to-live, while `serve` stays within 60 MB resident with 100,000 users in
/// its store (scripts/bench.sh's memory row).
const DEFAULT_CACHE_MB: u64 = 10;

/// How long answers are kept in memory (`[cache]`); zero keeps nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Downstream records by downstream id: a GET within this time makes no downstream call.
    pub records_ttl: Duration,
    /// Store rows and lookups: a request within this time does not ask the database.
    pub store_ttl: Duration,
    /// What the caches may hold together, in bytes: half for the records (shared out among
    /// the tenants), half for the store's rows and lookups.
    pub memory_bytes: u64,
}

impl CacheConfig {
    /// The half of the budget for the store's rows and lookups.
    pub fn store_bytes(&self) -> u64 {
        self.memory_bytes / 2
    }

    /// Each of `tenants` tenants' share of the other half, for its downstream records.
    pub fn records_bytes(&self, tenants: usize) -> u64 {
        let tenants = u64::try_from(tenants.max(1)).unwrap_or(u64::MAX);
        self.memory_bytes / 2 / tenants
    }

    fn compile(raw: &raw::RawCache) -> Self {
        Self {
            records_ttl: Duration::from_millis(raw.records_ttl_ms.unwrap_or(30_000)),
            store_ttl: Duration::from_millis(raw.store_ttl_ms.unwrap_or(60_000)),
            memory_bytes: raw
                .memory_mb
                .unwrap_or(DEFAULT_CACHE_MB)
                .saturating_mul(1024 * 1024),
        }
    }
}

/// The tenant name of a single-tenant configuration.
pub const DEFAULT_TENANT: &str = "default";

/// One tenant: its Tenant URL path, who may call it, and the downstream it translates to
/// (compiled with the tenant's own `${VAR}` values).
#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub name: String,
    /// Path of the Tenant URL, e.g. `/acme/scim/v2`, without a trailing slash.
    pub base_path: String,
    pub auth: ClientAuthConfig,
    pub limits: Limits,
    pub downstream: DownstreamSettings,
    pub users: ResourceConfig,
    pub groups: GroupsConfig,
}

/// How much one tenant may ask at once; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limits {
    /// Sustained requests per second and the burst above it.
    pub rate: Option<(f64, u32)>,
    pub max_concurrent: Option<u32>,
}

/// Whether the gateway offers a Group resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupsMode {
    /// Groups and memberships live in the gateway's store and drive the rules.
    Virtual,
    /// As `Virtual`, and every group and membership change is also made downstream.
    Downstream,
    /// No Group resource is advertised or served (users-only products).
    Disabled,
}

/// `[groups]`, checked.
#[derive(Debug, Clone)]
pub struct GroupsConfig {
    pub mode: GroupsMode,
    /// The downstream group calls (mode `downstream` only).
    pub endpoints: Option<GroupEndpoints>,
    pub rules: GroupRules,
    /// Where the rules write the role and the licences in a user resource.
    pub role_target: Option<ScimTarget>,
    pub licence_target: Option<ScimTarget>,
    /// `[groups] unmapped`. Groups keep every attribute of their schema (displayName,
    /// members, externalId) today, so nothing is unmapped yet; the key is read so a file can
    /// state its policy, and a Group extension will follow it.
    pub unmapped: crate::mapping::Unmapped,
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
    /// Whether Prometheus metrics are kept and served at `/metrics`.
    pub metrics: bool,
    /// Whether a SCIM write may ask for `?dry_run=true` (an operator's tool, off by default:
    /// a dry run still reads the downstream, and its answer shows the downstream's URLs).
    pub allow_dry_run: bool,
    /// The URL clients reach the gateway by, without a trailing slash (`[server] public_url`):
    /// the start of every `meta.location` when set.
    pub public_url: Option<String>,
    /// The proxies whose forwarded headers name the scheme and host clients used.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl ServerConfig {
    /// The URL scheme clients reach the gateway with, for `meta.location`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// hyper's smallest HTTP/1.1 read buffer: a smaller `max_header_bytes` would make it panic.
const MIN_HEADER_BYTES: u64 = 8192;

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
    /// Relative file paths in it (the SQLite store, the TLS files) are resolved against the
    /// file's own folder, made absolute and canonical, so every command that loads the same file uses the
    /// same files whatever its working directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, &interpolate::from_env)
    }

    /// Like [`Config::load`], with `env` resolving `${NAME}` (e.g.
    /// [`interpolate::from_env_or_stand_in`] for `check --allow-missing-env`).
    pub fn load_with(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::check(path, env).map_err(|problems| problems.into_first(&path.display().to_string()))
    }

    /// Like [`Config::load_with`], with every problem of the file (`scim-gateway check`).
    pub fn check(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, Problems> {
        let read_error = |source| {
            Problems::new(
                vec![ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                }],
                0,
            )
        };
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        let absolute = std::fs::canonicalize(path).map_err(read_error)?;
        let dir = absolute.parent().unwrap_or(Path::new("/"));
        Self::check_in(&path.display().to_string(), dir, &text, env)
    }

    /// Checks gateway.toml text; `env` resolves `${NAME}` references. Relative file paths are
    /// resolved against the folder of `file` (see [`Config::parse_in`]).
    pub fn parse(
        file: &str,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let dir = Path::new(file).parent().unwrap_or(Path::new(""));
        Self::parse_in(file, dir, text, env)
    }

    /// Checks gateway.toml text named `file` in messages; relative file paths in it (a
    /// `sqlite:` store URL, `server.tls.cert` and `.key`) are resolved against `dir`. The
    /// error is the first of the file's problems (see [`Config::check_in`] for all).
    pub fn parse_in(
        file: &str,
        dir: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::check_in(file, dir, text, env).map_err(|problems| problems.into_first(file))
    }

    /// Like [`Config::parse_in`], with every problem found: each syntax, type and key problem
    /// of the file as written ([`crate::config::shape`]), then every problem of the sections
    /// that could be read, each section and tenant checked even when another has a problem.
    /// An unset `${NAME}` is a problem at its position (give `env` stand-ins to allow it).
    pub fn check_in(
        file: &str,
        dir: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Problems> {
        let src = Source { file, text };
        let shape = shape::read(&src);
        let tenant_count = shape.raw.as_ref().map_or(0, |raw| raw.tenants.len());
        let Some(raw) = shape.raw else {
            return Err(Problems::new(shape.problems, tenant_count));
        };
        let mut found = Vec::new();
        let unset = Unset::default();
        let interp = |key: &str, v: &Spanned<String>| unset.expand(&src, env, key, v);
        let server = keep(&mut found, compile_server(&raw, dir, &src, &interp));
        let admin = server.as_ref().and_then(|server| {
            keep(
                &mut found,
                admin::compile_admin(&raw.admin, server.listen, &src, &interp),
            )
        });
        let store_url = keep(
            &mut found,
            compile_store_url(&raw.store, dir, &src, &interp),
        );
        let redis_url = store_url.as_ref().and_then(|url| {
            keep(
                &mut found,
                compile_redis_url(&raw.store, url, &src, &interp),
            )
        });
        let base_path = server
            .as_ref()
            .map_or_else(|| "/scim/v2".to_owned(), |s| s.base_path.clone());
        let tenants = check_tenants(&raw, &src, env, &interp, &base_path, &mut found);
        let cache = CacheConfig::compile(&raw.cache);
        let mut problems = unset.explain(&src, found);
        problems.retain(|p| p.section().is_none_or(|s| !shape.tainted.contains(s)));
        problems.splice(0..0, shape.problems);
        match (server, admin, store_url, redis_url) {
            (Some(server), Some(admin), Some(store_url), Some(redis_url))
                if problems.is_empty() =>
            {
                Ok(Self {
                    server,
                    admin,
                    store_url,
                    redis_url,
                    cache,
                    tenants,
                    text: FileText::new(text),
                })
            }
            _ => Err(Problems::new(problems, tenant_count)),
        }
    }

    /// The tenant called `name`.
    pub fn tenant(&self, name: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.name == name)
    }

    /// The tenant a command works on: the one named, or the only one (`--tenant` may be left
    /// out in a single-tenant file).
    pub fn select_tenant(&self, name: Option<&str>) -> Result<&TenantConfig, TenantChoiceError> {
        match name {
            Some(name) => self.tenant(name).ok_or_else(|| TenantChoiceError::Unknown {
                name: name.to_owned(),
                known: self
                    .tenants
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            None if self.tenants.len() == 1 => Ok(&self.tenants[0]),
            None => Err(TenantChoiceError::Ambiguous),
        }
    }
}

/// What is wrong with a tenant's name, if anything: its characters, or that a tenant
/// before it (`names`) has it.
fn tenant_name_problem(
    name: &Spanned<String>,
    names: &[&str],
    src: &Source,
) -> Option<ConfigError> {
    let text = name.get_ref();
    let valid = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let message = if !valid {
        format!("{text:?}: use 1 to 64 letters, digits, - and _")
    } else if names.contains(&text.as_str()) {
        format!("tenant {text} is declared twice")
    } else {
        return None;
    };
    Some(src.invalid(name.span(), "tenants.name", message))
}

/// Every tenant of the file (or the one default tenant) compiled, each checked even when
/// another has a problem; the problems go to `found`.
fn check_tenants(
    raw: &RawConfig,
    src: &Source,
    env: &dyn Fn(&str) -> Option<String>,
    interp: &Interp,
    base_path: &str,
    found: &mut Vec<ConfigError>,
) -> Vec<TenantConfig> {
    let mut tenants: Vec<TenantConfig> = Vec::new();
    if raw.tenants.is_empty() {
        let limits = keep(
            found,
            compile_limits(&raw.limits, &RawLimits::default(), src),
        );
        let compiled = compile_tenant(
            raw,
            src,
            env,
            DEFAULT_TENANT,
            base_path.to_owned(),
            &raw.auth,
        );
        match (compiled, limits) {
            (Ok(tenant), Some(limits)) => tenants.push(TenantConfig { limits, ..tenant }),
            (Ok(_), None) => {}
            (Err(problems), _) => found.extend(problems),
        }
    } else {
        if !raw.auth.is_empty() {
            found.push(src.invalid(
                0..0,
                "auth",
                "with [[tenants]], give each tenant its own [tenants.auth] instead",
            ));
        }
        let mut names: Vec<&str> = Vec::new();
        for t in &raw.tenants {
            let tenant = t.get_ref();
            let name = tenant.name.get_ref();
            if let Some(problem) = tenant_name_problem(&tenant.name, &names, src) {
                found.push(problem);
                continue;
            }
            names.push(name);
            let mut vars = std::collections::BTreeMap::new();
            for (key, value) in &tenant.vars {
                if let Some(v) = keep(found, interp(&format!("tenants.vars.{key}"), value)) {
                    vars.insert(key.clone(), v);
                }
            }
            let tenant_env = |var: &str| vars.get(var).cloned().or_else(|| env(var));
            let limits = keep(found, compile_limits(&raw.limits, &tenant.limits, src));
            let compiled = compile_tenant(
                raw,
                src,
                &tenant_env,
                name,
                format!("/{name}{base_path}"),
                &tenant.auth,
            );
            match (compiled, limits) {
                (Ok(compiled), Some(limits)) => tenants.push(TenantConfig { limits, ..compiled }),
                (Ok(_), None) => {}
                (Err(problems), _) => {
                    found.extend(problems.into_iter().map(|e| ConfigError::Tenant {
                        tenant: name.clone(),
                        source: Box::new(e),
                    }))
                }
            }
        }
    }
    tenants
}

/// Compiles everything one tenant runs on, with `env` resolving its `${VAR}` references; its
/// limits are set by the caller. Each part is checked even when another has a problem.
fn compile_tenant(
    raw: &RawConfig,
    src: &Source,
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
    base_path: String,
    auth: &RawAuth,
) -> Result<TenantConfig, Vec<ConfigError>> {
    let unset = Unset::default();
    let interp = |key: &str, v: &Spanned<String>| unset.expand(src, env, key, v);
    let mut found = Vec::new();
    let auth = keep(&mut found, compile_client_auth(auth, src, &interp));
    let downstream = keep(&mut found, compile_downstream(raw, src, &interp));
    let endpoints = keep(
        &mut found,
        Endpoints::compile("users", &raw.users, src, &interp),
    );
    let mut user_schema = catalog::user_schema();
    for ext in &raw.users.extensions {
        if let Some(schema) = keep(&mut found, compile_extension(ext, &user_schema, src)) {
            user_schema.extensions.push(schema);
        }
    }
    let mapping = keep(
        &mut found,
        ResourceMapping::compile("users", &raw.users, user_schema, src),
    );
    if let (Some(endpoints), Some(mapping)) = (&endpoints, &mapping)
        && endpoints.delete == DeleteMode::Deactivate
        && !mapping
            .rules
            .iter()
            .any(|r| r.target.attr == "active" && r.written_field().is_some())
    {
        found.push(src.invalid(
            raw.users.delete.span(),
            "users.delete",
            "deactivate needs a writable rule for `active`",
        ));
    }
    let groups = mapping.as_ref().and_then(|mapping| {
        keep(
            &mut found,
            compile_groups(&raw.groups, mapping, src, &interp),
        )
    });
    let ids = keep(&mut found, compile_ids(&raw.users, src));
    let found = unset.explain(src, found);
    match (auth, downstream, endpoints, mapping, groups, ids) {
        (Some(auth), Some(downstream), Some(endpoints), Some(mapping), Some(groups), Some(ids))
            if found.is_empty() =>
        {
            Ok(TenantConfig {
                name: name.to_owned(),
                base_path,
                auth,
                limits: Limits::default(),
                downstream,
                users: ResourceConfig {
                    endpoints,
                    mapping,
                    ids,
                },
                groups,
            })
        }
        _ => Err(found),
    }
}

/// The value of `result`, or `None` with its error added to `found`: how one check goes on
/// after a problem to find the others.
fn keep<T>(found: &mut Vec<ConfigError>, result: Result<T, ConfigError>) -> Option<T> {
    result.map_err(|e| found.push(e)).ok()
}

/// `${NAME}` expansion that notes each unset variable as a problem at its position and goes
/// on with a stand-in, so that one check names every unset variable and still checks the rest.
#[derive(Default)]
struct Unset {
    /// Each unset variable's problem, and where the value naming it starts.
    found: std::cell::RefCell<Vec<(ConfigError, usize)>>,
}

impl Unset {
    /// Expands `${NAME}`s in `v` (the value of `key`) with `env`.
    fn expand(
        &self,
        src: &Source,
        env: &dyn Fn(&str) -> Option<String>,
        key: &str,
        v: &Spanned<String>,
    ) -> Result<String, ConfigError> {
        let lookup = |name: &str| {
            env(name).or_else(|| {
                let reference = format!("${{{name}}}");
                let span = v.span();
                let at = src
                    .text
                    .get(span.clone())
                    .and_then(|written| written.find(&reference))
                    .map_or(span.start, |at| span.start + at);
                let message = interpolate::InterpolateError::Unset(name.to_owned()).to_string();
                let problem = src.invalid(at..at, key, message);
                self.found.borrow_mut().push((problem, span.start));
                interpolate::stand_in(name)
            })
        };
        interpolate::interpolate(v.get_ref(), &lookup)
            .map_err(|e| src.invalid(v.span(), key, e.to_string()))
    }

    /// `found` with the unset variables added, less the problems of the values that named
    /// them (a stand-in's, not the file's).
    fn explain(&self, src: &Source, mut found: Vec<ConfigError>) -> Vec<ConfigError> {
        let unset = self.found.take();
        let stood_in: Vec<(usize, usize)> = unset
            .iter()
            .map(|(_, start)| src.line_col(*start))
            .collect();
        found.retain(|problem| !stood_in.contains(&problem.position()));
        found.extend(unset.into_iter().map(|(problem, _)| problem));
        found
    }
}

/// A tenant's limits: its own keys over the file's `[limits]`.
fn compile_limits(
    defaults: &RawLimits,
    own: &RawLimits,
    src: &Source,
) -> Result<Limits, ConfigError> {
    let rate = own
        .requests_per_second
        .as_ref()
        .or(defaults.requests_per_second.as_ref());
    let burst = own.burst.as_ref().or(defaults.burst.as_ref());
    let concurrent = own
        .max_concurrent
        .as_ref()
        .or(defaults.max_concurrent.as_ref());
    let rate = match rate {
        None => None,
        Some(r) => {
            let per_second = *r.get_ref();
            if !rate_in_range(per_second) {
                return Err(src.invalid(
                    r.span(),
                    "limits.requests_per_second",
                    format!("requests per second {RATE_RANGE}"),
                ));
            }
            let burst = match burst {
                Some(b) if *b.get_ref() == 0 => {
                    return Err(src.invalid(b.span(), "limits.burst", "at least 1"));
                }
                Some(b) => *b.get_ref(),
                None => per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32,
            };
            Some((per_second, burst))
        }
    };
    if let Some(c) = concurrent.filter(|c| *c.get_ref() == 0) {
        return Err(src.invalid(c.span(), "limits.max_concurrent", "at least 1"));
    }
    Ok(Limits {
        rate,
        max_concurrent: concurrent.map(|c| *c.get_ref()),
    })
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

/// `[groups]`: the mode, the attributes group rules grant through, the rules themselves and
/// the downstream calls.
fn compile_groups(
    raw: &raw::RawGroups,
    mapping: &ResourceMapping,
    src: &Source,
    interp: &Interp,
) -> Result<GroupsConfig, ConfigError> {
    let mode = compile_groups_mode(raw.mode.as_ref(), src)?;
    let role_target = grant_target(
        "groups.role_attribute",
        raw.role_attribute.as_ref(),
        mapping,
        src,
    )?;
    let licence_target = grant_target(
        "groups.licence_attribute",
        raw.licence_attribute.as_ref(),
        mapping,
        src,
    )?;
    let rules = compile_group_rules(raw, role_target.is_some(), licence_target.is_some(), src)?;
    if rules.is_active() && mode == GroupsMode::Disabled {
        return Err(src.invalid(
            0..0,
            "groups",
            "rules need groups.mode = \"virtual\" or \"downstream\"",
        ));
    }
    let endpoints = compile_group_endpoints(raw, mode == GroupsMode::Downstream, src, interp)?;
    Ok(GroupsConfig {
        mode,
        endpoints,
        rules,
        role_target,
        licence_target,
        unmapped: crate::mapping::compile_unmapped("groups", raw.unmapped.as_ref(), src)?,
    })
}

/// `groups.mode`: disabled unless given.
fn compile_groups_mode(
    mode: Option<&Spanned<String>>,
    src: &Source,
) -> Result<GroupsMode, ConfigError> {
    let Some(m) = mode else {
        return Ok(GroupsMode::Disabled);
    };
    match m.get_ref().as_str() {
        "virtual" => Ok(GroupsMode::Virtual),
        "downstream" => Ok(GroupsMode::Downstream),
        "disabled" => Ok(GroupsMode::Disabled),
        other => Err(src.invalid(
            m.span(),
            "groups.mode",
            format!("{other:?}: use virtual, downstream or disabled"),
        )),
    }
}

/// The User attribute a group rule grants through (`key`, e.g. `groups.role_attribute`): a
/// SCIM attribute the users' mapping writes downstream, or the grant would go nowhere.
fn grant_target(
    key: &str,
    path: Option<&Spanned<String>>,
    mapping: &ResourceMapping,
    src: &Source,
) -> Result<Option<ScimTarget>, ConfigError> {
    let Some(p) = path else {
        return Ok(None);
    };
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
    Ok(Some(target))
}

/// `[[groups.rules]]` and the defaults: a rule may grant a role or licences only where the
/// attribute that carries them is configured.
fn compile_group_rules(
    raw: &raw::RawGroups,
    has_role_target: bool,
    has_licence_target: bool,
    src: &Source,
) -> Result<GroupRules, ConfigError> {
    let mut grants = Vec::new();
    for rule in &raw.rules {
        let r = rule.get_ref();
        if r.role.is_some() && !has_role_target {
            return Err(src.invalid(
                rule.span(),
                "groups.rules",
                "a role needs groups.role_attribute",
            ));
        }
        if !r.licences.is_empty() && !has_licence_target {
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
    Ok(GroupRules {
        grants,
        default_role: raw.default_role.clone(),
        default_licences: raw.default_licences.clone(),
        strip_when_inactive: raw.strip_when_inactive.unwrap_or(true),
        inactive_role: raw.inactive_role.clone(),
    })
}

/// `[store] redis_url`, only beside a PostgreSQL store (a SQLite store serves one instance,
/// which paces in memory).
fn compile_redis_url(
    raw: &raw::RawStore,
    store_url: &str,
    src: &Source,
    interp: &Interp,
) -> Result<Option<String>, ConfigError> {
    let Some(url) = &raw.redis_url else {
        return Ok(None);
    };
    let value = interp("store.redis_url", url)?;
    if !value.starts_with("redis://") {
        return Err(src.invalid(url.span(), "store.redis_url", "use redis://host:port/db"));
    }
    if !store_url.starts_with("postgres") {
        return Err(src.invalid(
            url.span(),
            "store.redis_url",
            "only instances sharing a postgres:// store share a pace; remove it for SQLite",
        ));
    }
    Ok(Some(value))
}

fn compile_store_url(
    raw: &raw::RawStore,
    dir: &Path,
    src: &Source,
    interp: &Interp,
) -> Result<String, ConfigError> {
    let Some(url) = &raw.url else {
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
    Ok(resolve_sqlite_url(&value, dir))
}

/// A `sqlite:` URL whose file path is relative, with the path joined to `dir`; an absolute
/// path, an in-memory database and any other URL stay as written.
pub(crate) fn resolve_sqlite_url(url: &str, dir: &Path) -> String {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return url.to_owned();
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let in_memory = path.is_empty()
        || path.starts_with(":memory:")
        || query.is_some_and(|q| q.split('&').any(|p| p == "mode=memory"));
    if in_memory || Path::new(path).is_absolute() {
        return url.to_owned();
    }
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("sqlite://{}{query}", dir.join(path).display())
}

fn compile_server(
    raw: &RawConfig,
    dir: &Path,
    src: &Source,
    interp: &Interp,
) -> Result<ServerConfig, ConfigError> {
    let s = &raw.server;
    let listen = compile_listen(s.listen.as_ref(), src, interp)?;
    let base_path = compile_base_path(s.base_path.as_ref(), src, interp)?;
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
            .map(|t| compile_tls(t, dir, src, interp))
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
        metrics: s.metrics.unwrap_or(true),
        allow_dry_run: s.allow_dry_run.as_ref().is_some_and(|a| *a.get_ref()),
        public_url: public_url::compile_public_url(s.public_url.as_ref(), src, interp)?,
        trusted_proxies: public_url::compile_trusted_proxies(&s.trusted_proxies, src)?,
    })
}

/// `[server] listen`: host:port, 127.0.0.1:8080 when absent.
fn compile_listen(
    listen: Option<&Spanned<String>>,
    src: &Source,
    interp: &Interp,
) -> Result<SocketAddr, ConfigError> {
    match listen {
        Some(l) => interp("server.listen", l)?.trim().parse().map_err(|e| {
            src.invalid(
                l.span(),
                "server.listen",
                format!("{e}: write host:port, e.g. 0.0.0.0:8080"),
            )
        }),
        None => Ok(SocketAddr::from(([127, 0, 0, 1], 8080))),
    }
}

/// `[server] base_path`: starts with '/', no trailing '/'; /scim/v2 when absent.
fn compile_base_path(
    base_path: Option<&Spanned<String>>,
    src: &Source,
    interp: &Interp,
) -> Result<String, ConfigError> {
    let Some(p) = base_path else {
        return Ok("/scim/v2".to_owned());
    };
    let path = interp("server.base_path", p)?;
    let path = path.trim_end_matches('/');
    if !path.starts_with('/') {
        return Err(src.invalid(
            p.span(),
            "server.base_path",
            "starts with '/', e.g. /scim/v2",
        ));
    }
    Ok(path.to_owned())
}
