//! `[downstream]` checked: the API's address, credentials, headers and timeout, and how its
//! calls are paced, retried and cut off. Every number may also be written as a string with
//! `${NAME}`; since the file is compiled once per tenant with the tenant's `vars`, that gives
//! each tenant its own limits.

use std::time::Duration;

use crate::config::Spanned;

use crate::config::Interp;
use crate::config::error::{ConfigError, Source};
use crate::config::raw::{self, RawConfig, RawNumber};
use crate::downstream::DownstreamSettings;
use crate::downstream::auth::DownstreamAuth;
use crate::downstream::breaker::BreakerSettings;
use crate::downstream::groups::{GroupEndpoints, MemberCalls};
use crate::downstream::oauth::{ClientAuth, ClientCredentials};
use crate::downstream::operation::Operation;
use crate::downstream::pacing::{PacingSettings, Rate};
use crate::downstream::retry::RetryPolicy;
use crate::json_pointer::JsonPointer;

/// Compiles `[downstream]`.
pub fn compile_downstream(
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
    let headers = d
        .headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), interp(&format!("downstream.headers.{k}"), v)?)))
        .collect::<Result<_, ConfigError>>()?;
    let numbers = Numbers { src, interp };
    let timeout_ms = numbers.whole("downstream.timeout_ms", d.timeout_ms.as_ref(), 1, 10_000)?;
    Ok(DownstreamSettings {
        base_url,
        auth: compile_auth(d.auth.as_ref(), src, interp)?,
        timeout: Duration::from_millis(timeout_ms),
        headers,
        health: compile_health(d.health.as_ref(), src, interp)?,
        pacing: compile_pacing(raw, &numbers)?,
        retries: compile_retries(raw, &numbers)?,
        breaker: compile_breaker(raw, &numbers)?,
    })
}

/// `downstream.health`: a GET of a fixed path that answers 2xx while the API is up.
fn compile_health(
    health: Option<&Spanned<String>>,
    src: &Source,
    interp: &Interp,
) -> Result<Option<Operation>, ConfigError> {
    let Some(v) = health else {
        return Ok(None);
    };
    let key = "downstream.health";
    let op: Operation = interp(key, v)?
        .parse()
        .map_err(|e: String| src.invalid(v.span(), key, e))?;
    if op.method != reqwest::Method::GET || op.has_id() || op.has_member() {
        return Err(src.invalid(
            v.span(),
            key,
            "expected a GET of a fixed path, e.g. \"GET /api/v1/health\"",
        ));
    }
    Ok(Some(op))
}

fn compile_auth(
    auth: Option<&Spanned<raw::RawDownstreamAuth>>,
    src: &Source,
    interp: &Interp,
) -> Result<DownstreamAuth, ConfigError> {
    let Some(a) = auth else {
        return Ok(DownstreamAuth::None);
    };
    let span = a.span();
    let a = a.get_ref();
    let value = |s: &Option<String>| {
        s.as_ref()
            .map(|v| interp("downstream.auth", &Spanned::new(span.clone(), v.clone())))
            .transpose()
    };
    let invalid = |message: &str| src.invalid(span.clone(), "downstream.auth", message);
    if a.token_url.is_some() {
        if [&a.header, &a.value, &a.bearer, &a.username, &a.password]
            .iter()
            .any(|k| k.is_some())
        {
            return Err(invalid(
                "token_url is for OAuth2 client credentials: give it with client_id and \
                 client_secret only",
            ));
        }
        return compile_client_credentials(a, &value, &invalid);
    }
    if [&a.client_id, &a.client_secret, &a.scope, &a.client_auth]
        .iter()
        .any(|k| k.is_some())
    {
        return Err(invalid(
            "client_id, client_secret, scope and client_auth go with token_url (OAuth2)",
        ));
    }
    match (
        value(&a.header)?,
        value(&a.value)?,
        value(&a.bearer)?,
        value(&a.username)?,
        value(&a.password)?,
    ) {
        (Some(name), Some(value), None, None, None) => Ok(DownstreamAuth::Header { name, value }),
        (None, None, Some(token), None, None) => Ok(DownstreamAuth::Bearer(token)),
        (None, None, None, Some(username), Some(password)) => {
            Ok(DownstreamAuth::Basic { username, password })
        }
        _ => Err(invalid(
            "give { header, value }, { bearer }, { username, password } or \
             { token_url, client_id, client_secret }",
        )),
    }
}

