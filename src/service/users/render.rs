//! A user as clients see it: the record mapped to SCIM with what the store keeps, and the
//! resource around it (schemas, id, meta).

use serde_json::{Map, Value};

use super::UsersService;
use crate::service::RequestContext;
use crate::store::Resource;

impl UsersService {
    /// The SCIM attributes of a user: mapped from the record, plus what the store keeps.
    pub(super) fn attributes_of(&self, row: Option<&Resource>, record: &Value) -> Value {
        let kept = row.map_or(&Value::Null, |r| &r.attributes);
        let mut attributes = self.mapping.read(record, kept);
        if let Some(row) = row
            && self.external_id_stored()
            && let (Some(ext), Value::Object(m)) = (&row.external_id, &mut attributes)
        {
            m.insert("externalId".into(), Value::String(ext.clone()));
        }
        self.mapping.fill_shown_defaults(&mut attributes);
        attributes
    }

    /// The SCIM resource of a user: schemas, id, attributes and meta.
    pub(super) fn resource_of(
        &self,
        ctx: &RequestContext,
        scim_id: &str,
        row: Option<&Resource>,
        record: &Value,
    ) -> Value {
        let attributes = self.attributes_of(row, record);
        let schemas = self.mapping.schemas_of(&attributes);
        let mut resource = match attributes {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let mut meta = match resource.remove("meta") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        // schemas and id first, put in front of the attributes rather than the attributes
        // copied behind them.
        resource.shift_insert(0, "schemas".into(), Value::Array(schemas));
        resource.shift_insert(1, "id".into(), Value::String(scim_id.to_owned()));
        meta.insert("resourceType".into(), Value::String("User".into()));
        if let Some(row) = row {
            meta.entry("created")
                .or_insert_with(|| Value::String(row.created.clone()));
            meta.entry("lastModified")
                .or_insert_with(|| Value::String(row.last_modified.clone()));
            meta.insert("version".into(), Value::String(row.etag()));
        }
        meta.insert(
            "location".into(),
            Value::String(format!("{}/Users/{}", ctx.base_url, scim_id)),
        );
        resource.insert("meta".into(), Value::Object(meta));
        Value::Object(resource)
    }
}
