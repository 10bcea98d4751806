//! Metric names, bounded label values, and the process-wide Prometheus recorder.
//!
//! The names below are a contract (dashboards and alerts use them): do not rename. Every label value
//! comes from a bounded set: route names and versions from the configuration, event types from the
//! mapping set's rules and catalogue (else `other`), outcomes and status classes from the enums here.
//!
//! A global recorder can be installed once per process, so [`install`] does it once and hands every
//! server in the process the same [`PrometheusHandle`]. Servers label by route, so several servers in one
//! process (as in the integration tests) stay apart as long as their route names differ.

use std::sync::OnceLock;

use std::collections::HashMap;
use std::sync::Arc;

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::config::RouteConfig;

/// `hookshift_events_received_total{route,api_version,event_type}`: requests that reached a route.
pub const EVENTS_RECEIVED: &str = "hookshift_events_received_total";
/// `hookshift_events_total{route,api_version,target_version,event_type,outcome}`: what became of them.
pub const EVENTS: &str = "hookshift_events_total";
/// `hookshift_delivery_duration_seconds{route,target_version}`: downstream POST latency.
pub const DELIVERY_DURATION: &str = "hookshift_delivery_duration_seconds";
/// `hookshift_translation_duration_seconds{route}`: time spent translating one event.
pub const TRANSLATION_DURATION: &str = "hookshift_translation_duration_seconds";
/// `hookshift_downstream_responses_total{route,status_class}`.
pub const DOWNSTREAM_RESPONSES: &str = "hookshift_downstream_responses_total";
/// `hookshift_inflight_requests{route}`: requests being handled now.
pub const INFLIGHT_REQUESTS: &str = "hookshift_inflight_requests";
/// `hookshift_config_reloads_total{result}` with result `success` or `failure`.
pub const CONFIG_RELOADS: &str = "hookshift_config_reloads_total";
/// `hookshift_config_last_reload_success`: 1 when the last reload attempt succeeded, else 0.
pub const CONFIG_LAST_RELOAD_SUCCESS: &str = "hookshift_config_last_reload_success";
/// `hookshift_config_last_reload_timestamp_seconds`: when the running config was loaded.
pub const CONFIG_LAST_RELOAD_TIMESTAMP: &str = "hookshift_config_last_reload_timestamp_seconds";
/// `hookshift_signed_url_fetches_total{route,result}`: signed-URL payloads fetched (or refused), by
/// result ([`crate::signed_url::FetchResult`]).
pub const SIGNED_URL_FETCHES: &str = "hookshift_signed_url_fetches_total";
/// `hookshift_signed_url_fetch_duration_seconds{route}`: time one signed-URL fetch took.
pub const SIGNED_URL_FETCH_DURATION: &str = "hookshift_signed_url_fetch_duration_seconds";
/// `hookshift_build_info{version}`: always 1.
pub const BUILD_INFO: &str = "hookshift_build_info";
/// `hookshift_requests_shed_total{route,reason}`: requests answered 503 because the body budget
/// (`server.max_buffered_bytes`) could not hold them; `reason` is a [`ShedReason`].
pub const REQUESTS_SHED: &str = "hookshift_requests_shed_total";
/// `hookshift_buffered_body_bytes`: bytes of request bodies (and translation working memory) held
/// against `server.max_buffered_bytes` now.
pub const BUFFERED_BODY_BYTES: &str = "hookshift_buffered_body_bytes";
/// `hookshift_unmapped_fields_total{route,event_type,path,fate}`: input fields no mapping names, per
/// translated event and path; `fate` is `dropped` (the translation lost it) or `carried` (a key the
/// source version's schema does not declare, passed on inside an object that survives). `path` is
/// bounded: depth-limited engine paths, at most [`MAX_UNMAPPED_PATH_LABELS`] distinct values per
/// process, then `other`.
pub const UNMAPPED_FIELDS: &str = "hookshift_unmapped_fields_total";
/// `hookshift_drift_scans_skipped_total{route}`: translated events not scanned for carried unknown
/// fields because the background scan queue (`schemas.scan_queue`) was full.
pub const DRIFT_SCANS_SKIPPED: &str = "hookshift_drift_scans_skipped_total";
/// `hookshift_output_checks_skipped_total{route}`: translated events whose `observe` output check was
/// skipped because the background thread was behind (its queue full, or the body budget busy).
pub const OUTPUT_CHECKS_SKIPPED: &str = "hookshift_output_checks_skipped_total";
/// Most distinct `path` values of [`UNMAPPED_FIELDS`] in one process (key names come from senders).
pub const MAX_UNMAPPED_PATH_LABELS: usize = 200;

