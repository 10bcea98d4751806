//! CPU cost of one webhook through hookshift, beside the cost of parsing and printing its JSON once.
//!
//! `cargo bench --bench pipeline` (events: `bench/events/`, made by `bench/make_events.py`).
//!
//! Groups, per event size (5 KB and 100 KB realistic EXTRACT runs):
//! - `floor`: `serde_json::from_slice::<serde_json::Value>` + `serde_json::to_vec` of the same bytes, with the
//!   crate's serde_json features (`arbitrary_precision`, `preserve_order`): the cost the pipeline is
//!   measured against.
//! - `pipeline`: what the proxy does to a request body between reading it and handing it to the HTTP
//!   client: verify the Extend signature, strict parse ([`hookshift::json::parse`]) and envelope
//!   checks, translate along the plan, serialize, sign with the handler's secret (headers built).
//! - `forward`: the same for an event whose version is the handler's (no translation: the body is
//!   checked by [`hookshift::json::scan`] and the received bytes are re-signed as they are).
//! - `translate`: [`hookshift::mapping::translate`] alone (the input `Value` is cloned outside the
//!   timing).
//! - `verify`, `parse_strict`, `scan`, `parse_serde_json`, `serialize`, `sign`: the parts, to see where
//!   time goes.
//! - `drift_handoff`: what a translated request adds for the carried-field count (reserve, build and
//!   queue the scan job); `drift_scan`: the scan itself, which runs on the background thread.
//!
//! Time is the benchmark thread's CPU time (the machine is shared; `BENCH_WALL_TIME=1` for wall
//! time), with the binary's allocator (mimalloc) for every group, the floor included
//! (`BENCH_SYSTEM_ALLOC=1` for the system allocator).
//!
//! `…/20m`: the 20 MB workflow run (`bench/large_event.rs`, 2025-04-21 -> 2026-02-09) with `floor`,
//! `pipeline`, `translate`, `parse_strict` and `serialize` only, 10 samples (`BENCH_LARGE=0` skips it).
//!
//! Every translation direction the mappings folder can do is measured: 2025-04-21 -> 2026-02-09
//! (`processor_run.processed`, what the default configuration translates) and 2026-02-09 -> 2025-04-21
//! (`extract_run.processed`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use bytes::Bytes;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BatchSize, Criterion, Throughput};
use hookshift::config::{Secret, ValidateOutput};
use hookshift::json::Value;
use hookshift::mapping::{translate, Delivery, Mappings, Plan};
use hookshift::pipeline::budget::BodyBudget;
use hookshift::pipeline::drift::{self, ScanInput, ScanJob};
use hookshift::provider::{self, Provider, VerifyParams};
use hookshift::schema::Schemas;
use http::{HeaderMap, HeaderValue};

#[path = "../bench/large_event.rs"]
mod large_event;

/// The id of the large event's case.
const LARGE_CASE: &str = "2025-04-21_to_2026-02-09/20m";

/// The allocator of the hookshift binary (src/main.rs), mimalloc, for the floor and the pipeline
/// alike; `BENCH_SYSTEM_ALLOC=1` uses the system allocator instead (to see what mimalloc gains).
#[global_allocator]
static GLOBAL: BenchAlloc = BenchAlloc;

struct BenchAlloc;

/// 0: not decided yet, 1: mimalloc, 2: system. Decided at the first allocation (on the main thread,
/// before any other thread exists) and never changed, so every block is freed by its allocator.
static ALLOCATOR: AtomicU8 = AtomicU8::new(0);

fn use_system() -> bool {
    match ALLOCATOR.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            // SAFETY: getenv with a NUL-terminated name; it allocates nothing.
            let system = unsafe { !libc::getenv(c"BENCH_SYSTEM_ALLOC".as_ptr()).is_null() };
            ALLOCATOR.store(if system { 2 } else { 1 }, Ordering::Relaxed);
            system
        }
    }
}

