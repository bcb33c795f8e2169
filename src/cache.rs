//! In-memory cache (moka) of downstream records by downstream id: Entra reads a user and then
//! writes it, and repeats reads every cycle. Behind a small trait so another cache can take its
//! place. Writes always read fresh records first; only plain GETs are answered from here, so a
//! change made outside the gateway shows after the time-to-live at the latest. Lookups count in
//! `cache_requests_total{cache="records"}`.
//!
//! Read-your-writes: a read that began before a write finished must not put what it read into
//! the cache after the write (a GET racing a DELETE would otherwise bring the deleted user
//! back). A reader takes a [`Ticket`] before its downstream call and [`fill`](RecordCache::fill)s
//! with it; every write stamps the stripe of its id with a new sequence number, and a fill is
//! dropped when its stripe was stamped after the ticket. A ticket is one number, so a list
//! call takes one for all the records it returns.
//!
//! Across instances (a shared PostgreSQL store): every entry carries the store version of the
//! user it was read or written for, and a lookup names the version the request just read from
//! the store, so a write by another instance (which moved the version on) is never answered
//! from here. Reads there do not fill the cache at all ([`MemoryRecordCache::new`] with
//! `fills = false`): another instance may be between its store write and its downstream
//! write, so what a read sees may be older than the version it read; only a write knows that
//! its record and its version belong together.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use moka::sync::Cache;
use serde_json::Value;

use crate::telemetry::metrics;

/// When a read began, in the cache's order of writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// Recently read or written downstream records.
pub trait RecordCache: Send + Sync + 'static {
    /// The record with this downstream id as it was at store `version`, if still fresh.
    fn record(&self, downstream_id: &str, version: i64) -> Option<Arc<Value>>;
    /// Taken before reading records downstream, for [`fill`](Self::fill).
    fn ticket(&self) -> Ticket;
    /// Caches a record read downstream for a user at store `version`, unless a write to it
    /// began or ended since `ticket` (or reads do not fill this cache).
    fn fill(&self, downstream_id: &str, version: i64, record: Arc<Value>, ticket: Ticket);
    /// Caches a record as a write just left it, at the store `version` the write made.
    fn remember(&self, downstream_id: &str, version: i64, record: Arc<Value>);
    /// Forgets a record about to change, or gone.
    fn forget(&self, downstream_id: &str);
}

/// How many stripes the write stamps are spread over: two ids in one stripe only cost a
/// cache fill, never correctness.
const STRIPES: usize = 64;

/// The sequence of the last write and, per stripe, the sequence of its last write.
struct Stamps {
    last: u64,
    stripes: [u64; STRIPES],
}

/// A cached record and the store version it belongs to.
type Entry = (i64, Arc<Value>);

/// Roughly how many bytes one cache entry takes in memory: its JSON value (if any), its texts
/// (key, ids) and the entry itself, so that the caches hold a budget of bytes rather than a
/// number of entries: records vary from a few fields to kilobytes of custom attributes.
/// Counts each value's node, each text's allocation and, for objects (insertion-ordered
/// maps), the slot, hash and index of each field; measured against the resident memory of
/// `serve` with 100,000 users (scripts/bench.sh), a cache of 12 MB by this weight took 17 MB.
pub fn weight<'a>(value: Option<&Value>, texts: impl IntoIterator<Item = &'a str>) -> u32 {
    fn text(len: usize) -> usize {
        len.div_ceil(16) * 16
    }
    fn bytes(value: &Value) -> usize {
        /// A `Value`.
        const NODE: usize = 48;
        /// A field of an object beside its key and value: its slot, hash and index.
        const FIELD: usize = 128;
        NODE + match value {
            Value::String(s) => text(s.len()),
            Value::Array(items) => items.iter().map(bytes).sum(),
            Value::Object(fields) => fields
                .iter()
                .map(|(k, v)| FIELD + text(k.len()) + bytes(v))
                .sum(),
            _ => 0,
        }
    }
    let texts: usize = texts.into_iter().map(str::len).sum();
    u32::try_from(value.map_or(0, bytes) + texts + ENTRY).unwrap_or(u32::MAX)
}

/// What a cache keeps for each entry beside its value and texts: the entry's node, its place
/// in the eviction and expiry order.
const ENTRY: usize = 512;

/// The moka-backed [`RecordCache`].
pub struct MemoryRecordCache {
    records: Cache<String, Entry>,
    stamps: Mutex<Stamps>,
    /// Whether reads may fill the cache (not where other instances write the same users).
    fills: bool,
}

impl MemoryRecordCache {
    /// Records of at most `max_bytes` together (by [`weight`]), each for `ttl`; reads fill
    /// it when `fills`.
    pub fn new(max_bytes: u64, ttl: Duration, fills: bool) -> Self {
        Self {
            records: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|id: &String, (_, record): &Entry| weight(Some(record), [id.as_str()]))
                .time_to_live(ttl)
                .build(),
            stamps: Mutex::new(Stamps {
                last: 0,
                stripes: [0; STRIPES],
            }),
            fills,
        }
    }

    fn stamps(&self) -> std::sync::MutexGuard<'_, Stamps> {
        self.stamps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stamps the id's stripe with a new write, then lets `then` change the cache under the
    /// same lock (so no fill slips in between).
    fn write(&self, downstream_id: &str, then: impl FnOnce()) {
        let mut stamps = self.stamps();
        stamps.last += 1;
        let last = stamps.last;
        stamps.stripes[stripe(downstream_id)] = last;
        then();
    }
}