/// Label value for an event whose body was never verified.
pub const UNKNOWN: &str = "unknown";
/// Label value for a value outside the bounded set.
pub const OTHER: &str = "other";

/// Delivery histogram buckets: 1 ms to 30 s.
const DELIVERY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
];
/// Translation histogram buckets: 10 µs to 1 s.
const TRANSLATION_BUCKETS: &[f64] = &[
    0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
];

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
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(EVENTS_RECEIVED, "Webhook requests that reached a route");
    describe_counter!(EVENTS, "Webhook requests by outcome");
    describe_histogram!(
        DELIVERY_DURATION,
        Unit::Seconds,
        "Downstream delivery latency"
    );
    describe_histogram!(
        TRANSLATION_DURATION,
        Unit::Seconds,
        "Event translation time"
    );
    describe_counter!(DOWNSTREAM_RESPONSES, "Downstream responses by status class");
    describe_gauge!(INFLIGHT_REQUESTS, "Webhook requests being handled");
    describe_counter!(CONFIG_RELOADS, "Configuration reload attempts by result");
    describe_gauge!(
        CONFIG_LAST_RELOAD_SUCCESS,
        "1 when the last reload attempt succeeded"
    );
    describe_gauge!(
        CONFIG_LAST_RELOAD_TIMESTAMP,
        Unit::Seconds,
        "When the running configuration was loaded"
    );
    describe_counter!(SIGNED_URL_FETCHES, "Signed-URL payload fetches by result");
    describe_histogram!(
        SIGNED_URL_FETCH_DURATION,
        Unit::Seconds,
        "Signed-URL payload fetch time"
    );
    describe_gauge!(BUILD_INFO, "Build information, always 1");
    describe_counter!(
        REQUESTS_SHED,
        "Requests answered 503 because the body budget could not hold them"
    );
    describe_counter!(
        UNMAPPED_FIELDS,
        "Input fields no mapping names, by path and fate (dropped or carried)"
    );
    describe_counter!(
        DRIFT_SCANS_SKIPPED,
        "Translated events not scanned for carried unknown fields (scan queue full)"
    );
    describe_counter!(
        OUTPUT_CHECKS_SKIPPED,
        "Translated events whose observe-mode output check was skipped (background thread behind)"
    );
    describe_gauge!(
        BUFFERED_BODY_BYTES,
        Unit::Bytes,
        "Bytes of request bodies held against server.max_buffered_bytes"
    );
}

/// What did not fit in the body budget when a request was shed (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedReason {
    /// The declared `Content-Length`, reserved before reading.
    DeclaredBody,
    /// A body without a declared length, as it grew.
    StreamedBody,
    /// The working memory of translating a verified event.
    Translation,
    /// A payload fetched from a signed URL and the working memory of translating it.
    SignedUrl,
}

impl ShedReason {
    /// Every reason, for registering the series at zero.
    pub const ALL: [ShedReason; 4] = [
        ShedReason::DeclaredBody,
        ShedReason::StreamedBody,
        ShedReason::Translation,
        ShedReason::SignedUrl,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ShedReason::DeclaredBody => "declared_body",
            ShedReason::StreamedBody => "streamed_body",
            ShedReason::Translation => "translation",
            ShedReason::SignedUrl => "signed_url",
        }
    }
}

/// What became of an unmapped field (the `fate` label of [`UNMAPPED_FIELDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldFate {
    /// The translation lost it.
    Dropped,
    /// Passed on to the handler inside an object that survives.
    Carried,
}

impl FieldFate {
    /// Every fate, for registering the series at zero.
    pub const ALL: [FieldFate; 2] = [FieldFate::Dropped, FieldFate::Carried];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldFate::Dropped => "dropped",
            FieldFate::Carried => "carried",
        }
    }
}