// SAFETY: every call is forwarded to one allocator, the same for the whole run.
unsafe impl GlobalAlloc for BenchAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if use_system() {
            System.alloc(layout)
        } else {
            mimalloc::MiMalloc.alloc(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if use_system() {
            System.dealloc(ptr, layout)
        } else {
            mimalloc::MiMalloc.dealloc(ptr, layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if use_system() {
            System.alloc_zeroed(layout)
        } else {
            mimalloc::MiMalloc.alloc_zeroed(layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if use_system() {
            System.realloc(ptr, layout, new_size)
        } else {
            mimalloc::MiMalloc.realloc(ptr, layout, new_size)
        }
    }
}

const TIMESTAMP: i64 = 1_771_000_000;
const INBOUND_SECRETS: [&str; 2] = [
    "wss_dev_old_endpoint_replace_in_production",
    "wss_dev_new_endpoint_replace_in_production",
];
const HANDLER_SECRET: &str = "wss_dev_handler_replace_in_production";
/// A number in every benchmark event that must come out byte for byte.
const EXACT_NUMBER: &str = "12345678901234567890.12345";

struct Case {
    /// `2025-04-21_to_2026-02-09/5k`.
    id: String,
    body: Bytes,
    headers: HeaderMap,
    plan: Plan,
    event: Value,
    from: String,
    event_type: String,
}

struct Env {
    inbound: Vec<Secret>,
    handler: Secret,
    schemas: Arc<Schemas>,
    budget: Arc<BodyBudget>,
    /// The drift scan queue, drained by the benchmark itself (see [`drift_handoff`]).
    queue: (SyncSender<ScanJob>, Receiver<ScanJob>),
}

fn repo(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn signed_headers(body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        provider::EXTEND_TIMESTAMP_HEADER,
        HeaderValue::from_str(&TIMESTAMP.to_string()).unwrap(),
    );
    let sig =
        provider::extend_signature(INBOUND_SECRETS[0].as_bytes(), &TIMESTAMP.to_string(), body);
    headers.insert(
        provider::EXTEND_SIGNATURE_HEADER,
        HeaderValue::from_str(&sig).unwrap(),
    );
    headers
}

/// Every (direction, size) the mappings can translate.
fn cases(mappings: &Mappings) -> Vec<Case> {
    let directions = [
        ("2025-04-21", "2026-02-09", "processor_run"),
        ("2026-02-09", "2025-04-21", "extract_run"),
    ];
    let mut out = Vec::new();
    for (from, to, stem) in directions {
        let Ok(plan) = mappings.plan(from, to) else {
            eprintln!("no mapping from {from} to {to}: not measured");
            continue;
        };
        for size in ["5k", "100k"] {
            let file = repo(&format!("bench/events/{stem}_{size}.json"));
            let body = std::fs::read(&file).unwrap_or_else(|e| {
                panic!("{}: {e} (run bench/make_events.py first)", file.display())
            });
            let event = hookshift::json::parse(&body).expect("benchmark event parses");
            match translate(
                plan,
                event.clone(),
                &Delivery {
                    timestamp: TIMESTAMP,
                },
            ) {
                Ok(out) => {
                    let bytes = out.to_vec();
                    let text = String::from_utf8_lossy(&bytes);
                    assert!(text.contains(EXACT_NUMBER), "exact number lost");
                }
                Err(e) => {
                    eprintln!(
                        "{from} -> {to} cannot translate {}: {e}; not measured",
                        file.display()
                    );
                    continue;
                }
            }
            out.push(Case {
                id: format!("{from}_to_{to}/{size}"),
                headers: signed_headers(&body),
                body: Bytes::from(body),
                event_type: event
                    .get("eventType")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                plan: plan.clone(),
                event,
                from: from.to_owned(),
            });
        }
    }
    out
}

/// The 20 MB workflow run, translated 2025-04-21 -> 2026-02-09.
fn large_case(mappings: &Mappings) -> Case {
    let plan = mappings
        .plan("2025-04-21", "2026-02-09")
        .expect("a plan up");
    let body = large_event::workflow_run(large_event::LARGE_EVENT_BYTES);
    let event = hookshift::json::parse(&body).expect("the large event parses");
    translate(
        plan,
        event.clone(),
        &Delivery {
            timestamp: TIMESTAMP,
        },
    )
    .expect("the large event translates");
    Case {
        id: LARGE_CASE.to_owned(),
        headers: signed_headers(&body),
        body: Bytes::from(body),
        event_type: "workflow_run.completed".to_owned(),
        plan: plan.clone(),
        event,
        from: "2025-04-21".to_owned(),
    }
}

fn verify(env: &Env, case: &Case) -> provider::Verified {
    provider::verify(
        VerifyParams {
            provider: Provider::Extend,
            secrets: &env.inbound,
            tolerance_secs: 300,
            now: TIMESTAMP,
        },
        &case.headers,
        case.body.clone(),
    )
    .expect("verifies")
}

/// The envelope checks of the pipeline's `decide` stage and the fields it reads for labels and logs.
fn parse_event(body: &[u8]) -> (Value, String, Option<String>) {
    let event = hookshift::json::parse(body).expect("parses");
    let object = event.as_object().expect("object");
    assert!(object.get("eventType").is_some_and(Value::is_string));
    assert!(object.contains_key("payload"));
    let event_type = object
        .get("eventType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let event_id = object
        .get("eventId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    (event, event_type, event_id)
}

fn sign(env: &Env, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in provider::sign(Provider::Extend, &env.handler, TIMESTAMP + 1, body) {
        headers.insert(name, value);
    }
    headers
}

/// verify -> parse -> translate -> serialize -> sign: the proxy's work on one translated event.
fn pipeline(env: &Env, case: &Case) -> (Bytes, HeaderMap) {
    let verified = verify(env, case);
    let (event, _event_type, _event_id) = parse_event(verified.body());
    let delivery = Delivery {
        timestamp: verified.timestamp(),
    };
    let translated = translate(&case.plan, event, &delivery).expect("translates");
    let _out_type = translated
        .get("eventType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // As the proxy does: the tree consumed as it is written, into a buffer of the text's length.
    let body = Bytes::from(translated.into_json());
    let headers = sign(env, &body);
    (body, headers)
}

/// verify -> parse (envelope, labels) -> sign the received bytes: an event needing no translation.
fn forward(env: &Env, case: &Case) -> (Bytes, HeaderMap) {
    let verified = verify(env, case);
    // As the proxy does for events it does not translate: checked as strictly, no tree built.
    let envelope = hookshift::json::scan(verified.body()).expect("scans");
    assert!(envelope.is_object && envelope.event_type.is_some() && envelope.payload.is_some());
    let body = verified.body().clone();
    let headers = sign(env, &body);
    (body, headers)
}

/// The runtime output check of a translated event against its target version's schema, as the
/// translate stage runs it (`schemas.validate_output = "observe"`).
fn validate_output(
    env: &Env,
    case: &Case,
    translated: &Value,
) -> Option<hookshift::pipeline::output_check::InvalidOutput> {
    let target = case
        .id
        .split('/')
        .next()
        .and_then(|step| step.split_once("_to_"))
        .map_or("", |(_, to)| to);
    hookshift::pipeline::output_check::check(
        &env.schemas,
        ValidateOutput::Observe,
        target,
        hookshift::mapping::DEFAULT_EVENT_TYPE_KEY,
        translated,
    )
}

/// What a translated request does on its own thread for the drift scan (the proxy's
/// `scan_for_carried`): reserve the scan's budget, build the job (a shared reference to the body, no
/// copy) and queue it without waiting. Here the job is also taken off the queue and dropped again, so
/// this is an upper bound of the request's share.
fn drift_handoff(env: &Env, case: &Case) {
    let permit = drift::reserve(&env.budget, case.body.len()).expect("the budget holds a scan");
    let job = ScanJob {
        schemas: Arc::clone(&env.schemas),
        route: "extend".to_owned(),
        event_type_label: case.event_type.clone(),
        event_type: case.event_type.clone(),
        version: case.from.clone(),
        input: ScanInput::Body(case.body.clone()),
        dropped: Vec::new(),
        output: None,
        permit,
        history: None,
    };
    env.queue.0.try_send(job).expect("the queue has room");
    drop(black_box(env.queue.1.try_recv().expect("queued")));
}

/// The background scan thread's work for one event: parse it (serde_json) and walk it against its
/// source version's schema for undeclared keys.
fn drift_scan(env: &Env, case: &Case) -> Vec<String> {
    let event: serde_json::Value = serde_json::from_slice(&case.body).expect("parses");
    env.schemas
        .undeclared_paths(&case.from, &case.event_type, &event)
}

fn floor(body: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(body).expect("parses");
    serde_json::to_vec(&value).expect("serializes")
}

/// Time as the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`): on a shared machine the wall
/// clock also counts the time other processes hold the cores, the thread's CPU time does not.
/// `BENCH_WALL_TIME=1` measures wall time instead.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }

    fn add(&self, v1: &u64, v2: &u64) -> u64 {
        v1 + v2
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

/// Formats nanoseconds like criterion's wall-time formatter (ns, µs, ms, s).
struct NanosFormatter;

impl NanosFormatter {
    fn unit(typical: f64) -> (f64, &'static str) {
        if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e-3, "µs")
        } else if typical < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        }
    }
}

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = Self::unit(typical);
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        match throughput {
            Throughput::Bytes(bytes) | Throughput::BytesDecimal(bytes) => {
                // bytes per ns -> MB/s (10^6 B/s).
                for v in values.iter_mut() {
                    *v = *bytes as f64 / *v * 1e3;
                }
                let _ = typical;
                "MB/s"
            }
            Throughput::Elements(n) => {
                for v in values.iter_mut() {
                    *v = *n as f64 / *v * 1e9;
                }
                "elem/s"
            }
        }
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn setup() -> (Env, Vec<Case>, Mappings) {
    let mappings = Mappings::load(&repo("mappings")).expect("mappings load");
    let env = Env {
        inbound: INBOUND_SECRETS.iter().map(|s| Secret::inline(*s)).collect(),
        handler: Secret::inline(HANDLER_SECRET),
        schemas: Arc::new(Schemas::load(&repo("schemas")).expect("schemas load")),
        budget: BodyBudget::new(256 << 20),
        queue: std::sync::mpsc::sync_channel(64),
    };
    let cases = cases(&mappings);
    (env, cases, mappings)
}

/// `BENCH_REPEAT=<case>/<function>:<n>` (e.g. `2025-04-21_to_2026-02-09/5k/pipeline:1000`) runs one
/// function `n` times without criterion and exits: instruction counts under
/// `valgrind --tool=callgrind` are deterministic where timings on a shared machine are not
/// (`bench/callgrind.sh` does the arithmetic). `clone` is the `Value` clone `translate` starts from.
fn repeat(spec: &str, env: &Env, cases: &[Case]) {
    let (what, n) = spec
        .rsplit_once(':')
        .expect("BENCH_REPEAT=<case>/<function>:<n>");
    let n: usize = n.parse().expect("repeat count");
    let (case_id, function) = what
        .rsplit_once('/')
        .expect("BENCH_REPEAT=<case>/<function>:<n>");
    let case = cases
        .iter()
        .find(|c| c.id == case_id)
        .unwrap_or_else(|| panic!("no case {case_id}"));
    let delivery = Delivery {
        timestamp: TIMESTAMP,
    };
    let translated = translate(&case.plan, case.event.clone(), &delivery).unwrap();
    for _ in 0..n {
        match function {
            "floor" => drop(black_box(floor(black_box(&case.body)))),
            "pipeline" => drop(black_box(pipeline(env, black_box(case)))),
            "forward" => drop(black_box(forward(env, black_box(case)))),
            "translate" => drop(black_box(
                translate(&case.plan, case.event.clone(), &delivery).unwrap(),
            )),
            "clone" => drop(black_box(case.event.clone())),
            "verify" => drop(black_box(verify(env, black_box(case)))),
            "parse_strict" => drop(black_box(hookshift::json::parse(&case.body).unwrap())),
            "scan" => drop(black_box(hookshift::json::scan(&case.body).unwrap())),
            "parse_serde_json" => drop(black_box(
                serde_json::from_slice::<serde_json::Value>(&case.body).unwrap(),
            )),
            "serialize" => drop(black_box(translated.to_vec())),
            "validate_output" => drop(black_box(validate_output(env, case, &translated))),
            "sign" => drop(black_box(sign(env, black_box(&case.body)))),
            "drift_handoff" => drift_handoff(env, black_box(case)),
            "drift_scan" => drop(black_box(drift_scan(env, black_box(case)))),
            other => panic!("unknown function {other}"),
        }
    }
}

fn benches<M: Measurement>(c: &mut Criterion<M>, env: &Env, cases: &[Case]) {
    for case in cases {
        let mut group = c.benchmark_group(case.id.clone());
        group.throughput(Throughput::Bytes(case.body.len() as u64));
        group.bench_function("floor", |b| b.iter(|| floor(black_box(&case.body))));
        group.bench_function("pipeline", |b| b.iter(|| pipeline(env, black_box(case))));
        group.bench_function("forward", |b| b.iter(|| forward(env, black_box(case))));
        let delivery = Delivery {
            timestamp: TIMESTAMP,
        };
        group.bench_function("translate", |b| {
            b.iter_batched(
                || case.event.clone(),
                |event| translate(&case.plan, event, &delivery).expect("translates"),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("verify", |b| b.iter(|| verify(env, black_box(case))));
        group.bench_function("parse_strict", |b| {
            b.iter(|| hookshift::json::parse(black_box(&case.body)).expect("parses"))
        });
        group.bench_function("scan", |b| {
            b.iter(|| hookshift::json::scan(black_box(&case.body)).expect("scans"))
        });
        group.bench_function("parse_serde_json", |b| {
            b.iter(|| {
                serde_json::from_slice::<serde_json::Value>(black_box(&case.body)).expect("parses")
            })
        });
        let translated = translate(&case.plan, case.event.clone(), &delivery).unwrap();
        group.bench_function("serialize", |b| b.iter(|| black_box(&translated).to_vec()));
        // `schemas.validate_output = "observe"`: what the runtime output check adds to `pipeline`.
        group.bench_function("validate_output", |b| {
            b.iter(|| validate_output(env, case, black_box(&translated)))
        });
        group.bench_function("sign", |b| b.iter(|| sign(env, black_box(&case.body))));
        group.bench_function("drift_handoff", |b| {
            b.iter(|| drift_handoff(env, black_box(case)))
        });
        group.bench_function("drift_scan", |b| {
            b.iter(|| drift_scan(env, black_box(case)))
        });
        group.finish();
    }
}

/// The large event: what the goal compares (pipeline against floor) and the parts of the pipeline.
fn large_benches<M: Measurement>(c: &mut Criterion<M>, env: &Env, case: &Case) {
    let mut group = c.benchmark_group(case.id.clone());
    group.throughput(Throughput::Bytes(case.body.len() as u64));
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(10));
    group.bench_function("floor", |b| b.iter(|| floor(black_box(&case.body))));
    group.bench_function("pipeline", |b| b.iter(|| pipeline(env, black_box(case))));
    let delivery = Delivery {
        timestamp: TIMESTAMP,
    };
    group.bench_function("translate", |b| {
        b.iter_batched(
            || case.event.clone(),
            |event| translate(&case.plan, event, &delivery).expect("translates"),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("parse_strict", |b| {
        b.iter(|| hookshift::json::parse(black_box(&case.body)).expect("parses"))
    });
    let translated = translate(&case.plan, case.event.clone(), &delivery).unwrap();
    group.bench_function("serialize", |b| b.iter(|| black_box(&translated).to_vec()));
    group.finish();
}

fn configured<M: Measurement>(c: Criterion<M>) -> Criterion<M> {
    // Short defaults so the whole file runs in a few minutes; criterion's CLI flags override.
    c.warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .configure_from_args()
}

fn main() {
    let (env, mut cases, mappings) = setup();
    if let Ok(spec) = std::env::var("BENCH_REPEAT") {
        if spec.starts_with(LARGE_CASE) {
            cases.push(large_case(&mappings));
        }
        return repeat(&spec, &env, &cases);
    }
    let large = (std::env::var_os("BENCH_LARGE").as_deref() != Some("0".as_ref()))
        .then(|| large_case(&mappings));
    if std::env::var_os("BENCH_WALL_TIME").is_some_and(|v| v == "1") {
        let mut c = configured(Criterion::default());
        benches(&mut c, &env, &cases);
        large
            .iter()
            .for_each(|case| large_benches(&mut c, &env, case));
    } else {
        let mut c = configured(Criterion::default().with_measurement(ThreadCpuTime));
        benches(&mut c, &env, &cases);
        large
            .iter()
            .for_each(|case| large_benches(&mut c, &env, case));
    }
    Criterion::default().configure_from_args().final_summary();
}
