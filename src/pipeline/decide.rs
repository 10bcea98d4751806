//! Stage `decide`: read the verified body as an event of the route's provider (once) and apply the
//! sending version's compiled action.

use bytes::Bytes;

use super::receive::Authentic;
use super::record::{loggable_id, Record};
use super::{shed, Done};
use crate::budget::{self, BudgetPermit};
use crate::error::ProxyError;
use crate::json::Value;
use crate::mapping::Plan;
use crate::metrics::{Outcome, ShedReason};
use crate::provider::{Provider, Verified};
use crate::route::{Action, Route};

/// A verified event the route goes on with.
pub(super) struct Event {
    pub verified: Verified,
    pub held: BudgetPermit,
    /// The parsed tree: built only for an event to translate.
    pub tree: Option<Value>,
    /// The event type as sent (the provider's member: `eventType`, `type`).
    pub event_type: String,
}

impl Event {
    /// The exact bytes received.
    pub fn body(&self) -> &Bytes {
        self.verified.body()
    }
}

/// What the route does with the event.
pub(super) enum Decided<'r> {
    /// Answered without delivering (`ack`).
    Answer(Done),
    /// Delivered as received (the handler's version).
    Pass(Event),
    /// Translated along the plan, then delivered.
    Translate(Event, &'r Plan),
}

/// Parses the body (a tree only when it is to be translated), checks the provider's envelope, fills
/// the record's event type and id, and applies the version's action: `ack` answers 200, `reject` and
/// a version without policy answer 400.
pub(super) fn decide<'r>(
    route: &'r Route,
    authentic: Authentic,
    record: &mut Record<'r>,
) -> Result<Decided<'r>, ProxyError> {
    let Authentic { verified, mut held } = authentic;
    let action = record.action;
    let translating = matches!(action, Some(Action::Translate(_)));
    if translating && !held.try_grow(budget::TRANSLATION_FACTOR * verified.body().len() as u64) {
        return Err(shed(route, ShedReason::Translation));
    }
    let (tree, event_type, event_id) = parse_event(&verified, route.provider, translating)?;
    record.event_type = route.event_types.label(&event_type);
    record.event_id = event_id.as_deref().map(loggable_id);
    let event = |tree| Event {
        verified,
        held,
        tree,
        event_type,
    };
    match action {
        None => Err(ProxyError::UnknownVersion {
            version: record.version.clone(),
        }),
        Some(Action::Ack) => Ok(Decided::Answer(Done::ok(Outcome::Acked, "acked"))),
        Some(Action::Reject) => Err(ProxyError::Rejected {
            version: record.version.clone(),
        }),
        Some(Action::Pass) => Ok(Decided::Pass(event(None))),
        Some(Action::Translate(plan)) => Ok(Decided::Translate(event(tree), plan)),
    }
}

/// Parses a verified body and checks it is an event of `provider` (400 `not_an_event` naming the
/// hole when not).
///
/// Only an event that will be translated needs its tree (`keep_tree`); the others are checked just as
/// strictly by [`crate::json::scan`], which applies the same rules and gives the same errors without
/// building it. Also returns the event type and the event's id ([`Provider::event_id`]) when a string.
fn parse_event(
    verified: &Verified,
    provider: Provider,
    keep_tree: bool,
) -> Result<(Option<Value>, String, Option<String>), ProxyError> {
    let invalid = |e: crate::json::JsonError| ProxyError::InvalidJson(e.to_string());
    let (tree, envelope) = if keep_tree {
        let tree = crate::json::parse(verified.body()).map_err(invalid)?;
        let envelope = Provider::envelope_of(&tree);
        (Some(tree), envelope)
    } else {
        (None, crate::json::scan(verified.body()).map_err(invalid)?)
    };
    provider
        .check_envelope(&envelope)
        .map_err(|e| ProxyError::NotAnEvent(e.to_string()))?;
    let event_type = provider
        .event_type_of(&envelope)
        .unwrap_or_default()
        .to_owned();
    let event_id = provider.event_id_of(verified, &envelope).map(str::to_owned);
    Ok((tree, event_type, event_id))
}