/// The distinct `path` label values handed out so far (bounded by [`MAX_UNMAPPED_PATH_LABELS`]).
static PATH_LABELS: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// The bounded `path` label for an unmapped field's path: the path itself while fewer than
/// [`MAX_UNMAPPED_PATH_LABELS`] distinct paths were seen in this process (or it is one of them),
/// else `other`.
pub fn unmapped_path_label(path: &str) -> String {
    bounded_label(&PATH_LABELS, MAX_UNMAPPED_PATH_LABELS, path)
}

fn bounded_label(
    seen: &std::sync::Mutex<std::collections::BTreeSet<String>>,
    cap: usize,
    value: &str,
) -> String {
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if value == OTHER || seen.contains(value) {
        return value.to_owned();
    }
    if seen.len() < cap {
        seen.insert(value.to_owned());
        value.to_owned()
    } else {
        OTHER.to_owned()
    }
}

/// Registers `hookshift_unmapped_fields_total` (at `event_type` and `path` `other`, each fate) and
/// `hookshift_drift_scans_skipped_total` at zero for `route`.
pub fn register_unmapped(route: &str) {
    for fate in FieldFate::ALL {
        counter!(UNMAPPED_FIELDS, "route" => route.to_owned(), "event_type" => OTHER, "path" => OTHER, "fate" => fate.as_str())
            .increment(0);
    }
    counter!(DRIFT_SCANS_SKIPPED, "route" => route.to_owned()).increment(0);
    counter!(OUTPUT_CHECKS_SKIPPED, "route" => route.to_owned()).increment(0);
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

/// Sets `hookshift_build_info{version}` to 1.
pub fn record_build_info() {
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// What became of one webhook request (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The handler answered 2xx.
    Delivered,
    /// The policy said ack: answered 200, nothing delivered.
    Acked,
    /// The policy said reject: answered 400, nothing delivered.
    Rejected,
    /// Missing or bad signature.
    Unauthorized,
    /// Body not JSON, not an event, or a version without policy.
    Invalid,
    /// Body larger than `server.max_body_bytes`.
    TooLarge,
    /// Answered 503: the body budget (`server.max_buffered_bytes`) could not hold the request.
    Overloaded,
    /// No mapping covers the event type (handled per `routes.unmapped`).
    Unmapped,
    /// A mapping took the event but failed on its shape.
    TranslationError,
    /// The handler answered non-2xx, was unreachable or timed out.
    DownstreamError,
    /// The payload was a signed URL that could not be fetched (or fetching is off): answered 502.
    SignedUrlUnavailable,
    /// The ledger knows the event was delivered (its twin or an earlier copy of itself): answered
    /// 200 `{"status":"duplicate"}`, nothing delivered.
    Duplicate,
    /// The policy said ack or reject, but the event's twin was answered without delivery: delivered
    /// anyway (the handler answered 2xx).
    DeliveredForTwin,
    /// Another copy of the event was being delivered at that moment: answered 503 so the sender retries.
    TwinInFlight,
    /// A mapping failed on it and it was kept in the quarantine: answered 202.
    Quarantined,
    /// The policy said ack, but the ledger could not record it: answered 503 so the sender retries
    /// (an acknowledgement the ledger does not know of could strand the event at the next stage).
    LedgerUnavailable,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Acked => "acked",
            Outcome::Rejected => "rejected",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Invalid => "invalid",
            Outcome::TooLarge => "too_large",
            Outcome::Overloaded => "overloaded",
            Outcome::Unmapped => "unmapped",
            Outcome::TranslationError => "translation_error",
            Outcome::DownstreamError => "downstream_error",
            Outcome::SignedUrlUnavailable => "signed_url_unavailable",
            Outcome::Duplicate => "duplicate",
            Outcome::DeliveredForTwin => "delivered_for_twin",
            Outcome::TwinInFlight => "twin_in_flight",
            Outcome::Quarantined => "quarantined",
            Outcome::LedgerUnavailable => "ledger_unavailable",
        }
    }

    /// Every outcome, in the order of the enum.
    pub const ALL: [Outcome; 16] = [
        Outcome::Delivered,
        Outcome::Acked,
        Outcome::Rejected,
        Outcome::Unauthorized,
        Outcome::Invalid,
        Outcome::TooLarge,
        Outcome::Overloaded,
        Outcome::Unmapped,
        Outcome::TranslationError,
        Outcome::DownstreamError,
        Outcome::SignedUrlUnavailable,
        Outcome::Duplicate,
        Outcome::DeliveredForTwin,
        Outcome::TwinInFlight,
        Outcome::Quarantined,
        Outcome::LedgerUnavailable,
    ];
}

