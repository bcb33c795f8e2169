//! The attributes writes lose (`unmapped = "ignore"`, or a never-kept attribute such as a
//! password under `store`): each counted every time in `scim_attributes_dropped_total`, and
//! logged once per tenant and attribute so the log says what the mapping misses without
//! repeating it on every sync. Names only: values can be personal data.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::mapping::Dropped;
use crate::telemetry::metrics;

/// One tenant's report of dropped attributes.
#[derive(Debug)]
pub struct DroppedAttributes {
    tenant: String,
    /// The attributes already logged.
    logged: Mutex<HashSet<String>>,
}

impl DroppedAttributes {
    /// A report for `tenant` that has logged nothing yet.
    pub fn new(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            logged: Mutex::new(HashSet::new()),
        }
    }

    /// Counts each dropped attribute, and logs the ones not logged before.
    pub fn record(&self, dropped: &[Dropped]) {
        for d in dropped {
            metrics::attribute_dropped(&self.tenant, &d.attribute);
            let first = self
                .logged
                .lock()
                .map(|mut seen| seen.insert(d.attribute.clone()))
                .unwrap_or(false);
            if first {
                tracing::warn!(
                    tenant = %self.tenant,
                    attribute = %d.attribute,
                    "a SCIM client wrote an attribute that neither the downstream nor the \
                     gateway's store keeps: dropped (logged once per tenant and attribute, \
                     counted in scim_attributes_dropped_total)"
                );
            }
        }
    }
}
