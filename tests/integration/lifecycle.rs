//! Hot reload (file change and SIGHUP) and graceful shutdown.

use std::time::{Duration, Instant};

use crate::support::*;

fn reloads(page: &str, result: &str) -> f64 {
    metric_sum(
        page,
        "hookshift_config_reloads_total",
        &[("result", result)],
    )
}

/// POSTs a 2026-02-09 event and returns the `status` or `error` of the answer.
async fn outcome_of(hs: &Hookshift, route: &str) -> String {
    let answer = post_signed(
        hs,
        &format!("/hooks/{route}?api_version={NEW}"),
        IN_SECRET,
        &new_event_bytes(),
    )
    .await;
    answer.json["status"]
        .as_str()
        .or(answer.json["error"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn config_file_changes_reload_and_invalid_ones_are_refused() {
    let Harness { hs, down, mut spec } = Harness::start(RouteSpec::extend("reload").ack(NEW)).await;
    assert_eq!(outcome_of(&hs, "reload").await, "acked");

    // Stage change in the file: the new policy applies without a restart.
    spec.routes[0] = spec.routes[0].clone().policy(NEW, "forward");
    std::fs::write(&hs.config_path, spec.toml()).unwrap();
    let hs_ref = &hs;
    eventually("policy forward after reload", move || async move {
        outcome_of(hs_ref, "reload").await == "delivered"
    })
    .await;
    assert!(!down.requests().is_empty());
    let before = hs.metrics().await;
    assert!(reloads(&before, "success") >= 1.0, "{before}");

    // An invalid file is refused, counted, and the running configuration stays.
    let failures = reloads(&before, "failure");
    std::fs::write(
        &hs.config_path,
        spec.toml()
            .replace("[server]\n", "[server]\nbogus_key = 1\n"),
    )
    .unwrap();
    eventually("reload failure counted", move || async move {
        reloads(&hs_ref.metrics().await, "failure") > failures
    })
    .await;
    assert_eq!(
        outcome_of(&hs, "reload").await,
        "delivered",
        "the running configuration must stay"
    );
    assert!(hs
        .metrics()
        .await
        .contains("hookshift_config_last_reload_success"));

    // A request in flight during a reload finishes on the configuration it started with.
    down.set(Behaviour::Delay(Duration::from_millis(1500), 200));
    let delivered_before = down.requests().len();
    let body = new_event_bytes();
    let (url, headers) = (
        format!("{}/hooks/reload?api_version={NEW}", hs.base),
        extend_headers(IN_SECRET, now(), &body),
    );
    let in_flight = tokio::spawn(async move { post(&url, body, &headers).await });
    down.wait_for(delivered_before + 1).await;
    spec.routes[0] = spec.routes[0].clone().policy(NEW, "reject");
    std::fs::write(&hs.config_path, spec.toml()).unwrap();
    eventually("policy reject after reload", move || async move {
        outcome_of(hs_ref, "reload").await == "version_rejected"
    })
    .await;
    let answer = in_flight.await.unwrap();
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("delivered")),
        "{answer:?}"
    );
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn sighup_reloads() {
    let Harness {
        hs,
        down: _down,
        mut spec,
    } = Harness::setup(RouteSpec::extend("sighup").ack(NEW))
        .config(|c| c.reload_poll_ms = 0) // no polling: only the signal reloads
        .start()
        .await;
    assert_eq!(outcome_of(&hs, "sighup").await, "acked");
    // Let the reload task install its signal handler before the file changes.
    tokio::time::sleep(Duration::from_millis(200)).await;

    spec.routes[0] = spec.routes[0].clone().policy(NEW, "reject");
    std::fs::write(&hs.config_path, spec.toml()).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        outcome_of(&hs, "sighup").await,
        "acked",
        "no polling: the change waits for SIGHUP"
    );

    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let hs_ref = &hs;
    eventually("policy reject after SIGHUP", move || async move {
        outcome_of(hs_ref, "sighup").await == "version_rejected"
    })
    .await;
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_drains_an_in_flight_delivery() {
    let Harness { hs, down, .. } = Harness::start(RouteSpec::extend("drain")).await;
    down.set(Behaviour::Delay(Duration::from_secs(3), 200));
    let addr = hs.base.trim_start_matches("http://").to_owned();
    let admin = hs.admin.clone();

    let body = new_event_bytes();
    let (url, headers) = (
        format!("{}/hooks/drain?api_version={NEW}", hs.base),
        extend_headers(IN_SECRET, now(), &body),
    );
    let in_flight = tokio::spawn(async move { post(&url, body, &headers).await });
    down.wait_for(1).await;

    let stopping = tokio::spawn(hs.stop());
    // New connections are refused once shutdown began, while the delivery is still running.
    eventually("listener closed", || {
        let addr = addr.clone();
        async move { tokio::net::TcpStream::connect(&addr).await.is_err() }
    })
    .await;
    assert!(
        !in_flight.is_finished(),
        "the in-flight request must not be cut"
    );
    let answer = in_flight.await.unwrap();
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("delivered")),
        "{answer:?}"
    );
    stopping.await.unwrap().unwrap();
    assert!(
        reqwest::get(format!("{admin}/healthz")).await.is_err(),
        "admin listener closed too"
    );
}