/// The stripe of a downstream id.
fn stripe(downstream_id: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    downstream_id.hash(&mut hasher);
    // The remainder is below STRIPES, so it fits a usize.
    (hasher.finish() % STRIPES as u64) as usize
}

impl RecordCache for MemoryRecordCache {
    fn record(&self, downstream_id: &str, version: i64) -> Option<Arc<Value>> {
        let found = self
            .records
            .get(downstream_id)
            .filter(|(at, _)| *at == version)
            .map(|(_, record)| record);
        metrics::cache_lookup("records", found.is_some());
        found
    }

    fn ticket(&self) -> Ticket {
        Ticket(self.stamps().last)
    }

    fn fill(&self, downstream_id: &str, version: i64, record: Arc<Value>, ticket: Ticket) {
        let stamps = self.stamps();
        if self.fills && stamps.stripes[stripe(downstream_id)] <= ticket.0 {
            self.records
                .insert(downstream_id.to_owned(), (version, record));
        }
    }

    fn remember(&self, downstream_id: &str, version: i64, record: Arc<Value>) {
        self.write(downstream_id, || {
            self.records
                .insert(downstream_id.to_owned(), (version, record))
        });
    }

    fn forget(&self, downstream_id: &str) {
        self.write(downstream_id, || self.records.invalidate(downstream_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cache() -> MemoryRecordCache {
        MemoryRecordCache::new(1 << 20, Duration::from_secs(60), true)
    }

    #[test]
    fn the_records_held_stay_within_the_byte_budget_however_many_are_written() {
        let budget = 64 * 1024;
        let cache = MemoryRecordCache::new(budget, Duration::from_secs(60), true);
        let record = |i: usize| {
            Arc::new(serde_json::json!({
                "id": i.to_string(), "email": format!("user{i}@example.com"),
                "first_name": "Ann", "last_name": "Lee", "department": "x".repeat(200),
            }))
        };
        for i in 0..2_000 {
            cache.remember(&i.to_string(), 1, record(i));
        }
        cache.records.run_pending_tasks();
        assert!(
            cache.records.weighted_size() <= budget,
            "{} bytes held",
            cache.records.weighted_size()
        );
        let held = cache.records.entry_count();
        assert!(held > 10 && held < 2_000, "{held} records held");
    }

    #[test]
    fn a_record_weighs_at_least_its_text_and_more_fields_weigh_more() {
        let small = serde_json::json!({"id": "1", "email": "a@example.com"});
        let large = serde_json::json!({
            "id": "1", "email": "a@example.com", "first_name": "Ann", "last_name": "Lee",
            "licences": ["crm", "reports"], "custom": {"cost_centre": "4711"},
        });
        for record in [&small, &large] {
            let text = serde_json::to_string(record).unwrap().len();
            assert!(weight(Some(record), []) as usize > text + ENTRY, "{record}");
        }
        assert!(weight(Some(&large), []) > weight(Some(&small), []));
    }

    #[test]
    fn remembers_until_forgotten() {
        let cache = cache();
        cache.remember("7", 1, Arc::new(json!({"id": 7})));
        assert_eq!(cache.record("7", 1).as_deref(), Some(&json!({"id": 7})));
        cache.forget("7");
        assert!(cache.record("7", 1).is_none());
    }

    /// A GET that read a user before its DELETE finished must not bring it back.
    #[test]
    fn a_read_older_than_a_write_is_not_cached() {
        let cache = cache();
        let ticket = cache.ticket();
        cache.forget("7");
        cache.fill("7", 1, Arc::new(json!({"id": 7, "v": "old"})), ticket);
        assert!(cache.record("7", 1).is_none());

        let ticket = cache.ticket();
        cache.remember("7", 2, Arc::new(json!({"id": 7, "v": "new"})));
        cache.fill("7", 1, Arc::new(json!({"id": 7, "v": "old"})), ticket);
        assert_eq!(cache.record("7", 2).unwrap()["v"], "new");
    }

    #[test]
    fn reads_of_other_records_keep_filling_under_writes() {
        let cache = cache();
        let ticket = cache.ticket();
        let other = (0..1000)
            .map(|n| n.to_string())
            .find(|id| stripe(id) != stripe("7"))
            .unwrap();
        cache.forget("7");
        cache.fill(&other, 1, Arc::new(json!({"id": 8})), ticket);
        assert!(cache.record(&other, 1).is_some());
        let fresh = cache.ticket();
        cache.fill("7", 1, Arc::new(json!({"id": 7})), fresh);
        assert!(cache.record("7", 1).is_some());
    }

    /// Another instance's write moved the store version on: the entry no longer answers.
    #[test]
    fn an_entry_answers_only_for_its_store_version() {
        let cache = cache();
        cache.remember("7", 3, Arc::new(json!({"id": 7})));
        assert!(cache.record("7", 4).is_none());
        assert!(cache.record("7", 3).is_some());
    }

    #[test]
    fn a_shared_cache_is_filled_by_writes_only() {
        let cache = MemoryRecordCache::new(1 << 20, Duration::from_secs(60), false);
        cache.fill("7", 1, Arc::new(json!({"id": 7})), cache.ticket());
        assert!(cache.record("7", 1).is_none());
        cache.remember("7", 2, Arc::new(json!({"id": 7})));
        assert!(cache.record("7", 2).is_some());
    }
}
