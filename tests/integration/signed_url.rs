//! Signed-URL payloads: fetched from a local server and translated when the versions differ, passed
//! through when they match, every failure answered 502 `signed_url_unavailable` with nothing
//! delivered; and envelope holes answered 400 `not_an_event` on both paths.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::{net::TcpListener, task::JoinHandle};

use crate::support::*;

/// How the payload server answers one path.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    body: Bytes,
    /// `Location` header (redirects).
    location: Option<String>,
    delay: Duration,
    /// Send the body chunked, without a `Content-Length`.
    chunked: bool,
}

impl Reply {
    fn json(value: &Value) -> Reply {
        Reply::raw(200, serde_json::to_vec(value).unwrap())
    }

    fn raw(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            body: body.into(),
            location: None,
            delay: Duration::ZERO,
            chunked: false,
        }
    }

    fn redirect(location: String) -> Reply {
        Reply {
            location: Some(location),
            ..Reply::raw(302, "")
        }
    }
}

/// One GET the payload server received.
#[derive(Clone, Debug)]
struct Fetch {
    method: String,
    path_and_query: String,
    headers: HeaderMap,
}

/// A body sent in one chunk of unknown length (so the response is chunked).
struct Chunked(Option<Bytes>);

impl Body for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|bytes| Ok(Frame::data(bytes))))
    }
}

type AnyBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// An HTTP server on 127.0.0.1:0 hosting payloads by path, as the sender's storage would.
struct PayloadServer {
    addr: SocketAddr,
    replies: Arc<Mutex<HashMap<String, Reply>>>,
    fetches: Arc<Mutex<Vec<Fetch>>>,
    task: JoinHandle<()>,
}

impl PayloadServer {
    async fn start() -> PayloadServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let replies: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let fetches: Arc<Mutex<Vec<Fetch>>> = Arc::default();
        let (reps, seen) = (Arc::clone(&replies), Arc::clone(&fetches));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (reps, seen) = (Arc::clone(&reps), Arc::clone(&seen));
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (reps, seen) = (Arc::clone(&reps), Arc::clone(&seen));
                        async move {
                            let path = request.uri().path().to_owned();
                            seen.lock().unwrap().push(Fetch {
                                method: request.method().to_string(),
                                path_and_query: request
                                    .uri()
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default(),
                                headers: request.headers().clone(),
                            });
                            let reply = reps
                                .lock()
                                .unwrap()
                                .get(&path)
                                .cloned()
                                .unwrap_or_else(|| Reply::raw(404, "no such payload"));
                            tokio::time::sleep(reply.delay).await;
                            let body: AnyBody = if reply.chunked {
                                Chunked(Some(reply.body)).boxed()
                            } else {
                                http_body_util::Full::new(reply.body).boxed()
                            };
                            let mut response = Response::new(body);
                            *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
                            if let Some(location) = reply.location {
                                response
                                    .headers_mut()
                                    .insert("location", location.parse().unwrap());
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        PayloadServer {
            addr,
            replies,
            fetches,
            task,
        }
    }

    /// Hosts `reply` at `path`; returns its signed-looking URL (the query plays the signature).
    fn host(&self, path: &str, reply: Reply) -> String {
        self.replies.lock().unwrap().insert(path.to_owned(), reply);
        format!(
            "http://{}{path}?X-Amz-Signature=sig_secret_value",
            self.addr
        )
    }

    fn fetches(&self) -> Vec<Fetch> {
        self.fetches.lock().unwrap().clone()
    }
}

impl Drop for PayloadServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The 2025-04-21 EXTRACT run the test mappings translate, as the signed URL serves it.
fn old_extract_payload(id: &str) -> Value {
    json!({
        "object": "document_processor_run",
        "id": id,
        "type": "EXTRACT",
        "output": {"amount": 12.5, "lines": [{"n": 1}]},
        "metadata": {"tenant": "t1"}
    })
}

/// An event whose payload is Extend SDK's signed-URL object.
fn sdk_envelope(event_type: &str, url: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "eventId": "evt_signed_1",
        "eventType": event_type,
        "payload": {"object": "signed_data_url", "data": url, "id": "dpr_1", "metadata": {"tenant": "t1"}}
    }))
    .unwrap()
}