#[tokio::test]
async fn shutdown_gives_up_after_the_grace_period() {
    let Harness { hs, down, .. } = Harness::setup(RouteSpec::extend("grace").timeout_ms(30_000))
        .config(|c| c.shutdown_grace_ms = 300)
        .start()
        .await;
    down.set(Behaviour::Delay(Duration::from_secs(20), 200));

    let body = new_event_bytes();
    let (url, headers) = (
        format!("{}/hooks/grace?api_version={NEW}", hs.base),
        extend_headers(IN_SECRET, now(), &body),
    );
    let in_flight = tokio::spawn(async move {
        let mut request = reqwest::Client::new().post(&url).body(body);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        request.send().await.map(|r| r.status().as_u16())
    });
    down.wait_for(1).await;
    let started = Instant::now();
    hs.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        started.elapsed()
    );
    // The sender never got a 2xx for the undelivered event: the connection was closed.
    let result = in_flight.await.unwrap();
    assert!(
        result.is_err(),
        "expected a closed connection, got {result:?}"
    );
}

#[tokio::test]
async fn a_route_added_by_a_reload_has_every_series_before_its_first_event() {
    let Harness { hs, mut spec, .. } = Harness::start(RouteSpec::extend("reload-first")).await;
    let added = "reload-added";
    let url = spec.routes[0].downstream_url.clone();
    spec.routes.push(RouteSpec::new(added, &url));
    std::fs::write(&hs.config_path, spec.toml()).unwrap();
    let has = |page: &str, name: &str, labels: &str| {
        page.lines()
            .any(|l| l.starts_with(&format!("{name}{{")) && l.contains(labels))
    };
    let hs_ref = &hs;
    eventually("the added route's series", move || async move {
        let page = hs_ref.metrics().await;
        let route = format!("route=\"{added}\"");
        has(&page, "hookshift_events_total", &route)
            && has(&page, "hookshift_shadow_skipped_total", &route)
            && has(&page, "hookshift_quarantined_total", &route)
            && has(&page, "hookshift_quarantine_replays_total", &route)
    })
    .await;
    let page = hs.metrics().await;
    for outcome in [
        "delivered",
        "ledger_unavailable",
        "duplicate",
        "quarantined",
    ] {
        assert!(
            page.lines()
                .any(|l| l.starts_with("hookshift_events_total{")
                    && l.contains(&format!("route=\"{added}\""))
                    && l.contains(&format!("outcome=\"{outcome}\""))),
            "{outcome}: {page}"
        );
    }
    hs.stop().await.unwrap();
}
