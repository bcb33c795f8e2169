//! Group commit for the SQLite file store: durable writes at the price of one fsync per batch,
//! not one per write.
//!
//! With `synchronous=FULL` every commit fsyncs the write-ahead log while it holds the database's
//! write lock: 1.25 ms on the disk this was measured on, so writers queue behind each other's
//! fsyncs and the store takes at most ~800 writes a second however many clients wait. The store
//! therefore commits with `synchronous=NORMAL` (11 µs: the frames reach the operating system, not
//! the disk) and a write returns only after [`GroupCommit::settle`] has seen an fsync of the log
//! that covers it. The log is one file appended in commit order, so one fsync made after a
//! commit returned covers that commit and every earlier one: writers that finish while an fsync
//! runs share the next one.
//!
//! The fsync itself is a one-row write on a connection of its own with `synchronous=FULL`. A
//! process crash (kill -9) loses nothing either way (committed frames are in the OS's cache); a
//! power cut loses no write that was answered.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::SqlitePool;

use crate::store::StoreError;

/// The write whose commit fsyncs the log (the row is made by the `group commit` migration).
const MARK: &str = "UPDATE group_commit SET mark = mark + 1 WHERE id = 1";

/// Shares fsyncs of one SQLite file's log between the writers that wait for one.
#[derive(Debug)]
pub struct GroupCommit {
    /// One connection with `synchronous=FULL`.
    syncer: SqlitePool,
    /// Writes that committed, counted when their commit returned.
    committed: AtomicU64,
    /// Writes covered by the last fsync.
    synced: AtomicU64,
    /// One fsync at a time; the others wait and usually find themselves covered.
    turn: tokio::sync::Mutex<()>,
}

impl GroupCommit {
    /// Fsyncs through `syncer`, a pool of one `synchronous=FULL` connection to the same file.
    pub fn new(syncer: SqlitePool) -> Self {
        GroupCommit {
            syncer,
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Returns once a write that has just committed is on disk.
    pub async fn settle(&self) -> Result<(), StoreError> {
        let mine = self.committed.fetch_add(1, Ordering::SeqCst) + 1;
        let _turn = self.turn.lock().await;
        if self.synced.load(Ordering::SeqCst) >= mine {
            return Ok(());
        }
        // Every write counted by now committed before the mark does, so its fsync covers them.
        let covered = self.committed.load(Ordering::SeqCst);
        sqlx::query(MARK).execute(&self.syncer).await?;
        self.synced.fetch_max(covered, Ordering::SeqCst);
        Ok(())
    }

    /// Closes the fsync connection.
    pub async fn close(&self) {
        self.syncer.close().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::SqliteStore;

    async fn marks(pool: &SqlitePool) -> i64 {
        sqlx::query_scalar("SELECT mark FROM group_commit WHERE id = 1")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn writers_waiting_together_share_one_fsync_and_a_lone_writer_gets_its_own() {
        let dir = std::env::temp_dir().join(format!("sg-group-commit-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}", dir.join("store.db").display());
        drop(SqliteStore::open(&url).await.unwrap()); // creates and migrates the file
        let pool = SqlitePool::connect(&url).await.unwrap();
        let group = Arc::new(GroupCommit::new(pool.clone()));

        group.settle().await.unwrap();
        assert_eq!(
            marks(&pool).await,
            1,
            "a lone writer waits for its own fsync"
        );

        // Eight writers commit while an fsync is under way (the turn is held), then wait.
        let held = group.turn.lock().await;
        let waiting: Vec<_> = (0..8)
            .map(|_| {
                let group = group.clone();
                tokio::spawn(async move { group.settle().await })
            })
            .collect();
        while group.committed.load(Ordering::SeqCst) < 9 {
            tokio::task::yield_now().await;
        }
        drop(held);
        for writer in waiting {
            writer.await.unwrap().unwrap();
        }
        assert_eq!(marks(&pool).await, 2, "eight writers shared one fsync");
        pool.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
