//! Verifying inbound deliveries and signing outbound ones, for every [`Provider`].
//!
//! Each provider's module says where its signature travels and what its MAC covers before the body
//! ([`super::extend`], [`super::plextera`], [`super::standard`]); this module does the rest the same
//! way for all of them.
//! Verification accepts any one of several secrets (rotation), computes one MAC per secret and compares
//! it in constant time ([`subtle::ConstantTimeEq`]) with every candidate signature, and refuses
//! timestamps older than the route's tolerance or more than [`MAX_FUTURE_SKEW_SECS`] ahead. A successful
//! verification yields a [`Verified`] value, the only way for the rest of the proxy to get at a body.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::standard::{self, HeaderFamily};
use super::{extend, plextera, Provider};
use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// How far a signature timestamp may be ahead of our clock (the Extend SDKs allow 60 s).
pub const MAX_FUTURE_SKEW_SECS: i64 = 60;

/// Why a delivery's signature was refused. Messages name headers, never secrets or bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("malformed header {0}")]
    MalformedHeader(&'static str),
    #[error("signature timestamp is {age} s old, more than the {tolerance} s tolerance")]
    Expired { age: i64, tolerance: u64 },
    #[error(
        "signature timestamp is {ahead} s in the future (at most {MAX_FUTURE_SKEW_SECS} s allowed)"
    )]
    InFuture { ahead: i64 },
    #[error("signature does not match any configured secret")]
    Mismatch,
}

/// A request body whose signature was checked against one of the route's secrets.
///
/// Only [`verify`] constructs it from a request, so holding one proves the bytes came from the sender;
/// [`Verified::kept`] rebuilds one the ledger kept after that check (a quarantined event).
#[derive(Debug, Clone)]
pub struct Verified {
    body: Bytes,
    timestamp: i64,
    /// The message id the signature covers (Standard Webhooks' `webhook-id`).
    id: Option<String>,
}

impl Verified {
    /// An event verified when it was received and kept since, where only hookshift writes (the
    /// ledger's quarantine): its exact bytes, the signature's timestamp and the id it covered.
    pub fn kept(body: Bytes, timestamp: i64, signed_id: Option<String>) -> Verified {
        Verified {
            body,
            timestamp,
            id: signed_id,
        }
    }

    /// The exact bytes that were signed.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The sender's signature timestamp (unix seconds).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The message id the signature covers, for schemes that sign one (Standard Webhooks'
    /// `webhook-id`); `None` for the others. [`Provider::event_id`] gives every provider's event id.
    pub fn signed_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// Verification parameters of one route.
#[derive(Debug, Clone, Copy)]
pub struct VerifyParams<'a> {
    pub provider: Provider,
    /// Any one of them verifies (rotation).
    pub secrets: &'a [Secret],
    /// Maximum age of the signature timestamp, in seconds.
    pub tolerance_secs: u64,
    /// The current time, unix seconds.
    pub now: i64,
}

