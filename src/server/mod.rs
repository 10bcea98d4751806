//! Connection handling: the accept loop, per-connection HTTP/1 and HTTP/2 serving with a header read
//! timeout, and graceful shutdown (stop accepting, let in-flight requests finish within the grace period).
//!
//! The webhook listener is served thread per core ([`spawn_workers`], `server.workers`): each worker is
//! a thread with its own single-threaded runtime, its own listener socket and its own handler, so a
//! connection is accepted, read, handled and answered on one thread and never handed to another (the
//! hand-overs and wake-ups of a shared multi-threaded runtime cost more than the work itself). What must
//! hold for the listener as a whole is shared: the connection slots (`server.max_connections`), the
//! limits (updated on reload), the stop signal; the body budget lives in the handler, shared by all.
//!
//! The header read timeout covers the whole wait for a request head, including a connection that
//! never sends a byte (whose protocol, HTTP/1 or HTTP/2, is not known yet).
//!
//! Shutdown is careful about HTTP/1 keep-alive, where closing an idle connection races with a client
//! that just sent a request on it (the client sees a reset, not an answer):
//!
//! 1. the listener stops accepting, but connections the kernel already completed are still served;
//!    connections that have not sent a byte yet get [`IDLE_LINGER`] to do so;
//! 2. every response from then on carries `Connection: close`, so clients stop reusing connections;
//! 3. idle connections get [`IDLE_LINGER`] (at most the grace period) to deliver requests already on
//!    their way; then every connection is told to finish its request and close;
//! 4. whatever still runs when `server.shutdown_grace_ms` is over is cut.
//!
//! Outside shutdown, a connection with no request in flight for `server.idle_timeout_ms` is closed
//! (HTTP/2 included, which has no idle timeout of its own), and at most `server.max_connections` are
//! served at once across all workers: further ones wait in the kernel's accept queue (and one per
//! worker accepted, unread, for the next free slot).

pub mod admin;

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    task::Poll,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use socket2::{Domain, SockRef, Socket, Type};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};

use crate::config::ServerConfig;

/// How long idle keep-alive connections stay open after shutdown begins.
pub const IDLE_LINGER: Duration = Duration::from_millis(500);

/// Largest read buffer of an HTTP/1 connection, which bounds its request head too (431 beyond).
///
/// A connection's buffer is memory the body budget does not see: hyper grows it up to this size while
/// a client sends fast, and a frame handed out keeps its part alive until the next buffer is allocated,
/// so a connection holds up to about twice this. hyper's default (~400 KB) made that 800 KB a
/// connection, 3.2 GB at the default `server.max_connections`.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// HTTP/2 receive window of a connection (and of each stream): what a client may send that hookshift
/// has not read yet, buffered by the HTTP/2 layer outside the body budget. hyper's default is 1 MiB;
/// this keeps an HTTP/2 connection near an HTTP/1 one (webhook bodies are small; a large one takes more
/// round trips).
pub const HTTP2_WINDOW_BYTES: u32 = 128 * 1024;

/// How long a connection closed for idleness may take to finish closing before it is dropped.
const IDLE_CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Threads each worker's runtime may start for blocking work (large translations): the blocking pool
/// is per runtime, so this bounds it at this many per worker instead of tokio's 512.
pub const BLOCKING_THREADS_PER_WORKER: usize = 4;

/// Pending connections each worker's own listener socket queues (the kernel caps it at `somaxconn`).
const LISTEN_BACKLOG: i32 = 1024;

/// The limits of `[server]` a listener serves by. [`serve`] reads the newest at each connection, so a
/// reload changes them for the connections that follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `server.header_read_timeout_ms`.
    pub header_read_timeout: Duration,
    /// `server.idle_timeout_ms`.
    pub idle_timeout: Duration,
    /// `server.shutdown_grace_ms`, read when shutdown begins.
    pub shutdown_grace: Duration,
}

