use super::*;
use crate::demo::EXAMPLE_CONFIG;

fn env(name: &str) -> Option<String> {
    match name {
        "LEGACY_URL" => Some("http://127.0.0.1:9".into()),
        "LEGACY_API_KEY" => Some("legacy-key".into()),
        "SCIM_TOKEN" => Some("0123456789abcdef0123".into()),
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
    assert_eq!(config.auth.bearer_sha256.len(), 1);
    assert!(config.users.mapping.rules.len() >= 10);
    assert_eq!(config.downstream.base_url.as_str(), "http://127.0.0.1:9/");
}

#[test]
fn unknown_keys_are_named_with_line_and_column() {
    let text = example_with("timeout_ms = 10000", "timeout_msec = 10000");
    let line = line_of(&text, "timeout_msec");
    let err = error_of(&text);
    assert!(err.starts_with(&format!("gateway.toml:{line}:1:")), "{err}");
    assert!(err.contains("unknown field `timeout_msec`"), "{err}");
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
    assert!(err.contains("unknown field `multivalued`"), "{err}");
    let err = error_of(&with(
        "id = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"\nattributes = []",
    ));
    assert!(err.contains("is declared twice or is built in"), "{err}");
}
