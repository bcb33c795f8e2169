//! The first stage of gateway.toml: the file as written, deserialized with spans so that every
//! later error can name the key and its line:col. Nothing here is validated beyond its TOML type.

use std::collections::BTreeMap;

use crate::config::Spanned;
use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

/// The whole gateway.toml as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub auth: RawAuth,
    pub downstream: RawDownstream,
    pub users: RawResource,
    #[serde(default)]
    pub groups: RawGroups,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub cache: RawCache,
    /// Default request limits of every tenant.
    #[serde(default)]
    pub limits: RawLimits,
    /// One entry per customer (or location): its own Tenant URL, auth, `${VAR}` values and
    /// limits. Without any, the file describes the single tenant served at `base_path`.
    #[serde(default)]
    pub tenants: Vec<Spanned<RawTenant>>,
    /// The operator console and the activity it shows.
    #[serde(default)]
    pub admin: RawAdmin,
}

/// `[admin]`: the operator console's listener and credential, and how long provisioning
/// activity is kept.
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Socket address of the console, e.g. `127.0.0.1:9091`; no console when absent.
    pub listen: Option<Spanned<String>>,
    /// The admin token, given through `${ENV}`.
    pub token: Option<Spanned<String>>,
    /// SHA-256 (hex) of the admin token.
    pub token_sha256: Option<Spanned<String>>,
    /// A user name and password instead of (or besides) a token.
    pub basic: Option<Spanned<RawBasic>>,
    /// Days provisioning activity is kept (default 30); 0 records none.
    pub keep_days: Option<Spanned<u64>>,
    /// The most activity entries kept (default 100000).
    pub keep_entries: Option<Spanned<u64>>,
}

/// `[[tenants]]`: one customer of the vendor, served at `/<name><base_path>`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// Letters, digits, `-` and `_`; the first segment of the Tenant URL.
    pub name: Spanned<String>,
    #[serde(default)]
    pub auth: RawAuth,
    /// `${NAME}` values seen only by this tenant (e.g. a location id or the downstream
    /// credentials of this customer); they take precedence over the environment.
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<String>>,
    /// Overrides of the file's `[limits]` for this tenant.
    #[serde(default)]
    pub limits: RawLimits,
}

/// `[limits]` / `tenants.limits`: how much one tenant may ask at once.
#[derive(Debug, Deserialize, JsonSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Sustained requests per second (token bucket); unlimited when absent.
    pub requests_per_second: Option<Spanned<f64>>,
    /// Requests allowed in a burst above the sustained rate (default: one second's worth).
    pub burst: Option<Spanned<u32>>,
    /// Requests of the tenant in progress at once; more get 429.
    pub max_concurrent: Option<Spanned<u32>>,
}

/// `[store]`: where the gateway keeps what the downstream cannot (id correlations, externalId,
/// stored attributes, virtual groups and memberships).
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `sqlite://gateway.db` (default, relative to gateway.toml), `sqlite::memory:` or
    /// `postgres://user@host/db` for several gateway instances sharing state.
    pub url: Option<Spanned<String>>,
    /// `redis://host:port/db`: where instances sharing a PostgreSQL store keep the downstream
    /// pace instead.
    pub redis_url: Option<Spanned<String>>,
}

/// `[cache]`: how long the gateway answers from memory instead of asking again.
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Milliseconds a downstream record read or written answers a plain GET without a
    /// downstream call (default 30000; 0 turns the record cache off).
    pub records_ttl_ms: Option<u64>,
    /// Milliseconds a store row or lookup is answered without the database (default 60000;
    /// 0 turns the store cache off).
    pub store_ttl_ms: Option<u64>,
    /// Megabytes the caches may hold together (default 10): half for downstream records,
    /// shared out among the tenants, half for store rows; the least used go first.
    pub memory_mb: Option<u64>,
}

