use super::*;
use crate::cli::demo::EXAMPLE_CONFIG;
use crate::downstream::auth::DownstreamAuth;
use crate::downstream::breaker::BreakerSettings;
use crate::downstream::groups::MemberCalls;
use crate::downstream::oauth::ClientAuth;
use crate::downstream::pacing::PacingSettings;
use crate::downstream::retry::RetryPolicy;
use crate::mapping::Unmapped;

fn env(name: &str) -> Option<String> {
    match name {
        "LEGACY_URL" => Some("http://127.0.0.1:9".into()),
        "LEGACY_API_KEY" => Some("legacy-key".into()),
        "SCIM_TOKEN" => Some("0123456789abcdef0123".into()),
        "SITE" => Some("global".into()),
        "LISTEN" => Some("0.0.0.0:9090".into()),
        "DATA" => Some("data".into()),
        _ => None,
    }
}

fn error_of(text: &str) -> String {
    Config::parse("gateway.toml", text, &env)
        .unwrap_err()
        .to_string()
}

/// The example config with one line replaced.
fn example_with(from: &str, to: &str) -> String {
    assert!(EXAMPLE_CONFIG.contains(from), "example has no {from:?}");
    EXAMPLE_CONFIG.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_example_config_is_valid() {
    let config = Config::parse("gateway.toml", EXAMPLE_CONFIG, &env).unwrap();
    assert_eq!(config.server.base_path, "/scim/v2");
    let [tenant] = config.tenants.as_slice() else {
        panic!("one tenant expected");
    };
    assert_eq!(tenant.name, DEFAULT_TENANT);
    assert_eq!(tenant.base_path, "/scim/v2");
    assert_eq!(tenant.auth.bearer_sha256.len(), 1);
    assert!(tenant.users.mapping.rules.len() >= 10);
    assert_eq!(tenant.downstream.base_url.as_str(), "http://127.0.0.1:9/");
    assert_eq!(tenant.limits, Limits::default());
}

/// The example config with its [auth] replaced by two tenants.
fn two_tenants(extra: &str) -> String {
    let text = example_with("bearer = [\"${SCIM_TOKEN}\"]", "");
    let text = text.replace(
        "[users]\n",
        &format!(
            "[[tenants]]\nname = \"north\"\nauth = {{ issued_tokens = true }}\n\
             vars = {{ LEGACY_URL = \"http://north.example:1\" }}\n\
             [[tenants]]\nname = \"south\"\n\
             auth = {{ bearer = [\"${{SCIM_TOKEN}}\"] }}\n\
             limits = {{ requests_per_second = 2.5 }}\n{extra}\n[users]\n"
        ),
    );
    text.replace(
        "create = \"POST /api/v1/accounts\"",
        "create = \"POST /api/v1/accounts?site=${SITE}\"",
    )
}

#[test]
fn tenants_get_their_own_path_auth_vars_and_limits() {
    let text = two_tenants("[tenants.vars]\nSITE = \"s-${LEGACY_API_KEY}\"");
    let config = Config::parse("gateway.toml", &text, &env).unwrap();
    let north = config.tenant("north").unwrap();
    let south = config.tenant("south").unwrap();
    assert_eq!(north.base_path, "/north/scim/v2");
    assert!(north.auth.issued_tokens && north.auth.bearer_sha256.is_empty());
    assert_eq!(south.auth.bearer_sha256.len(), 1);
    assert_eq!(
        north.downstream.base_url.as_str(),
        "http://north.example:1/"
    );
    assert_eq!(south.downstream.base_url.as_str(), "http://127.0.0.1:9/");
    // A tenant's var wins over the environment and may itself use the environment.
    assert_eq!(
        north.users.endpoints.create.path,
        "/api/v1/accounts?site=global"
    );
    assert_eq!(
        south.users.endpoints.create.path,
        "/api/v1/accounts?site=s-legacy-key"
    );
    assert_eq!(north.limits, Limits::default());
    assert_eq!(south.limits.rate, Some((2.5, 3)));
}

#[test]
fn tenant_mistakes_are_named() {
    let err = error_of(&two_tenants("").replace("\"south\"", "\"north\""));
    assert!(err.contains("tenant north is declared twice"), "{err}");
    let err = error_of(&two_tenants("").replace("\"south\"", "\"so uth\""));
    assert!(err.contains("tenants.name"), "{err}");
    let err = error_of(
        &two_tenants("").replace("\"north\"\nauth = { issued_tokens = true }", "\"north\""),
    );
    assert!(err.starts_with("tenant north: "), "{err}");
    assert!(err.contains("no way to authenticate"), "{err}");
    let with_auth = two_tenants("").replace("[auth]\n", "[auth]\nissued_tokens = true\n");
    assert!(error_of(&with_auth).contains("give each tenant its own"));
    for rate in ["0", "1e-300", "1e300"] {
        let err = error_of(&two_tenants("").replace("2.5", rate));
        assert!(err.contains("limits.requests_per_second"), "{err}");
        assert!(err.contains("between 0.001 and 1000000"), "{err}");
    }
}

#[test]
fn unknown_keys_are_named_with_line_and_column() {
    let text = example_with("\ntimeout_ms = 10000", "\ntimeout_msec = 10000");
    let line = line_of(&text, "timeout_msec");
    let err = error_of(&text);
    assert!(err.starts_with(&format!("gateway.toml:{line}:1:")), "{err}");
    assert!(
        err.contains("downstream.timeout_msec: unknown key \"timeout_msec\" in [downstream]; did you mean \"timeout_ms\"?"),
        "{err}"
    );
}

#[test]
fn a_bad_rule_names_its_key_and_position() {
    let text = example_with(
        "\"name.givenName\" = \"/first_name\"",
        "\"name.givenName\" = \"first_name\"",
    );
    let line = line_of(&text, "\"name.givenName\"");
    let err = error_of(&text);
    assert_eq!(
        err,
        format!(
            "gateway.toml:{line}:20: users.attributes.\"name.givenName\": path: a JSON pointer starts with '/' (got \"first_name\")"
        )
    );
}

#[test]
fn unmapped_is_store_by_default_and_named_when_misspelt() {
    let config = Config::parse("gateway.toml", EXAMPLE_CONFIG, &env).unwrap();
    assert_eq!(config.tenants[0].users.mapping.unmapped, Unmapped::Store);
    assert_eq!(config.tenants[0].groups.unmapped, Unmapped::Store);
    let text = example_with(
        "mode = \"virtual\"",
        "mode = \"virtual\"\nunmapped = \"ignore\"",
    );
    let config = Config::parse("gateway.toml", &text, &env).unwrap();
    assert_eq!(config.tenants[0].groups.unmapped, Unmapped::Ignore);
    for section in ["[users]\n", "[groups]\n"] {
        let text = example_with(section, &format!("{section}unmapped = \"drop\"\n"));
        let line = line_of(&text, "unmapped = \"drop\"");
        let key = section.trim_matches(['[', ']', '\n']);
        assert_eq!(
            error_of(&text),
            format!(
                "gateway.toml:{line}:12: {key}.unmapped: \"drop\": use store, ignore or reject"
            )
        );
    }
}

#[test]
fn unknown_scim_attributes_and_operators_are_refused() {
    let err = error_of(&example_with("\"name.givenName\" =", "\"name.nickname\" ="));
    assert!(err.contains("name has no sub-attribute nickname"), "{err}");
    let err = error_of(&example_with(
        "\"userName eq\" = \"email\"",
        "\"userName is\" = \"email\"",
    ));
    assert!(err.contains("unknown operator \"is\""), "{err}");
    let err = error_of(&example_with(
        "create = \"POST /api/v1/accounts\"",
        "create = \"POST /api/v1/accounts/{id}\"",
    ));
    assert!(
        err.contains("users.create: the path takes no {id}"),
        "{err}"
    );
}

#[test]
fn a_missing_environment_variable_is_named_not_guessed() {
    let err = Config::parse("gateway.toml", EXAMPLE_CONFIG, &|n| match n {
        "LEGACY_API_KEY" => None,
        other => env(other),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("downstream.auth: environment variable LEGACY_API_KEY is not set"),
        "{err}"
    );
}

#[test]
fn deactivate_needs_a_writable_active_rule() {
    let text = example_with(
        "delete = \"DELETE /api/v1/accounts/{id}\"",
        "delete = \"deactivate\"",
    )
    .replace(
        "active = { path = \"/status\"",
        "active = { direction = \"read_only\", path = \"/status\"",
    );
    assert!(error_of(&text).contains("deactivate needs a writable rule for `active`"));
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let config = Config::parse("gateway.toml", EXAMPLE_CONFIG, &env).unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("legacy-key"));
    assert!(!shown.contains("0123456789abcdef0123"));
}

#[test]
fn declared_extensions_are_checked() {
    let with = |ext: &str| format!("{EXAMPLE_CONFIG}\n[[users.extensions]]\n{ext}\n");
    let err = error_of(&with("id = \"custom\"\nattributes = []"));
    assert!(
        err.contains("users.extensions: \"custom\": a schema id is a URN"),
        "{err}"
    );
    let err = error_of(&with(
        "id = \"urn:x:Ext\"\nattributes = [{ name = \"box\", type = \"complex\" }]",
    ));
    assert!(
        err.contains("complex attribute box needs subAttributes"),
        "{err}"
    );
    let err = error_of(&with(
        "id = \"urn:x:Ext\"\nattributes = [{ name = \"f\", type = \"string\", multivalued = true }]",
    ));
    assert!(err.contains("unknown key \"multivalued\""), "{err}");
    assert!(err.contains("did you mean \"multiValued\"?"), "{err}");
    let err = error_of(&with(
        "id = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"\nattributes = []",
    ));
    assert!(err.contains("is declared twice or is built in"), "{err}");
}

#[test]
fn listener_limits_have_defaults_and_are_checked() {
    let config = Config::parse("gateway.toml", EXAMPLE_CONFIG, &env).unwrap();
    assert_eq!(config.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(config.server.max_header_bytes, 16 * 1024);
    assert_eq!(config.server.shutdown_grace, Duration::from_secs(10));
    assert!(config.server.tls.is_none());
    assert_eq!(config.server.scheme(), "http");

    let text = example_with("[server]\n", "[server]\nmax_header_bytes = 100\n");
    let line = line_of(&text, "max_header_bytes");
    assert_eq!(
        error_of(&text),
        format!(
            "gateway.toml:{line}:20: server.max_header_bytes: give 8192 to 4294967295 bytes, e.g. 16384"
        )
    );
    let err = error_of(&example_with(
        "[server]\n",
        "[server]\nheader_read_timeout_ms = 0\n",
    ));
    assert!(
        err.contains("server.header_read_timeout_ms: 0 would close every connection"),
        "{err}"
    );
}

/// A folder with a gateway.toml that serves TLS from `cert.pem` and `key.pem` beside it.
struct TlsFolder {
    dir: std::path::PathBuf,
    text: String,
}

impl TlsFolder {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("scim-gateway-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(dir.join("cert.pem"), pair.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), pair.signing_key.serialize_pem()).unwrap();
        let text = example_with(
            "[server]\n",
            "[server]\ntls = { cert = \"cert.pem\", key = \"key.pem\" }\n",
        );
        Self { dir, text }
    }

    fn parse(&self) -> Result<Config, ConfigError> {
        let file = self.dir.join("gateway.toml");
        Config::parse(&file.display().to_string(), &self.text, &env)
    }

    /// The error, without the folder, e.g. `gateway.toml:6:14: server.tls.cert: ...`.
    fn error(&self) -> String {
        let dir = format!("{}/", self.dir.display());
        self.parse().unwrap_err().to_string().replace(&dir, "")
    }
}

impl Drop for TlsFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn tls_files_are_found_beside_gateway_toml() {
    let folder = TlsFolder::new("found");
    let config = folder.parse().unwrap();
    let files = config.server.tls.as_ref().unwrap();
    assert_eq!(files.cert, folder.dir.join("cert.pem"));
    assert_eq!(files.key, folder.dir.join("key.pem"));
    assert_eq!(config.server.scheme(), "https");
}

#[test]
fn bad_tls_files_are_refused_at_load_with_their_key() {
    let folder = TlsFolder::new("bad");
    let line = line_of(&folder.text, "tls = {");

    std::fs::write(folder.dir.join("cert.pem"), "not a certificate\n").unwrap();
    assert_eq!(
        folder.error(),
        format!(
            "gateway.toml:{line}:16: server.tls.cert: cert.pem: no certificate found: expected a -----BEGIN CERTIFICATE----- block"
        )
    );

    std::fs::remove_file(folder.dir.join("cert.pem")).unwrap();
    let err = folder.error();
    assert!(
        err.starts_with(&format!(
            "gateway.toml:{line}:16: server.tls.cert: cannot read cert.pem:"
        )),
        "{err}"
    );

    // A certificate whose key is another one's.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(folder.dir.join("cert.pem"), other.cert.pem()).unwrap();
    let err = folder.error();
    assert!(
        err.starts_with(&format!(
            "gateway.toml:{line}:7: server.tls: cert.pem and key.pem are not a usable pair:"
        )),
        "{err}"
    );

    std::fs::write(folder.dir.join("key.pem"), other.cert.pem()).unwrap();
    let err = folder.error();
    assert!(
        err.starts_with(&format!(
            "gateway.toml:{line}:34: server.tls.key: key.pem: no private key found"
        )),
        "{err}"
    );
}

#[test]
fn jwt_settings_are_checked_at_load() {
    crate::crypto::install_provider();
    let with_jwt =
        |jwt: &str| example_with("bearer = [\"${SCIM_TOKEN}\"]", &format!("jwt = {jwt}"));
    let ok = with_jwt(
        "{ algorithms = [\"RS256\"], jwks_url = \"https://login.example/keys\", issuer = \"i\", audience = \"a\" }",
    );
    assert!(
        Config::parse("gateway.toml", &ok, &env).unwrap().tenants[0]
            .auth
            .jwt
            .is_some()
    );
    for (jwt, message) in [
        (
            "{ algorithms = [\"none\"], jwks_url = \"https://x/k\", issuer = \"i\", audience = \"a\" }",
            "none",
        ),
        (
            "{ algorithms = [\"HS256\", \"RS256\"], secret = \"0123456789abcdef0123456789abcdef\", issuer = \"i\", audience = \"a\" }",
            "HS",
        ),
        (
            "{ algorithms = [\"HS256\"], secret = \"short\", issuer = \"i\", audience = \"a\" }",
            "32",
        ),
        (
            "{ algorithms = [\"RS256\"], jwks_url = \"http://idp.example/keys\", issuer = \"i\", audience = \"a\" }",
            "https",
        ),
        (
            "{ algorithms = [\"RS256\"], issuer = \"i\", audience = \"a\" }",
            "jwks_url",
        ),
    ] {
        let text = with_jwt(jwt);
        let err = error_of(&text);
        let line = line_of(&text, "jwt = ");
        assert!(err.starts_with(&format!("gateway.toml:{line}:")), "{err}");
        assert!(
            err.contains("auth.jwt") && err.contains(message),
            "{message}: {err}"
        );
    }
}

#[test]
fn operations_settings_have_defaults_and_are_checked() {
    let config = Config::parse("gateway.toml", EXAMPLE_CONFIG, &env).unwrap();
    assert!(config.server.metrics);
    assert!(config.tenants[0].downstream.health.is_none());

    let text = example_with("[server]\n", "[server]\nmetrics = false\n");
    assert!(
        !Config::parse("gateway.toml", &text, &env)
            .unwrap()
            .server
            .metrics
    );

    let text = example_with(
        "[downstream]\n",
        "[downstream]\nhealth = \"GET /api/v1/health\"\n",
    );
    let config = Config::parse("gateway.toml", &text, &env).unwrap();
    let health = config.tenants[0].downstream.health.as_ref().unwrap();
    assert_eq!(health.path, "/api/v1/health");

    for bad in ["POST /api/v1/health", "GET /api/v1/accounts/{id}", "health"] {
        let text = example_with(
            "[downstream]\n",
            &format!("[downstream]\nhealth = \"{bad}\"\n"),
        );
        let line = line_of(&text, "health =");
        let err = error_of(&text);
        assert!(
            err.starts_with(&format!("gateway.toml:{line}:10: downstream.health: ")),
            "{bad}: {err}"
        );
    }
}

/// The example config with `lines` added to `[downstream]`.
fn with_downstream(lines: &str) -> String {
    example_with(
        "timeout_ms = 10000\n",
        &format!("timeout_ms = 10000\n{lines}\n"),
    )
}

#[test]
fn the_downstream_is_retried_and_guarded_by_default_and_paced_when_asked() {
    use crate::downstream::pacing::Rate;
    let config = Config::parse("gateway.toml", EXAMPLE_CONFIG, &env).unwrap();
    let d = &config.tenants[0].downstream;
    assert_eq!(d.timeout, Duration::from_secs(10));
    assert_eq!(d.pacing, PacingSettings::default());
    assert_eq!(d.pacing.max_queue_wait, Duration::from_secs(5));
    assert_eq!(d.retries, RetryPolicy::default());
    assert_eq!(d.breaker, BreakerSettings::default());

    let text = with_downstream(
        "rate_limit = { requests_per_second = 0.5 }\nmax_concurrent = 8\n\
         max_queue_wait_ms = 0\nretries = { max = 0, base_ms = 50 }\n\
         breaker = { failures = 2, open_ms = 1500 }",
    );
    let config = Config::parse("gateway.toml", &text, &env).unwrap();
    let d = &config.tenants[0].downstream;
    assert_eq!(
        d.pacing,
        PacingSettings {
            rate: Some(Rate {
                per_second: 0.5,
                burst: 1
            }),
            max_concurrent: Some(8),
            max_queue_wait: Duration::ZERO,
        }
    );
    assert_eq!(
        d.retries,
        RetryPolicy {
            max: 0,
            base: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    );
    assert_eq!(
        d.breaker,
        BreakerSettings {
            failures: 2,
            open: Duration::from_millis(1500),
        }
    );
}

#[test]
fn each_tenant_paces_its_downstream_with_its_own_vars() {
    let text = two_tenants("")
        .replace(
            "vars = { LEGACY_URL = \"http://north.example:1\" }",
            "vars = { LEGACY_URL = \"http://north.example:1\", RATE = \"5\", BURST = \"2\" }",
        )
        .replace(
            "limits = { requests_per_second = 2.5 }",
            "limits = { requests_per_second = 2.5 }\nvars = { RATE = \"0.25\", BURST = \"1\" }",
        );
    let text = text.replace(
        "timeout_ms = 10000\n",
        "timeout_ms = 10000\n\
         rate_limit = { requests_per_second = \"${RATE}\", burst = \"${BURST}\" }\n",
    );
    let config = Config::parse("gateway.toml", &text, &env).unwrap();
    let rate = |name: &str| config.tenant(name).unwrap().downstream.pacing.rate.unwrap();
    assert_eq!((rate("north").per_second, rate("north").burst), (5.0, 2));
    assert_eq!((rate("south").per_second, rate("south").burst), (0.25, 1));
}

#[test]
fn bad_downstream_limits_name_their_key_and_position() {
    for (lines, key, says) in [
        (
            "rate_limit = { requests_per_second = 0 }",
            "downstream.rate_limit.requests_per_second",
            "between 0.001 and 1000000",
        ),
        // Its period (1 / rate) would overflow a Duration: a panic at start-up before.
        (
            "rate_limit = { requests_per_second = 1e-300 }",
            "downstream.rate_limit.requests_per_second",
            "between 0.001 and 1000000",
        ),
        (
            "rate_limit = { requests_per_second = 5, burst = 0 }",
            "downstream.rate_limit.burst",
            "at least 1",
        ),
        (
            "max_concurrent = \"many\"",
            "downstream.max_concurrent",
            "expected a whole number",
        ),
        (
            "max_queue_wait_ms = -1",
            "downstream.max_queue_wait_ms",
            "expected a whole number",
        ),
        (
            "retries = { max = 50 }",
            "downstream.retries.max",
            "at most 10",
        ),
        (
            "retries = { base_ms = 500, max_ms = 100 }",
            "downstream.retries.max_ms",
            "at least base_ms",
        ),
        (
            "breaker = { failures = 0 }",
            "downstream.breaker.failures",
            "at least 1",
        ),
        (
            "timeout_ms = \"${NOPE}\"",
            "downstream.timeout_ms",
            "NOPE is not set",
        ),
    ] {
        let text = with_downstream(lines).replace("timeout_ms = 10000\n", "");
        let line = line_of(&text, lines);
        let err = error_of(&text);
        assert!(
            err.starts_with(&format!("gateway.toml:{line}:")) && err.contains(key),
            "{lines}: {err}"
        );
        assert!(err.contains(says), "{lines}: {err}");
    }
    let text = with_downstream("breaker = { failures = 3, open_s = 1 }");
    let line = line_of(&text, "open_s");
    let err = error_of(&text);
    assert!(err.starts_with(&format!("gateway.toml:{line}:")), "{err}");
    assert!(
        err.contains("unknown key \"open_s\" in [downstream.breaker]; did you mean \"open_ms\"?"),
        "{err}"
    );
}

#[test]
fn downstream_oauth2_needs_a_token_url_and_a_client_and_nothing_else() {
    const KEY_LINE: &str = r#"auth = { header = "X-Api-Key", value = "${LEGACY_API_KEY}" }"#;
    let with_auth = |auth: &str| example_with(KEY_LINE, &format!("auth = {{ {auth} }}"));
    let ok = with_auth(
        r#"token_url = "https://idp.example/token", client_id = "gw", client_secret = "${LEGACY_API_KEY}", scope = "users", client_auth = "post""#,
    );
    let config = Config::parse("gateway.toml", &ok, &env).unwrap();
    let DownstreamAuth::OAuth2(c) = &config.tenants[0].downstream.auth else {
        panic!("not OAuth2: {:?}", config.tenants[0].downstream.auth);
    };
    assert_eq!(c.token_url.as_str(), "https://idp.example/token");
    assert_eq!(
        (c.client_id.as_str(), c.scope.as_deref()),
        ("gw", Some("users"))
    );
    assert_eq!(c.client_auth, ClientAuth::Post);
    for (auth, says) in [
        (
            r#"token_url = "ftp://idp/token", client_id = "gw", client_secret = "s""#,
            "expected an http(s) URL",
        ),
        (
            r#"token_url = "https://idp/token", client_id = "gw""#,
            "needs client_id and client_secret",
        ),
        (
            r#"token_url = "https://idp/token", client_id = "gw", client_secret = "s", header = "X""#,
            "client_id and client_secret only",
        ),
        (
            r#"token_url = "https://idp/token", client_id = "gw", client_secret = "s", client_auth = "jwt""#,
            "\"basic\"",
        ),
        (
            r#"header = "X-Api-Key", value = "k", client_secret = "s""#,
            "go with token_url",
        ),
    ] {
        let text = with_auth(auth);
        let err = error_of(&text);
        let line = line_of(&text, "auth = {");
        assert!(
            err.starts_with(&format!("gateway.toml:{line}:")) && err.contains("downstream.auth"),
            "{auth}: {err}"
        );
        assert!(err.contains(says), "{auth}: {err}");
    }
}

#[test]
fn downstream_member_calls_are_either_per_member_or_a_whole_list() {
    let groups = |lines: &str| {
        example_with(
            "mode = \"virtual\"",
            &format!(
                "mode = \"downstream\"\ncreate = \"POST /t\"\ndelete = \"DELETE /t/{{id}}\"\n{lines}"
            ),
        )
    };
    let per_member = "add_member = \"PUT /t/{id}/m/{member}\"\n\
                      remove_member = \"DELETE /t/{id}/m/{member}\"";
    let list = "update = \"PATCH /t/{id}\"\nmembers_field = \"/member_ids\"";
    let members = |text: &str| {
        let config = Config::parse("gateway.toml", text, &env).unwrap();
        config.tenants[0].groups.endpoints.clone().unwrap().members
    };
    assert!(matches!(
        members(&groups(per_member)),
        MemberCalls::Each { .. }
    ));
    assert_eq!(
        members(&groups(&format!("{list}\nmember_ids = \"integer\""))),
        MemberCalls::List {
            field: "/member_ids".parse().unwrap(),
            numeric: true
        }
    );

    let err = error_of(&groups(&format!("{list}\n{per_member}")));
    assert!(err.contains("not both"), "{err}");
    let err = error_of(&groups("members_field = \"/member_ids\""));
    assert!(err.contains("groups.update, which is missing"), "{err}");
    let err = error_of(&groups(&format!("{list}\nmember_ids = \"uuid\"")));
    assert!(err.contains("groups.member_ids"), "{err}");
    let err = error_of(&groups(&format!("{per_member}\nmember_ids = \"integer\"")));
    assert!(
        err.contains("member_ids needs groups.members_field"),
        "{err}"
    );
    let err = error_of(&example_with(
        "mode = \"virtual\"",
        "mode = \"virtual\"\nmembers_field = \"/m\"",
    ));
    assert!(err.contains("downstream calls need"), "{err}");
}

#[test]
fn server_listen_and_base_path_take_variables() {
    let text = example_with("listen = \"127.0.0.1:8080\"", "listen = \"${LISTEN}\"");
    let config = Config::parse("gateway.toml", &text, &env).unwrap();
    assert_eq!(config.server.listen, "0.0.0.0:9090".parse().unwrap());

    let text = example_with(
        "base_path = \"/scim/v2\"",
        "base_path = \"/${SITE}/scim/v2\"",
    );
    let config = Config::parse("gateway.toml", &text, &env).unwrap();
    assert_eq!(config.server.base_path, "/global/scim/v2");

    let text = example_with("listen = \"127.0.0.1:8080\"", "listen = \"${NO_LISTEN}\"");
    let err = error_of(&text);
    assert!(
        err.contains("server.listen: environment variable NO_LISTEN is not set"),
        "{err}"
    );
}

/// The store URL the example config gets with `[store] url = <url>`, in folder `/etc/scim`.
fn store_url_in_etc(url: Option<&str>) -> String {
    let text = match url {
        Some(url) => format!("{EXAMPLE_CONFIG}\n[store]\nurl = \"{url}\"\n"),
        None => EXAMPLE_CONFIG.to_owned(),
    };
    Config::parse_in("gateway.toml", Path::new("/etc/scim"), &text, &env)
        .unwrap()
        .store_url
}

#[test]
fn relative_sqlite_paths_resolve_against_the_folder_of_gateway_toml() {
    let cases = [
        (Some("sqlite://gateway.db"), "sqlite:///etc/scim/gateway.db"),
        (
            Some("sqlite:${DATA}/g.db?mode=rwc"),
            "sqlite:///etc/scim/data/g.db?mode=rwc",
        ),
        (None, "sqlite:///etc/scim/gateway.db"),
        // As written: absolute paths, in-memory databases, other stores.
        (
            Some("sqlite:///var/lib/scim/g.db"),
            "sqlite:///var/lib/scim/g.db",
        ),
        (
            Some("sqlite:/var/lib/scim/g.db"),
            "sqlite:/var/lib/scim/g.db",
        ),
        (Some("sqlite::memory:"), "sqlite::memory:"),
        (Some("sqlite://:memory:"), "sqlite://:memory:"),
        (
            Some("sqlite://shared?mode=memory&cache=shared"),
            "sqlite://shared?mode=memory&cache=shared",
        ),
        (
            Some("postgres://scim:pw@db.internal/scim"),
            "postgres://scim:pw@db.internal/scim",
        ),
        (
            Some("postgresql://db.internal/scim?sslmode=require"),
            "postgresql://db.internal/scim?sslmode=require",
        ),
    ];
    for (url, want) in cases {
        assert_eq!(store_url_in_etc(url), want, "{url:?}");
    }
}

#[test]
fn redis_url_keeps_the_pace_of_a_postgres_store_and_is_refused_beside_sqlite() {
    let with = |url: &str, redis: &str| {
        format!("{EXAMPLE_CONFIG}\n[store]\nurl = \"{url}\"\nredis_url = \"{redis}\"\n")
    };
    let config = Config::parse(
        "gateway.toml",
        &with("postgres://db/scim", "redis://cache:6379/2"),
        &env,
    )
    .unwrap();
    assert_eq!(config.redis_url.as_deref(), Some("redis://cache:6379/2"));
    let err = error_of(&with("sqlite://g.db", "redis://cache:6379/2"));
    assert!(
        err.contains("store.redis_url: only instances sharing a postgres"),
        "{err}"
    );
    let err = error_of(&with("postgres://db/scim", "http://cache"));
    assert!(err.contains("store.redis_url: use redis://"), "{err}");
    assert_eq!(
        Config::parse("gateway.toml", EXAMPLE_CONFIG, &env)
            .unwrap()
            .redis_url,
        None
    );
}

#[test]
fn tls_paths_resolve_against_the_given_folder_and_absolute_ones_stay() {
    let folder = TlsFolder::new("parse-in");
    let config = Config::parse_in("gateway.toml", &folder.dir, &folder.text, &env).unwrap();
    let files = config.server.tls.as_ref().unwrap();
    assert_eq!(files.cert, folder.dir.join("cert.pem"));

    let absolute = folder
        .text
        .replace(
            "cert = \"cert.pem\"",
            &format!("cert = \"{}\"", folder.dir.join("cert.pem").display()),
        )
        .replace(
            "key = \"key.pem\"",
            &format!("key = \"{}\"", folder.dir.join("key.pem").display()),
        );
    let config = Config::parse_in("gateway.toml", Path::new("/nowhere"), &absolute, &env).unwrap();
    let files = config.server.tls.as_ref().unwrap();
    assert_eq!(files.cert, folder.dir.join("cert.pem"));
    assert_eq!(files.key, folder.dir.join("key.pem"));
}

#[test]
fn public_url_and_trusted_proxies_are_checked() {
    let text = example_with(
        "[server]\n",
        "[server]\npublic_url = \"https://Scim.Example.com/gw/\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]\n",
    );
    let config = Config::parse("gateway.toml", &text, &env).unwrap();
    assert_eq!(
        config.server.public_url.as_deref(),
        Some("https://scim.example.com/gw")
    );
    assert_eq!(config.server.trusted_proxies.len(), 3);

    for (bad, why) in [
        ("scim.example.com", "relative URL without a base"),
        ("ftp://scim.example.com", "use an http or https URL"),
        ("https://scim.example.com/?a=1", "may not have a query"),
        (
            "https://scim.example.com/#top",
            "may not have a query (?) or fragment",
        ),
        ("https://me:pw@scim.example.com", "may not hold a user name"),
    ] {
        let text = example_with("[server]\n", &format!("[server]\npublic_url = \"{bad}\"\n"));
        let err = error_of(&text);
        let line = line_of(&text, "public_url");
        assert!(
            err.starts_with(&format!("gateway.toml:{line}:14: server.public_url: ")),
            "{err}"
        );
        assert!(err.contains(why), "{bad}: {err}");
    }
    let text = example_with(
        "[server]\n",
        "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
    );
    assert!(
        error_of(&text)
            .contains("server.trusted_proxies: \"10.0.0.0/33\" is not an IP address or CIDR block"),
        "{}",
        error_of(&text)
    );
}