/// An optional `downstream.auth` key with its `${VAR}`s filled in.
type AuthValue<'a> = dyn Fn(&Option<String>) -> Result<Option<String>, ConfigError> + 'a;

/// OAuth2 client credentials: a token URL, the client id and secret, and optionally the scope
/// and how the secret is sent.
fn compile_client_credentials(
    a: &raw::RawDownstreamAuth,
    value: &AuthValue<'_>,
    invalid: &dyn Fn(&str) -> ConfigError,
) -> Result<DownstreamAuth, ConfigError> {
    let token_url = value(&a.token_url)?
        .and_then(|u| reqwest::Url::parse(&u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| invalid("token_url: expected an http(s) URL"))?;
    let (Some(client_id), Some(client_secret)) = (value(&a.client_id)?, value(&a.client_secret)?)
    else {
        return Err(invalid("token_url needs client_id and client_secret"));
    };
    if client_id.is_empty() || client_secret.is_empty() {
        return Err(invalid("client_id and client_secret must not be empty"));
    }
    let client_auth = match value(&a.client_auth)?.as_deref() {
        None | Some("basic") => ClientAuth::Basic,
        Some("post") => ClientAuth::Post,
        Some(other) => {
            return Err(invalid(&format!(
                "client_auth = {other:?}: write \"basic\" (HTTP Basic, the default) or \"post\" \
                 (in the form body)"
            )));
        }
    };
    Ok(DownstreamAuth::OAuth2(ClientCredentials {
        token_url,
        client_id,
        client_secret,
        scope: value(&a.scope)?.filter(|s| !s.is_empty()),
        client_auth,
    }))
}

fn compile_pacing(raw: &RawConfig, numbers: &Numbers) -> Result<PacingSettings, ConfigError> {
    let d = &raw.downstream;
    let rate = match &d.rate_limit {
        None => None,
        Some(r) => {
            let r = r.get_ref();
            let key = "downstream.rate_limit.requests_per_second";
            let per_second = numbers.decimal(key, &r.requests_per_second)?;
            if !crate::config::rate_in_range(per_second) {
                return Err(numbers.src.invalid(
                    r.requests_per_second.span(),
                    key,
                    format!("calls per second {}", crate::config::RATE_RANGE),
                ));
            }
            let burst = numbers.whole("downstream.rate_limit.burst", r.burst.as_ref(), 1, 1)?;
            Some(Rate {
                per_second,
                burst: u32::try_from(burst).unwrap_or(u32::MAX),
            })
        }
    };
    let max_concurrent = d
        .max_concurrent
        .as_ref()
        .map(|m| numbers.whole("downstream.max_concurrent", Some(m), 1, 1))
        .transpose()?
        .map(|m| u32::try_from(m).unwrap_or(u32::MAX));
    let defaults = PacingSettings::default();
    let max_queue_wait = numbers.millis(
        "downstream.max_queue_wait_ms",
        d.max_queue_wait_ms.as_ref(),
        0,
        defaults.max_queue_wait,
    )?;
    Ok(PacingSettings {
        rate,
        max_concurrent,
        max_queue_wait,
    })
}

fn compile_retries(raw: &RawConfig, numbers: &Numbers) -> Result<RetryPolicy, ConfigError> {
    let defaults = RetryPolicy::default();
    let Some(spanned) = &raw.downstream.retries else {
        return Ok(defaults);
    };
    let r = spanned.get_ref();
    let max = numbers.whole(
        "downstream.retries.max",
        r.max.as_ref(),
        0,
        u64::from(defaults.max),
    )?;
    if max > 10 {
        return Err(numbers.src.invalid(
            r.max.as_ref().map_or(spanned.span(), Spanned::span),
            "downstream.retries.max",
            "at most 10: more retries only delay the answer the SCIM client retries anyway",
        ));
    }
    let base = numbers.millis(
        "downstream.retries.base_ms",
        r.base_ms.as_ref(),
        1,
        defaults.base,
    )?;
    let max_delay = numbers.millis(
        "downstream.retries.max_ms",
        r.max_ms.as_ref(),
        1,
        defaults.max_delay.max(base),
    )?;
    if max_delay < base {
        return Err(numbers.src.invalid(
            spanned.span(),
            "downstream.retries.max_ms",
            "at least base_ms",
        ));
    }
    Ok(RetryPolicy {
        max: u32::try_from(max).unwrap_or(u32::MAX),
        base,
        max_delay,
    })
}

fn compile_breaker(raw: &RawConfig, numbers: &Numbers) -> Result<BreakerSettings, ConfigError> {
    let defaults = BreakerSettings::default();
    let Some(b) = &raw.downstream.breaker else {
        return Ok(defaults);
    };
    let b = b.get_ref();
    let failures = numbers.whole(
        "downstream.breaker.failures",
        b.failures.as_ref(),
        1,
        u64::from(defaults.failures),
    )?;
    Ok(BreakerSettings {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        open: numbers.millis(
            "downstream.breaker.open_ms",
            b.open_ms.as_ref(),
            1,
            defaults.open,
        )?,
    })
}

/// Reads number keys, expanding `${NAME}` in the ones written as strings.
struct Numbers<'a> {
    src: &'a Source<'a>,
    interp: &'a Interp<'a>,
}

