//! The webhook request path, as a list of stages:
//!
//! ```text
//! receive -> verify -> decide -> translate -> sign -> deliver -> record
//! ```
//!
//! Each stage is a function from the previous stage's value to the next one (`receive`,
//! `decide`, `translate`, `deliver`); a stage may also end the request early with an answer
//! (`Done`) or an error (`ProxyError`, mapped to HTTP in `crate::pipeline::error`). What the last stage
//! needs (labels, event id, handler status) is collected on the way in one `Record`, which counts
//! the request and writes its one log line at the end. Adding a stage is adding one line to
//! `Pipeline::run` and, when it reports something, one field to `Record`.
//!
//! Each request takes a snapshot of the running [`State`] when it starts and uses it to the end, so a
//! reload never changes the rules under a request in flight.

pub mod budget;
mod decide;
mod deliver;
pub mod drift;
pub mod error;
pub mod output_check;
mod receive;
mod record;
mod translate;
mod twins;

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;

use crate::metrics::Outcome;
use crate::outbound::deliver::Deliverer;
use crate::outbound::fetch::Fetcher;
use crate::pipeline::drift::Scanner;
use crate::pipeline::error::{json_response, ProxyError};
use crate::reload::Shared;
use crate::route::Route;
use crate::state::State;
use budget::BodyBudget;

use decide::Decided;
use record::Record;

pub use crate::clock::{system_clock, Clock};

/// Handles webhook requests against the running state.
#[derive(Debug, Clone)]
pub struct Pipeline {
    shared: Arc<Shared>,
    deliverer: Deliverer,
    fetcher: Fetcher,
    clock: Clock,
    /// Shared by every request: bounds the bodies held in memory (`server.max_buffered_bytes`).
    budget: Arc<BodyBudget>,
    /// Counts the unknown fields translated events carry, in the background.
    scanner: Scanner,
    /// The ledger's twin pairing and exactly-once claims (`[ledger]`; none when off or unavailable).
    ledger: Option<Arc<crate::ledger::stage::Shadow>>,
    /// History hook: the counters `hookshift status` reads (none when the ledger is off).
    history: Option<Arc<crate::ledger::history::Recorder>>,
}

/// A request that ended well for the sender (2xx).
#[derive(Debug)]
pub(crate) struct Done {
    outcome: Outcome,
    response: Response<Full<Bytes>>,
}

impl Done {
    /// A 200 `{"status": status}` counted as `outcome`.
    fn ok(outcome: Outcome, status: &str) -> Done {
        Done {
            outcome,
            response: json_response(StatusCode::OK, &serde_json::json!({ "status": status })),
        }
    }
}

impl Pipeline {
    /// A pipeline over `shared` using the system clock.
    pub fn new(shared: Arc<Shared>) -> Pipeline {
        Pipeline::with_clock(shared, system_clock)
    }

    /// A pipeline over `shared` reading the time from `clock`.
    pub fn with_clock(shared: Arc<Shared>, clock: Clock) -> Pipeline {
        let state = shared.load();
        let budget = BodyBudget::new(state.config.server.max_buffered_bytes);
        // The queue is sized once; a reload changing `schemas.scan_queue` takes effect on restart.
        let scanner = Scanner::start(state.config.schemas.scan_queue);
        // Opened once: `[ledger]` is not reloadable.
        let ledger = twins::open(&state);
        drop(state);
        Pipeline {
            shared,
            deliverer: Deliverer::new(),
            fetcher: Fetcher::new(),
            clock,
            budget,
            scanner,
            ledger,
            history: None,
        }
    }

    /// History hook: counts every request, pair result and problem in `history` from now on.
    pub fn with_history(mut self, history: Arc<crate::ledger::history::Recorder>) -> Pipeline {
        if let Some(shadow) = &self.ledger {
            shadow.ledger().set_history(Arc::clone(&history));
        }
        self.history = Some(history);
        self
    }

    /// A pipeline for one server worker: the same state, body budget and scanner, but connection
    /// pools of its own to handlers and signed-URL hosts, whose connections then live on the worker's
    /// runtime instead of handing every delivery to another thread.
    pub fn for_worker(&self) -> Pipeline {
        Pipeline {
            deliverer: Deliverer::new(),
            fetcher: Fetcher::new(),
            ..self.clone()
        }
    }

    /// Handles one request; never fails (errors become responses).
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body<Data = Bytes> + Unpin + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let state = self.shared.load();
        let Some(route) = state.route(request.uri().path()) else {
            let (parts, body) = request.into_parts();
            if budget::should_linger(&parts, &body) {
                budget::linger(body);
            }
            return ProxyError::NoRoute.to_response();
        };
        let mut record = Record::start(route, request.uri().query());
        let result = self.run(&state, route, request, &mut record).await;
        record.finish(result, self.history.as_deref())
    }

    /// The stages of one request, in order.
    async fn run<'r, B>(
        &self,
        state: &State,
        route: &'r Route,
        request: Request<B>,
        record: &mut Record<'r>,
    ) -> Result<Done, ProxyError>
    where
        B: Body<Data = Bytes> + Unpin + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        let received = self.receive(state, route, &parts, body).await?;
        let verified = receive::verify(route, &parts.headers, received, (self.clock)())?;
        let (claimed, parsed) = match self.twins(route, &verified.verified, record).await {
            twins::Step::Go(claimed, parsed) => (claimed, parsed),
            twins::Step::Answer(answer) => return answer,
            twins::Step::DeliverAnyway(claimed, event, translated, outcome) => {
                let receive::Authentic { verified, held } = verified;
                let outgoing =
                    twins::anyway(route, verified, held, event, translated, outcome, record);
                let signed = deliver::sign(route, &parts.headers, outgoing, (self.clock)());
                let result = self.deliver(route, signed, record).await;
                return self.settle(claimed, result).await;
            }
        };
        let result = self
            .proceed(state, route, &parts, verified, parsed, record)
            .await;
        self.settle(claimed, result).await
    }

    /// The stages after `twins`: decide, translate, sign, deliver; `parsed`: what `twins` read of
    /// the body, which they do not read again.
    async fn proceed<'r>(
        &self,
        state: &State,
        route: &'r Route,
        parts: &http::request::Parts,
        verified: receive::Authentic,
        parsed: Option<decide::Parsed>,
        record: &mut Record<'r>,
    ) -> Result<Done, ProxyError> {
        let outgoing = match decide::decide(route, verified, parsed, record)? {
            Decided::Answer(done) => return Ok(done),
            Decided::Pass(event) => translate::as_received(event),
            Decided::Translate(event, plan) => {
                let kept = self.quarantine_candidate(route, &event, record);
                match self.translate(state, route, event, plan, record).await {
                    Ok(translate::Translated::Answer(done)) => return Ok(done),
                    Ok(translate::Translated::Deliver(outgoing)) => outgoing,
                    Err(ProxyError::TranslationFailed(reason)) if kept.is_some() => {
                        return self.quarantine(route, kept, reason).await
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let signed = deliver::sign(route, &parts.headers, outgoing, (self.clock)());
        self.deliver(route, signed, record).await
    }
}
