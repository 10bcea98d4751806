//! Nothing is lost under load, faults of the handler, faults of hookshift itself (SIGTERM, restart) and
//! configuration reloads.
//!
//! The sender simulator (see `faults.rs`) behaves like Extend: unique `eventId`s, every attempt signed
//! afresh, any non-2xx (or a transport error) retried with exponential backoff. The downstream fails a
//! share of requests on purpose (503, connection reset, hang past hookshift's timeout, slow answers).
//!
//! `HOOKSHIFT_SOAK_EVENTS` and `HOOKSHIFT_SOAK_CONCURRENCY` scale the no-loss test up (see
//! `scripts/soak.sh`); CI runs the defaults (20,000 events, concurrency 64).

use std::{
    net::SocketAddr,
    path::Path,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use hookshift::config::Config;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::faults::*;
use crate::support::*;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` unique events for `route`: even ones 2025-04-21 (translated), odd ones 2026-02-09 (forwarded
/// byte for byte). `tag` keeps ids unique across tests.
fn events(route: &str, tag: &str, n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let id = format!("{tag}_{i}");
                Event {
                    id: format!("evt_{id}"),
                    target: format!("/hooks/{route}"),
                    body: old_extract_event(&id),
                }
            } else {
                let id = format!("evt_{tag}_{i}");
                let body = format!(
                    r#"{{"eventId":"{id}","eventType":"extract_run.processed","payload":{{"object":"extract_run","id":"exr_{i}","amount":12345678901234567890.123456789}}}}"#
                );
                Event {
                    id,
                    target: format!("/hooks/{route}?api_version={NEW}"),
                    body: body.into_bytes(),
                }
            }
        })
        .collect()
}

fn metric(page: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    metric_sum(page, name, labels) as u64
}

/// Checks the invariants every run must meet, and that /metrics agrees with what the sender and the
/// downstream saw. Returns a one-line summary.
fn check_no_loss(
    route: &str,
    sent: &[Event],
    report: &SenderReport,
    down: &DownstreamStats,
    page: &str,
) -> String {
    assert!(
        report.gave_up.is_empty(),
        "sender gave up on {} event(s)",
        report.gave_up.len()
    );
    let delivered = down.delivered_ids();
    let acknowledged = report.acknowledged();
    assert_eq!(acknowledged.len(), sent.len(), "every event acknowledged");
    let missing: Vec<&String> = sent
        .iter()
        .map(|e| &e.id)
        .filter(|id| !delivered.contains_key(*id))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "events never delivered: {missing:?}");
    // Every acknowledged event was delivered (the 2xx came from the handler, not from hookshift).
    assert!(acknowledged.iter().all(|id| delivered.contains_key(id)));
    assert_eq!(
        DownstreamStats::get(&down.bad_requests),
        0,
        "downstream got unsigned or foreign requests"
    );

    let r = ("route", route);
    let events = |outcome: &str| metric(page, "hookshift_events_total", &[r, ("outcome", outcome)]);
    let class = |c: &str| {
        metric(
            page,
            "hookshift_downstream_responses_total",
            &[r, ("status_class", c)],
        )
    };
    let received = metric(page, "hookshift_events_received_total", &[r]);
    let reached = report.count_status(|s| s.is_some()) as u64;
    let ok = report.count_status(|s| s.is_some_and(|s| (200..300).contains(&s))) as u64;
    let failed = report.count_status(|s| s.is_some_and(|s| s >= 300)) as u64;

    // hookshift counted every answered request, and the same split the sender saw.
    assert_eq!(
        received, reached,
        "events_received_total vs answered attempts\n{page}"
    );
    assert_eq!(events("delivered"), ok, "outcome=delivered vs sender 2xx");
    assert_eq!(
        events("downstream_error"),
        failed,
        "outcome=downstream_error vs sender non-2xx"
    );
    assert_eq!(ok, sent.len() as u64, "one 2xx per event");
    // hookshift's view of the handler agrees with the handler's own.
    let ds_2xx = DownstreamStats::get(&down.answered_2xx);
    let ds_5xx = DownstreamStats::get(&down.answered_5xx);
    let ds_resets = DownstreamStats::get(&down.resets);
    let ds_hangs = DownstreamStats::get(&down.hangs);
    assert_eq!(class("2xx"), ok, "2xx deliveries vs sender 2xx");
    // An answer (2xx, 503 or reset) the handler gave after hookshift's deadline is a timeout for
    // hookshift: the sender retries, and a late 2xx means the event is delivered twice (at least once,
    // never lost). On a quiet machine there are none; under heavy load a few.
    let (c2xx, c5xx, creset) = (class("2xx"), class("5xx"), class("connect_error"));
    assert!(
        c2xx <= ds_2xx && c5xx <= ds_5xx && creset <= ds_resets,
        "hookshift saw answers the handler never gave"
    );
    let late = (ds_2xx - c2xx) + (ds_5xx - c5xx) + (ds_resets - creset);
    assert_eq!(
        class("timeout"),
        ds_hangs + late,
        "timeouts = hangs + late answers"
    );
    assert_eq!(
        received,
        ds_2xx + ds_5xx + ds_resets + ds_hangs,
        "every reached request hit the handler"
    );
    assert_eq!(metric(page, "hookshift_inflight_requests", &[r]), 0);
    format!(
        "{} events, {} attempts ({:?}), handler: {ds_2xx} ok / {ds_5xx} 5xx / {ds_resets} resets / {ds_hangs} hangs / {} slow, {late} late, max {} attempts per event, {:.1} s",
        sent.len(),
        report.total_attempts(),
        report.statuses(),
        DownstreamStats::get(&down.slow),
        report.max_attempts(),
        report.elapsed.as_secs_f64(),
    )
}

/// The headline test: 20,000 events at concurrency 64 through a handler that fails about a quarter of
/// the requests in four different ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_under_load_and_handler_faults() {
    let _heavy = HEAVY.lock().await;
    let n = env_usize("HOOKSHIFT_SOAK_EVENTS", 20_000);
    let concurrency = env_usize("HOOKSHIFT_SOAK_CONCURRENCY", 64);
    let route = "reliab_noloss";
    let down = FaultyDownstream::start(Faults {
        error_5xx: 80,
        reset: 40,
        hang: 10,
        slow: 100,
        slow_ms: (5, 40),
        hang_ms: 1_500,
        seed: 0x5eed,
    })
    .await;
    // Short enough that hangs do not make the test slow, long enough for slow answers under load.
    let spec = RouteSpec::extend(route).to(&down.url()).timeout_ms(750);
    let Harness { hs, .. } = Harness::start(spec).await;

    let sent = events(route, "noloss", n);
    let options = SenderOptions {
        concurrency,
        ..SenderOptions::default()
    };
    let report = send_all(&hs.base, IN_SECRET, sent.clone(), &options).await;
    let page = hs.metrics().await;
    let summary = check_no_loss(route, &sent, &report, &down.stats, &page);
    eprintln!("no-loss: {summary}");
    // The faults really happened.
    assert!(
        DownstreamStats::get(&down.stats.resets) > 0 && DownstreamStats::get(&down.stats.hangs) > 0
    );
    hs.stop().await.unwrap();
}

// ------------------------------------------------------------------------------------------ restarts

/// hookshift through the library's `run`, on a fixed address so that a restart takes the same port.
struct Instance {
    admin: String,
    shutdown: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), hookshift::RunError>>,
}

impl Instance {
    async fn start(config_path: &Path, addr: SocketAddr) -> Instance {
        let config = Config::load(config_path).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        };
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_url = format!("http://{}", admin.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(hookshift::run(config, listener, admin, async move {
            let _ = rx.await;
        }));
        Instance {
            admin: admin_url,
            shutdown: Some(tx),
            handle,
        }
    }

    /// Like SIGTERM: stop accepting, drain, return.
    async fn terminate(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("drained in time")
            .unwrap()
            .unwrap();
    }
}

/// Waits until the downstream holds at least `n` requests in flight.
async fn wait_inflight(down: &FaultyDownstream, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let inflight = down.stats.inflight.load(Ordering::SeqCst);
        if inflight >= n {
            return inflight;
        }
        assert!(
            Instant::now() < deadline,
            "load never reached {n} in-flight deliveries"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Shutdown in the middle of load (through `run`'s shutdown future, what SIGTERM triggers in the
/// binary) drains the deliveries in flight; a restart on the same port plus the sender's retries lose
/// nothing, and no delivery's 2xx is lost on the way back (each event is answered 2xx exactly once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_load_drains_and_a_restart_loses_nothing() {
    let _heavy = HEAVY.lock().await;
    let route = "reliab_restart";
    let down = FaultyDownstream::start(Faults {
        error_5xx: 50,
        slow: 600,
        slow_ms: (100, 300),
        seed: 7,
        ..Faults::none()
    })
    .await;
    // A delivery that outlives hookshift's deadline would be retried and delivered twice, which the
    // test reads as a cut delivery: the deadline is far beyond the slowest answer.
    let route_spec = RouteSpec::extend(route).to(&down.url()).timeout_ms(20_000);
    let files = Harness::setup(route_spec)
        .config(|c| c.shutdown_grace_ms = 10_000)
        .write()
        .await;
    let config_path = &files.config_path;
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port().await).parse().unwrap();
    let base = format!("http://{addr}");

    let first = Instance::start(config_path, addr).await;
    let sent = events(route, "restart", 3_000);
    let sender = {
        let (base, sent) = (base.clone(), sent.clone());
        tokio::spawn(
            async move { send_all(&base, IN_SECRET, sent, &SenderOptions::default()).await },
        )
    };
    let inflight_at_stop = wait_inflight(&down, 32).await;
    let received_before = DownstreamStats::get(&down.stats.received);
    let stop_at = Instant::now();
    first.terminate().await;
    let drained_in = stop_at.elapsed();
    // Every delivery in flight at shutdown was answered by the handler before `run` returned.
    assert_eq!(
        down.stats.inflight.load(Ordering::SeqCst),
        0,
        "run returned with deliveries in flight"
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // "restart" downtime: the sender sees refusals
    let second = Instance::start(config_path, addr).await;
    let report = sender.await.unwrap();

    // The in-flight requests at shutdown got their answers, not a cut connection.
    let cut = report
        .attempts
        .values()
        .flatten()
        .filter(|a| {
            a.started < stop_at
                && a.ended > stop_at
                && a.ended < stop_at + drained_in
                && a.status.is_none()
        })
        .count();
    let answered_during_drain = report
        .attempts
        .values()
        .flatten()
        .filter(|a| a.started < stop_at && a.ended > stop_at && a.status.is_some())
        .count();
    let delivered = down.stats.delivered_ids();
    assert!(report.gave_up.is_empty());
    assert_eq!(report.acknowledged().len(), sent.len());
    for event in &sent {
        assert!(delivered.contains_key(&event.id), "{} lost", event.id);
    }
    let twice: Vec<_> = delivered
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    assert!(
        twice.is_empty(),
        "the 2xx of {} delivered event(s) never reached the sender (e.g. {:?})",
        twice.len(),
        twice.first()
    );
    assert!(
        report.count_status(|s| s.is_none()) > 0,
        "the sender never saw the restart (the test did not test anything)"
    );
    eprintln!(
        "restart: {inflight_at_stop} deliveries in flight at shutdown ({received_before} received before), drained in {drained_in:?}, \
         {answered_during_drain} sender requests answered during the drain, {cut} cut; sender {:?}, {} attempts",
        report.statuses(),
        report.total_attempts()
    );
    assert_eq!(cut, 0, "requests cut during the drain");
    // Both instances share the process's recorder: the totals cover the whole run.
    let page = reqwest::get(format!("{}/metrics", second.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = ("route", route);
    let ok = report.count_status(|s| s.is_some_and(|s| (200..300).contains(&s))) as u64;
    assert_eq!(
        metric(
            &page,
            "hookshift_events_total",
            &[r, ("outcome", "delivered")]
        ),
        ok
    );
    assert_eq!(
        metric(
            &page,
            "hookshift_downstream_responses_total",
            &[r, ("status_class", "2xx")]
        ),
        ok
    );
    assert_eq!(
        metric(&page, "hookshift_events_received_total", &[r]),
        report.count_status(|s| s.is_some()) as u64
    );
    second.terminate().await;
}

/// The real binary: SIGTERM in the middle of load drains in-flight deliveries (the process exits 0
/// after they are answered), and a restart of the binary on the same port plus the sender's retries
/// lose nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_to_the_binary_drains_and_a_restart_loses_nothing() {
    let _heavy = HEAVY.lock().await;
    let route = "reliab_sigterm";
    let down = FaultyDownstream::start(Faults {
        slow: 1000,
        slow_ms: (200, 400),
        seed: 11,
        ..Faults::none()
    })
    .await;
    let port = free_port().await;
    // A delivery that outlives hookshift's deadline would be retried and delivered twice, which the
    // test reads as a cut delivery: the deadline is far beyond the slowest answer.
    let route_spec = RouteSpec::extend(route).to(&down.url()).timeout_ms(20_000);
    let files = Harness::setup(route_spec)
        .config(|c| c.shutdown_grace_ms = 10_000)
        .write()
        .await;
    let (config_path, spec) = (&files.config_path, &files.spec);
    std::fs::write(
        config_path,
        spec.toml().replace(
            "\nlisten = \"127.0.0.1:0\"",
            &format!("\nlisten = \"127.0.0.1:{port}\""),
        ),
    )
    .unwrap();

    let mut first = Binary::start(config_path, &[]);
    let base = first.base.clone();
    assert_eq!(base, format!("http://127.0.0.1:{port}"));
    let sent = events(route, "sigterm", 1_000);
    let sender = {
        let (base, sent) = (base.clone(), sent.clone());
        tokio::spawn(
            async move { send_all(&base, IN_SECRET, sent, &SenderOptions::default()).await },
        )
    };
    let inflight_at_stop = wait_inflight(&down, 32).await;
    let stop_at = Instant::now();
    first.signal("TERM");
    let code = tokio::task::spawn_blocking(move || {
        let code = first.wait(Duration::from_secs(20));
        (code, first.log())
    })
    .await
    .unwrap();
    let drained_in = stop_at.elapsed();
    let (code, log) = code;
    assert_eq!(code, Some(0), "exit code after SIGTERM\n{log}");
    assert!(log.contains("draining") && log.contains("drained"), "{log}");
    assert_eq!(
        down.stats.inflight.load(Ordering::SeqCst),
        0,
        "the binary exited with deliveries in flight"
    );

    let second = Binary::start(config_path, &[]);
    let report = sender.await.unwrap();
    let delivered = down.stats.delivered_ids();
    assert!(report.gave_up.is_empty());
    for event in &sent {
        assert!(delivered.contains_key(&event.id), "{} lost", event.id);
    }
    let twice = delivered.values().filter(|n| **n > 1).count();
    assert_eq!(twice, 0, "a delivered event's 2xx never reached the sender");
    let cut = report
        .attempts
        .values()
        .flatten()
        .filter(|a| {
            a.started < stop_at
                && a.ended > stop_at
                && a.ended < stop_at + drained_in
                && a.status.is_none()
        })
        .count();
    assert_eq!(cut, 0, "requests cut during the drain");
    eprintln!(
        "binary SIGTERM: {inflight_at_stop} in flight at SIGTERM, exited 0 after {drained_in:?}; sender {:?}",
        report.statuses()
    );
    let page = reqwest::get(format!("{}/metrics", second.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The second process counted what it handled itself: the events not acknowledged before.
    assert!(
        metric(
            &page,
            "hookshift_events_total",
            &[("route", route), ("outcome", "delivered")]
        ) > 0
    );
    drop(second);
}

// ------------------------------------------------------------------------------------------ reloads

/// Policy flips (forward → ack → reject) written every 150 ms while 64 senders keep posting: every
/// answer is one a policy gives (200 delivered, 200 acked, 400 version_rejected), never an error caused
/// by the reload; what was delivered is exactly what was answered "delivered".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_during_load_fail_no_request() {
    let _heavy = HEAVY.lock().await;
    let route = "reliab_reload";
    let down = FaultyDownstream::start(Faults::none()).await;
    let Harness { hs, spec, .. } =
        Harness::setup(RouteSpec::extend(route).to(&down.url()).forward(OLD))
            .config(|c| c.reload_poll_ms = 20)
            .start()
            .await;
    let spec_for = |policy: &str| {
        let mut spec = spec.clone();
        spec.routes[0] = spec.routes[0].clone().policy(OLD, policy);
        spec
    };
    let page = hs.metrics().await;
    let reloads_before = metric(
        &page,
        "hookshift_config_reloads_total",
        &[("result", "success")],
    );

    // The reload counters are process-wide (other tests reload too): only a lower bound is checked.
    // Flip the policy with atomic replaces of the file, as a ConfigMap update does.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (path, stop) = (hs.config_path.clone(), Arc::clone(&stop));
        let texts: Vec<String> = ["ack", "reject", "forward"]
            .iter()
            .map(|p| spec_for(p).toml())
            .collect();
        tokio::spawn(async move {
            let mut flips = 0usize;
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(150)).await;
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, &texts[flips % 3]).unwrap();
                std::fs::rename(&tmp, &path).unwrap();
                flips += 1;
            }
            flips
        })
    };

    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..64 {
        let (client, base) = (client.clone(), hs.base.clone());
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut i = 0;
            while started.elapsed() < Duration::from_millis(3_000) {
                let id = format!("reload_{w}_{i}");
                i += 1;
                let body = old_extract_event(&id);
                let mut request = client
                    .post(format!("{base}/hooks/{route}"))
                    .body(body.clone());
                for (name, value) in extend_headers(IN_SECRET, now(), &body) {
                    request = request.header(name, value);
                }
                let answer = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let json: serde_json::Value = response.json().await.unwrap_or_default();
                        let kind = json["status"]
                            .as_str()
                            .or(json["error"].as_str())
                            .unwrap_or("?")
                            .to_owned();
                        format!("{status} {kind}")
                    }
                    Err(e) => format!("transport error {e}"),
                };
                seen.push((format!("evt_{id}"), answer));
            }
            seen
        }));
    }
    let mut answers = Vec::new();
    for worker in workers {
        answers.extend(worker.await.unwrap());
    }
    stop.store(true, Ordering::SeqCst);
    let flips = flipper.await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut kinds = std::collections::BTreeMap::new();
    for (_, answer) in &answers {
        *kinds.entry(answer.clone()).or_insert(0usize) += 1;
    }
    let allowed = ["200 delivered", "200 acked", "400 version_rejected"];
    assert!(
        kinds.keys().all(|k| allowed.contains(&k.as_str())),
        "answers not explained by any policy: {kinds:?}"
    );
    assert!(
        allowed.iter().all(|k| kinds.contains_key(*k)),
        "every policy was seen: {kinds:?}"
    );
    let delivered_answers: std::collections::HashSet<String> = answers
        .iter()
        .filter(|(_, a)| a == "200 delivered")
        .map(|(id, _)| id.clone())
        .collect();
    let delivered = down.stats.delivered_ids();
    assert_eq!(
        delivered.len(),
        delivered_answers.len(),
        "delivered exactly what was answered delivered"
    );
    assert!(delivered_answers
        .iter()
        .all(|id| delivered.contains_key(id)));

    let page = hs.metrics().await;
    let reloads = metric(
        &page,
        "hookshift_config_reloads_total",
        &[("result", "success")],
    ) - reloads_before;
    assert!(
        reloads as usize >= flips / 2,
        "{reloads} reloads for {flips} flips"
    );
    let r = ("route", route);
    let events = |outcome: &str| {
        metric(&page, "hookshift_events_total", &[r, ("outcome", outcome)]) as usize
    };
    assert_eq!(events("delivered"), kinds["200 delivered"]);
    assert_eq!(events("acked"), kinds["200 acked"]);
    assert_eq!(events("rejected"), kinds["400 version_rejected"]);
    eprintln!(
        "reloads: {flips} flips, {reloads} reloads, {} requests: {kinds:?}",
        answers.len()
    );
    hs.stop().await.unwrap();
}

/// A configuration change made while hookshift starts (after the files were read, before the watcher
/// runs) is reloaded: the watcher compares against the fingerprint taken when the state was built, not
/// against whatever the files hold when it first looks.
#[tokio::test]
async fn a_change_made_while_starting_is_reloaded() {
    let route = RouteSpec::extend("reliab_startup")
        .to("http://127.0.0.1:9/")
        .forward(OLD);
    let files = Harness::setup(route)
        .config(|c| c.reload_poll_ms = 20)
        .write()
        .await;
    let spec = |policy: &str| {
        let mut spec = files.spec.clone();
        spec.routes[0] = spec.routes[0].clone().policy(OLD, policy);
        spec.toml()
    };
    let path = files.config_path.clone();
    let state = hookshift::state::State::load(&path).unwrap();
    let baseline = hookshift::reload::fingerprint(&path, &state.config.mappings_dir());
    let shared = Arc::new(hookshift::reload::Shared::new(state));
    // The edit lands before the watcher takes its first look.
    std::fs::write(&path, spec("reject")).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(hookshift::reload::watch(
        Arc::clone(&shared),
        stop_rx,
        Some(baseline),
    ));
    let policy = |shared: &hookshift::reload::Shared| shared.load().config.routes[0].policy[OLD];
    let deadline = Instant::now() + Duration::from_secs(10);
    while policy(&shared) != hookshift::config::Policy::Reject {
        assert!(
            Instant::now() < deadline,
            "the change made while starting was never reloaded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    watcher.await.unwrap();
}
