//! Registration at zero: every series exists before its first event, because a dashboard panel over a
//! series that does not exist is empty, and a ratio or `increase()` over it cannot fire until the
//! first event.
//!
//! Every per-route series is registered by [`RouteMetrics::register`], which runs when a route is
//! compiled, so a route that a reload adds gets the same set as one present at start.

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram, SharedString};

use super::labels::{
    shared_label, FieldFate, Outcome, ShedReason, StatusClass, LEDGER_OPERATIONS, OTHER,
    PAIR_RESULTS, QUARANTINE_RESULTS, SHADOW_SKIP_REASONS, UNCERTAIN_REASONS,
};
use super::names::*;

/// Everything a route's series are labelled by, known when the route is compiled. The label sets
/// other modules own come as their values ([`super::values`]).
#[derive(Debug, Clone)]
pub struct RouteSeries<'a> {
    /// The route's name.
    pub route: &'a str,
    /// The API version the route's handler speaks.
    pub target_version: &'a str,
    /// Every sending version a policy names, and the handler's version.
    pub api_versions: Vec<&'a str>,
    /// The event types of the handler's version that declare an identity: the ones the shadow
    /// comparison pairs.
    pub paired_event_types: Vec<&'a str>,
    /// The `result` values of [`SIGNED_URL_FETCHES`].
    pub fetch_results: Vec<&'static str>,
    /// The `side` values of [`SHADOW_UNPAIRED`].
    pub unpaired_sides: Vec<&'static str>,
    /// The `result` values of [`QUARANTINE_REPLAYS`].
    pub replay_results: Vec<&'static str>,
}

