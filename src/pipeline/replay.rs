//! A quarantined event delivered again (`hookshift quarantine replay`), through the exactly-once unit
//! live copies go through ([`Pipeline::once`]): claimed in the ledger like a live copy whose policy
//! says forward, its signed-URL payload fetched, translated with the mappings as they are now and the
//! delivery time it was received with, checked against the schemas (`validate_output`), re-signed
//! under its original event id, delivered, and its claim settled. The handler's 2xx removes it from
//! the quarantine; so does finding it delivered already (its twin came through meanwhile). Anything
//! else keeps it, with the reason.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};

use super::budget::BodyBudget;
use super::drift::Scanner;
use super::once::{Course, Source};
use super::policy::Policy;
use super::receive::Authentic;
use super::record::Record;
use super::{Done, Handover, Pipeline};
use crate::ledger::quarantine::Quarantined;
use crate::ledger::stage::Shadow;
use crate::ledger::Ledger;
use crate::metrics::Outcome;
use crate::outbound::deliver::Deliverer;
use crate::outbound::fetch::Fetcher;
use crate::pipeline::error::ProxyError;
use crate::provider::Verified;
use crate::reload::Shared;
use crate::route::{Action, Route};
use crate::state::State;

/// What became of one replayed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// Delivered (2xx) and removed.
    Delivered,
    /// Its event was delivered already (its twin): removed without a delivery.
    Duplicate,
    /// A dry run: it would be delivered.
    WouldDeliver,
    /// Still not deliverable: why (kept).
    Kept(String),
}

impl Pipeline {
    /// A pipeline that replays quarantined events, over `state` and its open `ledger`. It serves no
    /// request and keeps no background work: the `observe` output check runs inline, and the ledger's
    /// upkeep is left to the servers.
    pub fn for_replay(state: State, ledger: Arc<Ledger>) -> Pipeline {
        let budget = BodyBudget::new(state.config.server.max_buffered_bytes);
        Pipeline {
            shared: Arc::new(Shared::new(state)),
            deliverer: Deliverer::new(),
            fetcher: Fetcher::new(),
            clock: super::system_clock,
            budget,
            scanner: Scanner::start(0),
            ledger: Some(Arc::new(Shadow::new(ledger))),
            history: None,
        }
    }

    /// Replays one quarantined event (`dry_run`: translates and checks it, claims and delivers
    /// nothing, removes nothing).
    pub async fn replay(&self, item: &Quarantined, dry_run: bool) -> Replayed {
        let state = self.shared.load();
        let Some(route) = state.routes.iter().find(|r| r.name == item.route) else {
            return Replayed::Kept(format!(
                "no route named {:?} in the configuration",
                item.route
            ));
        };
        let Some(shadow) = &self.ledger else {
            return Replayed::Kept("the ledger is off".to_owned());
        };
        let body = match shadow.ledger().store().quarantine_body(&item.id).await {
            Ok(Some(body)) => Bytes::from(body),
            Ok(None) => return Replayed::Kept("removed meanwhile".to_owned()),
            Err(e) => return Replayed::Kept(e.to_string()),
        };
        let action = match forward_action(route, &item.version) {
            Ok(action) => action,
            Err(why) => return Replayed::Kept(why),
        };
        let policy = Policy::forward(route, &item.version, &action);
        let Some(held) = self.budget.try_reserve(body.len() as u64) else {
            return Replayed::Kept(
                ProxyError::Overloaded(crate::metrics::ShedReason::DeclaredBody).to_string(),
            );
        };
        let signed_id = route
            .provider
            .event_id_is_signed()
            .then(|| item.event_id.clone());
        let authentic = Authentic {
            verified: Verified::kept(body, item.timestamp, signed_id),
            held,
        };
        let inbound = inbound_headers(route, &item.event_id);
        let course = Course {
            route,
            policy: &policy,
            inbound: &inbound,
            source: if dry_run {
                Source::DryRun
            } else {
                Source::Replay
            },
        };
        // The stages report into a record that is never finished: a replay is not counted nor logged
        // as a request (the command reports each replay, and counts it in the ledger).
        let mut record = Record::start(route, &policy);
        let result = self.once(&state, &course, authentic, &mut record).await;
        self.settle_replay(item, result).await
    }

    /// What the unit's answer means for the quarantined event: removed once the handler took it (or
    /// its twin was delivered), kept otherwise.
    async fn settle_replay(
        &self,
        item: &Quarantined,
        result: Result<Done, ProxyError>,
    ) -> Replayed {
        let replayed = match result {
            Err(e) => return Replayed::Kept(e.to_string()),
            Ok(done) => match (done.handover, done.outcome) {
                (Handover::DryRun, _) => return Replayed::WouldDeliver,
                (Handover::Taken, _) => Replayed::Delivered,
                (Handover::No, Outcome::Duplicate) => Replayed::Duplicate,
                (Handover::No, outcome) => {
                    return Replayed::Kept(format!(
                        "not delivered: the route answers it without a delivery ({})",
                        outcome.as_str()
                    ))
                }
            },
        };
        let Some(shadow) = &self.ledger else {
            return replayed;
        };
        match shadow.ledger().store().quarantine_remove(&item.id).await {
            Ok(_) => replayed,
            Err(e) => Replayed::Kept(format!("delivered, but not removed: {e}")),
        }
    }
}

/// How an event from `version` reaches the route's handler: as received in the handler's version,
/// else along the plan of the mappings as they are now (the fix replay exists for), whatever the
/// route's policy says of `version` today: the event was accepted for delivery when it was kept.
fn forward_action(route: &Route, version: &str) -> Result<Action, String> {
    let handler = route.downstream.version.as_str();
    if version == handler {
        return Ok(Action::Pass);
    }
    route
        .mappings
        .plan(version, handler)
        .map(|plan| Action::Translate(plan.clone()))
        .map_err(|e| e.to_string())
}

/// The headers a replayed delivery is signed from: its original event id (Standard Webhooks'
/// `webhook-id`, the handler's deduplication key), not a new one, and a JSON body.
fn inbound_headers(route: &Route, event_id: &str) -> HeaderMap {
    let mut inbound = route.provider.id_headers(event_id);
    inbound.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    inbound
}
