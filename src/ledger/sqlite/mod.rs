//! The file backend: one SQLite database in WAL mode, created `0600`.
//!
//! How long an answer waits for its write is what the answer promises ([`Wait`]):
//! - an answer that tells the sender it need not send again without the handler having got the
//!   event (an ack recorded for a held copy, a duplicate, a quarantined event) waits for the
//!   write-ahead log's fsync: it survives a power loss;
//! - a delivery mark waits for its commit, so a sender's retry of an event it was answered 2xx for
//!   is a duplicate after a crash of hookshift (kill -9 included);
//! - claims, releases and shadow records wait for nothing: a crash may forget the last of them, which
//!   can only make hookshift deliver an event again (a claim forgotten with its delivery in flight),
//!   never lose one. They are written 20 ms to a quarter second later, and not at all when a later
//!   write of the same entry replaced them meanwhile: a claim is replaced by its delivery mark, so a
//!   delivered event costs one write.
//!
//! An update runs on the caller's thread against the entry this process last wrote
//! ([`pending`]) or, failing that, the file, and hands the new entry to one writer thread
//! ([`writer`]: group commit, one transaction and at most one fsync per batch). Reads use
//! connections of their own.
//!
//! SQLite rather than a single-process store so that `hookshift status` and `hookshift shadow report`
//! can read the file of a running server. One server writes a file; replicas share a Redis instead.
//! A command that writes beside a running server (`hookshift quarantine replay`) writes in
//! transactions of its own. A copy's decision reads the file for any entry whose write committed;
//! only the update that settles a claim of this process (its delivery mark) may read the entry this
//! process wrote last, kept after its commit until the writer thread sees another connection's
//! commit (after its next batch, or within a quarter second when idle). Such an update racing the
//! command may replace the command's write, which can only make an event be delivered again.

mod pending;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::{Change, Entry, LedgerError, Updated};
use pending::{Flush, Pending};
pub use writer::Wait;
use writer::{Held, Job, Queued};

/// Names of the counters rows that count quarantine replays (`replays:<route>\u{1f}<result>`).
const REPLAYS_PREFIX: &str = "replays:";

/// How long a connection waits for a lock another connection holds before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long it sleeps between two tries meanwhile.
const BUSY_STEP: Duration = Duration::from_micros(100);
/// Most entries one sweep removes (the next sweep takes the rest).
const SWEEP_BATCH: usize = 10_000;
/// Most writes answered before their commit that may wait for the writer at once; past it, updates
/// wait for their commit.
const MAX_BACKLOG: usize = 4096;
/// Most idle reading connections kept for updates' reads.
const MAX_IDLE_READERS: usize = 8;

/// What an update of the server reads the entry from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// The entry this process wrote, while its write waits; else the file, where a command beside
    /// the server may have changed it.
    Fresh,
    /// Also the entry this process wrote last after its commit ([`pending`]), unless another
    /// connection wrote the file since the writer last looked.
    Own,
}

/// How long the answer to an update waits, given what it decided.
pub type Durable<R> = fn(&R) -> Wait;

/// Updates answered without waiting for their write, whatever they decided.
pub fn wait_nothing<R>(_: &R) -> Wait {
    Wait::Nothing
}

/// Updates answered once their write committed, whatever they decided.
pub fn wait_commit<R>(_: &R) -> Wait {
    Wait::Commit
}

/// Writes whose answer waits for the fsync whatever they decided.
fn wait_fsync<R>(_: &R) -> bool {
    true
}

/// Writes answered once committed, without an fsync of their own.
fn no_fsync<R>(_: &R) -> bool {
    false
}

/// The file backend.
#[derive(Clone)]
pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    /// The server's writes answered at once, for the writer thread to take when due.
    held: Arc<Held>,
    pending: Arc<Pending>,
    path: Arc<PathBuf>,
    /// Idle connections for updates' reads of the file.
    readers: Arc<Mutex<Vec<Connection>>>,
    reader: Arc<Mutex<Connection>>,
    /// Dropped with the last handle: the checkpointing thread then stops.
    _checkpoints: Arc<mpsc::Sender<()>>,
    /// Dropped with the last handle, after `writer`: waits until the writer thread wrote every
    /// queued write.
    _written: Arc<Joined>,
    /// Whether this is the server, which holds the file: its updates run against [`pending`]
    /// entries; a command's, each in a write transaction of the file.
    owner: bool,
    closed: tokio::sync::watch::Receiver<bool>,
}

