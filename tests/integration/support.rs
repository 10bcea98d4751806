//! Test harness: a recording downstream handler, a hookshift started through the library's `run` on
//! 127.0.0.1:0, configuration builders and signing helpers.
//!
//! A test starts both in one call: `let Harness { hs, down, .. } =
//! Harness::start(RouteSpec::extend("fwd")).await;` (or `Harness::setup(route)` with more routes,
//! other mappings or server settings, then `.start()`).

use std::{
    convert::Infallible,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use hookshift::config::{Config, Secret};
use hookshift::provider::{self, Provider, VerifyParams};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub const OLD: &str = "2025-04-21";
pub const NEW: &str = "2026-02-09";
pub const IN_SECRET: &str = "wss_test_inbound";
pub const OUT_SECRET: &str = "wss_test_handler";
/// The delivery timestamp golden cases are translated with.
pub const GOLDEN_TS: i64 = 1_771_000_000;

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A 2025-04-21 EXTRACT run that the shipped mappings translate into an event the 2026-02-09 schema
/// refuses: they carry `processorId` into the extractor's id, and here it is a list, not a string.
pub fn breaks_the_new_schema() -> Vec<u8> {
    let golden = repo_path(&format!(
        "mappings/{OLD}_to_{NEW}/golden/extract_processed.input.json"
    ));
    let mut event: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden).unwrap()).unwrap();
    event["payload"]["processorId"] = serde_json::json!([1, 2]);
    serde_json::to_vec(&event).unwrap()
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

// ------------------------------------------------------------------------------------------ downstream

/// What the downstream handler does with a request.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Answer this status at once.
    Status(u16),
    /// Wait, then answer this status.
    Delay(Duration, u16),
}

/// One request the downstream handler received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status the handler answered it with.
    pub answered: u16,
    /// When the handler received it (unix seconds): freshness is judged then, not when a test
    /// looks at it.
    pub received_at: i64,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("downstream body is JSON")
    }

    /// Checks the Extend signature of this request with `secret` and a fresh timestamp.
    pub fn assert_signed(&self, provider: Provider, secret: &str) {
        let secrets = [Secret::inline(secret)];
        let params = VerifyParams {
            provider,
            secrets: &secrets,
            tolerance_secs: 30,
            now: self.received_at,
        };
        let verified =
            provider::verify(params, &self.headers, self.body.clone()).unwrap_or_else(|e| {
                panic!("forwarded request does not verify with the handler secret: {e}")
            });
        assert!(
            (self.received_at - verified.timestamp()).abs() <= 30,
            "outbound timestamp is not fresh"
        );
    }
}

/// A real HTTP server on 127.0.0.1:0 that records requests and answers as told.
pub struct Downstream {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    task: JoinHandle<()>,
}

impl Downstream {
    pub async fn start() -> Downstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour::Status(200)));
        let (reqs, beh) = (Arc::clone(&requests), Arc::clone(&behaviour));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (reqs, beh) = (Arc::clone(&reqs), Arc::clone(&beh));
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (reqs, beh) = (Arc::clone(&reqs), Arc::clone(&beh));
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let behaviour = *beh.lock().unwrap();
                            let answered = match behaviour {
                                Behaviour::Status(status) | Behaviour::Delay(_, status) => status,
                            };
                            reqs.lock().unwrap().push(Recorded {
                                uri: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                                answered,
                                received_at: now(),
                            });
                            let status = match behaviour {
                                Behaviour::Status(status) => status,
                                Behaviour::Delay(delay, status) => {
                                    tokio::time::sleep(delay).await;
                                    status
                                }
                            };
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
        Downstream {
            addr,
            requests,
            behaviour,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "downstream got {} request(s), expected {n}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address nothing listens on.
pub async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/nobody")
}

// ------------------------------------------------------------------------------------------ config

