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
//! What the stage parsed (and, for a copy sent in another version, translated) is handed to `decide`
//! and `translate`, which neither parse nor translate it again. A copy sent in another version whose
//! payload is a signed URL is not translated here (what it carries is known only once `translate`
//! fetched it): the ledger steps aside for it.
//!
//! Whenever the ledger cannot answer (down, an entry it cannot read) the failure is counted and logged
//! once per interval, and the copy goes on as without a ledger, but for an ack: a copy whose policy
//! says ack is answered 503 `ledger_unavailable` (the sender retries), since an acknowledgement the
//! ledger never recorded strands the event when the next stage rejects its twin. A copy without an
//! identity goes on exactly as without a ledger, but for a provider whose signature covers the
//! event's id (Standard Webhooks' `webhook-id`): such a copy is kept by that id, so that a retry of
//! a delivered event is answered `duplicate`; it pairs with no twin and is not compared.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::decide::{Parsed, Tree};
use super::policy::Policy;
use super::record::Record;
use super::translate::Outgoing;
use super::{Done, Pipeline};
use crate::config::Config;
use crate::json::{Envelope, Value};
use crate::pipeline::budget::BudgetPermit;
use crate::pipeline::error::ProxyError;

use crate::ledger::once::{Copy, Decision, Intent, Placed};
use crate::ledger::stage::{AtHandler, Offered, Sent, Shadow};
use crate::ledger::{Key, Ledger};
use crate::mapping::{Delivery, Translated};
use crate::metrics::Outcome;
use crate::provider::{Provider, Verified};
use crate::route::{Action, Route};
use crate::state::State;

/// Bodies larger than this skip the ledger (they are delivered as without it): the copy is parsed
/// and translated here outside the body budget.
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
            crate::ledger::register_metrics(config.ledger.backend);
            return None;
        }
        Err(error) => {
            crate::ledger::register_metrics(config.ledger.backend);
            crate::metrics::record_ledger_error(config.ledger.backend.as_str(), "open");
            tracing::error!(backend = config.ledger.backend.as_str(), error = %error, "ledger unavailable; serving without it");
            return None;
        }
    };
    let ledger = Arc::new(ledger);
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(Shadow::upkeep(Arc::downgrade(&ledger)));
    }
    tracing::info!(backend = config.ledger.backend.as_str(), "ledger open");
    Some(Arc::new(Shadow::new(ledger)))
}

/// A delivery this copy claimed, to be marked or released once the handler answered.
pub(super) struct Claimed {
    pub key: Key,
    pub placed: Placed,
    pub token: String,
    pub version: String,
    pub event_id: String,
}

/// What the stage decided.
pub(super) enum Step {
    /// Go on as without a ledger (settling the claim, if any, after the delivery), with what the stage
    /// parsed of the body, if it did.
    Go(Option<Claimed>, Option<Parsed>),
    /// Answer now.
    Answer(Result<Done, ProxyError>),
    /// Deliver this copy although its policy says ack or reject: the event at the handler's version,
    /// whether it is a translation, and the outcome its delivery is counted under.
    DeliverAnyway(Option<Claimed>, Value, bool, Outcome),
}

impl Pipeline {
    pub(super) async fn twins(
        &self,
        route: &Route,
        policy: &Policy<'_>,
        verified: &Verified,
        record: &mut Record<'_>,
    ) -> Step {
        let Some(shadow) = &self.ledger else {
            return Step::Go(None, None);
        };
        let intent = match policy.action {
            None => return Step::Go(None, None),
            Some(Action::Ack | Action::Reject) => Intent::Hold,
            Some(Action::Pass | Action::Translate(_)) => Intent::Deliver,
        };
        let (read, copy) = match at_handler(route, verified, &policy.version) {
            None => return Step::Go(None, None),
            Some(Reading::Aside(parsed)) => return Step::Go(None, Some(parsed)),
            Some(Reading::Copy(read, copy)) => (read, copy),
        };
        // What decide would fill: an answer given here is counted and logged like any other.
        let sent_type = route.provider.event_type_of(&read.envelope);
        record.event_type = route.event_types.label(sent_type.unwrap_or_default());
        record.event_id = Some(super::record::loggable_id(&copy.event_id));
        let ledger = shadow.ledger();
        let key = Key {
            route: route.name.clone(),
            identity: copy.identity.key.clone(),
        };
        let version = policy.version.as_str();
        let decided = ledger
            .decide(
                &key,
                Copy {
                    event_type: &copy.identity.event_type,
                    version,
                    event_id: &copy.event_id,
                    digest: copy.digest,
                    intent,
                    claim_ms: route.downstream.timeout.as_millis() as u64 + CLAIM_SLACK_MS,
                },
            )
            .await;
        let (decision, placed) = match decided {
            Ok(decided) => decided,
            Err(error) => {
                ledger.note_failure("claim", &error);
                crate::metrics::record_shadow_skipped(&route.name, "ledger_error");
                // A delivery goes on as without a ledger (at worst a duplicate). An ack does not: an
                // acknowledged copy the ledger never heard of strands its event once the next stage
                // rejects the twin, so it is answered 503 and comes back when the ledger answers.
                // A rejection is retried by the sender anyway.
                return if matches!(policy.action, Some(Action::Ack)) {
                    Step::Answer(Err(ProxyError::LedgerUnavailable))
                } else {
                    Step::Go(None, Some(read.into_parsed()))
                };
            }
        };
        // A copy kept by its signed id has no twin to be compared with.
        let offered = copy.declared && shadow.offers(&route.name, copy.translated);
        if let Some(placed) = placed.filter(|_| offered) {
            shadow.offer(
                &route.name,
                Offered {
                    key: key.shadow(placed.occurrence),
                    event_type: copy.identity.event_type.clone(),
                    version: version.to_owned(),
                    event_id: copy.event_id.clone(),
                    fingerprint: shadow.fingerprint(&read.event),
                    translated: copy.translated,
                    expected: copy.expected,
                },
            );
        }
        let event_id = copy.event_id;
        let claimed = move |token| Claimed {
            key,
            placed: placed.expect("a claim is placed in an occurrence"),
            token,
            version: version.to_owned(),
            event_id,
        };
        step_of(&route.name, decision, intent, claimed, read)
    }
}

