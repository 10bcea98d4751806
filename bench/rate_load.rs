//! Fixed-rate (open-loop) HTTP load for the latency part of `bench/load.py`: wrk keeps a fixed number
//! of requests in flight, so it cannot say how late answers are at a given arrival rate; wrk2 is not
//! packaged. This sends POSTs at `--rate` per second over `--connections` keep-alive HTTP/1.1
//! connections for `--duration` seconds and prints one JSON line of latency percentiles.
//!
//! Latency is measured from the request's *scheduled* send time (a pacer thread releases request i
//! at start + i/rate), so a stalled server is charged for the requests that queued behind it
//! (no coordinated omission). `service_*` fields measure from the actual send instead.
//!
//! `cargo run --release --example bench_rate_load -- --url http://127.0.0.1:18003/webhooks/extend
//!  --body bench/events/processor_run_5k.json --rate 2000 --duration 10 --connections 32
//!  --secret wss_dev_old_endpoint_replace_in_production`
//!
//! With `--requests FILE` (written by `bench/presign.py`: per record `<length>\n` and a complete
//! HTTP/1.1 request) request i is record i, headers and body as written (pre-signed unique events for
//! the ledger benchmarks), each sent once; the run refuses to start when the file holds fewer records
//! than `(warmup + duration) x rate`. `--send-all` sends every record of the file (the duration follows
//! from the rate) and ends when all are answered: with a rate above what the server sustains, a closed
//! loop of `--connections` requests in flight that sends exactly the file (`bench/ledger_size.py`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};

/// One request as sent: its headers (besides `host`) and body.
struct Prepared {
    headers: http::HeaderMap,
    body: Bytes,
}

struct Args {
    url: Uri,
    /// `--body` (one body for every request, signed at start) or `--requests` (one per request).
    requests: Vec<Prepared>,
    send_all: bool,
    rate: f64,
    duration: f64,
    warmup: f64,
    connections: usize,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut body = None;
    let mut requests = None;
    let mut send_all = false;
    let (mut rate, mut duration, mut warmup, mut connections) = (1000.0, 10.0, 2.0, 32);
    let mut secret: Option<String> = None;
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--url" => url = Some(value().parse().expect("--url")),
            "--body" => body = Some(std::fs::read(value()).expect("--body file")),
            "--requests" => requests = Some(read_requests(&value())),
            "--send-all" => send_all = true,
            "--rate" => rate = value().parse().expect("--rate"),
            "--duration" => duration = value().parse().expect("--duration"),
            "--warmup" => warmup = value().parse().expect("--warmup"),
            "--connections" => connections = value().parse().expect("--connections"),
            "--secret" => secret = Some(value()),
            other => panic!("unknown option {other}"),
        }
    }
    let url: Uri = url.expect("--url is required");
    let requests = match (requests, body) {
        (Some(requests), None) => requests,
        (None, Some(body)) => vec![signed_once(&url, Bytes::from(body), secret.as_deref())],
        _ => panic!("give one of --body and --requests"),
    };
    if send_all {
        duration = requests.len() as f64 / rate - warmup;
        assert!(
            duration > 0.0,
            "--send-all: fewer records than --warmup x --rate"
        );
    }
    Args {
        url,
        requests,
        send_all,
        rate,
        duration,
        warmup,
        connections,
    }
}

/// The headers of `--body` requests: content type and, with `--secret`, an Extend signature made now.
fn signed_once(url: &Uri, body: Bytes, secret: Option<&str>) -> Prepared {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "host",
        HeaderValue::from_str(url.authority().unwrap().as_str()).unwrap(),
    );
    if let Some(secret) = secret {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let sig = hookshift::provider::extend_signature(secret.as_bytes(), &ts, &body);
        headers.insert(
            "x-extend-request-timestamp",
            HeaderValue::from_str(&ts).unwrap(),
        );
        headers.insert(
            "x-extend-request-signature",
            HeaderValue::from_str(&sig).unwrap(),
        );
    }
    Prepared { headers, body }
}

/// Reads a `bench/presign.py` file: records of `<length>\n` and a complete HTTP/1.1 request. The
/// request line is dropped (`--url` says where requests go); `host` and `content-length` are set from
/// `--url` and the body.
fn read_requests(path: &str) -> Vec<Prepared> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("--requests {path}: {e}"));
    let mut records = Vec::new();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let newline = rest
            .iter()
            .position(|b| *b == b'\n')
            .expect("record length line");
        let length: usize = std::str::from_utf8(&rest[..newline])
            .ok()
            .and_then(|n| n.parse().ok())
            .expect("record length");
        let request = &rest[newline + 1..newline + 1 + length];
        rest = &rest[newline + 1 + length..];
        let head_end = request
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("request head");
        let head = std::str::from_utf8(&request[..head_end]).expect("ASCII head");
        let mut headers = http::HeaderMap::new();
        for line in head.split("\r\n").skip(1) {
            let (name, value) = line.split_once(':').expect("header line");
            let name = http::HeaderName::from_bytes(name.trim().as_bytes()).expect("header name");
            if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
                headers.insert(name, HeaderValue::from_str(value.trim()).unwrap());
            }
        }
        let body = Bytes::copy_from_slice(&request[head_end + 4..]);
        records.push(Prepared { headers, body });
    }
    records
}