/// One `[[routes]]` table.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub name: String,
    pub path: String,
    pub provider: &'static str,
    pub inbound_secrets: Vec<String>,
    pub tolerance_secs: u64,
    pub default_version: String,
    pub downstream_url: String,
    pub downstream_version: String,
    pub downstream_secret: String,
    pub timeout_ms: u64,
    pub policy: Vec<(String, String)>,
    pub unmapped: &'static str,
    /// `downstream.ca_file`, when set.
    pub ca_file: Option<PathBuf>,
    /// More TOML at the end of the route (e.g. a `[routes.signed_url]` table).
    pub extra_toml: String,
}

impl RouteSpec {
    /// A route named `name` at `/hooks/{name}` delivering to `url`, handler on 2026-02-09,
    /// 2025-04-21 forwarded and 2026-02-09 forwarded.
    pub fn new(name: &str, url: &str) -> RouteSpec {
        RouteSpec {
            name: name.to_owned(),
            path: format!("/hooks/{name}"),
            provider: "extend",
            inbound_secrets: vec![IN_SECRET.to_owned()],
            tolerance_secs: 300,
            default_version: OLD.to_owned(),
            downstream_url: url.to_owned(),
            downstream_version: NEW.to_owned(),
            downstream_secret: OUT_SECRET.to_owned(),
            timeout_ms: 5_000,
            policy: vec![
                (OLD.to_owned(), "forward".to_owned()),
                (NEW.to_owned(), "forward".to_owned()),
            ],
            unmapped: "ack",
            ca_file: None,
            extra_toml: String::new(),
        }
    }

    /// A route named `name` delivering to the downstream the [`Harness`] starts, otherwise as
    /// [`RouteSpec::new`].
    pub fn extend(name: &str) -> RouteSpec {
        RouteSpec::new(name, "")
    }

    pub fn forward(self, version: &str) -> RouteSpec {
        self.policy(version, "forward")
    }

    pub fn ack(self, version: &str) -> RouteSpec {
        self.policy(version, "ack")
    }

    pub fn reject(self, version: &str) -> RouteSpec {
        self.policy(version, "reject")
    }

    /// What the route does with events no mapping covers (`ack`, `forward`, `reject`).
    pub fn unmapped(mut self, unmapped: &'static str) -> RouteSpec {
        self.unmapped = unmapped;
        self
    }

    pub fn tolerance_secs(mut self, secs: u64) -> RouteSpec {
        self.tolerance_secs = secs;
        self
    }

    pub fn timeout_ms(mut self, ms: u64) -> RouteSpec {
        self.timeout_ms = ms;
        self
    }

    pub fn inbound_secrets(mut self, secrets: &[&str]) -> RouteSpec {
        self.inbound_secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Delivers to `url` instead of the harness's downstream.
    pub fn to(mut self, url: &str) -> RouteSpec {
        self.downstream_url = url.to_owned();
        self
    }

    /// More TOML at the end of the route (e.g. a `[routes.signed_url]` table).
    pub fn with_toml(mut self, toml: &str) -> RouteSpec {
        self.extra_toml.push_str(toml);
        self
    }

    pub fn policy(mut self, version: &str, policy: &str) -> RouteSpec {
        self.policy.retain(|(v, _)| v != version);
        self.policy.push((version.to_owned(), policy.to_owned()));
        self
    }

    pub fn toml(&self) -> String {
        let secrets: Vec<String> = self
            .inbound_secrets
            .iter()
            .map(|s| format!("{s:?}"))
            .collect();
        let mut text = format!(
            "[[routes]]\nname = {:?}\npath = {:?}\nprovider = {:?}\ninbound_secrets = [{}]\n\
             timestamp_tolerance_secs = {}\ndefault_version = {:?}\nunmapped = {:?}\n\
             [routes.downstream]\nurl = {:?}\nversion = {:?}\nsecret = {:?}\ntimeout_ms = {}\n[routes.policy]\n",
            self.name,
            self.path,
            self.provider,
            secrets.join(", "),
            self.tolerance_secs,
            self.default_version,
            self.unmapped,
            self.downstream_url,
            self.downstream_version,
            self.downstream_secret,
            self.timeout_ms,
        );
        if let Some(ca_file) = &self.ca_file {
            text = text.replace(
                "[routes.policy]\n",
                &format!("ca_file = {ca_file:?}\n[routes.policy]\n"),
            );
        }
        for (version, policy) in &self.policy {
            text.push_str(&format!("{version:?} = {policy:?}\n"));
        }
        text.push_str(&self.extra_toml);
        text
    }
}

/// A whole configuration file.
#[derive(Debug, Clone)]
pub struct ConfigSpec {
    pub mappings_dir: PathBuf,
    pub max_body_bytes: u64,
    pub shutdown_grace_ms: u64,
    pub body_read_timeout_ms: u64,
    pub reload_poll_ms: u64,
    pub extra_server: String,
    /// More top-level tables after `[mappings]` (e.g. `[schemas]`).
    pub extra_toml: String,
    /// The `[ledger]` table: off unless a test is about the ledger (with it, a copy sent twice is
    /// delivered once).
    pub ledger: String,
    pub routes: Vec<RouteSpec>,
}

impl ConfigSpec {
    pub fn new(mappings_dir: &Path, routes: Vec<RouteSpec>) -> ConfigSpec {
        ConfigSpec {
            mappings_dir: mappings_dir.to_path_buf(),
            max_body_bytes: 65_536,
            shutdown_grace_ms: 5_000,
            body_read_timeout_ms: 5_000,
            reload_poll_ms: 100,
            extra_server: String::new(),
            extra_toml: String::new(),
            ledger: "[ledger]\nbackend = \"off\"\n".to_owned(),
            routes,
        }
    }

