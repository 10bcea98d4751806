//! `hookshift send`: signs an event file as the provider would and POSTs it, the way an operator tests
//! a running stage (`hookshift send event.json --to https://hooks.example.com/webhooks/extend
//! --secret env:EXTEND_WEBHOOK_SECRET --api-version 2026-02-09`).

use std::{path::PathBuf, time::Duration};

use bytes::Bytes;
use clap::Args;
use http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;

use super::sign::{provider_arg, provider_secret};
use super::{read_input, CliError};
use crate::provider::{self, Provider};

/// How much of the answer is read and printed.
const ANSWER_LIMIT: usize = 64 * 1024;

/// Options of `send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The exact body to sign and send; `-` reads standard input.
    pub input: PathBuf,
    /// Where to POST: `http://` or `https://` URL (a hookshift route, or a handler).
    #[arg(long)]
    pub to: String,
    /// Signing secret, inline or `env:VAR_NAME`: the sending endpoint's secret.
    #[arg(long)]
    pub secret: String,
    /// Signature scheme: `extend`, `plextera` or `standard` (Standard Webhooks; its secret is
    /// `whsec_<base64>`).
    #[arg(long, default_value = "extend", value_parser = provider_arg)]
    pub provider: Provider,
    /// The message id a Standard Webhooks signature covers (`webhook-id`): send the same id again
    /// to act as the sender's retry. Defaults to one derived from the timestamp and the body.
    #[arg(long)]
    pub id: Option<String>,
    /// Sending endpoint's API version, added to the URL as `?api_version=V` (Extend's second
    /// endpoint carries it); omitted: the route's `default_version` applies.
    #[arg(long)]
    pub api_version: Option<String>,
    /// Name of that query parameter (a route's `version_param`).
    #[arg(long, default_value = "api_version")]
    pub version_param: String,
    /// Signature timestamp (unix seconds); defaults to now.
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// Deadline for the whole exchange.
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

/// `hookshift send`: the answer's status line and body when it is 2xx, else [`CliError::Answered`].
pub async fn send_command(args: &SendArgs) -> Result<String, CliError> {
    let secret = provider_secret(args.provider, &args.secret)?;
    let url = target_url(&args.to, args.api_version.as_deref(), &args.version_param)?;
    let (_, body) = read_input(&args.input)?;
    let timestamp = args.timestamp.unwrap_or_else(crate::clock::system_clock);

    let mut request = Request::new(Full::new(Bytes::from(body.clone())));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = url.clone();
    let headers = request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let id = args.id.as_deref();
    for (name, value) in provider::sign_event(args.provider, &secret, timestamp, id, &body) {
        headers.insert(name, value);
    }

    let client = crate::outbound::deliver::pooled_client_over::<_, Full<Bytes>>(
        HttpConnector::new(),
        crate::outbound::tls::client_config(None),
    );
    let timeout = Duration::from_millis(args.timeout_ms);
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| crate::outbound::deliver::error_chain(&e))?;
        let status = response.status();
        let answer = Limited::new(response.into_body(), ANSWER_LIMIT)
            .collect()
            .await
            .map(|body| body.to_bytes())
            .map_err(|e| format!("reading the answer: {e}"))?;
        Ok::<_, String>((status, answer))
    };
    let (status, answer) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| CliError::Send {
            url: redacted(&url),
            reason: format!("no answer within {} ms", args.timeout_ms),
        })?
        .map_err(|reason| CliError::Send {
            url: redacted(&url),
            reason,
        })?;
    let answer = String::from_utf8_lossy(&answer).trim_end().to_owned();
    if status.is_success() {
        Ok(format!("{}\n{answer}", status_line(status)))
    } else {
        Err(CliError::Answered {
            status: status_line(status),
            body: answer,
        })
    }
}

fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
    .trim_end()
    .to_owned()
}

/// `to` with the version parameter added (kept with any query it already has).
fn target_url(to: &str, version: Option<&str>, param: &str) -> Result<Uri, CliError> {
    let bad = |reason: String| CliError::Url {
        url: to.to_owned(),
        reason,
    };
    let mut url = url::Url::parse(to).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://".to_owned()));
    }
    if let Some(version) = version {
        url.query_pairs_mut().append_pair(param, version);
    }
    url.as_str()
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(e.to_string()))
}

