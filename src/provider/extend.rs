//! Extend (extend.ai): its signature headers, its MAC, its envelope.
//!
//! - Signature: `x-extend-request-timestamp` (unix seconds) and `x-extend-request-signature`
//!   (lowercase hex HMAC-SHA256, keyed by the secret's UTF-8 bytes, of `v0:{timestamp}:{raw body}`).
//! - Envelope: `{eventId, eventType, payload}`; `payload` holds at least one member and `eventId` is a
//!   string (handlers deduplicate on it). Payloads may be a signed download URL
//!   ([`crate::signed_url`]).

use http::{HeaderMap, HeaderName, HeaderValue};

use super::signature::{header_str, header_value, SignatureError};
use super::EnvelopeError;
use crate::json::{Envelope, Shape};

/// Extend's timestamp header (unix seconds, decimal).
pub const TIMESTAMP_HEADER: &str = "x-extend-request-timestamp";
/// Extend's signature header (64 lowercase hex characters).
pub const SIGNATURE_HEADER: &str = "x-extend-request-signature";
/// The envelope member that holds the event's payload.
pub const PAYLOAD_KEY: &str = "payload";

/// The signed timestamp (as sent) and the one candidate signature of a delivery's head.
pub(super) fn read_head(headers: &HeaderMap) -> Result<(String, Vec<Vec<u8>>), SignatureError> {
    let timestamp = header_str(headers, TIMESTAMP_HEADER)?;
    let signature = header_str(headers, SIGNATURE_HEADER)?;
    let signature = hex::decode(signature.trim())
        .map_err(|_| SignatureError::MalformedHeader(SIGNATURE_HEADER))?;
    Ok((timestamp.trim().to_owned(), vec![signature]))
}

/// What the MAC covers before the body.
pub(super) fn mac_prefix(mac: &mut impl hmac::Mac, timestamp: &str) {
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
}

/// The headers carrying a signature made at `timestamp`.
pub(super) fn signature_headers(timestamp: &str, hex_mac: &str) -> Vec<(HeaderName, HeaderValue)> {
    vec![
        (
            HeaderName::from_static(TIMESTAMP_HEADER),
            header_value(timestamp),
        ),
        (
            HeaderName::from_static(SIGNATURE_HEADER),
            header_value(hex_mac),
        ),
    ]
}

/// Whether an envelope is an Extend event.
pub(super) fn check_envelope(envelope: &Envelope) -> Result<(), EnvelopeError> {
    if envelope.event_id_lone_surrogate {
        return Err(EnvelopeError(
            "eventId holds a lone surrogate escape: no text to key the event by",
        ));
    }
    if envelope.event_id.is_none() {
        return Err(EnvelopeError("eventId must be a string"));
    }
    match envelope.payload {
        None => Err(EnvelopeError("payload is missing")),
        Some(Shape::Null) => Err(EnvelopeError("payload is null")),
        Some(Shape::EmptyObject) => Err(EnvelopeError("payload is an empty object")),
        Some(Shape::Other) => Err(EnvelopeError("payload must be an object")),
        Some(Shape::Object) => Ok(()),
    }
}
