//! Stage `twins` (when `[ledger]` is on): the two copies of one logical event, one per endpoint.
//!
//! After `verify` and before `decide`, a copy whose event type declares an identity (see
//! [`crate::mapping::identity`]) is read at the handler's version (translated when sent in another)
//! and its identity looked up in the ledger:
//!
//! - it is offered to the shadow comparison, in the background ([`crate::ledger::stage`]);
//! - exactly once ([`crate::ledger::once`]): a delivered event is answered `duplicate`; a copy whose
//!   policy says ack or reject is delivered anyway when its twin was answered without delivery
//!   (`delivered_for_twin`); a copy whose policy says deliver claims the delivery, marked after the
//!   handler's 2xx and released otherwise; while another copy holds the claim, 503 `twin_in_flight`.
//!
//! Whenever the ledger cannot answer (down, an entry it cannot read) the failure is counted and logged
//! once per interval, and the copy goes on as without a ledger, but for an ack: a copy whose policy
//! says ack is answered 503 `ledger_unavailable` (the sender retries), since an acknowledgement the
//! ledger never recorded strands the event when the next stage rejects its twin. A copy without an
//! identity goes on exactly as without a ledger.

use std::sync::Arc;

use bytes::Bytes;

use super::record::Record;
use super::translate::Outgoing;
use super::{Done, Pipeline};
use crate::budget::BudgetPermit;
use crate::config::{Config, TranslationFailure};
use crate::error::ProxyError;
use crate::json::Value;
use crate::ledger::once::{Copy, Decision, Intent};
use crate::ledger::quarantine::{Quarantined, Stored};
use crate::ledger::stage::{Offered, Shadow};
use crate::ledger::{Key, Ledger, LedgerError};
use crate::mapping::identity::Identity;
use crate::mapping::Delivery;
use crate::metrics::Outcome;
use crate::provider::Verified;
use crate::route::{Action, Route};
use crate::state::State;

/// Bodies larger than this skip the ledger (they are delivered as without it): the copy is parsed
/// and translated once more here, outside the body budget.
pub const MAX_LEDGER_BODY: usize = 1024 * 1024;
/// How much longer than the delivery's deadline a claim holds.
const CLAIM_SLACK_MS: u64 = 10_000;

/// Opens the configured ledger (none when `backend = "off"`). A ledger that cannot be opened is
/// logged and counted: hookshift serves without it.
pub(super) fn open(state: &State) -> Option<Arc<Shadow>> {
    let config: &Config = &state.config;
    let ledger = match Ledger::open(config) {
        Ok(Some(ledger)) => ledger,
        Ok(None) => {
            // Off: the series still exist (at zero), so dashboards and alerts read a value.
            crate::metrics::register_ledger(config.ledger.backend.as_str());
            register_route_series(state);
            return None;
        }
        Err(error) => {
            crate::metrics::register_ledger(config.ledger.backend.as_str());
            crate::metrics::record_ledger_error(config.ledger.backend.as_str(), "open");
            register_route_series(state);
            tracing::error!(backend = config.ledger.backend.as_str(), error = %error, "ledger unavailable; serving without it");
            return None;
        }
    };
    register_route_series(state);
    let ledger = Arc::new(ledger);
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(Shadow::upkeep(Arc::downgrade(&ledger)));
    }
    tracing::info!(backend = config.ledger.backend.as_str(), "ledger open");
    Some(Arc::new(Shadow::new(ledger)))
}

/// Registers at zero the shadow and quarantine series of every route (at start, and again after a
/// reload for the routes it added): with the ledger off too, so dashboards and alerts read a value.
pub(crate) fn register_route_series(state: &State) {
    for route in &state.routes {
        Shadow::register_route(&route.name, &route.downstream.version, &route.mappings);
        crate::metrics::register_quarantine(&route.name);
    }
}

/// A delivery this copy claimed, to be marked or released once the handler answered.
pub(super) struct Claimed {
    key: Key,
    token: String,
    version: String,
    event_id: String,
}

/// What the stage decided.
pub(super) enum Step {
    /// Go on as without a ledger (settling the claim, if any, after the delivery).
    Go(Option<Claimed>),
    /// Answer now.
    Answer(Result<Done, ProxyError>),
    /// Deliver this copy for its twin: the event at the handler's version, and whether it is a
    /// translation.
    DeliverForTwin(Claimed, Value, bool),
}

