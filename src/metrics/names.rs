//! Metric names (a contract: dashboards and alerts use them, do not rename), their descriptions and
//! histogram buckets.

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
/// result (a bounded set the signed-URL fetcher owns).
pub const SIGNED_URL_FETCHES: &str = "hookshift_signed_url_fetches_total";
/// `hookshift_signed_url_fetch_duration_seconds{route}`: time one signed-URL fetch took.
pub const SIGNED_URL_FETCH_DURATION: &str = "hookshift_signed_url_fetch_duration_seconds";
/// `hookshift_build_info{version}`: always 1.
pub const BUILD_INFO: &str = "hookshift_build_info";
/// `hookshift_requests_shed_total{route,reason}`: requests answered 503 because the body budget
/// (`server.max_buffered_bytes`) could not hold them; `reason` is a [`ShedReason`](super::ShedReason).
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
/// paired unsure: several events about one run within the pairing window, no content to tell which)
/// or `occurrence_limit` (past the occurrences the ledger keeps per identity, delivered untracked
/// whatever the policy).
pub const LEDGER_UNCERTAIN: &str = "hookshift_ledger_uncertain_deliveries_total";
/// Most distinct `path` values of [`SHADOW_MISMATCHED_PATHS`] in one process.
pub const MAX_SHADOW_PATH_LABELS: usize = 200;
/// `hookshift_invalid_output_total{route,event_type,path}`: translated events that broke the target
/// version's schema, per path (`schemas.validate_output`; bounded like the shadow paths).
pub const INVALID_OUTPUT: &str = "hookshift_invalid_output_total";

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

/// Delivery histogram buckets: 1 ms to 30 s.
pub(super) const DELIVERY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
];
/// Translation histogram buckets: 10 µs to 1 s.
pub(super) const TRANSLATION_BUCKETS: &[f64] = &[
    0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
];

/// Describes every family (the `# HELP` lines of the page).
pub(super) fn describe() {
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
    describe_counter!(
        SHADOW_PAIRS,
        "Twins compared at the handler's version, by result"
    );
    describe_counter!(
        SHADOW_MISMATCHED_PATHS,
        "Paths where compared twins differed outside what the mapping expects"
    );
    describe_counter!(
        SHADOW_UNPAIRED,
        "First copies whose twin never came within retention"
    );
    describe_counter!(
        SHADOW_SKIPPED,
        "Copies not offered to the shadow comparison, by reason"
    );
    describe_gauge!(LEDGER_ENTRIES, "Entries in the ledger");
    describe_counter!(
        LEDGER_ERRORS,
        "Failed ledger operations (requests went on without it)"
    );
    describe_counter!(LEDGER_EVICTED, "Entries removed from the ledger, by reason");
    describe_counter!(
        INVALID_OUTPUT,
        "Translated events that broke the target version's schema, by path"
    );
    describe_counter!(
        LEDGER_UNCERTAIN,
        "Copies delivered although their event may have reached the handler already, by reason"
    );
    describe_counter!(
        QUARANTINED,
        "Failed translations offered to the quarantine, by result"
    );
    describe_counter!(
        QUARANTINE_REPLAYS,
        "Quarantined events replayed, by result (counted in the ledger, read every sweep)"
    );
}
