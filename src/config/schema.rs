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
    schema.to_value()
}
