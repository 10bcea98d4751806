//! Counting the input fields no mapping names (`hookshift_unmapped_fields_total`), off the request
//! path where it costs; the same background thread runs the `observe` output check
//! ([`crate::pipeline::output_check::Deferred`]) of the event it scans.
//!
//! Fields a translation drops are reported by the engine itself ([`crate::mapping::Translated`]) and
//! counted at once: a short list, usually empty. Fields it carries (keys the source version's schema
//! does not declare, inside objects that survive) can only be found by walking the input against that
//! schema, which costs about as much as the translation. That walk runs on one background thread fed
//! by a bounded queue: a request only hands over a shared reference to the bytes it received (its
//! body, or the payload fetched from a signed URL) and never waits. A queued scan holds those bytes
//! and its working memory in the body budget, taken only while the budget is less than half used, so
//! scans never shed a request. When the queue is full (or the budget busy) the scan is skipped and
//! counted (`hookshift_drift_scans_skipped_total`): the carried counts are a lower bound under load.
//! The thread runs at the lowest CPU priority, so a saturated proxy skips scans rather than slowing
//! down.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;

use bytes::Bytes;

use crate::ledger::history::Counter;
use crate::metrics::{self, FieldFate};
use crate::pipeline::budget::{BodyBudget, BudgetPermit};
use crate::schema::Schemas;

/// The event a scan walks.
#[derive(Debug)]
pub enum ScanInput {
    /// The received body (the event itself).
    Body(Bytes),
    /// The payload fetched from a signed URL (the event is rebuilt around it, as the SDKs do).
    Payload(Bytes),
}

impl ScanInput {
    /// Bytes of input the scan reads.
    pub fn len(&self) -> usize {
        match self {
            ScanInput::Body(bytes) | ScanInput::Payload(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One translated event to scan for carried unknown fields.
#[derive(Debug)]
pub struct ScanJob {
    pub schemas: Arc<Schemas>,
    pub route: String,
    /// The bounded `event_type` label.
    pub event_type_label: String,
    /// The event type as sent (the schema to walk against).
    pub event_type: String,
    /// The source API version.
    pub version: String,
    pub input: ScanInput,
    /// The paths the translation dropped: undeclared keys at or under them were not carried.
    pub dropped: Vec<String>,
    /// The output check of the translation (`schemas.validate_output = "observe"`), if any.
    pub output: Option<crate::pipeline::output_check::Deferred>,
    /// The bytes and working memory of the scan, held in the body budget until it is done.
    pub permit: BudgetPermit,
    /// Where invalid outputs and carried unknown fields are counted for `hookshift status`.
    pub history: Option<Arc<crate::ledger::history::Recorder>>,
}

impl ScanJob {
    /// Counts the job skipped: its scan, and its output check if it carries one.
    pub fn skipped(route: &str, output: bool) {
        metrics::record_drift_scan_skipped(route);
        if output {
            metrics::record_output_check_skipped(route);
        }
    }
}

/// Hands [`ScanJob`]s to the background scanner without waiting.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// `None` with a queue of 0: every scan is skipped.
    queue: Option<SyncSender<ScanJob>>,
}

impl Scanner {
    /// A scanner whose queue holds `capacity` jobs; its thread ends when the last clone is dropped.
    pub fn start(capacity: usize) -> Scanner {
        Scanner::with_worker(capacity, scan)
    }

    fn with_worker(capacity: usize, work: fn(ScanJob)) -> Scanner {
        if capacity == 0 {
            return Scanner { queue: None };
        }
        let (sender, receiver) = mpsc::sync_channel::<ScanJob>(capacity);
        let spawned = std::thread::Builder::new()
            .name("hookshift-drift-scan".to_owned())
            .spawn(move || {
                lower_priority();
                for job in receiver {
                    // A scan that panics loses its own count, not the thread.
                    let route = job.route.clone();
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(job))).is_err() {
                        tracing::warn!(route = %route, "drift scan failed; its fields are not counted");
                    }
                }
            });
        match spawned {
            Ok(_) => Scanner {
                queue: Some(sender),
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the drift scan thread; carried fields will not be counted");
                Scanner { queue: None }
            }
        }
    }

    /// Queues `job`, or counts it skipped when the queue is full. Never blocks.
    pub fn submit(&self, job: ScanJob) {
        let Some(queue) = &self.queue else {
            ScanJob::skipped(&job.route, job.output.is_some());
            return;
        };
        match queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                ScanJob::skipped(&job.route, job.output.is_some());
            }
        }
    }

    /// Whether a background thread takes jobs (`schemas.scan_queue` above 0 and the thread started).
    pub fn is_running(&self) -> bool {
        self.queue.is_some()
    }
}

