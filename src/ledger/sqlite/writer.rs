//! The writer thread: every write of this process, in batches, one transaction and at most one fsync
//! per batch (group commit).
//!
//! It runs the writes that queued up while the previous batch committed in one transaction (each in a
//! savepoint of its own, so one failing write does not undo the others), answers the writes that
//! waited for nothing more once it committed, then, when any write of the batch waits for the
//! fsync, makes the log durable with one fsync (a one-row write at `synchronous = FULL`, which syncs
//! every frame before it) and answers the rest. Under load the fsync is shared by the batch; alone,
//! a write commits at once. Writes answered before their commit are [`Held`] a little first, so that
//! the one a later write of the same entry replaced is never written.

use std::collections::VecDeque;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};

use crate::ledger::LedgerError;

/// Most writes one transaction takes.
const MAX_BATCH: usize = 512;
/// Frames (pages) the write-ahead log may hold before a checkpoint makes it start over: 1 GB of 4 KB
/// pages. A bound for the rare load under which it never starts over by itself: each time, the
/// writer waits while the readers of the moment end, which shows in the tail of the answers that
/// wait for it (measured: a 64 MB bound, reached every second or so under load, doubled the p99).
const MAX_LOG_FRAMES: i64 = 262_144;
/// How often the write-ahead log is copied into the file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// What a queued write answers once its batch committed (or failed to).
pub(super) type Reply = Box<dyn FnOnce(Result<(), LedgerError>) + Send>;
/// A queued write.
pub(super) type Job = Box<dyn Write>;

/// How long the answer to a write waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wait {
    /// Not at all: answered once decided, committed with the next batch. A crash of the process may
    /// forget it, which can only make an event be delivered again (a claim, a release, a shadow
    /// record), never lose one.
    Nothing,
    /// Until its batch committed: it survives a crash of the process (kill -9), not a power loss.
    Commit,
    /// Until the write-ahead log is synced to disk: it survives a power loss.
    Fsync,
}

/// How long a write answered at once is held at least before it is written (an idle writer takes it
/// at its next look, within [`IDLE_CHECK`]): a later write of its entry meanwhile (the delivery mark
/// after its claim) replaces it, and it is never written. A crash may forget it either way
/// ([`Wait::Nothing`]).
pub(super) const HOLD: Duration = Duration::from_millis(20);

/// The writes answered at once, oldest first, with when each came: the writer thread takes them
/// once [`HOLD`] old, or all at once before a write that answers for every write before it (a
/// barrier, a sweep) and when it stops. Queued here rather than sent, they do not wake it.
#[derive(Default)]
pub(super) struct Held(Mutex<VecDeque<(Instant, Job)>>);

impl Held {
    pub fn push(&self, job: Job) {
        self.lock().push_back((Instant::now(), job));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, Job)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The held writes due (all of them with `all`), the ones a later write replaced answered
    /// without being written.
    fn take_due(&self, all: bool) -> Vec<Job> {
        let due: Vec<Job> = {
            let mut held = self.lock();
            let count = if all {
                held.len()
            } else {
                held.iter()
                    .take_while(|(at, _)| at.elapsed() >= HOLD)
                    .count()
            };
            held.drain(..count).map(|(_, job)| job).collect()
        };
        due.into_iter()
            .filter_map(|job| {
                if job.superseded() {
                    job.skip();
                    None
                } else {
                    Some(job)
                }
            })
            .collect()
    }
}

/// One write run inside a batch's transaction.
pub(super) struct Ran {
    /// `false` when it failed (its savepoint is then rolled back).
    pub ok: bool,
    /// Whether its answer waits for the fsync.
    pub fsync: bool,
    /// The answer to send once the batch is over.
    pub reply: Reply,
}

/// A write the writer thread runs inside a batch's transaction.
pub(super) trait Write: Send {
    fn run(self: Box<Self>, connection: &Connection) -> Ran;
    /// Answers without running it: the batch's transaction could not start.
    fn refuse(self: Box<Self>, error: LedgerError);
    /// Whether a later write replaced it (a [`Held`] one, never written then).
    fn superseded(&self) -> bool {
        false
    }
    /// Answers a superseded write without running it: what it would have written is written by
    /// the write that replaced it.
    fn skip(self: Box<Self>) {}
    /// Whether it answers for every write queued before it (a barrier, a sweep): the held ones are
    /// then written first.
    fn answers_for_all(&self) -> bool {
        true
    }
}

/// A write whose caller awaits what `work` returned.
pub(super) struct Queued<F, D, R> {
    pub work: F,
    /// Whether its answer waits for the fsync, given what it returned.
    pub fsync: D,
    pub answer: tokio::sync::oneshot::Sender<Result<R, LedgerError>>,
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
            fsync,
            answer,
        } = *self;
        let result = work(connection);
        let ok = result.is_ok();
        // A failed write changed nothing: its error needs no fsync.
        let fsync = result.as_ref().is_ok_and(fsync);
        let reply: Reply = Box::new(move |committed| {
            let _ = answer.send(committed.and(result));
        });
        Ran { ok, fsync, reply }
    }

    fn refuse(self: Box<Self>, error: LedgerError) {
        let _ = self.answer.send(Err(error));
    }
}

