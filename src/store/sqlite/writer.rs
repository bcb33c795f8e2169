//! The SQLite file store's writes: one thread owns the one connection that writes, runs the
//! writes in the order they come, and makes them durable together.
//!
//! Why a thread of our own rather than sqlx's connection: sqlx-sqlite runs each connection on
//! a worker thread and hands every statement, every returned row and every result across
//! channels, and the group commit that made writes durable needed a blocking-pool thread for
//! each fsync on top. Measured with wrk (16 connections) on PATCHes through the gateway to
//! the sample API, three runs each in one hour: 17 to 20 context switches per request before,
//! 5 to 6 after, and 1,480-1,790 PATCHes a second before, 2,300-2,590 after.
//!
//! Durability: the connection commits with `synchronous=NORMAL` (the frames reach the
//! operating system, not the disk; a process killed with -9 loses nothing), and a durable
//! write is answered only after an `fdatasync` of the log that ran after its commit. The log
//! is one file appended in commit order, so that one fsync covers every write the thread
//! committed before it: the thread runs every write waiting when it wakes (up to
//! [`MAX_BATCH`]), then fsyncs once for all of them. A log that is not there was checkpointed
//! into the database file and removed, which SQLite fsyncs itself.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::store::sql::{Arg, Returns, Statement, Write, Written};
use crate::store::{Resource, StoreError};

/// Writes run before one fsync at most; the rest wait for the next round.
const MAX_BATCH: usize = 256;
/// Prepared statements kept per connection: every write statement of the store fits.
const STATEMENT_CACHE: usize = 64;

/// What a write gave back, or why it failed.
type Answer = Result<Vec<Written>, StoreError>;

/// What the thread is asked to do.
enum Job {
    Write {
        write: Write,
        answer: oneshot::Sender<Answer>,
    },
    /// Close the connection, then say so.
    Stop(oneshot::Sender<()>),
}

/// The handle to the writing thread; cloned stores share it.
#[derive(Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Fsyncs made, for the tests.
    #[cfg(test)]
    syncs: Arc<AtomicU64>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Write { .. } => "Job::Write",
            Job::Stop(_) => "Job::Stop",
        })
    }
}

impl Writer {
    /// Opens the writing connection to the (migrated) database file `database` and starts
    /// its thread.
    pub fn start(database: &Path, busy_timeout: std::time::Duration) -> Result<Self, StoreError> {
        let conn = Connection::open(database)?;
        conn.busy_timeout(busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL: a commit does not fsync; the thread fsyncs the log once per round.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let (jobs, queue) = mpsc::channel();
        let syncs = Arc::new(AtomicU64::new(0));
        let counted = syncs.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || run(conn, &queue, &wal, &counted))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            jobs,
            #[cfg(test)]
            syncs,
        })
    }

    /// Runs `write`; returns once it committed and, if it is durable, is on disk.
    pub async fn write(&self, write: Write) -> Result<Vec<Written>, StoreError> {
        let answered = self.submit(write)?;
        answered.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues `write`; the receiver gets its outcome.
    fn submit(&self, write: Write) -> Result<oneshot::Receiver<Answer>, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Job::Write { write, answer })
            .map_err(|_| StoreError::Closed)?;
        Ok(answered)
    }

    /// Closes the writing connection once the writes queued before this ran; later writes
    /// fail as [`StoreError::Closed`].
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Job::Stop(done)).is_ok() {
            let _ = closed.await;
        }
    }

    /// Fsyncs made so far.
    #[cfg(test)]
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }
}