/// `[groups]`: the Group resource and the rules from groups to user attributes.
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawGroups {
    /// `virtual` (groups live in the gateway's store), `downstream` (also created, renamed,
    /// deleted and given members downstream) or `disabled` (no Group resource).
    pub mode: Option<Spanned<String>>,
    /// Downstream mode: `"POST /api/v1/teams"`.
    pub create: Option<Spanned<String>>,
    /// Downstream mode: `"PATCH /api/v1/teams/{id}"` (optional: without it, renames stay in
    /// the gateway).
    pub update: Option<Spanned<String>>,
    /// Downstream mode: `"DELETE /api/v1/teams/{id}"`.
    pub delete: Option<Spanned<String>>,
    /// Downstream mode: `"PUT /api/v1/teams/{id}/members/{member}"`.
    pub add_member: Option<Spanned<String>>,
    /// Downstream mode: `"DELETE /api/v1/teams/{id}/members/{member}"`.
    pub remove_member: Option<Spanned<String>>,
    /// Downstream mode, for APIs that take a group's whole member list instead of one call
    /// per member: where the list of member ids goes in the record the update call sends,
    /// e.g. `/member_ids`.
    pub members_field: Option<Spanned<String>>,
    /// With `members_field`: `"string"` (default) or `"integer"`, the type of the ids.
    pub member_ids: Option<Spanned<String>>,
    /// Downstream mode: JSON pointer to the id in a group record (default `/id`).
    pub id: Option<Spanned<String>>,
    /// Downstream mode: JSON pointer wrapping a group record, e.g. `/team`.
    pub envelope: Option<Spanned<String>>,
    /// Downstream mode: where displayName goes (default `/name`).
    pub name_field: Option<Spanned<String>>,
    /// Downstream mode: where externalId goes, if the API keeps it.
    pub external_id_field: Option<Spanned<String>>,
    /// SCIM path of the user attribute that receives the role, e.g. `roles[primary eq true].value`.
    pub role_attribute: Option<Spanned<String>>,
    /// SCIM path of the user attribute that receives the licences, e.g. `entitlements`.
    pub licence_attribute: Option<Spanned<String>>,
    pub default_role: Option<String>,
    #[serde(default)]
    pub default_licences: Vec<String>,
    /// Whether a deactivated user loses role and licences (default true).
    pub strip_when_inactive: Option<bool>,
    /// The role a deactivated user gets when stripped (default: none, i.e. null).
    pub inactive_role: Option<String>,
    /// `{ group = "Admins", role = "admin", rank = 3, licences = ["pro"] }`, one per group.
    #[serde(default)]
    pub rules: Vec<Spanned<RawGroupRule>>,
    /// As `[users] unmapped`, for Group attributes the gateway does not keep.
    pub unmapped: Option<Spanned<String>>,
}

/// One group's role and licences.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGroupRule {
    /// The group's displayName.
    pub group: String,
    pub role: Option<String>,
    /// Higher wins when a user is in several groups with a role.
    #[serde(default)]
    pub rank: i64,
    #[serde(default)]
    pub licences: Vec<String>,
}

/// `[server]`: where and how the SCIM side listens.
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Socket address, e.g. `0.0.0.0:8080`.
    pub listen: Option<Spanned<String>>,
    /// Path prefix of the SCIM endpoints; `/scim/v2` when absent.
    pub base_path: Option<Spanned<String>>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: Option<Spanned<u64>>,
    /// The longest a SCIM request may take end to end, in milliseconds.
    pub request_timeout_ms: Option<Spanned<u64>>,
    /// `{ cert = "cert.pem", key = "key.pem" }`: serve HTTPS with these PEM files (relative to
    /// gateway.toml), re-read when they change.
    pub tls: Option<Spanned<RawTls>>,
    /// How long a client may take to send a request head (and its TLS handshake), in
    /// milliseconds.
    pub header_read_timeout_ms: Option<Spanned<u64>>,
    /// The largest request head accepted, in bytes.
    pub max_header_bytes: Option<Spanned<u64>>,
    /// How long in-flight requests may run once shutdown begins, in milliseconds.
    pub shutdown_grace_ms: Option<Spanned<u64>>,
    /// Whether `/metrics` is served (default true).
    pub metrics: Option<bool>,
    /// Whether SCIM writes may ask for `?dry_run=true`; off by default.
    pub allow_dry_run: Option<Spanned<bool>>,
    /// The URL clients reach the gateway by (e.g. `https://scim.example.com`), for
    /// `meta.location` and `Location` behind a TLS-terminating proxy.
    pub public_url: Option<Spanned<String>>,
    /// Addresses or CIDR blocks of the proxies whose `X-Forwarded-Proto`/`-Host` and
    /// `Forwarded` headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
}