impl Limits {
    /// The limits `server` sets.
    pub fn of(server: &ServerConfig) -> Limits {
        Limits {
            header_read_timeout: Duration::from_millis(server.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(server.idle_timeout_ms),
            shutdown_grace: Duration::from_millis(server.shutdown_grace_ms),
        }
    }
}

/// The connections a listener serves at once, across every worker serving it
/// (`server.max_connections`): a connection a worker accepted while none is free waits, unread,
/// for the next one, and the worker accepts nothing else meanwhile.
#[derive(Debug, Clone)]
pub struct ConnectionSlots(Arc<Semaphore>);

impl ConnectionSlots {
    /// `max` slots.
    pub fn new(max: usize) -> ConnectionSlots {
        ConnectionSlots(Arc::new(Semaphore::new(max)))
    }
}

/// What every worker of a listener shares.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The newest limits.
    pub limits: watch::Receiver<Limits>,
    pub slots: ConnectionSlots,
    /// Turns true when shutdown begins.
    pub stop: watch::Receiver<bool>,
}

/// Why the workers could not start or did not end well.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another listener socket for a worker could not be opened.
    #[error("cannot open the listener socket of worker {worker}: {source}")]
    Socket { worker: usize, source: io::Error },
    /// A worker's runtime or thread could not be started.
    #[error("cannot start worker {worker}: {source}")]
    Start { worker: usize, source: io::Error },
    /// A worker thread ended by panicking.
    #[error("worker {worker} panicked")]
    Panicked { worker: usize },
}

/// Binds a listener whose address further sockets can share with `SO_REUSEPORT`, so that
/// [`spawn_workers`] gives each worker a socket of its own (the kernel spreads connections over them).
pub fn bind_shared(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = reuse_port_socket(address)?;
    TcpListener::from_std(socket.into())
}

fn reuse_port_socket(address: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket)
}

/// One listener socket per worker for the address of `listener`: with `SO_REUSEPORT` set on it (see
/// [`bind_shared`]) new sockets bound to the same address, else duplicates of its descriptor (one
/// accept queue, which every worker polls).
fn worker_sockets(
    listener: TcpListener,
    workers: usize,
) -> Result<Vec<std::net::TcpListener>, ServerError> {
    let socket_error = |worker| move |source| ServerError::Socket { worker, source };
    let first = listener.into_std().map_err(socket_error(0))?;
    let address = first.local_addr().map_err(socket_error(0))?;
    let reuse_port = SockRef::from(&first).reuse_port().unwrap_or(false);
    let mut sockets = Vec::with_capacity(workers);
    for worker in 1..workers {
        let socket = if reuse_port {
            reuse_port_socket(address).map(Into::into)
        } else {
            first.try_clone()
        };
        sockets.push(socket.map_err(socket_error(worker))?);
    }
    sockets.insert(0, first);
    Ok(sockets)
}

/// The worker threads serving one listener; [`Workers::join`] waits for them to end.
#[derive(Debug)]
pub struct Workers {
    ended: Vec<oneshot::Receiver<()>>,
}

impl Workers {
    /// Waits until every worker has drained and stopped (after `stop` turned true).
    pub async fn join(self) -> Result<(), ServerError> {
        let mut result = Ok(());
        for (worker, ended) in self.ended.into_iter().enumerate() {
            // The sender drops without sending only when the thread unwinds.
            if ended.await.is_err() && result.is_ok() {
                result = Err(ServerError::Panicked { worker });
            }
        }
        result
    }
}

/// Serves `listener` on `workers` threads (at least one), each with its own current-thread runtime,
/// its own listener socket (see [`worker_sockets`]) and its own handler from `make_handler` (called
/// once per worker, here), until `serving.stop` turns true; then each drains like [`serve`].
///
/// A worker that has drained keeps running its runtime until all have: tasks a handler spawned there
/// (pooled handler connections, lingering drains) may still serve another worker's requests.
pub fn spawn_workers<M, H, F>(
    name: &'static str,
    listener: TcpListener,
    workers: usize,
    serving: Serving,
    make_handler: M,
) -> Result<Workers, ServerError>
where
    M: Fn() -> H,
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let workers = workers.max(1);
    let sockets = worker_sockets(listener, workers)?;
    let (finished_tx, finished_rx) = watch::channel(0usize);
    let finished_tx = Arc::new(finished_tx);
    let mut ended = Vec::with_capacity(workers);
    for (worker, socket) in sockets.into_iter().enumerate() {
        let start_error = |source| ServerError::Start { worker, source };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
            .thread_name(format!("{name}-blocking"))
            .build()
            .map_err(start_error)?;
        // Registered with the worker's own runtime, whose IO driver then owns it.
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(socket).map_err(start_error)?
        };
        let (serving, handler) = (serving.clone(), make_handler());
        let (finished_tx, mut finished_rx) = (Arc::clone(&finished_tx), finished_rx.clone());
        let (ended_tx, ended_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("{name}-{worker}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let finished = Finished(finished_tx);
                    serve(name, listener, serving, handler).await;
                    drop(finished);
                    let _ = finished_rx.wait_for(|n| *n >= workers).await;
                });
                let _ = ended_tx.send(());
            })
            .map_err(start_error)?;
        ended.push(ended_rx);
    }
    Ok(Workers { ended })
}

