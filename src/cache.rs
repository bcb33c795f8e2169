//! In-memory correlation cache (moka) for the lookups Entra repeats every cycle: downstream
//! records by id, and ids by userName. Behind a small trait so the durable store can take its
//! place; every entry is verified or refreshed by the service, so staleness costs a call,
//! never a wrong answer on a write.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use serde_json::Value;

/// Remembered correlations between SCIM identities and downstream records.
pub trait Correlations: Send + Sync + 'static {
    /// The downstream record of a SCIM id, if still fresh.
    fn record(&self, id: &str) -> Option<Arc<Value>>;
    /// The SCIM id last seen with this userName (compared case-insensitively).
    fn id_for_user_name(&self, user_name: &str) -> Option<String>;
    /// Remembers a record just read or written.
    fn remember(&self, id: &str, user_name: Option<&str>, record: Arc<Value>);
    /// Forgets a record that was deleted or failed verification.
    fn forget(&self, id: &str);
}

/// The moka-backed [`Correlations`].
pub struct MemoryCorrelations {
    records: Cache<String, Arc<Value>>,
    names: Cache<String, String>,
}

impl MemoryCorrelations {
    /// Records live `record_ttl` (reads within an Entra cycle hit, changes made outside the
    /// gateway show after it); name->id entries live an hour since they are verified on use.
    pub fn new(capacity: u64, record_ttl: Duration) -> Self {
        Self {
            records: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(record_ttl)
                .build(),
            names: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }
}

impl Correlations for MemoryCorrelations {
    fn record(&self, id: &str) -> Option<Arc<Value>> {
        self.records.get(id)
    }

    fn id_for_user_name(&self, user_name: &str) -> Option<String> {
        self.names.get(&user_name.to_lowercase())
    }

    fn remember(&self, id: &str, user_name: Option<&str>, record: Arc<Value>) {
        self.records.insert(id.to_owned(), record);
        if let Some(name) = user_name {
            self.names.insert(name.to_lowercase(), id.to_owned());
        }
    }

    fn forget(&self, id: &str) {
        self.records.invalidate(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn remembers_by_id_and_case_insensitive_name_until_forgotten() {
        let cache = MemoryCorrelations::new(100, Duration::from_secs(60));
        cache.remember("7", Some("Ann@Example.com"), Arc::new(json!({"id": 7})));
        assert_eq!(
            cache.id_for_user_name("ann@example.COM").as_deref(),
            Some("7")
        );
        assert_eq!(cache.record("7").as_deref(), Some(&json!({"id": 7})));
        cache.forget("7");
        assert!(cache.record("7").is_none());
    }
}
