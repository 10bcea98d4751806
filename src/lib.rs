//! hookshift: a reverse proxy for webhook API-version migrations.
//!
//! It receives a provider's webhooks (Extend, Plextera, Standard Webhooks senders), verifies their
//! signature, applies the migration stage's policy for the sending API version, translates the event
//! to the version the handler speaks with declarative mapping files, re-signs it with the handler's
//! secret and delivers it.
//!
//! # Layout
//!
//! Layers that only point down: a module imports only from its own layer's leaves or from layers
//! below it, and no import circle spans two modules (`.ci/layers.py` checks both in CI). From the
//! bottom:
//!
//! 1. **Leaves.** [`json`]: the JSON tree the mappings rewrite ([`json::Value`]: ordered objects,
//!    exact numbers), strict parsing into it (no duplicate keys, bounded nesting) or checking without
//!    it. `metrics`: metric names (a contract), bounded labels through the `metrics::Label` trait a
//!    module implements for the label set it owns, registration at zero, the Prometheus recorder; it
//!    imports nothing from the crate. [`secret`]: [`secret::Secret`] (inline or `env:VAR`, never
//!    printed). [`clock`]: the wall clock behind a function pointer.
//! 2. **[`config`]**: the TOML configuration as types, loading (file and `HOOKSHIFT__…` environment
//!    overrides) and validation naming every bad key and its line.
//! 3. **What events look like and where they go.** [`provider`]: one module per sender (Extend,
//!    Plextera, Standard Webhooks): signatures ([`provider::signature`]), envelope and payload member,
//!    delivery headers, [`provider::Verified`] bodies; the Extend provider recognises signed-URL
//!    payloads. [`mapping`]: the mapping engine (files → plans → `translate`), pure. [`schema`]: the
//!    JSON Schemas of every event type per version and strict validation. [`shadow`]: hash trees of
//!    an event and the comparison of twins, pure. [`outbound`]: HTTP out (the delivery client, the TLS
//!    roots it trusts, the fenced fetch of signed-URL payloads).
//! 4. **[`ledger`]**: the one piece of state (SQLite file or Redis): occurrences and exactly-once
//!    claims, twin pairing, shadow records, quarantine, the hourly history.
//! 5. **Compiled runtime state.** `route`: a `[[routes]]` table compiled once per loaded state (per
//!    sending version an action and plan, its handler, its metric handles, every per-route series
//!    registered at zero). [`state`]: a validated configuration with its mapping sets and compiled
//!    routes; what `hookshift check` checks. [`reload`]: the swappable running state and the
//!    SIGHUP / file-change reload. [`status`]: where the migration stands per route (stage, traffic,
//!    shadow comparison, problems, a verdict for the next stage), from the ledger's history.
//! 6. **[`pipeline`]**: the request path, one file per stage, and what only it uses: its error
//!    ([`pipeline::error`]: request errors → HTTP status, JSON body and outcome, in one place), the
//!    body budget and load shedding ([`pipeline::budget`]), the background scan of carried fields
//!    ([`pipeline::drift`]) and the output check ([`pipeline::output_check`]).
//! 7. **[`server`]**: thread-per-core serving (`server.workers`), accept loops, HTTP/1 + HTTP/2,
//!    header read timeout, graceful shutdown; the admin endpoints ([`server::admin`]: metrics,
//!    health, `/status`).
//! 8. **[`cli`] and the wiring.** [`cli`]: the `hookshift` commands, one file each (`status`,
//!    `new-step`, `sign`, `verify`, `send`, `quarantine`, `shadow report`, ...); `logging`: the
//!    tracing subscriber; the wiring ([`run`]) builds the state and starts the servers, the reload
//!    watcher and the ledger's upkeep. This file is the layout and the module list only.
//!
//! # The path of a request
//!
//! [`server::serve`] accepts a connection and hands each request to [`pipeline::Pipeline::handle`],
//! which takes a snapshot of the running [`state::State`], finds the compiled route by path (404
//! otherwise), resolves the **policy** (the sending version from `?api_version=` else
//! `default_version`, and the route's action for it, looked up once), starts the request's record
//! (`hookshift_inflight_requests`, under the version's label) and runs the stages:
//!
//! 1. **receive**: judges the head before reading any body byte: method (405), a declared length over
//!    `server.max_body_bytes` (413), missing, malformed or stale signature headers (401); reserves the
//!    body in the [`pipeline::budget::BodyBudget`] (`server.max_buffered_bytes`, else 503 `overloaded`) and reads
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
//!    ([`outbound::fetch`]; 502 when it cannot be fetched, 503 when it and its translation do not fit in the
//!    budget), translates with the route's plan ([`mapping::translate`], the provider's payload member),
//!    checks the output against its schema ([`pipeline::output_check`]: `enforce` here, `observe` in
//!    the background), counts the fields it dropped and queues the scan for the unknown fields it
//!    carried ([`pipeline::drift`]); unmapped event types follow the route's `unmapped`, a failed mapping answers 422.
//!    The handler's own version keeps the exact received bytes;
//! 6. **sign**: the provider's delivery headers and a fresh signature with the handler's secret;
//! 7. **deliver**: POSTs them ([`outbound::deliver`]); the handler's 2xx becomes 200, anything else 502, a
//!    missed deadline 504;
//! 8. **settle**: marks the claim delivered after the handler's 2xx, releases it otherwise;
//! 9. **record**: counts the outcome in `hookshift_events_total` and writes one log line (no payload,
//!    no secret).
//!
//! Stages 3 to 8 are one exactly-once unit (`src/pipeline/once.rs`); `hookshift quarantine replay`
//! runs each quarantined event through it too ([`pipeline::Pipeline::replay`]).

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
