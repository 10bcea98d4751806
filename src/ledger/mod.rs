//! The ledger: the one piece of state hookshift keeps, one entry per logical event and route.
//!
//! An entry is keyed by the route and the event's identity at the handler's version (see
//! [`crate::mapping::identity`]), so the two copies of one event (from the old endpoint and from the new
//! one, "twins") land on the same entry. It holds the first copy's [`Fingerprint`] until its twin comes
//! and then the result of their comparison ([`crate::shadow`]).
//!
//! Two backends, the same operations: [`sqlite`] (one local file written by one server, the default:
//! SQLite in WAL mode, so the command line can read it while the server writes it) and [`redis`]
//! (shared by replicas). Both offer one primitive, an atomic read-modify-write of one entry
//! ([`Store::update`]): on file, under the server's lock of the entry's group against the entries it
//! wrote last (a command beside the server: a write transaction); on Redis, a compare-and-set script.
//! Every operation here is built on it.
//!
//! Bounded: entries older than `ledger.retention_hours` are swept ([`Ledger::sweep`]); past
//! `ledger.max_entries` the oldest go first. Both are counted, and a removed entry still waiting for its
//! twin is counted unpaired.
//!
//! The ledger never stands in the way of a delivery: a caller treats every [`LedgerError`] as "no
//! ledger" and goes on; [`Ledger::note_failure`] counts it and logs at most once per
//! [`FAILURE_LOG_INTERVAL`].

pub mod history;
pub mod once;
pub mod quarantine;
pub mod redis;
pub mod sides;
pub mod sqlite;
pub mod stage;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::{Config, LedgerBackend};
use crate::shadow::{compare, Expected, Kept, PairResult};

/// `ledger.max_quarantine_bytes` of a ledger made by [`Ledger::with_store`].
pub const DEFAULT_MAX_QUARANTINE_BYTES: u64 = 256 * 1024 * 1024;

/// Most often one failure is logged (the others in between are counted, and the next line says how many).
pub const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Why a ledger operation failed. Never carries payload data or the Redis URL's password.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger file: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("ledger file {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "ledger file {path} is written by another hookshift server; replicas share a Redis ledger (backend = \"redis\")"
    )]
    Held { path: String },
    #[error("redis: {0}")]
    Redis(String),
    #[error("redis did not answer within {ms} ms")]
    Timeout { ms: u64 },
    #[error("entry changed under {attempts} attempts in a row")]
    Contended { attempts: usize },
    #[error("an entry could not be decoded: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("ledger task failed: {0}")]
    Task(String),
}

/// Which copy of a pair: the one the sender delivered in the handler's version, or the one hookshift
/// translated to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Native,
    Translated,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Native, Side::Translated];

    /// The `side` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Native => "native",
            Side::Translated => "translated",
        }
    }
}

impl crate::metrics::Label for Side {
    const ALL: &'static [Side] = &Side::ALL;

    fn as_str(self) -> &'static str {
        Side::as_str(self)
    }
}

/// Where an entry is: a route and an event identity at the handler's version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub route: String,
    /// [`crate::mapping::identity::Identity::key`]: event type and identity field values.
    pub identity: String,
}

impl Key {
    /// The store's key text (route and identity joined by a unit separator, which neither holds).
    pub fn text(&self) -> String {
        format!("{}\u{1f}{}", self.route, self.identity)
    }

    /// Where the shadow comparison of occurrence `n` of this identity is kept (the identity and the
    /// number joined by a record separator, which no identity holds).
    pub fn shadow(&self, n: u32) -> Key {
        Key {
            route: self.route.clone(),
            identity: format!("{}\u{1e}{n}", self.identity),
        }
    }
}

/// One copy of an event as the shadow comparison keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowCopy {
    pub side: Side,
    /// The version the sender delivered it in.
    pub version: String,
    pub event_id: String,
    /// Of the copy at the handler's version (the translation, for a translated copy).
    pub fingerprint: Kept,
}

