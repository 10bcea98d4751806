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

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::Arc,
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
use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinSet,
};

use crate::reload::Shared;

/// How long idle keep-alive connections stay open after shutdown begins.
pub const IDLE_LINGER: Duration = Duration::from_millis(500);

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
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let stop_for_connections = stop.clone();
    let spawn = |connections: &mut JoinSet<()>, stream: TcpStream, peer: SocketAddr| {
        let watcher = graceful.watcher();
        let (shared, handler, stop) = (
            Arc::clone(&shared),
            handler.clone(),
            stop_for_connections.clone(),
        );
        connections.spawn(async move {
            let header_timeout =
                Duration::from_millis(shared.load().config.server.header_read_timeout_ms);
            let deadline = Instant::now() + header_timeout;
            let Some(protocol) = sniff_protocol(&stream, deadline, stop).await else {
                tracing::debug!(listener = name, %peer, "no request head in time; closing");
                return;
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            let connection =
                serve_connection(name, stream, protocol, remaining, &shared, handler);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(listener = name, %peer, error = %e, "connection ended with an error");
            }
        });
    };
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => accepted,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        match accepted {
            Ok((stream, peer)) => spawn(&mut connections, stream, peer),
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
            spawn(&mut connections, stream, peer);
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
    match tokio::time::timeout_at(deadline.into(), graceful.shutdown()).await {
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
        .header_read_timeout(header_timeout.max(Duration::from_millis(1)));
    builder.http2().timer(TokioTimer::new());
    let builder = match protocol {
        Protocol::Http1 => builder.http1_only(),
        Protocol::Http2 => builder.http2_only(),
    };
    let shared = Arc::clone(shared);
    let service = service_fn(move |request: Request<Incoming>| {
        let http1 = request.version() <= Version::HTTP_11;
        let response = handler(request);
        let shared = Arc::clone(&shared);
        async move {
            let mut response = response.await;
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
