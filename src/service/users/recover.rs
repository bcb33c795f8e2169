//! Settling writes a crash interrupted, from the intent journal.

use serde_json::Value;

use super::UsersService;
use crate::downstream::DownstreamError;
use crate::scim::filter::Filter;
use crate::service::ServiceError;
use crate::settings::IdStyle;
use crate::store::ResourceType;

impl UsersService {
    /// Finishes what a crash interrupted: a journaled create whose record exists downstream
    /// but has no correlation gets one (found by its userName), a journaled delete has its
    /// store row removed. Only intents older than `min_age` are settled, so writes still in
    /// flight (here or in another instance sharing the store) are left to finish. Returns how
    /// many intents were settled.
    pub async fn recover(&self, min_age: std::time::Duration) -> Result<usize, ServiceError> {
        let cutoff = time::OffsetDateTime::now_utc() - min_age;
        let pending: Vec<_> = self
            .store
            .pending_intents()
            .await?
            .into_iter()
            .filter(|i| {
                time::OffsetDateTime::parse(
                    &i.created,
                    &time::format_description::well_known::Rfc3339,
                )
                .is_ok_and(|created| created <= cutoff)
            })
            .collect();
        for intent in &pending {
            let text = |key: &str| {
                intent
                    .payload
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            };
            match intent.kind.as_str() {
                "create-user" => self.settle_create(&intent.payload).await?,
                "delete-user" => match self.api.get(text("downstreamId")).await {
                    // The downstream delete happened: finish it in the store.
                    Err(DownstreamError::NotFound(_)) => {
                        self.store
                            .delete_resource(ResourceType::User, text("id"))
                            .await?;
                    }
                    // It did not: the user stays, and the client's retry will delete it.
                    Ok(_) => {}
                    Err(e) => return Err(e.into()),
                },
                other => tracing::warn!(kind = other, "unknown journal entry dropped"),
            }
            self.store.complete_intent(intent.id).await?;
            tracing::warn!(kind = %intent.kind, id = %intent.id, "settled a write a crash interrupted");
        }
        Ok(pending.len())
    }

    /// Finishes a create a crash interrupted: the record it made, found as the journal says
    /// (by what the downstream holds), is correlated with the client's view of the user (its
    /// userName, externalId and what the store keeps). A second match, if the API took a
    /// duplicate, is left for `reconcile` to report.
    pub(super) async fn settle_create(&self, journaled: &Value) -> Result<(), ServiceError> {
        let user_name = journaled
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let held = journaled
            .get("identity")
            .and_then(Value::as_str)
            .and_then(|text| text.parse::<Filter>().ok());
        let identity = held.clone().unwrap_or_else(|| Self::named(user_name));
        let Some(found) = self.uncorrelated(&identity).await?.into_iter().next() else {
            if held.is_none() {
                tracing::warn!(
                    "an interrupted create could not be looked up by what the API holds (no \
                     [users.search] term for a field the create sends); `reconcile` lists \
                     records without a correlation"
                );
            }
            // Otherwise the look-up ruled the record out: the create never reached the API.
            return Ok(());
        };
        let mut resource = found.resource;
        if let Value::Object(fields) = &mut resource {
            for key in ["userName", "externalId"] {
                if let Some(value) = journaled.get(key).filter(|v| v.is_string()) {
                    fields.insert(key.into(), value.clone());
                }
            }
        }
        let kept = journaled
            .get("kept")
            .cloned()
            .unwrap_or_else(|| self.kept_of_record(&resource));
        let scim_id = match self.ids {
            IdStyle::Downstream => found.downstream_id.clone(),
            IdStyle::Uuid => uuid::Uuid::new_v4().to_string(),
        };
        let data = self.row_data(&found.downstream_id, &resource, kept);
        self.store
            .put_resource(ResourceType::User, &scim_id, &data)
            .await?;
        Ok(())
    }
}
