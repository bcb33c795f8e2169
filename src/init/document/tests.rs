use serde_json::json;

use super::*;

const YAML: &str = r##"
openapi: 3.1.0
info: {title: People}
servers:
  - url: https://api.example.com/v2/
paths:
  /people/{personId}:
    parameters:
      - {name: personId, in: path, required: true, schema: {type: string}}
    get:
      parameters:
        - {name: expand, in: query, schema: {type: boolean}}
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Person"}
components:
  schemas:
    Base:
      type: object
      required: [id]
      properties:
        id: {type: string}
    Named:
      allOf:
        - $ref: "#/components/schemas/Base"
        - properties:
            first: {type: [string, "null"]}
          required: [first]
    Person:
      allOf:
        - $ref: "#/components/schemas/Named"
        - type: object
          properties:
            manager: {$ref: "#/components/schemas/Person"}
"##;

#[test]
fn yaml_with_numeric_codes_refs_chains_and_all_of_reads_as_one_schema() {
    let doc = ApiDocument::parse(YAML).unwrap();
    assert_eq!(doc.version(), "OpenAPI 3.1.0");
    assert_eq!(doc.base_path(), "/v2");
    assert_eq!(
        doc.server_origin().as_deref(),
        Some("https://api.example.com")
    );
    let op = doc.operation("/people/{personId}", "get").unwrap();
    let names: Vec<&str> = op.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["personId", "expand"]);
    let schema = op.response.unwrap();
    let props: Vec<&str> = properties(&schema).into_iter().map(|(n, _)| n).collect();
    assert_eq!(props, ["id", "first", "manager"]);
    assert_eq!(schema["required"], json!(["id", "first"]));
    assert_eq!(schema_type(&schema["properties"]["first"]), Some("string"));
    assert_eq!(
        schema["properties"]["manager"],
        json!({}),
        "a schema referring to itself ends in an empty schema"
    );
}

#[test]
fn swagger_2_bodies_responses_and_base_path_are_read() {
    let doc = ApiDocument::parse(
        &json!({
            "swagger": "2.0",
            "host": "hr.example.com",
            "basePath": "/hr/",
            "paths": {"/staff": {"post": {
                "parameters": [
                    {"in": "body", "name": "body", "schema": {"$ref": "#/definitions/Staff"}},
                    {"in": "query", "name": "notify", "type": "boolean"}
                ],
                "responses": {"201": {"description": "ok", "schema": {"$ref": "#/definitions/Staff"}}}
            }}},
            "definitions": {"Staff": {"type": "object", "properties": {"login": {"type": "string"}}}}
        })
        .to_string(),
    )
    .unwrap();
    assert_eq!(doc.version(), "Swagger 2.0");
    assert_eq!(doc.base_path(), "/hr");
    assert_eq!(
        doc.server_origin().as_deref(),
        Some("https://hr.example.com")
    );
    let op = doc.operation("/staff", "post").unwrap();
    assert_eq!(op.request.unwrap()["properties"]["login"]["type"], "string");
    assert!(op.response.is_some());
    let notify = op.parameters.iter().find(|p| p.name == "notify").unwrap();
    assert_eq!(notify.schema["type"], "boolean");
}

#[test]
fn other_documents_are_refused_with_what_is_missing() {
    let refused = |text: &str| ApiDocument::parse(text).unwrap_err().to_string();
    assert!(refused("{\"info\": {}}").contains("not an OpenAPI 3 or Swagger 2.0 document"));
    assert!(refused("openapi: 3.0.0\ninfo: {}\n").contains("no `paths`"));
    assert!(refused("{\"openapi\": ").contains("not valid JSON"));
    assert!(refused("openapi: [3\n").contains("not valid YAML"));
}
