//! The model test of the whole migration: a simulated Extend with two endpoints in front of hookshift
//! and a handler on 2026-02-09, while the operator walks the stages of docs/migration.md.
//!
//! - **The sender** (Extend): 120 logical events, each a real pair of twins taken from the golden
//!   cases (the 2025-04-21 event and the 2026-02-09 event it becomes, with fresh ids per logical
//!   event and one `eventId` per endpoint). About one in four is a re-delivery of an earlier event:
//!   the same run and content, new `eventId`s (a delivery sent again from the sender's dashboard),
//!   so the ledger sees several events about one run, in every stage and across the switches. At each event's creation, every enabled endpoint queues
//!   one copy; the two copies leave after independent random delays, so either may come first. Every
//!   non-2xx answer (and every connection refused while hookshift restarts) is retried with capped
//!   exponential backoff and jitter; a copy is given up after [`MAX_ATTEMPTS`].
//! - **The handler** answers 500 at random (decided per logical event and arrival, so the same seed
//!   fails the same deliveries whatever the interleaving) and after a small random delay; its view is
//!   the deliveries it answered 2xx.
//! - **The operator** walks stages 1 → 2 → 3 → 4 (roll back to the stage 2 policy) → 3 → 5 by
//!   rewriting the configuration at random moments (hookshift reloads it by itself; two replicas pick
//!   it up at different moments, like pods replaced one by one), with the Extend-side action of each
//!   stage: the new endpoint enabled at stage 2, the old one disabled at stage 5 (copies it queued
//!   before are still retried). With the ledger, stage 3 is a single switch (no intermediate
//!   "forward both" step).
//! - hookshift is **restarted once** (graceful stop, then a new process on the same config and
//!   ledger), at a random moment.
//!
//! Runs: the same plan with the ledger off (the numbers the ledger exists for: events never delivered
//! and events delivered twice, printed), on the file backend with one restart, and as two replicas on
//! a real redis-server; the 2 -> 3 switch alone, ledger off and on, for the measurement the ledger
//! was built on. With the ledger on, every logical event reaches the handler exactly once, no copy is
//! given up, and the handler's view matches the sender's log (the copy the sender was told
//! `delivered` is the one the handler has, signed for the handler); two replicas on Redis, one of them
//! restarted, likewise.
//!
//! Deterministic: one seed fixes the events, delays, switch moments, restart moment, retry jitter,
//! replica choice and handler failures. Bounded: every wait has a deadline; nothing asserts on
//! wall-clock durations. Graceful stops finish their deliveries and marks, so the documented crash
//! window (a crash between the handler's 2xx and the delivered mark) is not hit.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookshift::config::LedgerBackend;
use hookshift::provider::Provider;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::ledger_support::Backend;
use crate::support::*;

const SEED: u64 = 0x4d49_4752_4154_4531;
const EVENTS: usize = 120;
/// Events are created over this span (ms after the start).
const CREATION_SPAN_MS: u64 = 30_000;
/// Each copy leaves up to this long after its event's creation: twins are reordered freely.
const MAX_TWIN_DELAY_MS: u64 = 700;
/// Percent of logical events that re-deliver an earlier one with new `eventId`s.
const REDELIVERY_PERCENT: u64 = 30;
/// `ledger.pair_window_ms` of the runs: well above the largest gap between twins' first arrivals
/// ([`MAX_TWIN_DELAY_MS`], and a restart on a loaded machine), as the shipped five minutes are above
/// a real sender's.
const PAIR_WINDOW_MS: u64 = 8_000;
/// A re-delivery comes at least this long after the event it sends again (a person pressing
/// "resend" in the sender's dashboard), beyond the pairing window: the same content within the
/// window is taken for twins.
const MIN_REDELIVERY_GAP_MS: u64 = 2 * PAIR_WINDOW_MS;
/// Room between an event's two copies for the switch to land in: a config edit is applied within
/// one reload poll.
const SWITCH_GAP_MS: u64 = 2 * RELOAD_POLL_MS;
/// Percent of deliveries the handler fails with 500.
const HANDLER_FAILURE_PERCENT: u64 = 12;
const MAX_HANDLER_DELAY_MS: u64 = 25;
/// The sender gives a copy up after this many attempts (about 7 s of backoff).
const MAX_ATTEMPTS: u32 = 20;
const BACKOFF_FIRST_MS: u64 = 40;
const BACKOFF_CAP_MS: u64 = 400;
/// hookshift outcomes the model reports.
const OUTCOMES: &[&str] = &[
    "delivered",
    "delivered_for_twin",
    "duplicate",
    "twin_in_flight",
    "acked",
    "rejected",
    "downstream_error",
    "ledger_unavailable",
];
/// How often each replica looks for a changed configuration.
const RELOAD_POLL_MS: u64 = 200;
/// Generous bound for a whole run on a loaded machine; a run takes seconds.
const RUN_DEADLINE: Duration = Duration::from_secs(180);

