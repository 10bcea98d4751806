//! The fetch of a signed-URL payload (the Extend provider recognises one:
//! [`crate::provider::extend::detect`]) under the route's policy (allowed hosts, public addresses
//! only, bounded size and time).
//!
//! Extend delivers large events as `payload = {"object":"signed_data_url","data":URL,"id":..,
//! "metadata":..}` (or, in older docs, only `{"data": URL}`). The URL serves the payload in the sending
//! version for an hour. A signed URL is a credential: errors and logs name its host, never the URL.
//!
//! The fetch is a server-side request to an address the sender chose, so it is fenced: with no
//! `allow_hosts` only `https://` hosts whose every resolved address is public are fetched, and the
//! connection goes to the addresses that were checked (the resolver checks them and hands exactly
//! those to the connector, so a second DNS answer cannot slip a private address in). With
//! `allow_hosts`, only those hosts are fetched, over `http://` or `https://`, at any address. Redirects
//! are followed, each hop checked by the same rules, at most [`MAX_REDIRECTS`] times.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{dns::Name, HttpConnector};
use hyper_util::client::legacy::Client;
use url::{Host, Url};

use super::tls;
use crate::config::{host_allowed, SignedUrlConfig};
use crate::json::{JsonError, Value};
use crate::provider::extend::{detect, Detected};

/// Most redirects followed for one fetch.
pub const MAX_REDIRECTS: usize = 5;

/// Why a signed URL's payload could not be had. Messages name the host only.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("signed URLs are not resolved on this route (signed_url.resolve = false)")]
    Disabled,
    #[error("the signed URL is not usable: {0}")]
    InvalidUrl(&'static str),
    #[error("host {host} is refused: {reason}")]
    RefusedHost { host: String, reason: String },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("host {host} did not answer within {ms} ms")]
    Timeout { host: String, ms: u64 },
    #[error("host {host} answered {status}")]
    Status { host: String, status: StatusCode },
    #[error("the payload from host {host} exceeds {limit} bytes")]
    TooLarge { host: String, limit: u64 },
    #[error("the payload from host {host} is not acceptable JSON: {message}")]
    InvalidJson { host: String, message: String },
    #[error("host {host} could not be reached: {message}")]
    Connect { host: String, message: String },
}

/// The `result` label of `hookshift_signed_url_fetches_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchResult {
    Ok,
    Disabled,
    InvalidUrl,
    RefusedHost,
    TooManyRedirects,
    Timeout,
    Status,
    TooLarge,
    InvalidJson,
    ConnectError,
}

impl FetchResult {
    /// Every result, for registering the series at zero.
    pub const ALL: [FetchResult; 10] = [
        FetchResult::Ok,
        FetchResult::Disabled,
        FetchResult::InvalidUrl,
        FetchResult::RefusedHost,
        FetchResult::TooManyRedirects,
        FetchResult::Timeout,
        FetchResult::Status,
        FetchResult::TooLarge,
        FetchResult::InvalidJson,
        FetchResult::ConnectError,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchResult::Ok => "ok",
            FetchResult::Disabled => "disabled",
            FetchResult::InvalidUrl => "invalid_url",
            FetchResult::RefusedHost => "refused_host",
            FetchResult::TooManyRedirects => "too_many_redirects",
            FetchResult::Timeout => "timeout",
            FetchResult::Status => "status",
            FetchResult::TooLarge => "too_large",
            FetchResult::InvalidJson => "invalid_json",
            FetchResult::ConnectError => "connect_error",
        }
    }
}

impl crate::metrics::Label for FetchResult {
    const ALL: &'static [FetchResult] = &FetchResult::ALL;

    fn as_str(self) -> &'static str {
        FetchResult::as_str(self)
    }
}

impl FetchError {
    /// The metric result of this failure.
    pub fn result(&self) -> FetchResult {
        match self {
            FetchError::Disabled => FetchResult::Disabled,
            FetchError::InvalidUrl(_) => FetchResult::InvalidUrl,
            FetchError::RefusedHost { .. } => FetchResult::RefusedHost,
            FetchError::TooManyRedirects => FetchResult::TooManyRedirects,
            FetchError::Timeout { .. } => FetchResult::Timeout,
            FetchError::Status { .. } => FetchResult::Status,
            FetchError::TooLarge { .. } => FetchResult::TooLarge,
            FetchError::InvalidJson { .. } => FetchResult::InvalidJson,
            FetchError::Connect { .. } => FetchResult::ConnectError,
        }
    }
}

