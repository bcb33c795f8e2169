//! A user create that leaves one downstream record even when the API fails half-way. A POST
//! is never sent again blindly: when its outcome is unknown (a timeout, a connection broken
//! after sending, a 5xx), the user is looked up by userName (pushed down as `[users.search]`
//! says) and a record that nobody correlated yet is adopted instead of posted again. The same
//! look-up settles the journaled creates a crash interrupted.
//!
//! What remains: a downstream that has not finished a timed-out create when the look-up runs
//! and that does not refuse duplicates could still get two records; the journal entry of such
//! a create stays open, so `recover` correlates what appears later.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::UsersService;
use crate::downstream::DownstreamError;
use crate::scim::filter::{CompValue, CompareOp, Filter, matches};
use crate::scim::path::AttrPath;
use crate::service::ServiceError;
use crate::store::ResourceType;

/// A downstream record with this userName that no SCIM user is correlated with.
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
    /// Creates `record` downstream: the record a POST answered, or the uncorrelated record
    /// named `user_name` that an unsure attempt made.
    /// Retries follow `[downstream] retries`: a POST that surely did nothing (never sent, or
    /// 429) is sent again; one that may have created the record only once the look-up finds
    /// nothing; a conflict after an unsure attempt is that attempt's record, looked up too.
    pub(super) async fn create_downstream(
        &self,
        user_name: &str,
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
                    match self.uncorrelated_named(user_name).await?.into_iter().next() {
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

    /// The downstream records whose userName is `user_name` and that no SCIM user is
    /// correlated with: found by the `userName eq` search (pushed down where gateway.toml
    /// allows), checked against the whole filter here.
    pub(super) async fn uncorrelated_named(
        &self,
        user_name: &str,
    ) -> Result<Vec<Uncorrelated>, ServiceError> {
        let filter = Filter::Compare(
            AttrPath::simple("userName"),
            CompareOp::Eq,
            CompValue::Str(user_name.to_owned()),
        );
        let search = self.mapping.push_down(&filter);
        let mut found = Vec::new();
        for record in self.api.list(search.as_ref(), None).await?.records {
            let mut resource = self.mapping.to_scim(&record);
            self.mapping.fill_defaults(&mut resource);
            if !matches(&filter, &resource, &self.mapping.catalog) {
                continue;
            }
            let downstream_id = self.api.id_of(&record)?;
            let known = self
                .store
                .resource_by_downstream_id(&self.tenant, ResourceType::User, &downstream_id)
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