/// How often an idle writer looks whether another connection wrote the file.
pub(super) const IDLE_CHECK: Duration = Duration::from_millis(250);

/// The writer thread's loop: one transaction per batch of the writes queued meanwhile, until every
/// store handle is dropped and the queue is empty. `written_beside` runs when another connection
/// (a command beside the server, the history) committed since the last look: after each batch, and
/// every [`IDLE_CHECK`] while idle. The [`Held`] writes join the batches once due.
pub(super) fn write_batches(
    mut connection: Connection,
    jobs: mpsc::Receiver<Job>,
    held: Arc<Held>,
    written_beside: impl Fn(),
) {
    let mut version = data_version(&connection);
    loop {
        let wait = if held.is_empty() {
            IDLE_CHECK
        } else {
            HOLD / 4
        };
        let (mut sent, stopping) = match jobs.recv_timeout(wait) {
            Ok(job) => (vec![job], false),
            Err(mpsc::RecvTimeoutError::Timeout) => (Vec::new(), false),
            Err(mpsc::RecvTimeoutError::Disconnected) => (Vec::new(), true),
        };
        while sent.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => sent.push(job),
                Err(_) => break,
            }
        }
        let all = stopping || sent.iter().any(|job| job.answers_for_all());
        let mut batch = held.take_due(all);
        batch.append(&mut sent);
        if !batch.is_empty() {
            write_batch(&mut connection, batch);
        }
        look_beside(&connection, &mut version, &written_beside);
        if stopping {
            // The log into the file and emptied: a stopped server leaves the file at its size, not
            // the file and a log as large as its last minutes of writes.
            if let Err(error) =
                connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            {
                tracing::debug!(%error, "ledger checkpoint at stop failed; the next start copies the log");
            }
            return;
        }
    }
}

/// Runs `batch` in one transaction and answers each write once committed (and synced, for those
/// that wait for it).
fn write_batch(connection: &mut Connection, batch: Vec<Job>) {
    let (ran, committed) = run_batch(connection, batch);
    let answer = |reply: Reply, outcome: &Result<(), String>| {
        reply(outcome.clone().map_err(LedgerError::Task));
    };
    let committed = committed.map_err(|e| format!("ledger commit failed: {e}"));
    let mut waiting = Vec::new();
    for ran in ran {
        if ran.fsync && committed.is_ok() {
            waiting.push(ran.reply);
        } else {
            answer(ran.reply, &committed);
        }
    }
    if !waiting.is_empty() {
        let synced = sync(connection).map_err(|e| format!("ledger fsync failed: {e}"));
        for reply in waiting {
            answer(reply, &synced);
        }
    }
}

/// SQLite's count of the commits other connections made to the file, as this one last saw it
/// (`None`: unreadable, as if it changed).
fn data_version(connection: &Connection) -> Option<i64> {
    connection
        .query_row("PRAGMA data_version", [], |row| row.get(0))
        .ok()
}

/// Runs `written_beside` when another connection committed since `version`, which it updates.
fn look_beside(connection: &Connection, version: &mut Option<i64>, written_beside: &impl Fn()) {
    let now = data_version(connection);
    if now.is_none() || now != *version {
        written_beside();
    }
    *version = now;
}

/// Copies the write-ahead log into the file every [`CHECKPOINT_INTERVAL`] (`PASSIVE`: as far as no
/// reader still needs, never waiting for the writer), until every store handle is dropped. The log
/// then starts over from its beginning instead of growing, once no reader uses it. Under load some
/// reader always does (every update that finds no entry of this process's reads the file), so past
/// [`MAX_LOG_FRAMES`] the checkpoint waits the moment it takes for the readers of the moment to end
/// (`RESTART`), holding back the writer meanwhile, and the log starts over.
pub(super) fn checkpoint_until(connection: Connection, stopped: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL) {
        let checkpoint = |mode: &str| {
            connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
                row.get::<_, i64>(1)
            })
        };
        let result = checkpoint("PASSIVE").and_then(|frames| {
            if frames > MAX_LOG_FRAMES {
                checkpoint("RESTART")
            } else {
                Ok(frames)
            }
        });
        if let Err(error) = result {
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
    // Prepared once per connection: a batch runs two of them per write.
    let statement = |sql: &str| tx.prepare_cached(sql).and_then(|mut s| s.execute([]));
    for job in jobs.by_ref() {
        if let Err(e) = statement("SAVEPOINT job") {
            job.refuse(e.into());
            break;
        }
        let ran = job.run(&tx);
        let ended = if ran.ok {
            statement("RELEASE job")
        } else {
            statement("ROLLBACK TO job").and_then(|_| statement("RELEASE job"))
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