impl Numbers<'_> {
    /// The text of a number key after `${NAME}` expansion.
    fn text(&self, key: &str, v: &Spanned<RawNumber>) -> Result<String, ConfigError> {
        match v.get_ref() {
            RawNumber::Integer(i) => Ok(i.to_string()),
            RawNumber::Float(f) => Ok(f.to_string()),
            RawNumber::Text(t) => (self.interp)(key, &Spanned::new(v.span(), t.clone())),
        }
    }

    /// A number with a fraction allowed.
    fn decimal(&self, key: &str, v: &Spanned<RawNumber>) -> Result<f64, ConfigError> {
        let text = self.text(key, v)?;
        text.trim().parse().map_err(|_| {
            self.src
                .invalid(v.span(), key, format!("{text:?} is not a number"))
        })
    }

    /// A whole number of at least `min`; `default` when the key is absent.
    fn whole(
        &self,
        key: &str,
        v: Option<&Spanned<RawNumber>>,
        min: u64,
        default: u64,
    ) -> Result<u64, ConfigError> {
        let Some(v) = v else {
            return Ok(default);
        };
        let text = self.text(key, v)?;
        match text.trim().parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(self.src.invalid(
                v.span(),
                key,
                format!("{text:?}: expected a whole number of at least {min}"),
            )),
        }
    }

    /// A duration in milliseconds of at least `min_ms`.
    fn millis(
        &self,
        key: &str,
        v: Option<&Spanned<RawNumber>>,
        min_ms: u64,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        self.whole(key, v, min_ms, default_ms)
            .map(Duration::from_millis)
    }
}
/// The downstream group calls: required in `downstream` mode (`downstream_mode`), refused in
/// the others.
pub fn compile_group_endpoints(
    raw: &raw::RawGroups,
    downstream_mode: bool,
    src: &Source,
    interp: &Interp,
) -> Result<Option<GroupEndpoints>, ConfigError> {
    let calls = [
        ("create", &raw.create),
        ("update", &raw.update),
        ("delete", &raw.delete),
        ("add_member", &raw.add_member),
        ("remove_member", &raw.remove_member),
        ("members_field", &raw.members_field),
        ("member_ids", &raw.member_ids),
    ];
    if !downstream_mode {
        if let Some((key, Some(v))) = calls.iter().find(|(_, v)| v.is_some()) {
            return Err(src.invalid(
                v.span(),
                &format!("groups.{key}"),
                "downstream calls need groups.mode = \"downstream\"",
            ));
        }
        return Ok(None);
    }
    let op = |key: &str, v: &Option<Spanned<String>>, id: bool, member: bool| {
        group_operation(
            &format!("groups.{key}"),
            v.as_ref(),
            (id, member),
            src,
            interp,
        )
    };
    let parse =
        |key: &str, text: &str, span: std::ops::Range<usize>| group_pointer(key, text, span, src);
    let optional = |key: &str, v: &Option<Spanned<String>>| {
        v.as_ref()
            .map(|v| parse(key, v.get_ref(), v.span()))
            .transpose()
    };
    let or_default = |key: &str, v: &Option<Spanned<String>>, default: &str| match v {
        Some(v) => parse(key, v.get_ref(), v.span()),
        None => parse(key, default, 0..0),
    };
    let members = match &raw.members_field {
        None => MemberCalls::Each {
            add: op("add_member", &raw.add_member, true, true)?,
            remove: op("remove_member", &raw.remove_member, true, true)?,
        },
        Some(field) => member_list(raw, field, src)?,
    };
    if let (Some(t), None) = (&raw.member_ids, &raw.members_field) {
        return Err(src.invalid(
            t.span(),
            "groups.member_ids",
            "member_ids needs groups.members_field",
        ));
    }
    Ok(Some(GroupEndpoints {
        create: op("create", &raw.create, false, false)?,
        update: raw
            .update
            .as_ref()
            .map(|_| op("update", &raw.update, true, false))
            .transpose()?,
        delete: op("delete", &raw.delete, true, false)?,
        members,
        id: or_default("id", &raw.id, "/id")?,
        envelope: optional("envelope", &raw.envelope)?,
        name_field: or_default("name_field", &raw.name_field, "/name")?,
        external_id_field: optional("external_id_field", &raw.external_id_field)?,
    }))
}