/// One request to send: its scheduled time, whether it is measured (past the warm-up), and which.
type Token = (Instant, bool, usize);

#[derive(Default)]
struct Samples {
    /// Microseconds from scheduled send to complete answer.
    scheduled: Vec<u64>,
    /// Microseconds from actual send to complete answer.
    service: Vec<u64>,
    ok: u64,
    errors: u64,
}

async fn connection(
    args: Arc<Args>,
    host: HeaderValue,
    tokens: Arc<Mutex<mpsc::UnboundedReceiver<Token>>>,
) -> Samples {
    let mut samples = Samples::default();
    let authority = args
        .url
        .authority()
        .expect("URL has host:port")
        .as_str()
        .to_owned();
    let mut sender = None;
    loop {
        let Some((scheduled, measured, index)) = tokens.lock().await.recv().await else {
            return samples;
        };
        if sender.is_none() {
            if let Ok(stream) = TcpStream::connect(&authority).await {
                let _ = stream.set_nodelay(true);
                if let Ok((s, conn)) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
                {
                    tokio::spawn(conn);
                    sender = Some(s);
                }
            }
        }
        let Some(s) = sender.as_mut() else {
            samples.errors += measured as u64;
            continue;
        };
        let prepared = &args.requests[index % args.requests.len()];
        let mut request = Request::new(Full::new(prepared.body.clone()));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = args.url.clone();
        *request.headers_mut() = prepared.headers.clone();
        request
            .headers_mut()
            .insert(http::header::HOST, host.clone());
        let sent = Instant::now();
        let good = match s.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                response.into_body().collect().await.is_ok() && status.is_success()
            }
            Err(_) => {
                sender = None;
                false
            }
        };
        if measured {
            let done = Instant::now();
            if good {
                samples.ok += 1;
                samples
                    .scheduled
                    .push((done - scheduled).as_micros() as u64);
                samples.service.push((done - sent).as_micros() as u64);
            } else {
                samples.errors += 1;
            }
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() {
    let args = Arc::new(parse_args());
    let host =
        HeaderValue::from_str(args.url.authority().expect("URL has host:port").as_str()).unwrap();
    let total = ((args.warmup + args.duration) * args.rate).round() as u64;
    if args.requests.len() > 1 && !args.send_all && (args.requests.len() as u64) < total {
        eprintln!(
            "--requests holds {} records; this run sends {total} (each once): generate more",
            args.requests.len()
        );
        std::process::exit(2);
    }
    let total = if args.send_all {
        args.requests.len() as u64
    } else {
        total
    };

    let (tx, rx) = mpsc::unbounded_channel::<Token>();
    let rx = Arc::new(Mutex::new(rx));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| runtime.spawn(connection(Arc::clone(&args), host.clone(), Arc::clone(&rx))))
        .collect();

    // The pacer: an OS thread sleeping to each scheduled time (tokio timers have 1 ms resolution).
    let pacer_args = Arc::clone(&args);
    let pacer = std::thread::spawn(move || {
        let interval = Duration::from_secs_f64(1.0 / pacer_args.rate);
        let warm = (pacer_args.warmup * pacer_args.rate) as u64;
        let start = Instant::now() + Duration::from_millis(50);
        let mut late = 0u64;
        for i in 0..total {
            let at = start + interval * i as u32;
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            } else if now - at > Duration::from_millis(1) {
                late += 1;
            }
            if tx.send((at, i >= warm, i as usize)).is_err() {
                break;
            }
        }
        late
    });

    let began = Instant::now();
    let samples = runtime.block_on(async {
        let mut all = Samples::default();
        for task in tasks {
            let s = task.await.expect("connection task");
            all.scheduled.extend(s.scheduled);
            all.service.extend(s.service);
            all.ok += s.ok;
            all.errors += s.errors;
        }
        all
    });
    let elapsed = began.elapsed().as_secs_f64();
    let pacer_late = pacer.join().expect("pacer");
    let mut scheduled = samples.scheduled;
    let mut service = samples.service;
    scheduled.sort_unstable();
    service.sort_unstable();
    let achieved = samples.ok as f64 / args.duration;
    println!(
        "{{\"rate\":{},\"elapsed_s\":{:.3},\"achieved\":{:.1},\"ok\":{},\"errors\":{},\"pacer_late\":{},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3},\"service_p50_ms\":{:.3},\"service_p99_ms\":{:.3}}}",
        args.rate,
        elapsed,
        achieved,
        samples.ok,
        samples.errors,
        pacer_late,
        percentile(&scheduled, 50.0),
        percentile(&scheduled, 90.0),
        percentile(&scheduled, 99.0),
        percentile(&scheduled, 99.9),
        percentile(&scheduled, 100.0),
        percentile(&service, 50.0),
        percentile(&service, 99.0),
    );
}