/// How a downstream delivery attempt ended (the `status_class` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    S2xx,
    S3xx,
    S4xx,
    S5xx,
    Timeout,
    ConnectError,
}

impl StatusClass {
    /// Every class, in the order of the enum (what [`RouteMetrics`] indexes by).
    pub const ALL: [StatusClass; 6] = [
        StatusClass::S2xx,
        StatusClass::S3xx,
        StatusClass::S4xx,
        StatusClass::S5xx,
        StatusClass::Timeout,
        StatusClass::ConnectError,
    ];

    /// The class of an HTTP status.
    pub fn of(status: http::StatusCode) -> StatusClass {
        match status.as_u16() {
            200..=299 => StatusClass::S2xx,
            300..=399 => StatusClass::S3xx,
            400..=499 => StatusClass::S4xx,
            _ => StatusClass::S5xx,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::S2xx => "2xx",
            StatusClass::S3xx => "3xx",
            StatusClass::S4xx => "4xx",
            StatusClass::S5xx => "5xx",
            StatusClass::Timeout => "timeout",
            StatusClass::ConnectError => "connect_error",
        }
    }
}

/// The `event_type` label value of every event type a mapping set knows (its rules and its catalogue),
/// resolved once per mapping set: the request path looks a type up instead of building a label string.
/// Any other type is labelled `other`, so senders cannot grow the label set.
#[derive(Debug, Default)]
pub struct EventTypeLabels {
    known: HashMap<Box<str>, SharedString>,
}

impl EventTypeLabels {
    /// The labels of `known`: the event types the mapping set names or lists.
    pub fn new<'a>(known: impl IntoIterator<Item = &'a str>) -> EventTypeLabels {
        let mut labels: HashMap<Box<str>, SharedString> = HashMap::new();
        for event_type in known {
            labels
                .entry(Box::from(event_type))
                .or_insert_with(|| SharedString::from_shared(Arc::from(event_type)));
        }
        EventTypeLabels { known: labels }
    }

    /// The label of `event_type`: itself when known, else `other`.
    pub fn label(&self, event_type: &str) -> SharedString {
        self.known
            .get(event_type)
            .cloned()
            .unwrap_or(SharedString::const_str(OTHER))
    }
}

/// A label value resolved once and shared by every request that uses it.
pub fn shared_label(value: &str) -> SharedString {
    SharedString::from_shared(Arc::from(value))
}

/// The series of one compiled route whose labels are all known when the route is compiled: their
/// handles, registered (at zero) once, so a request records without building or hashing labels.
#[derive(Debug, Clone)]
pub struct RouteMetrics {
    pub route: SharedString,
    pub target_version: SharedString,
    inflight: Gauge,
    translation: Histogram,
    delivery: Histogram,
    downstream: [Counter; StatusClass::ALL.len()],
    shed: [Counter; ShedReason::ALL.len()],
    signed_url_fetches: [Counter; crate::signed_url::FetchResult::ALL.len()],
    signed_url_duration: Histogram,
}

