//! The exactly-once unit: one verified event, from its claim to its settlement. Live requests
//! ([`Pipeline::handle`]) and `hookshift quarantine replay` ([`Pipeline::replay`]) both go through
//! [`Pipeline::once`]:
//!
//! ```text
//! twins (claim) -> decide -> translate -> sign -> deliver -> settle
//!                               |
//!                               +-> quarantine (a failed translation, when the route keeps them)
//! ```
//!
//! `translate` resolves a signed-URL payload and checks the translation against the shipped schemas;
//! `settle` marks the ledger's claim delivered after the handler's 2xx and releases it after anything
//! else (a refusal, a quarantine, a failed delivery), so the next copy or retry can deliver. What
//! sets a replay apart is its [`Source`]: it goes on under a forward policy whatever the route's
//! policy says of its version today (it was accepted for delivery when it was quarantined), and a
//! translation that still fails leaves it in the quarantine. A dry run neither claims nor delivers.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::decide::{self, Decided, Event, Parsed};
use super::deliver;
use super::policy::Policy;
use super::receive::Authentic;
use super::record::Record;
use super::translate::{self, Translated};
use super::twins::{self, Claimed, Step};
use super::{Done, Handover, Pipeline};
use crate::config::TranslationFailure;
use crate::ledger::quarantine::{Quarantined, Stored};
use crate::metrics::Outcome;
use crate::pipeline::error::{json_response, ProxyError};
use crate::route::Route;
use crate::state::State;

/// Where an event comes from: what the unit may do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// A request: claimed, delivered, and quarantined when its translation fails and the route says so.
    Live,
    /// A quarantined event replayed: claimed and delivered like a live copy whose policy says forward;
    /// a translation that still fails leaves it in the quarantine.
    Replay,
    /// A replay's dry run: translated and checked, neither claimed nor delivered.
    DryRun,
}

/// One verified event on its way through the unit.
pub(super) struct Course<'a, 'r> {
    pub route: &'a Route,
    /// The sending version and what to do with it.
    pub policy: &'a Policy<'r>,
    /// The headers the delivery is signed from: the request's; a replay's, from its event id.
    pub inbound: &'a HeaderMap,
    pub source: Source,
}

impl Pipeline {
    /// Runs one verified event through the unit: the ledger's claim (`twins`), then decide and
    /// translate, then sign, deliver and settle; a failed translation may be quarantined instead.
    pub(super) async fn once(
        &self,
        state: &State,
        course: &Course<'_, '_>,
        authentic: Authentic,
        record: &mut Record<'_>,
    ) -> Result<Done, ProxyError> {
        let step = match course.source {
            // A dry run leaves no trace in the ledger: no claim, no copy seen.
            Source::DryRun => Step::Go(None, None),
            Source::Live | Source::Replay => {
                let verified = &authentic.verified;
                self.twins(course.route, course.policy, verified, record)
                    .await
            }
        };
        match step {
            Step::Answer(answer) => answer,
            Step::Go(claimed, parsed) => {
                let ready = self.prepare(state, course, authentic, parsed, record).await;
                self.deliver_once(course, claimed, ready, record).await
            }
            Step::DeliverAnyway(claimed, event, translated, outcome) => {
                let Authentic { verified, held } = authentic;
                let outgoing = twins::anyway(
                    course.route,
                    verified,
                    held,
                    event,
                    translated,
                    outcome,
                    record,
                );
                let ready = Ok(Translated::Deliver(outgoing));
                self.deliver_once(course, claimed, ready, record).await
            }
        }
    }

    /// Decide and translate (`parsed`: what `twins` read of the body, not read again): the event to
    /// deliver, or the answer without a delivery (an ack, a quarantine).
    async fn prepare(
        &self,
        state: &State,
        course: &Course<'_, '_>,
        authentic: Authentic,
        parsed: Option<Parsed>,
        record: &mut Record<'_>,
    ) -> Result<Translated, ProxyError> {
        let route = course.route;
        match decide::decide(route, course.policy, authentic, parsed, record)? {
            Decided::Answer(done) => Ok(Translated::Answer(done)),
            Decided::Pass(event) => Ok(Translated::Deliver(translate::as_received(event))),
            Decided::Translate(event, plan) => {
                let kept = self.quarantine_candidate(course, &event, record);
                match self.translate(state, route, event, plan, record).await {
                    Err(ProxyError::TranslationFailed(reason)) if kept.is_some() => self
                        .quarantine(route, kept, reason)
                        .await
                        .map(Translated::Answer),
                    translated => translated,
                }
            }
        }
    }

