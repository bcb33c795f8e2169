//! In-memory cache (moka) of downstream records by downstream id: Entra reads a user and then
//! writes it, and repeats reads every cycle. Behind a small trait so another cache can take its
//! place. Writes always read fresh records first; only plain GETs are answered from here, so a
//! change made outside the gateway shows after the time-to-live at the latest. Lookups count in
//! `cache_requests_total{cache="records"}`.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use serde_json::Value;

use crate::telemetry::metrics;

/// Recently read or written downstream records.
pub trait RecordCache: Send + Sync + 'static {
    /// The record with this downstream id, if still fresh.
    fn record(&self, downstream_id: &str) -> Option<Arc<Value>>;
    /// Remembers a record just read or written.
    fn remember(&self, downstream_id: &str, record: Arc<Value>);
    /// Forgets a record about to change or gone.
    fn forget(&self, downstream_id: &str);
}

/// The moka-backed [`RecordCache`].
pub struct MemoryRecordCache {
    records: Cache<String, Arc<Value>>,
}

impl MemoryRecordCache {
    /// At most `capacity` records, each for `ttl`.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            records: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }
}

impl RecordCache for MemoryRecordCache {
    fn record(&self, downstream_id: &str) -> Option<Arc<Value>> {
        let found = self.records.get(downstream_id);
        metrics::cache_lookup("records", found.is_some());
        found
    }

    fn remember(&self, downstream_id: &str, record: Arc<Value>) {
        self.records.insert(downstream_id.to_owned(), record);
    }

    fn forget(&self, downstream_id: &str) {
        self.records.invalidate(downstream_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn remembers_until_forgotten() {
        let cache = MemoryRecordCache::new(100, Duration::from_secs(60));
        cache.remember("7", Arc::new(json!({"id": 7})));
        assert_eq!(cache.record("7").as_deref(), Some(&json!({"id": 7})));
        cache.forget("7");
        assert!(cache.record("7").is_none());
    }
}
