//! The ledger through a running hookshift (shipped mappings and identities), on both backends: twins
//! compared in the background, and each logical event delivered once across a stage switch.

use crate::ledger_support::{both_backends, Backend};
use crate::support::*;

/// A real 2026-02-09 event and its 2025-04-21 twin (the golden case of the way down).
fn twins() -> (Vec<u8>, Vec<u8>) {
    let read = |which: &str| {
        std::fs::read(repo_path(&format!(
            "mappings/{NEW}_to_{OLD}/golden/extract_processed.{which}.json"
        )))
        .unwrap()
    };
    (read("input"), read("output"))
}

async fn start(backend: &Backend, route: RouteSpec) -> Harness {
    let ledger = backend.ledger_toml();
    Harness::setup(route)
        .shipped_mappings()
        .config(move |spec| spec.ledger = ledger)
        .start()
        .await
}

async fn send(hs: &Hookshift, route: &str, version: &str, body: &[u8]) -> Answer {
    post_signed(
        hs,
        &format!("/hooks/{route}?api_version={version}"),
        IN_SECRET,
        body,
    )
    .await
}

/// Waits until `route` counts one pair compared, with `label`.
async fn pair_compared(hs: &Hookshift, route: &str, label: (&str, &str)) {
    eventually("the pair is compared", move || async move {
        metric_sum(
            &hs.metrics().await,
            "hookshift_shadow_pairs_total",
            &[("route", route), label],
        ) == 1.0
    })
    .await;
}

both_backends!(
    twins_are_compared_and_reported,
    |backend: Backend| async move {
        let route = format!("e2e-shadow-{}", backend.kind.as_str());
        // Stage 2: old copies delivered (translated), new copies acknowledged.
        let harness = start(&backend, RouteSpec::extend(&route).forward(OLD).ack(NEW)).await;
        let (new, old) = twins();
        assert_eq!(
            send(&harness.hs, &route, OLD, &old).await.json["status"],
            "delivered"
        );
        // Its twin was delivered already: a duplicate (200), still compared.
        assert_eq!(
            send(&harness.hs, &route, NEW, &new).await.json["status"],
            "duplicate"
        );
        pair_compared(&harness.hs, &route, ("event_type", "extract_run.processed")).await;
        let page = harness.hs.metrics().await;
        assert_eq!(
            metric_sum(
                &page,
                "hookshift_shadow_pairs_total",
                &[("route", route.as_str()), ("result", "match")]
            ),
            1.0,
            "synthesised paths (timestamps, version objects) are expected, not mismatches"
        );
        let line = format!("{route} extract_run.processed: 1 pair(s), 100.00 % matched");
        report_shows(&harness.hs.config_path, &route, &[line]).await;
        assert_eq!(harness.down.requests().len(), 1);
        harness.hs.stop().await.unwrap();
    }
);

both_backends!(
    a_stage_switch_strands_no_event_and_delivers_none_twice,
    |backend: Backend| async move {
        let route = format!("e2e-once-{}", backend.kind.as_str());
        let Harness { hs, down, mut spec } =
            start(&backend, RouteSpec::extend(&route).forward(OLD).ack(NEW)).await;
        let (new, old) = twins();
        // Stage 2: the new copy comes first and is acknowledged, nothing delivered.
        assert_eq!(send(&hs, &route, NEW, &new).await.json["status"], "acked");
        assert!(down.requests().is_empty());

        // Stage 3 in one reload: the old copy, now rejected by policy, is the event's last chance.
        spec.routes[0] = spec.routes[0].clone().reject(OLD).forward(NEW);
        std::fs::write(&hs.config_path, spec.toml()).unwrap();
        let hs_ref = &hs;
        let probe = new_event_bytes();
        let probe_ref = &probe;
        let r = route.clone();
        let r_ref = &r;
        eventually("stage 3 in force", move || async move {
            // A copy the old endpoint cannot have sent: refused by policy once stage 3 is in force.
            let answer = send(hs_ref, r_ref, OLD, probe_ref).await;
            answer.json["error"] == "version_rejected"
        })
        .await;
        let answer = send(&hs, &route, OLD, &old).await;
        assert_eq!(answer.status, 200, "{:?}", answer.json);
        assert_eq!(answer.json["status"], "delivered");
        let delivered = down.requests();
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].json()["eventType"], "extract_run.processed");

        // Every later copy, retry or twin, is a duplicate.
        for (version, body) in [(NEW, &new), (OLD, &old), (NEW, &new)] {
            let answer = send(&hs, &route, version, body).await;
            assert_eq!(answer.status, 200, "{:?}", answer.json);
            assert_eq!(answer.json["status"], "duplicate");
        }
        assert_eq!(down.requests().len(), 1);
        let page = hs.metrics().await;
        let outcome = |outcome: &str| {
            metric_sum(
                &page,
                "hookshift_events_total",
                &[("route", route.as_str()), ("outcome", outcome)],
            )
        };
        assert_eq!(outcome("delivered_for_twin"), 1.0);
        assert_eq!(outcome("duplicate"), 3.0);
        hs.stop().await.unwrap();
    }
);