/// The writer thread, joined when dropped; then the server's hold on the file goes, and
/// [`SqliteStore::closed`] says so.
struct Joined {
    thread: Option<std::thread::JoinHandle<()>>,
    /// The server's hold on the file (none for a command beside it).
    owner: Option<std::fs::File>,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Drop for Joined {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        drop(self.owner.take());
        self.closed.send_replace(true);
    }
}

impl SqliteStore {
    /// Opens (or creates, `0600`) the ledger file at `path` for a server, the one process that
    /// writes it: refused while another holds it.
    pub fn open(path: &Path) -> Result<SqliteStore, LedgerError> {
        let create = |path: &Path| {
            create_private(path).map_err(|source| LedgerError::Open {
                path: path.display().to_string(),
                source,
            })
        };
        create(path)?;
        // A file of its own: a descriptor of the ledger file itself, closed, would drop the POSIX
        // locks SQLite's connections of this process hold on it.
        let lock = create(&lock_path(path))?;
        hold(&lock).map_err(|_| LedgerError::Held {
            path: path.display().to_string(),
        })?;
        SqliteStore::opened(path, Some(lock))
    }

    /// Opens the ledger file at `path` for a command beside a running server (or none): every update
    /// runs in a write transaction of the file.
    pub fn open_beside(path: &Path) -> Result<SqliteStore, LedgerError> {
        create_private(path).map_err(|source| LedgerError::Open {
            path: path.display().to_string(),
            source,
        })?;
        SqliteStore::opened(path, None)
    }

