//! The SCIM operations on Users (RFC 7644 §3.3 to §3.6): create, read, list, replace, PATCH
//! and delete. Each write takes the user's turn, loads the store row and the record once,
//! applies the change, and leaves the rest to [`UsersService::write`](super::UsersService).

use std::sync::Arc;

use serde_json::{Value, json};

use super::adopt::Created;
use super::{TOMBSTONE, UsersService};
use crate::downstream::DownstreamError;
use crate::downstream::endpoints::DeleteMode;
use crate::mapping::free_keys::stringify_patch;
use crate::mapping::serialized::decode_patch;
use crate::scim::filter::{Filter, validate};
use crate::scim::list::{ListParamError, ListParams, Projection};
use crate::scim::patch::{PatchRequest, apply};
use crate::service::{RequestContext, ScimService, ServiceError, check_version};
use crate::settings::IdStyle;
use crate::store::ResourceType;

impl ScimService for UsersService {
    /// POST /Users.
    async fn create(&self, ctx: &RequestContext, body: &Value) -> Result<Value, ServiceError> {
        let mut resource = self.resource_in(body)?;
        let user_name = Self::user_name_of(&resource).unwrap_or_default();
        let reused = self.check_unique(&user_name, None).await?;
        self.entitle(&mut resource, &[]).await?;
        if let Some(tombstone) = reused {
            // Deactivate mode kept the record of a deleted user: bring it back, unless the
            // record is gone downstream too (then it is created anew below).
            if let Some(back) = self.recreate(ctx, tombstone, &resource).await? {
                return Ok(back);
            }
        }
        let body = self.mapping.to_downstream_create(&resource)?;
        let kept = self.admit(&resource, &self.mapping.to_scim(&body))?;
        // The journal keeps how to find the record and the client's view of it, for `recover`.
        let identity = self.identity(&resource, &body);
        let journaled = json!({
            "userName": user_name,
            "externalId": resource.get("externalId"),
            "identity": identity.as_ref().map(Filter::to_string),
            "kept": kept,
        });
        let intent = self.store.begin_intent("create-user", &journaled).await?;
        let identity = identity.unwrap_or_else(|| Self::named(&user_name));
        let Created { record, adopted } = match self.create_downstream(&identity, &body).await {
            Ok(created) => created,
            Err(failed) => {
                // A record that may exist downstream is left to `recover`, which correlates it.
                if !failed.maybe_created {
                    self.store.complete_intent(intent).await?;
                }
                return Err(failed.error);
            }
        };
        let downstream_id = self.api.id_of(&record)?;
        let scim_id = match self.ids {
            IdStyle::Downstream => downstream_id.clone(),
            IdStyle::Uuid => uuid::Uuid::new_v4().to_string(),
        };
        let data = self.row_data(&downstream_id, &resource, kept);
        let row = match self
            .store
            .put_resource(ResourceType::User, &scim_id, &data)
            .await
        {
            Ok(row) => row,
            Err(e) => {
                // Without its correlation the new record would be an orphan: undo it. Not an
                // adopted one: recovery may have correlated it meanwhile.
                if !adopted
                    && let DeleteMode::Delete(op) = &self.api.endpoints.delete
                    && self.api.delete(op, &downstream_id).await.is_ok()
                {
                    self.store.complete_intent(intent).await.ok();
                }
                return Err(e.into());
            }
        };
        self.store.complete_intent(intent).await?;
        self.records
            .remember(&downstream_id, row.version, Arc::new(record.clone()));
        Ok(self.resource_of(ctx, &scim_id, Some(&row), &record))
    }

    async fn get(
        &self,
        ctx: &RequestContext,
        id: &str,
        projection: &Projection,
    ) -> Result<Value, ServiceError> {
        let loaded = self.load_for_read(id).await?;
        let resource = self.resource_of(ctx, id, loaded.row.as_ref(), &loaded.record);
        Ok(projection.apply(resource, &self.mapping.catalog))
    }

    /// GET /Users with filter, paging, sorting and projection.
    async fn list(&self, ctx: &RequestContext, params: &ListParams) -> Result<Value, ServiceError> {
        let schema = &self.mapping.catalog;
        if let Some(filter) = &params.filter {
            // Free keys of open extensions are named by the filter's own paths: no need to
            // print the filter and scan the text.
            let paths = filter.paths();
            let names = paths
                .iter()
                .filter_map(|p| Some((p.urn.as_deref()?, p.name.as_str())));
            validate(filter, &schema.widened_by_names(names)).map_err(ListParamError::Filter)?;
        }
        let start = params.start_index;
        let (total, page) = match (&params.filter, &params.sort_by) {
            (None, None) => {
                let ticket = self.records.ticket();
                let listing = self.api.list(None, Some((start - 1, params.count))).await?;
                let page = self.resources_of(ctx, listing.records, ticket).await?;
                (listing.total.unwrap_or(0), page)
            }
            (filter, _) => {
                let found = match filter {
                    Some(f) => self.find(ctx, f).await?,
                    None => self.all(ctx, None).await?,
                };
                params.window(found, schema)
            }
        };
        Ok(params.respond(total, page, schema))
    }