    /// [`ConfigSpec::toml`] with routes that quarantine the events their mappings fail on.
    pub fn toml_quarantining(&self) -> String {
        self.toml().replace(
            "[routes.downstream]",
            "on_translation_failure = \"quarantine\"\n[routes.downstream]",
        )
    }

    pub fn toml(&self) -> String {
        let mut text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nmax_body_bytes = {}\n\
             shutdown_grace_ms = {}\nbody_read_timeout_ms = {}\nreload_poll_ms = {}\n{}\n\
             [mappings]\ndir = {:?}\n\n",
            self.max_body_bytes,
            self.shutdown_grace_ms,
            self.body_read_timeout_ms,
            self.reload_poll_ms,
            self.extra_server,
            self.mappings_dir.display().to_string(),
        );
        text.push_str(&self.extra_toml);
        text.push('\n');
        text.push_str(&self.ledger);
        text.push('\n');
        for route in &self.routes {
            text.push_str(&route.toml());
            text.push('\n');
        }
        text
    }
}

/// A small mapping set of our own, so that most tests do not depend on the shipped mappings:
/// `processor_run.processed` with `type = "EXTRACT"` becomes `extract_run.processed`; the payload must
/// have a string `id` (else the translation fails).
pub fn test_mappings(dir: &Path) -> PathBuf {
    let step = dir.join("mappings").join(format!("{OLD}_to_{NEW}"));
    std::fs::create_dir_all(&step).unwrap();
    std::fs::write(
        step.join("runs.toml"),
        r#"[[rule]]
name = "extract-run"
events = { "processor_run.processed" = "extract_run.processed" }
when = { type = "EXTRACT" }
ops = [
  { expect = "id", type = "string" },
  { set = "object", value = "extract_run" },
  { drop = "type", reason = "encoded in the event type" },
  { set = "deliveredAt", delivery = "timestamp" },
]
"#,
    )
    .unwrap();
    dir.join("mappings")
}

// ------------------------------------------------------------------------------------------ hookshift

/// A hookshift started with `hookshift::run` on 127.0.0.1:0.
pub struct Hookshift {
    pub base: String,
    pub admin: String,
    pub config_path: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), hookshift::RunError>>>,
    /// The folder of the config (and test mappings) when the harness made it: removed after the
    /// server is gone.
    _files: Option<tempfile::TempDir>,
}

