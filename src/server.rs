//! Connection handling: the accept loop, per-connection HTTP/1 and HTTP/2 serving with a header read
//! timeout, and graceful shutdown (stop accepting, let in-flight requests finish within the grace period).
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
//! served at once: further ones wait in the kernel's accept queue.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
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
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{watch, OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};

use crate::reload::Shared;

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

/// Serves `listener` with `handler` until `stop` turns true, then drains open connections for up to
/// `server.shutdown_grace_ms` (read from the running configuration at that moment).
pub async fn serve<H, F>(
    name: &'static str,
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    // Tells every connection to finish its request and close (after the linger, see above).
    let (close_tx, close_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let stop_for_connections = stop.clone();
    let server = shared.load().config.server.clone();
    let slots = Arc::new(Semaphore::new(server.max_connections));
    let spawn = |connections: &mut JoinSet<()>,
                 stream: TcpStream,
                 peer: SocketAddr,
                 slot: Option<OwnedSemaphorePermit>| {
        let (shared, handler, stop, close) = (
            Arc::clone(&shared),
            handler.clone(),
            stop_for_connections.clone(),
            close_rx.clone(),
        );
        connections.spawn(async move {
            let _slot = slot;
            let server = &shared.load().config.server;
            let header_timeout = Duration::from_millis(server.header_read_timeout_ms);
            let idle_timeout = Duration::from_millis(server.idle_timeout_ms);
            let deadline = Instant::now() + header_timeout;
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
                &shared,
                handler,
                Arc::clone(&activity),
            );
            if let Err(e) = drive(connection, &activity, idle_timeout, close).await {
                tracing::debug!(listener = name, %peer, error = %e, "connection ended with an error");
            }
        });
    };
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            // At most `server.max_connections` at once: wait for a free slot before accepting.
            accepted = accept_with_slot(&listener, &slots) => accepted,
        };
        match accepted {
            Ok((stream, peer, slot)) => spawn(&mut connections, stream, peer, Some(slot)),
            Err(e) => {
                // Usually EMFILE/ENFILE: back off instead of spinning.
                tracing::warn!(listener = name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    // Connections the kernel completed before we stopped: serve them rather than reset them.
    while let Some(accepted) = ready_connection(&listener).await {
        if let Ok((stream, peer)) = accepted {
            let slot = Arc::clone(&slots).try_acquire_owned().ok();
            spawn(&mut connections, stream, peer, slot);
        }
    }
    drop(listener);

    let grace = Duration::from_millis(shared.load().config.server.shutdown_grace_ms);
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

/// Waits for a free connection slot, then for a connection (both cancel-safe).
async fn accept_with_slot(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> std::io::Result<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots)
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed");
    let (stream, peer) = listener.accept().await?;
    Ok((stream, peer, slot))
}

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
    shared: &Arc<Shared>,
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
    let shared = Arc::clone(shared);
    let service = service_fn(move |request: Request<Incoming>| {
        let http1 = request.version() <= Version::HTTP_11;
        let in_flight = activity.start();
        let response = handler(request);
        let shared = Arc::clone(&shared);
        async move {
            let mut response = response.await;
            drop(in_flight);
            if http1 && shared.is_draining() {
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
