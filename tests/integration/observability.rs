//! The admin listener: /metrics series with bounded labels, /healthz, /readyz.

use crate::support::*;

#[tokio::test]
async fn metrics_show_the_expected_series() {
    let Harness { hs, down, .. } = Harness::start(RouteSpec::extend("observed").forward(NEW)).await;

    // Translated and delivered.
    assert_eq!(
        post_signed(
            &hs,
            "/hooks/observed",
            IN_SECRET,
            &old_extract_event("dpr_m")
        )
        .await
        .status,
        200
    );
    // Same version, delivered.
    let path = format!("/hooks/observed?api_version={NEW}");
    assert_eq!(
        post_signed(&hs, &path, IN_SECRET, &new_event_bytes())
            .await
            .status,
        200
    );
    // An event type outside every bounded set, and a version nobody configured.
    let odd = br#"{"eventId":"e","eventType":"made.up","payload":{"id":"x"}}"#;
    assert_eq!(post_signed(&hs, &path, IN_SECRET, odd).await.status, 200);
    assert_eq!(
        post_signed(
            &hs,
            "/hooks/observed?api_version=1999-12-31",
            IN_SECRET,
            odd
        )
        .await
        .status,
        400
    );
    // Unverified.
    assert_eq!(post_signed(&hs, &path, "wss_wrong", odd).await.status, 401);
    down.wait_for(3).await;

    let page = hs.metrics().await;
    let events = |labels: &[(&str, &str)]| metric_sum(&page, "hookshift_events_total", labels);
    let r = ("route", "observed");
    assert_eq!(
        events(&[
            r,
            ("api_version", OLD),
            ("target_version", NEW),
            ("event_type", "processor_run.processed"),
            ("outcome", "delivered")
        ]),
        1.0,
        "{page}"
    );
    assert_eq!(
        events(&[
            r,
            ("api_version", NEW),
            ("event_type", "extract_run.processed"),
            ("outcome", "delivered")
        ]),
        1.0
    );
    assert_eq!(
        events(&[
            r,
            ("api_version", NEW),
            ("event_type", "other"),
            ("outcome", "delivered")
        ]),
        1.0
    );
    assert_eq!(
        events(&[
            r,
            ("api_version", "other"),
            ("event_type", "other"),
            ("outcome", "invalid")
        ]),
        1.0
    );
    assert_eq!(
        events(&[r, ("event_type", "unknown"), ("outcome", "unauthorized")]),
        1.0
    );
    assert!(
        !page.contains("made.up") && !page.contains("1999-12-31"),
        "unbounded label leaked: {page}"
    );
    assert_eq!(
        metric_sum(&page, "hookshift_events_received_total", &[r]),
        5.0
    );
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_events_received_total",
            &[r, ("event_type", "processor_run.processed")]
        ),
        1.0
    );

    assert_eq!(
        metric_sum(
            &page,
            "hookshift_delivery_duration_seconds_count",
            &[r, ("target_version", NEW)]
        ),
        3.0
    );
    assert!(
        has_series(
            &page,
            "hookshift_delivery_duration_seconds_bucket",
            &[r, ("le", "0.001")]
        ),
        "{page}"
    );
    assert!(
        has_series(
            &page,
            "hookshift_delivery_duration_seconds_bucket",
            &[r, ("le", "30")]
        ),
        "{page}"
    );
    assert_eq!(
        metric_sum(&page, "hookshift_translation_duration_seconds_count", &[r]),
        1.0
    );
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_downstream_responses_total",
            &[r, ("status_class", "2xx")]
        ),
        3.0
    );
    assert!(has_series(&page, "hookshift_inflight_requests", &[r]));
    assert_eq!(metric_sum(&page, "hookshift_inflight_requests", &[r]), 0.0);
    assert!(has_series(
        &page,
        "hookshift_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))]
    ));
    assert!(has_series(
        &page,
        "hookshift_config_last_reload_success",
        &[]
    ));
    assert!(has_series(
        &page,
        "hookshift_config_last_reload_timestamp_seconds",
        &[]
    ));

    let health = reqwest::get(format!("{}/healthz", hs.admin)).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", hs.admin)).await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["routes"][0], "observed");
    hs.stop().await.unwrap();
}

