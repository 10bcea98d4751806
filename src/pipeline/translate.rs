//! Stage `translate`: an event from another version becomes the handler's, with the route's mapping
//! set. A signed-URL payload is replaced by the payload it points at first; the fields the
//! translation dropped are counted and the scan for the unknown ones it carried is queued
//! ([`crate::pipeline::drift`]). An event type no mapping covers follows the route's `unmapped`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::budget::shed;
use super::decide::{Event, Tree};
use super::record::Record;
use super::{Done, Pipeline};
use crate::config::{UnmappedAction, ValidateOutput};
use crate::json::Value;
use crate::ledger::history::Counter;
use crate::mapping::{translate_reporting, Delivery, Plan, TranslateError, Translated as Output};
use crate::metrics::{Outcome, ShedReason};
use crate::outbound::fetch::FetchResult;
use crate::pipeline::budget::{self, BudgetPermit};
use crate::pipeline::drift::{self, ScanInput, ScanJob};
use crate::pipeline::error::ProxyError;
use crate::pipeline::output_check::Deferred;
use crate::provider::extend::Detected;
use crate::route::Route;
use crate::state::State;

/// Bodies at least this large are translated on the blocking pool instead of the async workers.
const BLOCKING_TRANSLATION_BYTES: usize = 256 * 1024;

/// An event ready to be signed and delivered.
pub(super) struct Outgoing {
    pub body: Bytes,
    /// The event type of the delivered event.
    pub event_type: String,
    /// Whether `body` is a translation (not the received bytes).
    pub translated: bool,
    /// The outcome a successful delivery is counted under.
    pub outcome: Outcome,
    /// Holds `body` (and no more) in the budget while the handler takes its time.
    pub held: BudgetPermit,
}

/// What the translate stage made of an event.
pub(super) enum Translated {
    /// Answered without delivering (an unmapped event type, `unmapped = "ack"`).
    Answer(Done),
    Deliver(Outgoing),
}

/// An event's translation, and what the drift scan reads of its input.
struct Translation {
    result: Result<Output, TranslateError>,
    input: ScanInput,
}

/// An event to translate, its signed-URL payload (if any) resolved.
enum Resolved {
    Inline(Value),
    Fetched {
        event: Value,
        bytes: usize,
        body: Bytes,
    },
}

/// The received bytes, delivered as they are.
pub(super) fn as_received(event: Event) -> Outgoing {
    outgoing(
        event.body().clone(),
        event.event_type,
        false,
        Outcome::Delivered,
        event.held,
    )
}

/// An outgoing event: the received bytes and trees are gone (or shared with `body`), so only `body`
/// stays held while the handler takes its time.
fn outgoing(
    body: Bytes,
    event_type: String,
    translated: bool,
    outcome: Outcome,
    mut held: BudgetPermit,
) -> Outgoing {
    held.shrink_to(body.len() as u64);
    Outgoing {
        body,
        event_type,
        translated,
        outcome,
        held,
    }
}

/// An event type no mapping covers, handled as the route's `unmapped` says: acked, rejected so the
/// sender retries, or forwarded as received.
fn unmapped(
    route: &Route,
    event_type: String,
    from: String,
    to: String,
    received: &Bytes,
    held: BudgetPermit,
) -> Result<Translated, ProxyError> {
    match route.unmapped {
        UnmappedAction::Ack => Ok(Translated::Answer(Done::ok(Outcome::Unmapped, "acked"))),
        UnmappedAction::Reject => Err(ProxyError::Unmapped {
            event_type,
            from,
            to,
        }),
        UnmappedAction::Forward => Ok(Translated::Deliver(outgoing(
            received.clone(),
            event_type,
            false,
            Outcome::Unmapped,
            held,
        ))),
    }
}

