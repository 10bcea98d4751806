//! Stages `sign` and `deliver`: the outgoing bytes get the provider's headers and a fresh signature
//! with the handler's secret, then are POSTed to the handler. Its 2xx becomes 200, anything else 502,
//! a missed deadline 504.

use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;

use super::record::Record;
use super::translate::Outgoing;
use super::{Done, Pipeline};
use crate::metrics::{Outcome, StatusClass};
use crate::outbound::deliver::{DeliveryError, Outbound};
use crate::pipeline::budget::BudgetPermit;
use crate::pipeline::error::ProxyError;
use crate::route::Route;

/// A signed delivery, ready to post.
pub(super) struct Signed {
    headers: HeaderMap,
    body: Bytes,
    outcome: Outcome,
    /// Released once the handler answered.
    _held: BudgetPermit,
}

/// Signs an outgoing event for the route's handler at `now`.
pub(super) fn sign(route: &Route, inbound: &HeaderMap, outgoing: Outgoing, now: i64) -> Signed {
    let translated = outgoing.translated.then_some((
        outgoing.event_type.as_str(),
        route.downstream.version.as_str(),
    ));
    let headers = route.provider.outbound_headers(
        inbound,
        &outgoing.body,
        &route.downstream.secret,
        now,
        translated,
    );
    Signed {
        headers,
        body: outgoing.body,
        outcome: outgoing.outcome,
        _held: outgoing.held,
    }
}

impl Pipeline {
    pub(super) async fn deliver(
        &self,
        route: &Route,
        signed: Signed,
        record: &mut Record<'_>,
    ) -> Result<Done, ProxyError> {
        let downstream = &route.downstream;
        let started = Instant::now();
        let delivered = self
            .deliverer
            .deliver(Outbound {
                url: downstream.url.clone(),
                headers: signed.headers,
                body: signed.body,
                timeout: downstream.timeout,
                trust: downstream.trust.clone(),
            })
            .await;
        let seconds = started.elapsed().as_secs_f64();
        match delivered {
            Ok(status) => {
                route.metrics.delivery(StatusClass::of(status), seconds);
                record.downstream_status = Some(status.as_u16());
                Ok(Done::delivered(signed.outcome))
            }
            Err(e) => {
                route.metrics.delivery(e.status_class(), seconds);
                Err(match e {
                    DeliveryError::Status(status) => {
                        record.downstream_status = Some(status.as_u16());
                        ProxyError::DownstreamStatus(status)
                    }
                    DeliveryError::Timeout(_) => ProxyError::DownstreamTimeout {
                        ms: downstream.timeout.as_millis() as u64,
                    },
                    DeliveryError::Connection(message) => {
                        ProxyError::DownstreamUnreachable(message)
                    }
                })
            }
        }
    }
}