/// An event whose payload is the docs example's `{"data": URL}`.
fn docs_envelope(event_type: &str, url: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "eventId": "evt_signed_2",
        "eventType": event_type,
        "payload": {"data": url}
    }))
    .unwrap()
}

fn signed_route(name: &str, signed_url_toml: &str) -> RouteSpec {
    RouteSpec::extend(name).with_toml(&format!("[routes.signed_url]\n{signed_url_toml}"))
}

/// A route that may fetch from the payload server (127.0.0.1 allowed).
fn local_route(name: &str) -> RouteSpec {
    signed_route(name, "allow_hosts = [\"127.0.0.1\"]\ntimeout_ms = 1000\n")
}

/// The routes, in front of the harness's downstream, with the test mappings.
async fn start(routes: Vec<RouteSpec>) -> Harness {
    let mut routes = routes.into_iter();
    let mut setup = Harness::setup(routes.next().expect("at least one route"));
    for route in routes {
        setup = setup.route(route);
    }
    setup.start().await
}

fn fetches(page: &str, route: &str, result: &str) -> f64 {
    metric_sum(
        page,
        "hookshift_signed_url_fetches_total",
        &[("route", route), ("result", result)],
    )
}

#[tokio::test]
async fn both_forms_are_fetched_translated_and_delivered_inline() {
    let payloads = PayloadServer::start().await;
    let Harness { hs, down, .. } = start(vec![local_route("signed_ok")]).await;
    let path = format!("/hooks/signed_ok?api_version={OLD}");

    let url = payloads.host("/p/sdk", Reply::json(&old_extract_payload("dpr_1")));
    let body = sdk_envelope("processor_run.processed", &url);
    let answer = post_signed(&hs, &path, IN_SECRET, &body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let url = payloads.host("/p/docs", Reply::json(&old_extract_payload("dpr_2")));
    let body = docs_envelope("processor_run.processed", &url);
    let answer = post_signed(&hs, &path, IN_SECRET, &body).await;
    assert_eq!(answer.status, 200, "{answer:?}");

    let delivered = down.wait_for(2).await;
    for (request, (event_id, run_id)) in delivered
        .iter()
        .zip([("evt_signed_1", "dpr_1"), ("evt_signed_2", "dpr_2")])
    {
        request.assert_signed(hookshift::provider::Provider::Extend, OUT_SECRET);
        let event = request.json();
        // The event the SDK would have rebuilt, translated: the full payload inline.
        assert_eq!(event["eventId"], event_id);
        assert_eq!(event["eventType"], "extract_run.processed");
        let payload = &event["payload"];
        assert_eq!(payload["object"], "extract_run");
        assert_eq!(payload["id"], run_id);
        assert_eq!(
            payload["output"],
            json!({"amount": 12.5, "lines": [{"n": 1}]})
        );
        assert_eq!(payload["metadata"], json!({"tenant": "t1"}));
        assert!(payload.get("data").is_none() && payload.get("type").is_none());
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["eventId", "eventType", "payload"]);
    }
    // Plain GETs, no credentials of any kind, the signed query sent as given.
    let seen = payloads.fetches();
    assert_eq!(seen.len(), 2);
    for fetch in &seen {
        assert_eq!(fetch.method, "GET");
        assert!(fetch.headers.get("authorization").is_none());
        assert!(fetch.headers.get("x-extend-request-signature").is_none());
        assert!(fetch
            .path_and_query
            .ends_with("?X-Amz-Signature=sig_secret_value"));
    }
    let page = hs.metrics().await;
    assert_eq!(fetches(&page, "signed_ok", "ok"), 2.0, "{page}");
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_signed_url_fetch_duration_seconds_count",
            &[("route", "signed_ok")]
        ),
        2.0
    );
}

#[tokio::test]
async fn every_series_exists_at_zero_from_start() {
    let Harness {
        hs, down: _down, ..
    } = start(vec![local_route("signed_zero")]).await;
    let page = hs.metrics().await;
    for result in [
        "ok",
        "disabled",
        "invalid_url",
        "refused_host",
        "too_many_redirects",
        "timeout",
        "status",
        "too_large",
        "invalid_json",
        "connect_error",
    ] {
        assert!(
            has_series(
                &page,
                "hookshift_signed_url_fetches_total",
                &[("route", "signed_zero"), ("result", result)]
            ),
            "{result}: {page}"
        );
        assert_eq!(fetches(&page, "signed_zero", result), 0.0);
    }
    assert!(
        has_series(
            &page,
            "hookshift_signed_url_fetch_duration_seconds_count",
            &[("route", "signed_zero")]
        ),
        "{page}"
    );
}