    /// Opens the file at `path` (created), for the server when it holds it (`owner`).
    fn opened(path: &Path, owner: Option<std::fs::File>) -> Result<SqliteStore, LedgerError> {
        let connection = connect(path)?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS entries (
                 key TEXT PRIMARY KEY,
                 created_ms INTEGER NOT NULL,
                 body BLOB NOT NULL
             );
             CREATE INDEX IF NOT EXISTS entries_by_age ON entries (created_ms);
             CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS quarantine (
                 id TEXT PRIMARY KEY,
                 received_ms INTEGER NOT NULL,
                 meta BLOB NOT NULL,
                 body BLOB NOT NULL
             );",
        )?;
        // The count kept beside the entries (COUNT(*) reads the whole table): recomputed at open, so
        // it never drifts across versions or hand edits.
        connection.execute(
            "INSERT INTO counters (name, value) VALUES ('entries', (SELECT COUNT(*) FROM entries))
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [],
        )?;
        // The writer never checkpoints (SQLite would, every 1,000 pages, inside a commit: copying
        // the log into the file and syncing it while every write waits); a thread of its own does,
        // beside the writes.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        let reader = connect(path)?;
        let checkpointer = connect(path)?;
        let (writer, jobs) = mpsc::channel::<Job>();
        let (closed_tx, closed) = tokio::sync::watch::channel(false);
        let pending = Arc::new(Pending::new());
        let held = Arc::new(Held::default());
        let (beside, to_write) = (Arc::clone(&pending), Arc::clone(&held));
        let written = std::thread::Builder::new()
            .name("hookshift-ledger".into())
            .spawn(move || {
                writer::write_batches(connection, jobs, to_write, move || {
                    beside.forget_committed()
                })
            })
            .map_err(|e| LedgerError::Task(e.to_string()))?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("hookshift-checkpoint".into())
            .spawn(move || writer::checkpoint_until(checkpointer, stopped))
            .map_err(|e| LedgerError::Task(e.to_string()))?;
        Ok(SqliteStore {
            writer,
            pending,
            held,
            path: Arc::new(path.to_owned()),
            readers: Arc::new(Mutex::new(Vec::new())),
            reader: Arc::new(Mutex::new(reader)),
            _checkpoints: Arc::new(stop),
            owner: owner.is_some(),
            _written: Arc::new(Joined {
                thread: Some(written),
                owner,
                closed: closed_tx,
            }),
            closed,
        })
    }

    /// Runs a read on the reading connection, on the blocking pool.
    async fn with<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<R, LedgerError> + Send + 'static,
    ) -> Result<R, LedgerError> {
        on_blocking_pool(Arc::clone(&self.reader), work).await
    }

    /// Queues a job for the writer thread.
    fn queue(&self, job: Job) -> Result<(), LedgerError> {
        self.writer
            .send(job)
            .map_err(|_| LedgerError::Task("the ledger's writer thread stopped".to_owned()))
    }

    /// Queues a write for the writer thread; answers once the batch holding it committed, and its
    /// log is synced to disk when `fsync` says so of what the write decided.
    async fn write<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, LedgerError> + Send + 'static,
        fsync: impl FnOnce(&R) -> bool + Send + 'static,
    ) -> Result<R, LedgerError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.queue(Box::new(Queued {
            work,
            fsync,
            answer,
        }))?;
        answered
            .await
            .map_err(|_| LedgerError::Task("the ledger's writer thread stopped".to_owned()))?
    }

    /// Answers once every write queued before it committed (and is synced, at [`Wait::Fsync`]).
    async fn barrier(&self, wait: Wait) -> Result<(), LedgerError> {
        self.write(|_| Ok(()), move |_| wait == Wait::Fsync).await
    }

    /// See [`super::Store::update_reading`]. `decide` runs here, on the caller's thread, once.
    pub async fn update<R, F>(
        &self,
        key: String,
        mut decide: F,
        durable: Durable<R>,
        max_entries: u64,
        read: Read,
    ) -> Result<Updated<R>, LedgerError>
    where
        R: Send + 'static,
        F: FnMut(Option<Entry>) -> (Change, R) + Send + 'static,
    {
        if !self.owner {
            return self
                .update_in_transaction(key, decide, durable, max_entries)
                .await;
        }
        let (value, flush) = {
            let mut locked = self.pending.lock(&key);
            let current = match locked.get(&key) {
                Some(slot) if !slot.committed || read == Read::Own => {
                    Some(Entry::clone(&slot.entry))
                }
                _ => self.read_committed(&key)?,
            };
            let found = current.is_some();
            let (change, value) = decide(current);
            let flush = match change {
                Change::Keep => None,
                Change::Put(entry) => {
                    let entry = Arc::new(*entry);
                    let seq = self.pending.put(&mut locked, &key, Arc::clone(&entry));
                    Some((entry, seq, found))
                }
            };
            (value, flush)
        };
        let wait = match durable(&value) {
            // The writer is behind: this write waits too, so that what waits for it stays bounded
            // (a write answered at once leaves its entry in memory until written).
            Wait::Nothing if self.pending.backlog() > MAX_BACKLOG => Wait::Commit,
            wait => wait,
        };
        let evicted = self.pending.take_evicted();
        match flush {
            Some((entry, seq, found)) => {
                let (answer, answered) = match wait {
                    Wait::Nothing => (None, None),
                    _ => {
                        let (answer, answered) = tokio::sync::oneshot::channel();
                        (Some(answer), Some(answered))
                    }
                };
                let flush = Box::new(Flush {
                    key,
                    entry,
                    seq,
                    found,
                    max_entries,
                    pending: Arc::clone(&self.pending),
                    wait,
                    answer,
                });
                if wait == Wait::Nothing {
                    self.held.push(flush);
                } else {
                    self.queue(flush)?;
                }
                if let Some(answered) = answered {
                    answered.await.map_err(|_| {
                        LedgerError::Task("the ledger's writer thread stopped".to_owned())
                    })??;
                }
            }
            // Nothing to write, but the answer may rest on writes still queued (the mark a
            // duplicate is answered for).
            None if wait > Wait::Nothing => self.barrier(wait).await?,
            None => {}
        }
        Ok(Updated { value, evicted })
    }

    /// Turns true once the last handle is dropped, every queued write is written and the file is
    /// let go: a server stopping waits for it, so that its last answers are on file and the next
    /// server can hold the file.
    pub fn closed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closed.clone()
    }

    /// [`SqliteStore::update`] beside a server: read, decide and write in one transaction of the
    /// writer thread, which SQLite's write lock serialises with every other process's.
    async fn update_in_transaction<R, F>(
        &self,
        key: String,
        mut decide: F,
        durable: Durable<R>,
        max_entries: u64,
    ) -> Result<Updated<R>, LedgerError>
    where
        R: Send + 'static,
        F: FnMut(Option<Entry>) -> (Change, R) + Send + 'static,
    {
        let fsync = move |updated: &Updated<R>| durable(&updated.value) == Wait::Fsync;
        self.write(
            move |tx| {
                let current: Option<Vec<u8>> = tx
                    .prepare_cached("SELECT body FROM entries WHERE key = ?1")?
                    .query_row([&key], |row| row.get(0))
                    .optional()?;
                let current = current
                    .map(|body| serde_json::from_slice::<Entry>(&body))
                    .transpose()?;
                let found = current.is_some();
                let (change, value) = decide(current);
                let evicted = match change {
                    Change::Keep => Vec::new(),
                    Change::Put(entry) => pending::upsert(tx, &key, &entry, max_entries, found)?,
                };
                Ok(Updated { value, evicted })
            },
            fsync,
        )
        .await
    }

    /// The entry at `key` as committed to the file, read on a connection of the caller's.
    fn read_committed(&self, key: &str) -> Result<Option<Entry>, LedgerError> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let connection = match idle {
            Some(connection) => connection,
            None => connect(&self.path)?,
        };
        let body: Option<Vec<u8>> = connection
            .prepare_cached("SELECT body FROM entries WHERE key = ?1")?
            .query_row([key], |row| row.get(0))
            .optional()?;
        let mut idle = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(connection);
        }
        drop(idle);
        Ok(body.map(|b| serde_json::from_slice(&b)).transpose()?)
    }

    /// See [`super::Store::sweep`].
    pub async fn sweep(&self, before_ms: u64) -> Result<Vec<Entry>, LedgerError> {
        let removed = self
            .write(
                move |tx| remove_oldest(tx, Some(before_ms), SWEEP_BATCH),
                no_fsync,
            )
            .await?;
        self.pending.forget_removed(&removed);
        Ok(removed)
    }

    /// The entries pushed out (past `max_entries`) by writes committed since an update last
    /// reported them.
    pub fn take_evicted(&self) -> Vec<Entry> {
        self.pending.take_evicted()
    }

    /// See [`super::Store::entries_since`].
    pub async fn entries_since(&self, since_ms: u64) -> Result<Vec<Entry>, LedgerError> {
        self.barrier(Wait::Commit).await?;
        self.with(move |connection| {
            let mut statement = connection.prepare(
                "SELECT body FROM entries WHERE created_ms >= ?1 ORDER BY created_ms, key",
            )?;
            let bodies = statement
                .query_map([since_ms as i64], |row| row.get::<_, Vec<u8>>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            bodies
                .iter()
                .map(|body| serde_json::from_slice(body).map_err(LedgerError::from))
                .collect()
        })
        .await
    }

    /// See [`super::Store::len`].
    pub async fn entry_count(&self) -> Result<u64, LedgerError> {
        self.barrier(Wait::Commit).await?;
        self.with(|connection| {
            let count: i64 = connection.query_row(
                "SELECT value FROM counters WHERE name = 'entries'",
                [],
                |row| row.get(0),
            )?;
            Ok(count.max(0) as u64)
        })
        .await
    }

    /// See [`super::Store::get`].
    pub async fn get(&self, key: String) -> Result<Option<Entry>, LedgerError> {
        if let Some(slot) = self.pending.lock(&key).get(&key) {
            return Ok(Some(Entry::clone(&slot.entry)));
        }
        self.read_committed(&key)
    }
}

