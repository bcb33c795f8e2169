//! Comparing the store with the downstream: correlations whose record is gone and records
//! nobody correlated.

use super::UsersService;
use crate::service::ServiceError;
use crate::settings::IdStyle;
use crate::store::ResourceType;

/// What [`UsersService::reconcile`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// Downstream records read.
    pub checked: usize,
    /// SCIM ids whose downstream record is gone.
    pub missing: Vec<String>,
    /// Downstream ids with no correlation.
    pub orphans: Vec<String>,
}

/// How far a reconciliation is, for a command that shows it while it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Downstream records read so far, and how many there are when the API says.
    Reading { read: u64, total: Option<u64> },
    /// Everything read; now compared with this many users in the store.
    Comparing { records: usize, rows: usize },
}

impl UsersService {
    /// Compares the store with the downstream: correlations whose record is gone (`missing`)
    /// and records nobody correlated (`orphans`, e.g. made outside the gateway or left by a
    /// crash). With `fix`, missing correlations are deleted (with their memberships) and
    /// orphans are correlated, as a create through the gateway would have.
    /// `progress` hears how far it is.
    pub async fn reconcile(
        &self,
        fix: bool,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<Reconciliation, ServiceError> {
        let mut everything = self.api.clone();
        everything.endpoints.list.max_scan = u64::MAX;
        let on_page = |read, total| progress(Progress::Reading { read, total });
        let records = everything
            .list_reporting(None, None, &on_page)
            .await?
            .records;
        let mut downstream_ids = std::collections::HashSet::new();
        for record in &records {
            downstream_ids.insert(self.api.id_of(record)?);
        }
        let total = self.store.count_resources(ResourceType::User).await?;
        let rows = self
            .store
            .list_resources(ResourceType::User, 0, total)
            .await?;
        progress(Progress::Comparing {
            records: records.len(),
            rows: rows.len(),
        });
        let correlated: std::collections::HashSet<String> = rows
            .iter()
            .filter_map(|r| r.downstream_id.clone())
            .collect();
        let mut report = Reconciliation::default();
        for row in &rows {
            let gone = row
                .downstream_id
                .as_ref()
                .is_some_and(|d| !downstream_ids.contains(d));
            if gone {
                report.missing.push(row.scim_id.clone());
                if fix {
                    self.store
                        .delete_resource(ResourceType::User, &row.scim_id)
                        .await?;
                }
            }
        }
        for record in records {
            let downstream_id = self.api.id_of(&record)?;
            if correlated.contains(&downstream_id) {
                continue;
            }
            report.orphans.push(downstream_id.clone());
            if fix {
                let mut resource = self.mapping.to_scim(&record);
                self.mapping.fill_defaults(&mut resource);
                let scim_id = match self.ids {
                    IdStyle::Downstream => downstream_id.clone(),
                    IdStyle::Uuid => uuid::Uuid::new_v4().to_string(),
                };
                let kept = self.kept_of_record(&resource);
                let data = self.row_data(&downstream_id, &resource, kept);
                self.store
                    .put_resource(ResourceType::User, &scim_id, &data)
                    .await?;
            }
        }
        report.checked = downstream_ids.len();
        Ok(report)
    }
}