#[tokio::test]
async fn a_fetched_payload_is_held_in_the_body_budget_and_shed_when_it_does_not_fit() {
    let payloads = PayloadServer::start().await;
    // The smallest budget allowed (twice max_body_bytes, 64 KiB): a 40 KB fetched payload needs
    // (1 + TRANSLATION_FACTOR) x 40 KB, more than the budget holds, though the fetch itself fits.
    let Harness { hs, down, .. } = Harness::setup(local_route("signed_budget"))
        .config(|c| c.extra_server = format!("max_buffered_bytes = {}", 2 * c.max_body_bytes))
        .start()
        .await;
    let page = hs.metrics().await;
    assert!(
        has_series(
            &page,
            "hookshift_requests_shed_total",
            &[("route", "signed_budget"), ("reason", "signed_url")]
        ),
        "{page}"
    );
    let path = format!("/hooks/signed_budget?api_version={OLD}");

    let mut large = old_extract_payload("dpr_large");
    large["output"]["text"] = json!("x".repeat(40_000));
    let url = payloads.host("/p/large", Reply::json(&large));
    let answer = post_signed(
        &hs,
        &path,
        IN_SECRET,
        &sdk_envelope("processor_run.processed", &url),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (503, "overloaded"),
        "{answer:?}"
    );
    assert_eq!(
        payloads.fetches().len(),
        1,
        "refused after the fetch, by its size"
    );

    // A payload that fits is delivered, and the large one's reservation was given back.
    let url = payloads.host("/p/small", Reply::json(&old_extract_payload("dpr_small")));
    let answer = post_signed(
        &hs,
        &path,
        IN_SECRET,
        &sdk_envelope("processor_run.processed", &url),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let delivered = down.wait_for(1).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].json()["payload"]["id"], "dpr_small");

    let page = hs.metrics().await;
    let shed = |reason| {
        metric_sum(
            &page,
            "hookshift_requests_shed_total",
            &[("route", "signed_budget"), ("reason", reason)],
        )
    };
    assert_eq!(shed("signed_url"), 1.0, "{page}");
    assert_eq!(shed("translation"), 0.0, "{page}");
    assert_eq!(fetches(&page, "signed_budget", "ok"), 2.0, "{page}");
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn matching_versions_pass_the_envelope_through_untouched() {
    let payloads = PayloadServer::start().await;
    let off = signed_route("signed_pass_off", "resolve = false\n");
    let Harness { hs, down, .. } = start(vec![local_route("signed_pass"), off]).await;

    let url = payloads.host("/p/new", Reply::json(&json!({"object": "extract_run"})));
    let body = sdk_envelope("extract_run.processed", &url);
    for route in ["signed_pass", "signed_pass_off"] {
        let path = format!("/hooks/{route}?api_version={NEW}");
        let answer = post_signed(&hs, &path, IN_SECRET, &body).await;
        assert_eq!(answer.status, 200, "{route}: {answer:?}");
    }
    let delivered = down.wait_for(2).await;
    for request in &delivered {
        assert_eq!(request.body.as_ref(), body.as_slice(), "exact bytes");
        request.assert_signed(hookshift::provider::Provider::Extend, OUT_SECRET);
    }
    assert!(payloads.fetches().is_empty(), "nothing fetched");
}

#[tokio::test]
async fn resolve_false_answers_502_when_translation_is_needed() {
    let payloads = PayloadServer::start().await;
    let Harness { hs, down, .. } =
        start(vec![signed_route("signed_off", "resolve = false\n")]).await;
    let url = payloads.host("/p/x", Reply::json(&old_extract_payload("dpr_1")));
    let path = format!("/hooks/signed_off?api_version={OLD}");
    let answer = post_signed(
        &hs,
        &path,
        IN_SECRET,
        &sdk_envelope("processor_run.processed", &url),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (502, "signed_url_unavailable"),
        "{answer:?}"
    );
    assert!(answer.json["message"]
        .as_str()
        .unwrap()
        .contains("resolve = false"));
    assert!(payloads.fetches().is_empty());
    assert!(down.requests().is_empty());
    let page = hs.metrics().await;
    assert_eq!(fetches(&page, "signed_off", "disabled"), 1.0, "{page}");
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_events_total",
            &[
                ("route", "signed_off"),
                ("outcome", "signed_url_unavailable")
            ]
        ),
        1.0
    );
}