impl SqliteStore {
    /// See [`super::Store::quarantine_put`].
    pub async fn quarantine_put(
        &self,
        item: super::quarantine::Quarantined,
        body: Vec<u8>,
        max_bytes: u64,
    ) -> Result<super::quarantine::Stored, LedgerError> {
        use super::quarantine::Stored;
        self.write(
            move |tx| {
                let exists: Option<i64> = tx
                    .query_row("SELECT 1 FROM quarantine WHERE id = ?1", [&item.id], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if exists.is_some() {
                    return Ok(Stored::Exists);
                }
                let held: i64 = tx.query_row(
                    "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM quarantine",
                    [],
                    |r| r.get(0),
                )?;
                if held as u64 + body.len() as u64 > max_bytes {
                    return Ok(Stored::Full);
                }
                tx.execute(
                    "INSERT INTO quarantine (id, received_ms, meta, body) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        item.id,
                        item.received_ms as i64,
                        serde_json::to_vec(&item)?,
                        body
                    ],
                )?;
                Ok(Stored::New)
            },
            wait_fsync,
        )
        .await
    }

    /// See [`super::Store::quarantine_list`].
    pub async fn quarantine_list(
        &self,
    ) -> Result<Vec<super::quarantine::Quarantined>, LedgerError> {
        self.with(|connection| {
            let mut statement =
                connection.prepare("SELECT meta FROM quarantine ORDER BY received_ms, id")?;
            let metas = statement
                .query_map([], |row| row.get::<_, Vec<u8>>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            metas
                .iter()
                .map(|m| serde_json::from_slice(m).map_err(LedgerError::from))
                .collect()
        })
        .await
    }

    /// See [`super::Store::quarantine_body`].
    pub async fn quarantine_body(&self, id: String) -> Result<Option<Vec<u8>>, LedgerError> {
        self.with(move |connection| {
            Ok(connection
                .query_row("SELECT body FROM quarantine WHERE id = ?1", [&id], |r| {
                    r.get(0)
                })
                .optional()?)
        })
        .await
    }

    /// See [`super::Store::quarantine_remove`].
    pub async fn quarantine_remove(&self, id: String) -> Result<bool, LedgerError> {
        self.write(
            move |connection| {
                Ok(connection.execute("DELETE FROM quarantine WHERE id = ?1", [&id])? > 0)
            },
            wait_fsync,
        )
        .await
    }

    /// See [`super::Store::count_replay`]: a row of the counters table per route and result.
    pub async fn count_replay(&self, field: String) -> Result<(), LedgerError> {
        self.write(
            move |connection| {
                connection.execute(
                    "INSERT INTO counters (name, value) VALUES (?1, 1)
                 ON CONFLICT (name) DO UPDATE SET value = value + 1",
                    [format!("{REPLAYS_PREFIX}{field}")],
                )?;
                Ok(())
            },
            no_fsync,
        )
        .await
    }

    /// See [`super::Store::replay_counts`].
    pub async fn replay_counts(&self) -> Result<Vec<(String, u64)>, LedgerError> {
        self.with(|connection| {
            let mut statement = connection
                .prepare("SELECT name, value FROM counters WHERE substr(name, 1, ?1) = ?2")?;
            let rows = statement.query_map(
                rusqlite::params![REPLAYS_PREFIX.len() as i64, REPLAYS_PREFIX],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )?;
            let mut counts = Vec::new();
            for row in rows {
                let (name, value) = row?;
                counts.push((name[REPLAYS_PREFIX.len()..].to_owned(), value.max(0) as u64));
            }
            Ok(counts)
        })
        .await
    }

    /// See [`super::Store::quarantine_size`].
    pub async fn quarantine_size(&self) -> Result<(u64, u64), LedgerError> {
        self.with(|connection| {
            let (count, bytes): (i64, i64) = connection.query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM quarantine",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((count as u64, bytes as u64))
        })
        .await
    }
}

/// Removes up to `limit` of the oldest entries (only those created before `before_ms`, when given),
/// keeping the count in step; returns them.
fn remove_oldest(
    tx: &Connection,
    before_ms: Option<u64>,
    limit: usize,
) -> Result<Vec<Entry>, LedgerError> {
    let before = before_ms.map_or(i64::MAX, |b| b as i64);
    let mut statement = tx.prepare(
        "DELETE FROM entries WHERE key IN (
             SELECT key FROM entries WHERE created_ms < ?1 ORDER BY created_ms, key LIMIT ?2
         ) RETURNING body",
    )?;
    let bodies = statement
        .query_map(params![before, limit as i64], |row| {
            row.get::<_, Vec<u8>>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if !bodies.is_empty() {
        tx.execute(
            "UPDATE counters SET value = value - ?1 WHERE name = 'entries'",
            [bodies.len() as i64],
        )?;
    }
    // An entry that no longer decodes still counts as removed; it just cannot be reported.
    Ok(bodies
        .iter()
        .filter_map(|body| serde_json::from_slice(body).ok())
        .collect())
}

/// Runs `work` on `connection` (locked) on tokio's blocking pool.
pub(super) async fn on_blocking_pool<R: Send + 'static>(
    connection: Arc<Mutex<Connection>>,
    work: impl FnOnce(&mut Connection) -> Result<R, LedgerError> + Send + 'static,
) -> Result<R, LedgerError> {
    tokio::task::spawn_blocking(move || {
        let mut connection = connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&mut connection)
    })
    .await
    .map_err(|e| LedgerError::Task(e.to_string()))?
}

