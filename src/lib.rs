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

pub mod budget;
pub mod cli;
pub mod config;
pub mod drift;
pub(crate) mod error;
pub mod json;
pub mod ledger;
pub(crate) mod logging;
pub mod mapping;
pub(crate) mod metrics;
pub mod outbound;
pub mod output_check;
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

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::watch};

use crate::config::Config;
use crate::reload::Shared;
use crate::state::{State, StateError};

/// Why [`run`] could not serve.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The initial configuration or its mappings are invalid.
    #[error("invalid configuration:\n{0}")]
    State(#[from] StateError),
    /// A background task panicked.
    #[error("task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The webhook workers could not start, or one of them failed.
    #[error(transparent)]
    Server(#[from] server::ServerError),
}

/// Runs hookshift on the given listeners until `shutdown` completes, then drains in-flight requests
/// for up to `server.shutdown_grace_ms` and returns.
///
/// `config` should come from [`Config::load`]: reloads re-read the file it was loaded from. The listeners'
/// addresses are used as given (`server.listen` and `server.admin_listen` are for the caller to bind).
pub async fn run(
    config: Config,
    listener: TcpListener,
    admin_listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let metrics_handle = metrics::install();
    metrics::record_build_info();
    let (state, baseline) = tokio::task::spawn_blocking(move || {
        // The baseline is the config text as parsed and the mappings before they are read: a change
        // made after the caller read the file, or while starting, is then reloaded instead of becoming
        // the baseline the watcher compares against.
        let baseline = config.source().map(|path| match config.source_digest() {
            Some(digest) => reload::fingerprint_parsed(path, digest, &config.mappings_dirs()),
            None => reload::fingerprint_all(path, &config.mappings_dirs()),
        });
        State::build(config).map(|state| (state, baseline))
    })
    .await??;
    metrics::record_initial_load(reload::unix_seconds(state.loaded_at));
    let shared = Arc::new(Shared::new(state));
    log_startup(&shared, &listener, &admin_listener);

    let (stop_tx, stop_rx) = watch::channel(false);
    let watcher = tokio::spawn(reload::watch(
        Arc::clone(&shared),
        stop_rx.clone(),
        baseline,
    ));
    let upkeep = tokio::spawn(upkeep(metrics_handle.clone(), stop_rx.clone()));

    // The servers get the limits they serve by, not the reload machinery: a copy kept current here.
    let server_config = shared.load().config.server.clone();
    let (limits_tx, limits) = watch::channel(server::Limits::of(&server_config));
    let follow_limits = {
        let (shared, mut swaps, mut stop) = (Arc::clone(&shared), shared.swaps(), stop_rx.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    swapped = swaps.changed() => if swapped.is_err() { return },
                }
                let new = server::Limits::of(&shared.load().config.server);
                limits_tx.send_if_modified(|current| std::mem::replace(current, new) != new);
            }
        })
    };
    let serving = |max_connections| server::Serving {
        limits: limits.clone(),
        slots: server::ConnectionSlots::new(max_connections),
        stop: stop_rx.clone(),
    };

    let pipeline = pipeline::Pipeline::new(Arc::clone(&shared));
    // The migration's history for `hookshift status` (ledger on), written every few seconds.
    let history = open_history(&shared.load().config);
    let pipeline = match &history {
        Some(history) => pipeline.with_history(Arc::clone(history)),
        None => pipeline,
    };
    let history_task = history
        .clone()
        .map(|history| tokio::spawn(history.run(stop_rx.clone())));
    let workers = server_config.worker_count();
    // Each worker its own pipeline (its own handler connections, on its runtime) behind its own
    // reference count, so that a request touches nothing another worker writes but the shared budget.
    let webhooks = server::spawn_workers(
        "webhooks",
        listener,
        workers,
        serving(server_config.max_connections),
        || {
            let pipeline = Arc::new(pipeline.for_worker());
            move |request| {
                let pipeline = Arc::clone(&pipeline);
                async move { pipeline.handle(request).await }
            }
        },
    )?;
    tracing::info!(workers, "webhook workers started");
    let admin = server::admin::Admin::new(metrics_handle, Arc::clone(&shared))
        .with_history(history.clone());
    let admin_server = tokio::spawn(server::serve(
        "admin",
        admin_listener,
        serving(server_config.max_connections),
        move |request| {
            let admin = admin.clone();
            async move { admin.respond(request).await }
        },
    ));

    shutdown.await;
    tracing::info!("shutdown requested: no new connections, draining in-flight requests");
    shared.set_draining();
    let _ = stop_tx.send(true);
    let (webhooks, admin_server, watcher, upkeep, follow_limits) = tokio::join!(
        webhooks.join(),
        admin_server,
        watcher,
        upkeep,
        follow_limits
    );
    webhooks?;
    admin_server?;
    // The requests drained after the stop signal are counted too.
    if let Some(task) = history_task {
        task.await?;
    }
    if let Some(history) = &history {
        history.flush_logged().await;
    }
    watcher?;
    upkeep?;
    follow_limits?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn log_startup(shared: &Shared, listener: &TcpListener, admin_listener: &TcpListener) {
    let state = shared.load();
    let address = |l: &TcpListener| l.local_addr().map(|a| a.to_string()).unwrap_or_default();
    for route in &state.config.routes {
        tracing::info!(
            route = %route.name,
            path = %route.path,
            provider = route.provider.as_str(),
            mappings = %state.config.route_mappings_dir(route).display(),
            downstream_version = %route.downstream.version,
            "route ready"
        );
    }
    tracing::info!(
        listen = %address(listener),
        admin_listen = %address(admin_listener),
        mappings = %state.config.mappings_dir().display(),
        version = env!("CARGO_PKG_VERSION"),
        "hookshift serving"
    );
}

/// The history recorder of the configured ledger; `None` when it is off or cannot be opened (logged:
/// serving goes on without it).
fn open_history(config: &Config) -> Option<Arc<ledger::history::Recorder>> {
    match ledger::history::Recorder::open(config) {
        Ok(recorder) => recorder.map(Arc::new),
        Err(error) => {
            metrics::record_ledger_error(config.ledger.backend.as_str(), "history");
            tracing::error!(error = %error, "migration history unavailable; `hookshift status` will not see this process");
            None
        }
    }
}

/// Periodic maintenance of the Prometheus recorder (drains histogram buffers).
async fn upkeep(
    handle: metrics_exporter_prometheus::PrometheusHandle,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => handle.run_upkeep(),
        }
    }
}