/// The series of one compiled route whose labels are all known when the route is compiled: their
/// handles, registered (at zero) once, so a request records without building or hashing labels.
#[derive(Debug, Clone)]
pub struct RouteMetrics {
    pub route: SharedString,
    pub target_version: SharedString,
    pub(super) inflight: Gauge,
    pub(super) translation: Histogram,
    pub(super) delivery: Histogram,
    pub(super) downstream: [Counter; StatusClass::ALL.len()],
    pub(super) shed: [Counter; ShedReason::ALL.len()],
    /// By `result` label value.
    pub(super) signed_url_fetches: Box<[(&'static str, Counter)]>,
    pub(super) signed_url_duration: Histogram,
}

impl RouteMetrics {
    /// Registers every per-route series of `series.route` at zero (the one place that does) and
    /// returns the handles of those a request records into.
    pub fn register(series: &RouteSeries<'_>) -> RouteMetrics {
        let route = shared_label(series.route);
        let target_version = shared_label(series.target_version);
        let downstream = StatusClass::ALL.map(|class| {
            let counter = counter!(DOWNSTREAM_RESPONSES, "route" => route.clone(), "status_class" => class.as_str());
            counter.increment(0);
            counter
        });
        let shed = ShedReason::ALL.map(|reason| {
            let counter =
                counter!(REQUESTS_SHED, "route" => route.clone(), "reason" => reason.as_str());
            counter.increment(0);
            counter
        });
        let signed_url_fetches = series
            .fetch_results
            .iter()
            .map(|&result| {
                let counter =
                    counter!(SIGNED_URL_FETCHES, "route" => route.clone(), "result" => result);
                counter.increment(0);
                (result, counter)
            })
            .collect();
        register_events(series);
        register_checks(series.route);
        register_twins(series);
        RouteMetrics {
            inflight: gauge!(INFLIGHT_REQUESTS, "route" => route.clone()),
            translation: histogram!(TRANSLATION_DURATION, "route" => route.clone()),
            delivery: histogram!(DELIVERY_DURATION, "route" => route.clone(), "target_version" => target_version.clone()),
            signed_url_duration: histogram!(SIGNED_URL_FETCH_DURATION, "route" => route.clone()),
            downstream,
            shed,
            signed_url_fetches,
            route,
            target_version,
        }
    }
}

/// `hookshift_events_received_total` and `hookshift_events_total` for each version the route names
/// (every outcome, event type `other`).
fn register_events(series: &RouteSeries<'_>) {
    let route = series.route;
    let mut versions = series.api_versions.clone();
    versions.sort_unstable();
    versions.dedup();
    for version in versions {
        counter!(EVENTS_RECEIVED, "route" => route.to_owned(), "api_version" => version.to_owned(), "event_type" => OTHER)
            .increment(0);
        for outcome in Outcome::ALL {
            counter!(
                EVENTS,
                "route" => route.to_owned(),
                "api_version" => version.to_owned(),
                "target_version" => series.target_version.to_owned(),
                "event_type" => OTHER,
                "outcome" => outcome.as_str(),
            )
            .increment(0);
        }
    }
}

/// The checks on translated events: unmapped fields (at `event_type` and `path` `other`, each fate),
/// skipped drift scans and output checks, and schema-breaking output.
fn register_checks(route: &str) {
    for fate in FieldFate::ALL {
        counter!(UNMAPPED_FIELDS, "route" => route.to_owned(), "event_type" => OTHER, "path" => OTHER, "fate" => fate.as_str())
            .increment(0);
    }
    counter!(DRIFT_SCANS_SKIPPED, "route" => route.to_owned()).increment(0);
    counter!(OUTPUT_CHECKS_SKIPPED, "route" => route.to_owned()).increment(0);
    counter!(INVALID_OUTPUT, "route" => route.to_owned(), "event_type" => OTHER, "path" => OTHER)
        .increment(0);
}

/// The ledger's per-route series: the shadow comparison (per paired event type), uncertain
/// deliveries, the quarantine and its replays. Registered with the ledger off too, so dashboards and
/// alerts read a value.
fn register_twins(series: &RouteSeries<'_>) {
    let route = series.route;
    for reason in SHADOW_SKIP_REASONS {
        counter!(SHADOW_SKIPPED, "route" => route.to_owned(), "reason" => reason).increment(0);
    }
    for event_type in &series.paired_event_types {
        for result in PAIR_RESULTS {
            counter!(SHADOW_PAIRS, "route" => route.to_owned(), "event_type" => (*event_type).to_owned(), "result" => result)
                .increment(0);
        }
        // Paths come from events: `other` stands for them until one is seen.
        counter!(SHADOW_MISMATCHED_PATHS, "route" => route.to_owned(), "event_type" => (*event_type).to_owned(), "path" => OTHER)
            .increment(0);
        for &side in &series.unpaired_sides {
            counter!(SHADOW_UNPAIRED, "route" => route.to_owned(), "event_type" => (*event_type).to_owned(), "side" => side)
                .increment(0);
        }
    }
    for reason in UNCERTAIN_REASONS {
        counter!(LEDGER_UNCERTAIN, "route" => route.to_owned(), "reason" => reason).increment(0);
    }
    for result in QUARANTINE_RESULTS {
        counter!(QUARANTINED, "route" => route.to_owned(), "result" => result).increment(0);
    }
    for &result in &series.replay_results {
        counter!(QUARANTINE_REPLAYS, "route" => route.to_owned(), "result" => result).increment(0);
    }
}

/// Registers the ledger's series of `backend` at zero (with the ledger off or unavailable too);
/// `removal_reasons` are the `reason` values of [`LEDGER_EVICTED`].
pub fn register_ledger(backend: &str, removal_reasons: impl IntoIterator<Item = &'static str>) {
    for operation in LEDGER_OPERATIONS {
        counter!(LEDGER_ERRORS, "backend" => backend.to_owned(), "operation" => *operation)
            .increment(0);
    }
    for reason in removal_reasons {
        counter!(LEDGER_EVICTED, "backend" => backend.to_owned(), "reason" => reason).increment(0);
    }
    gauge!(LEDGER_ENTRIES, "backend" => backend.to_owned()).increment(0.0);
    gauge!(QUARANTINE_EVENTS, "backend" => backend.to_owned()).increment(0.0);
    gauge!(QUARANTINE_BYTES, "backend" => backend.to_owned()).increment(0.0);
}

/// Records that the initial configuration is running (not counted as a reload).
pub fn record_initial_load(loaded_at: f64) {
    // Both results exist from the start at zero, so rates and alerts over them see a series before
    // the first reload.
    for result in ["success", "failure"] {
        counter!(CONFIG_RELOADS, "result" => result).increment(0);
    }
    gauge!(CONFIG_LAST_RELOAD_SUCCESS).set(1.0);
    gauge!(CONFIG_LAST_RELOAD_TIMESTAMP).set(loaded_at);
}