/// Golden cases (2025-04-21 input, 2026-02-09 output) the logical events are made from: runs of
/// every kind, a workflow run, a step run and resource events (identities with a second field).
const GOLDEN_PAIRS: &[&str] = &[
    "extract_processed",
    "extract_failed",
    "classify_processed",
    "classify_failed",
    "split_processed",
    "split_failed",
    "parse_processed",
    "parse_failed",
    "workflow_run_completed",
    "step_run_extract",
    "extractor_created",
    "classifier_updated",
    "workflow_deployed",
];

// ------------------------------------------------------------------------------------------ seeded plan

/// SplitMix64: a tiny, well-mixed PRNG, so the whole plan follows from [`SEED`].
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// A number decided by `parts` alone (not by the order things happen in).
fn mix(parts: &[u64]) -> u64 {
    let mut rng = Rng(SEED);
    for part in parts {
        rng.0 ^= *part;
        rng.next();
    }
    rng.next()
}

fn text_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A stage of docs/migration.md, as hookshift's policy and Extend's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// New endpoint created, disabled: old forwarded, new acknowledged.
    One,
    /// New endpoint enabled, its events acknowledged.
    Two,
    /// Single switch with the ledger: old rejected, new forwarded.
    Three,
    /// Roll back to the stage 2 policy.
    RollBack,
    /// Old endpoint disabled; hookshift unchanged (old still rejected).
    Five,
}

impl Stage {
    fn policy(self) -> (&'static str, &'static str) {
        match self {
            Stage::One | Stage::Two | Stage::RollBack => ("forward", "ack"),
            Stage::Three | Stage::Five => ("reject", "forward"),
        }
    }

    fn old_endpoint_enabled(self) -> bool {
        self != Stage::Five
    }

    fn new_endpoint_enabled(self) -> bool {
        self != Stage::One
    }
}

/// One logical event and its two copies.
struct LogicalEvent {
    created_ms: u64,
    old_delay_ms: u64,
    new_delay_ms: u64,
    old_body: Vec<u8>,
    new_body: Vec<u8>,
    old_event_id: String,
    new_event_id: String,
    /// At the handler's version (2026-02-09).
    event_type: String,
    payload_id: String,
}

impl LogicalEvent {
    fn event_ids(&self) -> [&str; 2] {
        [&self.old_event_id, &self.new_event_id]
    }
}

struct Plan {
    events: Vec<LogicalEvent>,
    /// When (ms after the start) the operator moves to each stage after stage 1.
    walk: Vec<(u64, Stage)>,
    restart_ms: u64,
}

impl Plan {
    /// The same events, the operator stopping after the switch from stage 2 to stage 3 (what the
    /// ledger was measured on: events lost and doubled by that one switch). The switch falls
    /// between the two copies of an event whose new copy comes well before its old one: without
    /// the ledger the new copy is acknowledged and the old one rejected for good.
    fn up_to_stage_three(mut self) -> Plan {
        self.walk.truncate(2);
        let (at, stage) = self.walk[1];
        assert_eq!(stage, Stage::Three);
        let straddling = self
            .events
            .iter()
            .filter(|e| e.created_ms.abs_diff(at) < 3_000)
            .max_by_key(|e| e.old_delay_ms as i64 - e.new_delay_ms as i64)
            .expect("events around the switch");
        assert!(
            straddling.old_delay_ms >= straddling.new_delay_ms + SWITCH_GAP_MS,
            "no event around the switch leaves room for it between its copies"
        );
        self.walk[1].0 = straddling.created_ms + straddling.new_delay_ms + 30;
        self
    }
}