/// Counts a worker as finished when dropped: after its [`serve`] returned, or while it unwinds.
struct Finished(Arc<watch::Sender<usize>>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n += 1);
    }
}

/// Serves `listener` with `handler` until `serving.stop` turns true, then drains open connections for
/// up to the shutdown grace of the limits at that moment.
pub async fn serve<H, F>(name: &'static str, listener: TcpListener, serving: Serving, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let Serving {
        limits,
        slots: ConnectionSlots(slots),
        mut stop,
    } = serving;
    // Tells every connection to finish its request and close (after the linger, see above).
    let (close_tx, close_rx) = watch::channel(false);
    // Set once shutdown begins: responses then carry `Connection: close`. Read by every response of
    // this listener's connections on this thread, written once.
    let draining = Arc::new(AtomicBool::new(false));
    let mut connections = JoinSet::new();
    let stop_for_connections = stop.clone();
    let spawn = |connections: &mut JoinSet<()>,
                 stream: TcpStream,
                 peer: SocketAddr,
                 slot: Option<OwnedSemaphorePermit>| {
        let (limits, draining, handler, stop, close) = (
            *limits.borrow(),
            Arc::clone(&draining),
            handler.clone(),
            stop_for_connections.clone(),
            close_rx.clone(),
        );
        connections.spawn(async move {
            let _slot = slot;
            let deadline = Instant::now() + limits.header_read_timeout;
            let Some(protocol) = sniff_protocol(&stream, deadline, stop).await else {
                tracing::debug!(listener = name, %peer, "no request head in time; closing");
                return;
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            let activity = Arc::new(Activity::new());
            let connection = serve_connection(
                name,
                stream,
                protocol,
                remaining,
                draining,
                handler,
                Arc::clone(&activity),
            );
            if let Err(e) = drive(connection, &activity, limits.idle_timeout, close).await {
                tracing::debug!(listener = name, %peer, error = %e, "connection ended with an error");
            }
        });
    };
    // A connection accepted while every slot was taken waits here, unread, for the next free slot;
    // the worker accepts nothing else meanwhile. Accepting before taking a slot matters with one
    // socket per worker: a worker holding a slot while its own queue is empty would otherwise keep it
    // from a worker whose queue has a connection waiting.
    let mut waiting: Option<(TcpStream, SocketAddr)> = None;
    let mut slot_freed: Option<Pin<Box<SlotWait>>> = None;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept(), if waiting.is_none() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&slots).try_acquire_owned() {
                    Ok(slot) => spawn(&mut connections, stream, peer, Some(slot)),
                    Err(_) => {
                        waiting = Some((stream, peer));
                        slot_freed = Some(Box::pin(Arc::clone(&slots).acquire_owned()));
                    }
                },
                Err(e) => {
                    // Usually EMFILE/ENFILE: back off instead of spinning.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            slot = async { slot_freed.as_mut().expect("guarded").await }, if slot_freed.is_some() => {
                slot_freed = None;
                if let Some((stream, peer)) = waiting.take() {
                    spawn(&mut connections, stream, peer, slot.ok());
                }
            }
        }
    }

    draining.store(true, Ordering::Relaxed);
    serve_pending(listener, waiting.take(), &slots, |stream, peer, slot| {
        spawn(&mut connections, stream, peer, slot)
    })
    .await;

    let grace = limits.borrow().shutdown_grace;
    drain(name, connections, grace, close_tx).await;
}

