//! Delivery to the downstream handler: one pooled HTTP client, a deadline per attempt, and the
//! classification of what came back.
//!
//! Only a 2xx answer is a delivery; every other answer, a refused connection or a missed deadline is an
//! error the proxy turns into 502/504 so that the sender retries.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use crate::metrics::StatusClass;

/// How much of a handler's answer is read (and discarded) so the connection can be reused.
const RESPONSE_BODY_LIMIT: usize = 64 * 1024;

/// One delivery attempt.
#[derive(Debug)]
pub struct Outbound {
    pub url: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub timeout: Duration,
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

/// Posts events to handlers over a shared connection pool.
#[derive(Clone, Debug)]
pub struct Deliverer {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Deliverer {
    fn default() -> Self {
        Deliverer::new()
    }
}

impl Deliverer {
    /// A client with keep-alive pooling (HTTP/1.1, plain HTTP).
    pub fn new() -> Deliverer {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Deliverer { client }
    }

    /// POSTs one event; `Ok` carries the handler's 2xx status.
    pub async fn deliver(&self, outbound: Outbound) -> Result<StatusCode, DeliveryError> {
        let Outbound {
            url,
            headers,
            body,
            timeout,
        } = outbound;
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = url;
        *request.headers_mut() = headers;

        let attempt = async {
            let response = self
                .client
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

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
