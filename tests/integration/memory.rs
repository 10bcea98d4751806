//! Bounded memory under hostile load: the body budget (`server.max_buffered_bytes`), early answers that
//! reach clients still sending, a flood of large unauthenticated bodies against the real binary (its
//! RSS measured), and handlers that read slowly or never answer.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::faults::*;
use crate::support::*;

const MIB: usize = 1024 * 1024;

fn status_of(response: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(response);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// The value of the sample of `name` (without labels) on a metrics page.
fn gauge_of(page: &str, name: &str) -> f64 {
    metric_sum(page, name, &[])
}

/// `VmHWM` and `VmRSS` of a process, in bytes.
fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Opens a request declaring `size` body bytes with a fresh timestamp and a made-up signature, and
/// sends no body: it holds a reservation of `size` until `server.body_read_timeout_ms` (408).
async fn hold_reservation(addr: &str, path: &str, size: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {size}\r\n\
         x-extend-request-timestamp: {}\r\nx-extend-request-signature: {}\r\n\r\n",
        now(),
        "00".repeat(32)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Sends each case with Python's `urllib` (an ordinary client: it writes the whole body, then reads
/// the answer) and returns what it read: `{"status", "error", "retry_after"}` or `{"failure"}`.
fn urllib_posts(cases: &serde_json::Value) -> Vec<serde_json::Value> {
    const SCRIPT: &str = r#"
import json, sys, urllib.request, urllib.error
results = []
for case in json.loads(sys.argv[1]):
    request = urllib.request.Request(case["url"], data=b"x" * case["size"], headers=case["headers"], method=case["method"])
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            results.append({"status": response.status, "error": None, "retry_after": None})
    except urllib.error.HTTPError as e:
        body = json.loads(e.read() or b"{}")
        results.append({"status": e.code, "error": body.get("error"), "retry_after": e.headers.get("Retry-After")})
    except Exception as e:
        results.append({"failure": type(e).__name__ + ": " + str(e)})
print(json.dumps(results))
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", SCRIPT, &cases.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Refusals judged from the head (404, 405, 413, 401 for missing or stale signature headers) and 503
/// from the budget are answered before the body is read, while the client is still sending: the
/// client reads them instead of a broken pipe, because the rest of the body is drained (lingering
/// close). The 503 carries `Retry-After`, is counted, and small signed events still get through on the
/// headroom large bodies may not use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answers_reach_a_client_still_sending() {
    let Harness { hs, down, .. } = Harness::setup(RouteSpec::extend("mem_early"))
        .config(|spec| {
            spec.max_body_bytes = 16 * MIB as u64;
            // The held reservations below last this long: room for a slow machine.
            spec.body_read_timeout_ms = 20_000;
            spec.extra_server = format!("max_buffered_bytes = {}", 40 * MIB);
        })
        .start()
        .await;
    // Every series exists from the start, at zero.
    let page = hs.metrics().await;
    for reason in [
        "declared_body",
        "streamed_body",
        "translation",
        "signed_url",
    ] {
        let labels = [("route", "mem_early"), ("reason", reason)];
        assert!(
            has_series(&page, "hookshift_requests_shed_total", &labels),
            "{page}"
        );
        assert_eq!(
            metric_sum(&page, "hookshift_requests_shed_total", &labels),
            0.0
        );
    }
    assert!(
        has_series(&page, "hookshift_buffered_body_bytes", &[]),
        "{page}"
    );
    let addr = hs.base.trim_start_matches("http://").to_owned();
    let url = format!("{}/hooks/mem_early?api_version={NEW}", hs.base);
    let made_up = json!({
        "x-extend-request-timestamp": now().to_string(),
        "x-extend-request-signature": "00".repeat(32),
    });
    let stale = json!({
        "x-extend-request-timestamp": (now() - 3_600).to_string(),
        "x-extend-request-signature": "00".repeat(32),
    });
    let case = |url: &str, method: &str, size: usize, headers: &serde_json::Value| json!({"url": url, "method": method, "size": size, "headers": headers});
    let cases = json!([
        case(&url, "POST", 24 * MIB, &made_up),
        case(&url, "POST", 8 * MIB, &json!({})),
        case(&url, "POST", 8 * MIB, &stale),
        case(&format!("{}/nowhere", hs.base), "POST", 8 * MIB, &made_up),
        case(&url, "PUT", 8 * MIB, &made_up),
    ]);
    let results = tokio::task::spawn_blocking(move || urllib_posts(&cases))
        .await
        .unwrap();
    let expected = [
        (413, "payload_too_large"),
        (401, "invalid_signature"),
        (401, "invalid_signature"),
        (404, "not_found"),
        (405, "method_not_allowed"),
    ];
    for (result, (status, error)) in results.iter().zip(expected) {
        assert_eq!(
            (result["status"].as_u64(), result["error"].as_str()),
            (Some(status), Some(error)),
            "{results:?}"
        );
    }

    // A client that asks for `100-continue` gets the refusal instead, and is never asked for the body.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /hooks/mem_early HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        8 * MIB
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8_lossy(&response[..n]).into_owned();
    assert!(response.starts_with("HTTP/1.1 401 "), "{response}");
    assert!(!response.contains("100 Continue"), "{response}");

    // Two unauthenticated requests hold 32 MiB of the 40 MiB budget; large bodies may fill 35 MiB.
    let path = "/hooks/mem_early";
    let held = [
        hold_reservation(&addr, path, 16 * MIB).await,
        hold_reservation(&addr, path, 16 * MIB).await,
    ];
    let page_has_held = || async {
        metric_sum(&hs.metrics().await, "hookshift_buffered_body_bytes", &[]) >= (32 * MIB) as f64
    };
    eventually("both reservations are held", page_has_held).await;
    let cases = json!([case(&url, "POST", 8 * MIB, &made_up)]);
    let results = tokio::task::spawn_blocking(move || urllib_posts(&cases))
        .await
        .unwrap();
    assert_eq!(
        (
            results[0]["status"].as_u64(),
            results[0]["error"].as_str(),
            results[0]["retry_after"].as_str()
        ),
        (Some(503), Some("overloaded"), Some("5")),
        "{results:?}"
    );
    // A chunked body is reserved as it grows: shed once it crosses the budget, while still sending.
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\
         x-extend-request-timestamp: {}\r\nx-extend-request-signature: {}\r\n\r\n",
        now(),
        "00".repeat(32)
    );
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        for _ in 0..128 {
            writer.write_all(&frame).await?;
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8_lossy(&response[..n]).into_owned();
    assert_eq!(status_of(response.as_bytes()), Some(503), "{response}");
    assert!(response.contains("overloaded"), "{response}");
    writing.abort();

    // A signed event of a few KB fits in the headroom and is delivered.
    let answer = post_signed(
        &hs,
        &format!("/hooks/mem_early?api_version={NEW}"),
        IN_SECRET,
        &new_event_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // A signed 1.5 MiB event to translate also needs 6x its size of working memory: that does not fit
    // beside the held 32 MiB (shed before its tree is built); forwarded as is, it fits and is delivered.
    let big = padded_old_event(3 * MIB / 2);
    let answer = post_signed(&hs, "/hooks/mem_early", IN_SECRET, &big).await;
    assert_eq!(
        (answer.status, answer.error()),
        (503, "overloaded"),
        "{answer:?}"
    );
    let big = signed_event_of(3 * MIB / 2);
    let answer = post_signed(
        &hs,
        &format!("/hooks/mem_early?api_version={NEW}"),
        IN_SECRET,
        &big,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let page = hs.metrics().await;
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_requests_shed_total",
            &[("route", "mem_early"), ("reason", "declared_body")]
        ),
        1.0,
        "{page}"
    );
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_requests_shed_total",
            &[("route", "mem_early"), ("reason", "streamed_body")]
        ),
        1.0,
        "{page}"
    );
    assert!(has_series(
        &page,
        "hookshift_requests_shed_total",
        &[("route", "mem_early"), ("reason", "translation")]
    ));
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_events_total",
            &[("route", "mem_early"), ("outcome", "overloaded")]
        ),
        3.0
    );
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_requests_shed_total",
            &[("route", "mem_early"), ("reason", "translation")]
        ),
        1.0,
        "{page}"
    );
    assert_eq!(down.requests().len(), 2);
    drop(held);
    hs.stop().await.unwrap();
}