/// `server.tls`: the certificate chain and private key files, PEM.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
}

/// `[auth]`: how SCIM clients (Entra ID, Okta) prove who they are.
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// SHA-256 digests (hex) of accepted bearer tokens: the file never holds a token.
    #[serde(default)]
    pub bearer_sha256: Vec<Spanned<String>>,
    /// Accepted bearer tokens given through `${ENV}` interpolation; hashed when loaded.
    #[serde(default)]
    pub bearer: Vec<Spanned<String>>,
    /// Accept tokens issued by `scim-gateway token create` (kept hashed in the store).
    #[serde(default)]
    pub issued_tokens: bool,
    /// HTTP Basic credentials, for products whose guide asks for a user name and password.
    pub basic: Option<Spanned<RawBasic>>,
    /// JWT bearer tokens (OAuth), checked against a secret or a JWKS.
    pub jwt: Option<Spanned<RawJwt>>,
}

impl RawAuth {
    /// True when no way to authenticate is given.
    pub fn is_empty(&self) -> bool {
        self.bearer_sha256.is_empty()
            && self.bearer.is_empty()
            && !self.issued_tokens
            && self.basic.is_none()
            && self.jwt.is_none()
    }
}

/// `auth.basic`: one user name and its password (from `${ENV}`) or the password's SHA-256.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBasic {
    pub username: String,
    pub password: Option<String>,
    pub password_sha256: Option<String>,
}

/// `auth.jwt`: which signed tokens are accepted.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    /// Pinned algorithms, e.g. `["RS256"]`; HS* and RS*/ES* never mix.
    pub algorithms: Vec<String>,
    /// HS* shared secret (use `${ENV}`).
    pub secret: Option<String>,
    /// RS*/ES* keys: the issuer's JWKS document.
    pub jwks_url: Option<String>,
    pub issuer: String,
    pub audience: String,
    /// Clock skew tolerated on exp and nbf, in seconds (default 60).
    pub leeway_s: Option<u64>,
    /// How long a JWKS fetch may take, in milliseconds (default 5000).
    pub jwks_timeout_ms: Option<u64>,
}

/// `[downstream]`: the proprietary API the gateway translates to, and how hard it may be
/// called. Numbers may be strings with `${NAME}` (see [`RawNumber`]).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDownstream {
    pub base_url: Spanned<String>,
    pub auth: Option<Spanned<RawDownstreamAuth>>,
    /// Per-call timeout, in milliseconds.
    pub timeout_ms: Option<Spanned<RawNumber>>,
    /// Extra headers sent with every call (values may use `${ENV}`).
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// `"GET /path"` that answers 2xx while the API is up, for `/readyz`; a HEAD of
    /// `base_url` when absent.
    pub health: Option<Spanned<String>>,
    /// `{ requests_per_second = 20, burst = 5 }`: the pace of the calls; unpaced when absent.
    pub rate_limit: Option<Spanned<RawRateLimit>>,
    /// Calls in flight at once; unlimited when absent.
    pub max_concurrent: Option<Spanned<RawNumber>>,
    /// The longest a call waits for its turn, in milliseconds, before the SCIM client gets 503.
    pub max_queue_wait_ms: Option<Spanned<RawNumber>>,
    /// `{ max = 3, base_ms = 100, max_ms = 2000 }`: retries of the calls a retry can fix.
    pub retries: Option<Spanned<RawRetries>>,
    /// `{ failures = 5, open_ms = 30000 }`: the circuit breaker.
    pub breaker: Option<Spanned<RawBreaker>>,
}

/// `downstream.rate_limit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Sustained calls per second (fractions allowed: 0.5 is one call every 2 s).
    pub requests_per_second: Spanned<RawNumber>,
    /// Calls that may go back to back above the pace (default 1).
    pub burst: Option<Spanned<RawNumber>>,
}