/// A fetched payload.
#[derive(Debug)]
pub struct Fetched {
    pub payload: Value,
    /// Its size in bytes as received.
    pub bytes: usize,
    /// The bytes as received (shared, not copied): what the background drift scan reads.
    pub body: Bytes,
}

type FetchClient = Client<HttpsConnector<HttpConnector<CheckedResolver>>, Empty<Bytes>>;

/// Fetches signed URLs: one pooled client whose resolver admits public addresses only, one for
/// allow-listed hosts (any address). Both trust Mozilla's roots.
#[derive(Clone, Debug)]
pub struct Fetcher {
    public_only: FetchClient,
    allow_listed: FetchClient,
}

impl Default for Fetcher {
    fn default() -> Self {
        Fetcher::new()
    }
}

impl Fetcher {
    pub fn new() -> Fetcher {
        Fetcher {
            public_only: client(CheckedResolver { public_only: true }),
            allow_listed: client(CheckedResolver { public_only: false }),
        }
    }

    /// GETs `url` (no credentials sent) under `policy`, following allowed redirects, and parses the
    /// body as strict JSON of at most `max_bytes`, all within `policy.timeout_ms`.
    pub async fn fetch(
        &self,
        url: &str,
        policy: &SignedUrlConfig,
        max_bytes: u64,
    ) -> Result<Fetched, FetchError> {
        if !policy.resolve {
            return Err(FetchError::Disabled);
        }
        let mut current =
            Url::parse(url).map_err(|_| FetchError::InvalidUrl("it is not an absolute URL"))?;
        let host = host_label(&current);
        let ms = policy.timeout_ms;
        let attempt = async {
            for _ in 0..=MAX_REDIRECTS {
                let uri = check_url(&current, &policy.allow_hosts)?;
                let host = host_label(&current);
                let client = if policy.allow_hosts.is_empty() {
                    &self.public_only
                } else {
                    &self.allow_listed
                };
                let response = client
                    .request(get_request(uri))
                    .await
                    .map_err(|e| connect_error(&host, &e))?;
                let status = response.status();
                if status.is_redirection() {
                    let location = response
                        .headers()
                        .get(header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .ok_or(FetchError::Status {
                            host: host.clone(),
                            status,
                        })?;
                    current = current.join(location).map_err(|_| {
                        FetchError::InvalidUrl("a redirect's Location is not a URL")
                    })?;
                    continue;
                }
                if !status.is_success() {
                    return Err(FetchError::Status { host, status });
                }
                return read_payload(response, host, max_bytes).await;
            }
            Err(FetchError::TooManyRedirects)
        };
        tokio::time::timeout(Duration::from_millis(ms), attempt)
            .await
            .unwrap_or(Err(FetchError::Timeout { host, ms }))
    }
}

/// A credential-free GET of `uri` that names hookshift as its user agent.
fn get_request(uri: Uri) -> Request<Empty<Bytes>> {
    let mut request = Request::new(Empty::new());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    request.headers_mut().insert(
        header::USER_AGENT,
        header::HeaderValue::from_static(concat!("hookshift/", env!("CARGO_PKG_VERSION"))),
    );
    request
}

/// Reads a successful answer's body, refusing it past `max_bytes` (by its declared length before
/// reading, by counting while reading), and accepts it only as a non-empty JSON object that is not
/// itself a signed URL (one fetch per event, never a chain).
async fn read_payload(
    response: http::Response<hyper::body::Incoming>,
    host: String,
    max_bytes: u64,
) -> Result<Fetched, FetchError> {
    let too_large = || FetchError::TooLarge {
        host: host.clone(),
        limit: max_bytes,
    };
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes) {
        return Err(too_large());
    }
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let body = match Limited::new(response.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Err(e) => {
            return Err(FetchError::Connect {
                host,
                message: e.to_string(),
            })
        }
    };
    let invalid = |message: String| FetchError::InvalidJson {
        host: host.clone(),
        message,
    };
    let payload = crate::json::parse(&body).map_err(|e: JsonError| invalid(e.to_string()))?;
    if payload.as_object().is_none_or(|o| o.is_empty()) {
        return Err(invalid("the payload is not a non-empty object".to_owned()));
    }
    if detect(&payload) != Detected::Inline {
        return Err(invalid("the payload is itself a signed URL".to_owned()));
    }
    Ok(Fetched {
        payload,
        bytes: body.len(),
        body,
    })
}