fn golden(name: &str, which: &str) -> Value {
    let path = repo_path(&format!(
        "mappings/{OLD}_to_{NEW}/golden/{name}.{which}.json"
    ));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn with_ids(mut event: Value, event_id: &str, payload_id: &str) -> Vec<u8> {
    event["eventId"] = Value::String(event_id.to_owned());
    event["payload"]["id"] = Value::String(payload_id.to_owned());
    serde_json::to_vec(&event).unwrap()
}

fn plan() -> Plan {
    let pairs: Vec<(Value, Value)> = GOLDEN_PAIRS
        .iter()
        .map(|name| (golden(name, "input"), golden(name, "output")))
        .collect();
    let mut rng = Rng(SEED);
    let mut created: Vec<u64> = (0..EVENTS)
        .map(|_| rng.range(0, CREATION_SPAN_MS))
        .collect();
    created.sort_unstable();
    let mut events: Vec<LogicalEvent> = Vec::with_capacity(EVENTS);
    for (index, created_ms) in created.into_iter().enumerate() {
        let old_event_id = format!("evt_model_{index:03}_old");
        let new_event_id = format!("evt_model_{index:03}_new");
        let (old_delay_ms, new_delay_ms) = (
            rng.range(0, MAX_TWIN_DELAY_MS),
            rng.range(0, MAX_TWIN_DELAY_MS),
        );
        let earlier: Vec<usize> = (0..index)
            .filter(|&j| events[j].created_ms + MIN_REDELIVERY_GAP_MS <= created_ms)
            .collect();
        let redelivery = !earlier.is_empty() && rng.range(0, 99) < REDELIVERY_PERCENT;
        let (old, new, payload_id) = if redelivery {
            // The same run and content as an earlier event, sent again under new event ids.
            let earlier = &events[earlier[rng.range(0, earlier.len() as u64 - 1) as usize]];
            let parse = |body: &[u8]| serde_json::from_slice::<Value>(body).unwrap();
            (
                parse(&earlier.old_body),
                parse(&earlier.new_body),
                earlier.payload_id.clone(),
            )
        } else {
            let (old, new) = &pairs[rng.range(0, pairs.len() as u64 - 1) as usize];
            let payload_id = format!(
                "{}_m{index:03}",
                new["payload"]["id"].as_str().expect("golden payload.id")
            );
            (old.clone(), new.clone(), payload_id)
        };
        events.push(LogicalEvent {
            created_ms,
            old_delay_ms,
            new_delay_ms,
            old_body: with_ids(old, &old_event_id, &payload_id),
            event_type: new["eventType"].as_str().unwrap().to_owned(),
            new_body: with_ids(new, &new_event_id, &payload_id),
            old_event_id,
            new_event_id,
            payload_id,
        });
    }
    // Each stage lasts long enough for copies queued before it to leave and a few retries to run
    // (an operator waits out each stage's checks); the moment within that window is random.
    let walk = vec![
        (rng.range(2_500, 4_500), Stage::Two),
        (rng.range(9_500, 12_000), Stage::Three),
        (rng.range(15_000, 17_000), Stage::RollBack),
        (rng.range(20_000, 22_000), Stage::Three),
        (rng.range(26_000, 28_000), Stage::Five),
    ];
    Plan {
        events,
        walk,
        restart_ms: rng.range(11_000, 24_000),
    }
}

// ------------------------------------------------------------------------------------------ handler

/// One request the handler received, with what it answered (`recorded.answered`).
struct HandlerDelivery {
    recorded: Recorded,
}

/// The handler: fails and delays deliveries as the seed says, records everything.
struct Handler {
    url: String,
    deliveries: Arc<Mutex<Vec<HandlerDelivery>>>,
    task: JoinHandle<()>,
}

impl Handler {
    async fn start() -> Handler {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let deliveries: Arc<Mutex<Vec<HandlerDelivery>>> = Arc::default();
        let arrivals: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let (log, seen) = (Arc::clone(&deliveries), Arc::clone(&arrivals));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, seen) = (Arc::clone(&log), Arc::clone(&seen));
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (log, seen) = (Arc::clone(&log), Arc::clone(&seen));
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let payload_id = serde_json::from_slice::<Value>(&body)
                                .ok()
                                .and_then(|v| v["payload"]["id"].as_str().map(str::to_owned))
                                .unwrap_or_default();
                            let nth = {
                                let mut seen = seen.lock().unwrap();
                                let count = seen.entry(payload_id.clone()).or_insert(0);
                                *count += 1;
                                *count
                            };
                            let roll = mix(&[text_hash(&payload_id), nth]);
                            tokio::time::sleep(Duration::from_millis(
                                roll % (MAX_HANDLER_DELAY_MS + 1),
                            ))
                            .await;
                            let status = if (roll >> 32) % 100 < HANDLER_FAILURE_PERCENT {
                                500
                            } else {
                                200
                            };
                            log.lock().unwrap().push(HandlerDelivery {
                                recorded: Recorded {
                                    uri: parts.uri.to_string(),
                                    headers: parts.headers,
                                    body,
                                    answered: status,
                                    received_at: now(),
                                },
                            });
                            let mut response =
                                Response::new(Full::new(Bytes::from_static(b"{\"ok\":true}")));
                            *response.status_mut() = StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Handler {
            url,
            deliveries,
            task,
        }
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ------------------------------------------------------------------------------------------ sender

/// One attempt of one copy: hookshift's status (0: unreachable) and its `status` or `error`.
#[derive(Debug, Clone)]
struct Attempt {
    /// When it was answered, in ms after the run's start.
    at_ms: u128,
    status: u16,
    answer: String,
}

/// What the sender did with one copy.
#[derive(Debug, Clone)]
struct CopyLog {
    event: usize,
    version: &'static str,
    event_id: String,
    attempts: Vec<Attempt>,
}

impl CopyLog {
    fn acknowledged(&self) -> bool {
        self.attempts
            .last()
            .is_some_and(|a| (200..300).contains(&a.status))
    }
}

/// The hookshift replicas: where the sender reaches each one now, and the running processes.
struct Fleet {
    bases: Mutex<Vec<String>>,
    running: tokio::sync::Mutex<Vec<Option<Hookshift>>>,
}

/// The operator's configuration: written (and replicas started) under one lock, so a restarted
/// replica never loads an older stage than the file holds.
struct Operator {
    dir: tempfile::TempDir,
    spec: tokio::sync::Mutex<ConfigSpec>,
}

impl Operator {
    /// Starts a replica on the current stage and holds the configuration until it serves: a stage
    /// written while it starts would otherwise be taken for the one it loaded (`run` fingerprints
    /// the file after the caller read it) and never applied.
    async fn start_replica(&self) -> Hookshift {
        let spec = self.spec.lock().await;
        let hs = Hookshift::start(self.dir.path(), &spec).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = reqwest::get(format!("{}/readyz", hs.admin)).await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return hs;
            }
            assert!(Instant::now() < deadline, "the replica never became ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn enter(&self, stage: Stage) {
        let mut spec = self.spec.lock().await;
        set_stage(&mut spec, stage);
        std::fs::write(self.dir.path().join("config.toml"), spec.toml()).unwrap();
    }
}

fn set_stage(spec: &mut ConfigSpec, stage: Stage) {
    let (old, new) = stage.policy();
    let route = spec.routes[0].clone().policy(OLD, old).policy(NEW, new);
    spec.routes[0] = route;
}

struct Endpoints {
    old_enabled: AtomicBool,
    new_enabled: AtomicBool,
}

fn backoff_ms(event: usize, version: &str, failures: u32) -> u64 {
    let exponential = BACKOFF_FIRST_MS.saturating_mul(1 << failures.min(16));
    let jitter = mix(&[event as u64, text_hash(version), u64::from(failures)]) % 41;
    exponential.min(BACKOFF_CAP_MS) + jitter
}

async fn attempt(client: &reqwest::Client, url: &str, body: &[u8], start: Instant) -> Attempt {
    let mut request = client.post(url).body(body.to_vec());
    for (name, value) in extend_headers(IN_SECRET, now(), body) {
        request = request.header(name, value);
    }
    let response = match request.send().await {
        Ok(response) => response,
        // Connection refused or cut (a replica restarting): retried like any non-2xx.
        Err(_) => {
            return Attempt {
                at_ms: start.elapsed().as_millis(),
                status: 0,
                answer: "unreachable".to_owned(),
            }
        }
    };
    let status = response.status().as_u16();
    let json: Value = response.json().await.unwrap_or(Value::Null);
    let answer = json["status"]
        .as_str()
        .or_else(|| json["error"].as_str())
        .unwrap_or("?")
        .to_owned();
    Attempt {
        at_ms: start.elapsed().as_millis(),
        status,
        answer,
    }
}

/// Sends one copy and retries it until hookshift answers 2xx or the sender gives up.
async fn send_copy(
    client: reqwest::Client,
    fleet: Arc<Fleet>,
    route: String,
    mut log: CopyLog,
    body: Vec<u8>,
    start: Instant,
) -> CopyLog {
    let query = if log.version == NEW {
        format!("?api_version={NEW}")
    } else {
        String::new()
    };
    for failures in 0..MAX_ATTEMPTS {
        let base = {
            let bases = fleet.bases.lock().unwrap();
            let pick = mix(&[
                log.event as u64,
                text_hash(log.version),
                7,
                u64::from(failures),
            ]);
            bases[pick as usize % bases.len()].clone()
        };
        let result = attempt(
            &client,
            &format!("{base}/hooks/{route}{query}"),
            &body,
            start,
        )
        .await;
        let done = (200..300).contains(&result.status);
        log.attempts.push(result);
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(backoff_ms(
            log.event,
            log.version,
            failures,
        )))
        .await;
    }
    log
}

// ------------------------------------------------------------------------------------------ a run

/// Whether a replica is restarted (gracefully stopped, then started again) during the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    None,
    Once,
}

