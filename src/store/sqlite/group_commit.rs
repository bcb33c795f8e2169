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
//! The fsync is `fdatasync` of the `-wal` file itself, on a blocking thread: what
//! `synchronous=FULL` does at a commit, without a statement, a transaction and two thread
//! hand-offs through the database driver (a one-row write on a `FULL` connection cost the
//! gateway 190 µs of CPU per PATCH; measured in scripts/bench.sh's PATCH row). A log that is
//! not there was checkpointed into the database file and removed, which SQLite fsyncs itself.
//! A process crash (kill -9) loses nothing either way (committed frames are in the OS's cache);
//! a power cut loses no write that was answered.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::StoreError;

/// Shares fsyncs of one SQLite file's log between the writers that wait for one.
#[derive(Debug)]
pub struct GroupCommit {
    /// The write-ahead log: the database file's name with `-wal` appended.
    wal: Arc<PathBuf>,
    /// Writes that committed, counted when their commit returned.
    committed: AtomicU64,
    /// Writes covered by the last fsync.
    synced: AtomicU64,
    /// Fsyncs made, for the tests.
    syncs: AtomicU64,
    /// One fsync at a time; the others wait and usually find themselves covered.
    turn: tokio::sync::Mutex<()>,
}

impl GroupCommit {
    /// Fsyncs the log of the database file `database`.
    pub fn new(database: &std::path::Path) -> Self {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        GroupCommit {
            wal: Arc::new(PathBuf::from(wal)),
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
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
        // Every write counted by now committed before this fsync starts, so it covers them.
        let covered = self.committed.load(Ordering::SeqCst);
        let wal = self.wal.clone();
        let synced = tokio::task::spawn_blocking(move || sync_log(&wal))
            .await
            .map_err(|e| StoreError::Database(format!("the fsync thread failed: {e}")))?;
        synced.map_err(|e| {
            StoreError::Database(format!(
                "could not make the write durable (fsync of {}): {e}",
                self.wal.display()
            ))
        })?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.synced.fetch_max(covered, Ordering::SeqCst);
        Ok(())
    }
}

/// Fsyncs the log's data; a log already checkpointed away has nothing left to sync.
fn sync_log(wal: &std::path::Path) -> std::io::Result<()> {
    match std::fs::File::open(wal) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn writers_waiting_together_share_one_fsync_and_a_lone_writer_gets_its_own() {
        let dir = std::env::temp_dir().join(format!("sg-group-commit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("store.db");
        std::fs::write(dir.join("store.db-wal"), b"frames").unwrap();
        let group = Arc::new(GroupCommit::new(&database));

        group.settle().await.unwrap();
        assert_eq!(
            group.syncs.load(Ordering::SeqCst),
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
        assert_eq!(
            group.syncs.load(Ordering::SeqCst),
            2,
            "eight writers shared one fsync"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_log_checkpointed_away_needs_no_fsync_and_an_unreadable_one_fails_the_write() {
        let dir = std::env::temp_dir().join(format!("sg-group-commit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        GroupCommit::new(&dir.join("gone.db"))
            .settle()
            .await
            .unwrap();
        // A directory where the log should be: open succeeds, fsync of it is allowed; a path
        // through a file cannot be opened at all.
        std::fs::write(dir.join("file"), b"").unwrap();
        let error = GroupCommit::new(&dir.join("file").join("store.db"))
            .settle()
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::Database(m) if m.contains("could not make the write durable")),
            "{error:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
