//! The wiring: builds the running state from a configuration, opens the listeners' servers, the
//! reload watcher, the ledger's history and upkeep, and runs them until the shutdown trigger fires.
//! Everything else lives in the modules it wires (see the crate's layout in `lib.rs`).

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::watch};

use crate::config::Config;
use crate::reload::Shared;
use crate::state::{State, StateError};
use crate::{ledger, metrics, pipeline, reload, server};

/// Longest a stop waits for the ledger file to be closed (its last queued writes written).
const LEDGER_CLOSE_WAIT: Duration = Duration::from_secs(10);

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
    let (state, baseline) = first_state(config).await?;
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
    let follow_limits = tokio::spawn(follow_limits(
        Arc::clone(&shared),
        limits_tx,
        stop_rx.clone(),
    ));
    let serving = |max_connections| server::Serving {
        limits: limits.clone(),
        slots: server::ConnectionSlots::new(max_connections),
        stop: stop_rx.clone(),
    };

    let (pipeline, history) = webhook_pipeline(&shared);
    let ledger_closed = pipeline.ledger_closed();
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
    drop(pipeline);
    if let Some(closed) = ledger_closed {
        ledger_written(closed).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The webhook pipeline, with the migration's history for `hookshift status` (ledger on), written
/// every few seconds.
fn webhook_pipeline(
    shared: &Arc<Shared>,
) -> (pipeline::Pipeline, Option<Arc<ledger::history::Recorder>>) {
    let pipeline = pipeline::Pipeline::new(Arc::clone(shared));
    let history = open_history(&shared.load().config);
    match &history {
        Some(recorder) => (pipeline.with_history(Arc::clone(recorder)), history),
        None => (pipeline, history),
    }
}

/// Waits until the ledger file is closed: the writes answered before their commit are then on file,
/// and the next server on the file can hold it. The last requests' tasks let go of it within
/// moments of the drain; past [`LEDGER_CLOSE_WAIT`] the stop goes on and says so.
async fn ledger_written(mut closed: tokio::sync::watch::Receiver<bool>) {
    let waited = tokio::time::timeout(LEDGER_CLOSE_WAIT, closed.wait_for(|closed| *closed)).await;
    if !matches!(waited, Ok(Ok(_))) {
        tracing::warn!(
            waited_ms = LEDGER_CLOSE_WAIT.as_millis() as u64,
            "the ledger file is still open at the stop: writes queued last may be lost"
        );
    }
}

/// The state of the configuration as given, and the fingerprint of its files the reload watcher
/// compares against, built off the runtime's threads (it reads and compiles every mapping).
async fn first_state(config: Config) -> Result<(State, Option<u64>), RunError> {
    Ok(tokio::task::spawn_blocking(move || {
        // The baseline is the config text as parsed and the mappings before they are read: a change
        // made after the caller read the file, or while starting, is then reloaded instead of becoming
        // the baseline the watcher compares against.
        let baseline = config.source().map(|path| match config.source_digest() {
            Some(digest) => reload::fingerprint_parsed(path, digest, &config.mappings_dirs()),
            None => reload::fingerprint_all(path, &config.mappings_dirs()),
        });
        State::build(config).map(|state| (state, baseline))
    })
    .await??)
}

/// Keeps the servers' limits current across reloads, until the stop signal.
async fn follow_limits(
    shared: Arc<Shared>,
    limits: watch::Sender<server::Limits>,
    mut stop: watch::Receiver<bool>,
) {
    let mut swaps = shared.swaps();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            swapped = swaps.changed() => if swapped.is_err() { return },
        }
        let new = server::Limits::of(&shared.load().config.server);
        limits.send_if_modified(|current| std::mem::replace(current, new) != new);
    }
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
