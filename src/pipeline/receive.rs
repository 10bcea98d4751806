//! Stages `receive` and `verify`: admit and read a request's body within the limits and the body
//! budget, then check its signature.

use bytes::Bytes;
use http::{request::Parts, HeaderMap};
use hyper::body::Body;

use super::budget::shed;
use super::Pipeline;
use crate::metrics::ShedReason;
use crate::pipeline::budget::{self, BudgetPermit, ReadError};
use crate::pipeline::error::ProxyError;
use crate::provider::{self, Verified};
use crate::route::Route;
use crate::state::State;

/// A body read in full, held in the budget.
pub(super) struct Received {
    pub body: Bytes,
    /// Accounts the body (and later its translation) until the request ends.
    pub held: BudgetPermit,
}

/// A body whose signature held, still in the budget.
pub(super) struct Authentic {
    pub verified: Verified,
    pub held: BudgetPermit,
}

impl Pipeline {
    /// Admits and reads a request's body. What the head tells is judged first, before any body byte is
    /// read: the method, a declared length over `server.max_body_bytes`, the signature headers and their
    /// timestamp. Then the declared length is reserved in the body budget (503 when it does not fit) and
    /// the body read into it. After a refusal the rest of the body is drained ([`budget::linger`]) so
    /// that the client reads the answer instead of a reset.
    pub(super) async fn receive<B>(
        &self,
        state: &State,
        route: &Route,
        parts: &Parts,
        mut body: B,
    ) -> Result<Received, ProxyError>
    where
        B: Body<Data = Bytes> + Unpin + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let received = self.admit_and_read(state, route, parts, &mut body).await;
        if received.is_err() && budget::should_linger(parts, &body) {
            budget::linger(body);
        }
        received
    }

    async fn admit_and_read<B>(
        &self,
        state: &State,
        route: &Route,
        parts: &Parts,
        body: &mut B,
    ) -> Result<Received, ProxyError>
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if parts.method != http::Method::POST {
            return Err(ProxyError::MethodNotAllowed);
        }
        let server = &state.config.server;
        let limit = server.max_body_bytes;
        let declared = budget::declared_length(&parts.headers);
        if declared.is_some_and(|length| length > limit) {
            return Err(ProxyError::TooLarge { limit });
        }
        provider::check_head(route.verify_params((self.clock)()), &parts.headers)?;
        // The limit follows reloads; bytes already held stay held.
        self.budget.set_limit(server.max_buffered_bytes);
        let Some(mut held) = self.budget.try_reserve(declared.unwrap_or(0)) else {
            return Err(shed(route, ShedReason::DeclaredBody));
        };
        match budget::read_body(
            body,
            declared,
            limit,
            server.body_read_timeout_ms,
            &mut held,
        )
        .await
        {
            Ok(body) => Ok(Received { body, held }),
            Err(ReadError::OverBudget(reason)) => Err(shed(route, reason)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Checks the signature of a received body against the route's secrets at `now` (401 otherwise).
pub(super) fn verify(
    route: &Route,
    headers: &HeaderMap,
    received: Received,
    now: i64,
) -> Result<Authentic, ProxyError> {
    let verified = provider::verify(route.verify_params(now), headers, received.body)?;
    Ok(Authentic {
        verified,
        held: received.held,
    })
}
