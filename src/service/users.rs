//! SCIM Users (RFC 7644 §3) over the downstream user API: create, read, list with filters,
//! replace, PATCH and delete or deactivate.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{RequestContext, ServiceError};
use crate::cache::Correlations;
use crate::downstream::DownstreamError;
use crate::downstream::endpoints::{DeleteMode, UpdateStyle};
use crate::downstream::records::RecordApi;
use crate::mapping::ResourceMapping;
use crate::scim::discovery::list_response;
use crate::scim::filter::{CompValue, CompareOp, Filter, matches, validate};
use crate::scim::list::{ListParamError, ListParams, Projection, sort};
use crate::scim::patch::{PatchRequest, apply};
use crate::scim::resource::canonicalize;

/// The Users service of one downstream.
pub struct UsersService {
    pub api: RecordApi,
    pub mapping: ResourceMapping,
    pub cache: Arc<dyn Correlations>,
}

impl UsersService {
    /// POST /Users.
    pub async fn create(&self, ctx: &RequestContext, body: &Value) -> Result<Value, ServiceError> {
        let resource = canonicalize(body, &self.mapping.catalog)?;
        let record = self
            .api
            .create(self.mapping.to_downstream_create(&resource)?)
            .await?;
        self.resource_of(ctx, record)
    }

    /// GET /Users/{id}.
    pub async fn get(
        &self,
        ctx: &RequestContext,
        id: &str,
        projection: &Projection,
    ) -> Result<Value, ServiceError> {
        let record = match self.cache.record(id) {
            Some(r) => (*r).clone(),
            None => self.api.get(id).await?,
        };
        let resource = self.resource_of(ctx, record)?;
        Ok(projection.apply(resource, &self.mapping.catalog))
    }