/// Reserves the budget for scanning `bytes` of input (held + the scan at most half the limit), or
/// `None`: the scan is to be skipped.
pub fn reserve(budget: &Arc<BodyBudget>, bytes: usize) -> Option<BudgetPermit> {
    let need = (1 + SCAN_FACTOR) * bytes as u64;
    if budget.held().saturating_add(need) > budget.limit() / 2 {
        return None;
    }
    budget.try_reserve(need)
}

/// Working memory of one scan per input byte: the `serde_json` tree it parses, the validator's
/// errors and their paths. Not measured on its own: above the translation's reservation
/// ([`crate::pipeline::budget::TRANSLATION_FACTOR`]), since the scan's tree (`serde_json::Value`) is larger
/// than the translation's.
const SCAN_FACTOR: u64 = 6;

/// Gives the scan thread idle CPU time only (`SCHED_IDLE`, and nice 19 where that is refused): when the requests keep
/// every core busy it falls behind, its queue fills and scans are skipped, instead of taking CPU from
/// translations. Nice 19 alone is not enough: a request thread woken while the scan runs may wait
/// for the scan's time slice, which the idle class gives up at once.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: plain syscalls on the calling thread (pid 0: the caller; on Linux, PRIO_PROCESS
        // with a thread id sets that thread's nice value).
        let failed = unsafe {
            let idle = libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0;
            let tid = libc::gettid();
            let nice = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19) == 0;
            !idle && !nice
        };
        if failed {
            tracing::debug!("cannot lower the drift scan thread's priority");
        }
    }
}

/// Counts every field the translation dropped.
pub fn record_dropped(route: &str, event_type_label: &str, dropped: &[String]) {
    for path in dropped {
        metrics::record_unmapped_field(route, event_type_label, path, FieldFate::Dropped);
    }
}

/// Walks one event against its source schema and counts the undeclared keys that were carried; then
/// runs the output check the job carries.
fn scan(job: ScanJob) {
    if let Some(output) = &job.output {
        let invalid = output.run(&job.schemas, &job.route);
        if let (true, Some(history)) = (invalid, &job.history) {
            history.count(&job.route, &Counter::InvalidOutput, 1);
        }
    }
    let event: serde_json::Value = match &job.input {
        ScanInput::Body(bytes) => match serde_json::from_slice(bytes) {
            Ok(event) => event,
            // The body was parsed strictly before it was translated; nothing to scan otherwise.
            Err(_) => return,
        },
        ScanInput::Payload(bytes) => match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(payload) => serde_json::json!({
                "eventId": "",
                "eventType": job.event_type,
                "payload": payload,
            }),
            Err(_) => return,
        },
    };
    let carried = carried(
        &job.schemas,
        &job.version,
        &job.event_type,
        &event,
        &job.dropped,
    );
    if let Some(history) = &job.history {
        history.count(&job.route, &Counter::UnmappedField, carried.len() as u64);
    }
    for path in carried {
        metrics::record_unmapped_field(
            &job.route,
            &job.event_type_label,
            &path,
            FieldFate::Carried,
        );
    }
}

/// The undeclared paths of `event` that are not at or under a dropped path.
fn carried(
    schemas: &Schemas,
    version: &str,
    event_type: &str,
    event: &serde_json::Value,
    dropped: &[String],
) -> Vec<String> {
    schemas
        .undeclared_paths(version, event_type, event)
        .into_iter()
        .filter(|path| !dropped.iter().any(|d| covers(d, path)))
        .collect()
}

