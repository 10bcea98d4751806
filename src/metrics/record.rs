//! Recording: what the request path, the background checks and the ledger count.

use metrics::{counter, gauge, Gauge, SharedString};

use super::labels::{
    invalid_output_path_label, shadow_path_label, unmapped_path_label, FieldFate, Label, Outcome,
    ShedReason, StatusClass, OTHER,
};
use super::names::*;
use super::register::RouteMetrics;

impl RouteMetrics {
    /// Counts one request in flight until the guard drops.
    pub fn inflight(&self) -> InflightGuard {
        self.inflight.increment(1.0);
        InflightGuard {
            gauge: self.inflight.clone(),
        }
    }

    /// Counts a request the body budget could not hold.
    pub fn shed(&self, reason: ShedReason) {
        self.shed[reason as usize].increment(1);
    }

    /// Records how long a translation took.
    pub fn translation(&self, seconds: f64) {
        self.translation.record(seconds);
    }

    /// Counts a delivery attempt by what came back, and records how long it took.
    pub fn delivery(&self, class: StatusClass, seconds: f64) {
        self.downstream[class as usize].increment(1);
        self.delivery.record(seconds);
    }

    /// Counts a signed-URL fetch by result; its duration when the fetch was attempted.
    pub fn signed_url_fetch(&self, result: impl Label, seconds: Option<f64>) {
        let result = result.as_str();
        match self.signed_url_fetches.iter().find(|(r, _)| *r == result) {
            Some((_, counter)) => counter.increment(1),
            // A value the route was not registered with: counted all the same.
            None => counter!(SIGNED_URL_FETCHES, "route" => self.route.clone(), "result" => result)
                .increment(1),
        }
        if let Some(seconds) = seconds {
            self.signed_url_duration.record(seconds);
        }
    }
}

/// One request in flight on a route (`hookshift_inflight_requests`), until dropped.
#[derive(Debug)]
pub struct InflightGuard {
    gauge: Gauge,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}

/// The labels of one request, filled in as the request is understood.
#[derive(Debug, Clone)]
pub struct EventLabels {
    pub route: SharedString,
    pub api_version: SharedString,
    pub target_version: SharedString,
    pub event_type: SharedString,
}

impl EventLabels {
    /// Counts the request in `hookshift_events_received_total` and `hookshift_events_total`.
    pub fn record(&self, outcome: Outcome) {
        counter!(
            EVENTS_RECEIVED,
            "route" => self.route.clone(),
            "api_version" => self.api_version.clone(),
            "event_type" => self.event_type.clone(),
        )
        .increment(1);
        counter!(
            EVENTS,
            "route" => self.route.clone(),
            "api_version" => self.api_version.clone(),
            "target_version" => self.target_version.clone(),
            "event_type" => self.event_type.clone(),
            "outcome" => outcome.as_str(),
        )
        .increment(1);
    }
}

/// Records a reload attempt; `loaded_at` (unix seconds) is set on success.
pub fn record_reload(success: bool, loaded_at: f64) {
    counter!(CONFIG_RELOADS, "result" => if success { "success" } else { "failure" }).increment(1);
    gauge!(CONFIG_LAST_RELOAD_SUCCESS).set(if success { 1.0 } else { 0.0 });
    if success {
        gauge!(CONFIG_LAST_RELOAD_TIMESTAMP).set(loaded_at);
    }
}

/// Counts one unmapped field of one event.
pub fn record_unmapped_field(route: &str, event_type: &str, path: &str, fate: FieldFate) {
    counter!(
        UNMAPPED_FIELDS,
        "route" => route.to_owned(),
        "event_type" => event_type.to_owned(),
        "path" => unmapped_path_label(path),
        "fate" => fate.as_str(),
    )
    .increment(1);
}

/// Counts one translated event whose `observe` output check was skipped.
pub fn record_output_check_skipped(route: &str) {
    counter!(OUTPUT_CHECKS_SKIPPED, "route" => route.to_owned()).increment(1);
}

