//! Thread-per-core serving (`server.workers`): what holds for the listener as a whole holds across its
//! workers — one address, the connection limit, limits changed by a reload, shutdown draining every
//! worker's requests. Most tests listen the way `hookshift serve` does ([`server::bind_shared`]: a
//! socket of its own per worker, connections spread by the kernel), so that the requests of one test
//! reach several workers.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use hookshift::{config::Config, server};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
    task::JoinHandle,
};

use crate::support::*;

/// A hookshift run like `serve` runs it: on a listener bound with [`server::bind_shared`].
struct Served {
    addr: String,
    admin: String,
    config_path: std::path::PathBuf,
    shutdown: oneshot::Sender<()>,
    run: JoinHandle<Result<(), hookshift::RunError>>,
}

async fn serve_shared(dir: &Path, spec: &ConfigSpec) -> Served {
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, spec.toml()).unwrap();
    let config = Config::load(&config_path).unwrap();
    let listener = server::bind_shared("127.0.0.1:0".parse().unwrap()).unwrap();
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let admin = format!("http://{}", admin_listener.local_addr().unwrap());
    let (shutdown, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(hookshift::run(
        config,
        listener,
        admin_listener,
        async move {
            let _ = stopped.await;
        },
    ));
    Served {
        addr,
        admin,
        config_path,
        shutdown,
        run,
    }
}

impl Served {
    async fn stop(self) -> Result<(), hookshift::RunError> {
        let _ = self.shutdown.send(());
        tokio::time::timeout(Duration::from_secs(30), self.run)
            .await
            .expect("run returned in time")
            .unwrap()
    }
}

/// The listening sockets on 127.0.0.1:`port`, from `/proc/net/tcp` (state 0A: LISTEN).
fn listening_sockets(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A")
        })
        .count()
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

fn spec_with(dir: &Path, route: &str, url: &str, server: &str) -> ConfigSpec {
    let mut spec = ConfigSpec::new(&test_mappings(dir), vec![RouteSpec::new(route, url)]);
    spec.extra_server = server.to_owned();
    spec
}

/// A signed 2026-02-09 event on a connection of its own, asking it to close after the answer.
fn raw_request(addr: &str, route: &str, close: bool) -> Vec<u8> {
    let body = new_event_bytes();
    let mut head = format!(
        "POST /hooks/{route}?api_version={NEW} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if close {
        head.push_str("Connection: close\r\n");
    }
    for (name, value) in extend_headers(IN_SECRET, now(), &body) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    request
}

