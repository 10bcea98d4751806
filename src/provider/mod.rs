//! Providers: everything hookshift knows about one sender's webhooks, in one place per provider.
//!
//! A [`Provider`] says how a delivery is signed ([`signature`]: verify inbound, sign outbound), what
//! its envelope looks like (which member holds the payload, what makes a body an event), which
//! delivery headers reach the handler, and whether its payloads may come as a signed download URL.
//! The request path asks the route's provider and never names one itself.
//!
//! - [`extend`]: `x-extend-request-*` headers, `{eventId, eventType, payload}`, signed-URL payloads.
//! - [`plextera`]: `X-Plextera-Signature`, `{eventId, eventType, …, data}`, pass-through delivery
//!   headers.
//! - [`standard`]: Standard Webhooks (`webhook-*` or `svix-*` headers), `{type, timestamp, data}`,
//!   the event's id in the `webhook-id` header.

pub mod extend;
pub mod plextera;
pub mod signature;
pub mod standard;

use http::{header, HeaderMap, HeaderValue};

use crate::json::{Envelope, Shape, Value};
use crate::secret::Secret;

/// The sender a route names (`routes.provider`); its behaviour is here, its name and the secrets it
/// takes are the configuration's.
pub use crate::config::Provider;

/// The envelope member naming the event type, for the providers that say `eventType`.
pub const EVENT_TYPE_KEY: &str = "eventType";
/// The envelope member naming the event's id, for the providers that carry it in the body.
pub const EVENT_ID_KEY: &str = "eventId";

pub use extend::{
    SIGNATURE_HEADER as EXTEND_SIGNATURE_HEADER, TIMESTAMP_HEADER as EXTEND_TIMESTAMP_HEADER,
};
pub use plextera::SIGNATURE_HEADER as PLEXTERA_SIGNATURE_HEADER;
pub use signature::{
    check_head, extend_signature, plextera_signature, sign, sign_event, standard_signature, verify,
    SignatureError, Verified, VerifyParams, MAX_FUTURE_SKEW_SECS,
};

/// Why a verified body is not an event of its route's provider: names the hole, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EnvelopeError(pub &'static str);