/// After the stop: the connection waiting for a slot, and those the kernel completed before we
/// stopped, are served (with a slot if one is free) rather than reset. Closes the listener.
async fn serve_pending(
    listener: TcpListener,
    waiting: Option<(TcpStream, SocketAddr)>,
    slots: &Arc<Semaphore>,
    mut spawn: impl FnMut(TcpStream, SocketAddr, Option<OwnedSemaphorePermit>),
) {
    if let Some((stream, peer)) = waiting {
        let slot = Arc::clone(slots).try_acquire_owned().ok();
        spawn(stream, peer, slot);
    }
    while let Some(accepted) = ready_connection(&listener).await {
        if let Ok((stream, peer)) = accepted {
            let slot = Arc::clone(slots).try_acquire_owned().ok();
            spawn(stream, peer, slot);
        }
    }
}

/// Drains the open connections within `grace`: idle ones linger briefly for requests already on
/// their way, then every connection is told to close, and whatever still runs at the end is cut.
async fn drain(
    name: &'static str,
    mut connections: JoinSet<()>,
    grace: Duration,
    close_tx: watch::Sender<bool>,
) {
    let deadline = Instant::now() + grace;
    tracing::info!(
        listener = name,
        open_connections = connections.len(),
        grace_ms = grace.as_millis() as u64,
        "draining"
    );
    // Let requests already on their way over idle keep-alive connections arrive (answered with
    // `Connection: close`); stop early when every connection is gone.
    let linger_until = Instant::now() + IDLE_LINGER.min(grace);
    while !connections.is_empty() && Instant::now() < linger_until {
        tokio::select! {
            _ = connections.join_next() => {}
            _ = tokio::time::sleep_until(linger_until.into()) => {}
        }
    }
    let _ = close_tx.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    match tokio::time::timeout_at(deadline.into(), drained).await {
        Ok(()) => tracing::info!(listener = name, "drained"),
        Err(_) => tracing::warn!(
            listener = name,
            remaining = connections.len(),
            "grace period over; closing remaining connections"
        ),
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// The wait for a connection slot to free up.
type SlotWait = dyn Future<Output = Result<OwnedSemaphorePermit, tokio::sync::AcquireError>> + Send;

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    last_done: Mutex<Instant>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            last_done: Mutex::new(Instant::now()),
        }
    }

    /// Counts a request until the returned guard drops (answered, or cancelled by the client).
    fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(self))
    }

    /// Since when the connection has had no request in flight; `None` while one runs.
    fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(*self.last_done.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One request in flight on a connection.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last_done.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves a connection to its end, asking it to close gracefully (finish the request in flight, then
/// close) when it has been idle for `idle_timeout` or when `close` turns true.
async fn drive<C>(
    connection: C,
    activity: &Activity,
    idle_timeout: Duration,
    mut close: watch::Receiver<bool>,
) -> Result<(), C::Error>
where
    C: GracefulConnection,
{
    let mut connection = std::pin::pin!(connection);
    let mut closing = *close.borrow();
    if closing {
        connection.as_mut().graceful_shutdown();
    }
    let mut check_at = Instant::now() + idle_timeout;
    // Set once an idle connection was asked to close: an HTTP/2 peer that never answers the closing
    // handshake (GOAWAY, PING) is dropped then. Nothing is in flight on it.
    let mut drop_at: Option<Instant> = None;
    loop {
        tokio::select! {
            result = connection.as_mut() => return result,
            _ = close.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(check_at.into()), if !closing => {
                match activity.idle_since() {
                    Some(since) if since.elapsed() >= idle_timeout => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                        drop_at = Some(Instant::now() + IDLE_CLOSE_GRACE);
                    }
                    Some(since) => check_at = since + idle_timeout,
                    None => check_at = Instant::now() + idle_timeout,
                }
            }
            _ = tokio::time::sleep_until(drop_at.unwrap_or(check_at).into()), if drop_at.is_some() => {
                if activity.idle_since().is_some() {
                    return Ok(());
                }
                // A request arrived after all (HTTP/2 accepts streams until the final GOAWAY):
                // let the connection finish it.
                drop_at = None;
            }
        }
    }
}

/// The HTTP version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    /// HTTP/2 with prior knowledge (the client starts with the connection preface).
    Http2,
}