/// Waits [`BUSY_STEP`] before the next try, up to [`BUSY_TIMEOUT`]. SQLite's own busy timeout sleeps
/// in steps of up to 100 ms; the locks held here (a flush, a checkpoint waiting for the readers of
/// the moment) last microseconds, and every delivery mark waits behind them.
pub(crate) fn wait_briefly(tries: i32) -> bool {
    if tries as u128 * BUSY_STEP.as_micros() >= BUSY_TIMEOUT.as_micros() {
        return false;
    }
    std::thread::sleep(BUSY_STEP);
    true
}

/// A connection to the ledger file as both the writer and the readers use it.
fn connect(path: &Path) -> Result<Connection, LedgerError> {
    let connection = Connection::open(path)?;
    connection.busy_handler(Some(wait_briefly))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(connection)
}

/// The file a server's hold on the ledger file at `path` is taken on: `path` with `-lock` appended,
/// beside SQLite's `-wal` and `-shm`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-lock");
    PathBuf::from(name)
}

/// Takes the server's hold on the ledger file (an exclusive `flock` on its lock file), released when
/// the lock file is closed: with the last handle, or with the process.
fn hold(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function borrows; it neither keeps nor closes it.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Creates the file readable and writable by its owner only, before SQLite opens it (SQLite gives
/// its `-wal` and `-shm` files the same mode).
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> Entry {
        Entry {
            route: "r".into(),
            event_type: "t".into(),
            identity: key.into(),
            created_ms: 1,
            shadow: None,
            occurrences: Vec::new(),
        }
    }

    /// What `sql` (one row, one integer, `?1` bound to `name`) reads from the file at `path`, on a
    /// connection of its own.
    fn read_back(path: &Path, sql: &str, name: &str) -> Option<i64> {
        Connection::open(path)
            .unwrap()
            .query_row(sql, [name], |r| r.get(0))
            .optional()
            .unwrap()
    }

    fn syncs(path: &Path) -> i64 {
        read_back(path, "SELECT value FROM counters WHERE name = ?1", "syncs").unwrap_or(0)
    }

    /// Only a write whose decision says so waits for the fsync; one that waits for its commit is
    /// visible to another connection before its caller hears back.
    #[tokio::test]
    async fn only_answers_that_need_it_wait_for_the_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let store = SqliteStore::open(&path).unwrap();
        let put = |key: &'static str, answer: bool| {
            move |_: Option<Entry>| (Change::Put(Box::new(entry(key))), answer)
        };
        let said_so: Durable<bool> = |fsync| if *fsync { Wait::Fsync } else { Wait::Commit };
        store
            .update("a".into(), put("a", false), said_so, 100, Read::Fresh)
            .await
            .unwrap();
        assert_eq!(syncs(&path), 0);
        assert!(on_file(&path, "a"));
        store
            .update("b".into(), put("b", true), said_so, 100, Read::Fresh)
            .await
            .unwrap();
        assert_eq!(syncs(&path), 1);
        // A decision that writes nothing but answers for the handler still syncs what came before.
        store
            .update(
                "a".into(),
                |_| (Change::Keep, true),
                said_so,
                100,
                Read::Fresh,
            )
            .await
            .unwrap();
        assert_eq!(syncs(&path), 2);
    }

    fn on_file(path: &Path, key: &str) -> bool {
        read_back(path, "SELECT 1 FROM entries WHERE key = ?1", key).is_some()
    }

    /// A write answered before its commit is what the next update and read of this process see, and
    /// it is on file once the store is dropped (the writer thread finishes its queue first).
    #[tokio::test]
    async fn a_write_answered_at_once_is_read_back_and_on_file_after_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let store = SqliteStore::open(&path).unwrap();
        let mut first = entry("k");
        first.event_type = "first".into();
        let written = first.clone();
        store
            .update(
                "k".into(),
                move |current| {
                    assert!(current.is_none());
                    (Change::Put(Box::new(first.clone())), ())
                },
                wait_nothing,
                100,
                Read::Fresh,
            )
            .await
            .unwrap();
        assert_eq!(store.get("k".into()).await.unwrap(), Some(written.clone()));
        let seen = store
            .update(
                "k".into(),
                |current| {
                    let mut next = current.clone().expect("the first write is seen");
                    next.event_type = "second".into();
                    (Change::Put(Box::new(next)), current)
                },
                wait_nothing,
                100,
                Read::Fresh,
            )
            .await
            .unwrap();
        assert_eq!(seen.value, Some(written));
        drop(store);
        let reopened = SqliteStore::open(&path).unwrap();
        let on_file = reopened.get("k".into()).await.unwrap().unwrap();
        assert_eq!(on_file.event_type, "second");
        assert_eq!(reopened.entry_count().await.unwrap(), 1);
    }

    /// The server keeps the entries it wrote after their commit; a command beside it that changes
    /// one is seen once the writer thread looks (after its next commit, or idle).
    #[tokio::test]
    async fn a_write_beside_the_server_is_seen_once_the_writer_looks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let server = SqliteStore::open(&path).unwrap();
        let put = |event_type: &'static str| {
            move |current: Option<Entry>| {
                let mut next = current.unwrap_or_else(|| entry("k"));
                next.event_type = event_type.into();
                (Change::Put(Box::new(next)), ())
            }
        };
        server
            .update("k".into(), put("server"), wait_commit, 100, Read::Fresh)
            .await
            .unwrap();
        let beside = SqliteStore::open_beside(&path).unwrap();
        beside
            .update("k".into(), put("beside"), wait_commit, 100, Read::Fresh)
            .await
            .unwrap();
        // A settling update may read what the server wrote last, until the writer looked.
        tokio::time::sleep(writer::IDLE_CHECK * 3).await;
        let seen = server
            .update(
                "k".into(),
                |current| (Change::Keep, current),
                wait_nothing,
                100,
                Read::Own,
            )
            .await
            .unwrap();
        assert_eq!(seen.value.unwrap().event_type, "beside");
    }

    /// Past `max_entries` the oldest entries go, and the updates after it report them.
    #[tokio::test]
    async fn entries_pushed_out_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("ledger")).unwrap();
        let mut reported = Vec::new();
        for (n, key) in ["a", "b", "c", "d"].into_iter().enumerate() {
            let mut e = entry(key);
            e.identity = key.into();
            e.created_ms = n as u64 + 1;
            let updated = store
                .update(
                    key.into(),
                    move |_| (Change::Put(Box::new(e.clone())), ()),
                    wait_commit,
                    2,
                    Read::Fresh,
                )
                .await
                .unwrap();
            reported.extend(updated.evicted.into_iter().map(|e| e.identity));
        }
        assert!(store.sweep(0).await.unwrap().is_empty());
        reported.extend(store.take_evicted().into_iter().map(|e| e.identity));
        assert_eq!(reported, ["a", "b"]);
        assert_eq!(store.entry_count().await.unwrap(), 2);
    }
}