impl Pipeline {
    pub(super) async fn translate(
        &self,
        state: &State,
        route: &Route,
        event: Event,
        plan: &Plan,
        record: &mut Record<'_>,
    ) -> Result<Translated, ProxyError> {
        let Event {
            verified,
            mut held,
            tree,
            event_type,
        } = event;
        let tree = tree
            .ok_or_else(|| ProxyError::Internal("event to translate was not parsed".to_owned()))?;
        let Translation {
            result,
            input: scan_input,
        } = self
            .translation(state, route, &verified, &mut held, tree, plan)
            .await?;
        match result {
            Ok(Output {
                event: value,
                unmapped_fields,
            }) => {
                record.translated = true;
                drift::record_dropped(&route.name, &record.event_type, &unmapped_fields);
                self.count_history(route, &Counter::UnmappedField, unmapped_fields.len());
                let out_type = route
                    .provider
                    .event_type(&value)
                    .unwrap_or_default()
                    .to_owned();
                let deferred = self.check_output(state, route, &value, &out_type)?;
                drop(verified);
                // Consumed as it is written: the tree is freed while its text grows, and the text
                // is exactly as long as its buffer, which `Bytes` keeps until delivered.
                let bytes = Bytes::from(value.into_json());
                let output = deferred.then(|| Deferred {
                    version: route.downstream.version.clone(),
                    body: bytes.clone(),
                    event_type_label: route.event_types.label(&out_type).to_string(),
                    event_type_key: route.provider.event_type_key(),
                });
                self.hand_off(
                    state,
                    route,
                    record,
                    Handoff {
                        event_type,
                        input: scan_input,
                        dropped: unmapped_fields,
                        output,
                    },
                );
                Ok(Translated::Deliver(outgoing(
                    bytes,
                    out_type,
                    true,
                    Outcome::Delivered,
                    held,
                )))
            }
            Err(TranslateError::Unmapped {
                event_type,
                from,
                to,
            }) => unmapped(route, event_type, from, to, verified.body(), held),
            Err(TranslateError::NotAnEvent(message)) => Err(ProxyError::NotAnEvent(message)),
            Err(e @ TranslateError::Failed { .. }) => {
                Err(ProxyError::TranslationFailed(e.to_string()))
            }
        }
    }

    /// Checks a translation against the handler version's schema: an invalid one is counted, and
    /// refused under `enforce`. Returns whether the check is left to the background scanner
    /// (`observe` only counts, so the written bytes can be checked off the request path).
    fn check_output(
        &self,
        state: &State,
        route: &Route,
        value: &Value,
        out_type: &str,
    ) -> Result<bool, ProxyError> {
        let mode = state.config.schemas.validate_output;
        let deferred = mode == ValidateOutput::Observe && self.scanner.is_running();
        if let (Some(schemas), false) = (&state.schemas, deferred) {
            let target = &route.downstream.version;
            let type_key = route.provider.event_type_key();
            if let Some(invalid) =
                crate::pipeline::output_check::check(schemas, mode, target, type_key, value)
            {
                crate::metrics::record_invalid_output(
                    &route.name,
                    &route.event_types.label(out_type),
                    &invalid.paths,
                );
                self.count_history(route, &Counter::InvalidOutput, 1);
                if mode == ValidateOutput::Enforce {
                    return Err(ProxyError::TranslationFailed(format!(
                        "the translation breaks the {target} schema of {out_type}: {}",
                        invalid.first
                    )));
                }
            }
        }
        Ok(deferred)
    }

    /// The translation of a parsed event: the one the `twins` stage made, or made here (a signed-URL
    /// payload resolved first). Counted in the translation-time histogram either way.
    async fn translation(
        &self,
        state: &State,
        route: &Route,
        verified: &crate::provider::Verified,
        held: &mut BudgetPermit,
        tree: Tree,
        plan: &Plan,
    ) -> Result<Translation, ProxyError> {
        let tree = match tree {
            Tree::Translated { result, took } => {
                route.metrics.translation(took.as_secs_f64());
                let input = ScanInput::Body(verified.body().clone());
                return Ok(Translation { result, input });
            }
            Tree::Received(tree) => tree,
        };
        // A signed-URL payload is resolved before any rule sees the event: no rule is written for the
        // link, and acking it would lose the event.
        let (tree, size, input) = match self.resolve_signed_url(state, route, tree).await? {
            Resolved::Inline(tree) => (
                tree,
                verified.body().len(),
                ScanInput::Body(verified.body().clone()),
            ),
            Resolved::Fetched { event, bytes, body } => {
                // Fetched after the signature held: the payload and its translation are accounted
                // like a received body and its translation.
                let working = (1 + budget::TRANSLATION_FACTOR) * bytes as u64;
                if !held.try_grow(working) {
                    return Err(shed(route, ShedReason::SignedUrl));
                }
                (event, bytes, ScanInput::Payload(body))
            }
        };
        let started = Instant::now();
        let result = run_plan(plan, tree, verified.timestamp(), size).await;
        route.metrics.translation(started.elapsed().as_secs_f64());
        Ok(Translation { result, input })
    }