/// The HTTP/2 connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits for a connection's first bytes, without consuming them, and tells HTTP/1 from HTTP/2 by them.
/// `None` when too little arrived before `deadline` (or within [`IDLE_LINGER`] once shutdown began), or
/// the peer closed: the header read timeout also covers a connection that never sends anything.
async fn sniff_protocol(
    stream: &TcpStream,
    mut deadline: Instant,
    mut stop: watch::Receiver<bool>,
) -> Option<Protocol> {
    let mut stopping = *stop.borrow();
    if stopping {
        deadline = deadline.min(Instant::now() + IDLE_LINGER);
    }
    let mut buffer = [0u8; H2_PREFACE.len()];
    loop {
        let peeked = tokio::select! {
            peeked = tokio::time::timeout_at(deadline.into(), stream.peek(&mut buffer)) => peeked,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                deadline = deadline.min(Instant::now() + IDLE_LINGER);
                continue;
            }
        };
        let n = match peeked {
            Ok(Ok(n)) if n > 0 => n,
            _ => return None,
        };
        if buffer[..n] != H2_PREFACE[..n] {
            return Some(Protocol::Http1);
        }
        if n == H2_PREFACE.len() {
            return Some(Protocol::Http2);
        }
        // Only part of the preface so far (a slow sender): look again shortly.
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An already-completed connection from the listener's queue, if there is one (never waits).
async fn ready_connection(
    listener: &TcpListener,
) -> Option<std::io::Result<(TcpStream, SocketAddr)>> {
    std::future::poll_fn(|cx| match listener.poll_accept(cx) {
        Poll::Ready(accepted) => Poll::Ready(Some(accepted)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// One connection serving `handler`; HTTP/1 requests heads must arrive within `header_timeout`.
fn serve_connection<H, F>(
    name: &'static str,
    stream: TcpStream,
    protocol: Protocol,
    header_timeout: Duration,
    draining: Arc<AtomicBool>,
    handler: H,
    activity: Arc<Activity>,
) -> impl GracefulConnection<Error = Box<dyn std::error::Error + Send + Sync>> + Send
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout.max(Duration::from_millis(1)))
        .max_buf_size(READ_BUFFER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .initial_connection_window_size(HTTP2_WINDOW_BYTES)
        .initial_stream_window_size(HTTP2_WINDOW_BYTES);
    let builder = match protocol {
        Protocol::Http1 => builder.http1_only(),
        Protocol::Http2 => builder.http2_only(),
    };
    let service = service_fn(move |request: Request<Incoming>| {
        let http1 = request.version() <= Version::HTTP_11;
        let in_flight = activity.start();
        let response = handler(request);
        let draining = Arc::clone(&draining);
        async move {
            let mut response = response.await;
            drop(in_flight);
            if http1 && draining.load(Ordering::Relaxed) {
                // Shutting down: the client must not send another request on this connection.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            tracing::trace!(
                listener = name,
                status = response.status().as_u16(),
                "response"
            );
            Ok::<_, Infallible>(response)
        }
    });
    builder
        .serve_connection(TokioIo::new(stream), service)
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serving(max_connections: usize) -> (Serving, watch::Sender<bool>) {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(5),
        };
        let (stop_tx, stop) = watch::channel(false);
        let serving = Serving {
            limits: watch::channel(limits).1,
            slots: ConnectionSlots::new(max_connections),
            stop,
        };
        (serving, stop_tx)
    }

    /// Each request holds a blocking thread for a while: however many arrive at once, a worker runs
    /// at most [`BLOCKING_THREADS_PER_WORKER`] of them, and the request resumes on the worker's thread.
    #[tokio::test]
    async fn blocking_work_is_bounded_and_requests_stay_on_their_worker() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (serving, stop) = serving(64);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let make_handler = || {
            let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
            move |_request: Request<Incoming>| {
                let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
                async move {
                    let thread = std::thread::current().id();
                    tokio::task::spawn_blocking(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(100));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                    .unwrap();
                    let stayed = std::thread::current().id() == thread;
                    Response::new(Full::new(Bytes::from(if stayed {
                        "stayed"
                    } else {
                        "moved"
                    })))
                }
            }
        };
        let workers = spawn_workers("test", listener, 1, serving, make_handler).unwrap();
        let requests: Vec<_> = (0..12)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() })
            })
            .collect();
        for request in requests {
            assert_eq!(request.await.unwrap(), "stayed");
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!(
            (2..=BLOCKING_THREADS_PER_WORKER).contains(&peak),
            "{peak} blocking tasks at once"
        );
        stop.send(true).unwrap();
        workers.join().await.unwrap();
    }
}
