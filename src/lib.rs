//! hookshift: a reverse proxy for webhook API-version migrations.
//!
//! It receives a provider's webhooks (Extend, Plextera, Standard Webhooks senders), verifies their
//! signature, applies the migration stage's policy for the sending API version, translates the event
//! to the version the handler speaks with declarative mapping files, re-signs it with the handler's
//! secret and delivers it.
//!
//! # Layout
//!
//! The request path:
//!
//! - [`pipeline`]: the stages of a request (receive → verify → decide → translate → sign → deliver →
//!   record), one file each; [`pipeline::Pipeline::handle`] lists them.
//! - `route`: a `[[routes]]` table compiled once per loaded state: per sending version an action
//!   (ack, reject, pass, translate with its plan), the handler, resolved metric labels and handles
//!   (every per-route series registered at zero).
//! - [`provider`]: what each sender's webhooks look like: signature scheme ([`provider::signature`]),
//!   envelope and payload member, delivery headers; [`provider::extend`], [`provider::plextera`],
//!   [`provider::standard`].
//! - `error`: request errors → HTTP status, JSON body and metric outcome, in one place.
//!
//! What it runs on:
//!
//! - [`config`]: the TOML configuration in three parts: its types, loading (file and `HOOKSHIFT__…`
//!   environment overrides) and validation naming every bad key and its line. It imports only leaves.
//! - [`secret`]: a leaf: [`secret::Secret`] (inline or `env:VAR`, never printed) and the key formats
//!   senders define for secrets.
//! - [`state`]: a validated configuration with its mapping sets and compiled routes; what
//!   `hookshift check` checks.
//! - [`reload`]: the swappable holder of the running state ([`reload::Shared`]) and the SIGHUP /
//!   file-change reload task.
//! - [`server`]: thread-per-core serving (`server.workers`), accept loops, HTTP/1 + HTTP/2
//!   connections, header read timeout, graceful shutdown.
//! - [`pipeline`]: the request path, one file per stage (below).
//! - `route`: a route compiled once per loaded configuration: per sending version its action and
//!   plan, its handler, its metric handles.
//! - [`provider`]: one module per provider (Extend, Plextera, Standard Webhooks): signatures, envelope
//!   and payload member, delivery headers; [`provider::Verified`] bodies.
//! - [`ledger`]: the one piece of state (SQLite file or Redis): twin pairing, exactly-once claims,
//!   quarantine, and the `shadow report` / `quarantine` commands.
//! - [`shadow`]: per-path hash trees of an event and the comparison of twins.
//! - [`status`]: where the migration stands per route (stage named from the policy, traffic, shadow
//!   comparison, problems, a verdict for the next stage), from the ledger's hourly history
//!   ([`ledger::history`]); `hookshift status` and the admin listener's `/status` page.
//! - [`output_check`]: the runtime check of translated events against the target schema.
//! - [`budget`]: the memory budget of buffered request bodies (`server.max_buffered_bytes`) and the
//!   lingering close after an early answer.
//! - [`json`]: the JSON tree the mappings rewrite ([`json::Value`]: ordered objects, exact numbers)
//!   and strict parsing of bodies into it (no duplicate keys, bounded nesting), or checking without one.
//! - [`mapping`]: the mapping engine (mapping files → plans → `translate`), pure.
//! - [`schema`]: the JSON Schemas of every event type per version (`schemas/`, from Extend's SDK models)
//!   and strict validation against them; what `hookshift check` holds golden cases to.
//! - [`drift`]: counting the input fields no mapping names (`hookshift_unmapped_fields_total`): the
//!   ones a translation drops at once, the unknown ones it carries by a bounded background scan (whose
//!   thread also runs the `observe` output check).
//! - [`signed_url`]: signed-URL payloads: detection, and the fetcher with its SSRF policy.
//! - `http`: the admin endpoints (`http::admin`), the client delivering to handlers
//!   (`http::deliver`), the roots TLS deliveries trust (`http::tls`).
//! - `metrics`: metric names (a contract), bounded labels, the process-wide Prometheus recorder. A
//!   leaf: it imports nothing from the crate; a module that owns a label set implements
//!   `metrics::Label` for it. Every per-route series is registered at zero when the route is
//!   compiled (`metrics::RouteMetrics::register`), at start and after a reload alike.
//! - `logging`: tracing subscriber setup (text or JSON).
//! - [`cli`]: the `hookshift` command line (`serve`, `check`, `translate`, `reference`, `sign`,
//!   `verify`, `send`).
//!
//! # The path of a request
//!
//! [`server::serve`] accepts a connection and hands each request to [`pipeline::Pipeline::handle`],
//! which takes a snapshot of the running [`state::State`], finds the compiled route by path (404
//! otherwise), starts the request's record (`hookshift_inflight_requests`, the sending version from
//! `?api_version=` else `default_version`, looked up once) and runs the stages:
//!
//! 1. **receive**: judges the head before reading any body byte: method (405), a declared length over
//!    `server.max_body_bytes` (413), missing, malformed or stale signature headers (401); reserves the
//!    body in the [`budget::BodyBudget`] (`server.max_buffered_bytes`, else 503 `overloaded`) and reads
//!    it, refusing more than `max_body_bytes` (413) or a slow sender (408); after an early answer the
//!    rest of the body is drained so that the client reads it;
//! 2. **verify**: checks the signature against the route's secrets (401), yielding a
//!    [`provider::Verified`] body;
//! 3. **twins** (ledger on, declared identity): pairs the copy with its twin from the other endpoint,
//!    offers both to the shadow comparison in the background, and claims the delivery exactly once
//!    (`duplicate`, `delivered_for_twin`, 503 `twin_in_flight`; 503 `ledger_unavailable` for an ack
//!    the ledger cannot record); the claim is marked after the handler's 2xx and released on failure;
//! 4. **decide**: parses it as strict JSON ([`json::parse`], or [`json::scan`] when no tree is needed;
//!    400), checks the provider's envelope (400) and applies the version's action: `ack` answers 200,
//!    `reject` answers 400, no policy answers 400, pass and translate go on;
//! 5. **translate** (other versions): replaces a signed-URL payload by the payload it points at
//!    ([`signed_url`]; 502 when it cannot be fetched, 503 when it and its translation do not fit in the
//!    budget), translates with the route's plan ([`mapping::translate`], the provider's payload member),
//!    checks the output against its schema ([`output_check`]: `enforce` here, `observe` in the
//!    background), counts the fields it dropped and queues the scan for the unknown fields it carried
//!    ([`drift`]); unmapped event types follow the route's `unmapped`, a failed mapping answers 422.
//!    The handler's own version keeps the exact received bytes;
//! 6. **sign**: the provider's delivery headers and a fresh signature with the handler's secret;
//! 7. **deliver**: POSTs them (`http::deliver`); the handler's 2xx becomes 200, anything else 502, a
//!    missed deadline 504;
//! 8. **record**: counts the outcome in `hookshift_events_total` and writes one log line (no payload,
//!    no secret).

pub mod cli;
pub mod clock;
pub mod config;
pub mod json;
pub mod ledger;
pub(crate) mod logging;
pub mod mapping;
pub(crate) mod metrics;
pub mod outbound;
pub mod pipeline;
pub mod provider;
pub mod reload;
pub(crate) mod route;
pub mod schema;
pub mod secret;
pub mod server;
pub mod shadow;
pub mod state;
pub mod status;
mod wiring;

pub use wiring::{run, shutdown_signal, RunError};