/// What a flood of large unauthenticated bodies did to the real binary, and to signed traffic sent
/// during it.
#[derive(Debug, Default)]
pub struct BodyFloodReport {
    /// Flood requests answered, by status (401: read whole and refused; 503: shed).
    pub flood_401: usize,
    pub flood_503: usize,
    /// Answered 408: not received within `server.body_read_timeout_ms`.
    pub flood_408: usize,
    /// Flood requests that read no answer.
    pub flood_unanswered: usize,
    pub signed_delivered: usize,
    pub signed_503: usize,
    pub signed_other: usize,
    pub signed_latencies: Vec<Duration>,
    /// Largest `hookshift_buffered_body_bytes` seen.
    pub gauge_peak: f64,
    /// `VmHWM` before the flood and after it, `VmRSS` after it.
    pub hwm_before: u64,
    pub hwm_after: u64,
    pub rss_after: u64,
    pub shed_declared: f64,
    pub seconds: f64,
}

/// The shape of a body flood.
#[derive(Debug, Clone, Copy)]
pub struct BodyFlood {
    pub clients: usize,
    pub rounds: usize,
    pub body_bytes: usize,
    /// Held back at the end of each body for `hold`.
    pub held_back: usize,
    pub hold: Duration,
}

/// One unauthenticated client: declares `flood.body_bytes` with a fresh timestamp and a made-up
/// signature, sends all but the last `held_back` bytes, waits `hold`, sends the rest, reading the
/// answer meanwhile. The status it read.
async fn hostile_post(addr: &str, path: &str, flood: BodyFlood) -> Option<u16> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let (mut reader, mut writer) = stream.into_split();
    let reading = tokio::spawn(async move {
        let mut response = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(60), reader.read_to_end(&mut response)).await;
        response
    });
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\
         x-extend-request-timestamp: {}\r\nx-extend-request-signature: {}\r\n\r\n",
        flood.body_bytes,
        now(),
        "00".repeat(32)
    );
    let chunk = vec![b'x'; 64 * 1024];
    let writing = async {
        writer.write_all(head.as_bytes()).await?;
        let mut sent = 0;
        for (until, pause) in [
            (flood.body_bytes - flood.held_back, flood.hold),
            (flood.body_bytes, Duration::ZERO),
        ] {
            while sent < until {
                let n = chunk.len().min(until - sent);
                writer.write_all(&chunk[..n]).await?;
                sent += n;
            }
            tokio::time::sleep(pause).await;
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = writing.await;
    let response = reading.await.ok()?;
    status_of(&response)
}

/// Runs `flood` against `binary` while signed events are sent one after another; samples the
/// binary's RSS and its budget gauge throughout.
pub async fn body_flood_run(
    binary: &Binary,
    route: &str,
    flood: BodyFlood,
    signed_body: &[u8],
) -> BodyFloodReport {
    let addr = binary.base.trim_start_matches("http://").to_owned();
    let path = format!("/hooks/{route}?api_version={NEW}");
    let pid = binary.pid();
    let (hwm_before, _) = memory_of(pid);
    let done = Arc::new(AtomicBool::new(false));
    let gauge_peak = Arc::new(Mutex::new(0f64));
    let sampler = {
        let (done, peak, admin) = (done.clone(), gauge_peak.clone(), binary.admin.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !done.load(Ordering::Relaxed) {
                if let Ok(response) = client.get(format!("{admin}/metrics")).send().await {
                    let page = response.text().await.unwrap_or_default();
                    let held = gauge_of(&page, "hookshift_buffered_body_bytes");
                    let mut peak = peak.lock().unwrap();
                    *peak = peak.max(held);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let flooders: Vec<_> = (0..flood.clients)
        .map(|_| {
            let (addr, path) = (addr.clone(), path.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for _ in 0..flood.rounds {
                    statuses.push(hostile_post(&addr, &path, flood).await);
                }
                statuses
            })
        })
        .collect();
    let signer = {
        let (done, url, body) = (
            done.clone(),
            format!("{}{path}", binary.base),
            signed_body.to_vec(),
        );
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut results = Vec::new();
            // Let the flood start first.
            tokio::time::sleep(Duration::from_millis(100)).await;
            while !done.load(Ordering::Relaxed) {
                let mut request = client.post(&url).body(body.clone());
                for (name, value) in extend_headers(IN_SECRET, now(), &body) {
                    request = request.header(name, value);
                }
                let sent = Instant::now();
                let status = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.bytes().await;
                        status
                    }
                    Err(_) => 0,
                };
                results.push((status, sent.elapsed()));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            results
        })
    };
    let mut report = BodyFloodReport {
        hwm_before,
        ..BodyFloodReport::default()
    };
    for flooder in flooders {
        for status in flooder.await.unwrap() {
            match status {
                Some(401) => report.flood_401 += 1,
                Some(503) => report.flood_503 += 1,
                Some(408) => report.flood_408 += 1,
                Some(other) => panic!("a flood request was answered {other}"),
                None => report.flood_unanswered += 1,
            }
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    for (status, latency) in signer.await.unwrap() {
        match status {
            200 => {
                report.signed_delivered += 1;
                report.signed_latencies.push(latency);
            }
            503 => report.signed_503 += 1,
            _ => report.signed_other += 1,
        }
    }
    sampler.await.unwrap();
    report.gauge_peak = *gauge_peak.lock().unwrap();
    (report.hwm_after, report.rss_after) = memory_of(pid);
    let page = reqwest::get(format!("{}/metrics", binary.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    report.shed_declared = metric_sum(
        &page,
        "hookshift_requests_shed_total",
        &[("route", route), ("reason", "declared_body")],
    );
    report
}

/// A signed 2026-02-09 event of about `size` bytes (a payload padded with a string).
fn signed_event_of(size: usize) -> Vec<u8> {
    format!(
        r#"{{"eventId":"evt_mem","eventType":"extract_run.processed","payload":{{"object":"extract_run","id":"exr_1","pad":"{}"}}}}"#,
        "p".repeat(size.saturating_sub(100))
    )
    .into_bytes()
}

/// A 2025-04-21 event the test mappings translate, of about `size` bytes.
fn padded_old_event(size: usize) -> Vec<u8> {
    String::from_utf8(old_extract_event("run_padded"))
        .unwrap()
        .replace(
            r#""type":"EXTRACT""#,
            &format!(r#""type":"EXTRACT","pad":"{}""#, "p".repeat(size)),
        )
        .into_bytes()
}

/// The binary with `max_body_bytes` and `max_buffered_bytes`, on `route`; the files it runs on.
async fn start_binary(
    route: RouteSpec,
    max_body: usize,
    budget: Option<usize>,
    body_read_timeout_ms: u64,
) -> (Binary, Files) {
    let files = Harness::setup(route)
        .config(|spec| {
            spec.max_body_bytes = max_body as u64;
            spec.body_read_timeout_ms = body_read_timeout_ms;
            if let Some(budget) = budget {
                spec.extra_server = format!("max_buffered_bytes = {budget}");
            }
        })
        .write()
        .await;
    (Binary::start(&files.config_path, &[]), files)
}

/// 32 unauthenticated clients each send 4 MiB bodies with a fresh timestamp and a made-up signature,
/// holding back the last MiB for a second (128 MiB in flight unbounded) against a 16 MiB budget: the
/// binary's memory stays within the budget plus a constant, the excess is shed with 503 and counted,
/// every flood request reads its answer, and a stream of signed events keeps being delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_large_unsigned_bodies_stays_within_the_budget() {
    let _heavy = HEAVY.lock().await;
    let budget = 16 * MIB;
    let (binary, files) = start_binary(
        RouteSpec::extend("mem_flood"),
        4 * MIB,
        Some(budget),
        10_000,
    )
    .await;
    let flood = BodyFlood {
        clients: 32,
        rounds: 2,
        body_bytes: 4 * MIB,
        held_back: MIB,
        hold: Duration::from_secs(1),
    };
    let mut report = body_flood_run(&binary, "mem_flood", flood, &signed_event_of(5_000)).await;
    let (p50, p99) = (
        percentile_ms(&mut report.signed_latencies, 50.0),
        percentile_ms(&mut report.signed_latencies, 99.0),
    );
    eprintln!(
        "body flood: {} x {} x {} MiB in {:.1} s: {} answered 401, {} shed 503, {} unanswered; \
         gauge peak {:.1} MiB of {} MiB; VmHWM {:.1} -> {:.1} MiB; signed: {} delivered \
         (p50 {p50:.1} ms, p99 {p99:.1} ms), {} got 503, {} other",
        flood.clients,
        flood.rounds,
        flood.body_bytes / MIB,
        report.seconds,
        report.flood_401,
        report.flood_503,
        report.flood_unanswered,
        report.gauge_peak / MIB as f64,
        budget / MIB,
        report.hwm_before as f64 / MIB as f64,
        report.hwm_after as f64 / MIB as f64,
        report.signed_delivered,
        report.signed_503,
        report.signed_other,
    );
    assert_eq!(
        (report.flood_401 + report.flood_503, report.flood_408),
        (flood.clients * flood.rounds, 0),
        "every flood request reads its answer: {report:?}"
    );
    assert!(report.flood_503 > 0, "the budget never shed: {report:?}");
    assert_eq!(report.shed_declared, report.flood_503 as f64);
    assert!(report.gauge_peak <= budget as f64, "{report:?}");
    assert!(report.gauge_peak >= (budget / 2) as f64, "{report:?}");
    // The budget plus a constant: per-connection buffers (hyper reads up to ~400 KB at a time), the
    // allocator's slack, the lingering drains.
    let grown = report.hwm_after.saturating_sub(report.hwm_before);
    assert!(
        grown <= (budget + 48 * MIB) as u64,
        "peak RSS grew by {:.1} MiB under a {} MiB budget",
        grown as f64 / MIB as f64,
        budget / MIB
    );
    assert!(report.signed_delivered >= 20, "{report:?}");
    assert!(
        report.signed_503 * 10 <= report.signed_delivered,
        "signed events were shed: {report:?}"
    );
    assert_eq!(report.signed_other, 0, "{report:?}");
    assert_eq!(files.down.requests().len(), report.signed_delivered);
}

/// The numbers of the README's hostile-input table (run by `scripts/bench-flood.sh` in release mode,
/// not by CI): `BENCH_BODY_CLIENTS` (100) clients each sending `BENCH_BODY_MB` (20) MB bodies with a
/// made-up signature, holding back the last MiB for `BENCH_BODY_HOLD_S` (8) s, against the shipped
/// limits (`max_body_bytes` 25 MiB, `max_buffered_bytes` 256 MiB, or `BENCH_BODY_BUDGET_MB`), while
/// signed 5 KB events are sent one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/bench-flood.sh"]
async fn body_flood_benchmark() {
    let _heavy = HEAVY.lock().await;
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let flood = BodyFlood {
        clients: env("BENCH_BODY_CLIENTS", 100),
        rounds: env("BENCH_BODY_ROUNDS", 1),
        body_bytes: env("BENCH_BODY_MB", 20) * 1_000_000,
        held_back: MIB,
        hold: Duration::from_secs(env("BENCH_BODY_HOLD_S", 8) as u64),
    };
    // BENCH_BODY_BUDGET_MB: another `max_buffered_bytes` (a huge one shows the process without a bound).
    let budget = std::env::var("BENCH_BODY_BUDGET_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map(|mb| mb * MIB);
    let (binary, _files) = start_binary(
        RouteSpec::extend("bench_body_flood"),
        26_214_400,
        budget,
        // The shipped limits.
        30_000,
    )
    .await;
    let mut report =
        body_flood_run(&binary, "bench_body_flood", flood, &signed_event_of(5_000)).await;
    println!(
        "body flood: {} clients x {} rounds x {} MB bodies (last MiB held {} s), {:.1} s: {} answered 401, {} shed 503, {} timed out 408, {} unanswered",
        flood.clients,
        flood.rounds,
        flood.body_bytes / 1_000_000,
        flood.hold.as_secs(),
        report.seconds,
        report.flood_401,
        report.flood_503,
        report.flood_408,
        report.flood_unanswered
    );
    println!(
        "  memory: VmHWM {:.1} MiB before, {:.1} MiB peak (VmRSS after {:.1} MiB); buffered-bytes gauge peak {:.1} MiB of {} MiB",
        report.hwm_before as f64 / MIB as f64,
        report.hwm_after as f64 / MIB as f64,
        report.rss_after as f64 / MIB as f64,
        report.gauge_peak / MIB as f64,
        budget.unwrap_or(256 * MIB) / MIB
    );
    println!(
        "  signed 5 KB events: {} delivered (p50 {:.2} ms, p99 {:.2} ms), {} answered 503, {} other",
        report.signed_delivered,
        percentile_ms(&mut report.signed_latencies, 50.0),
        percentile_ms(&mut report.signed_latencies, 99.0),
        report.signed_503,
        report.signed_other
    );
}

/// How a test handler treats a delivery once it has read its head.
#[derive(Debug, Clone, Copy)]
enum Reader {
    /// Reads nothing more and never answers.
    Never,
    /// Reads 4 KB every 50 ms and never answers.
    Slowly,
}

/// A handler on raw TCP that reads a delivery's head, then behaves as `reader`; the `Content-Length`
/// of each delivery is sent on the channel.
async fn slow_handler(reader: Reader) -> (String, tokio::sync::mpsc::UnboundedReceiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let _ = tx.send(length);
                let mut chunk = vec![0u8; 4096];
                for _ in 0..400 {
                    match reader {
                        Reader::Never => {}
                        Reader::Slowly => {
                            if stream.read(&mut chunk).await.unwrap_or(0) == 0 {
                                return;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
    });
    (url, rx)
}

/// A handler that reads its request slowly or never answers holds, in the budget, only the outbound
/// body (the received body and the translation's trees are gone), and only until
/// `downstream.timeout_ms`: then the sender gets 504 and the bytes are given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_holds_only_the_outbound_body_until_its_deadline() {
    let _heavy = HEAVY.lock().await;
    for (reader, version) in [
        (Reader::Never, NEW),
        (Reader::Slowly, NEW),
        (Reader::Never, OLD),
    ] {
        let (url, mut deliveries) = slow_handler(reader).await;
        let route = RouteSpec::extend("mem_slow").to(&url).timeout_ms(2_000);
        let (binary, _files) = start_binary(route, 8 * MIB, Some(64 * MIB), 10_000).await;
        let body = if version == NEW {
            signed_event_of(3 * MIB)
        } else {
            padded_old_event(3 * MIB)
        };
        let url = format!("{}/hooks/mem_slow?api_version={version}", binary.base);
        let started = Instant::now();
        let sending = {
            let (url, body) = (url.clone(), body.clone());
            tokio::spawn(async move {
                let headers = extend_headers(IN_SECRET, now(), &body);
                post(&url, body, &headers).await
            })
        };
        let outbound = tokio::time::timeout(Duration::from_secs(10), deliveries.recv())
            .await
            .unwrap()
            .unwrap();
        // The delivery has started: the handler holds it. Sample the gauge while it waits.
        let gauge = || async {
            let page = reqwest::get(format!("{}/metrics", binary.admin))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            gauge_of(&page, "hookshift_buffered_body_bytes")
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let during = gauge().await;
        let answer = sending.await.unwrap();
        let took = started.elapsed();
        assert_eq!(
            (answer.status, answer.error()),
            (504, "downstream_timeout"),
            "{reader:?} {version}"
        );
        assert!(
            took < Duration::from_secs(5),
            "{reader:?} {version}: {took:?}"
        );
        assert_eq!(
            during, outbound as f64,
            "{reader:?} {version}: held {during} bytes for an outbound body of {outbound} (received {})",
            body.len()
        );
        assert_eq!(
            gauge().await,
            0.0,
            "{reader:?} {version}: bytes not given back"
        );
    }
}

/// HTTP/2 buffers at most `server::HTTP2_WINDOW_BYTES` per connection outside the budget: a signed body
/// eight times larger still arrives whole (window updates as it is read) and is delivered byte for byte.
#[tokio::test]
async fn an_http2_body_larger_than_the_receive_window_is_delivered() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let Harness { hs, down, .. } = Harness::setup(RouteSpec::extend("mem_h2"))
        .config(|spec| spec.max_body_bytes = 4 * MIB as u64)
        .start()
        .await;
    let body = signed_event_of(hookshift::server::HTTP2_WINDOW_BYTES as usize * 8);
    let stream = TcpStream::connect(hs.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::post(format!("{}/hooks/mem_h2?api_version={NEW}", hs.base));
    for (name, value) in extend_headers(IN_SECRET, now(), &body) {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(bytes::Bytes::from(body.clone())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let answer = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, 200, "{answer:?}");
    let delivered = down.wait_for(1).await;
    assert_eq!(delivered[0].body, body);
    hs.stop().await.unwrap();
}
