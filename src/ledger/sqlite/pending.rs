//! Entries this process changed whose batch has not committed yet.
//!
//! An update runs on the caller's thread: it takes the entry from here, or else from the file, lets
//! the caller decide, and leaves the new entry here while the writer thread commits it
//! ([`Flush`]). So a write costs the caller no hand-over to the writer thread and back unless its
//! answer waits for the commit or the fsync, and reads of this process see its own writes at once.
//! A slot stays a while after its write committed, among the last [`MAX_RECENT`] committed, so that
//! the update that settles a claim of this process (its delivery mark) reads it here too; other
//! updates read the file then, where a command beside the server may have written. All of those
//! slots go when another connection wrote the file, which the writer thread notices after its next
//! commit or within [`super::writer::IDLE_CHECK`]. A slot whose write failed
//! goes at once: the file then holds the entry as it was before, which can only make an event be
//! delivered again.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection};

use super::remove_oldest;
use super::writer::{Ran, Reply, Wait, Write};
use crate::ledger::{Entry, LedgerError};

/// Locks of their own for this many groups of keys: updates of different keys rarely wait on each
/// other.
const SHARDS: usize = 32;
/// Most committed entries kept for the updates that follow their write.
pub(super) const MAX_RECENT: usize = 4_096;

/// One entry this process wrote: `seq` tells the write that put it from a later one.
pub(super) struct Slot {
    pub entry: Arc<Entry>,
    seq: u64,
    /// Whether its write committed (it is then among the [`Pending::recent`]).
    pub committed: bool,
}

/// The entries waiting for their commit, by key.
pub(super) struct Pending {
    shards: Box<[Mutex<HashMap<String, Slot>>]>,
    hasher: std::collections::hash_map::RandomState,
    next_seq: AtomicU64,
    /// Writes queued and not yet over.
    backlog: AtomicUsize,
    /// Entries pushed out (past `max_entries`) by committed writes, for the next update to report.
    evicted: Mutex<Vec<Entry>>,
    /// The committed slots, oldest first (key and write number).
    recent: Mutex<VecDeque<(String, u64)>>,
}

/// The locked group of keys one key belongs to: no other update of the key runs while it is held.
pub(super) type Locked<'a> = MutexGuard<'a, HashMap<String, Slot>>;