#[tokio::test]
async fn ack_and_reject_policies_fetch_nothing() {
    let payloads = PayloadServer::start().await;
    let route = local_route("signed_policy")
        .policy(OLD, "reject")
        .policy(NEW, "ack");
    let Harness { hs, down, .. } = start(vec![route]).await;
    let url = payloads.host("/p/x", Reply::json(&old_extract_payload("dpr_1")));
    let body = sdk_envelope("processor_run.processed", &url);
    let old = post_signed(
        &hs,
        &format!("/hooks/signed_policy?api_version={OLD}"),
        IN_SECRET,
        &body,
    )
    .await;
    assert_eq!((old.status, old.error()), (400, "version_rejected"));
    let new = post_signed(
        &hs,
        &format!("/hooks/signed_policy?api_version={NEW}"),
        IN_SECRET,
        &body,
    )
    .await;
    assert_eq!(new.status, 200);
    assert!(payloads.fetches().is_empty());
    assert!(down.requests().is_empty());
}

/// Posts a signed-URL event from the old version to `route` and expects 502 with `result` counted.
async fn assert_unavailable(
    hs: &Hookshift,
    route: &str,
    url: &str,
    needle: &str,
) -> serde_json::Value {
    let path = format!("/hooks/{route}?api_version={OLD}");
    let answer = post_signed(
        hs,
        &path,
        IN_SECRET,
        &sdk_envelope("processor_run.processed", url),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (502, "signed_url_unavailable"),
        "{url}: {answer:?}"
    );
    let message = answer.json["message"].as_str().unwrap().to_owned();
    assert!(message.contains(needle), "{url}: {message}");
    // A signed URL is a credential: the answer names the host at most.
    assert!(
        !message.contains("sig_secret_value") && !message.contains("/p/"),
        "{message}"
    );
    answer.json
}

