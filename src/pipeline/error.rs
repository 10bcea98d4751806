//! Request errors and the one place that maps them to HTTP statuses, JSON bodies and metric outcomes.
//!
//! Every refusal is answered `{"error":"<code>","message":"<what went wrong>"}`. Messages name the
//! problem (a header, a version, a mapping path) and never carry payload data or secrets.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::metrics::{Outcome, ShedReason};
use crate::pipeline::budget::ReadError;
use crate::provider::SignatureError;

/// Why a webhook request was not (or not successfully) delivered.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no route serves this path")]
    NoRoute,
    #[error("only POST is accepted")]
    MethodNotAllowed,
    #[error("request body exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("request body was not received within {ms} ms")]
    BodyTimeout { ms: u64 },
    #[error("request body could not be read: {0}")]
    BodyRead(String),
    #[error("too many request bodies are being received; retry later")]
    Overloaded(ShedReason),
    #[error("signature verification failed: {0}")]
    Unauthorized(#[from] SignatureError),
    #[error("{0}")]
    InvalidJson(String),
    #[error("body is not an event: {0}")]
    NotAnEvent(String),
    #[error("no policy is configured for API version {version:?}")]
    UnknownVersion { version: String },
    #[error("events from API version {version:?} are rejected at this stage")]
    Rejected { version: String },
    #[error("no mapping covers event type {event_type:?} from {from} to {to}")]
    Unmapped {
        event_type: String,
        from: String,
        to: String,
    },
    #[error("translation failed: {0}")]
    TranslationFailed(String),
    #[error("the handler answered {0}")]
    DownstreamStatus(StatusCode),
    #[error("the handler could not be reached: {0}")]
    DownstreamUnreachable(String),
    #[error("the handler did not answer within {ms} ms")]
    DownstreamTimeout { ms: u64 },
    #[error("the signed-URL payload could not be fetched: {0}")]
    SignedUrlUnavailable(#[from] crate::outbound::fetch::FetchError),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("another copy of this event is being delivered now; retry later")]
    TwinInFlight,
    #[error("the ledger cannot record this acknowledgement now; retry later")]
    LedgerUnavailable,
}

impl ProxyError {
    /// The HTTP status answered to the sender. Only refusals the sender can fix are 4xx; anything that
    /// should be retried later is 4xx/5xx too, never 2xx.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ProxyError::BodyRead(_) => StatusCode::BAD_REQUEST,
            ProxyError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ProxyError::InvalidJson(_)
            | ProxyError::NotAnEvent(_)
            | ProxyError::UnknownVersion { .. } => StatusCode::BAD_REQUEST,
            ProxyError::Rejected { .. } | ProxyError::Unmapped { .. } => StatusCode::BAD_REQUEST,
            ProxyError::TranslationFailed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ProxyError::DownstreamStatus(_) | ProxyError::DownstreamUnreachable(_) => {
                StatusCode::BAD_GATEWAY
            }
            ProxyError::DownstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            // 5xx so the sender retries: each retry carries a freshly signed URL.
            ProxyError::SignedUrlUnavailable(_) => StatusCode::BAD_GATEWAY,
            ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ProxyError::TwinInFlight | ProxyError::LedgerUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The machine-readable `error` code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            ProxyError::NoRoute => "not_found",
            ProxyError::MethodNotAllowed => "method_not_allowed",
            ProxyError::TooLarge { .. } => "payload_too_large",
            ProxyError::BodyTimeout { .. } => "body_timeout",
            ProxyError::BodyRead(_) => "body_read_error",
            ProxyError::Overloaded(_) => "overloaded",
            ProxyError::Unauthorized(_) => "invalid_signature",
            ProxyError::InvalidJson(_) => "invalid_json",
            ProxyError::NotAnEvent(_) => "not_an_event",
            ProxyError::UnknownVersion { .. } => "unknown_api_version",
            ProxyError::Rejected { .. } => "version_rejected",
            ProxyError::Unmapped { .. } => "unmapped_event_type",
            ProxyError::TranslationFailed(_) => "translation_failed",
            ProxyError::DownstreamStatus(_) => "downstream_error",
            ProxyError::DownstreamUnreachable(_) => "downstream_unreachable",
            ProxyError::DownstreamTimeout { .. } => "downstream_timeout",
            ProxyError::SignedUrlUnavailable(_) => "signed_url_unavailable",
            ProxyError::Internal(_) => "internal_error",
            ProxyError::TwinInFlight => "twin_in_flight",
            ProxyError::LedgerUnavailable => "ledger_unavailable",
        }
    }

    /// The `outcome` label this error is counted under.
    pub fn outcome(&self) -> Outcome {
        match self {
            ProxyError::TooLarge { .. } => Outcome::TooLarge,
            ProxyError::Unauthorized(_) => Outcome::Unauthorized,
            ProxyError::Overloaded(_) => Outcome::Overloaded,
            ProxyError::NoRoute
            | ProxyError::MethodNotAllowed
            | ProxyError::BodyTimeout { .. }
            | ProxyError::BodyRead(_)
            | ProxyError::InvalidJson(_)
            | ProxyError::NotAnEvent(_)
            | ProxyError::UnknownVersion { .. }
            | ProxyError::Internal(_) => Outcome::Invalid,
            ProxyError::Rejected { .. } => Outcome::Rejected,
            ProxyError::Unmapped { .. } => Outcome::Unmapped,
            ProxyError::TranslationFailed(_) => Outcome::TranslationError,
            ProxyError::DownstreamStatus(_)
            | ProxyError::DownstreamUnreachable(_)
            | ProxyError::DownstreamTimeout { .. } => Outcome::DownstreamError,
            ProxyError::SignedUrlUnavailable(_) => Outcome::SignedUrlUnavailable,
            ProxyError::TwinInFlight => Outcome::TwinInFlight,
            ProxyError::LedgerUnavailable => Outcome::LedgerUnavailable,
        }
    }

    /// The response answered to the sender.
    pub fn to_response(&self) -> Response<Full<Bytes>> {
        let body = serde_json::json!({ "error": self.code(), "message": self.to_string() });
        let mut response = json_response(self.status(), &body);
        match self {
            ProxyError::MethodNotAllowed => {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            ProxyError::Overloaded(_)
            | ProxyError::TwinInFlight
            | ProxyError::LedgerUnavailable => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            _ => {}
        }
        response
    }
}