impl Hookshift {
    /// Writes `spec` to `dir/config.toml`, loads it like `serve` does and runs it.
    pub async fn start(dir: &Path, spec: &ConfigSpec) -> Hookshift {
        let config_path = dir.join("config.toml");
        std::fs::write(&config_path, spec.toml()).unwrap();
        Hookshift::start_from_file(config_path).await
    }

    /// Stops this server gracefully and starts a new one on the configuration file as it is now
    /// (and the same ledger): what a restarted process sees.
    pub async fn restart(mut self) -> Hookshift {
        let files = self._files.take();
        let config_path = self.config_path.clone();
        self.stop().await.expect("a graceful stop");
        let mut restarted = Hookshift::start_from_file(config_path).await;
        restarted._files = files;
        restarted
    }

    /// Loads the configuration file as it is (written by the test) like `serve` does and runs it.
    pub async fn start_from_file(config_path: PathBuf) -> Hookshift {
        let config =
            Config::load(&config_path).unwrap_or_else(|e| panic!("test config is invalid:\n{e}"));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let admin = format!("http://{}", admin_listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(hookshift::run(
            config,
            listener,
            admin_listener,
            async move {
                let _ = rx.await;
            },
        ));
        Hookshift {
            base,
            admin,
            config_path,
            shutdown: Some(tx),
            handle: Some(handle),
            _files: None,
        }
    }

    /// `host:port` of the public listener.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) -> Result<(), hookshift::RunError> {
        let _ = self.shutdown.take().unwrap().send(());
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .expect("run returned in time")
            .unwrap()
    }

    pub async fn metrics(&self) -> String {
        let response = reqwest::get(format!("{}/metrics", self.admin))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }
}

impl Drop for Hookshift {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Which mappings a [`Setup`] loads.
enum MappingSource {
    /// [`test_mappings`], written into the harness's folder.
    Test,
    /// The shipped `mappings/`.
    Shipped,
}

/// What a [`Harness`] starts: routes (delivering to its downstream unless they name a URL), the
/// mappings and the server settings.
pub struct Setup {
    spec: ConfigSpec,
    mappings: MappingSource,
}

impl Setup {
    /// Another route.
    pub fn route(mut self, route: RouteSpec) -> Setup {
        self.spec.routes.push(route);
        self
    }

    /// The shipped mappings instead of [`test_mappings`].
    pub fn shipped_mappings(mut self) -> Setup {
        self.mappings = MappingSource::Shipped;
        self
    }

    /// Changes the rest of the configuration (limits, timeouts, `extra_server`, `extra_toml`).
    pub fn config(mut self, change: impl FnOnce(&mut ConfigSpec)) -> Setup {
        change(&mut self.spec);
        self
    }

    /// Starts the downstream and writes the config and the mappings into a fresh folder, without
    /// running hookshift: for tests that run the binary or restart the server themselves.
    pub async fn write(self) -> Files {
        let dir = tempfile::tempdir().unwrap();
        let down = Downstream::start().await;
        let Setup { mut spec, mappings } = self;
        spec.mappings_dir = match mappings {
            MappingSource::Test => test_mappings(dir.path()),
            MappingSource::Shipped => repo_path("mappings"),
        };
        for route in &mut spec.routes {
            if route.downstream_url.is_empty() {
                route.downstream_url = down.url();
            }
        }
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, spec.toml()).unwrap();
        Files {
            dir,
            config_path,
            down,
            spec,
        }
    }

    /// Starts the downstream, writes the config and the mappings into a fresh folder and runs
    /// hookshift on them.
    pub async fn start(self) -> Harness {
        let Files {
            dir, down, spec, ..
        } = self.write().await;
        let mut hs = Hookshift::start(dir.path(), &spec).await;
        hs._files = Some(dir);
        Harness { hs, down, spec }
    }
}

/// What [`Setup::write`] leaves: the folder (removed when this is dropped), the config file in it,
/// the downstream the routes deliver to and the configuration as written.
pub struct Files {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub down: Downstream,
    pub spec: ConfigSpec,
}

