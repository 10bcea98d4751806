//! Stage `decide`: read the verified body as an event of the route's provider (once: from what the
//! `twins` stage parsed, when it did) and apply the sending version's compiled action.

use std::time::Duration;

use bytes::Bytes;

use super::budget::shed;
use super::policy::Policy;
use super::receive::Authentic;
use super::record::{loggable_id, Record};
use super::Done;
use crate::json::{Envelope, Value};
use crate::mapping::{Plan, TranslateError, Translated};
use crate::metrics::{Outcome, ShedReason};
use crate::pipeline::budget::{self, BudgetPermit};
use crate::pipeline::error::ProxyError;
use crate::provider::{Provider, Verified};
use crate::route::{Action, Route};

/// A verified event the route goes on with.
pub(super) struct Event {
    pub verified: Verified,
    pub held: BudgetPermit,
    /// The parsed tree (or its translation): kept only for an event to translate.
    pub tree: Option<Tree>,
    /// The event type as sent (the provider's member: `eventType`, `type`).
    pub event_type: String,
}

impl Event {
    /// The exact bytes received.
    pub fn body(&self) -> &Bytes {
        self.verified.body()
    }
}

/// A parsed event on its way to translation.
pub(super) enum Tree {
    /// As received: translate resolves a signed-URL payload, then translates.
    Received(Value),
    /// Translated along the route's plan already (by the `twins` stage, which read the copy at the
    /// handler's version), in `took`; or the translation's failure, which translate reports as its own.
    Translated {
        result: Result<Translated, TranslateError>,
        took: Duration,
    },
}

/// A body an earlier stage parsed: its envelope and its tree (or the tree's translation).
pub(super) struct Parsed {
    pub envelope: Envelope,
    pub tree: Tree,
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

/// Parses the body (a tree only when it is to be translated) unless `parsed` already holds it, checks
/// the provider's envelope, fills the record's event type and id, and applies the action the `policy`
/// stage resolved: `ack` answers 200, `reject` and a version without policy answer 400.
pub(super) fn decide<'r>(
    route: &Route,
    policy: &Policy<'r>,
    authentic: Authentic,
    parsed: Option<Parsed>,
    record: &mut Record<'_>,
) -> Result<Decided<'r>, ProxyError> {
    let Authentic { verified, mut held } = authentic;
    let action = policy.action;
    let translating = matches!(action, Some(Action::Translate(_)));
    if translating && !held.try_grow(budget::TRANSLATION_FACTOR * verified.body().len() as u64) {
        return Err(shed(route, ShedReason::Translation));
    }
    let (tree, envelope) = match parsed {
        Some(Parsed { envelope, tree }) => (translating.then_some(tree), envelope),
        None => parse_event(&verified, translating)?,
    };
    let (event_type, event_id) = read_envelope(&verified, route.provider, &envelope)?;
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
            version: policy.version.clone(),
        }),
        Some(Action::Ack) => Ok(Decided::Answer(Done::ok(Outcome::Acked, "acked"))),
        Some(Action::Reject) => Err(ProxyError::Rejected {
            version: policy.version.clone(),
        }),
        Some(Action::Pass) => Ok(Decided::Pass(event(None))),
        Some(Action::Translate(plan)) => Ok(Decided::Translate(event(tree), plan)),
    }
}

/// Parses a verified body: its tree when `keep_tree` (an event that will be translated), and its
/// envelope. The others are checked just as strictly by [`crate::json::scan`], which applies the same
/// rules and gives the same errors without building the tree.
fn parse_event(
    verified: &Verified,
    keep_tree: bool,
) -> Result<(Option<Tree>, Envelope), ProxyError> {
    let invalid = |e: crate::json::JsonError| ProxyError::InvalidJson(e.to_string());
    if keep_tree {
        let tree = crate::json::parse(verified.body()).map_err(invalid)?;
        let envelope = Provider::envelope_of(&tree);
        Ok((Some(Tree::Received(tree)), envelope))
    } else {
        Ok((None, crate::json::scan(verified.body()).map_err(invalid)?))
    }
}

/// Checks an envelope is an event of `provider` (400 `not_an_event` naming the hole when not); its
/// event type, and the event's id ([`Provider::event_id`]) when a string.
fn read_envelope(
    verified: &Verified,
    provider: Provider,
    envelope: &Envelope,
) -> Result<(String, Option<String>), ProxyError> {
    provider
        .check_envelope(envelope)
        .map_err(|e| ProxyError::NotAnEvent(e.to_string()))?;
    let event_type = provider
        .event_type_of(envelope)
        .unwrap_or_default()
        .to_owned();
    let event_id = provider.event_id_of(verified, envelope).map(str::to_owned);
    Ok((event_type, event_id))
}
