//! The webhook request path: route → read body (limited) → verify → parse → policy → translate →
//! re-sign → deliver, with one metric record and one log line per request.
//!
//! Each request takes a snapshot of the running [`State`] when it starts and uses it to the end, so a
//! reload never changes the rules under a request in flight.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use crate::json::{Shape, Value};
use bytes::Bytes;
use http::{
    header, request::Parts, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode,
};
use http_body_util::Full;
use hyper::body::Body;

use crate::budget::{self, BodyBudget, BudgetPermit, ReadError};
use crate::config::{Policy, RouteConfig, ServerConfig, UnmappedAction};
use crate::deliver::{Deliverer, DeliveryError, Outbound};
use crate::drift::{self, ScanInput, ScanJob, Scanner};
use crate::error::{json_response, ProxyError};
use crate::mapping::{translate_reporting, Delivery, TranslateError, Translated};
use crate::metrics::{self, EventLabels, InflightGuard, Outcome, ShedReason, StatusClass};
use crate::reload::Shared;
use crate::signature::{self, Provider, Verified, VerifyParams};
use crate::signed_url::{self, Detected, FetchResult, Fetcher};
use crate::state::State;

/// Bodies at least this large are translated on the blocking pool instead of the async workers.
const BLOCKING_TRANSLATION_BYTES: usize = 256 * 1024;
/// Longest `eventId` written to logs (longer ones are cut).
const MAX_LOGGED_ID: usize = 128;
/// Plextera headers passed through to the handler unchanged.
const PLEXTERA_PASSTHROUGH: &[&str] = &[
    "x-plextera-delivery-id",
    "x-plextera-event-id",
    "x-plextera-event-occurred-at",
];

/// Where the current time comes from (unix seconds); tests may pin it.
pub type Clock = fn() -> i64;

/// The system clock.
pub fn system_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Handles webhook requests against the running state.
#[derive(Debug, Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
    deliverer: Deliverer,
    fetcher: Fetcher,
    clock: Clock,
    /// Shared by every request: bounds the bodies held in memory (`server.max_buffered_bytes`).
    budget: Arc<BodyBudget>,
    /// Counts the unknown fields translated events carry, in the background.
    scanner: Scanner,
}

/// An event to translate, its signed-URL payload (if any) resolved.
enum Resolved {
    Inline(Value),
    Fetched {
        event: Value,
        bytes: usize,
        body: Bytes,
    },
}

/// A request that ended well for the sender (2xx).
struct Done {
    outcome: Outcome,
    response: Response<Full<Bytes>>,
}

/// What the log line of a request carries besides its labels.
#[derive(Default)]
struct LogFields {
    event_id: Option<String>,
    downstream_status: Option<u16>,
    translated: bool,
}

impl Proxy {
    /// A proxy over `shared` using the system clock.
    pub fn new(shared: Arc<Shared>) -> Proxy {
        Proxy::with_clock(shared, system_clock)
    }

    /// A proxy over `shared` reading the time from `clock`.
    pub fn with_clock(shared: Arc<Shared>, clock: Clock) -> Proxy {
        let state = shared.load();
        let budget = BodyBudget::new(state.config.server.max_buffered_bytes);
        for route in &state.config.routes {
            metrics::register_shed(&route.name);
            metrics::register_unmapped(&route.name);
        }
        // The queue is sized once; a reload changing `schemas.scan_queue` takes effect on restart.
        let scanner = Scanner::start(state.config.schemas.scan_queue);
        drop(state);
        Proxy {
            shared,
            deliverer: Deliverer::new(),
            fetcher: Fetcher::new(),
            clock,
            budget,
            scanner,
        }
    }