/// What one run leaves: the sender's log and the handler's.
struct RunLog {
    /// Whether a replica was restarted during the run.
    restarted: bool,
    copies: Vec<CopyLog>,
    /// hookshift's outcome counts for the route (metrics are process-wide: every replica and restart).
    outcomes: BTreeMap<&'static str, u64>,
    /// Ledger operations that failed meanwhile (process-wide: a parallel test's count too), each one
    /// a request served as without a ledger.
    ledger_errors: u64,
    /// Deliveries the ledger could not tell from a twin's and made anyway, counted: the only
    /// deliveries allowed beyond one per event.
    uncertain: u64,
    handler: Vec<HandlerDelivery>,
    stages_entered: usize,
}

impl RunLog {
    /// Deliveries the handler accepted, per run (`payload.id`): the logical events about one run
    /// are the same content under other event ids, so which of them a delivery stands for is the
    /// ledger's pairing, not the handler's concern; how many reached it is.
    fn accepted<'a>(&'a self, plan: &'a Plan) -> BTreeMap<&'a str, Vec<&'a Recorded>> {
        let mut per_run: BTreeMap<&'a str, Vec<&'a Recorded>> = plan
            .events
            .iter()
            .map(|e| (e.payload_id.as_str(), Vec::new()))
            .collect();
        for delivery in self.handler.iter().filter(|d| d.recorded.answered == 200) {
            let json = delivery.recorded.json();
            let id = json["payload"]["id"].as_str().unwrap_or_default();
            let (&run, _) = per_run
                .get_key_value(id)
                .unwrap_or_else(|| panic!("the handler got an event nobody sent: {json}"));
            per_run.get_mut(run).unwrap().push(&delivery.recorded);
        }
        per_run
    }

    /// (events never delivered, events delivered more than once), counted per run.
    fn tally(&self, plan: &Plan) -> (usize, usize) {
        let mut lost = 0;
        let mut twice = 0;
        for (run, accepted) in self.accepted(plan) {
            let sent = plan.events.iter().filter(|e| e.payload_id == run).count();
            lost += sent.saturating_sub(accepted.len());
            twice += accepted.len().saturating_sub(sent);
        }
        (lost, twice)
    }

    fn answers(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for attempt in self.copies.iter().flat_map(|c| &c.attempts) {
            *counts
                .entry(format!("{} {}", attempt.status, attempt.answer))
                .or_insert(0) += 1;
        }
        counts
    }

    fn history(&self, plan: &Plan, run: &str) -> String {
        self.copies
            .iter()
            .filter(|c| plan.events[c.event].payload_id == run)
            .map(|c| {
                let attempts: Vec<String> = c
                    .attempts
                    .iter()
                    .map(|a| format!("{}ms {} {}", a.at_ms, a.status, a.answer))
                    .collect();
                format!("{} {}: [{}]", c.version, c.event_id, attempts.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The shipped mappings as hookshift loads them, without the golden cases: every replica
/// fingerprints its mappings on each reload poll, and the golden cases are most of their bytes.
fn shipped_mappings_without_golden_cases(dir: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if entry.file_type().unwrap().is_dir() {
                if name != "golden" {
                    copy(&entry.path(), &to.join(&name));
                }
            } else {
                std::fs::copy(entry.path(), to.join(&name)).unwrap();
            }
        }
    }
    let mappings = dir.join("mappings");
    copy(&repo_path("mappings"), &mappings);
    mappings
}

fn ledger_toml(backend: Option<&Backend>) -> String {
    match backend {
        None => "[ledger]\nbackend = \"off\"\n".to_owned(),
        Some(backend) => format!(
            "{}pair_window_ms = {PAIR_WINDOW_MS}\n",
            backend.ledger_toml()
        ),
    }
}

/// Runs the whole migration once against `replicas` hookshift processes sharing one configuration
/// file (and the ledger of `backend`, if any).
async fn run_model(
    plan: &Plan,
    route: &str,
    backend: Option<&Backend>,
    replicas: usize,
    restart: Restart,
) -> RunLog {
    let handler = Handler::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ConfigSpec::new(
        &shipped_mappings_without_golden_cases(dir.path()),
        vec![RouteSpec::new(route, &handler.url)],
    );
    spec.ledger = ledger_toml(backend);
    spec.reload_poll_ms = RELOAD_POLL_MS;
    set_stage(&mut spec, Stage::One);
    let operator = Arc::new(Operator {
        dir,
        spec: tokio::sync::Mutex::new(spec),
    });
    let mut running = Vec::new();
    for _ in 0..replicas {
        running.push(operator.start_replica().await);
    }
    let fleet = Arc::new(Fleet {
        bases: Mutex::new(running.iter().map(|hs| hs.base.clone()).collect()),
        running: tokio::sync::Mutex::new(running.into_iter().map(Some).collect()),
    });
    let endpoints = Arc::new(Endpoints {
        old_enabled: AtomicBool::new(Stage::One.old_endpoint_enabled()),
        new_enabled: AtomicBool::new(Stage::One.new_endpoint_enabled()),
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let ledger_errors_before = {
        let running = fleet.running.lock().await;
        metric_sum(
            &running[0].as_ref().unwrap().metrics().await,
            "hookshift_ledger_errors_total",
            &[],
        )
    };
    let start = Instant::now();
    let at = |ms: u64| tokio::time::sleep_until((start + Duration::from_millis(ms)).into());

    let walk = {
        let (operator, endpoints, walk) = (
            Arc::clone(&operator),
            Arc::clone(&endpoints),
            plan.walk.clone(),
        );
        tokio::spawn(async move {
            for (ms, stage) in &walk {
                tokio::time::sleep_until((start + Duration::from_millis(*ms)).into()).await;
                // hookshift first, then Extend (docs/migration.md: the new endpoint is enabled once
                // its events are acknowledged; the old one disabled once it is rejected).
                operator.enter(*stage).await;
                endpoints
                    .new_enabled
                    .store(stage.new_endpoint_enabled(), Ordering::SeqCst);
                endpoints
                    .old_enabled
                    .store(stage.old_endpoint_enabled(), Ordering::SeqCst);
            }
            walk.len()
        })
    };

    let restart = {
        let (operator, fleet, restart_ms) =
            (Arc::clone(&operator), Arc::clone(&fleet), plan.restart_ms);
        tokio::spawn(async move {
            if restart == Restart::None {
                return false;
            }
            tokio::time::sleep_until((start + Duration::from_millis(restart_ms)).into()).await;
            let replica = (mix(&[restart_ms]) % fleet.bases.lock().unwrap().len() as u64) as usize;
            let stopping = fleet.running.lock().await[replica].take().unwrap();
            stopping.stop().await.expect("a graceful stop");
            let started = operator.start_replica().await;
            fleet.bases.lock().unwrap()[replica] = started.base.clone();
            fleet.running.lock().await[replica] = Some(started);
            true
        })
    };

    let mut copies: Vec<JoinHandle<CopyLog>> = Vec::new();
    for (index, event) in plan.events.iter().enumerate() {
        at(event.created_ms).await;
        let queued = [
            (
                OLD,
                endpoints.old_enabled.load(Ordering::SeqCst),
                event.old_delay_ms,
                &event.old_body,
                &event.old_event_id,
            ),
            (
                NEW,
                endpoints.new_enabled.load(Ordering::SeqCst),
                event.new_delay_ms,
                &event.new_body,
                &event.new_event_id,
            ),
        ];
        for (version, enabled, delay_ms, body, event_id) in queued {
            if !enabled {
                continue;
            }
            let (client, fleet, route, body) = (
                client.clone(),
                Arc::clone(&fleet),
                route.to_owned(),
                body.clone(),
            );
            let log = CopyLog {
                event: index,
                version,
                event_id: event_id.clone(),
                attempts: Vec::new(),
            };
            let leaves = start + Duration::from_millis(event.created_ms + delay_ms);
            copies.push(tokio::spawn(async move {
                tokio::time::sleep_until(leaves.into()).await;
                send_copy(client, fleet, route, log, body, start).await
            }));
        }
    }

    let finished = tokio::time::timeout(RUN_DEADLINE, async {
        let mut logs = Vec::new();
        for copy in copies {
            logs.push(copy.await.unwrap());
        }
        let stages_entered = walk.await.unwrap();
        let restarted = restart.await.unwrap();
        (logs, stages_entered, restarted)
    })
    .await;
    let (copies, stages_entered, restarted) =
        finished.expect("the sender finished within the run's deadline");
    let page = fleet.running.lock().await[0]
        .as_ref()
        .unwrap()
        .metrics()
        .await;
    let ledger_errors =
        (metric_sum(&page, "hookshift_ledger_errors_total", &[]) - ledger_errors_before) as u64;
    if ledger_errors > 0 {
        let by_operation: Vec<&str> = page
            .lines()
            .filter(|l| l.starts_with("hookshift_ledger_errors_total{"))
            .collect();
        println!("ledger errors (process-wide, since the process started): {by_operation:?}");
    }
    let outcomes = OUTCOMES
        .iter()
        .map(|outcome| {
            let labels = [("route", route), ("outcome", *outcome)];
            let count = metric_sum(&page, "hookshift_events_total", &labels);
            (*outcome, count as u64)
        })
        .collect();
    let uncertain = metric_sum(
        &page,
        "hookshift_ledger_uncertain_deliveries_total",
        &[("route", route)],
    ) as u64;
    for hs in fleet.running.lock().await.iter_mut() {
        hs.take().unwrap().stop().await.unwrap();
    }
    let handler = std::mem::take(&mut *handler.deliveries.lock().unwrap());
    RunLog {
        restarted,
        copies,
        outcomes,
        ledger_errors,
        uncertain,
        handler,
        stages_entered,
    }
}

// ------------------------------------------------------------------------------------------ checks

fn report(label: &str, plan: &Plan, log: &RunLog) -> (usize, usize) {
    let (lost, twice) = log.tally(plan);
    println!(
        "migration model, {label}: {} logical events, {lost} never delivered, {twice} delivered more \
         than once; hookshift outcomes {:?}; uncertain deliveries {}; ledger errors {}; sender answers {:?}",
        plan.events.len(),
        log.outcomes,
        log.uncertain,
        log.ledger_errors,
        log.answers()
    );
    (lost, twice)
}

/// Every logical event reached the handler exactly once, signed for it, as the copy the sender was
/// told was delivered; no copy was given up.
fn assert_exactly_once(plan: &Plan, log: &RunLog, restart: Restart) {
    assert_eq!(log.restarted, restart == Restart::Once);
    assert_eq!(
        log.stages_entered,
        plan.walk.len(),
        "the operator walked every stage"
    );
    let mut extra = 0;
    for (run, accepted) in log.accepted(plan) {
        let history = log.history(plan, run);
        let events: Vec<&LogicalEvent> =
            plan.events.iter().filter(|e| e.payload_id == run).collect();
        assert!(
            accepted.len() >= events.len(),
            "run {run} ({}): {} event(s) sent, {} reached the handler; sender: {history}",
            events[0].event_type,
            events.len(),
            accepted.len()
        );
        extra += accepted.len() - events.len();
        let ids: Vec<&str> = events.iter().flat_map(|e| e.event_ids()).collect();
        let mut handler_ids = Vec::new();
        for delivered in &accepted {
            delivered.assert_signed(Provider::Extend, OUT_SECRET);
            let body = delivered.json();
            assert_eq!(
                body["eventType"],
                events[0].event_type.as_str(),
                "{history}"
            );
            let id = body["eventId"].as_str().unwrap_or_default().to_owned();
            assert!(ids.contains(&id.as_str()), "{id} not sent: {history}");
            handler_ids.push(id);
        }
        // The sender's log says which copies went through: one answer `delivered` per delivery,
        // for the copies the handler has.
        let mut told_delivered: Vec<String> = log
            .copies
            .iter()
            .filter(|c| plan.events[c.event].payload_id == run)
            .flat_map(|c| {
                c.attempts
                    .iter()
                    .filter(|a| a.status == 200 && a.answer.starts_with("delivered"))
                    .map(|_| c.event_id.clone())
            })
            .collect();
        told_delivered.sort();
        handler_ids.sort();
        assert_eq!(told_delivered, handler_ids, "run {run}: {history}");
    }
    let given_up: Vec<String> = log
        .copies
        .iter()
        .filter(|c| !c.acknowledged())
        .map(|c| {
            let event = &plan.events[c.event];
            format!(
                "event {} ({} {}): {}",
                c.event,
                event.event_type,
                event.payload_id,
                log.history(plan, &event.payload_id)
            )
        })
        .collect();
    assert!(
        given_up.is_empty(),
        "copies the sender gave up: {given_up:#?}"
    );
    // A second delivery is allowed only where the ledger said it could not tell, and counted it.
    assert!(
        extra as u64 <= log.uncertain,
        "{extra} deliveries beyond one per event, {} counted uncertain",
        log.uncertain
    );
    // The walk exercised what the ledger is for, not only the easy path.
    let outcomes = &log.outcomes;
    assert!(outcomes["duplicate"] >= 1, "{outcomes:?}");
    let redeliveries = plan.events.len()
        - plan
            .events
            .iter()
            .map(|e| e.payload_id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
    assert!(
        redeliveries >= 8,
        "{redeliveries} re-deliveries in the plan"
    );
    assert!(
        log.handler.iter().any(|d| d.recorded.answered == 500),
        "the handler failed some deliveries"
    );
}

/// Across the whole walk (stage 2 holds new copies, stage 3 rejects old ones), some events reached
/// the handler through their twin: the path that makes stage switches lossless was taken.
fn assert_twins_stood_in(log: &RunLog) {
    let outcomes = &log.outcomes;
    assert!(outcomes["delivered_for_twin"] >= 1, "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_migration_delivers_every_event_exactly_once_on_the_file_ledger() {
    let plan = plan();
    let off = run_model(&plan, "model-ledger-off", None, 1, Restart::Once).await;
    let (lost, twice) = report("ledger off (restarted once)", &plan, &off);
    let backend = Backend::new(LedgerBackend::File).expect("file backend");
    let on = run_model(&plan, "model-file", Some(&backend), 1, Restart::Once).await;
    report("ledger on (file, restarted once)", &plan, &on);
    assert_exactly_once(&plan, &on, Restart::Once);
    assert_twins_stood_in(&on);
    // What the ledger is for: without it, the same walk strands or doubles events.
    assert!(lost + twice > 0, "ledger off: lost {lost}, twice {twice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_switch_from_stage_2_to_3_loses_and_doubles_events_only_without_the_ledger() {
    let plan = plan().up_to_stage_three();
    let off = run_model(&plan, "model-switch-off", None, 1, Restart::None).await;
    let (lost, twice) = report("stage 2 -> 3, ledger off", &plan, &off);
    let backend = Backend::new(LedgerBackend::File).expect("file backend");
    let on = run_model(&plan, "model-switch-file", Some(&backend), 1, Restart::None).await;
    report("stage 2 -> 3, ledger on (file)", &plan, &on);
    assert_exactly_once(&plan, &on, Restart::None);
    assert_twins_stood_in(&on);
    assert!(lost + twice > 0, "ledger off: lost {lost}, twice {twice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_migration_delivers_every_event_exactly_once_on_two_replicas_over_redis() {
    let Some(backend) = Backend::new(LedgerBackend::Redis) else {
        return;
    };
    let plan = plan();
    let on = run_model(&plan, "model-redis", Some(&backend), 2, Restart::None).await;
    report("ledger on (redis, two replicas)", &plan, &on);
    assert_exactly_once(&plan, &on, Restart::None);
    assert_twins_stood_in(&on);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_over_redis_one_restarted_deliver_every_event_exactly_once() {
    let Some(backend) = Backend::new(LedgerBackend::Redis) else {
        return;
    };
    let plan = plan();
    let on = run_model(
        &plan,
        "model-redis-restart",
        Some(&backend),
        2,
        Restart::Once,
    )
    .await;
    report("ledger on (redis, two replicas, one restarted)", &plan, &on);
    assert_exactly_once(&plan, &on, Restart::Once);
}
