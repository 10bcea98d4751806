//! Harness for the reliability and hostile-input tests: a fault-injecting downstream written on raw TCP
//! (so that it can reset connections and hang), a sender simulator that behaves like Extend (unique
//! `eventId`s, retries any non-2xx with backoff), the real `hookshift` binary as a child process, and raw
//! HTTP/1.1 exchanges.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use hookshift::config::Secret;
use hookshift::provider::{self, Provider, VerifyParams};
use http::HeaderMap;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinHandle,
};

use crate::support::{extend_headers, now, OUT_SECRET};

/// Held by the load tests (no-loss, restarts, reloads, flood) so that they do not run at the same time
/// as each other: each measures or times something that another's load would distort.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ------------------------------------------------------------------------------------------ random

/// Request headers as (name, value) pairs.
pub type Headers = Vec<(String, String)>;

/// SplitMix64: deterministic, good enough to pick faults and jitter.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

// ------------------------------------------------------------------------------------------ downstream

/// Shares of requests (per mille) the faulty downstream fails, and how.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Answer 503.
    pub error_5xx: u64,
    /// Read the request, then reset the connection (RST, no answer).
    pub reset: u64,
    /// Read the request, then say nothing for `hang_ms` and close (hookshift's timeout must fire first).
    pub hang: u64,
    /// Answer 200 after a delay between `slow_ms.0` and `slow_ms.1` (within hookshift's timeout).
    pub slow: u64,
    pub slow_ms: (u64, u64),
    pub hang_ms: u64,
    pub seed: u64,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            error_5xx: 0,
            reset: 0,
            hang: 0,
            slow: 0,
            slow_ms: (0, 0),
            hang_ms: 0,
            seed: 1,
        }
    }
}

/// What the faulty downstream saw and answered.
#[derive(Debug, Default)]
pub struct DownstreamStats {
    /// eventId → how many times it was answered 2xx.
    pub delivered: Mutex<HashMap<String, u32>>,
    pub answered_2xx: AtomicU64,
    pub answered_5xx: AtomicU64,
    pub resets: AtomicU64,
    pub hangs: AtomicU64,
    pub slow: AtomicU64,
    /// Requests whose signature did not verify with the handler secret, or without an eventId.
    pub bad_requests: AtomicU64,
    pub received: AtomicU64,
    /// Requests being handled right now.
    pub inflight: AtomicUsize,
}

impl DownstreamStats {
    /// A request leaves `inflight` as its answer (or the connection's end) is about to go out.
    fn answering(&self) {
        self.inflight.fetch_sub(1, Ordering::SeqCst);
    }
    pub fn delivered_ids(&self) -> HashMap<String, u32> {
        self.delivered.lock().unwrap().clone()
    }
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

/// A handler on raw TCP (HTTP/1.1 keep-alive, Content-Length bodies) that fails a share of requests.
pub struct FaultyDownstream {
    pub addr: SocketAddr,
    pub stats: Arc<DownstreamStats>,
    task: JoinHandle<()>,
}

impl FaultyDownstream {
    pub async fn start(faults: Faults) -> FaultyDownstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(DownstreamStats::default());
        let faults = Arc::new(Mutex::new(faults));
        let counter = Arc::new(AtomicU64::new(0));
        let (s, f) = (Arc::clone(&stats), Arc::clone(&faults));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (s, f, c) = (Arc::clone(&s), Arc::clone(&f), Arc::clone(&counter));
                tokio::spawn(serve_faulty(stream, s, f, c));
            }
        });
        FaultyDownstream { addr, stats, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }
}

impl Drop for FaultyDownstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.1 request head and Content-Length body; `None` when the peer closed.
pub async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let head_end = loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let total = head_end + 4 + length;
    while buf.len() < total {
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf[head_end + 4..total].to_vec();
    buf.drain(..total);
    Some((head, body))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn headers_of(head: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in head.lines().skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.trim().as_bytes()),
                http::HeaderValue::from_str(value.trim()),
            ) {
                headers.append(name, value);
            }
        }
    }
    headers
}

async fn serve_faulty(
    mut stream: TcpStream,
    stats: Arc<DownstreamStats>,
    faults: Arc<Mutex<Faults>>,
    counter: Arc<AtomicU64>,
) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    while let Some((head, body)) = read_request(&mut stream, &mut buf).await {
        stats.received.fetch_add(1, Ordering::SeqCst);
        stats.inflight.fetch_add(1, Ordering::SeqCst);
        // handle_one takes the request out of `inflight` before its answer goes out: once hookshift can
        // read the answer, the request no longer counts as in flight here.
        let keep = handle_one(&mut stream, &head, &body, &stats, &faults, &counter).await;
        if !keep {
            return;
        }
    }
}

