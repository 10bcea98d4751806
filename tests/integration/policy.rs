//! Stage policies (forward, ack, reject, none), translation, unmapped events, providers and rotation.

use hookshift::provider::Provider;
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn forward_translates_the_golden_extract_case_exactly() {
    let step = repo_path(&format!("mappings/{OLD}_to_{NEW}/golden"));
    let input =
        std::fs::read(step.join("extract_processed.input.json")).expect("golden input exists");
    let output =
        std::fs::read(step.join("extract_processed.output.json")).expect("golden output exists");
    let expected: Value = serde_json::from_slice(&output).unwrap();

    // The golden delivery timestamp is in the past: widen the window so it verifies.
    let route = RouteSpec::extend("golden")
        .ack(NEW)
        .tolerance_secs(400_000_000);
    let Harness { hs, down, .. } = Harness::setup(route).shipped_mappings().start().await;

    let headers = extend_headers(IN_SECRET, GOLDEN_TS, &input);
    let answer = post(
        &format!("{}/hooks/golden?api_version={OLD}", hs.base),
        input,
        &headers,
    )
    .await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("delivered")),
        "{answer:?}"
    );

    let received = down.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        String::from_utf8(received[0].body.to_vec()).unwrap(),
        serde_json::to_string(&expected).unwrap(),
        "the handler must receive the golden output (same keys, order and numbers)"
    );
    received[0].assert_signed(Provider::Extend, OUT_SECRET);
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn forward_translates_resigns_and_delivers() {
    let Harness { hs, down, .. } = Harness::start(RouteSpec::extend("fwd")).await;

    // No api_version parameter: the default version (2025-04-21) applies.
    let answer = post_signed(&hs, "/hooks/fwd", IN_SECRET, &old_extract_event("dpr_1")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["status"], "delivered");

    let received = down.wait_for(1).await;
    let event = received[0].json();
    assert_eq!(event["eventId"], "evt_dpr_1");
    assert_eq!(event["eventType"], "extract_run.processed");
    assert_eq!(event["payload"]["object"], "extract_run");
    assert!(
        event["payload"].get("type").is_none(),
        "dropped field still present: {event}"
    );
    // Exact numbers survive translation.
    assert!(
        String::from_utf8_lossy(&received[0].body).contains("\"amount\":12.50"),
        "{event}"
    );
    // The delivery timestamp mappings see is the sender's signature timestamp.
    assert!(event["payload"]["deliveredAt"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(received[0].headers["content-type"], "application/json");
    assert_eq!(received[0].uri, "/hook");
    received[0].assert_signed(Provider::Extend, OUT_SECRET);
    // And not with the inbound one.
    let secrets = [hookshift::config::Secret::inline(IN_SECRET)];
    let params = hookshift::provider::VerifyParams {
        provider: Provider::Extend,
        secrets: &secrets,
        tolerance_secs: 300,
        now: now(),
    };
    assert!(
        hookshift::provider::verify(params, &received[0].headers, received[0].body.clone())
            .is_err()
    );
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn forward_same_version_sends_the_exact_received_bytes() {
    let Harness { hs, down, .. } = Harness::start(RouteSpec::extend("same")).await;

    let body = new_event_bytes();
    let answer = post_signed(
        &hs,
        &format!("/hooks/same?api_version={NEW}"),
        IN_SECRET,
        &body,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let received = down.wait_for(1).await;
    assert_eq!(
        received[0].body.as_ref(),
        body.as_slice(),
        "bytes changed on the way"
    );
    received[0].assert_signed(Provider::Extend, OUT_SECRET);
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn ack_answers_200_and_delivers_nothing() {
    let Harness { hs, down, .. } = Harness::start(RouteSpec::extend("ack").ack(NEW)).await;

    let answer = post_signed(
        &hs,
        &format!("/hooks/ack?api_version={NEW}"),
        IN_SECRET,
        &new_event_bytes(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("acked"))
    );
    // The other version of the same route is still forwarded: the ack above really was the policy.
    let answer = post_signed(&hs, "/hooks/ack", IN_SECRET, &old_extract_event("dpr_a")).await;
    assert_eq!(answer.status, 200);
    let received = down.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["eventId"], "evt_dpr_a");
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn reject_answers_400_and_delivers_nothing() {
    let Harness { hs, down, .. } = Harness::start(RouteSpec::extend("reject").reject(OLD)).await;

    let answer = post_signed(
        &hs,
        &format!("/hooks/reject?api_version={OLD}"),
        IN_SECRET,
        &old_extract_event("x"),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "version_rejected"),
        "{answer:?}"
    );
    assert!(answer.json["message"].as_str().unwrap().contains(OLD));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(down.requests().is_empty());
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn a_version_without_policy_is_refused() {
    let Harness { hs, down, .. } = Harness::start(RouteSpec::extend("nopolicy")).await;

    let answer = post_signed(
        &hs,
        "/hooks/nopolicy?api_version=2099-01-01",
        IN_SECRET,
        &new_event_bytes(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "unknown_api_version"),
        "{answer:?}"
    );
    assert!(answer.json["message"]
        .as_str()
        .unwrap()
        .contains("2099-01-01"));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(down.requests().is_empty());
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn unmapped_event_types_follow_the_route_setting() {
    let Harness { hs, down, .. } =
        Harness::setup(RouteSpec::extend("unmapped_ack").unmapped("ack"))
            .route(RouteSpec::extend("unmapped_fwd").unmapped("forward"))
            .route(RouteSpec::extend("unmapped_rej").unmapped("reject"))
            .start()
            .await;
    // No rule of the test mappings takes workflow events.
    let body =
        br#"{"eventId":"evt_wf","eventType":"workflow.created","payload":{"id":"workflow_1"}}"#;

    let answer = post_signed(&hs, "/hooks/unmapped_ack", IN_SECRET, body).await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("acked")),
        "{answer:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(down.requests().is_empty());

    let answer = post_signed(&hs, "/hooks/unmapped_rej", IN_SECRET, body).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "unmapped_event_type"),
        "{answer:?}"
    );
    assert!(down.requests().is_empty());

    let answer = post_signed(&hs, "/hooks/unmapped_fwd", IN_SECRET, body).await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("delivered")),
        "{answer:?}"
    );
    let received = down.wait_for(1).await;
    assert_eq!(
        received[0].body.as_ref(),
        body.as_slice(),
        "unmapped events are forwarded unchanged"
    );
    received[0].assert_signed(Provider::Extend, OUT_SECRET);

    let page = hs.metrics().await;
    for route in ["unmapped_ack", "unmapped_fwd", "unmapped_rej"] {
        let n = metric_sum(
            &page,
            "hookshift_events_total",
            &[("route", route), ("outcome", "unmapped")],
        );
        assert_eq!(n, 1.0, "{route}: {page}");
    }
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_mapping_answers_422_so_the_sender_retries() {
    let Harness { hs, down, .. } = Harness::start(RouteSpec::extend("failing")).await;
    // The test mapping expects a string `id`.
    let body = br#"{"eventId":"evt_bad","eventType":"processor_run.processed","payload":{"id":7,"type":"EXTRACT"}}"#;

    let answer = post_signed(&hs, "/hooks/failing", IN_SECRET, body).await;
    assert_eq!(
        (answer.status, answer.error()),
        (422, "translation_failed"),
        "{answer:?}"
    );
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains("extract-run"),
        "{answer:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(down.requests().is_empty());
    let page = hs.metrics().await;
    let n = metric_sum(
        &page,
        "hookshift_events_total",
        &[("route", "failing"), ("outcome", "translation_error")],
    );
    assert_eq!(n, 1.0, "{page}");
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn every_configured_inbound_secret_verifies() {
    let route =
        RouteSpec::extend("rotation").inbound_secrets(&["wss_old_secret", "wss_new_secret"]);
    let Harness { hs, down, .. } = Harness::start(route).await;
    let path = format!("/hooks/rotation?api_version={NEW}");

    assert_eq!(
        post_signed(&hs, &path, "wss_old_secret", &new_event_bytes())
            .await
            .status,
        200
    );
    assert_eq!(
        post_signed(&hs, &path, "wss_new_secret", &new_event_bytes())
            .await
            .status,
        200
    );
    let answer = post_signed(&hs, &path, "wss_retired_secret", &new_event_bytes()).await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_signature"));
    assert_eq!(down.wait_for(2).await.len(), 2);
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn plextera_routes_verify_and_resign_in_their_own_scheme() {
    let mut route = RouteSpec::extend("plextera");
    route.provider = "plextera";
    route.policy = vec![("v1".to_owned(), "forward".to_owned())];
    route.default_version = "v1".to_owned();
    route.downstream_version = "v1".to_owned();
    let Harness { hs, down, .. } = Harness::start(route).await;

    let body = br#"{"eventId":"evt_01JY7M9QWBWCPMZK5QJ7RSE9P4","eventType":"document-insights.job.completed","occurredAt":"2026-04-07T10:22:00Z","apiVersion":"v1","data":{}}"#;
    let ts = now().to_string();
    let sig = hookshift::provider::plextera_signature(IN_SECRET.as_bytes(), &ts, body);
    let headers = vec![
        (
            "x-plextera-signature".to_owned(),
            format!("t={ts},v1={sig}"),
        ),
        (
            "x-plextera-event-id".to_owned(),
            "evt_01JY7M9QWBWCPMZK5QJ7RSE9P4".to_owned(),
        ),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    let answer = post(
        &format!("{}/hooks/plextera", hs.base),
        body.to_vec(),
        &headers,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let received = down.wait_for(1).await;
    assert_eq!(received[0].body.as_ref(), body.as_slice());
    assert_eq!(
        received[0].headers["x-plextera-event-id"],
        "evt_01JY7M9QWBWCPMZK5QJ7RSE9P4"
    );
    assert!(received[0]
        .headers
        .get("x-extend-request-signature")
        .is_none());
    received[0].assert_signed(Provider::Plextera, OUT_SECRET);

    // An Extend signature does not verify on a Plextera route.
    let answer = post(
        &format!("{}/hooks/plextera", hs.base),
        body.to_vec(),
        &extend_headers(IN_SECRET, now(), body),
    )
    .await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_signature"));
    hs.stop().await.unwrap();
}

/// A refusal names the rule, its mapping file relative to the mappings folder and the place in the
/// event the sender sent, never a server path: the sender's logs are where it is read.
#[tokio::test]
async fn a_refusal_names_rule_relative_file_and_input_path() {
    let golden = repo_path(&format!("mappings/{OLD}_to_{NEW}/golden"));
    let mut event: Value = serde_json::from_slice(
        &std::fs::read(golden.join("workflow_run_completed.input.json")).unwrap(),
    )
    .unwrap();
    // The second old step run names a step type no 2026-02-09 step run has.
    event["payload"]["stepRuns"][1]["step"]["type"] = "HUMAN_REVIEW".into();
    let body = serde_json::to_vec(&event).unwrap();

    let route = RouteSpec::extend("shipped").tolerance_secs(400_000_000);
    let Harness { hs, down, .. } = Harness::setup(route).shipped_mappings().start().await;
    let mappings = repo_path("mappings");
    let headers = extend_headers(IN_SECRET, GOLDEN_TS, &body);
    let answer = post(
        &format!("{}/hooks/shipped?api_version={OLD}", hs.base),
        body,
        &headers,
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (422, "translation_failed"),
        "{answer:?}"
    );
    let message = answer.json["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "mapping \"workflow-run\" ({OLD}_to_{NEW}/workflow_run.toml) failed at payload.stepRuns[1].step.type: no case for \"HUMAN_REVIEW\""
        )),
        "{message}"
    );
    assert!(!message.contains(&*mappings.to_string_lossy()), "{message}");
    assert!(down.requests().is_empty());
    hs.stop().await.unwrap();
}