/// Whether `path` is `ancestor` or lies under it.
fn covers(ancestor: &str, path: &str) -> bool {
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_path_covers_itself_and_what_is_under_it() {
        assert!(covers("payload.files[*]", "payload.files[*]"));
        assert!(covers("payload.files[*]", "payload.files[*].futureField"));
        assert!(covers("payload.output", "payload.output.value"));
        assert!(!covers("payload.output", "payload.outputs"));
        assert!(!covers("payload.files[*]", "payload.futureField"));
    }

    fn job(route: &str) -> ScanJob {
        static SCHEMAS: std::sync::OnceLock<Arc<Schemas>> = std::sync::OnceLock::new();
        let schemas = SCHEMAS.get_or_init(|| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
            Arc::new(Schemas::load(&dir).unwrap())
        });
        ScanJob {
            schemas: Arc::clone(schemas),
            route: route.to_owned(),
            event_type_label: "other".to_owned(),
            event_type: "x".to_owned(),
            version: "v".to_owned(),
            input: ScanInput::Body(Bytes::from_static(b"{}")),
            dropped: Vec::new(),
            output: None,
            permit: BodyBudget::new(1 << 20).try_reserve(2).unwrap(),
            history: None,
        }
    }

    fn skipped(route: &str) -> f64 {
        let page = metrics::install().render();
        page.lines()
            .find(|l| {
                l.starts_with(&format!(
                    "{}{{route=\"{route}\"}}",
                    metrics::DRIFT_SCANS_SKIPPED
                ))
            })
            .and_then(|l| l.rsplit_once(' '))
            .map_or(0.0, |(_, v)| v.parse().unwrap())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn scans_run_at_the_lowest_cpu_priority() {
        use std::sync::atomic::{AtomicI32, Ordering};
        static NICE: AtomicI32 = AtomicI32::new(i32::MIN);
        static POLICY: AtomicI32 = AtomicI32::new(i32::MIN);
        let scanner = Scanner::with_worker(1, |_| {
            // SAFETY: read the calling thread's scheduling class and nice value.
            let (policy, nice) = unsafe {
                (
                    libc::sched_getscheduler(0),
                    libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t),
                )
            };
            POLICY.store(policy, Ordering::SeqCst);
            NICE.store(nice, Ordering::SeqCst);
        });
        scanner.submit(job("drift_unit_nice"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while NICE.load(Ordering::SeqCst) == i32::MIN && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(NICE.load(Ordering::SeqCst), 19);
        assert_eq!(POLICY.load(Ordering::SeqCst), libc::SCHED_IDLE);
    }

    static RELEASE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn a_full_queue_skips_and_counts_without_blocking() {
        metrics::install();
        // The worker blocks on the first job until the test lets go, so the queue (1) fills up.
        let hold = RELEASE.lock().unwrap();
        let scanner = Scanner::with_worker(1, |_| drop(RELEASE.lock()));
        scanner.submit(job("drift_unit_full"));
        // Of five jobs at most two fit (one taken by the worker, one queued), at least one.
        for _ in 0..4 {
            scanner.submit(job("drift_unit_full"));
        }
        let counted = skipped("drift_unit_full");
        assert!((3.0..=4.0).contains(&counted), "{counted}");
        drop(hold);

        let off = Scanner::with_worker(0, |_| unreachable!("a queue of 0 runs nothing"));
        off.submit(job("drift_unit_off"));
        assert_eq!(skipped("drift_unit_off"), 1.0);
        // A skipped job's output check is counted skipped too.
        let mut with_check = job("drift_unit_off_check");
        with_check.output = Some(crate::pipeline::output_check::Deferred {
            version: "2026-02-09".to_owned(),
            body: Bytes::from_static(b"{}"),
            event_type_label: "other".to_owned(),
            event_type_key: "eventType",
        });
        off.submit(with_check);
        let page = metrics::install().render();
        assert!(
            page.contains(&format!(
                "{}{{route=\"drift_unit_off_check\"}} 1",
                metrics::OUTPUT_CHECKS_SKIPPED
            )),
            "{page}"
        );
    }

    #[test]
    fn a_scan_job_runs_its_output_check() {
        metrics::install();
        let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("mappings/2025-04-21_to_2026-02-09/golden/extract_processed.output.json");
        let mut bad: serde_json::Value =
            serde_json::from_slice(&std::fs::read(golden).unwrap()).unwrap();
        bad["payload"].as_object_mut().unwrap().remove("id");
        let mut scan_job = job("drift_unit_output");
        scan_job.output = Some(crate::pipeline::output_check::Deferred {
            version: "2026-02-09".to_owned(),
            body: Bytes::from(serde_json::to_vec(&bad).unwrap()),
            event_type_label: "extract_run.processed".to_owned(),
            event_type_key: "eventType",
        });
        scan(scan_job);
        let page = metrics::install().render();
        assert!(
            page.lines()
                .any(|l| l.starts_with("hookshift_invalid_output_total{")
                    && l.contains("route=\"drift_unit_output\"")
                    && l.contains("path=\"payload.id\"")
                    && l.ends_with(" 1")),
            "{page}"
        );
    }
}