/// Answers one request; false when the connection must end.
async fn handle_one(
    stream: &mut TcpStream,
    head: &str,
    body: &[u8],
    stats: &DownstreamStats,
    faults: &Mutex<Faults>,
    counter: &AtomicU64,
) -> bool {
    let secrets = [Secret::inline(OUT_SECRET)];
    let verified = provider::verify(
        VerifyParams {
            provider: Provider::Extend,
            secrets: &secrets,
            tolerance_secs: 60,
            now: now(),
        },
        &headers_of(head),
        Bytes::copy_from_slice(body),
    );
    let event_id = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["eventId"].as_str().map(str::to_owned));
    let (Ok(_), Some(event_id)) = (verified, event_id) else {
        stats.bad_requests.fetch_add(1, Ordering::SeqCst);
        stats.answering();
        return respond(stream, 400).await;
    };

    let f = *faults.lock().unwrap();
    let roll = mix(f.seed
        ^ counter
            .fetch_add(1, Ordering::SeqCst)
            .wrapping_mul(0x2545F491));
    let pick = roll % 1000;
    let mut bound = f.error_5xx;
    if pick < bound {
        stats.answered_5xx.fetch_add(1, Ordering::SeqCst);
        stats.answering();
        return respond(stream, 503).await;
    }
    bound += f.reset;
    if pick < bound {
        stats.resets.fetch_add(1, Ordering::SeqCst);
        // A zero linger makes close() send RST; it never blocks (only a positive linger does).
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
        stats.answering();
        return false;
    }
    bound += f.hang;
    if pick < bound {
        stats.hangs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(f.hang_ms)).await;
        stats.answering();
        return false;
    }
    bound += f.slow;
    if pick < bound {
        stats.slow.fetch_add(1, Ordering::SeqCst);
        let span = f.slow_ms.1.saturating_sub(f.slow_ms.0).max(1);
        tokio::time::sleep(Duration::from_millis(f.slow_ms.0 + (roll >> 20) % span)).await;
    }
    stats.answered_2xx.fetch_add(1, Ordering::SeqCst);
    *stats.delivered.lock().unwrap().entry(event_id).or_insert(0) += 1;
    stats.answering();
    respond(stream, 200).await
}

async fn respond(stream: &mut TcpStream, status: u16) -> bool {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Service Unavailable",
    };
    let body = if status == 200 {
        "{\"ok\":true}"
    } else {
        "{\"ok\":false}"
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.is_ok()
}

// ------------------------------------------------------------------------------------------ sender

/// One event the sender must get acknowledged.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    /// Path and query, e.g. `/hooks/x?api_version=2026-02-09`.
    pub target: String,
    pub body: Vec<u8>,
}

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    pub concurrency: usize,
    /// First retry delay; doubled per attempt up to `backoff_cap`, plus up to 50 % jitter.
    pub backoff: Duration,
    pub backoff_cap: Duration,
    /// Give up on the whole run after this long (a test failure).
    pub deadline: Duration,
    /// Per-request timeout (Extend: 30 s).
    pub request_timeout: Duration,
}

