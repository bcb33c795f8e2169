//! The JSON Schema of gateway.toml (`scim-gateway schema`), for editors that complete and check
//! TOML with one (Taplo, Even Better TOML). It is generated from the raw types the gateway
//! reads the file with ([`super::raw`]), doc comments as descriptions, so it cannot drift from
//! what the gateway accepts. Draft-07: the draft Taplo documents and validates best.

use schemars::generate::SchemaSettings;

use super::raw::RawConfig;

/// The schema, as JSON.
pub fn json_schema() -> serde_json::Value {
    let mut schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RawConfig>();
    schema.insert("title".into(), "gateway.toml".into());
    schema.insert(
        "description".into(),
        "scim-gateway's configuration: a SCIM 2.0 gateway in front of a proprietary user API. \
         Check a file with `scim-gateway check`."
            .into(),
    );
    let mut value = schema.to_value();
    drop_null(&mut value);
    value
}

/// Takes `null` out of the types schemars gives an `Option`: TOML has no null, an absent key
/// is how a file leaves a value out.
fn drop_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|t| t != "null");
                if let [single] = types.as_slice() {
                    let single = single.clone();
                    object.insert("type".into(), single);
                }
            }
            if let Some(Value::Array(choices)) = object.get_mut("anyOf") {
                choices.retain(|c| c.get("type").is_none_or(|t| t != "null"));
                if let [single] = choices.as_slice() {
                    let single = single.clone();
                    object.remove("anyOf");
                    match single {
                        // draft-07 ignores the siblings of a $ref (the description).
                        Value::Object(inner) if inner.contains_key("$ref") => {
                            object.insert("allOf".into(), Value::Array(vec![Value::Object(inner)]));
                        }
                        Value::Object(inner) => object.extend(inner),
                        _ => {}
                    }
                }
            }
            object.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}
