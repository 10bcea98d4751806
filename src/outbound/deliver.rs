//! Delivery to the downstream handler: one pooled HTTP client, a deadline per attempt, and the
//! classification of what came back.
//!
//! Only a 2xx answer is a delivery; every other answer, a refused connection or a missed deadline is an
//! error the proxy turns into 502/504 so that the sender retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use crate::metrics::StatusClass;
use crate::outbound::tls::{self, TrustRoots};

/// A pooled client for `http://` and `https://` handlers.
type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How much of a handler's answer is read (and discarded) so the connection can be reused.
const RESPONSE_BODY_LIMIT: usize = 64 * 1024;

/// One delivery attempt.
#[derive(Debug)]
pub struct Outbound {
    pub url: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub timeout: Duration,
    /// The roots an `https://` handler's certificate must chain to; `None`: Mozilla's root program.
    pub trust: Option<Arc<TrustRoots>>,
}

/// Why a delivery did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The handler answered, but not 2xx.
    #[error("handler answered {0}")]
    Status(StatusCode),
    /// No complete answer within the deadline.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The connection could not be made or broke.
    #[error("{0}")]
    Connection(String),
}

impl DeliveryError {
    /// The `status_class` label of this failure.
    pub fn status_class(&self) -> StatusClass {
        match self {
            DeliveryError::Status(status) => StatusClass::of(*status),
            DeliveryError::Timeout(_) => StatusClass::Timeout,
            DeliveryError::Connection(_) => StatusClass::ConnectError,
        }
    }
}

/// Posts events to handlers over shared connection pools: one trusting the public roots, one per
/// distinct CA bundle routes name.
#[derive(Clone, Debug)]
pub struct Deliverer {
    public: HttpsClient,
    /// Keyed by the bundle's content, so a reload that keeps a bundle keeps its pool. Grows only with
    /// the number of distinct bundles ever configured.
    private: Arc<Mutex<HashMap<u64, HttpsClient>>>,
}

impl Default for Deliverer {
    fn default() -> Self {
        Deliverer::new()
    }
}

impl Deliverer {
    /// Clients with keep-alive pooling (HTTP/1.1, plain HTTP or TLS).
    pub fn new() -> Deliverer {
        Deliverer {
            public: pooled_client(tls::client_config(None)),
            private: Arc::default(),
        }
    }

    fn client_for(&self, trust: Option<&TrustRoots>) -> HttpsClient {
        let Some(roots) = trust else {
            return self.public.clone();
        };
        let mut private = self.private.lock().unwrap_or_else(|e| e.into_inner());
        private
            .entry(roots.id())
            .or_insert_with(|| pooled_client(tls::client_config(Some(roots))))
            .clone()
    }

    /// POSTs one event; `Ok` carries the handler's 2xx status.
    pub async fn deliver(&self, outbound: Outbound) -> Result<StatusCode, DeliveryError> {
        let Outbound {
            url,
            headers,
            body,
            timeout,
            trust,
        } = outbound;
        let client = self.client_for(trust.as_deref());
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = url;
        *request.headers_mut() = headers;

        let attempt = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| DeliveryError::Connection(error_chain(&e)))?;
            let status = response.status();
            // Drain a bounded amount so the pooled connection stays usable; the content is not used.
            let _ = Limited::new(response.into_body(), RESPONSE_BODY_LIMIT)
                .collect()
                .await;
            Ok(status)
        };
        match tokio::time::timeout(timeout, attempt).await {
            Err(_) => Err(DeliveryError::Timeout(timeout)),
            Ok(Err(e)) => Err(e),
            Ok(Ok(status)) if status.is_success() => Ok(status),
            Ok(Ok(status)) => Err(DeliveryError::Status(status)),
        }
    }
}

fn pooled_client(tls: rustls::ClientConfig) -> HttpsClient {
    pooled_client_over(HttpConnector::new(), tls)
}

/// A pooled HTTP/1.1 client over `http` (plain or TLS, by the URI's scheme), keeping idle connections
/// for 30 s: what deliveries and signed-URL fetches share.
pub(crate) fn pooled_client_over<R, B>(
    mut http: HttpConnector<R>,
    tls: rustls::ClientConfig,
) -> Client<HttpsConnector<HttpConnector<R>>, B>
where
    R: Clone,
    HttpsConnector<HttpConnector<R>>: hyper_util::client::legacy::connect::Connect + Clone,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    http.set_nodelay(true);
    // The TLS connector wraps it: it must accept https:// URIs too (the caller decides which schemes
    // it lets through).
    http.enforce_http(false);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

/// An error and its sources, `: `-separated.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
