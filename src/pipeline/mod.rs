//! The webhook request path, as a list of stages:
//!
//! ```text
//! policy -> receive -> verify -> twins -> decide -> translate -> sign -> deliver -> settle -> record
//! ```
//!
//! Each stage is a function from the previous stage's value to the next one; a stage may also end the
//! request early with an answer (`Done`) or an error (`ProxyError`, mapped to HTTP in
//! `crate::pipeline::error`). `policy` resolves the sending version and what the route does with it
//! from the request line; `twins` claims the event in the ledger; `decide` applies the policy;
//! `translate` fetches a signed-URL payload, translates and checks the output against the schemas;
//! `settle` marks the claim delivered or releases it. Each stage parses or translates at most once,
//! handing on what it read. What the last stage needs (labels, event id, handler status) is collected
//! on the way in one `Record`, which counts the request and writes its one log line at the end: it
//! records what the stages report and decides nothing.
//!
//! Exactly once is one unit, `twins -> decide -> translate -> sign -> deliver -> settle` (or quarantine
//! on a failed translation), in `once.rs`: live requests run it after `verify`, and
//! `hookshift quarantine replay` runs a quarantined event through it ([`Pipeline::replay`]), so a
//! replayed event is fetched, translated, checked, signed, delivered and settled as a live copy is.
//!
//! Each request takes a snapshot of the running [`State`] when it starts and uses it to the end, so a
//! reload never changes the rules under a request in flight.

pub mod budget;
mod decide;
mod deliver;
pub mod drift;
pub mod error;
mod once;
pub mod output_check;
mod policy;
mod receive;
mod record;
pub mod replay;
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

use once::{Course, Source};
use policy::Policy;
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
    /// Whether the handler took the event.
    handover: Handover,
}

/// Whether an event that ended well reached the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handover {
    /// Answered without a delivery (an ack, a duplicate, a quarantine).
    No,
    /// The handler answered 2xx.
    Taken,
    /// A dry run: it would have been delivered.
    DryRun,
}

impl Done {
    /// A 200 `{"status": status}` counted as `outcome`, nothing delivered.
    fn ok(outcome: Outcome, status: &str) -> Done {
        Done {
            outcome,
            response: json_response(StatusCode::OK, &serde_json::json!({ "status": status })),
            handover: Handover::No,
        }
    }

    /// The handler took the event (its 2xx): 200 `delivered`, counted as `outcome`.
    fn delivered(outcome: Outcome) -> Done {
        Done {
            handover: Handover::Taken,
            ..Done::ok(outcome, "delivered")
        }
    }

    /// A dry run's event that would be delivered.
    fn would_deliver(outcome: Outcome) -> Done {
        Done {
            handover: Handover::DryRun,
            ..Done::ok(outcome, "would_deliver")
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

    /// Turns true once the ledger file is closed: every pipeline holding it dropped and its queued
    /// writes written (none without a ledger file).
    pub fn ledger_closed(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        self.ledger
            .as_ref()
            .and_then(|shadow| shadow.ledger().closed())
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
        let policy = Policy::of_request(route, request.uri().query());
        let mut record = Record::start(route, &policy);
        let result = self.run(&state, route, &policy, request, &mut record).await;
        record.finish(result, self.history.as_deref())
    }

    /// The stages of one request, in order: the exactly-once unit once the body is verified.
    async fn run<B>(
        &self,
        state: &State,
        route: &Route,
        policy: &Policy<'_>,
        request: Request<B>,
        record: &mut Record<'_>,
    ) -> Result<Done, ProxyError>
    where
        B: Body<Data = Bytes> + Unpin + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        let received = self.receive(state, route, &parts, body).await?;
        let verified = receive::verify(route, &parts.headers, received, (self.clock)())?;
        let course = Course {
            route,
            policy,
            inbound: &parts.headers,
            source: Source::Live,
        };
        self.once(state, &course, verified, record).await
    }
}