impl Pipeline {
    pub(super) async fn twins(
        &self,
        route: &Route,
        verified: &Verified,
        record: &mut Record<'_>,
    ) -> Step {
        let Some(shadow) = &self.ledger else {
            return Step::Go(None);
        };
        let intent = match record.action {
            None => return Step::Go(None),
            Some(Action::Ack | Action::Reject) => Intent::Hold,
            Some(Action::Pass | Action::Translate(_)) => Intent::Deliver,
        };
        let handler = route.downstream.version.as_str();
        let identities = route.mappings.identities();
        let keyed_by_id = route.provider.event_id_is_signed();
        if (identities.event_types(handler).is_empty() && !keyed_by_id)
            || verified.body().len() > MAX_LEDGER_BODY
        {
            return Step::Go(None);
        }
        // Errors here are decide's to report (or the policy's to answer): the ledger steps aside.
        let Ok(received) = crate::json::parse(verified.body()) else {
            return Step::Go(None);
        };
        let delivery = Delivery {
            timestamp: verified.timestamp(),
        };
        let version = record.version.as_str();
        let translated = version != handler;
        let Some(at_handler) = at_handler(route, version, &received, &delivery) else {
            return Step::Go(None);
        };
        let event_id = route
            .provider
            .event_id(verified, &received)
            .unwrap_or_default()
            .to_owned();
        let (identity, paired) = match identities.of(handler, &at_handler) {
            Some(identity) => (identity, true),
            None => match id_identity(route, &at_handler, &event_id) {
                Some(identity) => (identity, false),
                None => return Step::Go(None),
            },
        };
        // What decide would fill: an answer given here is counted and logged like any other.
        if let Some(sent_type) = route.provider.event_type(&received) {
            record.event_type = route.event_types.label(sent_type);
        }
        record.event_id = Some(super::record::loggable_id(&event_id));
        if paired {
            offer_to_shadow(
                shadow,
                route,
                Offered {
                    version: version.to_owned(),
                    event_id: event_id.clone(),
                    received,
                    translated: translated.then(|| at_handler.clone()),
                    delivery,
                },
            );
        }

        let ledger = shadow.ledger();
        let key = Key {
            route: route.name.clone(),
            identity: identity.key,
        };
        let decided = ledger
            .decide(
                &key,
                Copy {
                    event_type: &identity.event_type,
                    version,
                    event_id: &event_id,
                    intent,
                    claim_ms: route.downstream.timeout.as_millis() as u64 + CLAIM_SLACK_MS,
                },
            )
            .await;
        let claimed = |token| Claimed {
            key,
            token,
            version: version.to_owned(),
            event_id,
        };
        let acked = matches!(record.action, Some(Action::Ack));
        step_of(decided, ledger, acked, claimed, at_handler, translated)
    }

    /// Marks the claimed event delivered after the handler's 2xx, or releases the claim so that the
    /// next copy or retry delivers; hands the result back unchanged.
    pub(super) async fn settle(
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
                    &claimed.token,
                    &claimed.version,
                    &claimed.event_id,
                )
                .await
                .map_err(|e| ("mark", e))
        } else {
            ledger
                .release(&claimed.key, &claimed.token)
                .await
                .map_err(|e| ("release", e))
        };
        if let Err((operation, error)) = settled {
            ledger.note_failure(operation, &error);
        }
        result
    }
}

/// The stage's answer to the ledger's decision on a copy (`acked`: its policy says ack; `claimed`
/// makes the claim a delivery settles).
fn step_of(
    decided: Result<Decision, LedgerError>,
    ledger: &Ledger,
    acked: bool,
    claimed: impl FnOnce(String) -> Claimed,
    at_handler: Value,
    translated: bool,
) -> Step {
    match decided {
        Err(error) => {
            ledger.note_failure("claim", &error);
            // A delivery goes on as without a ledger (at worst a duplicate). An ack does not: an
            // acknowledged copy the ledger never heard of strands its event once the next stage
            // rejects the twin, so it is answered 503 and comes back when the ledger answers.
            // A rejection is retried by the sender anyway.
            if acked {
                Step::Answer(Err(ProxyError::LedgerUnavailable))
            } else {
                Step::Go(None)
            }
        }
        Ok(Decision::Policy) => Step::Go(None),
        Ok(Decision::Deliver { token }) => Step::Go(Some(claimed(token))),
        Ok(Decision::DeliverForTwin { token }) => {
            Step::DeliverForTwin(claimed(token), at_handler, translated)
        }
        Ok(Decision::Duplicate) => Step::Answer(Ok(Done::ok(Outcome::Duplicate, "duplicate"))),
        Ok(Decision::InFlight) => Step::Answer(Err(ProxyError::TwinInFlight)),
    }
}

