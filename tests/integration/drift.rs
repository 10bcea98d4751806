//! Drift: fields no mapping names are delivered where the target has room or dropped, never refused,
//! and counted either way in `hookshift_unmapped_fields_total{route,event_type,path,fate}`.

use serde_json::{json, Value};

use crate::support::*;

const UNMAPPED: &str = "hookshift_unmapped_fields_total";
const SKIPPED: &str = "hookshift_drift_scans_skipped_total";

fn golden_input(name: &str) -> Value {
    let file = repo_path(&format!("mappings/{OLD}_to_{NEW}/golden/{name}.input.json"));
    serde_json::from_slice(&std::fs::read(file).expect("golden input exists")).unwrap()
}

/// The shipped mappings, with the shipped schemas when `schemas` (and `extra` more `[schemas]` keys).
async fn start(route: &str, schemas: bool, extra: &str) -> Harness {
    Harness::setup(RouteSpec::extend(route))
        .shipped_mappings()
        .config(|spec| {
            if schemas {
                spec.extra_toml = format!(
                    "[schemas]\ndir = {:?}\n{extra}\n",
                    repo_path("schemas").display().to_string()
                );
            }
        })
        .start()
        .await
}

async fn deliver(hs: &Hookshift, route: &str, event: &Value) {
    let body = serde_json::to_vec(event).unwrap();
    let answer = post_signed(
        hs,
        &format!("/hooks/{route}?api_version={OLD}"),
        IN_SECRET,
        &body,
    )
    .await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("delivered")),
        "{answer:?}"
    );
}

fn unmapped(page: &str, route: &str, path: &str, fate: &str) -> f64 {
    metric_sum(
        page,
        UNMAPPED,
        &[
            ("route", route),
            ("event_type", "processor_run.processed"),
            ("path", path),
            ("fate", fate),
        ],
    )
}

/// Every field of one fate counted on a route, whatever its event type and path.
fn fate_total(page: &str, route: &str, fate: &str) -> f64 {
    metric_sum(page, UNMAPPED, &[("route", route), ("fate", fate)])
}

#[tokio::test]
async fn the_files_after_the_first_are_counted_as_dropped() {
    // No schemas folder: dropped fields are still counted, no scan is attempted.
    let Harness { hs, down, .. } = start("drift_drop", false, "").await;
    let page = hs.metrics().await;
    assert!(
        has_series(
            &page,
            UNMAPPED,
            &[("route", "drift_drop"), ("fate", "dropped")]
        ),
        "{page}"
    );
    assert_eq!(metric_sum(&page, SKIPPED, &[("route", "drift_drop")]), 0.0);
    assert!(
        has_series(&page, SKIPPED, &[("route", "drift_drop")]),
        "{page}"
    );

    let event = golden_input("extract_processed_two_files");
    deliver(&hs, "drift_drop", &event).await;
    deliver(&hs, "drift_drop", &event).await;
    let delivered = down.wait_for(2).await;
    assert_eq!(
        delivered[0].json()["payload"]["file"]["id"],
        event["payload"]["files"][0]["id"],
        "the first file is delivered"
    );
    let page = hs.metrics().await;
    assert_eq!(
        unmapped(&page, "drift_drop", "payload.files[*]", "dropped"),
        2.0,
        "{page}"
    );
    assert_eq!(fate_total(&page, "drift_drop", "carried"), 0.0);
    assert_eq!(metric_sum(&page, SKIPPED, &[("route", "drift_drop")]), 0.0);
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_field_the_target_has_room_for_is_delivered_and_counted_as_carried() {
    let Harness { hs, down, .. } = start("drift_carry", true, "").await;
    let mut event = golden_input("extract_processed");
    event["payload"]["futureField"] = json!({"addedLater": true});
    deliver(&hs, "drift_carry", &event).await;

    let delivered = down.wait_for(1).await;
    assert_eq!(
        delivered[0].json()["payload"]["futureField"],
        json!({"addedLater": true})
    );
    // The scan runs in the background: the count follows the answer.
    eventually("the carried field is counted", || async {
        unmapped(
            &hs.metrics().await,
            "drift_carry",
            "payload.futureField",
            "carried",
        ) == 1.0
    })
    .await;
    let page = hs.metrics().await;
    // Only the key the sender added, not what is inside it, and nothing of the declared fields.
    assert_eq!(fate_total(&page, "drift_carry", "carried"), 1.0, "{page}");
    assert_eq!(fate_total(&page, "drift_carry", "dropped"), 0.0);
    assert_eq!(metric_sum(&page, SKIPPED, &[("route", "drift_carry")]), 0.0);
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_field_in_a_dropped_object_is_counted_once_as_dropped() {
    let Harness { hs, down, .. } = start("drift_both", true, "").await;
    let mut event = golden_input("extract_processed_two_files");
    event["payload"]["files"][1]["futureField"] = json!(1);
    event["payload"]["futureField"] = json!(2);
    deliver(&hs, "drift_both", &event).await;
    down.wait_for(1).await;
    eventually("the carried field is counted", || async {
        unmapped(
            &hs.metrics().await,
            "drift_both",
            "payload.futureField",
            "carried",
        ) == 1.0
    })
    .await;
    let page = hs.metrics().await;
    assert_eq!(
        unmapped(&page, "drift_both", "payload.files[*]", "dropped"),
        1.0,
        "{page}"
    );
    assert_eq!(fate_total(&page, "drift_both", "carried"), 1.0, "{page}");
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn a_scan_that_finds_no_room_is_skipped_and_counted() {
    // A queue of 0 holds nothing: every scan is skipped, the event is still delivered.
    let Harness { hs, down, .. } = start("drift_skip", true, "scan_queue = 0").await;
    let mut event = golden_input("extract_processed");
    event["payload"]["futureField"] = json!(1);
    deliver(&hs, "drift_skip", &event).await;
    down.wait_for(1).await;
    let page = hs.metrics().await;
    assert_eq!(
        metric_sum(&page, SKIPPED, &[("route", "drift_skip")]),
        1.0,
        "{page}"
    );
    assert_eq!(fate_total(&page, "drift_skip", "carried"), 0.0);
    hs.stop().await.unwrap();
}