/// The thread: each round runs every write waiting, fsyncs once if any was durable and
/// committed, then answers them.
fn run(mut conn: Connection, queue: &mpsc::Receiver<Job>, wal: &Path, syncs: &AtomicU64) {
    let mut stop = None;
    while stop.is_none() {
        let Ok(first) = queue.recv() else { break };
        let mut next = Some(first);
        let mut settling = Vec::new();
        let mut ran = 0;
        while let Some(job) = next.take() {
            match job {
                Job::Stop(done) => {
                    stop = Some(done);
                    break;
                }
                Job::Write { write, answer } => {
                    let durable = write.durable;
                    let outcome = execute(&mut conn, write);
                    if durable && outcome.is_ok() {
                        settling.push((answer, outcome));
                    } else {
                        let _ = answer.send(outcome);
                    }
                }
            }
            ran += 1;
            if ran < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if settling.is_empty() {
            continue;
        }
        let synced = sync_log(wal);
        syncs.fetch_add(1, Ordering::Relaxed);
        for (answer, outcome) in settling {
            let outcome = match &synced {
                Ok(()) => outcome,
                Err(e) => Err(StoreError::Database(format!(
                    "could not make the write durable (fsync of {}): {e}",
                    wal.display()
                ))),
            };
            let _ = answer.send(outcome);
        }
    }
    drop(conn);
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

/// Runs a write's statements: a lone one on its own, several in one IMMEDIATE transaction
/// (rolled back when one fails).
fn execute(conn: &mut Connection, write: Write) -> Result<Vec<Written>, StoreError> {
    if let [_] = write.statements.as_slice() {
        return write
            .statements
            .into_iter()
            .map(|statement| run_statement(conn, statement))
            .collect();
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let written = write
        .statements
        .into_iter()
        .map(|statement| run_statement(&tx, statement))
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(written)
}

/// The names of the parameters a statement may have, in order: as many as the longest
/// statement (an activity row) binds, and room to spare.
const PARAMETERS: [&str; 20] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20",
];

/// Runs one statement, binding `$1`, `$2`, ... by name (SQLite numbers parameters in the
/// order they first appear, not by the digits). A statement given more arguments than
/// [`PARAMETERS`] names is refused rather than run with some unbound.
fn run_statement(conn: &Connection, statement: Statement) -> Result<Written, StoreError> {
    if statement.args.len() > PARAMETERS.len() {
        return Err(StoreError::Database(format!(
            "a statement with {} parameters (at most {})",
            statement.args.len(),
            PARAMETERS.len()
        )));
    }
    let mut prepared = conn.prepare_cached(statement.sql)?;
    for (name, arg) in PARAMETERS.iter().zip(statement.args) {
        let Some(index) = prepared.parameter_index(name)? else {
            continue;
        };
        match arg {
            Arg::Text(text) => prepared.raw_bind_parameter(index, text)?,
            Arg::Int(n) => prepared.raw_bind_parameter(index, n)?,
        }
    }
    Ok(match statement.returns {
        Returns::Count => Written::Count(prepared.raw_execute()? as u64),
        Returns::Resource => {
            let mut rows = prepared.raw_query();
            let row = rows.next()?.map(resource_from_row).transpose()?;
            Written::Resource(row.map(Box::new))
        }
        Returns::Integer => {
            let mut rows = prepared.raw_query();
            Written::Integer(rows.next()?.map(|row| row.get(0)).transpose()?)
        }
    })
}

/// A rusqlite row read the way the sqlx rows are (`try_get` by column name).
trait TryGet {
    fn try_get<T: rusqlite::types::FromSql>(&self, column: &str) -> rusqlite::Result<T>;
}

impl TryGet for rusqlite::Row<'_> {
    fn try_get<T: rusqlite::types::FromSql>(&self, column: &str) -> rusqlite::Result<T> {
        self.get(column)
    }
}

fn resource_from_row(row: &rusqlite::Row<'_>) -> Result<Resource, StoreError> {
    crate::store::sql::resource_from!(row)
}

/// Fsyncs the log's data; a log already checkpointed away has nothing left to sync.
fn sync_log(wal: &Path) -> std::io::Result<()> {
    match std::fs::File::open(wal) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A migrated database file in a fresh folder, and its writer.
    async fn started() -> (PathBuf, Writer) {
        let dir = std::env::temp_dir().join(format!("sg-writer-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        let store =
            crate::store::sqlite::SqliteStore::open(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
        store.close_pools().await;
        let writer = Writer::start(&path, Duration::from_secs(5)).unwrap();
        (dir, writer)
    }

    fn lease(key: &str) -> Statement {
        let args = vec![
            Arg::from(key),
            Arg::from("me"),
            Arg::from(10_i64),
            Arg::from(0_i64),
        ];
        Statement::count(crate::store::sql::TAKE_LEASE, args)
    }

    fn leases(path: &Path) -> i64 {
        let conn = Connection::open(path).unwrap();
        conn.query_row("SELECT COUNT(*) FROM leases", [], |row| row.get(0))
            .unwrap()
    }

    /// Runs `write` on its own; the fsyncs made so far.
    async fn syncs_after(writer: &Writer, write: Write) -> u64 {
        writer.write(write).await.unwrap();
        writer.syncs()
    }

    #[tokio::test]
    async fn writes_waiting_together_share_one_fsync_and_a_lone_write_gets_its_own() {
        let (dir, writer) = started().await;
        let alone = Write::durable(vec![lease("a")]);
        let syncs = syncs_after(&writer, alone).await;
        assert_eq!(syncs, 1, "a lone durable write waits for its own fsync");
        let committed = Write::committed(vec![lease("b")]);
        let syncs = syncs_after(&writer, committed).await;
        assert_eq!(syncs, 1, "a write that need not be durable makes no fsync");

        // Another connection holds the write lock, so the thread waits on the first of nine
        // writes while the other eight queue behind it.
        let blocker = Connection::open(dir.join("store.db")).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let answers: Vec<_> = (0..9)
            .map(|i| {
                writer
                    .submit(Write::durable(vec![lease(&format!("k{i}"))]))
                    .unwrap()
            })
            .collect();
        blocker.execute_batch("COMMIT").unwrap();
        for answer in answers {
            answer.await.unwrap().unwrap();
        }
        assert_eq!(
            writer.syncs(),
            2,
            "nine writes that waited together shared one fsync"
        );
        assert_eq!(leases(&dir.join("store.db")), 11);
        writer.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_failing_statement_rolls_its_whole_write_back_and_later_writes_still_run() {
        let (dir, writer) = started().await;
        let broken = Statement::count(
            "INSERT INTO no_such_table VALUES ($1)",
            vec![Arg::from(1_i64)],
        );
        let failed = writer.write(Write::durable(vec![lease("a"), broken])).await;
        assert!(matches!(failed, Err(StoreError::Database(_))), "{failed:?}");
        assert_eq!(
            leases(&dir.join("store.db")),
            0,
            "the first statement was rolled back"
        );

        writer
            .write(Write::durable(vec![lease("b")]))
            .await
            .unwrap();
        assert_eq!(leases(&dir.join("store.db")), 1);
        writer.close().await;
        let late = writer.write(Write::durable(vec![lease("c")])).await;
        assert!(matches!(late, Err(StoreError::Closed)), "{late:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
