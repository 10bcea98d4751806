//! Bounded label values: the enums this module owns, the [`Label`] trait through which the modules
//! that own other label sets hand them over, and the caps on label values that come from events.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::SharedString;

use super::names::{MAX_SHADOW_PATH_LABELS, MAX_UNMAPPED_PATH_LABELS};

/// A bounded set of label values, owned by the module whose concern it names (the ledger's sides and
/// removal reasons, the quarantine's replay results, the signed-URL fetcher's results). The recorder
/// registers every value at zero and never learns the type.
pub trait Label: Copy + 'static {
    /// Every value, each once.
    const ALL: &'static [Self];

    /// The label value.
    fn as_str(self) -> &'static str;
}

/// The label values of `L`, in the order of [`Label::ALL`].
pub fn values<L: Label>() -> impl Iterator<Item = &'static str> {
    L::ALL.iter().map(|value| value.as_str())
}

/// Label value for an event whose body was never verified.
pub const UNKNOWN: &str = "unknown";
/// Label value for a value outside the bounded set.
pub const OTHER: &str = "other";

/// The `reason` values of [`LEDGER_UNCERTAIN`](super::LEDGER_UNCERTAIN).
pub const UNCERTAIN_REASONS: [&str; 2] = ["ambiguous_twin", "occurrence_limit"];
/// The `operation` label values of [`LEDGER_ERRORS`](super::LEDGER_ERRORS).
pub const LEDGER_OPERATIONS: &[&str] = &[
    "open", "shadow", "sweep", "size", "claim", "mark", "release", "history", "commit",
];
/// The `reason` values of [`SHADOW_SKIPPED`](super::SHADOW_SKIPPED).
pub const SHADOW_SKIP_REASONS: [&str; 3] = ["overloaded", "ledger_error", "one_sided"];
/// The `result` values of [`SHADOW_PAIRS`](super::SHADOW_PAIRS).
pub const PAIR_RESULTS: [&str; 2] = ["match", "mismatch"];
/// The `result` values of [`QUARANTINED`](super::QUARANTINED).
pub const QUARANTINE_RESULTS: [&str; 4] = ["stored", "exists", "full", "error"];

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
    /// Every class, in the order of the enum (what [`RouteMetrics`](super::RouteMetrics) indexes by).
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

/// The distinct `path` label values of the unmapped-field series handed out so far.
static PATH_LABELS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
/// The same for the shadow comparison's mismatched paths.
static SHADOW_PATH_LABELS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
/// The same for the paths where translated events broke their schema.
static INVALID_OUTPUT_LABELS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// The bounded `path` label for an unmapped field's path: the path itself while fewer than
/// [`MAX_UNMAPPED_PATH_LABELS`] distinct paths were seen in this process (or it is one of them),
/// else `other`.
pub fn unmapped_path_label(path: &str) -> String {
    bounded_label(&PATH_LABELS, MAX_UNMAPPED_PATH_LABELS, path)
}

/// The bounded `path` label of a path where compared twins differ.
pub(super) fn shadow_path_label(path: &str) -> String {
    bounded_label(&SHADOW_PATH_LABELS, MAX_SHADOW_PATH_LABELS, path)
}

/// The bounded `path` label of a path where a translated event broke its schema.
pub(super) fn invalid_output_path_label(path: &str) -> String {
    bounded_label(&INVALID_OUTPUT_LABELS, MAX_SHADOW_PATH_LABELS, path)
}

/// `value` while `seen` holds fewer than `cap` values (or holds `value`), else `other`.
pub(super) fn bounded_label(seen: &Mutex<BTreeSet<String>>, cap: usize, value: &str) -> String {
    let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
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