/// The shadow comparison's part of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShadowState {
    /// The first copy came; its twin has not.
    Waiting { copy: ShadowCopy, at_ms: u64 },
    /// Both came and were compared.
    Paired { result: PairResult, at_ms: u64 },
}

/// What the ledger keeps of one identity on one route: a delivery record (its occurrences, see
/// [`once`]) or the shadow comparison of one occurrence (kept apart, at [`Key::shadow`], so that the
/// hash tree of a first copy is written once and dropped once its twin is compared, and the delivery
/// record that every copy rewrites stays small).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub route: String,
    /// At the handler's version.
    pub event_type: String,
    pub identity: String,
    /// When the first copy came (unix milliseconds); retention counts from here.
    pub created_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowState>,
    /// The events the sender told apart about this identity, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub occurrences: Vec<once::Occurrence>,
}

impl Entry {
    fn new(key: &Key, event_type: &str, now_ms: u64) -> Entry {
        Entry {
            route: key.route.clone(),
            event_type: event_type.to_owned(),
            identity: key.identity.clone(),
            created_ms: now_ms,
            shadow: None,
            occurrences: Vec::new(),
        }
    }

    /// The side of a first copy still waiting for its twin.
    pub fn waiting_side(&self) -> Option<Side> {
        match &self.shadow {
            Some(ShadowState::Waiting { copy, .. }) => Some(copy.side),
            _ => None,
        }
    }
}

/// What an [`Store::update`] closure decides.
#[derive(Debug)]
pub enum Change {
    /// Leave the entry as it is (or absent).
    Keep,
    /// Write it (insert or replace).
    Put(Box<Entry>),
}

/// The result of an update and the entries it pushed out (past `max_entries`).
#[derive(Debug)]
pub struct Updated<R> {
    pub value: R,
    pub evicted: Vec<Entry>,
}

/// A backend.
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Redis(Box<redis::RedisStore>),
}

impl Store {
    /// Reads the entry at `key`, lets `decide` choose, and applies its change atomically: no other
    /// update of the same entry (in this process or another) happens in between. `decide` may run more
    /// than once (Redis retries it when the entry changed meanwhile), so it must be pure.
    /// `durable` says of a decision whether its answer waits until it would survive a power loss
    /// (the file backend then syncs its log; on Redis that is Redis's persistence setting).
    pub async fn update<R, F>(
        &self,
        key: &Key,
        decide: F,
        durable: sqlite::Durable<R>,
        max_entries: u64,
        retention_ms: u64,
    ) -> Result<Updated<R>, LedgerError>
    where
        R: Send + 'static,
        F: FnMut(Option<Entry>) -> (Change, R) + Send + 'static,
    {
        let fresh = sqlite::Read::Fresh;
        self.update_reading(key, decide, durable, (max_entries, retention_ms), fresh)
            .await
    }

    /// [`Store::update`], reading the entry as `read` says: [`sqlite::Read::Own`] for the holder of
    /// a claim this process wrote (settling it), for whom on file the entry this process wrote last
    /// may stand in for the file's, unless a command beside the server wrote the file since the
    /// writer thread last looked (its next commit, or a quarter second). Redis always reads.
    pub async fn update_reading<R, F>(
        &self,
        key: &Key,
        decide: F,
        durable: sqlite::Durable<R>,
        (max_entries, retention_ms): (u64, u64),
        read: sqlite::Read,
    ) -> Result<Updated<R>, LedgerError>
    where
        R: Send + 'static,
        F: FnMut(Option<Entry>) -> (Change, R) + Send + 'static,
    {
        match self {
            Store::Sqlite(s) => {
                s.update(key.text(), decide, durable, max_entries, read)
                    .await
            }
            Store::Redis(s) => {
                s.update(&key.text(), decide, max_entries, retention_ms)
                    .await
            }
        }
    }

    /// Removes the entries created before `before_ms` and returns them.
    pub async fn sweep(&self, before_ms: u64) -> Result<Vec<Entry>, LedgerError> {
        match self {
            Store::Sqlite(s) => s.sweep(before_ms).await,
            Store::Redis(s) => s.sweep(before_ms).await,
        }
    }