    /// PUT /Users/{id}: the resource is replaced by the body.
    async fn replace(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        if_match: Option<i64>,
    ) -> Result<Value, ServiceError> {
        let resource = self.resource_in(body)?;
        let user_name = Self::user_name_of(&resource).unwrap_or_default();
        self.retrying(id, if_match, || async {
            let loaded = self.load(id).await?;
            self.check_unique(&user_name, Some(id)).await?;
            self.write(ctx, loaded, resource.clone(), if_match).await
        })
        .await
    }

    /// PATCH /Users/{id}: the operations are applied to the current resource, then the result
    /// is written downstream as the configured update call.
    async fn patch(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        if_match: Option<i64>,
    ) -> Result<Option<Value>, ServiceError> {
        let mut body = body.clone();
        stringify_patch(&mut body, &self.mapping.catalog);
        decode_patch(&mut body, &self.mapping.catalog);
        let body = &body;
        let request = PatchRequest::parse(body, &self.mapping.catalog.widened(&[body]))?;
        self.retrying(id, if_match, || async {
            let loaded = self.load(id).await?;
            let mut resource = self.attributes_of(loaded.row.as_ref(), &loaded.record);
            // With its id, so a client that repeats it unchanged (Okta does) is not refused.
            if let Value::Object(fields) = &mut resource {
                fields.insert("id".into(), Value::String(id.to_owned()));
            }
            let user_name_before = Self::user_name_of(&resource);
            let schema = self.mapping.catalog.widened(&[body, &resource]);
            apply(&mut resource, &request, &schema)?;
            if let Value::Object(fields) = &mut resource {
                fields.remove("id");
            }
            // A userName the PATCH left as it was needs no new look at who else holds it.
            let user_name = Self::user_name_of(&resource);
            if user_name != user_name_before {
                self.check_unique(&user_name.unwrap_or_default(), Some(id))
                    .await?;
            }
            self.write(ctx, loaded, resource, if_match).await
        })
        .await
        .map(Some)
    }

    /// DELETE /Users/{id}: a downstream delete, or deactivation where configured; the user
    /// answers 404 afterwards either way.
    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<(), ServiceError> {
        let _turn = self.turns.take(id).await?;
        let loaded = self.load(id).await?;
        check_version(loaded.row.as_ref(), if_match)?;
        self.records.forget(&loaded.downstream_id);
        match &self.api.endpoints.delete {
            DeleteMode::Delete(op) => {
                let intent = self
                    .store
                    .begin_intent(
                        "delete-user",
                        &json!({"id": id, "downstreamId": loaded.downstream_id}),
                    )
                    .await?;
                match self.api.delete(op, &loaded.downstream_id).await {
                    Ok(()) | Err(DownstreamError::NotFound(_)) => {}
                    Err(e) => {
                        self.store.complete_intent(intent).await?;
                        return Err(e.into());
                    }
                }
                self.store.delete_resource(ResourceType::User, id).await?;
                self.store.complete_intent(intent).await?;
                // A read that began before the record was gone must not cache it.
                self.records.forget(&loaded.downstream_id);
            }
            DeleteMode::Deactivate => {
                let mut resource = self.attributes_of(loaded.row.as_ref(), &loaded.record);
                if let Value::Object(fields) = &mut resource {
                    fields.insert("active".into(), Value::Bool(false));
                }
                let downstream_id = loaded.downstream_id.clone();
                let computed = self.mapping.to_scim(&loaded.record);
                self.write(ctx, loaded, resource.clone(), if_match).await?;
                self.records.forget(&downstream_id);
                let kept = self.mapping.split(&resource, &computed).kept;
                let mut data = self.row_data(&downstream_id, &resource, kept);
                if let Value::Object(attrs) = &mut data.attributes {
                    attrs.insert(TOMBSTONE.into(), Value::Bool(true));
                }
                self.store
                    .put_resource(ResourceType::User, id, &data)
                    .await?;
            }
        }
        Ok(())
    }
}