both_backends!(
    a_failed_delivery_lets_the_retry_deliver,
    |backend: Backend| async move {
        let route = format!("e2e-retry-{}", backend.kind.as_str());
        let harness = start(
            &backend,
            RouteSpec::extend(&route).forward(OLD).forward(NEW),
        )
        .await;
        let (new, old) = twins();
        harness.down.set(Behaviour::Status(500));
        assert_eq!(send(&harness.hs, &route, NEW, &new).await.status, 502);
        harness.down.set(Behaviour::Status(200));
        // The claim was released: the twin delivers, and the retry of the first copy is a duplicate.
        assert_eq!(
            send(&harness.hs, &route, OLD, &old).await.json["status"],
            "delivered"
        );
        assert_eq!(
            send(&harness.hs, &route, NEW, &new).await.json["status"],
            "duplicate"
        );
        harness.hs.stop().await.unwrap();
    }
);

/// A server on the shipped mappings whose ledger is a Redis nothing listens for.
async fn with_unreachable_redis(route: RouteSpec) -> Harness {
    let url = format!("redis://127.0.0.1:{}/", crate::ledger_support::free_port());
    Harness::setup(route)
        .shipped_mappings()
        .config(move |spec| spec.ledger = format!("[ledger]\nbackend = \"redis\"\nurl = {url:?}\n"))
        .start()
        .await
}