    /// GET /Users with filter, paging, sorting and projection.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        params: &ListParams,
    ) -> Result<Value, ServiceError> {
        let schema = &self.mapping.catalog;
        if let Some(filter) = &params.filter {
            validate(filter, schema).map_err(ListParamError::Filter)?;
        }
        let start = params.start_index;
        let (total, page) = match (&params.filter, &params.sort_by) {
            (None, None) => {
                let listing = self.api.list(None, Some((start - 1, params.count))).await?;
                let page = listing
                    .records
                    .into_iter()
                    .map(|r| self.resource_of(ctx, r))
                    .collect::<Result<Vec<_>, _>>()?;
                (listing.total.unwrap_or(0), page)
            }
            (filter, _) => {
                let mut found = match filter {
                    Some(f) => self.find(ctx, f).await?,
                    None => self.all(ctx, None).await?,
                };
                if let Some(by) = &params.sort_by {
                    sort(&mut found, by, params.descending, schema);
                }
                let total = found.len() as u64;
                let page = found
                    .into_iter()
                    .skip((start - 1) as usize)
                    .take(params.count as usize)
                    .collect();
                (total, page)
            }
        };
        let page = page
            .into_iter()
            .map(|r| params.projection.apply(r, schema))
            .collect();
        Ok(list_response(total, start, page))
    }

    /// The resources matching a filter: a remembered `userName eq` answer when it still holds,
    /// else a downstream search (pushed down where gateway.toml allows) filtered here.
    async fn find(
        &self,
        ctx: &RequestContext,
        filter: &Filter,
    ) -> Result<Vec<Value>, ServiceError> {
        let schema = &self.mapping.catalog;
        if let Filter::Compare(path, CompareOp::Eq, CompValue::Str(name)) = filter
            && path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("userName")
            && let Some(id) = self.cache.id_for_user_name(name)
        {
            match self.api.get(&id).await {
                Ok(record) => {
                    let resource = self.resource_of(ctx, record)?;
                    if matches(filter, &resource, schema) {
                        return Ok(vec![resource]);
                    }
                }
                Err(DownstreamError::NotFound(_)) => self.cache.forget(&id),
                Err(e) => return Err(e.into()),
            }
        }
        let pushed = self.mapping.push_down(filter);
        Ok(self
            .all(ctx, pushed.as_ref())
            .await?
            .into_iter()
            .filter(|r| matches(filter, r, schema))
            .collect())
    }

    async fn all(
        &self,
        ctx: &RequestContext,
        search: Option<&(String, String)>,
    ) -> Result<Vec<Value>, ServiceError> {
        self.api
            .list(search, None)
            .await?
            .records
            .into_iter()
            .map(|r| self.resource_of(ctx, r))
            .collect()
    }

    /// PUT /Users/{id}: the resource is replaced by the body.
    pub async fn replace(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let resource = canonicalize(body, &self.mapping.catalog)?;
        let current = self.api.get(id).await?;
        self.write(ctx, id, current, resource).await
    }

    /// PATCH /Users/{id}: the operations are applied to the current resource, then the result
    /// is written downstream as the configured update call.
    pub async fn patch(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let request = PatchRequest::parse(body, &self.mapping.catalog)?;
        let current = self.api.get(id).await?;
        let mut resource = self.mapping.to_scim(&current);
        apply(&mut resource, &request, &self.mapping.catalog)?;
        self.write(ctx, id, current, resource).await
    }

    /// DELETE /Users/{id}: a downstream delete, or deactivation where configured.
    pub async fn delete(&self, ctx: &RequestContext, id: &str) -> Result<(), ServiceError> {
        match &self.api.endpoints.delete {
            DeleteMode::Delete(op) => self.api.delete(op, id).await?,
            DeleteMode::Deactivate => {
                let current = self.api.get(id).await?;
                let mut resource = self.mapping.to_scim(&current);
                if let Value::Object(fields) = &mut resource {
                    fields.insert("active".into(), Value::Bool(false));
                }
                self.write(ctx, id, current, resource).await?;
            }
        }
        self.cache.forget(id);
        Ok(())
    }

    /// Sends the new state of a resource downstream: the whole record or the changed fields,
    /// as gateway.toml says; nothing is sent when nothing changed.
    async fn write(
        &self,
        ctx: &RequestContext,
        id: &str,
        current: Value,
        resource: Value,
    ) -> Result<Value, ServiceError> {
        self.cache.forget(id);
        let body = match self.api.endpoints.update_style {
            UpdateStyle::Full => {
                let body = self.mapping.to_downstream_replace(&resource, &current)?;
                (body != current).then_some(body)
            }
            UpdateStyle::Changed => {
                let old = self.mapping.to_scim(&current);
                let body = self.mapping.changed_fields(&old, &resource)?;
                body.as_object()
                    .is_some_and(|o| !o.is_empty())
                    .then_some(body)
            }
        };
        let record = match body {
            Some(body) => self.api.update(id, body).await?,
            None => current,
        };
        self.resource_of(ctx, record)
    }

    /// The SCIM resource of a downstream record, remembered for the next lookups.
    fn resource_of(&self, ctx: &RequestContext, record: Value) -> Result<Value, ServiceError> {
        let id = self.api.id_of(&record)?;
        let mut attributes = match self.mapping.to_scim(&record) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let user_name = attributes
            .get("userName")
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.cache
            .remember(&id, user_name.as_deref(), Arc::new(record));
        let mut resource = Map::new();
        let shell = Value::Object(attributes.clone());
        resource.insert(
            "schemas".into(),
            Value::Array(self.mapping.schemas_of(&shell)),
        );
        resource.insert("id".into(), Value::String(id.clone()));
        let mut meta = match attributes.remove("meta") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        resource.extend(attributes);
        meta.insert("resourceType".into(), Value::String("User".into()));
        meta.insert(
            "location".into(),
            Value::String(format!("{}/Users/{}", ctx.base_url, id)),
        );
        resource.insert("meta".into(), Value::Object(meta));
        Ok(Value::Object(resource))
    }
}