impl RouteMetrics {
    /// The handles of route `name` delivering to a handler on `target_version`.
    pub fn new(name: &str, target_version: &str) -> RouteMetrics {
        let route = shared_label(name);
        let target_version = shared_label(target_version);
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
        let signed_url_fetches = crate::signed_url::FetchResult::ALL.map(|result| {
            let counter =
                counter!(SIGNED_URL_FETCHES, "route" => route.clone(), "result" => result.as_str());
            counter.increment(0);
            counter
        });
        register_unmapped(name);
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
    pub fn signed_url_fetch(&self, result: crate::signed_url::FetchResult, seconds: Option<f64>) {
        self.signed_url_fetches[result as usize].increment(1);
        if let Some(seconds) = seconds {
            self.signed_url_duration.record(seconds);
        }
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

/// Registers at zero, for every route, the series the dashboard and alerts select before any event
/// arrives: `hookshift_events_received_total` and `hookshift_events_total` for each version the route
/// names (every outcome, event type `other`); the series with fixed labels (downstream responses,
/// in-flight requests, …) are registered by [`RouteMetrics::new`]. A panel over a series that does not
/// exist is empty, and a ratio or `increase()` over it cannot fire until the first event.
pub fn register_event_series(routes: &[RouteConfig]) {
    for route in routes {
        let versions: std::collections::BTreeSet<&str> = route
            .policy
            .keys()
            .map(String::as_str)
            .chain([route.downstream.version.as_str()])
            .collect();
        for version in versions {
            counter!(EVENTS_RECEIVED, "route" => route.name.clone(), "api_version" => version.to_owned(), "event_type" => OTHER)
                .increment(0);
            for outcome in Outcome::ALL {
                counter!(
                    EVENTS,
                    "route" => route.name.clone(),
                    "api_version" => version.to_owned(),
                    "target_version" => route.downstream.version.clone(),
                    "event_type" => OTHER,
                    "outcome" => outcome.as_str(),
                )
                .increment(0);
            }
        }
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

/// Keeps `hookshift_inflight_requests{route}` raised while alive.
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

// The ledger and the shadow comparison of twins (`crate::ledger`, `crate::shadow`).

/// `hookshift_shadow_pairs_total{route,event_type,result}`: twins compared at the handler's version,
/// `result` `match` or `mismatch`.
pub const SHADOW_PAIRS: &str = "hookshift_shadow_pairs_total";
/// `hookshift_shadow_mismatched_paths_total{route,event_type,path}`: per compared pair, each path where
/// the twins differ outside what the mapping expects (`[*]` for indexes, at most
/// [`MAX_SHADOW_PATH_LABELS`] distinct paths per process, then `other`).
pub const SHADOW_MISMATCHED_PATHS: &str = "hookshift_shadow_mismatched_paths_total";
/// `hookshift_shadow_unpaired_total{route,event_type,side}`: first copies whose twin did not come
/// within retention (or that `max_entries` pushed out), `side` `native` or `translated`.
pub const SHADOW_UNPAIRED: &str = "hookshift_shadow_unpaired_total";
/// `hookshift_shadow_skipped_total{route,reason}`: copies not offered to the comparison, `reason`
/// `overloaded` (too many comparisons in flight) or `ledger_error`.
pub const SHADOW_SKIPPED: &str = "hookshift_shadow_skipped_total";
/// `hookshift_ledger_entries{backend}`: entries in the ledger (refreshed by the sweep).
pub const LEDGER_ENTRIES: &str = "hookshift_ledger_entries";
/// `hookshift_ledger_errors_total{backend,operation}`: ledger operations that failed (the request went
/// on without the ledger).
pub const LEDGER_ERRORS: &str = "hookshift_ledger_errors_total";
/// `hookshift_ledger_evicted_total{backend,reason}`: entries removed, `reason` `retention` or `capacity`.
pub const LEDGER_EVICTED: &str = "hookshift_ledger_evicted_total";
/// `hookshift_ledger_uncertain_deliveries_total{route,reason}`: copies delivered although their event
/// may have reached the handler already, rather than risk never delivering it: `ambiguous_twin` (a copy
/// paired unsure: several events about one run within the pairing window, no content to tell which) or `occurrence_limit` (past the occurrences the
/// ledger keeps per identity, delivered untracked whatever the policy).
pub const LEDGER_UNCERTAIN: &str = "hookshift_ledger_uncertain_deliveries_total";
/// The `reason` values of [`LEDGER_UNCERTAIN`].
pub const UNCERTAIN_REASONS: [&str; 2] = ["ambiguous_twin", "occurrence_limit"];

/// Counts a copy delivered with [`LEDGER_UNCERTAIN`]'s `reason`.
pub fn record_uncertain_delivery(route: &str, reason: &'static str) {
    counter!(LEDGER_UNCERTAIN, "route" => route.to_owned(), "reason" => reason).increment(1);
}
/// Most distinct `path` values of [`SHADOW_MISMATCHED_PATHS`] in one process.
pub const MAX_SHADOW_PATH_LABELS: usize = 200;
/// The `operation` label values of [`LEDGER_ERRORS`].
pub const LEDGER_OPERATIONS: &[&str] = &[
    "open", "shadow", "sweep", "size", "claim", "mark", "release", "history",
];

static SHADOW_PATH_LABELS: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Registers the ledger's series at zero for `backend`.
pub fn register_ledger(backend: &str) {
    metrics::describe_counter!(
        SHADOW_PAIRS,
        "Twins compared at the handler's version, by result"
    );
    metrics::describe_counter!(
        SHADOW_MISMATCHED_PATHS,
        "Paths where compared twins differed outside what the mapping expects"
    );
    metrics::describe_counter!(
        SHADOW_UNPAIRED,
        "First copies whose twin never came within retention"
    );
    metrics::describe_counter!(
        SHADOW_SKIPPED,
        "Copies not offered to the shadow comparison, by reason"
    );
    metrics::describe_gauge!(LEDGER_ENTRIES, "Entries in the ledger");
    metrics::describe_counter!(
        LEDGER_ERRORS,
        "Failed ledger operations (requests went on without it)"
    );
    metrics::describe_counter!(LEDGER_EVICTED, "Entries removed from the ledger, by reason");
    for operation in LEDGER_OPERATIONS {
        counter!(LEDGER_ERRORS, "backend" => backend.to_owned(), "operation" => *operation)
            .increment(0);
    }
    for reason in crate::ledger::Removal::ALL {
        counter!(LEDGER_EVICTED, "backend" => backend.to_owned(), "reason" => reason.as_str())
            .increment(0);
    }
    gauge!(LEDGER_ENTRIES, "backend" => backend.to_owned()).increment(0.0);
    gauge!(QUARANTINE_EVENTS, "backend" => backend.to_owned()).increment(0.0);
    gauge!(QUARANTINE_BYTES, "backend" => backend.to_owned()).increment(0.0);
}

/// Registers the shadow series of one route at zero, for each event type (at the handler's version)
/// that declares an identity.
pub fn register_shadow<'a>(route: &str, event_types: impl IntoIterator<Item = &'a str>) {
    for reason in ["overloaded", "ledger_error"] {
        counter!(SHADOW_SKIPPED, "route" => route.to_owned(), "reason" => reason).increment(0);
    }
    for event_type in event_types {
        for result in ["match", "mismatch"] {
            counter!(SHADOW_PAIRS, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "result" => result)
                .increment(0);
        }
        // Paths come from events: `other` stands for them until one is seen.
        counter!(SHADOW_MISMATCHED_PATHS, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "path" => OTHER)
            .increment(0);
        for side in crate::ledger::Side::ALL {
            counter!(SHADOW_UNPAIRED, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "side" => side.as_str())
                .increment(0);
        }
    }
}

/// Counts one compared pair and its mismatched paths.
pub fn record_shadow_pair(route: &str, event_type: &str, result: &crate::shadow::PairResult) {
    let verdict = if result.matched { "match" } else { "mismatch" };
    counter!(SHADOW_PAIRS, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "result" => verdict)
        .increment(1);
    for difference in &result.mismatched {
        let path = bounded_label(
            &SHADOW_PATH_LABELS,
            MAX_SHADOW_PATH_LABELS,
            &difference.path,
        );
        counter!(SHADOW_MISMATCHED_PATHS, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "path" => path)
            .increment(1);
    }
    if result.more_paths > 0 {
        counter!(SHADOW_MISMATCHED_PATHS, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "path" => OTHER)
            .increment(result.more_paths as u64);
    }
}

/// Counts a first copy removed before its twin came.
pub fn record_shadow_unpaired(route: &str, event_type: &str, side: crate::ledger::Side) {
    counter!(SHADOW_UNPAIRED, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "side" => side.as_str())
        .increment(1);
}

/// Counts a copy the comparison skipped (`reason` `overloaded` or `ledger_error`).
pub fn record_shadow_skipped(route: &str, reason: &'static str) {
    counter!(SHADOW_SKIPPED, "route" => route.to_owned(), "reason" => reason).increment(1);
}

/// Counts one failed ledger operation (one of [`LEDGER_OPERATIONS`]).
pub fn record_ledger_error(backend: &str, operation: &'static str) {
    counter!(LEDGER_ERRORS, "backend" => backend.to_owned(), "operation" => operation).increment(1);
}

/// `hookshift_invalid_output_total{route,event_type,path}`: translated events that broke the target
/// version's schema, per path (`schemas.validate_output`; bounded like the shadow paths).
pub const INVALID_OUTPUT: &str = "hookshift_invalid_output_total";

static INVALID_OUTPUT_LABELS: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Registers `hookshift_invalid_output_total` of a route at zero (`event_type` and `path` `other`).
pub fn register_invalid_output(route: &str) {
    metrics::describe_counter!(
        INVALID_OUTPUT,
        "Translated events that broke the target version's schema, by path"
    );
    counter!(INVALID_OUTPUT, "route" => route.to_owned(), "event_type" => OTHER, "path" => OTHER)
        .increment(0);
}

/// Counts the paths where one translated event broke its schema.
pub fn record_invalid_output(route: &str, event_type: &str, paths: &[String]) {
    for path in paths {
        let path = bounded_label(&INVALID_OUTPUT_LABELS, MAX_SHADOW_PATH_LABELS, path);
        counter!(INVALID_OUTPUT, "route" => route.to_owned(), "event_type" => event_type.to_owned(), "path" => path)
            .increment(1);
    }
}

/// `hookshift_quarantined_total{route,result}`: events a mapping failed on offered to the quarantine,
/// `result` `stored`, `exists` (a retry of one kept), `full` (answered 422) or `error` (ledger failed).
pub const QUARANTINED: &str = "hookshift_quarantined_total";
/// `hookshift_quarantine_events{backend}` and `hookshift_quarantine_bytes{backend}`: what the
/// quarantine holds (refreshed by the ledger's sweep).
pub const QUARANTINE_EVENTS: &str = "hookshift_quarantine_events";
pub const QUARANTINE_BYTES: &str = "hookshift_quarantine_bytes";
/// `hookshift_quarantine_replays_total{route,result}`: events `hookshift quarantine replay` tried,
/// `result` `delivered`, `duplicate` (its twin came through meanwhile) or `failed` (kept). Counted in
/// the ledger by the command, read from it with the ledger's sweep.
pub const QUARANTINE_REPLAYS: &str = "hookshift_quarantine_replays_total";

/// Registers the quarantine series of a route at zero.
pub fn register_quarantine(route: &str) {
    metrics::describe_counter!(
        LEDGER_UNCERTAIN,
        "Copies delivered although their event may have reached the handler already, by reason"
    );
    for reason in UNCERTAIN_REASONS {
        counter!(LEDGER_UNCERTAIN, "route" => route.to_owned(), "reason" => reason).increment(0);
    }
    metrics::describe_counter!(
        QUARANTINED,
        "Failed translations offered to the quarantine, by result"
    );
    for result in ["stored", "exists", "full", "error"] {
        counter!(QUARANTINED, "route" => route.to_owned(), "result" => result).increment(0);
    }
    metrics::describe_counter!(
        QUARANTINE_REPLAYS,
        "Quarantined events replayed, by result (counted in the ledger, read every sweep)"
    );
    for result in crate::ledger::quarantine::ReplayResult::ALL {
        counter!(QUARANTINE_REPLAYS, "route" => route.to_owned(), "result" => result.as_str())
            .increment(0);
    }
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
        for (i, result) in crate::signed_url::FetchResult::ALL.iter().enumerate() {
            assert_eq!(*result as usize, i);
        }
    }

    #[test]
    fn route_handles_register_every_series_at_zero() {
        let handle = install();
        let route = RouteMetrics::new("metrics_unit_route", "2026-02-09");
        let page = handle.render();
        for class in StatusClass::ALL {
            let series = format!(
                "hookshift_downstream_responses_total{{route=\"metrics_unit_route\",status_class=\"{}\"}} 0",
                class.as_str()
            );
            assert!(page.contains(&series), "{series}\n{page}");
        }
        route.delivery(StatusClass::S5xx, 0.01);
        route.shed(ShedReason::SignedUrl);
        let page = handle.render();
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