/// A sender's new event type is a data edit: listed in the mapping set's `catalogue.toml` (and given
/// an identity in `identity.toml`), it loads with its identity and is labelled as itself; a type the
/// set does not know still folds into `other`.
#[tokio::test]
async fn an_event_type_added_to_the_catalogue_gets_its_own_series() {
    let files = Harness::setup(RouteSpec::extend("catalogued").forward(NEW))
        .write()
        .await;
    let mappings = &files.spec.mappings_dir;
    std::fs::write(
        mappings.join("catalogue.toml"),
        format!("[event_types]\n\"{NEW}\" = [\"extract_run.archived\"]\n"),
    )
    .unwrap();
    std::fs::write(
        mappings.join("identity.toml"),
        format!("[identity.\"{NEW}\"]\n\"extract_run.archived\" = [\"payload.id\"]\n"),
    )
    .unwrap();
    let loaded = hookshift::mapping::Mappings::load(mappings).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        loaded.identities().event_types(NEW),
        ["extract_run.archived"]
    );
    let hs = Hookshift::start(files.dir.path(), &files.spec).await;

    let path = format!("/hooks/catalogued?api_version={NEW}");
    for event_type in ["extract_run.archived", "extract_run.invented"] {
        let body = format!(
            r#"{{"eventId":"evt_{event_type}","eventType":"{event_type}","payload":{{"id":"exr_1"}}}}"#
        );
        let answer = post_signed(&hs, &path, IN_SECRET, body.as_bytes()).await;
        assert_eq!(answer.status, 200, "{event_type}");
    }
    files.down.wait_for(2).await;

    let page = hs.metrics().await;
    let delivered = |event_type: &str| {
        metric_sum(
            &page,
            "hookshift_events_total",
            &[
                ("route", "catalogued"),
                ("api_version", NEW),
                ("event_type", event_type),
                ("outcome", "delivered"),
            ],
        )
    };
    assert_eq!(delivered("extract_run.archived"), 1.0, "{page}");
    assert_eq!(delivered("other"), 1.0, "{page}");
    assert!(!page.contains("extract_run.invented"), "{page}");
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_events_received_total",
            &[
                ("route", "catalogued"),
                ("event_type", "extract_run.archived")
            ],
        ),
        1.0
    );
}

/// Every family labelled by route, as its samples are named on the page (a histogram by its count).
const PER_ROUTE_FAMILIES: [&str; 20] = [
    "hookshift_events_received_total",
    "hookshift_events_total",
    "hookshift_delivery_duration_seconds_count",
    "hookshift_translation_duration_seconds_count",
    "hookshift_downstream_responses_total",
    "hookshift_inflight_requests",
    "hookshift_signed_url_fetches_total",
    "hookshift_signed_url_fetch_duration_seconds_count",
    "hookshift_requests_shed_total",
    "hookshift_unmapped_fields_total",
    "hookshift_drift_scans_skipped_total",
    "hookshift_output_checks_skipped_total",
    "hookshift_invalid_output_total",
    "hookshift_shadow_pairs_total",
    "hookshift_shadow_mismatched_paths_total",
    "hookshift_shadow_unpaired_total",
    "hookshift_shadow_skipped_total",
    "hookshift_ledger_uncertain_deliveries_total",
    "hookshift_quarantined_total",
    "hookshift_quarantine_replays_total",
];

/// The samples of `route` on `page`, by series with the route label blanked, to their values.
fn samples_of(page: &str, route: &str) -> std::collections::BTreeMap<String, String> {
    let label = format!("route=\"{route}\"");
    page.lines()
        .filter(|line| !line.starts_with('#') && line.contains(&label))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.replace(&label, "route=_"), value.to_owned()))
        })
        .collect()
}

/// A route a reload adds is counted like one present at start: before its first event, every family
/// labelled by route has its series, at zero, and the same series as a route configured alike that
/// was there from the start.
#[tokio::test]
async fn a_route_added_by_a_reload_has_every_per_route_family_at_zero() {
    let (started, added) = ("zeroes-from-start", "zeroes-from-reload");
    let Harness { hs, mut spec, .. } = Harness::setup(RouteSpec::extend(started))
        .shipped_mappings()
        .start()
        .await;
    let url = spec.routes[0].downstream_url.clone();
    spec.routes.push(RouteSpec::new(added, &url));
    std::fs::write(&hs.config_path, spec.toml()).unwrap();
    let hs_ref = &hs;
    eventually("the reload serves the added route", move || async move {
        let ready: serde_json::Value = reqwest::get(format!("{}/readyz", hs_ref.admin))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ready["routes"]
            .as_array()
            .is_some_and(|routes| routes.iter().any(|r| r == added))
    })
    .await;

    let page = hs.metrics().await;
    let (from_start, from_reload) = (samples_of(&page, started), samples_of(&page, added));
    for family in PER_ROUTE_FAMILIES {
        let prefix = format!("{family}{{");
        assert!(
            from_reload.keys().any(|series| series.starts_with(&prefix)),
            "{family} has no series for the added route:\n{page}"
        );
    }
    for (series, value) in &from_reload {
        assert_eq!(value, "0", "{series} of the added route:\n{page}");
    }
    let missing: Vec<_> = from_start
        .keys()
        .filter(|s| !from_reload.contains_key(*s))
        .collect();
    assert!(
        missing.is_empty(),
        "series the started route has and the added one lacks: {missing:#?}"
    );
    assert_eq!(from_start.len(), from_reload.len(), "{page}");
    hs.stop().await.unwrap();
}
