//! The file backend: one SQLite database in WAL mode, created `0600`.
//!
//! Every write is committed before its caller hears back, so a crash of hookshift (kill -9 included)
//! loses no answered write. An answer that tells the sender it need not send again without the handler
//! having got the event (an ack recorded for a held copy, a duplicate, a quarantined event) waits
//! also for the write-ahead log's fsync, so it survives a power loss too. Claims, delivery marks and
//! shadow comparisons are committed without an fsync of their own (`synchronous = NORMAL`): a power
//! loss may forget the last of them, which can only make hookshift deliver an event again, never
//! lose one.
//!
//! SQLite rather than a single-process store so that `hookshift shadow report` can read the file of a
//! running server; writers (this process's tasks and any other process) are serialised by SQLite's
//! write lock (`BEGIN IMMEDIATE`), which makes [`SqliteStore::update`] atomic.
//!
//! Group commit: every write of this process goes to one writer thread, which runs the writes that
//! queued up while the previous batch committed in one transaction (each in a savepoint of its own, so
//! one failing write does not undo the others), answers the callers that need no fsync once it
//! committed, then, when any write of the batch needs one, makes the log durable with one fsync
//! (a one-row write at `synchronous = FULL`, which syncs every frame before it) and answers the
//! rest. Under load the fsync is shared by the batch; alone, a write commits at once. Reads use a
//! connection of their own.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{Change, Entry, LedgerError, Updated};

/// Names of the counters rows that count quarantine replays (`replays:<route>\u{1f}<result>`).
const REPLAYS_PREFIX: &str = "replays:";

/// How long a write waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Most entries one sweep removes (the next sweep takes the rest).
const SWEEP_BATCH: usize = 10_000;
/// Most writes one transaction takes.
const MAX_BATCH: usize = 512;
/// How often the write-ahead log is copied into the file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// What a queued write answers once its batch committed (or failed to).
type Reply = Box<dyn FnOnce(Result<(), LedgerError>) + Send>;
/// A queued write.
type Job = Box<dyn Write>;
/// Whether the answer to a write waits for the fsync, given what the write decided.
pub type Durable<R> = fn(&R) -> bool;

/// Writes whose answer waits for the fsync whatever they decided.
pub fn wait_fsync<R>(_: &R) -> bool {
    true
}

/// Writes answered once committed, without an fsync of their own.
pub fn no_fsync<R>(_: &R) -> bool {
    false
}

/// One write run inside a batch's transaction.
struct Ran {
    /// `false` when it failed (its savepoint is then rolled back).
    ok: bool,
    /// Whether its answer waits for the fsync.
    durable: bool,
    /// The answer to send once the batch is over.
    reply: Reply,
}

/// A write the writer thread runs inside a batch's transaction.
trait Write: Send {
    fn run(self: Box<Self>, connection: &Connection) -> Ran;
    /// Answers without running it: the batch's transaction could not start.
    fn refuse(self: Box<Self>, error: LedgerError);
}

struct Queued<F, D, R> {
    work: F,
    durable: D,
    answer: tokio::sync::oneshot::Sender<Result<R, LedgerError>>,
}

impl<F, D, R> Write for Queued<F, D, R>
where
    F: FnOnce(&Connection) -> Result<R, LedgerError> + Send,
    D: FnOnce(&R) -> bool + Send,
    R: Send + 'static,
{
    fn run(self: Box<Self>, connection: &Connection) -> Ran {
        let Queued {
            work,
            durable,
            answer,
        } = *self;
        let result = work(connection);
        let ok = result.is_ok();
        // A failed write changed nothing: its error needs no fsync.
        let durable = result.as_ref().is_ok_and(durable);
        let reply: Reply = Box::new(move |committed| {
            let _ = answer.send(committed.and(result));
        });
        Ran { ok, durable, reply }
    }

    fn refuse(self: Box<Self>, error: LedgerError) {
        let _ = self.answer.send(Err(error));
    }
}

/// The file backend.
#[derive(Clone)]
pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    reader: Arc<Mutex<Connection>>,
    /// Dropped with the last handle: the checkpointing thread then stops.
    _checkpoints: Arc<mpsc::Sender<()>>,
}