    /// The entries pushed out (past `max_entries`) by writes committed after their update answered,
    /// not reported yet (a ledger file's; on Redis an update reports what it pushed out).
    pub fn take_evicted(&self) -> Vec<Entry> {
        match self {
            Store::Sqlite(s) => s.take_evicted(),
            Store::Redis(_) => Vec::new(),
        }
    }

    /// Turns true once a ledger file's last handle is dropped and its queued writes are written
    /// (none for Redis, whose writes are answered once written).
    pub fn closed(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        match self {
            Store::Sqlite(s) => Some(s.closed()),
            Store::Redis(_) => None,
        }
    }

    /// Every entry created at or after `since_ms`, oldest first.
    pub async fn entries_since(&self, since_ms: u64) -> Result<Vec<Entry>, LedgerError> {
        match self {
            Store::Sqlite(s) => s.entries_since(since_ms).await,
            Store::Redis(s) => s.entries_since(since_ms).await,
        }
    }

    /// How many entries it holds.
    pub async fn entry_count(&self) -> Result<u64, LedgerError> {
        match self {
            Store::Sqlite(s) => s.entry_count().await,
            Store::Redis(s) => s.entry_count().await,
        }
    }

    /// The entry at `key`, if any.
    pub async fn get(&self, key: &Key) -> Result<Option<Entry>, LedgerError> {
        match self {
            Store::Sqlite(s) => s.get(key.text()).await,
            Store::Redis(s) => s.get(&key.text()).await,
        }
    }
}

/// What became of one copy offered to the shadow comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShadowOutcome {
    /// It is the first copy: kept until its twin comes.
    First,
    /// A copy of the same side came before (a sender retry): nothing changes.
    Repeat,
    /// Its twin was waiting: compared.
    Paired(PairResult),
    /// The pair was compared already (a retry of one of the twins).
    AlreadyPaired,
    /// A kept fingerprint could not be read (a ledger edited by hand): not compared.
    Unreadable(String),
}

/// The ledger of one process: its store, bounds, and failure accounting.
pub struct Ledger {
    store: Store,
    backend: LedgerBackend,
    retention_ms: u64,
    max_entries: u64,
    keep_values: bool,
    max_quarantine_bytes: u64,
    /// `ledger.pair_window_ms`.
    pair_window_ms: u64,
    failures: Failures,
    /// History hook: where pair results and unpaired copies are counted for `hookshift status`.
    history: std::sync::OnceLock<std::sync::Arc<history::Recorder>>,
}