    /// How `route` verifies a request now: its secrets, its tolerance and the current time.
    fn verify_params<'a>(&self, route: &'a RouteConfig) -> VerifyParams<'a> {
        VerifyParams {
            provider: route.provider,
            secrets: &route.inbound_secrets,
            tolerance_secs: route.timestamp_tolerance_secs,
            now: (self.clock)(),
        }
    }

    /// Handles one request; never fails (errors become responses).
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body<Data = Bytes> + Unpin + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let state = self.shared.load();
        let Some(route) = state.route(request.uri().path()) else {
            let (parts, body) = request.into_parts();
            if budget::should_linger(&parts, &body) {
                budget::linger(body);
            }
            return ProxyError::NoRoute.to_response();
        };
        let started = Instant::now();
        let _inflight = InflightGuard::new(&route.name);
        let version = query_param(request.uri().query(), &route.version_param)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| route.default_version.clone());
        let mut labels = EventLabels {
            route: route.name.clone(),
            api_version: metrics::api_version_label(route, &version),
            target_version: route.downstream.version.clone(),
            event_type: metrics::UNKNOWN.to_owned(),
        };
        let mut log = LogFields::default();

        let result = self
            .process(&state, route, request, &version, &mut labels, &mut log)
            .await;
        let (outcome, response, error) = match result {
            Ok(done) => (done.outcome, done.response, None),
            Err(e) => (e.outcome(), e.to_response(), Some(e)),
        };
        labels.record(outcome);

        let status = response.status().as_u16();
        let duration_ms = started.elapsed().as_millis() as u64;
        let event_id = log.event_id.as_deref().unwrap_or("");
        let logged_version = loggable_id(&version);
        let downstream_status = log.downstream_status.unwrap_or(0);
        // One line per request, the same fields either way; refusals at warn with their error.
        macro_rules! request_line {
            ($level:ident, $($error:tt)*) => {
                tracing::$level!(
                    route = %labels.route,
                    event_id,
                    event_type = %labels.event_type,
                    api_version = %logged_version,
                    target_version = %labels.target_version,
                    outcome = outcome.as_str(),
                    status,
                    downstream_status,
                    translated = log.translated,
                    duration_ms,
                    $($error)*
                )
            };
        }
        match &error {
            None => request_line!(info, "webhook handled"),
            Some(e) => request_line!(warn, error = %e, "webhook refused"),
        }
        response
    }

    async fn process<B>(
        &self,
        state: &State,
        route: &RouteConfig,
        request: Request<B>,
        version: &str,
        labels: &mut EventLabels,
        log: &mut LogFields,
    ) -> Result<Done, ProxyError>
    where
        B: Body<Data = Bytes> + Unpin + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        // `held` accounts the body (and later the translation) in the budget until the request ends.
        let (body, mut held) = self
            .receive(route, &state.config.server, &parts, body)
            .await?;

        let verified = signature::verify(self.verify_params(route), &parts.headers, body)?;

        // Only an event that will be translated needs its tree; the others are checked just as
        // strictly by a scan that builds nothing (see `json::scan`).
        let translating = version != route.downstream.version
            && route.policy.get(version) == Some(&Policy::Forward);
        if translating && !held.try_grow(budget::TRANSLATION_FACTOR * verified.body().len() as u64)
        {
            return Err(shed(route, ShedReason::Translation));
        }
        let (event, event_type, event_id) = parse_event(&verified, route.provider, translating)?;
        labels.event_type = metrics::event_type_label(&state.mappings, &event_type);
        log.event_id = event_id.as_deref().map(loggable_id);

        let policy =
            route
                .policy
                .get(version)
                .copied()
                .ok_or_else(|| ProxyError::UnknownVersion {
                    version: version.to_owned(),
                })?;
        match policy {
            Policy::Ack => return Ok(done(Outcome::Acked, "acked")),
            Policy::Reject => {
                return Err(ProxyError::Rejected {
                    version: version.to_owned(),
                })
            }
            Policy::Forward => {}
        }

        let target = route.downstream.version.as_str();
        let (out_body, out_event_type, outcome_on_success) = if version == target {
            (verified.body().clone(), event_type, Outcome::Delivered)
        } else {
            let event = event.ok_or_else(|| {
                ProxyError::Internal("event to translate was not parsed".to_owned())
            })?;
            // A signed-URL payload is resolved before any rule sees the event: no rule is written
            // for the link, and acking it would lose the event.
            let (event, size, scan_input) =
                match self.resolve_signed_url(state, route, event).await? {
                    Resolved::Inline(event) => (
                        event,
                        verified.body().len(),
                        ScanInput::Body(verified.body().clone()),
                    ),
                    Resolved::Fetched { event, bytes, body } => {
                        // Fetched after the signature held: the payload and its translation are
                        // accounted like a received body and its translation.
                        let working = (1 + budget::TRANSLATION_FACTOR) * bytes as u64;
                        if !held.try_grow(working) {
                            return Err(shed(route, ShedReason::SignedUrl));
                        }
                        (event, bytes, ScanInput::Payload(body))
                    }
                };
            let started = Instant::now();
            let translated = self
                .translate(state, version, target, event, verified.timestamp(), size)
                .await;
            metrics::record_translation(&route.name, started.elapsed().as_secs_f64());
            match translated {
                Ok(Translated {
                    event: value,
                    unmapped_fields,
                }) => {
                    log.translated = true;
                    drift::record_dropped(&route.name, &labels.event_type, &unmapped_fields);
                    self.scan_for_carried(
                        state,
                        labels,
                        version,
                        &event_type,
                        scan_input,
                        unmapped_fields,
                    );
                    let out_type = value
                        .get("eventType")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    // Sized like the received body, so the buffer rarely grows while writing.
                    let mut bytes = Vec::with_capacity(verified.body().len() + 1024);
                    value.write_to(&mut bytes);
                    (Bytes::from(bytes), out_type, Outcome::Delivered)
                }
                Err(TranslateError::Unmapped {
                    event_type,
                    from,
                    to,
                }) => match route.unmapped {
                    UnmappedAction::Ack => return Ok(done(Outcome::Unmapped, "acked")),
                    UnmappedAction::Reject => {
                        return Err(ProxyError::Unmapped {
                            event_type,
                            from,
                            to,
                        })
                    }
                    UnmappedAction::Forward => {
                        (verified.body().clone(), event_type, Outcome::Unmapped)
                    }
                },
                Err(TranslateError::NotAnEvent(message)) => {
                    return Err(ProxyError::NotAnEvent(message))
                }
                Err(e @ TranslateError::Failed { .. }) => {
                    return Err(ProxyError::TranslationFailed(e.to_string()))
                }
            }
        };

        // The received bytes and the trees are gone (or shared with `out_body`): while the handler
        // takes its time, only the outbound body is held.
        drop(verified);
        held.shrink_to(out_body.len() as u64);

        let headers = outbound_headers(
            route,
            &parts.headers,
            &out_body,
            &out_event_type,
            log.translated,
            (self.clock)(),
        );
        let timeout = Duration::from_millis(route.downstream.timeout_ms);
        let started = Instant::now();
        let delivered = self
            .deliverer
            .deliver(Outbound {
                url: route.downstream.url.clone(),
                headers,
                body: out_body,
                timeout,
                trust: state.trust.get(&route.name).cloned(),
            })
            .await;
        let seconds = started.elapsed().as_secs_f64();
        match delivered {
            Ok(status) => {
                metrics::record_delivery(&route.name, target, StatusClass::of(status), seconds);
                log.downstream_status = Some(status.as_u16());
                Ok(done(outcome_on_success, "delivered"))
            }
            Err(e) => {
                metrics::record_delivery(&route.name, target, e.status_class(), seconds);
                Err(match e {
                    DeliveryError::Status(status) => {
                        log.downstream_status = Some(status.as_u16());
                        ProxyError::DownstreamStatus(status)
                    }
                    DeliveryError::Timeout(_) => ProxyError::DownstreamTimeout {
                        ms: route.downstream.timeout_ms,
                    },
                    DeliveryError::Connection(message) => {
                        ProxyError::DownstreamUnreachable(message)
                    }
                })
            }
        }
    }

    /// Replaces a signed-URL payload (Extend's) by the payload it points at, rebuilding the event as
    /// the SDKs do (`{eventId, eventType, payload}`). Any failure is 502 `signed_url_unavailable`
    /// (the sender retries with a fresh URL); a `signed_data_url` without a URL is not an event.
    async fn resolve_signed_url(
        &self,
        state: &State,
        route: &RouteConfig,
        mut event: Value,
    ) -> Result<Resolved, ProxyError> {
        if route.provider != Provider::Extend {
            return Ok(Resolved::Inline(event));
        }
        let url = match event.get("payload").map(signed_url::detect) {
            Some(Detected::Url(url)) => url.to_owned(),
            Some(Detected::Malformed) => {
                return Err(ProxyError::NotAnEvent(
                    "payload.object is signed_data_url but payload.data is not a string URL"
                        .to_owned(),
                ))
            }
            Some(Detected::Inline) | None => return Ok(Resolved::Inline(event)),
        };
        let started = Instant::now();
        let fetched = self
            .fetcher
            .fetch(&url, &route.signed_url, state.config.server.max_body_bytes)
            .await;
        let seconds = route
            .signed_url
            .resolve
            .then(|| started.elapsed().as_secs_f64());
        let fetched = match fetched {
            Ok(fetched) => {
                metrics::record_signed_url_fetch(&route.name, FetchResult::Ok, seconds);
                fetched
            }
            Err(e) => {
                metrics::record_signed_url_fetch(&route.name, e.result(), seconds);
                return Err(ProxyError::SignedUrlUnavailable(e));
            }
        };
        let object = event.as_object_mut().ok_or_else(|| {
            ProxyError::Internal("a checked envelope is not an object".to_owned())
        })?;
        let mut rebuilt = crate::json::Map::with_capacity(3);
        for key in ["eventId", "eventType"] {
            if let Some(value) = object.shift_remove(key) {
                rebuilt.insert(key, value);
            }
        }
        rebuilt.insert("payload", fetched.payload);
        Ok(Resolved::Fetched {
            event: Value::Object(rebuilt),
            bytes: fetched.bytes,
            body: fetched.body,
        })
    }

    /// Admits and reads a request's body. What the head tells is judged first, before any body byte is
    /// read: the method, a declared length over `server.max_body_bytes`, the signature headers and their
    /// timestamp. Then the declared length is reserved in the body budget (503 when it does not fit) and
    /// the body read into it. After a refusal the rest of the body is drained ([`budget::linger`]) so
    /// that the client reads the answer instead of a reset.
    async fn receive<B>(
        &self,
        route: &RouteConfig,
        server: &ServerConfig,
        parts: &Parts,
        mut body: B,
    ) -> Result<(Bytes, BudgetPermit), ProxyError>
    where
        B: Body<Data = Bytes> + Unpin + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let received = self.admit_and_read(route, server, parts, &mut body).await;
        if received.is_err() && budget::should_linger(parts, &body) {
            budget::linger(body);
        }
        received
    }

    async fn admit_and_read<B>(
        &self,
        route: &RouteConfig,
        server: &ServerConfig,
        parts: &Parts,
        body: &mut B,
    ) -> Result<(Bytes, BudgetPermit), ProxyError>
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if parts.method != http::Method::POST {
            return Err(ProxyError::MethodNotAllowed);
        }
        let limit = server.max_body_bytes;
        let declared = budget::declared_length(&parts.headers);
        if declared.is_some_and(|length| length > limit) {
            return Err(ProxyError::TooLarge { limit });
        }
        signature::check_head(self.verify_params(route), &parts.headers)?;
        // The limit follows reloads; bytes already held stay held.
        self.budget.set_limit(server.max_buffered_bytes);
        let Some(mut permit) = self.budget.try_reserve(declared.unwrap_or(0)) else {
            return Err(shed(route, ShedReason::DeclaredBody));
        };
        match budget::read_body(
            body,
            declared,
            limit,
            server.body_read_timeout_ms,
            &mut permit,
        )
        .await
        {
            Ok(bytes) => Ok((bytes, permit)),
            Err(ReadError::OverBudget(reason)) => Err(shed(route, reason)),
            Err(e) => Err(e.into()),
        }
    }

    /// Queues the scan of a translated event for the unknown fields it carried (when schemas are
    /// loaded), or counts it skipped. Never waits.
    fn scan_for_carried(
        &self,
        state: &State,
        labels: &EventLabels,
        version: &str,
        event_type: &str,
        input: ScanInput,
        dropped: Vec<String>,
    ) {
        let Some(schemas) = &state.schemas else {
            return;
        };
        let Some(permit) = drift::reserve(&self.budget, input.len()) else {
            metrics::record_drift_scan_skipped(&labels.route);
            return;
        };
        self.scanner.submit(ScanJob {
            schemas: Arc::clone(schemas),
            route: labels.route.clone(),
            event_type_label: labels.event_type.clone(),
            event_type: event_type.to_owned(),
            version: version.to_owned(),
            input,
            dropped,
            permit,
        });
    }

    /// Translates with the plan from `from` to `to`; large events go to the blocking pool.
    async fn translate(
        &self,
        state: &State,
        from: &str,
        to: &str,
        event: Value,
        timestamp: i64,
        size: usize,
    ) -> Result<Translated, TranslateError> {
        let delivery = Delivery { timestamp };
        if size < BLOCKING_TRANSLATION_BYTES {
            return translate_with(&state.mappings, from, to, event, &delivery);
        }
        let mappings = Arc::clone(&state.mappings);
        let (from, to) = (from.to_owned(), to.to_owned());
        tokio::task::spawn_blocking(move || translate_with(&mappings, &from, &to, event, &delivery))
            .await
            .unwrap_or_else(|e| {
                Err(TranslateError::Failed {
                    rule: String::new(),
                    file: String::new(),
                    path: ".".to_owned(),
                    message: format!("translation task failed: {e}"),
                })
            })
    }
}