impl SqliteStore {
    /// Opens (or creates, `0600`) the ledger file at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, LedgerError> {
        create_private(path).map_err(|source| LedgerError::Open {
            path: path.display().to_string(),
            source,
        })?;
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
        std::thread::Builder::new()
            .name("hookshift-ledger".into())
            .spawn(move || write_batches(connection, jobs))
            .map_err(|e| LedgerError::Task(e.to_string()))?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("hookshift-checkpoint".into())
            .spawn(move || checkpoint_until(checkpointer, stopped))
            .map_err(|e| LedgerError::Task(e.to_string()))?;
        Ok(SqliteStore {
            writer,
            reader: Arc::new(Mutex::new(reader)),
            _checkpoints: Arc::new(stop),
        })
    }

    /// Runs a read on the reading connection, on the blocking pool.
    async fn with<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<R, LedgerError> + Send + 'static,
    ) -> Result<R, LedgerError> {
        on_blocking_pool(Arc::clone(&self.reader), work).await
    }

    /// Queues a write for the writer thread; answers once the batch holding it committed, and its
    /// log is synced to disk when `durable` says so of what the write decided.
    async fn write<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, LedgerError> + Send + 'static,
        durable: impl FnOnce(&R) -> bool + Send + 'static,
    ) -> Result<R, LedgerError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(Queued {
            work,
            durable,
            answer,
        });
        self.writer
            .send(job)
            .map_err(|_| LedgerError::Task("the ledger's writer thread stopped".to_owned()))?;
        answered
            .await
            .map_err(|_| LedgerError::Task("the ledger's writer thread stopped".to_owned()))?
    }

    /// See [`super::Store::update`].
    pub async fn update<R, F>(
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
        let durable = move |updated: &Updated<R>| durable(&updated.value);
        self.write(move |tx| {
            let current: Option<Vec<u8>> = tx
                .prepare_cached("SELECT body FROM entries WHERE key = ?1")?
                .query_row([&key], |row| row.get(0))
                .optional()?;
            let existed = current.is_some();
            let current = current
                .map(|body| serde_json::from_slice::<Entry>(&body))
                .transpose()?;
            let (change, value) = decide(current);
            let mut evicted = Vec::new();
            if let Change::Put(entry) = change {
                tx.prepare_cached(
                    "INSERT INTO entries (key, created_ms, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE SET body = excluded.body",
                )?
                .execute(params![key, entry.created_ms as i64, serde_json::to_vec(&entry)?])?;
                if !existed {
                    let count: i64 = tx
                        .prepare_cached(
                            "UPDATE counters SET value = value + 1 WHERE name = 'entries' RETURNING value",
                        )?
                        .query_row([], |row| row.get(0))?;
                    let over = (count as u64).saturating_sub(max_entries);
                    if over > 0 {
                        evicted = remove_oldest(tx, None, over as usize)?;
                    }
                }
            }
            Ok(Updated { value, evicted })
        }, durable)
        .await
    }

    /// See [`super::Store::sweep`].
    pub async fn sweep(&self, before_ms: u64) -> Result<Vec<Entry>, LedgerError> {
        self.write(
            move |tx| remove_oldest(tx, Some(before_ms), SWEEP_BATCH),
            no_fsync,
        )
        .await
    }

    /// See [`super::Store::entries_since`].
    pub async fn entries_since(&self, since_ms: u64) -> Result<Vec<Entry>, LedgerError> {
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
        self.with(move |connection| {
            let body: Option<Vec<u8>> = connection
                .query_row("SELECT body FROM entries WHERE key = ?1", [&key], |row| {
                    row.get(0)
                })
                .optional()?;
            Ok(body.map(|b| serde_json::from_slice(&b)).transpose()?)
        })
        .await
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

/// A connection to the ledger file as both the writer and the readers use it.
fn connect(path: &Path) -> Result<Connection, LedgerError> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(connection)
}

