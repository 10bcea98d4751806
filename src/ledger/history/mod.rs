//! The migration's history: hourly counters per route, kept in the ledger's store so that every
//! replica adds to one account and a restart loses nothing already written. `hookshift status` and
//! the admin listener's `GET /status` read it.
//!
//! Nothing here writes on the request path: a [`Recorder`] adds to counters in memory (per route, hour
//! and counter; mismatched paths with one example pair each, bounded) and [`Recorder::flush`] writes
//! them every [`FLUSH_INTERVAL`] and at shutdown as additions (an SQLite upsert that adds, Redis
//! `HINCRBY`), so two processes writing the same hour sum instead of overwriting each other.
//!
//! Bounded: buckets are hourly and kept for `ledger.retention_hours` (at least
//! [`MIN_KEEP_HOURS`], the status page's chart); an hour keeps at most [`MAX_STORED_PATHS`] mismatched
//! paths (the rest counted together); a flush that fails keeps its counts for the next one, dropping
//! only hours already past that.

pub mod redis;
pub mod sqlite;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{LedgerError, Side};
use crate::config::{Config, LedgerBackend, MAX_READINESS_WINDOW_HOURS};
use crate::metrics::Outcome;
use crate::shadow::PairResult;

/// How often a recorder writes what it counted.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);
/// Hours of history kept at least, whatever `ledger.retention_hours` says.
pub const MIN_KEEP_HOURS: u64 = 25;
/// Most distinct mismatched paths one route's hour holds in memory between two flushes (the pairs of
/// further paths are counted under [`OTHER_PATHS`]).
pub const MAX_PENDING_PATHS: usize = 64;
/// Most distinct mismatched paths one route's hour keeps in the store, whatever the number of flushes
/// and replicas; the pairs of further paths are counted under [`OTHER_PATHS`].
pub const MAX_STORED_PATHS: usize = 64;
/// Where a stored hour counts the mismatched paths past [`MAX_STORED_PATHS`] (no JSON path has this
/// spelling).
pub const OTHER_PATHS: &str = "(other paths)";
/// How often buckets past the kept hours are removed (the file backend; Redis keys expire).
const SWEEP_EVERY: u32 = 900;

/// The hour (since the Unix epoch) a time in milliseconds falls in.
pub fn hour_of(ms: u64) -> u64 {
    ms / 3_600_000
}

/// The class of the handler's answer: `2xx` … `5xx`, or `none` (unreachable, timed out).
pub fn answer_class(status: Option<u16>) -> &'static str {
    match status {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) | None => "none",
    }
}

/// One counter of a route's hourly bucket. Versions are the bounded `api_version` label values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// Requests from a sending version.
    Received { version: String },
    /// Requests from a sending version by outcome (`delivered`, `acked`, …).
    Outcome { version: String, outcome: String },
    /// The handler's answers to deliveries of a sending version's events, by class.
    Answer { version: String, class: String },
    /// Twin pairs compared.
    Pair { matched: bool },
    /// First copies whose twin never came (removed from the ledger), by the side that came.
    Unpaired(Side),
    /// Events kept in quarantine.
    Quarantined,
    /// Translations that broke the target schema.
    InvalidOutput,
    /// Input fields no mapping names.
    UnmappedField,
}

impl Counter {
    /// The name it is stored under.
    pub fn name(&self) -> String {
        match self {
            Counter::Received { version } => format!("received|{version}"),
            Counter::Outcome { version, outcome } => format!("outcome|{version}|{outcome}"),
            Counter::Answer { version, class } => format!("answer|{version}|{class}"),
            Counter::Pair { matched: true } => "pair|match".to_owned(),
            Counter::Pair { matched: false } => "pair|mismatch".to_owned(),
            Counter::Unpaired(side) => format!("unpaired|{}", side.as_str()),
            Counter::Quarantined => "quarantined".to_owned(),
            Counter::InvalidOutput => "invalid_output".to_owned(),
            Counter::UnmappedField => "unmapped_field".to_owned(),
        }
    }

    /// The counter a stored name stands for (`None`: a name this version does not know).
    pub fn parse(name: &str) -> Option<Counter> {
        let parts: Vec<&str> = name.split('|').collect();
        Some(match parts.as_slice() {
            ["received", version] => Counter::Received {
                version: (*version).to_owned(),
            },
            ["outcome", version, outcome] => Counter::Outcome {
                version: (*version).to_owned(),
                outcome: (*outcome).to_owned(),
            },
            ["answer", version, class] => Counter::Answer {
                version: (*version).to_owned(),
                class: (*class).to_owned(),
            },
            ["pair", "match"] => Counter::Pair { matched: true },
            ["pair", "mismatch"] => Counter::Pair { matched: false },
            ["unpaired", "native"] => Counter::Unpaired(Side::Native),
            ["unpaired", "translated"] => Counter::Unpaired(Side::Translated),
            ["quarantined"] => Counter::Quarantined,
            ["invalid_output"] => Counter::InvalidOutput,
            ["unmapped_field"] => Counter::UnmappedField,
            _ => return None,
        })
    }
}