impl Provider {
    /// The envelope member naming the event type: what mapping rules match on and rename.
    pub fn event_type_key(self) -> &'static str {
        match self {
            Provider::Extend | Provider::Plextera => EVENT_TYPE_KEY,
            Provider::Standard => standard::EVENT_TYPE_KEY,
        }
    }

    /// The event type of an envelope, read from this provider's member.
    pub fn event_type_of(self, envelope: &Envelope) -> Option<&str> {
        match self {
            Provider::Extend | Provider::Plextera => envelope.event_type.as_deref(),
            Provider::Standard => envelope.type_member.as_deref(),
        }
    }

    /// Whether this provider's event-type member is a string holding a lone surrogate escape (no
    /// text to name the event type by, so [`Provider::event_type_of`] has none).
    fn event_type_lone_surrogate(self, envelope: &Envelope) -> bool {
        match self {
            Provider::Extend | Provider::Plextera => envelope.event_type_lone_surrogate,
            Provider::Standard => envelope.type_member_lone_surrogate,
        }
    }

    /// The event type of a parsed event, read from this provider's member.
    pub fn event_type(self, event: &Value) -> Option<&str> {
        event.get(self.event_type_key()).and_then(Value::as_str)
    }

    /// The sender's name for an event, the one its retries repeat (the ledger's key for a retry):
    /// the signed `webhook-id` header for Standard Webhooks, the body's `eventId` for the others.
    /// `None` when the event carries none (a Plextera body without `eventId`).
    pub fn event_id<'a>(self, verified: &'a Verified, event: &'a Value) -> Option<&'a str> {
        match self {
            Provider::Extend | Provider::Plextera => {
                event.get(EVENT_ID_KEY).and_then(Value::as_str)
            }
            Provider::Standard => verified.signed_id(),
        }
    }

    /// Whether the signature covers the event's id apart from the body (Standard Webhooks'
    /// `webhook-id`): the ledger then keys an event whose type declares no identity by that id, so
    /// that a retry of a delivered event is a duplicate.
    pub fn event_id_is_signed(self) -> bool {
        matches!(self, Provider::Standard)
    }

    /// [`Provider::event_id`] from an envelope ([`crate::json::scan`] or [`Provider::envelope_of`]).
    pub fn event_id_of<'a>(
        self,
        verified: &'a Verified,
        envelope: &'a Envelope,
    ) -> Option<&'a str> {
        match self {
            Provider::Extend | Provider::Plextera => envelope.event_id.as_deref(),
            Provider::Standard => verified.signed_id(),
        }
    }

    /// The inbound headers that carry a stored event's id, for re-signing it later under that id with
    /// [`Provider::outbound_headers`] (a replay): Standard Webhooks' `webhook-id`; none for the
    /// providers whose id is in the body.
    pub fn id_headers(self, event_id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let (Provider::Standard, Ok(id)) = (self, HeaderValue::from_str(event_id)) {
            headers.insert(standard::ID_HEADER, id);
        }
        headers
    }

    /// The envelope member holding the event's payload: what mapping rules rewrite.
    pub fn payload_key(self) -> &'static str {
        match self {
            Provider::Extend => extend::PAYLOAD_KEY,
            Provider::Plextera => plextera::PAYLOAD_KEY,
            Provider::Standard => standard::PAYLOAD_KEY,
        }
    }

    /// Whether this provider may deliver a payload as a signed download URL.
    pub fn sends_signed_urls(self) -> bool {
        matches!(self, Provider::Extend)
    }

    /// Whether an envelope (from [`crate::json::scan`] or [`Provider::envelope_of`]) is an event of
    /// this provider: a JSON object with a string event type and the provider's own rules.
    pub fn check_envelope(self, envelope: &Envelope) -> Result<(), EnvelopeError> {
        if !envelope.is_object {
            return Err(EnvelopeError("the body is not a JSON object"));
        }
        if self.event_type_lone_surrogate(envelope) {
            return Err(EnvelopeError(match self {
                Provider::Standard => {
                    "type holds a lone surrogate escape: no text to name the event type by"
                }
                Provider::Extend | Provider::Plextera => {
                    "eventType holds a lone surrogate escape: no text to name the event type by"
                }
            }));
        }
        if self.event_type_of(envelope).is_none() {
            return Err(EnvelopeError(match self {
                Provider::Standard => "type must be a string",
                Provider::Extend | Provider::Plextera => "eventType must be a string",
            }));
        }
        match self {
            Provider::Extend => extend::check_envelope(envelope),
            Provider::Plextera => plextera::check_envelope(envelope),
            Provider::Standard => standard::check_envelope(envelope),
        }
    }

    /// [`Provider::check_envelope`] on a parsed body: what the server answers `not_an_event` to, for
    /// callers that hold the tree (`hookshift translate`).
    pub fn check_event(self, event: &Value) -> Result<(), EnvelopeError> {
        self.check_envelope(&Provider::envelope_of(event))
    }

    /// The envelope of a parsed body, as [`crate::json::scan`] reads it from the bytes.
    pub fn envelope_of(event: &Value) -> Envelope {
        let Some(object) = event.as_object() else {
            return Envelope::default();
        };
        let string = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let lone_surrogate = |key: &str| matches!(object.get(key), Some(Value::RawString(_)));
        Envelope {
            is_object: true,
            event_type: string(EVENT_TYPE_KEY),
            type_member: string(standard::EVENT_TYPE_KEY),
            event_id: string(EVENT_ID_KEY),
            event_type_lone_surrogate: lone_surrogate(EVENT_TYPE_KEY),
            event_id_lone_surrogate: lone_surrogate(EVENT_ID_KEY),
            type_member_lone_surrogate: lone_surrogate(standard::EVENT_TYPE_KEY),
            payload: object.get(extend::PAYLOAD_KEY).map(Shape::of),
            data: object.get(plextera::PAYLOAD_KEY).map(Shape::of),
        }
    }

    /// The headers of a delivery to the handler: content type (as received, else JSON), user agent,
    /// the provider's delivery headers, and a fresh signature of `body` with `secret` at `now`.
    /// `translated` carries the delivered event's type and the handler's version when hookshift
    /// translated the event. A Standard Webhooks delivery keeps the id it arrived with (the handler's
    /// deduplication key) and the header family (`webhook-*` or `svix-*`) it arrived in.
    pub fn outbound_headers(
        self,
        inbound: &HeaderMap,
        body: &[u8],
        secret: &Secret,
        now: i64,
        translated: Option<(&str, &str)>,
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
        let signature = match self {
            Provider::Extend => sign(self, secret, now, body),
            Provider::Plextera => {
                plextera::delivery_headers(inbound, &mut headers, translated);
                sign(self, secret, now, body)
            }
            Provider::Standard => standard::in_families_of(
                inbound,
                signature::sign_standard(
                    standard::HeaderFamily::of(inbound),
                    secret,
                    now,
                    standard::inbound_id(inbound),
                    body,
                ),
            ),
        };
        for (name, value) in signature {
            headers.insert(name, value);
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(body: &str) -> Envelope {
        crate::json::scan(body.as_bytes()).unwrap()
    }

    #[test]
    fn each_provider_names_the_hole_of_its_own_envelope() {
        let extend = |body: &str| Provider::Extend.check_envelope(&scanned(body));
        let plextera = |body: &str| Provider::Plextera.check_envelope(&scanned(body));
        assert_eq!(
            extend("[1]"),
            Err(EnvelopeError("the body is not a JSON object"))
        );
        assert_eq!(
            extend(r#"{"eventId":"e"}"#),
            Err(EnvelopeError("eventType must be a string"))
        );
        assert_eq!(
            extend(r#"{"eventType":"t","payload":{"a":1}}"#),
            Err(EnvelopeError("eventId must be a string"))
        );
        assert_eq!(
            extend(r#"{"eventId":"e","eventType":"t","payload":{}}"#),
            Err(EnvelopeError("payload is an empty object"))
        );
        assert_eq!(
            extend(r#"{"eventId":"e","eventType":"t","data":{"a":1}}"#),
            Err(EnvelopeError("payload is missing"))
        );
        assert_eq!(
            extend(r#"{"eventId":"e","eventType":"t","payload":{"a":1}}"#),
            Ok(())
        );
        // Plextera's `data` may be empty and its events need no eventId.
        assert_eq!(plextera(r#"{"eventType":"t","data":{}}"#), Ok(()));
        assert_eq!(
            plextera(r#"{"eventType":"t","payload":{"a":1}}"#),
            Err(EnvelopeError("data is missing"))
        );
        assert_eq!(
            plextera(r#"{"eventType":"t","data":null}"#),
            Err(EnvelopeError("data is null"))
        );
    }

    /// A string cut inside a surrogate pair is JSON, but has no text to name an event by: the refusal
    /// says so instead of calling it no string, from the bytes and from the parsed tree alike.
    #[test]
    fn an_envelope_string_holding_a_lone_surrogate_is_named_as_such() {
        for (body, provider, refusal) in [
            (
                r#"{"eventId":"evt_\ud83d","eventType":"t","payload":{"a":1}}"#,
                Provider::Extend,
                "eventId holds a lone surrogate escape: no text to key the event by",
            ),
            (
                r#"{"eventId":"e","eventType":"t\udfff","payload":{"a":1}}"#,
                Provider::Extend,
                "eventType holds a lone surrogate escape: no text to name the event type by",
            ),
            (
                r#"{"eventType":"\uDC00","data":{}}"#,
                Provider::Plextera,
                "eventType holds a lone surrogate escape: no text to name the event type by",
            ),
            (
                r#"{"type":"invoice.\ud800","timestamp":"2026-03-02T09:15:00Z","data":{}}"#,
                Provider::Standard,
                "type holds a lone surrogate escape: no text to name the event type by",
            ),
        ] {
            assert_eq!(
                provider.check_envelope(&scanned(body)),
                Err(EnvelopeError(refusal)),
                "{body}"
            );
            let parsed = crate::json::parse(body.as_bytes()).unwrap();
            assert_eq!(provider.check_event(&parsed), Err(EnvelopeError(refusal)));
        }
        // Escapes that make whole characters are text like any other.
        assert_eq!(
            Provider::Extend.check_envelope(&scanned(
                r#"{"eventId":"evt_\ud83d\ude00","eventType":"t","payload":{"a":1}}"#
            )),
            Ok(())
        );
        // Plextera keys events by the webhook-id header: an eventId it does not read is not checked.
        assert_eq!(
            Provider::Plextera.check_envelope(&scanned(
                r#"{"eventId":"\ud800","eventType":"t","data":{"a":1}}"#
            )),
            Ok(())
        );
    }

    #[test]
    fn a_parsed_body_has_the_envelope_its_bytes_scan_to() {
        for body in [
            r#"{"eventId":"e","eventType":"t","payload":{"a":1}}"#,
            r#"{"eventType":"t","data":{}}"#,
            r#"{"eventType":1,"payload":null,"data":[1]}"#,
            "[]",
        ] {
            let parsed = crate::json::parse(body.as_bytes()).unwrap();
            assert_eq!(Provider::envelope_of(&parsed), scanned(body), "{body}");
        }
    }

    #[test]
    fn plextera_delivery_headers_follow_the_delivered_event() {
        let mut inbound = HeaderMap::new();
        inbound.insert("x-plextera-delivery-id", HeaderValue::from_static("dlv_1"));
        inbound.insert(
            "x-plextera-event-type",
            HeaderValue::from_static("old.type"),
        );
        inbound.insert("x-plextera-api-version", HeaderValue::from_static("v1"));
        inbound.insert("x-unrelated", HeaderValue::from_static("x"));
        let secret = Secret::inline("out");
        let kept = Provider::Plextera.outbound_headers(&inbound, b"{}", &secret, 1, None);
        assert_eq!(kept["x-plextera-delivery-id"], "dlv_1");
        assert_eq!(kept["x-plextera-event-type"], "old.type");
        assert_eq!(kept["x-plextera-api-version"], "v1");
        assert!(kept.get("x-unrelated").is_none());
        assert!(kept.get(PLEXTERA_SIGNATURE_HEADER).is_some());
        let translated = Provider::Plextera.outbound_headers(
            &inbound,
            b"{}",
            &secret,
            1,
            Some(("new.type", "v2")),
        );
        assert_eq!(translated["x-plextera-event-type"], "new.type");
        assert_eq!(translated["x-plextera-api-version"], "v2");
        let extend = Provider::Extend.outbound_headers(&inbound, b"{}", &secret, 1, None);
        assert!(extend.get("x-plextera-delivery-id").is_none());
        assert_eq!(extend[header::CONTENT_TYPE], "application/json");
        assert!(extend.get(EXTEND_SIGNATURE_HEADER).is_some());
    }
}
