//! The admin listener's endpoints: `GET /metrics` (Prometheus text), `/healthz` (alive) and `/readyz`
//! (serving, not draining).

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::error::json_response;
use crate::reload::Shared;

/// Serves the admin endpoints.
#[derive(Clone)]
pub struct Admin {
    metrics: PrometheusHandle,
    shared: Arc<Shared>,
}

impl Admin {
    /// Admin endpoints rendering `metrics` and reporting on `shared`.
    pub fn new(metrics: PrometheusHandle, shared: Arc<Shared>) -> Admin {
        Admin { metrics, shared }
    }

    /// Handles one admin request.
    pub fn handle<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let body = serde_json::json!({ "error": "method_not_allowed", "message": "only GET is accepted" });
            return json_response(StatusCode::METHOD_NOT_ALLOWED, &body);
        }
        match request.uri().path() {
            "/metrics" => {
                let mut response = Response::new(Full::new(Bytes::from(self.metrics.render())));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            "/healthz" => json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" })),
            "/readyz" if self.shared.is_draining() => json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({ "status": "draining" }),
            ),
            "/readyz" => {
                let state = self.shared.load();
                let routes: Vec<&str> = state
                    .config
                    .routes
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect();
                json_response(
                    StatusCode::OK,
                    &serde_json::json!({ "status": "ready", "routes": routes }),
                )
            }
            _ => {
                let body = serde_json::json!({ "error": "not_found", "message": "try /metrics, /healthz or /readyz" });
                json_response(StatusCode::NOT_FOUND, &body)
            }
        }
    }
}