/// `Retry-After` of a 503 `overloaded` answer: buffered bodies are read within
/// `server.body_read_timeout_ms` or refused, so room comes back within seconds.
pub const RETRY_AFTER_SECS: u64 = 5;

impl From<ReadError> for ProxyError {
    fn from(error: ReadError) -> ProxyError {
        match error {
            ReadError::TooLarge { limit } => ProxyError::TooLarge { limit },
            ReadError::OverBudget(reason) => ProxyError::Overloaded(reason),
            ReadError::Timeout { ms } => ProxyError::BodyTimeout { ms },
            ReadError::Broken(message) => ProxyError::BodyRead(message),
        }
    }
}

/// A response with a JSON body.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut bytes = serde_json::to_vec(body).expect("a JSON value serializes");
    // A final newline, so that `curl` prints the answer on its own line and line-based tools read it.
    bytes.push(b'\n');
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn answers_the_sender_should_retry_carry_retry_after() {
        for error in [ProxyError::TwinInFlight, ProxyError::LedgerUnavailable] {
            let response = error.to_response();
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{error}"
            );
            assert_eq!(
                response.headers()[header::RETRY_AFTER],
                RETRY_AFTER_SECS.to_string().as_str(),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn error_body_names_the_problem() {
        let err =
            ProxyError::Unauthorized(SignatureError::MissingHeader("x-extend-request-signature"));
        let response = err.to_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.ends_with(b"}\n"), "{body:?}");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "invalid_signature");
        assert_eq!(
            json["message"],
            "signature verification failed: missing header x-extend-request-signature"
        );
    }

    #[tokio::test]
    async fn overloaded_is_503_with_retry_after() {
        let response = ProxyError::Overloaded(ShedReason::StreamedBody).to_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "overloaded");
    }

    #[test]
    fn the_sender_never_gets_2xx_for_an_error() {
        let all = [
            ProxyError::NoRoute,
            ProxyError::MethodNotAllowed,
            ProxyError::TooLarge { limit: 1 },
            ProxyError::BodyTimeout { ms: 1 },
            ProxyError::BodyRead("x".into()),
            ProxyError::Overloaded(ShedReason::DeclaredBody),
            ProxyError::Unauthorized(SignatureError::Mismatch),
            ProxyError::InvalidJson("x".into()),
            ProxyError::NotAnEvent("x".into()),
            ProxyError::UnknownVersion {
                version: "v".into(),
            },
            ProxyError::Rejected {
                version: "v".into(),
            },
            ProxyError::Unmapped {
                event_type: "e".into(),
                from: "a".into(),
                to: "b".into(),
            },
            ProxyError::TranslationFailed("x".into()),
            ProxyError::DownstreamStatus(StatusCode::INTERNAL_SERVER_ERROR),
            ProxyError::DownstreamUnreachable("x".into()),
            ProxyError::DownstreamTimeout { ms: 1 },
            ProxyError::SignedUrlUnavailable(crate::outbound::fetch::FetchError::Disabled),
            ProxyError::Internal("x".into()),
        ];
        for err in &all {
            assert!(err.status().as_u16() >= 400, "{err:?}");
        }
        assert_eq!(
            ProxyError::TooLarge { limit: 1 }.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            ProxyError::TranslationFailed("x".into()).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            ProxyError::DownstreamTimeout { ms: 1 }.status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            ProxyError::DownstreamUnreachable("x".into()).status(),
            StatusCode::BAD_GATEWAY
        );
        let unavailable =
            ProxyError::SignedUrlUnavailable(crate::outbound::fetch::FetchError::Status {
                host: "payloads.example.com".into(),
                status: StatusCode::FORBIDDEN,
            });
        assert_eq!(unavailable.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(unavailable.code(), "signed_url_unavailable");
    }
}
