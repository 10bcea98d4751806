//! Metric names, bounded label values, and the process-wide Prometheus recorder.
//!
//! The names are a contract (dashboards and alerts use them): do not rename. Every label value comes
//! from a bounded set: route names and versions from the configuration, event types from the mapping
//! set's rules and catalogue (else `other`), outcomes and status classes from the enums here, and the
//! label sets other modules own (the ledger's sides, the quarantine's replay results, …) through the
//! [`Label`] trait. This module imports nothing else from the crate: it is a leaf.
//!
//! - `names`: the metric names and their descriptions;
//! - `labels`: the bounded label values and the caps on values that come from events;
//! - `register`: registration at zero, every per-route series in one place
//!   ([`RouteMetrics::register`], run when a route is compiled);
//! - `record`: what the request path, the background checks and the ledger count.
//!
//! A global recorder can be installed once per process, so [`install`] does it once and hands every
//! server in the process the same [`PrometheusHandle`]. Servers label by route, so several servers in one
//! process (as in the integration tests) stay apart as long as their route names differ.

mod labels;
mod names;
mod record;
mod register;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub use labels::*;
pub use names::*;
pub use record::*;
pub use register::*;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder on first call; every call returns the same handle.
///
/// If another recorder was installed first (by an embedding program), hookshift's metrics go to that
/// one and the handle returned here renders an empty page.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DELIVERY_DURATION.to_owned()), DELIVERY_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(TRANSLATION_DURATION.to_owned()), TRANSLATION_BUCKETS))
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(SIGNED_URL_FETCH_DURATION.to_owned()), DELIVERY_BUCKETS))
                .expect("bucket lists are non-empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will not show hookshift's metrics");
            }
            names::describe();
            handle
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`RouteMetrics`] indexes its handles by discriminant: every `ALL` lists its enum in order.
    #[test]
    fn handle_arrays_follow_the_enum_order() {
        for (i, class) in StatusClass::ALL.iter().enumerate() {
            assert_eq!(*class as usize, i);
        }
        for (i, reason) in ShedReason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, i);
        }
    }

    /// A label set another module owns, as the ledger's are.
    #[derive(Debug, Clone, Copy)]
    enum Fetched {
        Ok,
        Refused,
    }

    impl Label for Fetched {
        const ALL: &'static [Fetched] = &[Fetched::Ok, Fetched::Refused];

        fn as_str(self) -> &'static str {
            match self {
                Fetched::Ok => "ok",
                Fetched::Refused => "refused",
            }
        }
    }

    fn series(route: &str) -> RouteSeries<'_> {
        RouteSeries {
            route,
            target_version: "2026-02-09",
            api_versions: vec!["2025-04-21", "2026-02-09"],
            paired_event_types: vec!["extract_run.processed"],
            fetch_results: values::<Fetched>().collect(),
            unpaired_sides: vec!["native", "translated"],
            replay_results: vec!["delivered"],
        }
    }

    #[test]
    fn route_handles_register_every_series_at_zero() {
        let handle = install();
        let route = RouteMetrics::register(&series("metrics_unit_route"));
        let page = handle.render();
        for class in StatusClass::ALL {
            let series = format!(
                "hookshift_downstream_responses_total{{route=\"metrics_unit_route\",status_class=\"{}\"}} 0",
                class.as_str()
            );
            assert!(page.contains(&series), "{series}\n{page}");
        }
        for (family, labels) in [
            (EVENTS, "api_version=\"2025-04-21\",target_version=\"2026-02-09\",event_type=\"other\",outcome=\"delivered\""),
            (SIGNED_URL_FETCHES, "result=\"refused\""),
            (SHADOW_UNPAIRED, "event_type=\"extract_run.processed\",side=\"translated\""),
            (QUARANTINE_REPLAYS, "result=\"delivered\""),
            (INVALID_OUTPUT, "event_type=\"other\",path=\"other\""),
        ] {
            let series = format!("{family}{{route=\"metrics_unit_route\",{labels}}} 0");
            assert!(page.contains(&series), "{series}\n{page}");
        }
        route.delivery(StatusClass::S5xx, 0.01);
        route.shed(ShedReason::SignedUrl);
        route.signed_url_fetch(Fetched::Refused, None);
        let page = handle.render();
        assert!(page.contains("hookshift_signed_url_fetches_total{route=\"metrics_unit_route\",result=\"refused\"} 1"), "{page}");
        assert!(
            page.contains(
                "hookshift_signed_url_fetches_total{route=\"metrics_unit_route\",result=\"ok\"} 0"
            ),
            "{page}"
        );
        assert!(page.contains("hookshift_downstream_responses_total{route=\"metrics_unit_route\",status_class=\"5xx\"} 1"), "{page}");
        assert!(page.contains("hookshift_requests_shed_total{route=\"metrics_unit_route\",reason=\"signed_url\"} 1"), "{page}");
        assert!(page.contains("hookshift_requests_shed_total{route=\"metrics_unit_route\",reason=\"translation\"} 0"), "{page}");
        let inflight = route.inflight();
        assert!(handle
            .render()
            .contains("hookshift_inflight_requests{route=\"metrics_unit_route\"} 1"));
        drop(inflight);
        assert!(handle
            .render()
            .contains("hookshift_inflight_requests{route=\"metrics_unit_route\"} 0"));
    }

    #[test]
    fn status_classes() {
        assert_eq!(
            StatusClass::of(http::StatusCode::NO_CONTENT).as_str(),
            "2xx"
        );
        assert_eq!(StatusClass::of(http::StatusCode::FOUND).as_str(), "3xx");
        assert_eq!(StatusClass::of(http::StatusCode::NOT_FOUND).as_str(), "4xx");
        assert_eq!(
            StatusClass::of(http::StatusCode::BAD_GATEWAY).as_str(),
            "5xx"
        );
    }

    #[test]
    fn event_types_outside_the_known_set_fold_into_other() {
        let labels = EventTypeLabels::new(["extract_run.processed", "run.archived"]);
        assert_eq!(labels.label("run.archived").as_ref(), "run.archived");
        assert_eq!(
            labels.label("extract_run.processed").as_ref(),
            "extract_run.processed"
        );
        assert_eq!(labels.label("made.up").as_ref(), OTHER);
        assert_eq!(
            EventTypeLabels::default().label("run.archived").as_ref(),
            OTHER
        );
    }

    #[test]
    fn reloads_are_counted_and_the_last_result_kept() {
        let handle = install();
        record_reload(true, 1_771_000_000.0);
        let page = handle.render();
        assert!(
            page.contains("hookshift_config_last_reload_success 1"),
            "{page}"
        );
        assert!(
            page.contains("hookshift_config_last_reload_timestamp_seconds 1771000000"),
            "{page}"
        );
        record_reload(false, 0.0);
        let page = handle.render();
        assert!(
            page.contains("hookshift_config_last_reload_success 0"),
            "{page}"
        );
        // A failure keeps the time of the last successful load.
        assert!(
            page.contains("hookshift_config_last_reload_timestamp_seconds 1771000000"),
            "{page}"
        );
        assert!(
            page.contains("hookshift_config_reloads_total{result=\"failure\"} 1"),
            "{page}"
        );
        assert!(
            page.contains("hookshift_config_reloads_total{result=\"success\"} 1"),
            "{page}"
        );
    }

    #[test]
    fn path_labels_are_capped_per_process() {
        let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
        for i in 0..3 {
            assert_eq!(
                bounded_label(&seen, 3, &format!("payload.k{i}")),
                format!("payload.k{i}")
            );
        }
        // Full: a new path is `other`, the paths already admitted keep their own label.
        assert_eq!(bounded_label(&seen, 3, "payload.k3"), OTHER);
        assert_eq!(bounded_label(&seen, 3, "payload.k1"), "payload.k1");
        assert_eq!(bounded_label(&seen, 3, OTHER), OTHER);
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[test]
    fn install_is_idempotent() {
        let a = install();
        let b = install();
        record_build_info();
        let page = a.render();
        assert!(page.contains("hookshift_build_info{version=\""), "{page}");
        assert!(b.render().contains("hookshift_build_info{version=\""));
    }
}