fn status_line(response: &[u8]) -> String {
    String::from_utf8_lossy(response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn every_worker_listens_on_the_address_and_shutdown_drains_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let down = Downstream::start().await;
    down.set(Behaviour::Delay(Duration::from_millis(1_500), 200));
    let spec = spec_with(dir.path(), "workers_drain", &down.url(), "workers = 4");
    let hs = serve_shared(dir.path(), &spec).await;
    let port = port_of(&hs.addr);
    // One listening socket per worker, once `run` has started them.
    eventually("four listening sockets", || async {
        listening_sockets(port) == 4
    })
    .await;

    // 16 deliveries in flight on 16 connections, which the kernel spreads over the four sockets.
    let url = format!("http://{}/hooks/workers_drain?api_version={NEW}", hs.addr);
    let in_flight: Vec<_> = (0..16)
        .map(|_| {
            let (url, body) = (url.clone(), new_event_bytes());
            let headers = extend_headers(IN_SECRET, now(), &body);
            tokio::spawn(async move { post(&url, body, &headers).await })
        })
        .collect();
    down.wait_for(16).await;
    let stopping = tokio::spawn(hs.stop());
    for answer in in_flight {
        let answer = answer.await.unwrap();
        assert_eq!(
            (answer.status, answer.json["status"].as_str()),
            (200, Some("delivered")),
            "{answer:?}"
        );
    }
    stopping.await.unwrap().unwrap();
    assert_eq!(listening_sockets(port), 0, "every worker closed its socket");
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

/// `server.max_connections` bounds the listener, not each worker: with 4 workers and 2 slots, two
/// silent connections hold both, and a third is served only once the header timeout closed one.
#[tokio::test]
async fn the_connection_limit_holds_across_workers() {
    let dir = tempfile::tempdir().unwrap();
    let down = Downstream::start().await;
    let spec = spec_with(
        dir.path(),
        "workers_slots",
        &down.url(),
        "workers = 4\nmax_connections = 2\nheader_read_timeout_ms = 1000",
    );
    let hs = serve_shared(dir.path(), &spec).await;

    let _first = TcpStream::connect(&hs.addr).await.unwrap();
    let _second = TcpStream::connect(&hs.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Four more at once, so that some land on other workers than the first two: none is served
    // before a slot frees.
    let started = Instant::now();
    let later: Vec<_> = (0..4)
        .map(|_| {
            let addr = hs.addr.clone();
            tokio::spawn(async move {
                let mut connection = TcpStream::connect(&addr).await.unwrap();
                connection
                    .write_all(&raw_request(&addr, "workers_slots", true))
                    .await
                    .unwrap();
                let mut response = Vec::new();
                connection.read_to_end(&mut response).await.unwrap();
                (status_line(&response), started.elapsed())
            })
        })
        .collect();
    for connection in later {
        let (status, waited) = connection.await.unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(
            waited >= Duration::from_millis(700),
            "a connection beyond the limit was served at once ({waited:?})"
        );
    }
    hs.stop().await.unwrap();
}

/// A reload's new `server.idle_timeout_ms` reaches every worker: keep-alive connections opened after
/// it are closed after the new timeout, whichever worker serves them.
#[tokio::test]
async fn a_reloaded_idle_timeout_applies_on_every_worker() {
    let dir = tempfile::tempdir().unwrap();
    let down = Downstream::start().await;
    let mut spec = spec_with(
        dir.path(),
        "workers_reload",
        &down.url(),
        "workers = 4\nidle_timeout_ms = 60000",
    );
    let hs = serve_shared(dir.path(), &spec).await;
    let reloads = || async {
        let page = reqwest::get(format!("{}/metrics", hs.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metric_sum(
            &page,
            "hookshift_config_reloads_total",
            &[("result", "success")],
        )
    };
    let before = reloads().await;
    spec.extra_server = "workers = 4\nidle_timeout_ms = 300".to_owned();
    std::fs::write(&hs.config_path, spec.toml()).unwrap();
    eventually("the reload", || async { reloads().await > before }).await;

    let mut connections = Vec::new();
    for _ in 0..12 {
        let mut connection = TcpStream::connect(&hs.addr).await.unwrap();
        connection
            .write_all(&raw_request(&hs.addr, "workers_reload", false))
            .await
            .unwrap();
        connections.push(connection);
    }
    for mut connection in connections {
        let mut response = Vec::new();
        let closed = tokio::time::timeout(
            Duration::from_secs(5),
            connection.read_to_end(&mut response),
        )
        .await;
        assert!(
            closed.is_ok(),
            "a keep-alive connection outlived the reloaded idle timeout"
        );
        assert_eq!(status_line(&response), "HTTP/1.1 200 OK");
    }
    hs.stop().await.unwrap();
}

/// Without `SO_REUSEPORT` on the given listener (tests, a socket handed over by a supervisor), the
/// workers share its one socket and accept from its queue.
#[tokio::test]
async fn workers_share_a_plain_listener() {
    let dir = tempfile::tempdir().unwrap();
    let down = Downstream::start().await;
    let spec = spec_with(dir.path(), "workers_plain", &down.url(), "workers = 3");
    let hs = Hookshift::start(dir.path(), &spec).await;
    let port = port_of(&hs.base);
    assert_eq!(listening_sockets(port), 1);
    let answers: Vec<_> = (0..9)
        .map(|_| {
            let (url, body) = (
                format!("{}/hooks/workers_plain?api_version={NEW}", hs.base),
                new_event_bytes(),
            );
            let headers = extend_headers(IN_SECRET, now(), &body);
            tokio::spawn(async move { post(&url, body, &headers).await.status })
        })
        .collect();
    for answer in answers {
        assert_eq!(answer.await.unwrap(), 200);
    }
    hs.stop().await.unwrap();
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}