/// `downstream.retries`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetries {
    /// Retries after the first attempt (0 turns retries off).
    pub max: Option<Spanned<RawNumber>>,
    /// The wait before the first retry, in milliseconds; it doubles each time.
    pub base_ms: Option<Spanned<RawNumber>>,
    /// The longest wait between retries before jitter, in milliseconds.
    pub max_ms: Option<Spanned<RawNumber>>,
}

/// `downstream.breaker`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    /// Consecutive failed calls that open the breaker.
    pub failures: Option<Spanned<RawNumber>>,
    /// How long it stays open, in milliseconds, before one probe call is let through.
    pub open_ms: Option<Spanned<RawNumber>>,
}

/// A number as written: a TOML number, or a string (which may be `${NAME}`) so that each
/// tenant can give its own value through `vars`.
#[derive(Debug, Clone, PartialEq)]
pub enum RawNumber {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl serde::de::Visitor<'_> for NumberVisitor {
            type Value = RawNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, or a string such as \"${RATE}\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawNumber, E> {
                Ok(RawNumber::Integer(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawNumber, E> {
                i64::try_from(v)
                    .map(RawNumber::Integer)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawNumber, E> {
                Ok(RawNumber::Float(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawNumber, E> {
                Ok(RawNumber::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}

impl JsonSchema for RawNumber {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Number".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number, or a string such as \"${RATE}\" (each tenant may give its own through `vars`).",
            "type": ["number", "string"]
        })
    }
}

/// `downstream.auth`: one of `{ header, value }`, `{ bearer }`, `{ username, password }` or
/// OAuth2 client credentials `{ token_url, client_id, client_secret, scope?, client_auth? }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDownstreamAuth {
    pub header: Option<String>,
    pub value: Option<String>,
    pub bearer: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
    /// How the client secret is sent: `basic` (default) or `post`.
    pub client_auth: Option<String>,
}

/// `[users]`: the downstream operations and attribute rules of one SCIM resource type.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawResource {
    pub create: Spanned<String>,
    pub read: Spanned<String>,
    pub update: Spanned<String>,
    /// A `DELETE /path/{id}` call, or `deactivate` to keep the record and clear `active`.
    pub delete: Spanned<String>,
    pub list: Spanned<RawList>,
    /// JSON pointer to the downstream id inside a downstream object.
    pub id: Spanned<String>,
    /// SCIM ids: `downstream` (the downstream id, default) or `uuid` (made by the gateway).
    pub ids: Option<Spanned<String>>,
    /// JSON pointer under which single objects are wrapped, e.g. `/account`.
    pub envelope: Option<Spanned<String>>,
    /// Filter push-down: `"userName eq" = "email"` sends `?email=<value>` downstream.
    #[serde(default)]
    pub search: IndexMap<String, Spanned<String>>,
    /// SCIM attribute path -> downstream JSON pointer or rule table, in file order (where two
    /// rules write one field, the later one's value wins).
    #[serde(default)]
    pub attributes: IndexMap<String, Spanned<RawRule>>,
    /// Downstream JSON pointer -> constant, or template of SCIM paths, set on every write.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, serde_json::Value>")]
    pub downstream_fields: IndexMap<String, Spanned<toml::Value>>,
    /// Extension schemas beyond the built-in enterprise User extension.
    #[serde(default)]
    pub extensions: Vec<Spanned<RawExtension>>,
    /// What becomes of attributes no rule maps: `store` (default: kept in the gateway's
    /// store), `ignore` (dropped, logged and counted) or `reject` (400).
    pub unmapped: Option<Spanned<String>>,
}

/// `[[users.extensions]]`: a custom schema extension (RFC 7643 §3.3), advertised in /Schemas.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExtension {
    /// The schema URN, e.g. `urn:ietf:params:scim:schemas:extension:2.0:CustomExtensionName`.
    pub id: String,
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Attribute definitions with the keys of RFC 7643 §7, as /Schemas shows them
    /// (`name`, `type`, `multiValued`, `canonicalValues`, `subAttributes`, ...).
    #[serde(default)]
    pub attributes: Vec<crate::scim::schema::AttributeDef>,
    /// Takes attributes of any name as strings (free metadata keys), besides those declared.
    #[serde(default)]
    pub open: bool,
}

/// `[users.list]`: how to list and page through downstream records.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawList {
    pub request: Spanned<String>,
    /// JSON pointer to the array of records in a list response (`""` for a bare array).
    pub items: Spanned<String>,
    /// JSON pointer to the total count, when the API gives one.
    pub total: Option<Spanned<String>>,
    /// `page`, `offset`, `cursor`, `next_link` or `none`.
    pub paging: Option<Spanned<String>>,
    pub page_param: Option<String>,
    pub size_param: Option<String>,
    pub first_page: Option<u64>,
    pub offset_param: Option<String>,
    pub limit_param: Option<String>,
    pub cursor_param: Option<String>,
    /// JSON pointer to the next cursor (cursor paging) or next URL (next_link paging).
    pub next: Option<Spanned<String>>,
    /// The largest page the API serves.
    pub max_page_size: Option<u64>,
    /// The most records the gateway reads to answer one filter it cannot push down.
    pub max_scan: Option<u64>,
}

/// One attribute rule: a bare JSON pointer, or a table of options.
#[derive(Debug)]
pub enum RawRule {
    Pointer(String),
    Table(Box<RawRuleTable>),
}

/// The table form of an attribute rule.
#[derive(Debug, Clone, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRuleTable {
    /// Downstream JSON pointer.
    pub path: Option<String>,
    /// SCIM value -> downstream value (the reverse is derived).
    #[schemars(with = "Option<IndexMap<String, serde_json::Value>>")]
    pub map: Option<IndexMap<String, toml::Value>>,
    /// Extra downstream value -> SCIM value entries for reading only.
    #[schemars(with = "Option<IndexMap<String, serde_json::Value>>")]
    pub map_read: Option<IndexMap<String, toml::Value>>,
    /// Sent downstream when the SCIM request has no value.
    #[schemars(with = "Option<serde_json::Value>")]
    pub default: Option<toml::Value>,
    /// A fixed SCIM value, read-only (no downstream field).
    #[schemars(with = "Option<serde_json::Value>")]
    pub constant: Option<toml::Value>,
    /// `{/first_name} {/last_name}`: a read-only SCIM value built from downstream fields.
    pub template: Option<String>,
    /// `read_write` (default), `read_only` or `write_only`.
    pub direction: Option<String>,
    /// `lower` or `upper`: case applied to values sent downstream.
    pub case: Option<String>,
    /// Joins a multi-valued SCIM attribute into one downstream string (and splits it back).
    pub separator: Option<String>,
    /// JSON type of the downstream field: `string`, `integer`, `number` or `boolean`.
    pub downstream_type: Option<String>,
    /// The SCIM client must send this attribute on create and replace.
    pub required: Option<bool>,
    /// The only values accepted (advertised as `canonicalValues`); others get 400 invalidValue.
    pub allowed: Option<Vec<String>>,
    /// Keep the value in the gateway's store (the downstream has no field for it).
    pub store: Option<bool>,
    /// The value is a secret (a password, a national id): explain and dry runs show it as
    /// `***`, and error messages never quote it. SCIM's `password` always is.
    pub sensitive: Option<bool>,
    /// Another SCIM attribute whose value stands in when this one has none, both ways: e.g.
    /// the work email taken from userName when a client sends no emails.
    pub default_from: Option<String>,
    /// `first` or `highest`: one value of a multi-valued SCIM attribute goes to a single
    /// downstream field (e.g. the one role a product keeps, from Entra's list of app roles).
    pub pick: Option<String>,
}

impl JsonSchema for RawRule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rule".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let table = generator.subschema_for::<RawRuleTable>();
        json_schema!({
            "description": "A downstream JSON pointer such as \"/email\", or a table of options.",
            "anyOf": [{ "type": "string" }, table]
        })
    }
}

impl<'de> Deserialize<'de> for RawRule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RuleVisitor;
        impl<'de> serde::de::Visitor<'de> for RuleVisitor {
            type Value = RawRule;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON pointer string such as \"/email\" or a rule table")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawRule, E> {
                Ok(RawRule::Pointer(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawRule, A::Error> {
                RawRuleTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawRule::Table(Box::new(t)))
            }
        }
        deserializer.deserialize_any(RuleVisitor)
    }
}
