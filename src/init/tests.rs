use super::*;
use crate::config::interpolate::stand_in;
use crate::settings::Config;

fn sample() -> ApiDocument {
    ApiDocument::parse(crate::tools::legacy::OPENAPI_DOCUMENT).unwrap()
}

#[test]
fn the_sample_apis_document_picks_accounts_and_renders_a_file_check_accepts() {
    let draft = Draft::from_document(&sample(), "openapi.json", None).unwrap();
    assert_eq!(draft.resource.collection, "/api/v1/accounts");
    assert_eq!(draft.update.0, "PATCH /api/v1/accounts/{id}");
    let text = draft.render();
    let config = Config::parse("gateway.toml", &text, &stand_in).unwrap();
    assert_eq!(config.tenants.len(), 1);
    assert!(
        text.contains("# add_member = \"PUT /api/v1/teams/{id}/members/{member}\""),
        "{text}"
    );
    assert_eq!(draft.variables(), ["API_URL", "API_KEY", "SCIM_TOKEN"]);
    let summary = draft.summary("gateway.toml");
    assert!(summary.contains("scim-gateway check --config gateway.toml --allow-missing-env"));
    assert!(summary.contains("unplaced fields: /metadata"), "{summary}");
}

#[test]
fn resource_picks_another_collection_and_names_the_known_ones_when_unknown() {
    let members = Draft::from_document(&sample(), "openapi.json", Some("members")).unwrap();
    assert_eq!(members.create.0, "POST /api/v1/members");
    let text = members.render();
    Config::parse("gateway.toml", &text, &stand_in).unwrap();
    let unknown = Draft::from_document(&sample(), "openapi.json", Some("staff")).unwrap_err();
    let message = unknown.to_string();
    assert!(
        message.contains("--resource staff: no such resource"),
        "{message}"
    );
    assert!(message.contains("accounts (/api/v1/accounts)"), "{message}");
}

#[test]
fn item_parameters_are_renamed_id() {
    assert_eq!(item_with_id("/v1/users/{userId}"), "/v1/users/{id}");
}

#[test]
fn a_resource_without_delete_or_status_is_refused_by_name() {
    let doc = ApiDocument::parse(
        &serde_json::json!({
            "openapi": "3.0.0",
            "paths": {
                "/users": {"post": {"responses": {}}},
                "/users/{id}": {"get": {"responses": {"200": {"description": "", "content": {"application/json": {"schema": {
                    "properties": {"id": {"type": "string"}, "email": {"type": "string"}, "first_name": {"type": "string"}}
                }}}}}}}
            }
        })
        .to_string(),
    )
    .unwrap();
    let refused = Draft::from_document(&doc, "api.json", None).unwrap_err();
    assert!(
        refused.to_string().contains("/users/{id} has no DELETE"),
        "{refused}"
    );
}