impl Default for SenderOptions {
    fn default() -> Self {
        SenderOptions {
            concurrency: 64,
            backoff: Duration::from_millis(5),
            backoff_cap: Duration::from_millis(200),
            deadline: Duration::from_secs(240),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// One attempt as the sender saw it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub started: Instant,
    pub ended: Instant,
    /// HTTP status, or `None` for a transport error (refused, reset, timeout).
    pub status: Option<u16>,
}

/// What the sender saw.
#[derive(Debug, Default)]
pub struct SenderReport {
    /// eventId → the attempts made for it, in order.
    pub attempts: HashMap<String, Vec<Attempt>>,
    pub gave_up: Vec<String>,
    pub elapsed: Duration,
}

impl SenderReport {
    pub fn total_attempts(&self) -> usize {
        self.attempts.values().map(Vec::len).sum()
    }
    /// Events acknowledged with a 2xx.
    pub fn acknowledged(&self) -> HashSet<String> {
        self.attempts
            .iter()
            .filter(|(_, a)| {
                a.iter()
                    .any(|a| a.status.is_some_and(|s| (200..300).contains(&s)))
            })
            .map(|(id, _)| id.clone())
            .collect()
    }
    pub fn statuses(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for attempt in self.attempts.values().flatten() {
            let key = attempt
                .status
                .map_or_else(|| "transport_error".to_owned(), |s| s.to_string());
            *out.entry(key).or_insert(0) += 1;
        }
        out
    }
    pub fn count_status(&self, f: impl Fn(Option<u16>) -> bool) -> usize {
        self.attempts
            .values()
            .flatten()
            .filter(|a| f(a.status))
            .count()
    }
    pub fn max_attempts(&self) -> usize {
        self.attempts.values().map(Vec::len).max().unwrap_or(0)
    }
}

/// Sends every event to `base` (e.g. `http://127.0.0.1:PORT`), signing each attempt afresh with
/// `secret`, retrying any non-2xx and any transport error with exponential backoff, `concurrency` at a
/// time. Stops early (leaving events in `gave_up`) only at the deadline.
pub async fn send_all(
    base: &str,
    secret: &str,
    events: Vec<Event>,
    options: &SenderOptions,
) -> SenderReport {
    let client = reqwest::Client::builder()
        .timeout(options.request_timeout)
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .unwrap();
    let started = Instant::now();
    let deadline = started + options.deadline;
    let limit = Arc::new(Semaphore::new(options.concurrency));
    let mut tasks = Vec::with_capacity(events.len());
    for (n, event) in events.into_iter().enumerate() {
        let permit = Arc::clone(&limit).acquire_owned().await.unwrap();
        let client = client.clone();
        let url = format!("{base}{}", event.target);
        let secret = secret.to_owned();
        let options = options.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let mut attempts = Vec::new();
            let mut delay = options.backoff;
            loop {
                let body = event.body.clone();
                let mut request = client.post(&url).body(body.clone());
                for (name, value) in extend_headers(&secret, now(), &body) {
                    request = request.header(name, value);
                }
                let t0 = Instant::now();
                let status = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.bytes().await;
                        Some(status)
                    }
                    Err(_) => None,
                };
                attempts.push(Attempt {
                    started: t0,
                    ended: Instant::now(),
                    status,
                });
                if status.is_some_and(|s| (200..300).contains(&s)) {
                    return (event.id, attempts, false);
                }
                if Instant::now() >= deadline {
                    return (event.id, attempts, true);
                }
                let jitter = mix(n as u64 ^ (attempts.len() as u64) << 32)
                    % (delay.as_millis() as u64 / 2 + 1);
                tokio::time::sleep(delay + Duration::from_millis(jitter)).await;
                delay = (delay * 2).min(options.backoff_cap);
            }
        }));
    }
    let mut report = SenderReport::default();
    for task in tasks {
        let (id, attempts, gave_up) = task.await.unwrap();
        if gave_up {
            report.gave_up.push(id.clone());
        }
        report.attempts.insert(id, attempts);
    }
    report.elapsed = started.elapsed();
    report
}

// ------------------------------------------------------------------------------------------ binary

/// The real `hookshift` binary, started with `serve --config`, its stderr collected.
pub struct Binary {
    pub child: Child,
    pub base: String,
    pub admin: String,
    pub stderr: Arc<Mutex<String>>,
    exited: Arc<AtomicBool>,
}

impl Binary {
    /// Starts the binary and waits for its "hookshift serving" line (addresses read from it).
    // The child moves into `Binary`, whose `Drop` kills and waits for it.
    #[allow(clippy::zombie_processes)]
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Binary {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hookshift"));
        command
            .args(["serve", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1");
        if !env.iter().any(|(k, _)| *k == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("hookshift binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let exited = Arc::new(AtomicBool::new(false));
        let pipe = child.stderr.take().unwrap();
        let (log, done) = (Arc::clone(&stderr), Arc::clone(&exited));
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            while reader
                .read_until(b'\n', &mut line)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                log.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&line));
                line.clear();
            }
            done.store(true, Ordering::SeqCst);
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = stderr.lock().unwrap().clone();
            if let Some(line) = text.lines().find(|l| l.contains("hookshift serving")) {
                let field = |name: &str| {
                    let start = line.find(&format!(" {name}=")).unwrap() + name.len() + 2;
                    line[start..]
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .trim_matches('"')
                        .to_owned()
                };
                return Binary {
                    child,
                    base: format!("http://{}", field("listen")),
                    admin: format!("http://{}", field("admin_listen")),
                    stderr,
                    exited,
                };
            }
            if exited.load(Ordering::SeqCst) || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("hookshift did not start:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `HUP`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits up to `limit` for the process to exit; its exit code.
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread collect the last lines.
                let until = Instant::now() + Duration::from_secs(2);
                while !self.exited.load(Ordering::SeqCst) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A free port on 127.0.0.1 (bound, then released).
pub async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

// ------------------------------------------------------------------------------------------ raw HTTP

/// Writes `request` to `addr` and reads until the server closes or `wait` passes; what came back.
pub async fn raw_exchange(addr: &str, request: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// Percentile (0..=100) of a list of durations, in milliseconds.
pub fn percentile_ms(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    if samples.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank].as_secs_f64() * 1000.0
}