#[tokio::test]
async fn every_fetch_failure_is_502_and_nothing_is_delivered() {
    let payloads = PayloadServer::start().await;
    let strict = signed_route("signed_strict", "timeout_ms = 1000\n");
    let Harness { hs, down, .. } = start(vec![local_route("signed_fail"), strict]).await;
    let port = payloads.addr.port();

    // No allow_hosts: only public https hosts. Plain http, a loopback literal, a name resolving to
    // loopback, the cloud metadata address: all refused before any byte is sent.
    let good = payloads.host("/p/good", Reply::json(&old_extract_payload("dpr_1")));
    assert_unavailable(&hs, "signed_strict", &good, "only https://").await;
    for url in [
        format!("https://127.0.0.1:{port}/p/good?X-Amz-Signature=sig_secret_value"),
        format!("https://localhost:{port}/p/good?X-Amz-Signature=sig_secret_value"),
        "https://169.254.169.254/p/latest?X-Amz-Signature=sig_secret_value".to_owned(),
        format!("https://[::ffff:127.0.0.1]:{port}/p/good"),
    ] {
        assert_unavailable(&hs, "signed_strict", &url, "refused").await;
    }
    assert!(
        payloads.fetches().is_empty(),
        "refused hosts were contacted"
    );

    // allow_hosts = ["127.0.0.1"]: the payload server may be fetched, but nothing it serves badly
    // is delivered.
    let slow = payloads.host(
        "/p/slow",
        Reply {
            delay: Duration::from_secs(3),
            ..Reply::json(&old_extract_payload("dpr_1"))
        },
    );
    let large = serde_json::to_vec(&json!({"id": "dpr_1", "pad": "x".repeat(70_000)})).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (slow, "did not answer within 1000 ms"),
        (
            payloads.host("/p/missing-is-404", Reply::raw(404, "gone")),
            "answered 404",
        ),
        (
            payloads.host("/p/broken", Reply::raw(500, "oops")),
            "answered 500",
        ),
        (
            payloads.host("/p/expired", Reply::raw(403, "<Error>AccessDenied</Error>")),
            "answered 403",
        ),
        (
            payloads.host("/p/large", Reply::raw(200, large.clone())),
            "exceeds 65536 bytes",
        ),
        (
            payloads.host(
                "/p/large-chunked",
                Reply {
                    chunked: true,
                    ..Reply::raw(200, large)
                },
            ),
            "exceeds 65536 bytes",
        ),
        (
            payloads.host("/p/html", Reply::raw(200, "<html>no</html>")),
            "not acceptable JSON",
        ),
        (
            payloads.host("/p/dup", Reply::raw(200, r#"{"id":"a","id":"b"}"#)),
            "repeats the key",
        ),
        (
            payloads.host("/p/array", Reply::raw(200, "[1,2]")),
            "not a non-empty object",
        ),
        (
            payloads.host("/p/empty", Reply::raw(200, "{}")),
            "not a non-empty object",
        ),
        (
            payloads.host(
                "/p/nested",
                Reply::json(&json!({"object": "signed_data_url", "data": "http://127.0.0.1/x"})),
            ),
            "itself a signed URL",
        ),
        (
            payloads.host(
                "/p/to-localhost",
                Reply::redirect(format!("http://localhost:{port}/p/good")),
            ),
            "not in signed_url.allow_hosts",
        ),
        (
            payloads.host("/p/loop", Reply::redirect("/p/loop?again=1".to_owned())),
            "more than 5 redirects",
        ),
        (
            format!(
                "{}?X-Amz-Signature=sig_secret_value",
                closed_port_url().await
            ),
            "could not be reached",
        ),
        ("not a url".to_owned(), "not an absolute URL"),
    ];
    for (url, needle) in &cases {
        assert_unavailable(&hs, "signed_fail", url, needle).await;
    }
    assert!(
        down.requests().is_empty(),
        "an unresolved event was delivered"
    );
    // The redirect to a refused host was not followed.
    assert!(!payloads
        .fetches()
        .iter()
        .any(|f| f.path_and_query == "/p/good"));

    let page = hs.metrics().await;
    assert_eq!(
        fetches(&page, "signed_strict", "refused_host"),
        5.0,
        "{page}"
    );
    for (result, count) in [
        ("timeout", 1.0),
        ("status", 3.0),
        ("too_large", 2.0),
        ("invalid_json", 5.0),
        ("refused_host", 1.0),
        ("too_many_redirects", 1.0),
        ("connect_error", 1.0),
        ("invalid_url", 1.0),
        ("ok", 0.0),
    ] {
        assert_eq!(
            fetches(&page, "signed_fail", result),
            count,
            "{result}: {page}"
        );
    }
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_events_total",
            &[
                ("route", "signed_fail"),
                ("outcome", "signed_url_unavailable")
            ]
        ),
        cases.len() as f64
    );
}

#[tokio::test]
async fn https_payload_hosts_must_present_a_trusted_certificate() {
    // Its certificate chains to a private CA, not to Mozilla's roots the fetcher trusts.
    let untrusted = crate::tls::start_tls_handler().await;
    let Harness { hs, down, .. } = start(vec![local_route("signed_tls")]).await;
    let url = format!("{}?X-Amz-Signature=sig_secret_value", untrusted.url);
    assert_unavailable(&hs, "signed_tls", &url, "certificate").await;
    assert!(untrusted.bodies.lock().unwrap().is_empty());
    assert!(down.requests().is_empty());
    let page = hs.metrics().await;
    assert_eq!(fetches(&page, "signed_tls", "connect_error"), 1.0, "{page}");
}

