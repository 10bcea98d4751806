//! A Plextera route that translates: its own mapping set (`tests/mappings-plextera`, a made-up
//! `v1 -> v2` whose rules rewrite `data`), end to end through the `hookshift` binary; and the startup
//! check refusing a route whose mappings were written for another provider's envelope.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::faults::Binary;
use crate::support::*;
use hookshift::provider::Provider;

const PLEXTERA_MAPPINGS: &str = "tests/mappings-plextera";

/// A Plextera route at `/hooks/{name}` translating `v1` to a `v2` handler with `mappings`.
fn plextera_route(name: &str, url: &str, mappings: &Path) -> String {
    let mut route = RouteSpec::new(name, url);
    route.provider = "plextera";
    route.policy = vec![
        ("v1".to_owned(), "forward".to_owned()),
        ("v2".to_owned(), "forward".to_owned()),
    ];
    route.default_version = "v1".to_owned();
    route.downstream_version = "v2".to_owned();
    route.unmapped = "reject";
    with_mappings(&route.toml(), mappings)
}

/// A route's TOML with its own `mappings` folder.
fn with_mappings(route_toml: &str, mappings: &Path) -> String {
    route_toml.replacen(
        "[routes.downstream]",
        &format!(
            "mappings = {:?}\n[routes.downstream]",
            mappings.display().to_string()
        ),
        1,
    )
}

