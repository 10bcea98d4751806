//! History in the ledger file: two tables of its own beside the entries, written through a connection
//! of its own (WAL: the command line reads while a server writes).
//!
//! - `history_counts (route, hour, name, value)`: one row per counter of a route's hour;
//! - `history_paths (route, hour, path, pairs, native_event_id, translated_event_id)`: mismatched
//!   paths, each with the first pair that showed it, at most [`MAX_STORED_PATHS`] per route and hour
//!   (and the row of [`OTHER_PATHS`]).
//!
//! A flush is one transaction of upserts that add (`value = value + excluded.value`), so processes
//! sharing the file sum their counts.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, TransactionBehavior};

use super::{Bucket, PathTally, Tally, MAX_STORED_PATHS, OTHER_PATHS};
use crate::ledger::LedgerError;

/// The history tables of a ledger file.
#[derive(Clone)]
pub struct SqliteHistory {
    connection: Arc<Mutex<Connection>>,
}

impl SqliteHistory {
    /// Opens the ledger file at `path` (created `0600` when missing) and its history tables.
    pub fn open(path: &Path) -> Result<SqliteHistory, LedgerError> {
        // Only a missing file is touched: closing any descriptor of a file drops every POSIX lock this
        // process holds on it, the ledger's own connection's included, and SQLite then lets another
        // process delete the write-ahead log under it.
        if !path.exists() {
            create_private(path).map_err(|source| LedgerError::Open {
                path: path.display().to_string(),
                source,
            })?;
        }
        let connection = Connection::open(path)?;
        connection.busy_handler(Some(crate::ledger::sqlite::wait_briefly))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // Counters for `hookshift status`: a power loss may forget the last flush. Without an fsync
        // of its own, a flush holds the file's write lock for microseconds instead of a disk sync,
        // during which the ledger's writer (and every delivery mark waiting on it) would wait.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS history_counts (
                 route TEXT NOT NULL,
                 hour INTEGER NOT NULL,
                 name TEXT NOT NULL,
                 value INTEGER NOT NULL,
                 PRIMARY KEY (route, hour, name)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS history_paths (
                 route TEXT NOT NULL,
                 hour INTEGER NOT NULL,
                 path TEXT NOT NULL,
                 pairs INTEGER NOT NULL,
                 native_event_id TEXT NOT NULL,
                 translated_event_id TEXT NOT NULL,
                 PRIMARY KEY (route, hour, path)
             ) WITHOUT ROWID;",
        )?;
        Ok(SqliteHistory {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    async fn with<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<R, LedgerError> + Send + 'static,
    ) -> Result<R, LedgerError> {
        crate::ledger::sqlite::on_blocking_pool(Arc::clone(&self.connection), work).await
    }

    /// Adds `tally` in one transaction.
    pub async fn add(&self, tally: Tally) -> Result<(), LedgerError> {
        self.with(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut count = transaction.prepare_cached(
                    "INSERT INTO history_counts (route, hour, name, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (route, hour, name) DO UPDATE SET value = value + excluded.value",
                )?;
                let mut grow = transaction.prepare_cached(
                    "UPDATE history_paths SET pairs = pairs + ?4
                     WHERE route = ?1 AND hour = ?2 AND path = ?3",
                )?;
                // A new path only while the hour holds fewer than the bound (the other-paths row aside).
                let mut insert = transaction.prepare_cached(
                    "INSERT INTO history_paths
                         (route, hour, path, pairs, native_event_id, translated_event_id)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6
                     WHERE (SELECT COUNT(*) FROM history_paths
                            WHERE route = ?1 AND hour = ?2 AND path != ?7) < ?8",
                )?;
                let mut other = transaction.prepare_cached(
                    "INSERT INTO history_paths
                         (route, hour, path, pairs, native_event_id, translated_event_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (route, hour, path) DO UPDATE SET pairs = pairs + excluded.pairs",
                )?;
                for (route, hours) in &tally.routes {
                    for (hour, bucket) in hours {
                        for (name, value) in &bucket.counts {
                            count.execute(params![route, *hour as i64, name, *value as i64])?;
                        }
                        for (p, t) in &bucket.paths {
                            let (hour, pairs) = (*hour as i64, t.pairs as i64);
                            let (native, translated) = (&t.native_event_id, &t.translated_event_id);
                            if grow.execute(params![route, hour, p, pairs])? > 0 {
                                continue;
                            }
                            let bound = MAX_STORED_PATHS as i64;
                            let row = params![
                                route,
                                hour,
                                p,
                                pairs,
                                native,
                                translated,
                                OTHER_PATHS,
                                bound
                            ];
                            if insert.execute(row)? == 0 {
                                other.execute(params![
                                    route,
                                    hour,
                                    OTHER_PATHS,
                                    pairs,
                                    native,
                                    translated
                                ])?;
                            }
                        }
                    }
                }
            }
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    /// The buckets of `routes` from `from_hour` to `to_hour`.
    pub async fn read(
        &self,
        routes: Vec<String>,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Tally, LedgerError> {
        self.with(move |connection| {
            let mut tally = Tally::default();
            let mut counts = connection.prepare_cached(
                "SELECT hour, name, value FROM history_counts
                 WHERE route = ?1 AND hour >= ?2 AND hour <= ?3",
            )?;
            let mut paths = connection.prepare_cached(
                "SELECT hour, path, pairs, native_event_id, translated_event_id FROM history_paths
                 WHERE route = ?1 AND hour >= ?2 AND hour <= ?3",
            )?;
            for route in &routes {
                let range = params![route, from_hour as i64, to_hour as i64];
                let mut rows = counts.query(range)?;
                while let Some(row) = rows.next()? {
                    let hour: i64 = row.get(0)?;
                    let value: i64 = row.get(2)?;
                    tally.count(route, hour as u64, row.get(1)?, value as u64);
                }
                let mut rows = paths.query(range)?;
                while let Some(row) = rows.next()? {
                    let hour: i64 = row.get(0)?;
                    let pairs: i64 = row.get(2)?;
                    let bucket: &mut Bucket = tally.bucket(route, hour as u64);
                    bucket.paths.insert(
                        row.get(1)?,
                        PathTally {
                            pairs: pairs as u64,
                            native_event_id: row.get(3)?,
                            translated_event_id: row.get(4)?,
                        },
                    );
                }
            }
            Ok(tally)
        })
        .await
    }

    /// Removes the buckets before `from_hour`.
    pub async fn sweep(&self, from_hour: u64) -> Result<(), LedgerError> {
        self.with(move |connection| {
            connection.execute(
                "DELETE FROM history_counts WHERE hour < ?1",
                [from_hour as i64],
            )?;
            connection.execute(
                "DELETE FROM history_paths WHERE hour < ?1",
                [from_hour as i64],
            )?;
            Ok(())
        })
        .await
    }
}

/// Creates the file readable by its owner only, unless it exists.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}