    /// `sign -> deliver -> settle`: the one place an event is handed to the handler and its claim
    /// settled, whatever came before (a dry run stops short of signing).
    async fn deliver_once(
        &self,
        course: &Course<'_, '_>,
        claimed: Option<Claimed>,
        ready: Result<Translated, ProxyError>,
        record: &mut Record<'_>,
    ) -> Result<Done, ProxyError> {
        let result = match ready {
            Ok(Translated::Deliver(outgoing)) if course.source == Source::DryRun => {
                Ok(Done::would_deliver(outgoing.outcome))
            }
            Ok(Translated::Deliver(outgoing)) => {
                let signed = deliver::sign(course.route, course.inbound, outgoing, (self.clock)());
                self.deliver(course.route, signed, record).await
            }
            Ok(Translated::Answer(done)) => Ok(done),
            Err(e) => Err(e),
        };
        self.settle(claimed, result).await
    }

    /// Marks the claimed copy delivered after the handler's 2xx, or releases the claim so that the
    /// next copy or retry delivers; hands the result back unchanged.
    async fn settle(
        &self,
        claimed: Option<Claimed>,
        result: Result<Done, ProxyError>,
    ) -> Result<Done, ProxyError> {
        let (Some(claimed), Some(shadow)) = (claimed, &self.ledger) else {
            return result;
        };
        let ledger = shadow.ledger();
        let delivered = matches!(
            &result,
            Ok(done) if matches!(done.outcome, Outcome::Delivered | Outcome::DeliveredForTwin)
        );
        let settled = if delivered {
            ledger
                .mark_delivered(
                    &claimed.key,
                    claimed.placed,
                    &claimed.token,
                    &claimed.version,
                    &claimed.event_id,
                )
                .await
                .map_err(|e| ("mark", e))
        } else {
            ledger
                .release(&claimed.key, claimed.placed, &claimed.token)
                .await
                .map_err(|e| ("release", e))
        };
        if let Err((operation, error)) = settled {
            ledger.note_failure(operation, &error);
        }
        result
    }

    /// What to keep of a live event about to be translated, when the route quarantines failures (a
    /// replayed one is in the quarantine already).
    fn quarantine_candidate(
        &self,
        course: &Course<'_, '_>,
        event: &Event,
        record: &Record<'_>,
    ) -> Option<Kept> {
        if course.source != Source::Live
            || course.route.on_translation_failure != TranslationFailure::Quarantine
            || self.ledger.is_none()
        {
            return None;
        }
        Some(Kept {
            body: event.body().clone(),
            version: course.policy.version.clone(),
            event_id: record.event_id.clone().unwrap_or_default(),
            event_type: event.event_type.clone(),
            timestamp: event.verified.timestamp(),
        })
    }

    /// Keeps a verified event a mapping failed on: 202 `quarantined`; when the quarantine is full or
    /// the ledger fails, the 422 the sender would have had without it.
    async fn quarantine(
        &self,
        route: &Route,
        kept: Option<Kept>,
        reason: String,
    ) -> Result<Done, ProxyError> {
        let (Some(kept), Some(shadow)) = (kept, &self.ledger) else {
            return Err(ProxyError::TranslationFailed(reason));
        };
        let ledger = shadow.ledger();
        let item = Quarantined {
            id: Quarantined::id_for(&route.name, &kept.version, &kept.event_id),
            route: route.name.clone(),
            version: kept.version,
            event_id: kept.event_id,
            event_type: kept.event_type,
            received_ms: crate::ledger::now_ms(),
            timestamp: kept.timestamp,
            reason: reason.clone(),
            bytes: kept.body.len() as u64,
        };
        match ledger
            .store()
            .quarantine_put(&item, &kept.body, ledger.max_quarantine_bytes())
            .await
        {
            Ok(stored @ (Stored::New | Stored::Exists)) => {
                crate::metrics::record_quarantined(&route.name, stored.as_str());
                tracing::warn!(route = %route.name, event_id = %item.event_id, quarantine_id = %item.id, reason = %reason, "translation failed: event quarantined");
                Ok(Done {
                    outcome: Outcome::Quarantined,
                    response: json_response(
                        StatusCode::ACCEPTED,
                        &serde_json::json!({ "status": "quarantined" }),
                    ),
                    handover: Handover::No,
                })
            }
            Ok(Stored::Full) => {
                crate::metrics::record_quarantined(&route.name, Stored::Full.as_str());
                Err(ProxyError::TranslationFailed(reason))
            }
            Err(error) => {
                ledger.note_failure("quarantine", &error);
                crate::metrics::record_quarantined(&route.name, "error");
                Err(ProxyError::TranslationFailed(reason))
            }
        }
    }
}

/// A copy a failed translation may put in quarantine: its exact bytes and what replay needs.
struct Kept {
    body: Bytes,
    version: String,
    event_id: String,
    event_type: String,
    timestamp: i64,
}