/// Counts one event the carried-field scan skipped.
pub fn record_drift_scan_skipped(route: &str) {
    counter!(DRIFT_SCANS_SKIPPED, "route" => route.to_owned()).increment(1);
}

/// Counts the paths where one translated event broke its schema.
pub fn record_invalid_output(route: &str, event_type: &str, paths: &[String]) {
    for path in paths {
        let path = invalid_output_path_label(path);
        counter!(INVALID_OUTPUT, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "path" => path)
            .increment(1);
    }
}

/// Counts a copy delivered with [`LEDGER_UNCERTAIN`]'s `reason`.
pub fn record_uncertain_delivery(route: &str, reason: &'static str) {
    counter!(LEDGER_UNCERTAIN, "route" => route.to_owned(), "reason" => reason).increment(1);
}

/// Counts one compared pair (`matched` or not), its unexpected differences' paths, and the
/// `more_paths` differences beyond those (as `other`).
pub fn record_shadow_pair<'a>(
    route: &str,
    event_type: &str,
    matched: bool,
    mismatched_paths: impl IntoIterator<Item = &'a str>,
    more_paths: usize,
) {
    let verdict = if matched { "match" } else { "mismatch" };
    counter!(SHADOW_PAIRS, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "result" => verdict)
        .increment(1);
    for path in mismatched_paths {
        let path = shadow_path_label(path);
        counter!(SHADOW_MISMATCHED_PATHS, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "path" => path)
            .increment(1);
    }
    if more_paths > 0 {
        counter!(SHADOW_MISMATCHED_PATHS, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "path" => OTHER)
            .increment(more_paths as u64);
    }
}

/// Counts a first copy removed before its twin came (`side` the copy's).
pub fn record_shadow_unpaired(route: &str, event_type: &str, side: impl Label) {
    counter!(SHADOW_UNPAIRED, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "side" => side.as_str())
        .increment(1);
}

/// Counts a copy the comparison skipped (`reason` one of [`SHADOW_SKIP_REASONS`](super::SHADOW_SKIP_REASONS)).
pub fn record_shadow_skipped(route: &str, reason: &'static str) {
    counter!(SHADOW_SKIPPED, "route" => route.to_owned(), "reason" => reason).increment(1);
}

/// Counts one failed ledger operation (one of [`LEDGER_OPERATIONS`](super::LEDGER_OPERATIONS)).
pub fn record_ledger_error(backend: &str, operation: &'static str) {
    counter!(LEDGER_ERRORS, "backend" => backend.to_owned(), "operation" => operation).increment(1);
}

/// Sets the replays the ledger has counted (the counter never goes back).
pub fn record_quarantine_replays(route: &str, result: &'static str, count: u64) {
    counter!(QUARANTINE_REPLAYS, "route" => route.to_owned(), "result" => result).absolute(count);
}

/// Counts one event offered to the quarantine.
pub fn record_quarantined(route: &str, result: &'static str) {
    counter!(QUARANTINED, "route" => route.to_owned(), "result" => result).increment(1);
}

/// Sets what the quarantine holds.
pub fn record_quarantine_size(backend: &str, events: u64, bytes: u64) {
    gauge!(QUARANTINE_EVENTS, "backend" => backend.to_owned()).set(events as f64);
    gauge!(QUARANTINE_BYTES, "backend" => backend.to_owned()).set(bytes as f64);
}

/// Counts entries removed from the ledger.
pub fn record_ledger_evicted(backend: &str, reason: &'static str, count: usize) {
    counter!(LEDGER_EVICTED, "backend" => backend.to_owned(), "reason" => reason)
        .increment(count as u64);
}

/// Sets the ledger's entry count.
pub fn record_ledger_entries(backend: &str, count: u64) {
    gauge!(LEDGER_ENTRIES, "backend" => backend.to_owned()).set(count as f64);
}

/// Sets `hookshift_build_info{version}` to 1.
pub fn record_build_info() {
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}