/// A running hookshift in front of a recording downstream: what most tests start with.
pub struct Harness {
    /// The server: `base`, `admin`, `config_path` (rewrite it to reload), `stop()`.
    pub hs: Hookshift,
    /// The handler the routes deliver to.
    pub down: Downstream,
    /// The configuration as written (change it and write `spec.toml()` to `hs.config_path` to reload).
    pub spec: ConfigSpec,
}

impl Harness {
    /// One route, the test mappings, default settings.
    pub async fn start(route: RouteSpec) -> Harness {
        Harness::setup(route).start().await
    }

    /// A setup to extend before [`Setup::start`].
    pub fn setup(route: RouteSpec) -> Setup {
        Setup {
            spec: ConfigSpec::new(Path::new(""), vec![route]),
            mappings: MappingSource::Test,
        }
    }
}

// ------------------------------------------------------------------------------------------ requests

/// Extend signature headers for `body`.
pub fn extend_headers(secret: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    let ts = timestamp.to_string();
    vec![
        ("x-extend-request-timestamp".to_owned(), ts.clone()),
        (
            "x-extend-request-signature".to_owned(),
            provider::extend_signature(secret.as_bytes(), &ts, body),
        ),
        ("content-type".to_owned(), "application/json".to_owned()),
    ]
}

/// The answer hookshift gave.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub json: Value,
}

impl Answer {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or_default()
    }
}

/// POSTs `body` with `headers`.
pub async fn post(url: &str, body: Vec<u8>, headers: &[(String, String)]) -> Answer {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("hookshift answered");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("answer is not JSON: {text:?}"));
    Answer { status, json }
}

/// POSTs `body` to `path_and_query`, signed with `secret` now.
pub async fn post_signed(
    hs: &Hookshift,
    path_and_query: &str,
    secret: &str,
    body: &[u8],
) -> Answer {
    post(
        &format!("{}{path_and_query}", hs.base),
        body.to_vec(),
        &extend_headers(secret, now(), body),
    )
    .await
}

/// A 2025-04-21 `processor_run.processed` EXTRACT event (what the test mappings translate).
pub fn old_extract_event(id: &str) -> Vec<u8> {
    format!(
        r#"{{"eventId":"evt_{id}","eventType":"processor_run.processed","payload":{{"object":"document_processor_run","id":"{id}","type":"EXTRACT","output":{{"amount":12.50}}}}}}"#
    )
    .into_bytes()
}

/// A 2026-02-09 event with formatting a re-serialization would change.
pub fn new_event_bytes() -> Vec<u8> {
    "{ \"eventId\" : \"evt_new\",\n  \"eventType\":\"extract_run.processed\",\"payload\":{\"object\":\"extract_run\",\"id\":\"exr_1\",\"n\":1.50,\"big\":12345678901234567890123,\"text\":\"caf\\u00e9 ü\"} }\n"
        .as_bytes()
        .to_vec()
}

// ------------------------------------------------------------------------------------------ metrics

/// The sum of the samples of `name` whose labels include every pair of `labels`.
pub fn metric_sum(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse::<f64>().unwrap())
        })
        .sum()
}

/// Whether any sample of `name` has every pair of `labels`.
pub fn has_series(page: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .any(|line| {
            let Some((series, _)) = line.rsplit_once(' ') else {
                return false;
            };
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
}

/// Polls `check` every 50 ms until it holds or 10 s pass.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `hookshift shadow report` on `config`, for `route` over the last hour, shows every
/// line of `lines` (the server writes a comparison to its file within a quarter second).
pub async fn report_shows(config: &std::path::Path, route: &str, lines: &[String]) {
    use hookshift::cli::shadow_report::{self as report, ReportArgs};
    eventually("the shadow report shows every pair", move || async move {
        let text = report::run(&ReportArgs {
            config: config.to_path_buf(),
            route: Some(route.to_owned()),
            since: Some(Duration::from_secs(3600)),
            json: false,
        })
        .await
        .unwrap();
        lines.iter().all(|line| text.contains(line.as_str()))
    })
    .await;
}
