//! Writes provisioning activity to the store off the request path: the audit layer hands each
//! entry to a bounded channel ([`Recorder::record`] never waits), and one task per app writes
//! what has queued in batches and prunes what retention lets go. When the channel is full or
//! the store fails, entries are dropped and counted (`activity_dropped_total`), so a slow
//! database never slows a SCIM write.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::settings::Retention;
use crate::store::{Activity, ActivityLog};
use crate::telemetry::metrics;

/// Entries waiting for the writer at most; more are dropped.
const QUEUE: usize = 4096;
/// Entries written in one transaction at most.
const BATCH: usize = 1024;
/// The pause after each batch, to gather the next: at most 20 activity transactions a second,
/// so the activity table seldom holds the store's write lock that SCIM writes need (on SQLite
/// one writer at a time), while an entry still shows in the console within a blink.
const GATHER: Duration = Duration::from_millis(50);
/// How often retention is applied.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Where the audit layer hands activity. Cheap to clone; the writer ends (after writing what
/// is queued) when the last clone is dropped.
#[derive(Clone)]
pub struct Recorder {
    /// `None` when retention keeps nothing (`[admin] keep_days = 0`): nothing is recorded.
    queue: Option<mpsc::Sender<Activity>>,
}

impl Recorder {
    /// Starts the writer into `log`, keeping what `retention` allows; with a retention of no
    /// time at all, records nothing and starts no writer.
    pub fn spawn(log: Arc<dyn ActivityLog>, retention: Retention) -> Self {
        if retention.max_age.is_zero() {
            return Self { queue: None };
        }
        let (queue, entries) = mpsc::channel(QUEUE);
        tokio::spawn(write(entries, log, retention));
        Self { queue: Some(queue) }
    }

    /// Queues one entry, or drops and counts it when the writer is behind.
    pub fn record(&self, entry: Activity) {
        if let Some(queue) = &self.queue
            && queue.try_send(entry).is_err()
        {
            metrics::activity_dropped(1);
        }
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn write(
    mut entries: mpsc::Receiver<Activity>,
    log: Arc<dyn ActivityLog>,
    retention: Retention,
) {
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            received = entries.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    return;
                }
                if let Err(e) = log.record_activity(&batch).await {
                    tracing::warn!(error = %e, entries = batch.len(), "cannot record activity");
                    metrics::activity_dropped(batch.len() as u64);
                }
                batch.clear();
                tokio::time::sleep(GATHER).await;
            }
            _ = prune.tick() => {
                let max_age = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
                let before = now_ms().saturating_sub(max_age);
                match log.prune_activity(before, retention.max_entries).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "old activity pruned"),
                    Err(e) => tracing::warn!(error = %e, "cannot prune activity"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ActivityFilter;

    fn entry(user: &str) -> Activity {
        Activity {
            id: 0,
            at_ms: now_ms(),
            tenant: "acme".to_owned(),
            client_auth: "bearer".to_owned(),
            client: "entra".to_owned(),
            operation: "create".to_owned(),
            resource_type: "Users".to_owned(),
            resource_id: None,
            user_name: Some(user.to_owned()),
            status: 201,
            scim_type: None,
            detail: None,
            request_id: "req".to_owned(),
            duration_ms: 1,
            calls: Vec::new(),
            calls_omitted: 0,
        }
    }

    #[tokio::test]
    async fn a_retention_of_zero_days_records_nothing() {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let off = Recorder::spawn(
            store.activity.clone(),
            Retention {
                max_age: Duration::ZERO,
                ..Retention::default()
            },
        );
        let on = Recorder::spawn(store.activity.clone(), Retention::default());
        off.record(entry("not-kept@example.com"));
        on.record(entry("kept@example.com"));
        let mut written = Vec::new();
        for _ in 0..100 {
            written = store
                .activity
                .activity_page(&ActivityFilter::default(), 0, 10)
                .await
                .unwrap();
            if !written.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let users: Vec<_> = written.iter().map(|a| a.user_name.clone()).collect();
        assert_eq!(users, [Some("kept@example.com".to_owned())]);
    }
}
