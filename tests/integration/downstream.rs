//! The sender gets 2xx only when the handler answered 2xx: failures become 502/504 so it retries.

use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn handler_errors_and_refused_connections_are_502() {
    let refused = RouteSpec::extend("refused").to(&closed_port_url().await);
    let Harness { hs, down, .. } = Harness::setup(refused)
        .route(RouteSpec::extend("failing_handler"))
        .start()
        .await;
    let path = format!("/hooks/failing_handler?api_version={NEW}");

    down.set(Behaviour::Status(500));
    let answer = post_signed(&hs, &path, IN_SECRET, &new_event_bytes()).await;
    assert_eq!(
        (answer.status, answer.error()),
        (502, "downstream_error"),
        "{answer:?}"
    );
    assert!(answer.json["message"].as_str().unwrap().contains("500"));

    down.set(Behaviour::Status(404));
    let answer = post_signed(&hs, &path, IN_SECRET, &new_event_bytes()).await;
    assert_eq!(
        answer.status, 502,
        "a handler 4xx must not be acknowledged: {answer:?}"
    );

    down.set(Behaviour::Status(204));
    let answer = post_signed(&hs, &path, IN_SECRET, &new_event_bytes()).await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("delivered"))
    );
    assert_eq!(down.wait_for(3).await.len(), 3);

    let answer = post_signed(
        &hs,
        &format!("/hooks/refused?api_version={NEW}"),
        IN_SECRET,
        &new_event_bytes(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (502, "downstream_unreachable"),
        "{answer:?}"
    );

    let page = hs.metrics().await;
    let class = |route: &str, class: &str| {
        metric_sum(
            &page,
            "hookshift_downstream_responses_total",
            &[("route", route), ("status_class", class)],
        )
    };
    assert_eq!(class("failing_handler", "5xx"), 1.0, "{page}");
    assert_eq!(class("failing_handler", "4xx"), 1.0);
    assert_eq!(class("failing_handler", "2xx"), 1.0);
    assert_eq!(class("refused", "connect_error"), 1.0);
    let errors = metric_sum(
        &page,
        "hookshift_events_total",
        &[
            ("route", "failing_handler"),
            ("outcome", "downstream_error"),
        ],
    );
    assert_eq!(errors, 2.0);
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn a_handler_slower_than_timeout_ms_is_504() {
    let Harness { hs, down, .. } = Harness::start(RouteSpec::extend("slow").timeout_ms(300)).await;
    down.set(Behaviour::Delay(Duration::from_secs(5), 200));

    let started = Instant::now();
    let answer = post_signed(
        &hs,
        &format!("/hooks/slow?api_version={NEW}"),
        IN_SECRET,
        &new_event_bytes(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (504, "downstream_timeout"),
        "{answer:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(down.wait_for(1).await.len(), 1);

    let page = hs.metrics().await;
    let timeouts = metric_sum(
        &page,
        "hookshift_downstream_responses_total",
        &[("route", "slow"), ("status_class", "timeout")],
    );
    assert_eq!(timeouts, 1.0, "{page}");
    hs.stop().await.unwrap();
}
