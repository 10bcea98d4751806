//! Plextera: its signature header, its MAC, its envelope and the delivery headers it sends.
//!
//! - Signature: `X-Plextera-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, the MAC being HMAC-SHA256 of
//!   `<t>.<raw body>`. Other schemes in the header (a future `v2`) are ignored, as Stripe-style
//!   receivers do.
//! - Envelope: `{eventId, eventType, occurredAt, apiVersion, data}`; `data` is an object and may be
//!   `{}`.
//! - Delivery headers: the delivery id, event id and occurrence time pass through unchanged; the event
//!   type and API version headers follow the event hookshift delivers.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::signature::{header_str, header_value, SignatureError};
use super::EnvelopeError;
use crate::json::{Envelope, Shape};

/// Plextera's signature header (`t=<unix>,v1=<hex>`).
pub const SIGNATURE_HEADER: &str = "x-plextera-signature";
/// The envelope member that holds the event's payload.
pub const PAYLOAD_KEY: &str = "data";
/// The header naming the event type of a delivery.
const EVENT_TYPE_HEADER: &str = "x-plextera-event-type";
/// The header naming the API version of a delivery.
const API_VERSION_HEADER: &str = "x-plextera-api-version";
/// Headers passed through to the handler unchanged.
const PASSTHROUGH: &[&str] = &[
    "x-plextera-delivery-id",
    "x-plextera-event-id",
    "x-plextera-event-occurred-at",
];

/// The signed timestamp (as sent) and every `v1` candidate of a delivery's head.
pub(super) fn read_head(headers: &HeaderMap) -> Result<(String, Vec<Vec<u8>>), SignatureError> {
    parse_signature_header(header_str(headers, SIGNATURE_HEADER)?)
}

pub(super) fn parse_signature_header(
    header: &str,
) -> Result<(String, Vec<Vec<u8>>), SignatureError> {
    let malformed = SignatureError::MalformedHeader(SIGNATURE_HEADER);
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(malformed.clone())?;
        match key.trim() {
            "t" => timestamp = Some(value.trim().to_owned()),
            "v1" => signatures.push(hex::decode(value.trim()).map_err(|_| malformed.clone())?),
            _ => {}
        }
    }
    match timestamp {
        Some(ts) if !signatures.is_empty() => Ok((ts, signatures)),
        _ => Err(malformed),
    }
}

/// What the MAC covers before the body.
pub(super) fn mac_prefix(mac: &mut impl hmac::Mac, timestamp: &str) {
    mac.update(timestamp.as_bytes());
    mac.update(b".");
}

/// The header carrying a signature made at `timestamp`.
pub(super) fn signature_headers(timestamp: &str, hex_mac: &str) -> Vec<(HeaderName, HeaderValue)> {
    vec![(
        HeaderName::from_static(SIGNATURE_HEADER),
        header_value(&format!("t={timestamp},v1={hex_mac}")),
    )]
}

/// Whether an envelope is a Plextera event.
pub(super) fn check_envelope(envelope: &Envelope) -> Result<(), EnvelopeError> {
    match envelope.data {
        None => Err(EnvelopeError("data is missing")),
        Some(Shape::Null) => Err(EnvelopeError("data is null")),
        Some(Shape::Other) => Err(EnvelopeError("data must be an object")),
        Some(Shape::EmptyObject | Shape::Object) => Ok(()),
    }
}

/// Copies Plextera's delivery headers onto an outbound request. A translated event carries its new
/// type and the handler's version; an event delivered as received keeps the sender's headers.
pub(super) fn delivery_headers(
    inbound: &HeaderMap,
    outbound: &mut HeaderMap,
    translated: Option<(&str, &str)>,
) {
    for name in PASSTHROUGH {
        if let Some(value) = inbound.get(*name) {
            outbound.insert(HeaderName::from_static(name), value.clone());
        }
    }
    let (event_type, version) = match translated {
        Some((event_type, version)) => (
            HeaderValue::from_str(event_type).ok(),
            HeaderValue::from_str(version).ok(),
        ),
        None => (
            inbound.get(EVENT_TYPE_HEADER).cloned(),
            inbound.get(API_VERSION_HEADER).cloned(),
        ),
    };
    if let Some(value) = event_type {
        outbound.insert(HeaderName::from_static(EVENT_TYPE_HEADER), value);
    }
    if let Some(value) = version {
        outbound.insert(HeaderName::from_static(API_VERSION_HEADER), value);
    }
}
