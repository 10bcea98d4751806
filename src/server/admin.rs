//! The admin listener's endpoints: `GET /metrics` (Prometheus text), `/healthz` (alive), `/readyz`
//! (serving, not draining) and `/status` (where the migration stands, read from the ledger: an HTML
//! page, or JSON with `Accept: application/json`).

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::ledger::history::Recorder;
use crate::pipeline::error::json_response;
use crate::reload::Shared;

/// Serves the admin endpoints.
#[derive(Clone)]
pub struct Admin {
    metrics: PrometheusHandle,
    shared: Arc<Shared>,
    /// The migration's history (none when the ledger is off).
    history: Option<Arc<Recorder>>,
}

impl Admin {
    /// Admin endpoints rendering `metrics` and reporting on `shared`.
    pub fn new(metrics: PrometheusHandle, shared: Arc<Shared>) -> Admin {
        Admin {
            metrics,
            shared,
            history: None,
        }
    }

    /// The same, with `/status` reading `history`.
    pub fn with_history(mut self, history: Option<Arc<Recorder>>) -> Admin {
        self.history = history;
        self
    }

    /// Handles one admin request, `/status` included.
    pub async fn respond<B>(&self, request: Request<B>) -> Response<Full<Bytes>> {
        let get = request.method() == Method::GET || request.method() == Method::HEAD;
        if !get || request.uri().path() != "/status" {
            return self.handle(&request);
        }
        let json = request
            .headers()
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/json"));
        self.status(json).await
    }

    /// `/status`: this process's counts written first, then the ledger's history read.
    async fn status(&self, json: bool) -> Response<Full<Bytes>> {
        let state = self.shared.load();
        if let Some(history) = &self.history {
            history.flush_logged().await;
        }
        let store = self.history.as_deref().map(Recorder::store);
        let now = crate::ledger::now_ms();
        let status = match crate::status::collect(&state.config, store, None, now).await {
            Ok(status) => status,
            Err(error) => {
                let body = serde_json::json!({ "error": "ledger_unavailable", "message": error.to_string() });
                return json_response(StatusCode::SERVICE_UNAVAILABLE, &body);
            }
        };
        if json {
            let body = serde_json::to_value(&status).unwrap_or_default();
            return json_response(StatusCode::OK, &body);
        }
        let mut response =
            Response::new(Full::new(Bytes::from(crate::status::html::render(&status))));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
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
                let body = serde_json::json!({ "error": "not_found", "message": "try /metrics, /healthz, /readyz or /status" });
                json_response(StatusCode::NOT_FOUND, &body)
            }
        }
    }
}