/// A whole configuration: the global mappings are Extend's (the shipped set) and one Extend route
/// uses them, beside `routes`.
fn config_with(dir: &Path, down: &str, routes: &[String]) -> std::path::PathBuf {
    let extend = RouteSpec::new("plextera_e2e_extend", down);
    let mut spec = ConfigSpec::new(&repo_path("mappings"), vec![extend]);
    spec.extra_toml.clear();
    let mut text = spec.toml();
    for route in routes {
        text.push_str(route);
        text.push('\n');
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn plextera_headers(body: &[u8], event_type: &str) -> Vec<(String, String)> {
    let ts = now().to_string();
    let sig = hookshift::provider::plextera_signature(IN_SECRET.as_bytes(), &ts, body);
    vec![
        (
            "x-plextera-signature".to_owned(),
            format!("t={ts},v1={sig}"),
        ),
        ("x-plextera-delivery-id".to_owned(), "dlv_42".to_owned()),
        ("x-plextera-event-type".to_owned(), event_type.to_owned()),
        ("x-plextera-api-version".to_owned(), "v1".to_owned()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ]
}

fn check(config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hookshift"))
        .args(["check", "--config"])
        .arg(config)
        .env("NO_COLOR", "1")
        .output()
        .expect("hookshift check runs")
}

#[tokio::test]
async fn a_plextera_route_translates_with_its_own_mappings_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let down = Downstream::start().await;
    let mappings = repo_path(PLEXTERA_MAPPINGS);
    let config = config_with(
        dir.path(),
        &down.url(),
        &[plextera_route("plextera_e2e", &down.url(), &mappings)],
    );
    let checked = check(&config);
    assert!(
        checked.status.success(),
        "hookshift check refused the Plextera configuration:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let hs = Binary::start(&config, &[]);

    let golden = mappings.join("v1_to_v2/golden");
    let mut delivered = 0;
    for case in ["job_completed", "job_failed"] {
        let input = std::fs::read(golden.join(format!("{case}.input.json"))).unwrap();
        let expected: Value = serde_json::from_slice(
            &std::fs::read(golden.join(format!("{case}.output.json"))).unwrap(),
        )
        .unwrap();
        let sent: Value = serde_json::from_slice(&input).unwrap();
        let sent_type = sent["eventType"].as_str().unwrap();
        let answer = post(
            &format!("{}/hooks/plextera_e2e?api_version=v1", hs.base),
            input.clone(),
            &plextera_headers(&input, sent_type),
        )
        .await;
        assert_eq!(
            (answer.status, answer.json["status"].as_str()),
            (200, Some("delivered")),
            "{case}: {answer:?}"
        );
        delivered += 1;
        let received = down.wait_for(delivered).await.pop().unwrap();
        assert_eq!(received.json(), expected, "{case}");
        received.assert_signed(Provider::Plextera, OUT_SECRET);
        // The delivery headers follow the delivered event; the delivery id passes through.
        assert_eq!(
            received.headers["x-plextera-event-type"],
            expected["eventType"].as_str().unwrap(),
            "{case}"
        );
        assert_eq!(received.headers["x-plextera-api-version"], "v2", "{case}");
        assert_eq!(
            received.headers["x-plextera-delivery-id"], "dlv_42",
            "{case}"
        );
        assert!(received.headers.get("x-extend-request-signature").is_none());
    }

    // The handler's own version passes as received, byte for byte.
    let input = br#"{"eventId":"evt_v2","eventType":"document_insights.job.completed","occurredAt":"2026-04-07T10:22:00Z","apiVersion":"v2","data":{"status":"completed","job":{"id":"job_1","pages":1}}}"#;
    let answer = post(
        &format!("{}/hooks/plextera_e2e?api_version=v2", hs.base),
        input.to_vec(),
        &plextera_headers(input, "document_insights.job.completed"),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    delivered += 1;
    let received = down.wait_for(delivered).await.pop().unwrap();
    assert_eq!(received.body.as_ref(), input.as_slice());
    assert_eq!(
        received.headers["x-plextera-api-version"], "v1",
        "kept as sent"
    );

    // An event whose `data` no rule expects is refused naming the place in `data`, not `payload`.
    let odd = br#"{"eventId":"evt_odd","eventType":"document-insights.job.completed","data":{"jobId":"j","status":"PAUSED"}}"#;
    let answer = post(
        &format!("{}/hooks/plextera_e2e?api_version=v1", hs.base),
        odd.to_vec(),
        &plextera_headers(odd, "document-insights.job.completed"),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (422, "translation_failed"),
        "{answer:?}"
    );
    let message = answer.json["message"].as_str().unwrap();
    assert!(message.contains("data.status"), "{message}");
    // An event type the set does not know follows `unmapped = "reject"`.
    let unknown = br#"{"eventId":"evt_u","eventType":"document-insights.job.queued","data":{}}"#;
    let answer = post(
        &format!("{}/hooks/plextera_e2e?api_version=v1", hs.base),
        unknown.to_vec(),
        &plextera_headers(unknown, "document-insights.job.queued"),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "unmapped_event_type"),
        "{answer:?}"
    );
    assert_eq!(
        down.requests().len(),
        delivered,
        "refused events are not delivered"
    );
}

#[test]
fn a_route_whose_mappings_do_not_fit_its_provider_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    // A Plextera route translating with Extend's mappings (the global set): their rules rewrite
    // `payload`, which Plextera events do not have.
    let mut on_extend_mappings = RouteSpec::new("plextera_misfit", "http://127.0.0.1:9/");
    on_extend_mappings.provider = "plextera";
    // An Extend route translating with the Plextera set.
    let mut extend_on_plextera = RouteSpec::new("extend_misfit", "http://127.0.0.1:9/");
    extend_on_plextera.policy = vec![("v1".to_owned(), "forward".to_owned())];
    extend_on_plextera.default_version = "v1".to_owned();
    extend_on_plextera.downstream_version = "v2".to_owned();
    let config = config_with(
        dir.path(),
        "http://127.0.0.1:9/",
        &[
            on_extend_mappings.toml(),
            with_mappings(&extend_on_plextera.toml(), &repo_path(PLEXTERA_MAPPINGS)),
        ],
    );

    let error = hookshift::state::State::load(&config)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("routes[1].mappings")
            && error.contains("plextera events carry their payload in `data`"),
        "{error}"
    );
    assert!(
        error.contains("routes[2].mappings")
            && error.contains("extend events carry their payload in `payload`"),
        "{error}"
    );
    assert!(
        !error.contains("routes[0]"),
        "the Extend route fits: {error}"
    );

    let checked = check(&config);
    assert!(!checked.status.success());
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(report.contains("routes[1].mappings"), "{report}");
    assert!(report.contains("routes[2].mappings"), "{report}");

    // The same Plextera route forwarding only its handler's version translates nothing: it loads.
    on_extend_mappings.policy = vec![(NEW.to_owned(), "forward".to_owned())];
    on_extend_mappings.default_version = NEW.to_owned();
    let config = config_with(
        dir.path(),
        "http://127.0.0.1:9/",
        &[on_extend_mappings.toml()],
    );
    hookshift::state::State::load(&config).unwrap();
}

#[test]
fn a_mapping_set_names_the_envelope_member_its_rules_rewrite() {
    let plextera = hookshift::mapping::Mappings::load(&repo_path(PLEXTERA_MAPPINGS)).unwrap();
    assert_eq!(plextera.payload_key(), "data");
    assert_eq!(plextera.check_golden(), Vec::<String>::new());
    let extend = hookshift::mapping::Mappings::load(&repo_path("mappings")).unwrap();
    assert_eq!(extend.payload_key(), "payload");

    // An event without the set's payload member is not an event to it, whatever else it carries.
    let plan = plextera.plan("v1", "v2").unwrap();
    let delivery = hookshift::mapping::Delivery {
        timestamp: GOLDEN_TS,
    };
    let extend_shaped = hookshift::json::parse(
        br#"{"eventId":"e","eventType":"document-insights.job.completed","payload":{"jobId":"j","status":"DONE"}}"#,
    )
    .unwrap();
    let error = hookshift::mapping::translate(plan, extend_shaped, &delivery).unwrap_err();
    assert_eq!(error.to_string(), "not an event: `data` is missing");

    // The member must be a plain key.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("v1_to_v2")).unwrap();
    for bad in ["\"\"", "\"data.inner\"", "3"] {
        std::fs::write(
            dir.path().join("versions.toml"),
            format!("order = [\"v1\", \"v2\"]\npayload = {bad}\n"),
        )
        .unwrap();
        let errors = hookshift::mapping::Mappings::load(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            errors.contains("versions.toml:2: payload:"),
            "{bad}: {errors}"
        );
    }
}