#[tokio::test]
async fn redirects_within_the_allowed_hosts_are_followed() {
    let payloads = PayloadServer::start().await;
    let Harness { hs, down, .. } = start(vec![local_route("signed_redirect")]).await;
    payloads.host("/p/final", Reply::json(&old_extract_payload("dpr_9")));
    let url = payloads.host(
        "/p/first",
        Reply::redirect(format!("http://127.0.0.1:{}/p/final", payloads.addr.port())),
    );
    let path = format!("/hooks/signed_redirect?api_version={OLD}");
    let answer = post_signed(
        &hs,
        &path,
        IN_SECRET,
        &docs_envelope("processor_run.processed", &url),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let delivered = down.wait_for(1).await;
    assert_eq!(delivered[0].json()["payload"]["id"], "dpr_9");
    assert_eq!(payloads.fetches().len(), 2);
}

#[tokio::test]
async fn a_signed_data_url_without_a_url_is_not_an_event() {
    let Harness { hs, down, .. } = start(vec![local_route("signed_malformed")]).await;
    let body = serde_json::to_vec(&json!({
        "eventId": "evt_1",
        "eventType": "processor_run.processed",
        "payload": {"object": "signed_data_url", "data": 42, "id": "dpr_1"}
    }))
    .unwrap();
    let path = format!("/hooks/signed_malformed?api_version={OLD}");
    let answer = post_signed(&hs, &path, IN_SECRET, &body).await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "not_an_event"),
        "{answer:?}"
    );
    assert!(down.requests().is_empty());
}

#[tokio::test]
async fn envelope_holes_are_400_on_both_paths() {
    let mut plextera = RouteSpec::extend("holes_plextera");
    plextera.provider = "plextera";
    // These mappings are Extend's: a Plextera route only forwards the handler's own version.
    plextera.policy = vec![(NEW.to_owned(), "forward".to_owned())];
    plextera.default_version = NEW.to_owned();
    let Harness { hs, down, .. } = start(vec![RouteSpec::extend("holes_extend"), plextera]).await;

    let extend_holes: Vec<(&str, &[u8], &str)> = vec![
        (
            "payload null",
            br#"{"eventId":"e1","eventType":"processor_run.processed","payload":null}"#,
            "payload is null",
        ),
        (
            "payload {}",
            br#"{"eventId":"e1","eventType":"processor_run.processed","payload": { } }"#,
            "payload is an empty object",
        ),
        (
            "payload a number",
            br#"{"eventId":"e1","eventType":"processor_run.processed","payload":7}"#,
            "payload must be an object",
        ),
        (
            "payload a string",
            br#"{"eventId":"e1","eventType":"processor_run.processed","payload":"x"}"#,
            "payload must be an object",
        ),
        (
            "payload an array",
            br#"{"eventId":"e1","eventType":"processor_run.processed","payload":[{"id":"x"}]}"#,
            "payload must be an object",
        ),
        (
            "no payload",
            br#"{"eventId":"e1","eventType":"processor_run.processed","data":{"id":"x"}}"#,
            "payload is missing",
        ),
        (
            "no eventId",
            br#"{"eventType":"processor_run.processed","payload":{"id":"x","type":"EXTRACT"}}"#,
            "eventId must be a string",
        ),
        (
            "eventId a number",
            br#"{"eventId":17,"eventType":"processor_run.processed","payload":{"id":"x","type":"EXTRACT"}}"#,
            "eventId must be a string",
        ),
        (
            "eventId null",
            br#"{"eventId":null,"eventType":"processor_run.processed","payload":{"id":"x","type":"EXTRACT"}}"#,
            "eventId must be a string",
        ),
    ];
    // OLD is translated (parsed into a tree), NEW forwarded as received (scanned): same answers.
    for version in [OLD, NEW] {
        let path = format!("/hooks/holes_extend?api_version={version}");
        for (what, body, needle) in &extend_holes {
            let answer = post_signed(&hs, &path, IN_SECRET, body).await;
            assert_eq!(
                (answer.status, answer.error()),
                (400, "not_an_event"),
                "{version} {what}: {answer:?}"
            );
            assert!(
                answer.json["message"].as_str().unwrap().contains(needle),
                "{version} {what}: {answer:?}"
            );
        }
    }

    // Plextera: `data` must be an object, `{}` included.
    let plextera_post = |body: &'static [u8]| {
        let url = format!("{}/hooks/holes_plextera?api_version={NEW}", hs.base);
        let ts = now().to_string();
        let sig = hookshift::provider::plextera_signature(IN_SECRET.as_bytes(), &ts, body);
        async move {
            post(
                &url,
                body.to_vec(),
                &[(
                    "x-plextera-signature".to_owned(),
                    format!("t={ts},v1={sig}"),
                )],
            )
            .await
        }
    };
    let empty_data = br#"{"eventId":"evt_01JY7M9QWBWCPMZK5QJ7RSE9P4","eventType":"document-insights.job.completed","occurredAt":"2026-04-07T10:22:00Z","apiVersion":"v1","data":{}}"#;
    assert_eq!(plextera_post(empty_data).await.status, 200);
    for (body, needle) in [
        (
            br#"{"eventId":"e","eventType":"workflow.run.completed","data":null}"#.as_slice(),
            "data is null",
        ),
        (
            br#"{"eventId":"e","eventType":"workflow.run.completed","data":[1]}"#.as_slice(),
            "data must be an object",
        ),
        (
            br#"{"eventId":"e","eventType":"workflow.run.completed","payload":{}}"#.as_slice(),
            "data is missing",
        ),
    ] {
        let answer = plextera_post(body).await;
        assert_eq!(
            (answer.status, answer.error()),
            (400, "not_an_event"),
            "{answer:?}"
        );
        assert!(answer.json["message"].as_str().unwrap().contains(needle));
    }
    // Only the one legal Plextera event reached the handler.
    assert_eq!(down.wait_for(1).await.len(), 1);
}