/// One group call at `key`, required, whose path must (or must not) hold `{id}` and
/// `{member}` as `wants` says.
fn group_operation(
    key: &str,
    v: Option<&Spanned<String>>,
    wants: (bool, bool),
    src: &Source,
    interp: &Interp,
) -> Result<Operation, ConfigError> {
    let v = v.ok_or_else(|| src.invalid(0..0, key, "required in downstream mode"))?;
    let op: Operation = interp(key, v)?
        .parse()
        .map_err(|e: String| src.invalid(v.span(), key, e))?;
    if (op.has_id(), op.has_member()) != wants {
        let want = match wants {
            (false, _) => "a path without {id} or {member}",
            (true, false) => "a path with {id} and no {member}",
            (true, true) => "a path with {id} and {member}",
        };
        return Err(src.invalid(v.span(), key, format!("expected {want}")));
    }
    Ok(op)
}

/// A pointer of the `[groups]` section at `groups.{key}`.
fn group_pointer(
    key: &str,
    text: &str,
    span: std::ops::Range<usize>,
    src: &Source,
) -> Result<JsonPointer, ConfigError> {
    text.parse::<JsonPointer>()
        .map_err(|e| src.invalid(span, &format!("groups.{key}"), e.to_string()))
}

/// The member list written whole with the update call (`groups.members_field`), which
/// excludes calls per member.
fn member_list(
    raw: &raw::RawGroups,
    field: &Spanned<String>,
    src: &Source,
) -> Result<MemberCalls, ConfigError> {
    if let Some(call) = raw.add_member.as_ref().or(raw.remove_member.as_ref()) {
        return Err(src.invalid(
            call.span(),
            "groups.members_field",
            "give either add_member and remove_member (a call per member) or \
                     members_field (the whole list with the update call), not both",
        ));
    }
    if raw.update.is_none() {
        return Err(src.invalid(
            field.span(),
            "groups.members_field",
            "the member list is written with groups.update, which is missing",
        ));
    }
    let numeric = match raw.member_ids.as_ref().map(|t| (t.get_ref().as_str(), t)) {
        None | Some(("string", _)) => false,
        Some(("integer", _)) => true,
        Some((_, t)) => {
            return Err(src.invalid(
                t.span(),
                "groups.member_ids",
                "expected \"string\" or \"integer\"",
            ));
        }
    };
    Ok(MemberCalls::List {
        field: group_pointer("members_field", field.get_ref(), field.span(), src)?,
        numeric,
    })
}
