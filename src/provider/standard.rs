//! Standard Webhooks (standardwebhooks.com; Svix and the platforms built on it): its headers, its MAC,
//! its envelope.
//!
//! - Signature: `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`, a
//!   space-separated list of `v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{raw body}`, keyed by the
//!   base64-decoded part of a `whsec_<base64>` secret. Svix-powered senders use the same headers
//!   under `svix-*` names; either family verifies, and deliveries are signed in the family received.
//!   Other versions in the list (`v1a`, asymmetric ed25519) are skipped; a malformed `v1` entry
//!   refuses the whole header.
//! - Identity: `webhook-id` names the message, and a retry repeats it: it is the event's id.
//! - Envelope: `{type, timestamp, data}`; `type` is a string and `data` an object (may be `{}`).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::signature::{header_str, SignatureError};
use super::EnvelopeError;
use crate::json::{Envelope, Shape};

/// The message id header (the receiver's deduplication key).
pub const ID_HEADER: &str = "webhook-id";
/// The timestamp header (unix seconds, decimal).
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The signature header (`v1,<base64>` entries, space-separated).
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// The envelope member that holds the event's payload.
pub const PAYLOAD_KEY: &str = "data";
/// The envelope member that names the event type.
pub const EVENT_TYPE_KEY: &str = "type";
/// The prefix of a Standard Webhooks secret; the rest is the base64 of the HMAC key.
pub const SECRET_PREFIX: &str = "whsec_";
/// Most entries a signature header may list: a sender sends one per active secret (two during a
/// rotation) plus perhaps an asymmetric one. A header packed with more is refused, not searched.
pub const MAX_SIGNATURES: usize = 16;

/// The two spellings of the three headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFamily {
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    Webhook,
    /// `svix-id`, `svix-timestamp`, `svix-signature`.
    Svix,
}

impl HeaderFamily {
    /// The id, timestamp and signature header names.
    pub fn names(self) -> [&'static str; 3] {
        match self {
            HeaderFamily::Webhook => [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER],
            HeaderFamily::Svix => ["svix-id", "svix-timestamp", "svix-signature"],
        }
    }

    /// The family a delivery uses: `webhook-*` when any of those headers is there, else `svix-*`
    /// when any of those is, else `webhook-*` (whose missing headers are then named).
    pub fn of(headers: &HeaderMap) -> HeaderFamily {
        let has_any = |family: HeaderFamily| family.names().iter().any(|n| headers.contains_key(*n));
        if !has_any(HeaderFamily::Webhook) && has_any(HeaderFamily::Svix) {
            HeaderFamily::Svix
        } else {
            HeaderFamily::Webhook
        }
    }
}

/// What the signature headers of a delivery say, before any check of freshness or MAC.
pub(super) struct Head {
    pub id: String,
    pub timestamp: String,
    pub signatures: Vec<Vec<u8>>,
    /// The timestamp header's name, for errors about its value.
    pub timestamp_header: &'static str,
}

/// The id, timestamp (as sent) and every `v1` candidate of a delivery's head.
pub(super) fn read_head(headers: &HeaderMap) -> Result<Head, SignatureError> {
    let [id_name, timestamp_name, signature_name] = HeaderFamily::of(headers).names();
    let id = header_str(headers, id_name)?.trim();
    if id.is_empty() {
        return Err(SignatureError::MalformedHeader(id_name));
    }
    let timestamp = header_str(headers, timestamp_name)?.trim();
    let signatures = parse_signature_header(header_str(headers, signature_name)?)
        .ok_or(SignatureError::MalformedHeader(signature_name))?;
    Ok(Head {
        id: id.to_owned(),
        timestamp: timestamp.to_owned(),
        signatures,
        timestamp_header: timestamp_name,
    })
}

/// The decoded `v1` signatures of a signature header; `None` when the header is malformed: an entry
/// without a `,` (a bare `v1`), an empty or non-base64 `v1` value, a `v1` value that is not a
/// SHA-256 MAC, more than [`MAX_SIGNATURES`] entries, or no `v1` entry at all. Other versions are
/// skipped.
pub(super) fn parse_signature_header(header: &str) -> Option<Vec<Vec<u8>>> {
    let mut signatures = Vec::new();
    for (count, entry) in header.split_ascii_whitespace().enumerate() {
        if count >= MAX_SIGNATURES {
            return None;
        }
        let (version, value) = entry.split_once(',')?;
        if version != "v1" {
            continue;
        }
        let mac = BASE64.decode(value).ok()?;
        if mac.len() != 32 {
            return None;
        }
        signatures.push(mac);
    }
    (!signatures.is_empty()).then_some(signatures)
}

/// The HMAC key of a `whsec_<base64>` secret; `None` for any other text (which verifies nothing).
pub fn secret_key(secret: &[u8]) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX.as_bytes())?;
    let key = BASE64.decode(encoded).ok()?;
    (!key.is_empty()).then_some(key)
}

/// Why a configured secret cannot sign or verify Standard Webhooks, naming no part of it.
pub fn secret_problem(secret: &[u8]) -> Option<&'static str> {
    if !secret.starts_with(SECRET_PREFIX.as_bytes()) {
        return Some("a Standard Webhooks secret starts with whsec_ (whsec_<base64 key>)");
    }
    secret_key(secret)
        .is_none()
        .then_some("the part after whsec_ must be the base64 of a non-empty key")
}

/// What the MAC covers before the body.
pub(super) fn mac_prefix(mac: &mut impl hmac::Mac, id: &str, timestamp: &str) {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
}

/// An id for a delivery that arrives without one (a body signed from the command line, a replay
/// given no id): derived from the timestamp and the body, so the same signing repeats it.
pub fn derived_id(timestamp: &str, body: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(timestamp.as_bytes());
    digest.update(b".");
    digest.update(body);
    format!("msg_{}", &hex::encode(digest.finalize())[..32])
}

/// The headers carrying a signature (`mac`, `None` when the secret is not a `whsec_` secret: the
/// delivery then carries no signature, which a receiver refuses).
pub(super) fn signature_headers(
    family: HeaderFamily,
    id: &str,
    timestamp: &str,
    mac: Option<&[u8]>,
) -> Vec<(HeaderName, HeaderValue)> {
    let [id_name, timestamp_name, signature_name] = family.names();
    let mut headers = Vec::with_capacity(3);
    if let Ok(id) = HeaderValue::from_str(id) {
        headers.push((HeaderName::from_static(id_name), id));
    }
    headers.push((
        HeaderName::from_static(timestamp_name),
        super::signature::header_value(timestamp),
    ));
    if let Some(mac) = mac {
        headers.push((
            HeaderName::from_static(signature_name),
            super::signature::header_value(&format!("v1,{}", BASE64.encode(mac))),
        ));
    }
    headers
}

/// The id a delivery carries (`webhook-id`, else `svix-id`), for re-signing under the same id.
pub(super) fn inbound_id(headers: &HeaderMap) -> Option<&str> {
    let [id_name, ..] = HeaderFamily::of(headers).names();
    headers
        .get(id_name)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|id| !id.is_empty())
}

/// Whether an envelope is a Standard Webhooks event.
pub(super) fn check_envelope(envelope: &Envelope) -> Result<(), EnvelopeError> {
    if envelope.type_member.is_none() {
        return Err(EnvelopeError("type must be a string"));
    }
    match envelope.data {
        None => Err(EnvelopeError("data is missing")),
        Some(Shape::Null) => Err(EnvelopeError("data is null")),
        Some(Shape::Other) => Err(EnvelopeError("data must be an object")),
        Some(Shape::EmptyObject | Shape::Object) => Ok(()),
    }
}
