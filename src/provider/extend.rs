//! Extend (extend.ai): its signature headers, its MAC, its envelope.
//!
//! - Signature: `x-extend-request-timestamp` (unix seconds) and `x-extend-request-signature`
//!   (lowercase hex HMAC-SHA256, keyed by the secret's UTF-8 bytes, of `v0:{timestamp}:{raw body}`).
//! - Envelope: `{eventId, eventType, payload}`; `payload` holds at least one member and `eventId` is a
//!   string (handlers deduplicate on it). Payloads may be a signed download URL
//!   ([`crate::outbound::fetch`]).

use http::{HeaderMap, HeaderName, HeaderValue};

use super::signature::{header_str, header_value, SignatureError};
use super::EnvelopeError;
use crate::json::{Envelope, Shape, Value};

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

// ------------------------------------------------------------------- signed-URL payloads

/// The value of `payload.object` that marks a signed-URL payload.
const SIGNED_DATA_URL: &str = "signed_data_url";

/// What an event's payload is, as far as signed URLs go.
#[derive(Debug, PartialEq, Eq)]
pub enum Detected<'a> {
    /// An ordinary payload.
    Inline,
    /// A signed-URL payload pointing at this URL.
    Url(&'a str),
    /// Marked `"object": "signed_data_url"` but without a string `data`: no payload can be had.
    Malformed,
}

/// Recognises a signed-URL payload in either form: `object` = `"signed_data_url"` with a string
/// `data` (what Extend's SDKs check), or an object whose only member is a string `data` (the form of
/// Extend's docs example).
pub fn detect(payload: &Value) -> Detected<'_> {
    let Some(object) = payload.as_object() else {
        return Detected::Inline;
    };
    let data = object.get("data").and_then(Value::as_str);
    match object.get("object").and_then(Value::as_str) {
        Some(SIGNED_DATA_URL) => data.map_or(Detected::Malformed, Detected::Url),
        _ if object.len() == 1 => data.map_or(Detected::Inline, Detected::Url),
        _ => Detected::Inline,
    }
}
