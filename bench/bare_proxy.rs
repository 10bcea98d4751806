//! The baseline of the load benchmark: a bare hyper pass-through proxy doing what hookshift does on
//! the network and nothing else. It reads the request body in full (hookshift must, to verify it),
//! POSTs it to the downstream with the same pooled client settings as `hookshift::deliver`
//! (hyper-util legacy client, HTTP/1.1 keep-alive, TCP_NODELAY), drains the answer and replies with
//! the downstream's status. No signature, no JSON, no metrics, no logs.
//!
//! `cargo run --release --example bench_bare_proxy -- 127.0.0.1:18001 http://127.0.0.1:18000/webhooks`

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// The same allocator as the hookshift binary, so that the baseline is not slower for that alone.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Upstream {
    client: Client<HttpConnector, Full<Bytes>>,
    url: Uri,
}

async fn pass(
    upstream: Arc<Upstream>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let mut outbound = Request::new(Full::new(body));
    *outbound.method_mut() = parts.method;
    *outbound.uri_mut() = upstream.url.clone();
    for name in [http::header::CONTENT_TYPE, http::header::USER_AGENT] {
        if let Some(value) = parts.headers.get(&name) {
            outbound.headers_mut().insert(name, value.clone());
        }
    }
    for name in ["x-extend-request-timestamp", "x-extend-request-signature"] {
        if let Some(value) = parts.headers.get(name) {
            outbound.headers_mut().insert(name, value.clone());
        }
    }
    match upstream.client.request(outbound).await {
        Ok(response) => {
            let code = response.status();
            let _ = response.into_body().collect().await;
            Ok(status(code))
        }
        Err(_) => Ok(status(StatusCode::BAD_GATEWAY)),
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(br#"{"status":"delivered"}"#)));
    *response.status_mut() = code;
    response
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:18001".to_owned());
    let url: Uri = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18000/webhooks".to_owned())
        .parse()
        .expect("downstream URL");
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector);
    let upstream = Arc::new(Upstream { client, url });
    let listener = TcpListener::bind(&address).await?;
    eprintln!("bare proxy listening on {address}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let upstream = Arc::clone(&upstream);
        tokio::spawn(async move {
            let service = service_fn(move |request| pass(Arc::clone(&upstream), request));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