fn client(resolver: CheckedResolver) -> FetchClient {
    // check_url decides which schemes reach the connector.
    crate::outbound::deliver::pooled_client_over(
        HttpConnector::new_with_resolver(resolver),
        tls::client_config(None),
    )
}

/// The host of a URL as shown in errors and logs (never the path or query: they hold the signature).
fn host_label(url: &Url) -> String {
    url.host_str().unwrap_or("").to_owned()
}

/// Whether `url` may be fetched under `allow_hosts`; the request URI when it may.
///
/// IP-literal hosts are checked here: the connector dials them without asking the resolver.
fn check_url(url: &Url, allow_hosts: &[String]) -> Result<Uri, FetchError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::InvalidUrl("it carries credentials"));
    }
    let host = url.host().ok_or(FetchError::InvalidUrl("it has no host"))?;
    let refuse = |reason: &str| FetchError::RefusedHost {
        host: host_label(url),
        reason: reason.to_owned(),
    };
    let scheme = url.scheme();
    if allow_hosts.is_empty() {
        if scheme != "https" {
            return Err(refuse("only https:// is fetched when allow_hosts is empty"));
        }
        let literal = match host {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        };
        if literal.is_some_and(|ip| !is_public(ip)) {
            return Err(refuse("not a public address"));
        }
    } else {
        if !matches!(scheme, "http" | "https") {
            return Err(refuse("only http:// and https:// are fetched"));
        }
        let name = match host {
            Host::Domain(name) => name.to_owned(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        if !host_allowed(allow_hosts, &name) {
            return Err(refuse("not in signed_url.allow_hosts"));
        }
    }
    let mut without_fragment = url.clone();
    without_fragment.set_fragment(None);
    without_fragment
        .as_str()
        .parse::<Uri>()
        .map_err(|_| FetchError::InvalidUrl("it is not a valid request URI"))
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local, CGNAT, unique-local,
/// multicast, unspecified, documentation, benchmarking, reserved, nor an IPv6 form of one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network"
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT, 100.64.0.0/10
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // An IPv4-mapped address reaches the IPv4 address it holds.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // 6to4 (2002::/16) reaches the IPv4 address in its next 32 bits.
    if segments[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (segments[1] >> 8) as u8,
            segments[1] as u8,
            (segments[2] >> 8) as u8,
            segments[2] as u8,
        );
        return is_public_v4(v4);
    }
    // Global unicast is 2000::/3; everything else (loopback, unspecified, IPv4-compatible, NAT64,
    // discard, unique-local, link-local, site-local, multicast) is not public.
    if segments[0] & 0xe000 != 0x2000 {
        return false;
    }
    let documentation =
        (segments[0] == 0x2001 && segments[1] == 0x0db8) || (segments[0] & 0xfff0) == 0x3ff0; // 3fff::/20
                                                                                              // 2001::/23: IETF protocol assignments (Teredo, benchmarking, ORCHID, ...).
    let protocol_assignments = segments[0] == 0x2001 && segments[1] < 0x0200;
    !(documentation || protocol_assignments)
}

/// Resolves names for the fetch connector, refusing (when `public_only`) a name any of whose
/// addresses is not public. The connector dials exactly the addresses returned.
#[derive(Clone, Debug)]
struct CheckedResolver {
    public_only: bool,
}

/// A name resolved to an address the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves to a non-public address")]
struct NonPublicAddress {
    name: String,
}

/// A name that did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("{name} did not resolve: {message}")]
struct LookupFailed {
    name: String,
    message: String,
}

