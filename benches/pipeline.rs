//! CPU cost of one webhook through hookshift, beside the cost of parsing and printing its JSON once.
//!
//! `cargo bench --bench pipeline` (events: `bench/events/`, made by `bench/make_events.py`).
//!
//! Groups, per event size (5 KB and 100 KB realistic EXTRACT runs):
//! - `floor`: `serde_json::from_slice::<Value>` + `serde_json::to_vec` of the same bytes, with the
//!   crate's serde_json features (`arbitrary_precision`, `preserve_order`): the cost the pipeline is
//!   measured against.
//! - `pipeline`: what the proxy does to a request body between reading it and handing it to the HTTP
//!   client: verify the Extend signature, strict parse ([`hookshift::json::parse`]) and envelope
//!   checks, translate along the plan, serialize, sign with the handler's secret (headers built).
//! - `forward`: the same for an event whose version is the handler's (no translation: the received
//!   bytes are re-signed as they are).
//! - `translate`: [`hookshift::mapping::translate`] alone (the input `Value` is cloned outside the
//!   timing).
//! - `verify`, `parse_strict`, `serialize`, `sign`: the pipeline's parts, to see where time goes.
//!
//! Every translation direction the mappings folder can do is measured: 2025-04-21 -> 2026-02-09
//! (`processor_run.processed`, what the default configuration translates) and 2026-02-09 -> 2025-04-21
//! (`extract_run.processed`).

use std::hint::black_box;
use std::path::Path;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hookshift::config::Secret;
use hookshift::mapping::{translate, Delivery, Mappings, Plan};
use hookshift::signature::{self, Provider, VerifyParams};
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

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
}

struct Env {
    inbound: Vec<Secret>,
    handler: Secret,
}

fn repo(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn signed_headers(body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        signature::EXTEND_TIMESTAMP_HEADER,
        HeaderValue::from_str(&TIMESTAMP.to_string()).unwrap(),
    );
    let sig =
        signature::extend_signature(INBOUND_SECRETS[0].as_bytes(), &TIMESTAMP.to_string(), body);
    headers.insert(
        signature::EXTEND_SIGNATURE_HEADER,
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
                    let bytes = serde_json::to_vec(&out).unwrap();
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
                plan: plan.clone(),
                event,
            });
        }
    }
    out
}

fn verify(env: &Env, case: &Case) -> signature::Verified {
    signature::verify(
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

/// The envelope checks of `proxy::parse_event` and the fields the proxy reads for labels and logs.
fn parse_event(body: &[u8]) -> (Value, String, Option<String>) {
    let event = hookshift::json::parse(body).expect("parses");
    let object = event.as_object().expect("object");
    assert!(object.get("eventType").is_some_and(Value::is_string));
    assert!(object.contains_key("payload"));
    let event_type = object["eventType"].as_str().unwrap_or_default().to_owned();
    let event_id = object
        .get("eventId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    (event, event_type, event_id)
}

fn sign(env: &Env, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in signature::sign(Provider::Extend, &env.handler, TIMESTAMP + 1, body) {
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
    let body = Bytes::from(serde_json::to_vec(&translated).expect("serializes"));
    let headers = sign(env, &body);
    (body, headers)
}

/// verify -> parse (envelope, labels) -> sign the received bytes: an event needing no translation.
fn forward(env: &Env, case: &Case) -> (Bytes, HeaderMap) {
    let verified = verify(env, case);
    let (_event, _event_type, _event_id) = parse_event(verified.body());
    let body = verified.body().clone();
    let headers = sign(env, &body);
    (body, headers)
}

fn floor(body: &[u8]) -> Vec<u8> {
    let value: Value = serde_json::from_slice(body).expect("parses");
    serde_json::to_vec(&value).expect("serializes")
}

fn benches(c: &mut Criterion) {
    let mappings = Mappings::load(&repo("mappings")).expect("mappings load");
    let env = Env {
        inbound: INBOUND_SECRETS.iter().map(|s| Secret::inline(*s)).collect(),
        handler: Secret::inline(HANDLER_SECRET),
    };
    for case in cases(&mappings) {
        let mut group = c.benchmark_group(case.id.clone());
        group.throughput(Throughput::Bytes(case.body.len() as u64));
        group.bench_function("floor", |b| b.iter(|| floor(black_box(&case.body))));
        group.bench_function("pipeline", |b| b.iter(|| pipeline(&env, black_box(&case))));
        group.bench_function("forward", |b| b.iter(|| forward(&env, black_box(&case))));
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
        group.bench_function("verify", |b| b.iter(|| verify(&env, black_box(&case))));
        group.bench_function("parse_strict", |b| {
            b.iter(|| hookshift::json::parse(black_box(&case.body)).expect("parses"))
        });
        group.bench_function("parse_serde_json", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&case.body)).expect("parses"))
        });
        let translated = translate(&case.plan, case.event.clone(), &delivery).unwrap();
        group.bench_function("serialize", |b| {
            b.iter(|| serde_json::to_vec(black_box(&translated)).expect("serializes"))
        });
        group.bench_function("sign", |b| b.iter(|| sign(&env, black_box(&case.body))));
        group.finish();
    }
}

criterion_group! {
    name = pipeline_benches;
    // Short defaults so the whole file runs in about three minutes; criterion's CLI flags override.
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(pipeline_benches);