/// A mismatched path's count in one bucket and the event ids of the first pair that showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTally {
    pub pairs: u64,
    pub native_event_id: String,
    pub translated_event_id: String,
}

impl PathTally {
    /// `pairs` with `result`'s event ids as the example.
    fn first(result: &PairResult, pairs: u64) -> PathTally {
        PathTally {
            pairs,
            native_event_id: result.native_event_id.clone(),
            translated_event_id: result.translated_event_id.clone(),
        }
    }
}

/// One route's hour: its counters by name and its mismatched paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bucket {
    pub counts: HashMap<String, u64>,
    pub paths: HashMap<String, PathTally>,
}

impl Bucket {
    fn add(&mut self, other: Bucket) {
        for (name, n) in other.counts {
            *self.counts.entry(name).or_default() += n;
        }
        for (path, tally) in other.paths {
            match self.paths.get_mut(&path) {
                Some(held) => held.pairs += tally.pairs,
                None => {
                    self.paths.insert(path, tally);
                }
            }
        }
    }
}

/// Buckets by route and hour: what a recorder holds until it flushes, and what a read returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub routes: HashMap<String, BTreeMap<u64, Bucket>>,
}

impl Tally {
    fn bucket(&mut self, route: &str, hour: u64) -> &mut Bucket {
        if !self.routes.contains_key(route) {
            self.routes.insert(route.to_owned(), BTreeMap::new());
        }
        let hours = self.routes.get_mut(route).expect("inserted above");
        hours.entry(hour).or_default()
    }

    fn count(&mut self, route: &str, hour: u64, name: String, n: u64) {
        *self.bucket(route, hour).counts.entry(name).or_default() += n;
    }

    /// Adds `other` in (counts add up; a path keeps the example it has).
    pub fn merge(&mut self, other: Tally) {
        for (route, hours) in other.routes {
            for (hour, bucket) in hours {
                self.bucket(&route, hour).add(bucket);
            }
        }
    }