/// The writer thread: one transaction per batch of the writes queued meanwhile, until every store
/// handle is dropped.
fn write_batches(mut connection: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (ran, committed) = run_batch(&mut connection, batch);
        let answer = |reply: Reply, outcome: &Result<(), String>| {
            reply(outcome.clone().map_err(LedgerError::Task));
        };
        let committed = committed.map_err(|e| format!("ledger commit failed: {e}"));
        let mut waiting = Vec::new();
        for ran in ran {
            if ran.durable && committed.is_ok() {
                waiting.push(ran.reply);
            } else {
                answer(ran.reply, &committed);
            }
        }
        if !waiting.is_empty() {
            let synced = sync(&mut connection).map_err(|e| format!("ledger fsync failed: {e}"));
            for reply in waiting {
                answer(reply, &synced);
            }
        }
    }
}

/// Copies the write-ahead log into the file every [`CHECKPOINT_INTERVAL`] (`PASSIVE`: as far as no
/// reader still needs, never waiting for the writer), until every store handle is dropped. The log
/// then starts over from its beginning instead of growing.
fn checkpoint_until(connection: Connection, stopped: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL) {
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(%error, "ledger checkpoint failed; the next one retries");
        }
    }
}

/// Makes every committed write durable: one write at `synchronous = FULL` syncs the write-ahead
/// log, and with it every frame committed before it.
fn sync(connection: &mut Connection) -> Result<(), rusqlite::Error> {
    connection.pragma_update(None, "synchronous", "FULL")?;
    let written = connection.execute(
        "INSERT INTO counters (name, value) VALUES ('syncs', 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1",
        [],
    );
    let restored = connection.pragma_update(None, "synchronous", "NORMAL");
    written?;
    restored
}

/// Runs a batch in one transaction, each write in its own savepoint: what each write answers once
/// it is over, and whether the transaction committed (when not, every write of it is undone).
fn run_batch(
    connection: &mut Connection,
    batch: Vec<Job>,
) -> (Vec<Ran>, Result<(), rusqlite::Error>) {
    let tx = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            for job in batch {
                job.refuse(LedgerError::Task(format!(
                    "ledger write could not start: {message}"
                )));
            }
            return (Vec::new(), Ok(()));
        }
    };
    let mut done = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    for job in jobs.by_ref() {
        if let Err(e) = tx.execute_batch("SAVEPOINT job") {
            job.refuse(e.into());
            break;
        }
        let ran = job.run(&tx);
        let ended = if ran.ok {
            tx.execute_batch("RELEASE job")
        } else {
            tx.execute_batch("ROLLBACK TO job; RELEASE job")
        };
        done.push(ran);
        if let Err(e) = ended {
            for job in jobs {
                job.refuse(LedgerError::Task(format!("ledger write not run: {e}")));
            }
            return (done, Err(e));
        }
    }
    for job in jobs {
        job.refuse(LedgerError::Task("ledger write not run".to_owned()));
    }
    let committed = tx.commit();
    (done, committed)
}

/// Creates the file readable and writable by its owner only, before SQLite opens it (SQLite gives
/// its `-wal` and `-shm` files the same mode).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
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

    fn syncs(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT COALESCE((SELECT value FROM counters WHERE name = 'syncs'), 0)",
                [],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Only a write whose decision says so waits for the log's fsync; every write is committed
    /// (visible to another connection) before its caller hears back.
    #[tokio::test]
    async fn only_answers_that_need_it_wait_for_the_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let store = SqliteStore::open(&path).unwrap();
        let put = |key: &'static str, answer: bool| {
            move |_: Option<Entry>| (Change::Put(Box::new(entry(key))), answer)
        };
        let said_so: Durable<bool> = |answer| *answer;
        store
            .update("a".into(), put("a", false), said_so, 100)
            .await
            .unwrap();
        assert_eq!(syncs(&path), 0);
        assert!(Connection::open(&path)
            .unwrap()
            .query_row("SELECT 1 FROM entries WHERE key = 'a'", [], |_| Ok(()))
            .is_ok());
        store
            .update("b".into(), put("b", true), said_so, 100)
            .await
            .unwrap();
        assert_eq!(syncs(&path), 1);
        // A decision that writes nothing but answers for the handler still syncs what came before.
        store
            .update("a".into(), |_| (Change::Keep, true), said_so, 100)
            .await
            .unwrap();
        assert_eq!(syncs(&path), 2);
    }
}