/// The URL as errors print it: scheme, host and path, no query.
fn redacted(url: &Uri) -> String {
    format!(
        "{}://{}{}",
        url.scheme_str().unwrap_or("http"),
        url.authority().map(|a| a.as_str()).unwrap_or_default(),
        url.path()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    type Seen = Arc<Mutex<Vec<(Uri, http::HeaderMap, Bytes)>>>;

    /// A handler on 127.0.0.1:0 that records each request and answers `status` with `body`.
    async fn handler(status: u16, body: &'static str) -> (String, Seen) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen: Seen = Arc::default();
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let record = Arc::clone(&record);
                        async move {
                            let (parts, incoming) = request.into_parts();
                            let bytes = incoming.collect().await.unwrap().to_bytes();
                            record
                                .lock()
                                .unwrap()
                                .push((parts.uri, parts.headers, bytes));
                            let mut response = http::Response::new(Full::new(Bytes::from(body)));
                            *response.status_mut() = StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (format!("http://{address}/webhooks/extend"), seen)
    }

    fn args(input: PathBuf, to: String, version: Option<&str>) -> SendArgs {
        SendArgs {
            input,
            to,
            secret: "wss_send".into(),
            provider: Provider::Extend,
            api_version: version.map(str::to_owned),
            version_param: "api_version".into(),
            timestamp: None,
            id: None,
            timeout_ms: 5_000,
        }
    }

    const BODY: &[u8] = br#"{"eventId":"evt_1","eventType":"file.processed","payload":{"id":"f"}}"#;

    fn event() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, BODY).unwrap();
        (dir, path)
    }

    #[tokio::test]
    async fn posts_the_exact_bytes_signed_with_the_version_in_the_query() {
        let (url, seen) = handler(200, "{\"status\":\"delivered\"}\n").await;
        let (_dir, input) = event();
        let out = send_command(&args(input, url, Some("2026-02-09")))
            .await
            .unwrap();
        assert_eq!(out, "200 OK\n{\"status\":\"delivered\"}");

        let seen = seen.lock().unwrap();
        let (uri, headers, body) = &seen[0];
        assert_eq!(uri.path(), "/webhooks/extend");
        assert_eq!(uri.query(), Some("api_version=2026-02-09"));
        assert_eq!(body.as_ref(), BODY);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let secrets = [crate::config::Secret::inline("wss_send")];
        let params = provider::VerifyParams {
            provider: Provider::Extend,
            secrets: &secrets,
            tolerance_secs: 300,
            now: crate::clock::system_clock(),
        };
        provider::verify(params, headers, body.clone())
            .expect("hookshift verifies what send signs");
    }

    #[tokio::test]
    async fn standard_webhooks_sends_under_the_given_id_and_refuses_a_non_whsec_secret() {
        let (url, seen) = handler(200, "{\"status\":\"delivered\"}\n").await;
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("event.json");
        let body =
            br#"{"type":"invoice.paid","timestamp":"2026-03-02T09:15:00Z","data":{"id":"in_1"}}"#;
        std::fs::write(&input, body).unwrap();
        let secret = "whsec_c2VuZC1rZXk=";
        let standard = |secret: &str| SendArgs {
            secret: secret.into(),
            provider: Provider::Standard,
            id: Some("msg_cli_send".into()),
            ..args(input.clone(), url.clone(), Some("v1"))
        };
        send_command(&standard(secret)).await.unwrap();
        {
            let seen = seen.lock().unwrap();
            let (_, headers, sent) = &seen[0];
            assert_eq!(sent.as_ref(), body.as_slice());
            assert_eq!(headers["webhook-id"], "msg_cli_send");
            let secrets = [crate::config::Secret::inline(secret)];
            let params = provider::VerifyParams {
                provider: Provider::Standard,
                secrets: &secrets,
                tolerance_secs: 300,
                now: crate::clock::system_clock(),
            };
            let verified = provider::verify(params, headers, sent.clone()).unwrap();
            assert_eq!(verified.signed_id(), Some("msg_cli_send"));
        }
        // A secret that is not whsec_ base64 is refused before anything is sent, never quoted.
        let err = send_command(&standard("wss_send")).await.unwrap_err();
        assert!(err.to_string().contains("whsec_"), "{err}");
        assert!(!err.to_string().contains("wss_send"), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_refusal_is_an_error_carrying_the_answer() {
        let (url, seen) = handler(400, "{\"error\":\"version_rejected\"}\n").await;
        let (_dir, input) = event();
        let err = send_command(&args(input, format!("{url}?x=1"), None))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "answered 400 Bad Request: {\"error\":\"version_rejected\"}"
        );
        assert_eq!(seen.lock().unwrap()[0].0.query(), Some("x=1"));
    }

    #[tokio::test]
    async fn unreachable_and_bad_urls_are_named_without_their_query() {
        let (_dir, input) = event();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = format!("http://{}/h?token=hidden", listener.local_addr().unwrap());
        drop(listener);
        let err = send_command(&args(input.clone(), closed, None))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot POST to http://127.0.0.1:"), "{err}");
        assert!(!err.contains("hidden"), "{err}");
        let err = send_command(&args(input, "ftp://example.com/".into(), None))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--to ftp://example.com/: must start with http:// or https://"
        );
    }
}