#[tokio::test]
async fn an_unreachable_redis_changes_nothing_for_the_sender() {
    let route = "e2e-redis-down";
    let harness = with_unreachable_redis(RouteSpec::extend(route).forward(OLD).forward(NEW)).await;
    let (new, old) = twins();
    // Without a ledger both copies are delivered, as before there was one.
    assert_eq!(
        send(&harness.hs, route, NEW, &new).await.json["status"],
        "delivered"
    );
    assert_eq!(
        send(&harness.hs, route, OLD, &old).await.json["status"],
        "delivered"
    );
    assert_eq!(harness.down.requests().len(), 2);
    let ready = reqwest::get(format!("{}/readyz", harness.hs.admin))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let page = harness.hs.metrics().await;
    assert!(
        metric_sum(
            &page,
            "hookshift_ledger_errors_total",
            &[("backend", "redis"), ("operation", "claim")]
        ) >= 2.0,
        "{page}"
    );
    harness.hs.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_redis_holds_back_acks_but_not_deliveries() {
    let route = "e2e-redis-down-stage-2";
    let harness = with_unreachable_redis(RouteSpec::extend(route).forward(OLD).ack(NEW)).await;
    let (new, old) = twins();
    // Stage 2, the ledger down: acknowledging the new copy unrecorded could strand the event at the
    // switch to stage 3, so it is answered 503 for the sender to bring back later.
    let held = send(&harness.hs, route, NEW, &new).await;
    assert_eq!(held.status, 503, "{:?}", held.json);
    assert_eq!(held.error(), "ledger_unavailable");
    assert!(harness.down.requests().is_empty());
    // The old copy is delivered (translated) as without a ledger.
    assert_eq!(
        send(&harness.hs, route, OLD, &old).await.json["status"],
        "delivered"
    );
    assert_eq!(harness.down.requests().len(), 1);
    let page = harness.hs.metrics().await;
    let outcome = |outcome: &str| {
        metric_sum(
            &page,
            "hookshift_events_total",
            &[("route", route), ("outcome", outcome)],
        )
    };
    assert_eq!(outcome("ledger_unavailable"), 1.0, "{page}");
    assert_eq!(outcome("delivered"), 1.0, "{page}");
    assert_eq!(outcome("acked"), 0.0, "{page}");
    harness.hs.stop().await.unwrap();
}

both_backends!(
    a_failed_translation_is_quarantined_and_replayed_once_fixed,
    |backend: Backend| async move {
        use hookshift::cli::quarantine::{self as replay, ListArgs, ReplayArgs};
        let route = format!("e2e-quarantine-{}", backend.kind.as_str());
        let ledger = backend.ledger_toml();
        let Harness { hs, down, spec } = Harness::setup(RouteSpec::extend(&route))
            .config(move |spec| spec.ledger = ledger)
            .start()
            .await;
        // The test mappings expect a string id: this event fails them (422, as without a quarantine).
        let bad = br#"{"eventId":"evt_q1","eventType":"processor_run.processed","payload":{"object":"document_processor_run","id":5,"type":"EXTRACT"}}"#;
        assert_eq!(send(&hs, &route, OLD, bad).await.status, 422);
        // The route quarantines what its mappings fail on.
        let text = spec.toml_quarantining();
        std::fs::write(&hs.config_path, &text).unwrap();
        let hs_ref = &hs;
        let r = route.clone();
        let r_ref = &r;
        eventually("quarantine in force", move || async move {
            let a = send(hs_ref, r_ref, OLD, bad).await;
            a.status == 202
        })
        .await;
        let answer = send(&hs, &route, OLD, bad).await;
        assert_eq!(answer.status, 202);
        assert_eq!(answer.json["status"], "quarantined");
        assert!(down.requests().is_empty());

        let listed = replay::list(&ListArgs {
            config: hs.config_path.clone(),
        })
        .await
        .unwrap();
        assert!(listed.contains("event evt_q1"), "{listed}");
        assert!(listed.contains("1 event(s) in quarantine"), "{listed}");
        let replay_args = |dry_run| ReplayArgs {
            config: hs.config_path.clone(),
            route: Some(route.clone()),
            event_id: None,
            dry_run,
        };
        // Not fixed yet: it stays.
        assert!(replay::replay(&replay_args(false)).await.is_err());
        assert!(down.requests().is_empty());

        // The mapping is fixed (a numeric id is fine now): a dry run delivers nothing, a replay does.
        let mappings = spec
            .mappings_dir
            .join(format!("{OLD}_to_{NEW}"))
            .join("runs.toml");
        let fixed = std::fs::read_to_string(&mappings)
            .unwrap()
            .replace("  { expect = \"id\", type = \"string\" },\n", "");
        std::fs::write(&mappings, fixed).unwrap();
        // Another event id: nothing replayed, nothing delivered, the event stays.
        let other = replay::replay(&ReplayArgs {
            event_id: Some("evt_other".to_owned()),
            ..replay_args(false)
        })
        .await
        .unwrap();
        assert!(other.contains("0 event(s) replayed"), "{other}");
        assert!(down.requests().is_empty());
        let dry = replay::replay(&ReplayArgs {
            event_id: Some("evt_q1".to_owned()),
            ..replay_args(true)
        })
        .await
        .unwrap();
        assert!(dry.contains("would be delivered"), "{dry}");
        assert!(down.requests().is_empty());
        let done = replay::replay(&replay_args(false)).await.unwrap();
        assert!(done.contains("delivered, removed"), "{done}");
        let delivered = down.wait_for(1).await;
        assert_eq!(delivered[0].json()["eventType"], "extract_run.processed");
        assert_eq!(delivered[0].json()["payload"]["id"], 5);
        delivered[0].assert_signed(hookshift::provider::Provider::Extend, OUT_SECRET);
        let listed = replay::list(&ListArgs {
            config: hs.config_path.clone(),
        })
        .await
        .unwrap();
        assert!(listed.contains("0 event(s) in quarantine"), "{listed}");

        // The command counted its replays in the ledger; a server exports them with the ledger's
        // sweep (at start, then every minute): one failed (before the fix), one delivered.
        let hs = hs.restart().await;
        let (hs_ref, r_ref) = (&hs, &route);
        eventually("replays exported", move || async move {
            let page = hs_ref.metrics().await;
            let replays = |result: &str| {
                metric_sum(
                    &page,
                    "hookshift_quarantine_replays_total",
                    &[("route", r_ref.as_str()), ("result", result)],
                )
            };
            replays("delivered") == 1.0 && replays("failed") == 1.0 && replays("duplicate") == 0.0
        })
        .await;
        hs.stop().await.unwrap();
    }
);

both_backends!(
    an_event_the_output_check_refuses_is_quarantined,
    |backend: Backend| async move {
        let route = format!("e2e-quarantine-enforce-{}", backend.kind.as_str());
        let ledger = backend.ledger_toml();
        let schemas = repo_path("schemas");
        let Harness { hs, down, spec } = Harness::setup(RouteSpec::extend(&route))
            .shipped_mappings()
            .config(move |spec| {
                spec.ledger = ledger;
                spec.extra_toml = format!(
                    "[schemas]\ndir = {:?}\nvalidate_output = \"enforce\"\n",
                    schemas
                );
            })
            .start()
            .await;
        let bad = breaks_the_new_schema();
        let refused = send(&hs, &route, OLD, &bad).await;
        assert_eq!(refused.status, 422, "{:?}", refused.json);
        assert_eq!(refused.error(), "translation_failed");
        // Quarantined instead, once the route says so: kept, nothing delivered.
        let text = spec.toml_quarantining();
        std::fs::write(&hs.config_path, &text).unwrap();
        let (hs_ref, r_ref, bad_ref) = (&hs, &route, &bad);
        eventually("quarantine in force", move || async move {
            send(hs_ref, r_ref, OLD, bad_ref).await.status == 202
        })
        .await;
        assert!(down.requests().is_empty());
        let listed = hookshift::cli::quarantine::list(&hookshift::cli::quarantine::ListArgs {
            config: hs.config_path.clone(),
        })
        .await
        .unwrap();
        assert!(listed.contains("1 event(s) in quarantine"), "{listed}");
        assert!(listed.contains("schema"), "{listed}");
        hs.stop().await.unwrap();
    }
);

both_backends!(
    a_full_quarantine_answers_422_and_counts_it,
    |backend: Backend| async move {
        let route = format!("e2e-quarantine-full-{}", backend.kind.as_str());
        let ledger = format!("{}max_quarantine_bytes = 16\n", backend.ledger_toml());
        let files = Harness::setup(RouteSpec::extend(&route))
            .config(move |spec| spec.ledger = ledger)
            .write()
            .await;
        let text = files.spec.toml_quarantining();
        std::fs::write(&files.config_path, text).unwrap();
        let (hs, down) = (
            Hookshift::start_from_file(files.config_path.clone()).await,
            &files.down,
        );
        // The test mappings expect a string id; the event is larger than the quarantine's 16 bytes.
        let bad = br#"{"eventId":"evt_full","eventType":"processor_run.processed","payload":{"object":"document_processor_run","id":5,"type":"EXTRACT"}}"#;
        let answer = send(&hs, &route, OLD, bad).await;
        assert_eq!(answer.status, 422, "{:?}", answer.json);
        assert_eq!(answer.error(), "translation_failed");
        assert!(down.requests().is_empty());
        let page = hs.metrics().await;
        assert_eq!(
            metric_sum(
                &page,
                "hookshift_quarantined_total",
                &[("route", route.as_str()), ("result", "full")]
            ),
            1.0,
            "{page}"
        );
        hs.stop().await.unwrap();
    }
);

/// The golden 2025-04-21 EXTRACT event of the way up with another `eventId`: one run, told apart by
/// the sender as another event.
fn old_event_with_id(event_id: &str) -> Vec<u8> {
    let body = std::fs::read(repo_path(&format!(
        "mappings/{OLD}_to_{NEW}/golden/extract_processed.input.json"
    )))
    .unwrap();
    let mut event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    event["eventId"] = serde_json::Value::String(event_id.to_owned());
    serde_json::to_vec(&event).unwrap()
}

both_backends!(
    distinct_events_about_one_run_are_each_delivered_through_handler_failures,
    |backend: Backend| async move {
        // Events the sender tells apart (each its own eventId) about one run, the handler failing a
        // fifth of first deliveries and the sender retrying every non-2xx: each one reaches the
        // handler exactly once, past the occurrences the ledger keeps too (delivered and counted).
        const EVENTS: usize = 45;
        let route = format!("e2e-occurrences-{}", backend.kind.as_str());
        let harness = start(&backend, RouteSpec::extend(&route).forward(OLD).ack(NEW)).await;
        for i in 0..EVENTS {
            let body = old_event_with_id(&format!("evt_run1_{i}"));
            if i % 5 == 0 {
                harness.down.set(Behaviour::Status(500));
                let answer = send(&harness.hs, &route, OLD, &body).await;
                assert_eq!(answer.status, 502, "event {i}: {:?}", answer.json);
                harness.down.set(Behaviour::Status(200));
            }
            let answer = send(&harness.hs, &route, OLD, &body).await;
            assert_eq!(answer.json["status"], "delivered", "event {i}");
            // A retry after the 2xx is the sender's duplicate: answered, not delivered again.
            if i % 7 == 0 {
                let again = send(&harness.hs, &route, OLD, &body).await;
                let tracked = i < hookshift::ledger::once::MAX_OCCURRENCES;
                let expected = if tracked { "duplicate" } else { "delivered" };
                assert_eq!(again.json["status"], expected, "retry of event {i}");
            }
        }
        let mut delivered: std::collections::BTreeMap<String, usize> = Default::default();
        for request in harness.down.requests() {
            if request.answered == 200 {
                *delivered
                    .entry(request.json()["eventId"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        let untracked = EVENTS - hookshift::ledger::once::MAX_OCCURRENCES;
        let retried_untracked = (hookshift::ledger::once::MAX_OCCURRENCES..EVENTS)
            .filter(|i| i % 7 == 0)
            .count();
        assert_eq!(delivered.len(), EVENTS, "every event reached the handler");
        assert_eq!(
            delivered.values().filter(|&&n| n > 1).count(),
            retried_untracked,
            "only untracked events' retries are delivered again: {delivered:?}"
        );
        // Every attempt at an untracked event counts: the failed first ones too.
        let failed_untracked = (hookshift::ledger::once::MAX_OCCURRENCES..EVENTS)
            .filter(|i| i % 5 == 0)
            .count();
        let page = harness.hs.metrics().await;
        assert_eq!(
            metric_sum(
                &page,
                "hookshift_ledger_uncertain_deliveries_total",
                &[("route", route.as_str()), ("reason", "occurrence_limit")]
            ),
            (untracked + retried_untracked + failed_untracked) as f64
        );
        harness.hs.stop().await.unwrap();
    }
);

both_backends!(
    a_route_heard_from_one_endpoint_stops_keeping_first_copies_until_the_other_speaks,
    |backend: Backend| async move {
        use hookshift::ledger::sides::ONE_SIDED_STREAK;
        let route = format!("e2e-one-sided-{}", backend.kind.as_str());
        let harness = start(&backend, RouteSpec::extend(&route).forward(OLD).ack(NEW)).await;
        let (new, old) = twins();
        // Old copies of other events only, as before the second endpoint exists.
        let template: serde_json::Value = serde_json::from_slice(&old).unwrap();
        for i in 0..=ONE_SIDED_STREAK {
            let mut event = template.clone();
            event["eventId"] = format!("evt_alone_{i}").into();
            event["payload"]["id"] = format!("ex_run_alone_{i}").into();
            let body = serde_json::to_vec(&event).unwrap();
            assert_eq!(send(&harness.hs, &route, OLD, &body).await.status, 200);
        }
        let skipped = |page: &str| {
            metric_sum(
                page,
                "hookshift_shadow_skipped_total",
                &[("route", route.as_str()), ("reason", "one_sided")],
            )
        };
        assert_eq!(skipped(&harness.hs.metrics().await), 1.0);
        // The new endpoint speaks: its copy is kept, and its twin from the old endpoint is compared.
        send(&harness.hs, &route, NEW, &new).await;
        send(&harness.hs, &route, OLD, &old).await;
        pair_compared(&harness.hs, &route, ("result", "match")).await;
        assert_eq!(skipped(&harness.hs.metrics().await), 1.0);
        harness.hs.stop().await.unwrap();
    }
);
