//! A user create that leaves one downstream record even when the API fails half-way. A POST
//! is never sent again blindly: when its outcome is unknown (a timeout, a connection broken
//! after sending, a 5xx), the record is looked up and a record that nobody correlated yet is
//! adopted instead of posted again. The same look-up settles the journaled creates a crash
//! interrupted (the journal entry keeps the look-up's filter).
//!
//! The look-up asks for what the downstream holds, not what the client sent: Entra's userName
//! is the userPrincipalName, which an API keyed on email never stores, so the filter is the
//! first `[users.search]` term whose value comes back from the record the create sends
//! ([`UsersService::identity`]), e.g. `emails.value eq` the work email.
//!
//! What remains: a downstream that has not finished a timed-out create when the look-up runs
//! and that does not refuse duplicates could still get two records; the journal entry of such
//! a create stays open, so `recover` correlates what appears later.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::UsersService;
use crate::downstream::DownstreamError;
use crate::scim::filter::{CompValue, CompareOp, Filter, matches, values_at};
use crate::scim::path::AttrPath;
use crate::service::ServiceError;
use crate::store::ResourceType;

/// A downstream record that a look-up found and no SCIM user is correlated with.
pub(super) struct Uncorrelated {
    pub downstream_id: String,
    pub record: Value,
    /// The record as SCIM attributes (defaults filled in).
    pub resource: Value,
}

/// The downstream record of a create.
pub(super) struct Created {
    /// As the API stored it.
    pub record: Value,
    /// Found after an attempt whose outcome was unknown, rather than answered by a POST.
    pub adopted: bool,
}

/// A create that failed, and whether a record may have been made anyway (then its journal
/// entry is left for `recover`).
pub(super) struct CreateFailed {
    pub error: ServiceError,
    pub maybe_created: bool,
}

impl UsersService {
    /// The filter that finds the record a create of `resource` makes: the first `eq` term of
    /// `[users.search]` whose value in `resource` the record `body` shows again once mapped
    /// back (so not a userName only the gateway keeps). `None` when no term is held so.
    pub(super) fn identity(&self, resource: &Value, body: &Value) -> Option<Filter> {
        let catalog = &self.mapping.catalog;
        let mut shown = self.mapping.to_scim(body);
        self.mapping.fill_defaults(&mut shown);
        self.mapping
            .search
            .iter()
            .filter(|term| term.op == CompareOp::Eq)
            .filter_map(|term| term.target.display_name().parse::<AttrPath>().ok())
            .flat_map(|path| {
                values_at(resource, &path, catalog)
                    .into_iter()
                    .filter_map(Value::as_str)
                    .map(|value| {
                        Filter::Compare(path.clone(), CompareOp::Eq, CompValue::Str(value.into()))
                    })
                    .collect::<Vec<_>>()
            })
            .find(|filter| matches(filter, &shown, catalog))
    }

    /// `userName eq` the name: the look-up when no [`identity`](Self::identity) is held
    /// downstream, which finds the record only where the API keeps the userName.
    pub(super) fn named(user_name: &str) -> Filter {
        Filter::Compare(
            AttrPath::simple("userName"),
            CompareOp::Eq,
            CompValue::Str(user_name.to_owned()),
        )
    }

    /// Creates `record` downstream: the record a POST answered, or the uncorrelated record
    /// matching `identity` that an unsure attempt made.
    /// Retries follow `[downstream] retries`: a POST that surely did nothing (never sent, or
    /// 429) is sent again; one that may have created the record only once the look-up finds
    /// nothing; a conflict after an unsure attempt is that attempt's record, looked up too.
    pub(super) async fn create_downstream(
        &self,
        identity: &Filter,
        record: &Value,
    ) -> Result<Created, CreateFailed> {
        let maybe_created = AtomicBool::new(false);
        // The last attempt's look-up found nothing: posting again cannot make a second record.
        let absent = AtomicBool::new(false);
        let policy = *self.api.client.retry_policy();
        let outcome = policy
            .run(
                || async {
                    absent.store(false, Ordering::SeqCst);
                    let error = match self.api.create_once(record).await {
                        Ok(record) => {
                            return Ok(Created {
                                record,
                                adopted: false,
                            });
                        }
                        Err(e) => e,
                    };
                    let unsure = error.may_have_applied()
                        || (maybe_created.load(Ordering::SeqCst)
                            && matches!(error, DownstreamError::Conflict(_)));
                    if !unsure {
                        return Err(error.into());
                    }
                    maybe_created.store(true, Ordering::SeqCst);
                    match self.uncorrelated(identity).await?.into_iter().next() {
                        Some(found) => {
                            tracing::warn!(
                                downstream_id = %found.downstream_id, %error,
                                "a create failed after the API made the record: adopted it"
                            );
                            Ok(Created {
                                record: found.record,
                                adopted: true,
                            })
                        }
                        None => {
                            absent.store(true, Ordering::SeqCst);
                            Err(error.into())
                        }
                    }
                },
                |e: &ServiceError| match e {
                    ServiceError::Downstream(d) => d.is_retriable(absent.load(Ordering::SeqCst)),
                    _ => false,
                },
            )
            .await;
        outcome.map_err(|error| CreateFailed {
            error,
            maybe_created: maybe_created.load(Ordering::SeqCst),
        })
    }

    /// The downstream records matching `filter` (an [`identity`](Self::identity)) that no SCIM
    /// user is correlated with: searched for as `[users.search]` allows, checked against the
    /// whole filter here.
    pub(super) async fn uncorrelated(
        &self,
        filter: &Filter,
    ) -> Result<Vec<Uncorrelated>, ServiceError> {
        let search = self.mapping.push_down(filter);
        let mut found = Vec::new();
        for record in self.api.list(search.as_ref(), None).await?.records {
            let mut resource = self.mapping.to_scim(&record);
            self.mapping.fill_defaults(&mut resource);
            if !matches(filter, &resource, &self.mapping.catalog) {
                continue;
            }
            let downstream_id = self.api.id_of(&record)?;
            let known = self
                .store
                .resource_by_downstream_id(ResourceType::User, &downstream_id)
                .await?
                .is_some();
            if !known {
                found.push(Uncorrelated {
                    downstream_id,
                    record,
                    resource,
                });
            }
        }
        Ok(found)
    }
}
