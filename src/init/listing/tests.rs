use serde_json::{Value, json};

use super::*;

/// A document whose `/things` list takes `params` and answers `answer`.
fn guess(params: Value, answer: Value) -> ListGuess {
    let doc = ApiDocument::parse(
        &json!({
            "openapi": "3.0.0",
            "paths": {"/things": {"get": {
                "parameters": params,
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": answer}}}}
            }}}
        })
        .to_string(),
    )
    .unwrap();
    list_guess(&doc, "/things", "/v1/things").unwrap()
}

fn query(names: &[&str]) -> Value {
    names
        .iter()
        .map(|n| json!({"name": n, "in": "query", "schema": {"type": "integer", "maximum": 200}}))
        .collect()
}

#[test]
fn page_and_size_parameters_make_page_paging_with_the_documented_maximum() {
    let answer = json!({"properties": {
        "data": {"type": "array", "items": {}},
        "meta": {"properties": {"total": {"type": "integer"}}}
    }});
    let g = guess(query(&["page", "per_page", "email"]), answer);
    assert_eq!(g.request, "GET /v1/things");
    assert_eq!(g.items.0, "/data");
    assert_eq!(g.total.as_deref(), Some("/meta/total"));
    assert_eq!(
        g.paging,
        Paging::Page {
            page: "page".into(),
            size: "per_page".into(),
            first: 1
        }
    );
    assert_eq!(g.max_page_size, Some(200));
    assert_eq!(g.filters, ["email"]);
}

#[test]
fn offset_and_limit_make_offset_paging_over_a_bare_array() {
    let g = guess(
        query(&["offset", "limit"]),
        json!({"type": "array", "items": {}}),
    );
    assert_eq!(g.items.0, "");
    assert_eq!(g.total, None);
    assert_eq!(
        g.paging,
        Paging::Offset {
            offset: "offset".into(),
            limit: "limit".into()
        }
    );
}

#[test]
fn a_cursor_parameter_with_a_next_field_makes_cursor_paging() {
    let answer = json!({"properties": {
        "results": {"type": "array", "items": {}},
        "paging": {"properties": {"next_cursor": {"type": "string", "nullable": true}}}
    }});
    let g = guess(query(&["cursor", "limit"]), answer);
    assert_eq!(
        g.paging,
        Paging::Cursor {
            cursor: "cursor".into(),
            size: Some("limit".into()),
            next: "/paging/next_cursor".parse().unwrap()
        }
    );
}

#[test]
fn a_next_url_without_a_cursor_parameter_makes_next_link_paging() {
    let answer = json!({"properties": {
        "value": {"type": "array", "items": {}},
        "next": {"type": "string", "format": "uri"}
    }});
    let g = guess(query(&["top"]), answer);
    assert_eq!(
        g.paging,
        Paging::NextLink {
            size: Some("top".into()),
            next: "/next".parse().unwrap()
        }
    );
}

#[test]
fn an_undescribed_answer_is_a_low_confidence_guess() {
    let g = guess(json!([]), json!({}));
    assert_eq!(g.items.0, "/items");
    assert_eq!(g.items.1.confidence, Confidence::Low);
    assert_eq!(g.paging, Paging::None);
}
