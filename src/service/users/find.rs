//! Lists and filters: answered from the store's indexes where they hold the answer, else by a
//! downstream search (pushed down where gateway.toml allows) evaluated here.

use std::sync::Arc;

use serde_json::Value;

use super::{UsersService, is_tombstone};
use crate::cache::Ticket;
use crate::downstream::DownstreamError;
use crate::scim::filter::{CompValue, CompareOp, Filter, matches};
use crate::service::{RequestContext, ServiceError};
use crate::settings::IdStyle;
use crate::store::ResourceType;

impl UsersService {
    /// The resources matching a filter. `userName eq` and `externalId eq` are answered from
    /// the store when it holds the answer; other filters search the downstream (pushed down
    /// where gateway.toml allows) and are evaluated here.
    pub(super) async fn find(
        &self,
        ctx: &RequestContext,
        filter: &Filter,
    ) -> Result<Vec<Value>, ServiceError> {
        let schema = &self.mapping.catalog;
        if let Filter::Compare(path, CompareOp::Eq, CompValue::Str(value)) = filter
            && path.urn.is_none()
            && path.sub.is_none()
        {
            let by_store = if path.name.eq_ignore_ascii_case("userName") {
                let rows = self
                    .store
                    .resources_by_lookup_key(ResourceType::User, value)
                    .await?;
                // Authoritative unless a userName can also come from the downstream.
                let stored_only = self
                    .mapping
                    .rule_for("userName")
                    .is_some_and(|r| r.is_stored() && r.default_from.is_none());
                Some((rows, stored_only))
            } else if path.name.eq_ignore_ascii_case("externalId") && self.external_id_stored() {
                let rows = self
                    .store
                    .resources_by_external_id(ResourceType::User, value)
                    .await?;
                Some((rows, true))
            } else {
                None
            };
            if let Some((rows, authoritative)) = by_store {
                let mut found = Vec::new();
                for row in rows.iter().filter(|r| !is_tombstone(r)) {
                    // The row at hand, and the record cache where it is fresh: no second
                    // store read, and no downstream call for a user read or written lately.
                    match self.record_of_row(row).await {
                        Ok(record) => {
                            let r = self.resource_of(ctx, &row.scim_id, Some(row), &record);
                            if matches(filter, &r, schema) {
                                found.push(r);
                            }
                        }
                        Err(ServiceError::Downstream(DownstreamError::NotFound(_))) => {}
                        Err(e) => return Err(e),
                    }
                }
                if authoritative || !found.is_empty() {
                    return Ok(found);
                }
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

    pub(super) async fn all(
        &self,
        ctx: &RequestContext,
        search: Option<&(String, String)>,
    ) -> Result<Vec<Value>, ServiceError> {
        let ticket = self.records.ticket();
        let records = self.api.list(search, None).await?.records;
        self.resources_of(ctx, records, ticket).await
    }

    /// SCIM resources of downstream records read after `ticket`, correlated through the store
    /// (deleted users left out; in UUID mode a record seen for the first time gets its id now).
    pub(super) async fn resources_of(
        &self,
        ctx: &RequestContext,
        records: Vec<Value>,
        ticket: Ticket,
    ) -> Result<Vec<Value>, ServiceError> {
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let downstream_id = self.api.id_of(&record)?;
            let row = self
                .store
                .resource_by_downstream_id(ResourceType::User, &downstream_id)
                .await?;
            let row = match (row, self.ids) {
                (Some(r), _) if is_tombstone(&r) => continue,
                (Some(r), _) => Some(r),
                (None, IdStyle::Downstream) => None,
                (None, IdStyle::Uuid) => {
                    let resource = self.mapping.to_scim(&record);
                    let data =
                        self.row_data(&downstream_id, &resource, self.kept_of_record(&resource));
                    let id = uuid::Uuid::new_v4().to_string();
                    Some(
                        self.store
                            .put_resource(ResourceType::User, &id, &data)
                            .await?,
                    )
                }
            };
            let scim_id = row
                .as_ref()
                .map_or_else(|| downstream_id.clone(), |r| r.scim_id.clone());
            let record = Arc::new(record);
            self.fill_cache(&downstream_id, row.as_ref(), &record, ticket);
            out.push(self.resource_of(ctx, &scim_id, row.as_ref(), &record));
        }
        Ok(out)
    }
}
