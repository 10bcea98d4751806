//! Stage `record`: what a request's earlier stages reported, counted once in
//! `hookshift_events_received_total` / `hookshift_events_total` and written as one log line (no
//! payload, no secret).

use std::time::Instant;

use ::metrics::SharedString;
use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use super::Done;
use crate::ledger::history::Recorder;
use crate::metrics::{self, EventLabels, InflightGuard};
use crate::pipeline::error::ProxyError;
use crate::pipeline::policy::Policy;
use crate::route::Route;

/// Longest `eventId` (or version) written to logs (longer ones are cut).
const MAX_LOGGED_ID: usize = 128;

/// What one request reported on its way through the stages.
pub(crate) struct Record<'r> {
    route: &'r Route,
    started: Instant,
    _inflight: InflightGuard,
    /// The sending version, as the request named it (from the `policy` stage).
    pub version: String,
    api_version: SharedString,
    /// The bounded `event_type` label; `unknown` until the body is read as an event.
    pub event_type: SharedString,
    /// The event's id, made safe to log.
    pub event_id: Option<String>,
    /// What the handler answered, when it was reached.
    pub downstream_status: Option<u16>,
    /// Whether the delivered event was translated.
    pub translated: bool,
}

impl<'r> Record<'r> {
    /// Starts the record of a request to `route` under `policy` (its sending version and label, as
    /// the `policy` stage resolved them): counts it in flight.
    pub fn start(route: &'r Route, policy: &Policy<'_>) -> Record<'r> {
        let started = Instant::now();
        let inflight = route.metrics.inflight();
        Record {
            route,
            started,
            _inflight: inflight,
            version: policy.version.clone(),
            api_version: policy.label.clone(),
            event_type: SharedString::const_str(metrics::UNKNOWN),
            event_id: None,
            downstream_status: None,
            translated: false,
        }
    }

    /// Counts the request's outcome (in `history` too, when given), writes its log line and hands back
    /// the answer to the sender.
    pub fn finish(
        self,
        result: Result<Done, ProxyError>,
        history: Option<&Recorder>,
    ) -> Response<Full<Bytes>> {
        let (outcome, response, error) = match result {
            Ok(done) => (done.outcome, done.response, None),
            Err(e) => (e.outcome(), e.to_response(), Some(e)),
        };
        let labels = EventLabels {
            route: self.route.metrics.route.clone(),
            api_version: self.api_version,
            target_version: self.route.metrics.target_version.clone(),
            event_type: self.event_type,
        };
        labels.record(outcome);
        if let Some(history) = history {
            history.request(
                &labels.route,
                &labels.api_version,
                outcome,
                self.downstream_status,
            );
        }

        let status = response.status().as_u16();
        let duration_ms = self.started.elapsed().as_millis() as u64;
        let event_id = self.event_id.as_deref().unwrap_or("");
        let logged_version = loggable_id(&self.version);
        let downstream_status = self.downstream_status.unwrap_or(0);
        // One line per request, the same fields either way; refusals at warn with their error.
        macro_rules! request_line {
            ($level:ident, $($error:tt)*) => {
                tracing::$level!(
                    route = %labels.route,
                    event_id,
                    event_type = %labels.event_type,
                    api_version = %logged_version,
                    target_version = %labels.target_version,
                    outcome = outcome.as_str(),
                    status,
                    downstream_status,
                    translated = self.translated,
                    duration_ms,
                    $($error)*
                )
            };
        }
        match &error {
            None => request_line!(info, "webhook handled"),
            Some(e) => request_line!(warn, error = %e, "webhook refused"),
        }
        response
    }
}

/// An `eventId` (or version) safe to log: printable ASCII, at most [`MAX_LOGGED_ID`] characters.
pub(super) fn loggable_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(MAX_LOGGED_ID)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_ids_are_bounded() {
        assert_eq!(loggable_id("evt_1\n2"), "evt_12");
        assert_eq!(loggable_id(&"x".repeat(500)).len(), MAX_LOGGED_ID);
    }
}
