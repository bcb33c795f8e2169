use serde_json::{Value, json};

use super::*;

fn guess_of(schemes: Value, security: Value) -> AuthGuess {
    let doc = ApiDocument::parse(
        &json!({
            "openapi": "3.0.0",
            "paths": {},
            "security": security,
            "components": {"securitySchemes": schemes}
        })
        .to_string(),
    )
    .unwrap();
    auth_guess(&doc)
}

#[test]
fn each_scheme_the_gateway_speaks_becomes_auth_with_its_secrets_as_variables() {
    let key = guess_of(
        json!({"k": {"type": "apiKey", "in": "header", "name": "X-Key"}}),
        json!([]),
    );
    assert_eq!(
        key.table.as_deref(),
        Some("{ header = \"X-Key\", value = \"${API_KEY}\" }")
    );
    assert_eq!(key.vars, ["API_KEY"]);
    let bearer = guess_of(
        json!({"b": {"type": "http", "scheme": "Bearer"}}),
        json!([]),
    );
    assert_eq!(
        bearer.table.as_deref(),
        Some("{ bearer = \"${API_TOKEN}\" }")
    );
    let basic = guess_of(json!({"b": {"type": "http", "scheme": "basic"}}), json!([]));
    assert_eq!(basic.vars, ["API_USERNAME", "API_PASSWORD"]);
}

#[test]
fn client_credentials_keep_the_token_url_and_scopes() {
    let g = guess_of(
        json!({"o": {"type": "oauth2", "flows": {"clientCredentials": {
            "tokenUrl": "/oauth2/token", "scopes": {"users:read": "", "users:write": ""}
        }}}}),
        json!([]),
    );
    assert_eq!(
        g.table.as_deref(),
        Some(
            "{ token_url = \"${API_URL}/oauth2/token\", client_id = \"${API_CLIENT_ID}\", client_secret = \"${API_CLIENT_SECRET}\", scope = \"users:read users:write\" }"
        )
    );
    let authorization_code = guess_of(
        json!({"o": {"type": "oauth2", "flows": {"authorizationCode": {"tokenUrl": "https://x/t"}}}}),
        json!([]),
    );
    assert!(authorization_code.table.is_none());
    assert!(authorization_code.others[0].contains("without a client-credentials flow"));
}

#[test]
fn the_documents_default_security_comes_first_and_the_rest_are_listed() {
    let g = guess_of(
        json!({
            "q": {"type": "apiKey", "in": "query", "name": "key"},
            "k": {"type": "apiKey", "in": "header", "name": "X-Key"},
            "b": {"type": "http", "scheme": "bearer"}
        }),
        json!([{"b": []}]),
    );
    assert_eq!(g.table.as_deref(), Some("{ bearer = \"${API_TOKEN}\" }"));
    assert_eq!(g.others.len(), 2);
    assert!(
        g.others
            .iter()
            .any(|o| o.contains("credentials in headers only"))
    );
}

#[test]
fn keys_are_bare_when_toml_allows() {
    assert_eq!(toml_key("userName"), "userName");
    assert_eq!(toml_key("name.givenName"), "\"name.givenName\"");
}