    /// Replaces a signed-URL payload by the payload it points at, rebuilding the event as the SDKs
    /// do (`{eventId, eventType, payload}`), for providers that send them. Any failure is 502
    /// `signed_url_unavailable` (the sender retries with a fresh URL); a `signed_data_url` without a
    /// URL is not an event.
    async fn resolve_signed_url(
        &self,
        state: &State,
        route: &Route,
        mut event: Value,
    ) -> Result<Resolved, ProxyError> {
        let payload_key = route.provider.payload_key();
        let url = match signed_payload(route, &event) {
            Some(Detected::Url(url)) => url.to_owned(),
            Some(Detected::Malformed) => {
                return Err(ProxyError::NotAnEvent(format!(
                    "{payload_key}.object is signed_data_url but {payload_key}.data is not a string URL"
                )))
            }
            Some(Detected::Inline) | None => return Ok(Resolved::Inline(event)),
        };
        let started = Instant::now();
        let fetched = self
            .fetcher
            .fetch(&url, &route.signed_url, state.config.server.max_body_bytes)
            .await;
        let seconds = route
            .signed_url
            .resolve
            .then(|| started.elapsed().as_secs_f64());
        let fetched = match fetched {
            Ok(fetched) => {
                route.metrics.signed_url_fetch(FetchResult::Ok, seconds);
                fetched
            }
            Err(e) => {
                route.metrics.signed_url_fetch(e.result(), seconds);
                return Err(ProxyError::SignedUrlUnavailable(e));
            }
        };
        let object = event.as_object_mut().ok_or_else(|| {
            ProxyError::Internal("a checked envelope is not an object".to_owned())
        })?;
        let mut rebuilt = crate::json::Map::with_capacity(3);
        for key in ["eventId", "eventType"] {
            if let Some(value) = object.shift_remove(key) {
                rebuilt.insert(key, value);
            }
        }
        rebuilt.insert(payload_key, fetched.payload);
        Ok(Resolved::Fetched {
            event: Value::Object(rebuilt),
            bytes: fetched.bytes,
            body: fetched.body,
        })
    }

    /// Queues the background work on a translated event (when schemas are loaded): the scan for the
    /// unknown fields it carried and its `observe` output check; or counts it skipped. Never waits.
    fn hand_off(&self, state: &State, route: &Route, record: &Record<'_>, handoff: Handoff) {
        let Handoff {
            event_type,
            input,
            dropped,
            output,
        } = handoff;
        let Some(schemas) = &state.schemas else {
            return;
        };
        // The job holds the output bytes too, past the delivery that shares them.
        let bytes = input.len() + output.as_ref().map_or(0, |o| o.body.len());
        let Some(permit) = drift::reserve(&self.budget, bytes) else {
            ScanJob::skipped(&route.name, output.is_some());
            return;
        };
        self.scanner.submit(ScanJob {
            schemas: Arc::clone(schemas),
            route: route.name.clone(),
            event_type_label: record.event_type.to_string(),
            event_type,
            version: record.version.clone(),
            input,
            dropped,
            output,
            permit,
            history: self.history.clone(),
        });
    }

    /// Adds `n` to a history counter of `route`, when history is kept.
    fn count_history(&self, route: &Route, counter: &Counter, n: usize) {
        if let Some(history) = &self.history {
            history.count(&route.name, counter, n as u64);
        }
    }
}

/// What the background thread gets of a translated event.
struct Handoff {
    /// The event type as sent.
    event_type: String,
    input: ScanInput,
    /// The paths the translation dropped.
    dropped: Vec<String>,
    output: Option<Deferred>,
}

/// How an event of `route` carries its payload, for a provider that sends signed URLs (`None`: inline).
fn signed_payload<'e>(route: &Route, event: &'e Value) -> Option<Detected<'e>> {
    if !route.provider.sends_signed_urls() {
        return None;
    }
    event
        .get(route.provider.payload_key())
        .map(crate::provider::extend::detect)
}

/// Whether an event's payload is a signed URL (or a malformed one): what it carries is known only
/// once translate resolved it.
pub(super) fn payload_elsewhere(route: &Route, event: &Value) -> bool {
    matches!(
        signed_payload(route, event),
        Some(Detected::Url(_) | Detected::Malformed)
    )
}

/// Translates along `plan`; large events go to the blocking pool.
async fn run_plan(
    plan: &Plan,
    event: Value,
    timestamp: i64,
    size: usize,
) -> Result<Output, TranslateError> {
    let delivery = Delivery { timestamp };
    if size < BLOCKING_TRANSLATION_BYTES {
        return translate_reporting(plan, event, &delivery);
    }
    let plan = plan.clone();
    tokio::task::spawn_blocking(move || translate_reporting(&plan, event, &delivery))
        .await
        .unwrap_or_else(|e| {
            Err(TranslateError::Failed {
                rule: String::new(),
                file: String::new(),
                path: ".".to_owned(),
                message: format!("translation task failed: {e}"),
            })
        })
}