type ResolveFuture = Pin<
    Box<
        dyn Future<
                Output = Result<
                    std::vec::IntoIter<SocketAddr>,
                    Box<dyn std::error::Error + Send + Sync>,
                >,
            > + Send,
    >,
>;

impl tower::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = ResolveFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let public_only = self.public_only;
        Box::pin(async move {
            let name = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await
                .map_err(|e| LookupFailed {
                    name: name.clone(),
                    message: e.to_string(),
                })?
                .collect();
            if addresses.is_empty() {
                return Err(LookupFailed {
                    name,
                    message: "no addresses".to_owned(),
                }
                .into());
            }
            if public_only && addresses.iter().any(|a| !is_public(a.ip())) {
                return Err(NonPublicAddress { name }.into());
            }
            Ok(addresses.into_iter())
        })
    }
}

/// Classifies a client error: a refused address is a refused host, anything else a connect error.
fn connect_error(host: &str, error: &(dyn std::error::Error + 'static)) -> FetchError {
    let mut source = Some(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<NonPublicAddress>().is_some() {
            return FetchError::RefusedHost {
                host: host.to_owned(),
                reason: "it resolves to a non-public address".to_owned(),
            };
        }
        source = cause.source();
    }
    FetchError::Connect {
        host: host.to_owned(),
        message: crate::outbound::deliver::error_chain(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for text in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!public(text), "{text} must not be public");
        }
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "52.216.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert!(public(text), "{text} must be public");
        }
    }

    #[test]
    fn detects_both_forms_of_signed_url_payloads() {
        let sdk = json!({"object": "signed_data_url", "data": "https://x.example/p?sig=1", "id": "dpr_1", "metadata": {}});
        assert_eq!(detect(&sdk), Detected::Url("https://x.example/p?sig=1"));
        let docs = json!({"data": "https://x.example/p"});
        assert_eq!(detect(&docs), Detected::Url("https://x.example/p"));
        let no_url = json!({"object": "signed_data_url", "data": {"a": 1}, "id": "x"});
        assert_eq!(detect(&no_url), Detected::Malformed);
        for inline in [
            json!({"object": "document_processor_run", "id": "dpr_1", "data": "text"}),
            json!({"data": {"nested": true}}),
            json!({"data": "x", "id": "y"}),
            json!({"object": "parser_run_status", "id": "p"}),
            json!([1]),
            json!("https://x.example"),
        ] {
            assert_eq!(detect(&inline), Detected::Inline, "{inline:?}");
        }
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn urls_are_checked_against_the_policy() {
        let none: Vec<String> = Vec::new();
        assert!(check_url(&url("https://payloads.example.com/a?sig=1"), &none).is_ok());
        assert!(check_url(&url("https://8.8.8.8/a"), &none).is_ok());
        for refused in [
            "http://payloads.example.com/a",
            "https://127.0.0.1/a",
            "https://[::1]/a",
            "https://[::ffff:7f00:1]/a",
            "https://169.254.169.254/latest",
            "https://2130706433/",
            "https://0x7f.1/",
            "ftp://payloads.example.com/a",
        ] {
            assert!(
                matches!(
                    check_url(&url(refused), &none),
                    Err(FetchError::RefusedHost { .. })
                ),
                "{refused}"
            );
        }
        assert!(matches!(
            check_url(&url("https://user:pw@payloads.example.com/"), &none),
            Err(FetchError::InvalidUrl(_))
        ));
        let local = vec!["127.0.0.1".to_owned()];
        assert!(check_url(&url("http://127.0.0.1:8080/a"), &local).is_ok());
        assert!(matches!(
            check_url(&url("http://localhost:8080/a"), &local),
            Err(FetchError::RefusedHost { .. })
        ));
        assert!(matches!(
            check_url(&url("https://payloads.example.com/a"), &local),
            Err(FetchError::RefusedHost { .. })
        ));
    }

    #[test]
    fn errors_name_the_host_and_never_the_query() {
        let err = check_url(
            &url("http://payloads.example.com/p?X-Amz-Signature=secret"),
            &[],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("payloads.example.com"), "{text}");
        assert!(!text.contains("secret") && !text.contains("/p"), "{text}");
    }
}