fn translate_with(
    mappings: &crate::mapping::Mappings,
    from: &str,
    to: &str,
    event: Value,
    delivery: &Delivery,
) -> Result<Translated, TranslateError> {
    match mappings.plan(from, to) {
        Ok(plan) => translate_reporting(plan, event, delivery),
        // Startup checks that every forwarded version has a plan; an event type can still be unmapped.
        Err(no_path) => Err(TranslateError::Unmapped {
            event_type: event
                .get("eventType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            from: no_path.from,
            to: no_path.to,
        }),
    }
}

/// Counts a request the body budget could not hold; its answer (503).
fn shed(route: &RouteConfig, reason: ShedReason) -> ProxyError {
    metrics::record_shed(&route.name, reason);
    ProxyError::Overloaded(reason)
}

fn done(outcome: Outcome, status: &str) -> Done {
    Done {
        outcome,
        response: json_response(StatusCode::OK, &serde_json::json!({ "status": status })),
    }
}

/// Parses a verified body and checks the envelope: an object with a string `eventType` and the
/// provider's payload field as an object. For Extend, `payload` must hold at least one member and
/// `eventId` must be a string (handlers deduplicate on it); Plextera's `data` may be `{}`.
///
/// Returns the parsed event only when `keep_tree` (it is to be translated); otherwise the body is
/// checked by [`crate::json::scan`], which applies the same rules and gives the same errors without
/// building the tree. Also returns `eventType` and `eventId` (when a string).
fn parse_event(
    verified: &Verified,
    provider: Provider,
    keep_tree: bool,
) -> Result<(Option<Value>, String, Option<String>), ProxyError> {
    let invalid = |e: crate::json::JsonError| ProxyError::InvalidJson(e.to_string());
    let (event, envelope) = if keep_tree {
        let event = crate::json::parse(verified.body()).map_err(invalid)?;
        let envelope = envelope_of(&event);
        (Some(event), envelope)
    } else {
        (None, crate::json::scan(verified.body()).map_err(invalid)?)
    };
    check_envelope(&envelope, provider)?;
    let event_type = envelope.event_type.unwrap_or_default();
    Ok((event, event_type, envelope.event_id))
}

/// The envelope fields of a parsed body, as [`crate::json::scan`] reads them from its bytes.
fn envelope_of(event: &Value) -> crate::json::Envelope {
    let Some(object) = event.as_object() else {
        return crate::json::Envelope::default();
    };
    let string = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    crate::json::Envelope {
        is_object: true,
        event_type: string("eventType"),
        event_id: string("eventId"),
        payload: object.get("payload").map(Shape::of),
        data: object.get("data").map(Shape::of),
    }
}

/// Whether an envelope is an event of `provider`: 400 `not_an_event` naming the hole when not.
fn check_envelope(envelope: &crate::json::Envelope, provider: Provider) -> Result<(), ProxyError> {
    let refuse = |message: &str| Err(ProxyError::NotAnEvent(message.to_owned()));
    if !envelope.is_object {
        return refuse("the body is not a JSON object");
    }
    if envelope.event_type.is_none() {
        return refuse("eventType must be a string");
    }
    match provider {
        Provider::Extend => {
            if envelope.event_id.is_none() {
                return refuse("eventId must be a string");
            }
            match envelope.payload {
                None => refuse("payload is missing"),
                Some(Shape::Null) => refuse("payload is null"),
                Some(Shape::EmptyObject) => refuse("payload is an empty object"),
                Some(Shape::Other) => refuse("payload must be an object"),
                Some(Shape::Object) => Ok(()),
            }
        }
        Provider::Plextera => match envelope.data {
            None => refuse("data is missing"),
            Some(Shape::Null) => refuse("data is null"),
            Some(Shape::Other) => refuse("data must be an object"),
            Some(Shape::EmptyObject | Shape::Object) => Ok(()),
        },
    }
}

/// The headers of the forwarded request: content type, user agent, fresh signature (and Plextera's
/// delivery headers).
fn outbound_headers(
    route: &RouteConfig,
    inbound: &HeaderMap,
    body: &[u8],
    event_type: &str,
    translated: bool,
    now: i64,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type = inbound
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("application/json"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static(concat!("hookshift/", env!("CARGO_PKG_VERSION"))),
    );
    if route.provider == Provider::Plextera {
        for name in PLEXTERA_PASSTHROUGH {
            if let Some(value) = inbound.get(*name) {
                headers.insert(HeaderName::from_static(name), value.clone());
            }
        }
        let (event_type_header, version_header) = if translated {
            (
                HeaderValue::from_str(event_type).ok(),
                HeaderValue::from_str(&route.downstream.version).ok(),
            )
        } else {
            (
                inbound.get("x-plextera-event-type").cloned(),
                inbound.get("x-plextera-api-version").cloned(),
            )
        };
        if let Some(value) = event_type_header {
            headers.insert(HeaderName::from_static("x-plextera-event-type"), value);
        }
        if let Some(value) = version_header {
            headers.insert(HeaderName::from_static("x-plextera-api-version"), value);
        }
    }
    for (name, value) in signature::sign(route.provider, &route.downstream.secret, now, body) {
        headers.insert(name, value);
    }
    headers
}

/// The first value of query parameter `name`, percent-decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An `eventId` (or version) safe to log: printable ASCII, at most [`MAX_LOGGED_ID`] characters.
fn loggable_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(MAX_LOGGED_ID)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        assert_eq!(
            query_param(Some("api_version=2026-02-09"), "api_version").as_deref(),
            Some("2026-02-09")
        );
        assert_eq!(
            query_param(Some("a=1&api_version=x%2Dy&api_version=z"), "api_version").as_deref(),
            Some("x-y")
        );
        assert_eq!(query_param(Some("a=1"), "api_version"), None);
        assert_eq!(query_param(None, "api_version"), None);
        assert_eq!(
            query_param(Some("api_version"), "api_version").as_deref(),
            Some("")
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a%20b+c"), "a b c");
    }

    #[test]
    fn logged_ids_are_bounded() {
        assert_eq!(loggable_id("evt_1\n2"), "evt_12");
        assert_eq!(loggable_id(&"x".repeat(500)).len(), MAX_LOGGED_ID);
    }
}