/// Offers a copy to the shadow comparison with its twin (from any other version the route's policy
/// names).
fn offer_to_shadow(shadow: &Shadow, route: &Route, copy: Offered) {
    let handler = route.downstream.version.as_str();
    let other_versions = route
        .policy_versions()
        .filter(|v| *v != handler)
        .map(str::to_owned)
        .collect();
    shadow.offer(&route.name, handler, other_versions, &route.mappings, copy);
}

/// The copy as the handler's version has it: as received, or translated. `None` when it cannot be
/// translated (the delivery path reports why).
fn at_handler(
    route: &Route,
    version: &str,
    received: &Value,
    delivery: &Delivery,
) -> Option<Value> {
    let handler = route.downstream.version.as_str();
    if version == handler {
        return Some(received.clone());
    }
    let plan = route.mappings.plan(version, handler).ok()?;
    crate::mapping::translate(plan, received.clone(), delivery).ok()
}

/// The ledger identity of a copy whose type declares none, for a provider whose signature covers the
/// event's id (Standard Webhooks' `webhook-id`): that id, so that a sender's retry of a delivered
/// event is answered `duplicate`. Such a copy pairs with no twin (the other endpoint's copy has its
/// own id) and is not offered to the shadow comparison. `None` for the other providers, or without
/// an id.
fn id_identity(route: &Route, at_handler: &Value, event_id: &str) -> Option<Identity> {
    if !route.provider.event_id_is_signed() || event_id.is_empty() {
        return None;
    }
    let event_type = route.provider.event_type(at_handler)?.to_owned();
    // Declared identities join JSON texts after the type; `webhook-id` is none, so no key collides.
    let key = format!("{event_type}\u{1f}webhook-id\u{1f}{event_id}");
    Some(Identity { event_type, key })
}

/// A copy a failed translation may put in quarantine: its exact bytes and what replay needs.
pub(super) struct Kept {
    body: Bytes,
    version: String,
    event_id: String,
    event_type: String,
    timestamp: i64,
}

impl Pipeline {
    /// What to keep of an event about to be translated, when the route quarantines failures.
    pub(super) fn quarantine_candidate(
        &self,
        route: &Route,
        event: &super::decide::Event,
        record: &Record<'_>,
    ) -> Option<Kept> {
        if route.on_translation_failure != TranslationFailure::Quarantine || self.ledger.is_none() {
            return None;
        }
        Some(Kept {
            body: event.body().clone(),
            version: record.version.clone(),
            event_id: record.event_id.clone().unwrap_or_default(),
            event_type: event.event_type.clone(),
            timestamp: event.verified.timestamp(),
        })
    }

    /// Keeps a verified event a mapping failed on: 202 `quarantined`; when the quarantine is full or
    /// the ledger fails, the 422 the sender would have had without it.
    pub(super) async fn quarantine(
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
                    response: crate::error::json_response(
                        http::StatusCode::ACCEPTED,
                        &serde_json::json!({ "status": "quarantined" }),
                    ),
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

/// The outgoing event of a copy delivered for its twin: its exact bytes in the handler's version, or
/// its translation.
pub(super) fn for_twin(
    route: &Route,
    verified: Verified,
    held: BudgetPermit,
    at_handler: Value,
    translated: bool,
    record: &mut Record<'_>,
) -> Outgoing {
    let event_type = route
        .provider
        .event_type(&at_handler)
        .unwrap_or_default()
        .to_owned();
    let body = if translated {
        record.translated = true;
        // Exact length: the budget below holds `body.len()` while the handler takes its time.
        Bytes::from(at_handler.into_json())
    } else {
        verified.body().clone()
    };
    let mut held = held;
    held.shrink_to(body.len() as u64);
    Outgoing {
        body,
        event_type,
        translated,
        outcome: Outcome::DeliveredForTwin,
        held,
    }
}