#[derive(Default)]
struct Failures {
    since_last_log: AtomicU64,
    last_log: Mutex<Option<Instant>>,
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Ledger {
    /// Opens the configured ledger for a server; `None` when `ledger.backend = "off"`. A Redis server
    /// that cannot be reached yet is no error: operations fail (and are counted) until it answers. A
    /// ledger file is written by one server: refused while another holds it.
    pub fn open(config: &Config) -> Result<Option<Ledger>, LedgerError> {
        Ledger::open_as(config, sqlite::SqliteStore::open)
    }

    /// Opens the configured ledger for a command, beside a server that may be running.
    pub fn open_beside(config: &Config) -> Result<Option<Ledger>, LedgerError> {
        Ledger::open_as(config, sqlite::SqliteStore::open_beside)
    }

    fn open_as(
        config: &Config,
        open_file: fn(&std::path::Path) -> Result<sqlite::SqliteStore, LedgerError>,
    ) -> Result<Option<Ledger>, LedgerError> {
        let l = &config.ledger;
        let store = match l.backend {
            LedgerBackend::Off => return Ok(None),
            LedgerBackend::File => Store::Sqlite(open_file(&config.ledger_path())?),
            LedgerBackend::Redis => Store::Redis(Box::new(redis::RedisStore::new(l.url.expose())?)),
        };
        let mut ledger = Ledger::with_store(
            store,
            l.backend,
            l.retention_hours.saturating_mul(3_600_000),
            l.max_entries,
            l.keep_values,
        );
        ledger.max_quarantine_bytes = l.max_quarantine_bytes;
        ledger.pair_window_ms = l.pair_window_ms;
        Ok(Some(ledger))
    }

    /// For a ledger file: turns true once the last handle of this ledger is dropped and its queued
    /// writes are written (none for Redis, whose writes are answered once written).
    pub fn closed(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        self.store.closed()
    }

    /// A ledger over a given store (tests, tools).
    pub fn with_store(
        store: Store,
        backend: LedgerBackend,
        retention_ms: u64,
        max_entries: u64,
        keep_values: bool,
    ) -> Ledger {
        register_metrics(backend);
        Ledger {
            store,
            backend,
            retention_ms,
            max_entries,
            keep_values,
            max_quarantine_bytes: DEFAULT_MAX_QUARANTINE_BYTES,
            pair_window_ms: crate::config::LedgerConfig::default().pair_window_ms,
            failures: Failures::default(),
            history: std::sync::OnceLock::new(),
        }
    }

    /// The backend's name (`file`, `redis`).
    pub fn backend(&self) -> LedgerBackend {
        self.backend
    }

    /// Whether fingerprints keep leaf values (`ledger.keep_values`).
    pub fn keep_values(&self) -> bool {
        self.keep_values
    }

    /// History hook: counts this ledger's pair results and unpaired copies in `recorder` (once).
    pub fn set_history(&self, recorder: std::sync::Arc<history::Recorder>) {
        let _ = self.history.set(recorder);
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Offers one copy to the shadow comparison of its entry. When its twin waits there, the two are
    /// compared: `expected` holds, per version a translated copy may come from, the paths the mapping
    /// synthesises going from that version (see [`crate::shadow::Expected`]).
    pub async fn observe_shadow(
        &self,
        key: &Key,
        event_type: &str,
        copy: ShadowCopy,
        expected: BTreeMap<String, Expected>,
    ) -> Result<ShadowOutcome, LedgerError> {
        let now = now_ms();
        let fresh = Entry::new(key, event_type, now);
        let updated = self
            .store
            .update(
                key,
                move |current| {
                    shadow_step(
                        current.unwrap_or_else(|| fresh.clone()),
                        &copy,
                        &expected,
                        now,
                    )
                },
                // Forgotten in a crash, a shadow record leaves its pair uncompared.
                sqlite::wait_nothing,
                self.max_entries,
                self.retention_ms,
            )
            .await?;
        self.account_removed(&updated.evicted, Removal::Capacity);
        match &updated.value {
            ShadowOutcome::Paired(result) => {
                crate::metrics::record_shadow_pair(
                    &key.route,
                    event_type,
                    result.matched,
                    result.mismatched.iter().map(|d| d.path.as_str()),
                    result.more_paths,
                );
                if let Some(history) = self.history.get() {
                    history.pair(&key.route, result);
                }
            }
            ShadowOutcome::Unreadable(why) => return Err(LedgerError::Task(why.clone())),
            _ => {}
        }
        Ok(updated.value)
    }

    /// Removes the entries past retention, counting them (and the unpaired ones among them); returns
    /// how many went.
    pub async fn sweep(&self) -> Result<usize, LedgerError> {
        let before = now_ms().saturating_sub(self.retention_ms);
        let removed = self.store.sweep(before).await?;
        self.account_removed(&removed, Removal::Retention);
        // On file, entries pushed out by a write answered before its commit are reported here when
        // no update came since.
        self.account_removed(&self.store.take_evicted(), Removal::Capacity);
        Ok(removed.len())
    }

    /// Sets the entry-count and quarantine gauges from the store.
    pub async fn refresh_size(&self) -> Result<u64, LedgerError> {
        let len = self.store.entry_count().await?;
        crate::metrics::record_ledger_entries(self.backend.as_str(), len);
        let (events, bytes) = self.store.quarantine_size().await?;
        crate::metrics::record_quarantine_size(self.backend.as_str(), events, bytes);
        // Replays run in the command line's process: the ledger has their counts, the server
        // exports them.
        for (route, result, count) in self.store.replay_counts().await?.0 {
            crate::metrics::record_quarantine_replays(&route, result.as_str(), count);
        }
        Ok(len)
    }

    /// `ledger.max_quarantine_bytes`.
    pub fn max_quarantine_bytes(&self) -> u64 {
        self.max_quarantine_bytes
    }

    fn account_removed(&self, removed: &[Entry], why: Removal) {
        if removed.is_empty() {
            return;
        }
        crate::metrics::record_ledger_evicted(self.backend.as_str(), why.as_str(), removed.len());
        for entry in removed {
            if let Some(side) = entry.waiting_side() {
                crate::metrics::record_shadow_unpaired(&entry.route, &entry.event_type, side);
                if let Some(history) = self.history.get() {
                    history.count(&entry.route, &history::Counter::Unpaired(side), 1);
                }
            }
        }
    }

    /// Counts a failed operation and logs it, at most once per [`FAILURE_LOG_INTERVAL`] (saying how
    /// many failed since the last line). The caller goes on as without a ledger.
    pub fn note_failure(&self, operation: &'static str, error: &LedgerError) {
        crate::metrics::record_ledger_error(self.backend.as_str(), operation);
        let suppressed = self.failures.since_last_log.fetch_add(1, Ordering::Relaxed);
        let mut last = self
            .failures
            .last_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < FAILURE_LOG_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        self.failures.since_last_log.store(0, Ordering::Relaxed);
        tracing::warn!(
            backend = self.backend.as_str(),
            operation,
            error = %error,
            failures_since_last_report = suppressed,
            "ledger unavailable; deliveries go on without it"
        );
    }
}

/// Why entries left the ledger (the `reason` label).
#[derive(Debug, Clone, Copy)]
pub enum Removal {
    Retention,
    Capacity,
}

impl Removal {
    pub const ALL: [Removal; 2] = [Removal::Retention, Removal::Capacity];

    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Retention => "retention",
            Removal::Capacity => "capacity",
        }
    }
}