impl Pending {
    pub fn new() -> Pending {
        Pending {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
            next_seq: AtomicU64::new(1),
            backlog: AtomicUsize::new(0),
            evicted: Mutex::new(Vec::new()),
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// Locks the group of `key`.
    pub fn lock(&self, key: &str) -> Locked<'_> {
        let shard = (self.hasher.hash_one(key) as usize) % SHARDS;
        self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `entry` at `key` in its locked group; returns the write's number.
    pub fn put(&self, locked: &mut Locked<'_>, key: &str, entry: Arc<Entry>) -> u64 {
        self.backlog.fetch_add(1, Ordering::Relaxed);
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let slot = Slot {
            entry,
            seq,
            committed: false,
        };
        locked.insert(key.to_owned(), slot);
        seq
    }

    /// The write numbered `seq` is over, `committed` or not. Unless a later write replaced it, its
    /// slot joins the recent ones, pushing out the oldest past [`MAX_RECENT`]; or goes, when the
    /// write failed.
    fn settled(&self, key: &str, seq: u64, committed: bool) {
        self.backlog.fetch_sub(1, Ordering::Relaxed);
        {
            let mut locked = self.lock(key);
            match locked.get_mut(key) {
                Some(slot) if slot.seq == seq && committed => slot.committed = true,
                Some(slot) if slot.seq == seq => {
                    locked.remove(key);
                    return;
                }
                _ => return,
            }
        }
        let oldest = {
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            recent.push_back((key.to_owned(), seq));
            if recent.len() > MAX_RECENT {
                recent.pop_front()
            } else {
                None
            }
        };
        if let Some((key, seq)) = oldest {
            self.forget(&key, seq);
        }
    }

    /// Whether the write numbered `seq` put the slot at `key` (no later write replaced it).
    pub fn is_latest(&self, key: &str, seq: u64) -> bool {
        self.lock(key).get(key).is_some_and(|slot| slot.seq == seq)
    }

    /// Removes the slot at `key` if the write numbered `seq` put it and it committed.
    fn forget(&self, key: &str, seq: u64) {
        let mut locked = self.lock(key);
        if locked
            .get(key)
            .is_some_and(|slot| slot.seq == seq && slot.committed)
        {
            locked.remove(key);
        }
    }

    /// `removed` left the file: their committed slots go with them (a slot still waiting for its
    /// write puts its entry back).
    pub fn forget_removed(&self, removed: &[Entry]) {
        for entry in removed {
            let key = crate::ledger::Key {
                route: entry.route.clone(),
                identity: entry.identity.clone(),
            }
            .text();
            let mut locked = self.lock(&key);
            if locked.get(&key).is_some_and(|slot| slot.committed) {
                locked.remove(&key);
            }
        }
    }

    /// Another connection wrote the file: the committed slots may be out of date, and go.
    pub fn forget_committed(&self) {
        let recent =
            std::mem::take(&mut *self.recent.lock().unwrap_or_else(PoisonError::into_inner));
        for (key, seq) in recent {
            self.forget(&key, seq);
        }
    }

    /// How many writes are queued and not yet over.
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }

    /// The entries committed writes pushed out since the last call.
    pub fn take_evicted(&self) -> Vec<Entry> {
        std::mem::take(&mut *self.evicted.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The write of one pending entry, run by the writer thread.
pub(super) struct Flush {
    pub key: String,
    pub entry: Arc<Entry>,
    pub seq: u64,
    /// Whether the update read an entry at `key` ([`upsert`]).
    pub found: bool,
    pub max_entries: u64,
    pub pending: Arc<Pending>,
    pub wait: Wait,
    /// Its caller, when it waits.
    pub answer: Option<tokio::sync::oneshot::Sender<Result<(), LedgerError>>>,
}

/// Inserts or replaces the row of `entry` at `key`, keeping the count in step and pushing out the
/// oldest entries past `max_entries` (returned). `found`: whether the update read an entry at `key`
/// (then the row is most likely there, and replacing it comes first).
pub(super) fn upsert(
    tx: &Connection,
    key: &str,
    entry: &Entry,
    max_entries: u64,
    found: bool,
) -> Result<Vec<Entry>, LedgerError> {
    let body = serde_json::to_vec(entry)?;
    if found
        && tx
            .prepare_cached("UPDATE entries SET body = ?2 WHERE key = ?1")?
            .execute(params![key, body])?
            > 0
    {
        return Ok(Vec::new());
    }
    let inserted = tx
        .prepare_cached(
            "INSERT INTO entries (key, created_ms, body) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO NOTHING",
        )?
        .execute(params![key, entry.created_ms as i64, body])?;
    if inserted == 0 {
        tx.prepare_cached("UPDATE entries SET body = ?2 WHERE key = ?1")?
            .execute(params![key, body])?;
        return Ok(Vec::new());
    }
    let count: i64 = tx
        .prepare_cached(
            "UPDATE counters SET value = value + 1 WHERE name = 'entries' RETURNING value",
        )?
        .query_row([], |row| row.get(0))?;
    let over = (count as u64).saturating_sub(max_entries);
    if over == 0 {
        return Ok(Vec::new());
    }
    remove_oldest(tx, None, over as usize)
}

impl Flush {
    /// What becomes of the write once its batch is over: the slot goes, the pushed-out entries are
    /// reported, the caller (if it waits) hears, and a failure nobody waits for is logged.
    fn over(self, written: Result<Vec<Entry>, String>) -> Reply {
        Box::new(move |committed: Result<(), LedgerError>| {
            let ok = committed.is_ok() && written.is_ok();
            self.pending.settled(&self.key, self.seq, ok);
            let result = match (committed, written) {
                (Ok(()), Ok(evicted)) => {
                    if !evicted.is_empty() {
                        self.pending.forget_removed(&evicted);
                        self.pending
                            .evicted
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .extend(evicted);
                    }
                    Ok(())
                }
                (Err(error), _) => Err(error),
                (_, Err(error)) => Err(LedgerError::Task(error)),
            };
            match self.answer {
                Some(answer) => {
                    let _ = answer.send(result);
                }
                None => failed_unheard(result),
            }
        })
    }
}

/// A write that nobody waited for failed: the file keeps the entry as it was before it.
fn failed_unheard(result: Result<(), LedgerError>) {
    if let Err(error) = result {
        crate::metrics::record_ledger_error("file", "commit");
        tracing::warn!(%error, "a ledger write failed; the entry stays as it was on file");
    }
}

impl Write for Flush {
    fn run(self: Box<Self>, tx: &Connection) -> Ran {
        let written = upsert(tx, &self.key, &self.entry, self.max_entries, self.found)
            .map_err(|e| e.to_string());
        let ok = written.is_ok();
        let fsync = ok && self.wait == Wait::Fsync;
        Ran {
            ok,
            fsync,
            reply: self.over(written),
        }
    }

    fn refuse(self: Box<Self>, error: LedgerError) {
        (self.over(Ok(Vec::new())))(Err(error));
    }

    fn superseded(&self) -> bool {
        !self.pending.is_latest(&self.key, self.seq)
    }

    fn skip(self: Box<Self>) {
        (self.over(Ok(Vec::new())))(Ok(()));
    }

    fn answers_for_all(&self) -> bool {
        false
    }
}
