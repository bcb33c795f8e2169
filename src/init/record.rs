//! One resource's record as the API sends it: the envelope it travels in (`{"user": {...}}`),
//! its schema and the field holding its id.

use serde_json::Value;

use super::document::{ApiDocument, properties, schema_type};
use super::guess::{Confidence, Reason, normalize};

/// Envelope names that wrap a single record in many APIs.
const ENVELOPES: &[&str] = &["data", "result", "item", "record", "resource", "payload"];

/// What a single record looks like on the wire.
#[derive(Debug, Clone)]
pub struct RecordShape {
    /// The property wrapping the record, e.g. `account` for `{"account": {...}}`.
    pub envelope: Option<(String, Reason)>,
    /// The record's own schema (inside the envelope).
    pub schema: Value,
    /// JSON pointer to the id, and why.
    pub id: (String, Reason),
}

/// Reads the record of the resource at `item` (`/users/{id}`) from its GET answer, else from
/// the POST answer or request body of `collection`. `singular` is the resource's name in the
/// singular (`user`), `id_param` the item path's parameter (`userId`).
pub fn record_shape(
    doc: &ApiDocument,
    collection: &str,
    item: &str,
    singular: &str,
    id_param: &str,
) -> RecordShape {
    let create = doc.operation(collection, "post");
    let answer = doc
        .operation(item, "get")
        .and_then(|op| op.response)
        .or_else(|| create.as_ref().and_then(|op| op.response.clone()))
        .or_else(|| create.as_ref().and_then(|op| op.request.clone()))
        .map(|s| doc.resolve(&s))
        .unwrap_or(Value::Null);
    let envelope = envelope_of(&answer, singular);
    let schema = match &envelope {
        Some((name, _)) => answer
            .pointer(&format!("/properties/{name}"))
            .cloned()
            .unwrap_or(Value::Null),
        None => answer,
    };
    let id = id_field(&schema, singular, id_param);
    RecordShape {
        envelope,
        schema,
        id,
    }
}

/// The envelope of a record schema: its only object property, or an object property named
/// after the resource or like `data`; none when the record's fields are at the top.
fn envelope_of(schema: &Value, singular: &str) -> Option<(String, Reason)> {
    let props = properties(schema);
    let objects: Vec<&str> = props
        .iter()
        .filter(|(_, s)| schema_type(s) == Some("object") && !properties(s).is_empty())
        .map(|(n, _)| *n)
        .collect();
    let has_id = props.iter().any(|(n, _)| normalize(n) == "id");
    if has_id {
        return None;
    }
    if let [only] = objects.as_slice()
        && props.len() == 1
    {
        return Some((
            (*only).to_owned(),
            Reason::new(
                Confidence::High,
                format!("a single record is answered as {{\"{only}\": {{...}}}}"),
            ),
        ));
    }
    let named = objects.iter().find(|n| {
        normalize(n) == normalize(singular) || ENVELOPES.contains(&normalize(n).as_str())
    })?;
    Some((
        (*named).to_owned(),
        Reason::new(
            Confidence::Medium,
            format!(
                "the answer has other top-level fields too ({}); the record is taken from \"{named}\"",
                props
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| n != named)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    ))
}

/// The id field: `id`, else the item path's parameter name, else `<singular>_id`, `uuid`,
/// `key`; `/id` as a guess when none is in the schema.
fn id_field(schema: &Value, singular: &str, id_param: &str) -> (String, Reason) {
    let props = properties(schema);
    let find = |wanted: &str| {
        props
            .iter()
            .find(|(n, _)| normalize(n) == wanted)
            .map(|(n, _)| (*n).to_owned())
    };
    if let Some(name) = find("id") {
        return (
            format!("/{name}"),
            Reason::new(Confidence::High, "the record's `id` field"),
        );
    }
    let param = normalize(id_param);
    let singular_id = format!("{}id", normalize(singular));
    for (wanted, confidence) in [
        (param.as_str(), Confidence::High),
        (singular_id.as_str(), Confidence::High),
        ("uuid", Confidence::Medium),
        ("key", Confidence::Medium),
    ] {
        if let Some(name) = find(wanted) {
            return (
                format!("/{name}"),
                Reason::new(
                    confidence,
                    format!("the record has no `id`; `{name}` matches the path's {{{id_param}}}"),
                ),
            );
        }
    }
    (
        "/id".to_owned(),
        Reason::new(
            Confidence::Low,
            "the schema names no id field; `/id` is the usual place: check a real record",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_single_object_property_is_the_envelope() {
        let schema = json!({"type": "object", "properties": {
            "account": {"type": "object", "properties": {"id": {"type": "integer"}}}
        }});
        let (name, reason) = envelope_of(&schema, "account").unwrap();
        assert_eq!(name, "account");
        assert_eq!(reason.confidence, Confidence::High);
    }

    #[test]
    fn data_beside_meta_is_the_envelope_but_a_record_with_an_id_has_none() {
        let wrapped = json!({"properties": {
            "data": {"type": "object", "properties": {"id": {"type": "string"}}},
            "links": {"type": "object", "properties": {"self": {"type": "string"}}}
        }});
        assert_eq!(envelope_of(&wrapped, "user").unwrap().0, "data");
        let bare = json!({"properties": {
            "id": {"type": "string"},
            "profile": {"type": "object", "properties": {"title": {"type": "string"}}}
        }});
        assert!(envelope_of(&bare, "user").is_none());
    }

    #[test]
    fn the_id_is_found_by_the_path_parameter_when_not_called_id() {
        let schema = json!({"properties": {"userId": {"type": "string"}}});
        assert_eq!(id_field(&schema, "user", "userId").0, "/userId");
        let none = json!({"properties": {"email": {"type": "string"}}});
        let (pointer, reason) = id_field(&none, "user", "id");
        assert_eq!(pointer, "/id");
        assert_eq!(reason.confidence, Confidence::Low);
    }
}