    /// Drops the hours before `from_hour`.
    pub fn forget_before(&mut self, from_hour: u64) {
        for hours in self.routes.values_mut() {
            hours.retain(|hour, _| *hour >= from_hour);
        }
        self.routes.retain(|_, hours| !hours.is_empty());
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// Where history is kept: beside the ledger's entries, in the same file or Redis.
pub enum HistoryStore {
    Sqlite(sqlite::SqliteHistory),
    Redis(Box<redis::RedisHistory>),
}

impl HistoryStore {
    /// The store of the configured ledger; `None` when `ledger.backend = "off"`.
    pub fn open(config: &Config) -> Result<Option<HistoryStore>, LedgerError> {
        Ok(match config.ledger.backend {
            LedgerBackend::Off => None,
            LedgerBackend::File => Some(HistoryStore::Sqlite(sqlite::SqliteHistory::open(
                &config.ledger_path(),
            )?)),
            LedgerBackend::Redis => Some(HistoryStore::Redis(Box::new(redis::RedisHistory::new(
                config.ledger.url.expose(),
            )?))),
        })
    }

    /// Adds `tally` to what is stored; buckets expire `keep_hours` after their hour.
    pub async fn add(&self, tally: Tally, keep_hours: u64) -> Result<(), LedgerError> {
        match self {
            HistoryStore::Sqlite(s) => s.add(tally).await,
            HistoryStore::Redis(s) => s.add(&tally, keep_hours).await,
        }
    }

    /// The buckets of `routes` from `from_hour` to `to_hour` (both included).
    pub async fn read(
        &self,
        routes: &[String],
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Tally, LedgerError> {
        match self {
            HistoryStore::Sqlite(s) => s.read(routes.to_vec(), from_hour, to_hour).await,
            HistoryStore::Redis(s) => s.read(routes, from_hour, to_hour).await,
        }
    }

    /// Removes the buckets before `from_hour` (Redis keys expire by themselves).
    pub async fn sweep(&self, from_hour: u64) -> Result<(), LedgerError> {
        match self {
            HistoryStore::Sqlite(s) => s.sweep(from_hour).await,
            HistoryStore::Redis(_) => Ok(()),
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            HistoryStore::Sqlite(_) => LedgerBackend::File.as_str(),
            HistoryStore::Redis(_) => LedgerBackend::Redis.as_str(),
        }
    }
}

/// Hours of history kept for `config`: its retention, at least [`MIN_KEEP_HOURS`] and the longest
/// readiness window.
pub fn keep_hours(config: &Config) -> u64 {
    let window = config
        .routes
        .iter()
        .map(|r| r.readiness.window_hours.min(MAX_READINESS_WINDOW_HOURS))
        .max()
        .unwrap_or(0);
    config
        .ledger
        .retention_hours
        .max(MIN_KEEP_HOURS)
        .max(window + 1)
}

/// Counts in memory what the request path, the shadow comparison and the background checks report,
/// and writes it to the [`HistoryStore`] now and then.
pub struct Recorder {
    pending: Mutex<Tally>,
    store: HistoryStore,
    keep_hours: u64,
    /// One flush at a time (the periodic one, a status read's, the last one at shutdown).
    flushing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("backend", &self.store.backend())
            .field("keep_hours", &self.keep_hours)
            .finish()
    }
}

impl Recorder {
    /// A recorder over the configured ledger's store; `None` when the ledger is off.
    pub fn open(config: &Config) -> Result<Option<Recorder>, LedgerError> {
        Ok(HistoryStore::open(config)?.map(|store| Recorder::new(store, keep_hours(config))))
    }

    /// A recorder over `store` keeping `keep_hours` of buckets.
    pub fn new(store: HistoryStore, keep_hours: u64) -> Recorder {
        Recorder {
            pending: Mutex::new(Tally::default()),
            store,
            keep_hours,
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// The store it writes to (and status reads from).
    pub fn store(&self) -> &HistoryStore {
        &self.store
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `n` to `counter` of `route` in the current hour.
    pub fn count(&self, route: &str, counter: &Counter, n: u64) {
        if n == 0 {
            return;
        }
        let hour = hour_of(super::now_ms());
        self.pending().count(route, hour, counter.name(), n);
    }

    /// One finished request: its sending version (the bounded label), outcome and, when the handler
    /// was reached or tried, its answer.
    pub fn request(&self, route: &str, version: &str, outcome: Outcome, handler: Option<u16>) {
        let hour = hour_of(super::now_ms());
        let answered = handler.is_some() || outcome == Outcome::DownstreamError;
        let mut pending = self.pending();
        pending.count(route, hour, format!("received|{version}"), 1);
        pending.count(
            route,
            hour,
            format!("outcome|{version}|{}", outcome.as_str()),
            1,
        );
        if answered {
            let class = answer_class(handler);
            pending.count(route, hour, format!("answer|{version}|{class}"), 1);
        }
        if outcome == Outcome::Quarantined {
            pending.count(route, hour, Counter::Quarantined.name(), 1);
        }
    }

    /// One compared pair: its result and, when it mismatched, its paths with the pair's event ids.
    pub fn pair(&self, route: &str, result: &PairResult) {
        let hour = hour_of(super::now_ms());
        let mut pending = self.pending();
        let name = Counter::Pair {
            matched: result.matched,
        }
        .name();
        pending.count(route, hour, name, 1);
        let bucket = pending.bucket(route, hour);
        let mut others = result.more_paths as u64;
        for difference in &result.mismatched {
            if let Some(held) = bucket.paths.get_mut(&difference.path) {
                held.pairs += 1;
            } else if bucket.paths.len() < MAX_PENDING_PATHS {
                bucket
                    .paths
                    .insert(difference.path.clone(), PathTally::first(result, 1));
            } else {
                others += 1;
            }
        }
        if others > 0 {
            match bucket.paths.get_mut(OTHER_PATHS) {
                Some(held) => held.pairs += others,
                None => {
                    let tally = PathTally::first(result, others);
                    bucket.paths.insert(OTHER_PATHS.to_owned(), tally);
                }
            }
        }
    }

    /// Writes what was counted since the last flush. On failure the counts stay for the next one.
    pub async fn flush(&self) -> Result<(), LedgerError> {
        let _one = self.flushing.lock().await;
        let tally = std::mem::take(&mut *self.pending());
        if tally.is_empty() {
            return Ok(());
        }
        match self.store.add(tally.clone(), self.keep_hours).await {
            Ok(()) => Ok(()),
            Err(error) => {
                let from = hour_of(super::now_ms()).saturating_sub(self.keep_hours);
                let mut pending = self.pending();
                pending.merge(tally);
                pending.forget_before(from);
                Err(error)
            }
        }
    }

    /// Flushes every [`FLUSH_INTERVAL`] (and sweeps now and then) until `stop` turns true, then
    /// flushes once more.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticks: u32 = 0;
        loop {
            let stopping = tokio::select! {
                _ = stop.changed() => true,
                _ = tokio::time::sleep(FLUSH_INTERVAL) => false,
            };
            self.flush_logged().await;
            if ticks.is_multiple_of(SWEEP_EVERY) {
                let from = hour_of(super::now_ms()).saturating_sub(self.keep_hours);
                if let Err(error) = self.store.sweep(from).await {
                    self.failed(&error);
                }
            }
            ticks = ticks.wrapping_add(1);
            if stopping || *stop.borrow() {
                return;
            }
        }
    }

    /// Flushes, counting and logging a failure (the counts wait for the next flush).
    pub async fn flush_logged(&self) {
        if let Err(error) = self.flush().await {
            self.failed(&error);
        }
    }

    fn failed(&self, error: &LedgerError) {
        crate::metrics::record_ledger_error(self.store.backend(), "history");
        tracing::warn!(backend = self.store.backend(), error = %error, "history not written; kept for the next flush");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::{compare, Expected, Fingerprint};

    #[test]
    fn counter_names_read_back() {
        for counter in [
            Counter::Received {
                version: "2025-04-21".into(),
            },
            Counter::Outcome {
                version: "2026-02-09".into(),
                outcome: "acked".into(),
            },
            Counter::Answer {
                version: "other".into(),
                class: "5xx".into(),
            },
            Counter::Pair { matched: false },
            Counter::Unpaired(Side::Translated),
            Counter::Quarantined,
            Counter::InvalidOutput,
            Counter::UnmappedField,
        ] {
            assert_eq!(Counter::parse(&counter.name()), Some(counter));
        }
        assert_eq!(Counter::parse("received|a|b"), None);
    }

    #[test]
    fn answer_classes() {
        assert_eq!(answer_class(Some(204)), "2xx");
        assert_eq!(answer_class(Some(503)), "5xx");
        assert_eq!(answer_class(None), "none");
    }

    #[tokio::test]
    async fn a_failed_flush_keeps_its_counts_for_the_next() {
        // Nothing listens on port 1: every write fails.
        let store = redis::RedisHistory::new(b"redis://127.0.0.1:1/").unwrap();
        let recorder = Recorder::new(HistoryStore::Redis(Box::new(store)), MIN_KEEP_HOURS);
        recorder.request("r", "2025-04-21", Outcome::Delivered, Some(200));
        assert!(recorder.flush().await.is_err());
        recorder.request("r", "2025-04-21", Outcome::Delivered, Some(200));
        assert!(recorder.flush().await.is_err());
        let pending = recorder.pending().clone();
        let hour = hour_of(crate::ledger::now_ms());
        assert_eq!(pending.routes["r"][&hour].counts["received|2025-04-21"], 2);
        assert_eq!(
            pending.routes["r"][&hour].counts["answer|2025-04-21|2xx"],
            2
        );
    }

    #[tokio::test]
    async fn counts_add_up_in_the_file_and_paths_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let recorder = Recorder::new(
            HistoryStore::Sqlite(sqlite::SqliteHistory::open(&path).unwrap()),
            MIN_KEEP_HOURS,
        );
        let fp = |t: &str| Fingerprint::of(&serde_json::from_str(t).unwrap(), false);
        for i in 0..(MAX_PENDING_PATHS + 5) {
            let result = compare(
                &fp(&format!(r#"{{"p{i}":1}}"#)),
                &fp(r#"{}"#),
                &Expected::default(),
                &format!("n{i}"),
                &format!("t{i}"),
                "2025-04-21",
            );
            recorder.pair("r", &result);
        }
        recorder.request("r", "2025-04-21", Outcome::DownstreamError, None);
        recorder.flush().await.unwrap();
        let hour = hour_of(crate::ledger::now_ms());
        let read = recorder
            .store()
            .read(&["r".to_owned()], hour - 1, hour)
            .await
            .unwrap();
        let bucket = &read.routes["r"][&hour];
        assert_eq!(bucket.counts["pair|mismatch"], MAX_PENDING_PATHS as u64 + 5);
        assert_eq!(bucket.counts["answer|2025-04-21|none"], 1);
        // The paths past the bound are counted together, none lost.
        assert_eq!(bucket.paths.len(), MAX_PENDING_PATHS + 1);
        assert_eq!(bucket.paths["p0"].native_event_id, "n0");
        assert_eq!(bucket.paths[OTHER_PATHS].pairs, 5);
    }
}