impl crate::metrics::Label for Removal {
    const ALL: &'static [Removal] = &Removal::ALL;

    fn as_str(self) -> &'static str {
        Removal::as_str(self)
    }
}

/// Registers the ledger's series of `backend` at zero (with the ledger off or unavailable too, so
/// dashboards and alerts read a value).
pub fn register_metrics(backend: LedgerBackend) {
    crate::metrics::register_ledger(backend.as_str(), crate::metrics::values::<Removal>());
}

/// The shadow comparison's state transition for one copy (pure).
fn shadow_step(
    mut entry: Entry,
    copy: &ShadowCopy,
    expected: &BTreeMap<String, Expected>,
    now: u64,
) -> (Change, ShadowOutcome) {
    match &entry.shadow {
        None => {
            entry.shadow = Some(ShadowState::Waiting {
                copy: copy.clone(),
                at_ms: now,
            });
            (Change::Put(Box::new(entry)), ShadowOutcome::First)
        }
        Some(ShadowState::Paired { .. }) => (Change::Keep, ShadowOutcome::AlreadyPaired),
        Some(ShadowState::Waiting { copy: first, .. }) if first.side == copy.side => {
            (Change::Keep, ShadowOutcome::Repeat)
        }
        Some(ShadowState::Waiting { copy: first, .. }) => {
            let (native, translated) = match copy.side {
                Side::Native => (copy, first),
                Side::Translated => (first, copy),
            };
            let none = Expected::default();
            let expected = expected.get(&translated.version).unwrap_or(&none);
            let (native_tree, translated_tree) =
                match (native.fingerprint.read(), translated.fingerprint.read()) {
                    (Ok(n), Ok(t)) => (n, t),
                    (Err(why), _) | (_, Err(why)) => {
                        return (Change::Keep, ShadowOutcome::Unreadable(why))
                    }
                };
            let result = compare(
                &native_tree,
                &translated_tree,
                expected,
                &native.event_id,
                &translated.event_id,
                &translated.version,
            );
            entry.shadow = Some(ShadowState::Paired {
                result: result.clone(),
                at_ms: now,
            });
            (Change::Put(Box::new(entry)), ShadowOutcome::Paired(result))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::Kept;

    fn copy(side: Side, status: &str) -> ShadowCopy {
        let event = serde_json::from_str(&format!(
            r#"{{"eventId":"e","eventType":"extract_run.processed","payload":{{"id":"x","status":"{status}"}}}}"#
        ))
        .unwrap();
        ShadowCopy {
            side,
            version: match side {
                Side::Native => "2026-02-09".into(),
                Side::Translated => "2025-04-21".into(),
            },
            event_id: format!("evt_{}", side.as_str()),
            fingerprint: Kept::of(&event, false),
        }
    }

    fn key(route: &str, id: usize) -> Key {
        Key {
            route: route.into(),
            identity: format!("extract_run.processed\u{1f}{id}"),
        }
    }

    fn sum(page: &str, name: &str, labels: &[&str]) -> f64 {
        page.lines()
            .filter(|l| l.starts_with(name) && labels.iter().all(|label| l.contains(label)))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    }

    #[tokio::test]
    async fn pairs_evictions_unpaired_and_failures_are_counted() {
        let handle = crate::metrics::install();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Sqlite(sqlite::SqliteStore::open(&dir.path().join("l")).unwrap());
        let ledger = Ledger::with_store(store, LedgerBackend::File, 3_600_000, 3, false);
        let route = "ledger-unit-metrics";
        crate::metrics::RouteMetrics::register(&crate::metrics::RouteSeries {
            route,
            target_version: "2026-02-09",
            api_versions: vec!["2026-02-09"],
            paired_event_types: vec!["extract_run.processed"],
            fetch_results: Vec::new(),
            unpaired_sides: crate::metrics::values::<Side>().collect(),
            replay_results: Vec::new(),
        });
        let page = handle.render();
        assert!(page.contains(&format!(
            "hookshift_shadow_pairs_total{{route=\"{route}\",event_type=\"extract_run.processed\",result=\"mismatch\"}} 0"
        )), "{page}");
        assert!(
            page.contains("hookshift_ledger_errors_total{backend=\"file\",operation=\"shadow\"}")
        );

        let expected = BTreeMap::new();
        ledger
            .observe_shadow(
                &key(route, 0),
                "extract_run.processed",
                copy(Side::Native, "A"),
                expected.clone(),
            )
            .await
            .unwrap();
        ledger
            .observe_shadow(
                &key(route, 0),
                "extract_run.processed",
                copy(Side::Translated, "B"),
                expected.clone(),
            )
            .await
            .unwrap();
        // Three more first copies: the ledger holds 3, so the oldest (the pair) and one waiting copy go.
        for id in 1..=4 {
            ledger
                .observe_shadow(
                    &key(route, id),
                    "extract_run.processed",
                    copy(Side::Translated, "A"),
                    expected.clone(),
                )
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        // A write that pushes entries out is committed after its update answered: the next update or
        // sweep reports them.
        ledger.sweep().await.unwrap();
        let page = handle.render();
        let r = format!("route=\"{route}\"");
        assert_eq!(
            sum(
                &page,
                "hookshift_shadow_pairs_total",
                &[&r, "result=\"mismatch\""]
            ),
            1.0
        );
        assert_eq!(
            sum(
                &page,
                "hookshift_shadow_mismatched_paths_total",
                &[&r, "path=\"payload.status\""]
            ),
            1.0
        );
        // The paired entry left without counting as unpaired; the first waiting one counts.
        assert_eq!(
            sum(
                &page,
                "hookshift_shadow_unpaired_total",
                &[&r, "side=\"translated\""]
            ),
            1.0
        );
        assert!(
            sum(
                &page,
                "hookshift_ledger_evicted_total",
                &["backend=\"file\"", "reason=\"capacity\""]
            ) >= 2.0
        );

        let error = LedgerError::Timeout { ms: 1 };
        let before = sum(
            &handle.render(),
            "hookshift_ledger_errors_total",
            &["operation=\"sweep\""],
        );
        ledger.note_failure("sweep", &error);
        ledger.note_failure("sweep", &error);
        let after = sum(
            &handle.render(),
            "hookshift_ledger_errors_total",
            &["operation=\"sweep\""],
        );
        assert_eq!(after - before, 2.0);
    }

    /// What the ledger keeps of a 5 KB event once its twin came and was compared: the delivery record
    /// and the comparison's result, each a row of the file (key and body), without `keep_values`.
    #[test]
    fn a_compared_pair_keeps_under_512_bytes_per_record() {
        use crate::mapping::{Delivery, Mappings};
        use crate::provider::Provider;
        use once::{decide_step, Asked, Claim, Decision, Intent};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mappings = Mappings::load(&root.join("mappings")).unwrap();
        let golden = |which: &str| -> crate::json::Value {
            let path = root.join(format!(
                "mappings/2025-04-21_to_2026-02-09/golden/extract_processed.{which}.json"
            ));
            crate::json::parse(&std::fs::read(path).unwrap()).unwrap()
        };
        let (old, new) = ("2025-04-21", "2026-02-09");
        let read = |version: &str, event: crate::json::Value| {
            let event_id = event
                .get("eventId")
                .and_then(crate::json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let delivery = Delivery {
                timestamp: 1_771_000_000,
            };
            let sent = (version, event_id, event, delivery);
            stage::read_received(&mappings, Provider::Extend, new, &[old], sent).unwrap()
        };
        let ((translated, translated_event), (native, native_event)) =
            (read(old, golden("input")), read(new, golden("output")));
        let key = Key {
            route: "extend".into(),
            identity: translated.identity.key.clone(),
        };
        let asked = |copy: &stage::AtHandler, version: &str, intent| Asked {
            version: version.into(),
            event_id: copy.event_id.clone(),
            digest: copy.digest,
            intent,
            pair_window_ms: 300_000,
            claim: Claim {
                token: "0123456789abcdef0123456789abcdef".into(),
                until_ms: 2_000,
            },
        };
        let fresh = Entry::new(&key, "extract_run.processed", 1_000);
        let Change::Put(mut record) = decide_step(
            fresh.clone(),
            &asked(&translated, old, Intent::Deliver),
            1_000,
        )
        .0
        else {
            panic!("a first copy is recorded");
        };
        let first = &mut record.occurrences[0];
        first.claim = None;
        first.copies[0].delivered = true;
        let (change, (decision, _)) =
            decide_step(*record.clone(), &asked(&native, new, Intent::Hold), 1_100);
        assert_eq!(decision, Decision::Duplicate);
        let record = match change {
            Change::Put(record) => record,
            Change::Keep => record,
        };
        let shadow_copy = |copy: &stage::AtHandler, event, side, version: &str| ShadowCopy {
            side,
            version: version.into(),
            event_id: copy.event_id.clone(),
            fingerprint: Kept::of(event, false),
        };
        let waiting = shadow_copy(&translated, &translated_event, Side::Translated, old);
        let Change::Put(first_copy) =
            shadow_step(fresh.clone(), &waiting, &translated.expected, 1_000).0
        else {
            panic!("the first copy waits");
        };
        let (change, outcome) = shadow_step(
            *first_copy.clone(),
            &shadow_copy(&native, &native_event, Side::Native, new),
            &native.expected,
            1_100,
        );
        assert!(
            matches!(&outcome, ShadowOutcome::Paired(r) if r.matched),
            "{outcome:?}"
        );
        let Change::Put(compared) = change else {
            panic!("the pair is recorded");
        };
        let size =
            |key: &Key, entry: &Entry| key.text().len() + serde_json::to_vec(entry).unwrap().len();
        let (delivery_bytes, shadow_bytes) = (size(&key, &record), size(&key.shadow(1), &compared));
        let waiting_bytes = size(&key.shadow(1), &first_copy);
        println!("delivery record {delivery_bytes} B, compared pair {shadow_bytes} B, first copy waiting {waiting_bytes} B");
        assert!(delivery_bytes < 512, "delivery record {delivery_bytes} B");
        assert!(shadow_bytes < 512, "compared pair {shadow_bytes} B");
    }
}