/// The real binary at `RUST_LOG=trace`: signed URLs fetched, refused and failing never show their path
/// or query (the signature) in any log line; the host does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_never_reach_the_logs() {
    let payloads = PayloadServer::start().await;
    let files = Harness::setup(local_route("signed_logs")).write().await;
    let hs = crate::faults::Binary::start(&files.config_path, &[("RUST_LOG", "trace")]);
    let port = payloads.addr.port();
    let urls = [
        payloads.host(
            "/p/secret-path-ok",
            Reply::json(&old_extract_payload("dpr_1")),
        ),
        payloads.host("/p/secret-path-404", Reply::raw(404, "gone")),
        payloads.host(
            "/p/secret-path-redirect",
            Reply::redirect(format!(
                "http://localhost:{port}/p/secret-path-next?X-Amz-Signature=sig_secret_value"
            )),
        ),
        payloads.host("/p/secret-path-html", Reply::raw(200, "<html>")),
    ];
    let path = format!("/hooks/signed_logs?api_version={OLD}");
    let mut statuses = Vec::new();
    for url in &urls {
        let body = sdk_envelope("processor_run.processed", url);
        let answer = post(
            &format!("{}{path}", hs.base),
            body.clone(),
            &extend_headers(IN_SECRET, now(), &body),
        )
        .await;
        statuses.push(answer.status);
    }
    assert_eq!(statuses, [200, 502, 502, 502]);
    files.down.wait_for(1).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let log = hs.stderr.lock().unwrap().clone();
        if log.matches("webhook refused").count() >= 3 || std::time::Instant::now() > deadline {
            assert_eq!(log.matches("webhook refused").count(), 3, "{log}");
            for needle in ["sig_secret_value", "X-Amz-Signature", "secret-path"] {
                if let Some(at) = log.find(needle) {
                    let from = at.saturating_sub(300);
                    panic!("the log holds a signed URL: …{}…", &log[from..at + 50]);
                }
            }
            assert!(log.contains("host 127.0.0.1 answered 404"), "{log}");
            // The client's own trace lines were written too (connections to the payload host).
            assert!(
                log.contains("TRACE") && log.contains("connecting to 127.0.0.1"),
                "{log}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A route that fetches from the payload server and quarantines the events its mappings fail on, with
/// a ledger file in `ledger_dir`: the config written, the server not started.
async fn quarantining(route: &str, ledger_dir: &std::path::Path) -> Files {
    let ledger = format!(
        "[ledger]\nbackend = \"file\"\npath = {:?}\n",
        ledger_dir.join("hookshift.ledger").display().to_string()
    );
    let files = Harness::setup(local_route(route))
        .config(move |spec| spec.ledger = ledger)
        .write()
        .await;
    let text = files.spec.toml_quarantining();
    std::fs::write(&files.config_path, text).unwrap();
    files
}

#[tokio::test]
async fn a_quarantined_signed_url_event_is_replayed_through_the_fetch() {
    use hookshift::cli::quarantine::{self as quarantine, ListArgs, ReplayArgs};
    let payloads = PayloadServer::start().await;
    let ledger_dir = tempfile::tempdir().unwrap();
    let route = "signed_quarantine";
    let files = quarantining(route, ledger_dir.path()).await;
    let hs = Hookshift::start_from_file(files.config_path.clone()).await;
    // The run the URL serves has a numeric id: the test mappings expect a string, so the fetched
    // payload fails them and the event (its envelope, with the URL) is quarantined.
    let mut run = old_extract_payload("dpr_q");
    run["id"] = json!(7);
    let url = payloads.host("/p/quarantined", Reply::json(&run));
    let body = sdk_envelope("processor_run.processed", &url);
    let path = format!("/hooks/{route}?api_version={OLD}");
    let answer = post_signed(&hs, &path, IN_SECRET, &body).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.json["status"], "quarantined");
    assert_eq!(payloads.fetches().len(), 1);
    assert!(files.down.requests().is_empty());

    // The mapping is fixed (a numeric id is fine now); replay fetches the payload again, as the live
    // path does, and the handler gets the fetched run translated, not the link.
    let mappings = files.spec.mappings_dir.join(format!("{OLD}_to_{NEW}"));
    let rules = mappings.join("runs.toml");
    let fixed = std::fs::read_to_string(&rules)
        .unwrap()
        .replace("  { expect = \"id\", type = \"string\" },\n", "");
    std::fs::write(&rules, fixed).unwrap();
    let replayed = quarantine::replay(&ReplayArgs {
        config: files.config_path.clone(),
        route: Some(route.to_owned()),
        event_id: None,
        dry_run: false,
    })
    .await
    .unwrap();
    assert!(replayed.contains("delivered, removed"), "{replayed}");
    let delivered = files.down.wait_for(1).await;
    assert_eq!(delivered.len(), 1);
    delivered[0].assert_signed(hookshift::provider::Provider::Extend, OUT_SECRET);
    let event = delivered[0].json();
    assert_eq!(event["eventId"], "evt_signed_1");
    assert_eq!(event["eventType"], "extract_run.processed");
    let payload = &event["payload"];
    assert_eq!(payload["object"], "extract_run");
    assert_eq!(payload["id"], 7);
    assert_eq!(
        payload["output"],
        json!({"amount": 12.5, "lines": [{"n": 1}]})
    );
    assert_eq!(payload["metadata"], json!({"tenant": "t1"}));
    assert!(payload.get("data").is_none(), "{event}");
    let seen = payloads.fetches();
    assert_eq!(seen.len(), 2, "replay fetches the payload again");
    assert!(seen[1]
        .path_and_query
        .ends_with("/p/quarantined?X-Amz-Signature=sig_secret_value"));
    let listed = quarantine::list(&ListArgs {
        config: files.config_path.clone(),
    })
    .await
    .unwrap();
    assert!(listed.contains("0 event(s) in quarantine"), "{listed}");
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn a_quarantined_signed_url_event_whose_url_fails_stays_in_quarantine() {
    use hookshift::cli::quarantine::{self as quarantine, ListArgs, ReplayArgs};
    let payloads = PayloadServer::start().await;
    let ledger_dir = tempfile::tempdir().unwrap();
    let route = "signed_quarantine_gone";
    let files = quarantining(route, ledger_dir.path()).await;
    let hs = Hookshift::start_from_file(files.config_path.clone()).await;
    let mut run = old_extract_payload("dpr_g");
    run["id"] = json!(8);
    let url = payloads.host("/p/expiring", Reply::json(&run));
    let body = docs_envelope("processor_run.processed", &url);
    let path = format!("/hooks/{route}?api_version={OLD}");
    let answer = post_signed(&hs, &path, IN_SECRET, &body).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    // The URL expired meanwhile (storage answers 403): the replay fails as a live copy would, and
    // the event stays for a later replay.
    payloads.host("/p/expiring", Reply::raw(403, "expired"));
    let args = ReplayArgs {
        config: files.config_path.clone(),
        route: Some(route.to_owned()),
        event_id: None,
        dry_run: false,
    };
    assert!(quarantine::replay(&args).await.is_err());
    assert_eq!(payloads.fetches().len(), 2);
    assert!(files.down.requests().is_empty());
    let listed = quarantine::list(&ListArgs {
        config: files.config_path.clone(),
    })
    .await
    .unwrap();
    assert!(listed.contains("1 event(s) in quarantine"), "{listed}");
    hs.stop().await.unwrap();
}