/// What the signature headers of a delivery say, once checked for form and freshness.
struct SignedHead {
    /// The message id the MAC covers (Standard Webhooks).
    id: Option<String>,
    /// As sent: the MAC covers this text, not the parsed number.
    timestamp_text: String,
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

/// Judges what can be judged from the head alone, before any body byte is read: the signature headers
/// are present and well formed and the timestamp is within the tolerance. A delivery that passes still
/// needs [`verify`] (the MAC covers the body); one that fails would fail [`verify`] the same way.
pub fn check_head(params: VerifyParams<'_>, headers: &HeaderMap) -> Result<(), SignatureError> {
    read_head(params, headers).map(|_| ())
}

fn read_head(params: VerifyParams<'_>, headers: &HeaderMap) -> Result<SignedHead, SignatureError> {
    let (id, timestamp_text, signatures, timestamp_header) = match params.provider {
        Provider::Extend => {
            let (timestamp, signatures) = extend::read_head(headers)?;
            (None, timestamp, signatures, extend::TIMESTAMP_HEADER)
        }
        Provider::Plextera => {
            let (timestamp, signatures) = plextera::read_head(headers)?;
            (None, timestamp, signatures, plextera::SIGNATURE_HEADER)
        }
        Provider::Standard => {
            let head = standard::read_head(headers)?;
            let header = head.timestamp_header;
            (Some(head.id), head.timestamp, head.signatures, header)
        }
    };
    let timestamp = parse_timestamp(&timestamp_text, timestamp_header)?;
    check_freshness(timestamp, params.tolerance_secs, params.now)?;
    Ok(SignedHead {
        id,
        timestamp_text,
        timestamp,
        signatures,
    })
}

/// Verifies a delivery and, on success, hands out its body as [`Verified`].
pub fn verify(
    params: VerifyParams<'_>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Verified, SignatureError> {
    let SignedHead {
        id,
        timestamp_text,
        timestamp,
        signatures,
    } = read_head(params, headers)?;
    // One MAC of the body per secret, compared in constant time with every candidate: a header packed
    // with thousands of `v1=` candidates must not cost thousands of passes over a large body. A secret
    // that cannot key this scheme (not `whsec_` base64 for Standard Webhooks) matches nothing.
    let matched = params.secrets.iter().any(|secret| {
        let Some(mac) = signing_mac(
            params.provider,
            secret.expose(),
            id.as_deref(),
            &timestamp_text,
            &body,
        ) else {
            return false;
        };
        let expected = mac.finalize().into_bytes();
        signatures
            .iter()
            .any(|sig| bool::from(expected.as_slice().ct_eq(sig.as_slice())))
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    Ok(Verified {
        body,
        timestamp,
        id,
    })
}

/// The headers that sign `body` for `provider` with `secret` at `timestamp` (unix seconds). A
/// Standard Webhooks signature gets an id derived from the timestamp and the body
/// ([`standard::derived_id`]); [`sign_event`] names it.
pub fn sign(
    provider: Provider,
    secret: &Secret,
    timestamp: i64,
    body: &[u8],
) -> Vec<(HeaderName, HeaderValue)> {
    sign_event(provider, secret, timestamp, None, body)
}

/// [`sign`], with the message id a Standard Webhooks signature covers (`webhook-id`); the other
/// providers sign no id and ignore it.
pub fn sign_event(
    provider: Provider,
    secret: &Secret,
    timestamp: i64,
    id: Option<&str>,
    body: &[u8],
) -> Vec<(HeaderName, HeaderValue)> {
    let ts = timestamp.to_string();
    let hex_sig = |provider| {
        signing_mac(provider, secret.expose(), None, &ts, body)
            .map(|mac| hex::encode(mac.finalize().into_bytes()))
            .expect("HMAC takes keys of any length")
    };
    match provider {
        Provider::Extend => extend::signature_headers(&ts, &hex_sig(provider)),
        Provider::Plextera => plextera::signature_headers(&ts, &hex_sig(provider)),
        Provider::Standard => sign_standard(HeaderFamily::Webhook, secret, timestamp, id, body),
    }
}

/// The Standard Webhooks headers, named in `family`, that sign `body` under `id` (else
/// [`standard::derived_id`]) with `secret` at `timestamp`. A secret that is not `whsec_` base64 (the
/// configuration refuses it) signs nothing: the delivery goes without a signature header.
pub(super) fn sign_standard(
    family: HeaderFamily,
    secret: &Secret,
    timestamp: i64,
    id: Option<&str>,
    body: &[u8],
) -> Vec<(HeaderName, HeaderValue)> {
    let ts = timestamp.to_string();
    let id = id.map_or_else(|| standard::derived_id(&ts, body), str::to_owned);
    let mac = signing_mac(Provider::Standard, secret.expose(), Some(&id), &ts, body)
        .map(|mac| mac.finalize().into_bytes().to_vec());
    standard::signature_headers(family, &id, &ts, mac.as_deref())
}

/// Extend's signature of `body`: lowercase hex HMAC-SHA256 of `v0:{timestamp}:{body}`.
pub fn extend_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    hex::encode(
        signing_mac(Provider::Extend, secret, None, timestamp, body)
            .expect("HMAC takes keys of any length")
            .finalize()
            .into_bytes(),
    )
}

/// Plextera's signature of `body`: lowercase hex HMAC-SHA256 of `{timestamp}.{body}`.
pub fn plextera_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    hex::encode(
        signing_mac(Provider::Plextera, secret, None, timestamp, body)
            .expect("HMAC takes keys of any length")
            .finalize()
            .into_bytes(),
    )
}

/// Standard Webhooks' `v1` signature of `body`: base64 HMAC-SHA256, keyed by the base64 part of a
/// `whsec_` secret, of `{id}.{timestamp}.{body}`; `None` when `secret` is not such a secret.
pub fn standard_signature(secret: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Option<String> {
    use base64::Engine as _;
    let mac = signing_mac(Provider::Standard, secret, Some(id), timestamp, body)?;
    Some(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// The MAC of `body` as `provider` computes it; `None` when `secret` cannot key the scheme (a
/// Standard Webhooks secret that is not `whsec_` base64). `id` is the signed message id (Standard
/// Webhooks; missing, it is signed as empty, which no sender does).
fn signing_mac(
    provider: Provider,
    secret: &[u8],
    id: Option<&str>,
    timestamp: &str,
    body: &[u8],
) -> Option<HmacSha256> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = match provider {
        Provider::Extend | Provider::Plextera => HmacSha256::new_from_slice(secret),
        Provider::Standard => HmacSha256::new_from_slice(&standard::secret_key(secret)?),
    }
    .expect("HMAC takes keys of any length");
    match provider {
        Provider::Extend => extend::mac_prefix(&mut mac, timestamp),
        Provider::Plextera => plextera::mac_prefix(&mut mac, timestamp),
        Provider::Standard => standard::mac_prefix(&mut mac, id.unwrap_or_default(), timestamp),
    }
    mac.update(body);
    Some(mac)
}

pub(super) fn header_value(text: &str) -> HeaderValue {
    // Digits, hex, base64, `t=`, `,` and `v1=` only: always a valid header value.
    HeaderValue::from_str(text).expect("ASCII header value")
}

pub(super) fn header_str<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<&'h str, SignatureError> {
    let value = headers
        .get(name)
        .ok_or(SignatureError::MissingHeader(name))?;
    value
        .to_str()
        .map_err(|_| SignatureError::MalformedHeader(name))
}

fn parse_timestamp(text: &str, header: &'static str) -> Result<i64, SignatureError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::MalformedHeader(header));
    }
    text.parse()
        .map_err(|_| SignatureError::MalformedHeader(header))
}

fn check_freshness(timestamp: i64, tolerance_secs: u64, now: i64) -> Result<(), SignatureError> {
    let age = now.saturating_sub(timestamp);
    if age < -MAX_FUTURE_SKEW_SECS {
        return Err(SignatureError::InFuture { ahead: -age });
    }
    if age > i64::try_from(tolerance_secs).unwrap_or(i64::MAX) {
        return Err(SignatureError::Expired {
            age,
            tolerance: tolerance_secs,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::plextera::parse_signature_header as parse_plextera_header;
    const EXTEND_TIMESTAMP_HEADER: &str = extend::TIMESTAMP_HEADER;
    const EXTEND_SIGNATURE_HEADER: &str = extend::SIGNATURE_HEADER;
    const PLEXTERA_SIGNATURE_HEADER: &str = plextera::SIGNATURE_HEADER;

    const SECRET: &str = "wss_test_secret_123";

    fn secret(s: &str) -> Secret {
        Secret::inline(s)
    }

    fn extend_headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(EXTEND_TIMESTAMP_HEADER, ts.parse().unwrap());
        h.insert(EXTEND_SIGNATURE_HEADER, sig.parse().unwrap());
        h
    }

    fn params(secrets: &[Secret], now: i64) -> VerifyParams<'_> {
        VerifyParams {
            provider: Provider::Extend,
            secrets,
            tolerance_secs: 300,
            now,
        }
    }

    /// The five vectors of extend-webhooks.md §1.2.
    #[test]
    fn extend_vectors() {
        let vectors: [(&str, &str, &[u8], &str); 5] = [
            (
                SECRET,
                "1700000000",
                br#"{"eventId":"evt_123","eventType":"workflow_run.completed","payload":{"object":"workflow_run","id":"workflow_run_abc123"}}"#,
                "1c7bbb36b2f1f47f47d49bd9dd2b1e56c791923143a0ce388fafa6796270128e",
            ),
            (
                SECRET,
                "1707777128",
                br#"{"eventId":"event_1234","eventType":"extract_run.processed","payload":{"object":"extract_run","id":"exr_Xj8mK2pL9nR4vT7qY5wZ"}}"#,
                "7e4d2d5a2550afb8f9bdd54d2c2817051ba3010983d165c3c8fa9361d7367e72",
            ),
            ("wss_test", "1700000000", br#"{"event":"hello"}"#, "5c5d1b7e3639633010a1caabc2ce184f2be0f02383e8f1228a06543de2157bad"),
            (SECRET, "1700000000", b"", "07dc91fd2d7a61718208215ee95d1ebdc5b5db1ea32d65f30225ef476a2f835b"),
            (
                SECRET,
                "1700000000",
                "{\"name\":\"Café – ü\"}".as_bytes(),
                "0bef6288097ecb4402bf9c2fead859ade10ceb1136e2f9de9d1f8c03ae9bef70",
            ),
        ];
        assert_eq!(vectors[0].2.len(), 121);
        assert_eq!(vectors[1].2.len(), 127);
        assert_eq!(vectors[4].2.len(), 23);
        for (secret_text, ts, body, expected) in vectors {
            assert_eq!(
                extend_signature(secret_text.as_bytes(), ts, body),
                expected,
                "vector for body {body:?}"
            );
            let secrets = [secret(secret_text)];
            let now: i64 = ts.parse().unwrap();
            let verified = verify(
                params(&secrets, now),
                &extend_headers(ts, expected),
                Bytes::copy_from_slice(body),
            )
            .unwrap();
            assert_eq!(verified.body().as_ref(), body);
            assert_eq!(verified.timestamp(), now);
        }
    }

    #[test]
    fn plextera_vector() {
        let body = br#"{"eventId":"evt_01JY7M9QWBWCPMZK5QJ7RSE9P4","eventType":"document-insights.job.completed","occurredAt":"2026-04-07T10:22:00Z","apiVersion":"v1","data":{}}"#;
        assert_eq!(body.len(), 154);
        let expected = "9f1977fb1cc13e9fdd310552c86f952c8f984c09bc6043a331c7d47cf2f55f7b";
        assert_eq!(
            plextera_signature(b"plextera_test_secret", "1700000000", body),
            expected
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            PLEXTERA_SIGNATURE_HEADER,
            format!("t=1700000000, v1={expected}").parse().unwrap(),
        );
        let secrets = [secret("plextera_test_secret")];
        let p = VerifyParams {
            provider: Provider::Plextera,
            secrets: &secrets,
            tolerance_secs: 300,
            now: 1_700_000_010,
        };
        assert!(verify(p, &headers, Bytes::from_static(body)).is_ok());
        let p = VerifyParams {
            now: 1_700_000_000 + 301,
            ..p
        };
        assert!(matches!(
            verify(p, &headers, Bytes::from_static(body)),
            Err(SignatureError::Expired { .. })
        ));
    }

    #[test]
    fn sign_round_trips_for_both_providers() {
        for provider in [Provider::Extend, Provider::Plextera] {
            let s = secret("wss_out");
            let mut headers = HeaderMap::new();
            for (k, v) in sign(provider, &s, 1_771_000_000, b"{\"a\":1}") {
                headers.insert(k, v);
            }
            let secrets = [s];
            let p = VerifyParams {
                provider,
                secrets: &secrets,
                tolerance_secs: 300,
                now: 1_771_000_000,
            };
            let verified = verify(p, &headers, Bytes::from_static(b"{\"a\":1}")).unwrap();
            assert_eq!(verified.timestamp(), 1_771_000_000);
            // The same headers do not verify a different body.
            assert_eq!(
                verify(p, &headers, Bytes::from_static(b"{\"a\":2}")).unwrap_err(),
                SignatureError::Mismatch
            );
        }
    }

    #[test]
    fn outbound_extend_signature_is_lowercase_hex() {
        let headers = sign(Provider::Extend, &secret(SECRET), 1_700_000_000, b"");
        assert_eq!(headers[0].1, "1700000000");
        assert_eq!(
            headers[1].1,
            "07dc91fd2d7a61718208215ee95d1ebdc5b5db1ea32d65f30225ef476a2f835b"
        );
    }

    #[test]
    fn any_configured_secret_verifies() {
        let body = Bytes::from_static(b"{}");
        let sig = extend_signature(b"wss_new", "1700000000", &body);
        let headers = extend_headers("1700000000", &sig);
        let both = [secret("wss_old"), secret("wss_new")];
        assert!(verify(params(&both, 1_700_000_000), &headers, body.clone()).is_ok());
        let old_only = [secret("wss_old")];
        assert_eq!(
            verify(params(&old_only, 1_700_000_000), &headers, body).unwrap_err(),
            SignatureError::Mismatch
        );
    }

    #[test]
    fn freshness_window_is_300_past_60_future() {
        let body = Bytes::from_static(b"{}");
        let sig = extend_signature(SECRET.as_bytes(), "1700000000", &body);
        let headers = extend_headers("1700000000", &sig);
        let secrets = [secret(SECRET)];
        assert!(verify(params(&secrets, 1_700_000_300), &headers, body.clone()).is_ok());
        assert_eq!(
            verify(params(&secrets, 1_700_000_301), &headers, body.clone()).unwrap_err(),
            SignatureError::Expired {
                age: 301,
                tolerance: 300
            }
        );
        assert!(verify(params(&secrets, 1_700_000_000 - 60), &headers, body.clone()).is_ok());
        assert_eq!(
            verify(params(&secrets, 1_700_000_000 - 61), &headers, body).unwrap_err(),
            SignatureError::InFuture { ahead: 61 }
        );
    }

    #[test]
    fn missing_and_malformed_headers() {
        let secrets = [secret(SECRET)];
        let body = Bytes::from_static(b"{}");
        let mut only_sig = HeaderMap::new();
        only_sig.insert(EXTEND_SIGNATURE_HEADER, "00".parse().unwrap());
        assert_eq!(
            verify(params(&secrets, 0), &only_sig, body.clone()).unwrap_err(),
            SignatureError::MissingHeader(EXTEND_TIMESTAMP_HEADER)
        );
        let bad_ts = extend_headers("17e8", &"0".repeat(64));
        assert_eq!(
            verify(params(&secrets, 0), &bad_ts, body.clone()).unwrap_err(),
            SignatureError::MalformedHeader(EXTEND_TIMESTAMP_HEADER)
        );
        let bad_sig = extend_headers("1700000000", "not-hex");
        assert_eq!(
            verify(params(&secrets, 1_700_000_000), &bad_sig, body.clone()).unwrap_err(),
            SignatureError::MalformedHeader(EXTEND_SIGNATURE_HEADER)
        );
        // A truncated signature never matches (verify_slice requires the full length).
        let full = extend_signature(SECRET.as_bytes(), "1700000000", &body);
        let truncated = extend_headers("1700000000", &full[..32]);
        assert_eq!(
            verify(params(&secrets, 1_700_000_000), &truncated, body).unwrap_err(),
            SignatureError::Mismatch
        );
    }

    /// The head check refuses exactly what `verify` refuses before looking at the body.
    #[test]
    fn the_head_check_judges_headers_and_freshness_only() {
        let secrets = [secret(SECRET)];
        let body = Bytes::from_static(b"{}");
        let sig = extend_signature(SECRET.as_bytes(), "1700000000", &body);
        let good = extend_headers("1700000000", &sig);
        assert_eq!(check_head(params(&secrets, 1_700_000_000), &good), Ok(()));
        // A wrong MAC needs the body: the head check lets it through, verify refuses it.
        let wrong = extend_headers("1700000000", &"00".repeat(32));
        assert_eq!(check_head(params(&secrets, 1_700_000_000), &wrong), Ok(()));
        assert_eq!(
            verify(params(&secrets, 1_700_000_000), &wrong, body.clone()).unwrap_err(),
            SignatureError::Mismatch
        );
        let cases = [
            (HeaderMap::new(), 1_700_000_000),
            (extend_headers("17e8", &sig), 1_700_000_000),
            (extend_headers("1700000000", "not-hex"), 1_700_000_000),
            (good.clone(), 1_700_000_301),
            (good.clone(), 1_700_000_000 - 61),
        ];
        for (headers, now) in cases {
            let head = check_head(params(&secrets, now), &headers).unwrap_err();
            let full = verify(params(&secrets, now), &headers, body.clone()).unwrap_err();
            assert_eq!(head, full, "{headers:?} at {now}");
        }
        let mut plextera = HeaderMap::new();
        plextera.insert(PLEXTERA_SIGNATURE_HEADER, "t=1700000000".parse().unwrap());
        let p = VerifyParams {
            provider: Provider::Plextera,
            ..params(&secrets, 1_700_000_000)
        };
        assert_eq!(
            check_head(p, &plextera),
            Err(SignatureError::MalformedHeader(PLEXTERA_SIGNATURE_HEADER))
        );
    }

    #[test]
    fn plextera_header_parsing() {
        assert!(parse_plextera_header("t=1,v1=00").is_ok());
        assert!(parse_plextera_header("v1=00").is_err());
        assert!(parse_plextera_header("t=1").is_err());
        assert!(parse_plextera_header("garbage").is_err());
        let (ts, sigs) = parse_plextera_header("t=5,v1=00,v1=ff,v0=zz").unwrap();
        assert_eq!(ts, "5");
        assert_eq!(sigs, vec![vec![0u8], vec![255u8]]);
    }
}
