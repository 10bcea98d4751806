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