/// The stage's answer to the ledger's decision on a copy: `claimed` makes the claim a delivery
/// settles; `read` is the copy at the handler's version.
fn step_of(
    route: &str,
    decision: Decision,
    intent: Intent,
    claimed: impl FnOnce(String) -> Claimed,
    read: Read,
) -> Step {
    let translated = read.translation.is_some();
    match decision {
        Decision::Policy => Step::Go(None, Some(read.into_parsed())),
        Decision::Deliver { token, again } => {
            if again {
                crate::metrics::record_uncertain_delivery(route, "ambiguous_twin");
            }
            Step::Go(Some(claimed(token)), Some(read.into_parsed()))
        }
        Decision::DeliverForTwin { token, again } => {
            if again {
                crate::metrics::record_uncertain_delivery(route, "ambiguous_twin");
            }
            Step::DeliverAnyway(
                Some(claimed(token)),
                read.event,
                translated,
                Outcome::DeliveredForTwin,
            )
        }
        Decision::Untracked => {
            crate::metrics::record_uncertain_delivery(route, "occurrence_limit");
            match intent {
                Intent::Deliver => Step::Go(None, Some(read.into_parsed())),
                Intent::Hold => {
                    Step::DeliverAnyway(None, read.event, translated, Outcome::Delivered)
                }
            }
        }
        Decision::Duplicate => Step::Answer(Ok(Done::ok(Outcome::Duplicate, "duplicate"))),
        Decision::InFlight => Step::Answer(Err(ProxyError::TwinInFlight)),
    }
}

/// A copy read at the handler's version.
struct Read {
    /// The envelope of the body as received.
    envelope: Envelope,
    /// The event at the handler's version: as received, or translated.
    event: Value,
    /// When translated: the fields the translation dropped, and how long it took.
    translation: Option<(Vec<String>, std::time::Duration)>,
}

impl Read {
    /// What decide and translate go on with.
    fn into_parsed(self) -> Parsed {
        let tree = match self.translation {
            None => Tree::Received(self.event),
            Some((unmapped_fields, took)) => Tree::Translated {
                result: Ok(Translated {
                    event: self.event,
                    unmapped_fields,
                }),
                took,
            },
        };
        Parsed {
            envelope: self.envelope,
            tree,
        }
    }
}

/// What the stage read of a body it parsed.
enum Reading {
    /// A copy the ledger takes, at the handler's version.
    Copy(Read, AtHandler),
    /// A copy the ledger steps aside for, as parsed (and translated, or failed to).
    Aside(Parsed),
}

/// The copy at the handler's version with what the ledger needs of it, or the parsed body the ledger
/// steps aside for: no identity declared or found (and, for a provider that signs the event's id, no
/// id to keep it by), a signed-URL payload, or a translation that failed (translate reports it).
/// `None` (nothing parsed) for a body over [`MAX_LEDGER_BODY`], a route whose handler's version
/// declares no identity, or a body decide will refuse (its to report).
fn at_handler(route: &Route, verified: &Verified, version: &str) -> Option<Reading> {
    let handler = route.downstream.version.as_str();
    let keyed_by_id = route.provider.event_id_is_signed();
    if (route.mappings.identities().event_types(handler).is_empty() && !keyed_by_id)
        || verified.body().len() > MAX_LEDGER_BODY
    {
        return None;
    }
    let received = crate::json::parse(verified.body()).ok()?;
    let envelope = Provider::envelope_of(&received);
    let event_id = route
        .provider
        .event_id(verified, &received)
        .unwrap_or_default()
        .to_owned();
    let delivery = Delivery {
        timestamp: verified.timestamp(),
    };
    let aside = |envelope, tree| Some(Reading::Aside(Parsed { envelope, tree }));
    let read = if version == handler {
        Read {
            envelope,
            event: received,
            translation: None,
        }
    } else {
        let plan = match route.mappings.plan(version, handler) {
            Ok(plan) if !super::translate::payload_elsewhere(route, &received) => plan,
            _ => return aside(envelope, Tree::Received(received)),
        };
        let started = Instant::now();
        let result = crate::mapping::translate_reporting(plan, received, &delivery);
        let took = started.elapsed();
        match result {
            Ok(Translated {
                event,
                unmapped_fields,
            }) => Read {
                envelope,
                event,
                translation: Some((unmapped_fields, took)),
            },
            Err(error) => {
                let result = Err(error);
                return aside(envelope, Tree::Translated { result, took });
            }
        }
    };
    let others: Vec<&str> = route.policy_versions().filter(|v| *v != handler).collect();
    let sent = Sent {
        version,
        event_id,
        event: &read.event,
        delivery,
    };
    match AtHandler::read(&route.mappings, route.provider, handler, &others, sent) {
        Some(copy) => Some(Reading::Copy(read, copy)),
        None => Some(Reading::Aside(read.into_parsed())),
    }
}

/// The outgoing event of a copy delivered although its policy says ack or reject (for its twin, or
/// past the ledger's bound): its exact bytes in the handler's version, or its translation.
pub(super) fn anyway(
    route: &Route,
    verified: Verified,
    held: BudgetPermit,
    at_handler: Value,
    translated: bool,
    outcome: Outcome,
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
        outcome,
        held,
    }
}
