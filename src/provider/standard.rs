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

/// A `whsec_<base64>` secret: its prefix, its HMAC key, and why a configured one is not one.
pub use crate::secret::{
    standard_secret_key as secret_key, standard_secret_problem as secret_problem,
    STANDARD_SECRET_PREFIX as SECRET_PREFIX,
};

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
        let has_any =
            |family: HeaderFamily| family.names().iter().any(|n| headers.contains_key(*n));
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

/// Signature headers named in one family, repeated under the other family's names when the
/// delivery came with both (a sender that sends both spellings has handlers reading either).
pub(super) fn in_families_of(
    inbound: &HeaderMap,
    signed: Vec<(HeaderName, HeaderValue)>,
) -> Vec<(HeaderName, HeaderValue)> {
    let both = [HeaderFamily::Webhook, HeaderFamily::Svix]
        .iter()
        .all(|family| inbound.contains_key(family.names()[0]));
    if !both {
        return signed;
    }
    let [from, to] = [HeaderFamily::Webhook.names(), HeaderFamily::Svix.names()];
    let mut out = signed.clone();
    for (name, value) in signed {
        if let Some(i) = from.iter().position(|n| *n == name.as_str()) {
            out.push((HeaderName::from_static(to[i]), value));
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::provider::{sign_event, standard_signature, verify, Provider, VerifyParams};
    use crate::secret::Secret;

    /// The example of the Standard Webhooks specification (and Svix's documentation).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(family: HeaderFamily, id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let [id_name, timestamp_name, signature_name] = family.names();
        let mut headers = HeaderMap::new();
        headers.insert(id_name, id.parse().unwrap());
        headers.insert(timestamp_name, timestamp.parse().unwrap());
        headers.insert(signature_name, signature.parse().unwrap());
        headers
    }

    fn check(secrets: &[&str], headers: &HeaderMap, body: &[u8]) -> Result<String, SignatureError> {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::inline(*s)).collect();
        let params = VerifyParams {
            provider: Provider::Standard,
            secrets: &secrets,
            tolerance_secs: 300,
            now: TIMESTAMP + 10,
        };
        verify(params, headers, Bytes::copy_from_slice(body))
            .map(|v| v.signed_id().unwrap().to_owned())
    }

    fn signed(signature: &str) -> HeaderMap {
        headers(HeaderFamily::Webhook, ID, &TIMESTAMP.to_string(), signature)
    }

    #[test]
    fn the_specification_example_signs_and_verifies_under_both_header_names() {
        let ts = TIMESTAMP.to_string();
        assert_eq!(
            standard_signature(SECRET.as_bytes(), ID, &ts, BODY).as_deref(),
            Some(SIGNATURE)
        );
        for family in [HeaderFamily::Webhook, HeaderFamily::Svix] {
            let h = headers(family, ID, &ts, &format!("v1,{SIGNATURE}"));
            assert_eq!(check(&[SECRET], &h, BODY), Ok(ID.to_owned()), "{family:?}");
            assert_eq!(
                check(&[SECRET], &h, br#"{"test": 2432232315}"#),
                Err(SignatureError::Mismatch)
            );
        }
        // The id is signed: another id with the same signature does not verify.
        let other = headers(
            HeaderFamily::Webhook,
            "msg_other",
            &ts,
            &format!("v1,{SIGNATURE}"),
        );
        assert_eq!(
            check(&[SECRET], &other, BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_v1_candidate_and_any_secret_verify_and_other_versions_are_skipped() {
        let good = format!("v1,{SIGNATURE}");
        let wrong = format!("v1,{}", BASE64.encode([7u8; 32]));
        let list = format!("v1a,c29tZSBlZDI1NTE5 v2,whatever {wrong}  {good}");
        assert_eq!(check(&[SECRET], &signed(&list), BODY), Ok(ID.to_owned()));
        let rotated = ["whsec_c2VjcmV0LWtleQ==", SECRET];
        assert_eq!(check(&rotated, &signed(&good), BODY), Ok(ID.to_owned()));
        assert_eq!(
            check(&["whsec_c2VjcmV0LWtleQ=="], &signed(&good), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    fn malformed(header: &str) -> Result<String, SignatureError> {
        check(&[SECRET], &signed(header), BODY)
    }

    #[test]
    fn an_empty_v1_entry_is_refused_even_beside_a_valid_one() {
        let refused = Err(SignatureError::MalformedHeader(SIGNATURE_HEADER));
        assert_eq!(malformed("v1,"), refused);
        assert_eq!(malformed(&format!("v1, v1,{SIGNATURE}")), refused);
    }

    #[test]
    fn a_bare_v1_is_refused() {
        let refused = Err(SignatureError::MalformedHeader(SIGNATURE_HEADER));
        assert_eq!(malformed("v1"), refused);
        assert_eq!(malformed(&format!("v1 v1,{SIGNATURE}")), refused);
    }

    #[test]
    fn bad_base64_is_refused() {
        let refused = Err(SignatureError::MalformedHeader(SIGNATURE_HEADER));
        for bad in [
            "v1,!!!!",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE==",
            // Valid base64, but not a SHA-256 MAC: a truncated signature.
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJE",
        ] {
            assert_eq!(malformed(bad), refused, "{bad}");
        }
        // Only unknown versions: nothing to check.
        assert_eq!(malformed("v1a,g0hM9SsE"), refused);
        assert_eq!(malformed(""), refused);
    }

    #[test]
    fn a_secret_that_is_not_whsec_base64_verifies_nothing() {
        let good = format!("v1,{SIGNATURE}");
        // The raw key bytes, the base64 text without its prefix, and a prefix over bad base64.
        let raw = BASE64.decode(&SECRET[6..]).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        for secret in [&SECRET[6..], raw.as_str(), "whsec_!!", "whsec_", "wss_test"] {
            assert_eq!(
                check(&[secret], &signed(&good), BODY),
                Err(SignatureError::Mismatch),
                "{secret}"
            );
            assert!(secret_problem(secret.as_bytes()).is_some(), "{secret}");
        }
        assert_eq!(secret_problem(SECRET.as_bytes()), None);
        // Padding is optional in a secret, as the official libraries read it.
        assert_eq!(
            secret_key(b"whsec_c2VjcmV0LWtleQ"),
            secret_key(b"whsec_c2VjcmV0LWtleQ==")
        );
        assert_eq!(secret_key(b"whsec_c2VjcmV0LWtleQ").unwrap(), b"secret-key");
        // Such a secret signs nothing rather than something no one can check.
        let sent = sign_event(
            Provider::Standard,
            &Secret::inline("wss_test"),
            TIMESTAMP,
            Some(ID),
            BODY,
        );
        assert!(sent.iter().all(|(name, _)| name != SIGNATURE_HEADER));
    }

    #[test]
    fn thousands_of_candidates_are_refused_not_searched() {
        let refused = Err(SignatureError::MalformedHeader(SIGNATURE_HEADER));
        let wrong = format!("v1,{}", BASE64.encode([7u8; 32]));
        let good = format!("v1,{SIGNATURE}");
        let mut many = vec![wrong.as_str(); 5000];
        many.push(&good);
        let many = many.join(" ");
        assert_eq!(malformed(&many), refused);
        let skipped = vec!["v1a,AAAA"; 5000].join(" ") + &format!(" v1,{SIGNATURE}");
        assert_eq!(malformed(&skipped), refused);
        // Up to the limit, every candidate is tried.
        let mut limit = vec![wrong.as_str(); MAX_SIGNATURES - 1];
        limit.push(&good);
        assert_eq!(malformed(&limit.join(" ")), Ok(ID.to_owned()));
    }

    #[test]
    fn missing_empty_and_mixed_headers_are_named() {
        let ts = TIMESTAMP.to_string();
        let good = format!("v1,{SIGNATURE}");
        let mut no_id = signed(&good);
        no_id.remove(ID_HEADER);
        assert_eq!(
            check(&[SECRET], &no_id, BODY),
            Err(SignatureError::MissingHeader(ID_HEADER))
        );
        let empty_id = headers(HeaderFamily::Webhook, " ", &ts, &good);
        assert_eq!(
            check(&[SECRET], &empty_id, BODY),
            Err(SignatureError::MalformedHeader(ID_HEADER))
        );
        let bad_ts = headers(HeaderFamily::Svix, ID, "16e8", &good);
        assert_eq!(
            check(&[SECRET], &bad_ts, BODY),
            Err(SignatureError::MalformedHeader("svix-timestamp"))
        );
        // One family is read whole: a webhook-id does not borrow a svix-signature.
        let mut mixed = headers(HeaderFamily::Svix, ID, &ts, &good);
        mixed.insert(ID_HEADER, ID.parse().unwrap());
        assert_eq!(
            check(&[SECRET], &mixed, BODY),
            Err(SignatureError::MissingHeader(TIMESTAMP_HEADER))
        );
    }

    #[test]
    fn freshness_is_the_other_providers_window() {
        let secrets = [Secret::inline(SECRET)];
        let h = signed(&format!("v1,{SIGNATURE}"));
        let at = |now| VerifyParams {
            provider: Provider::Standard,
            secrets: &secrets,
            tolerance_secs: 300,
            now,
        };
        let body = Bytes::from_static(BODY);
        assert!(verify(at(TIMESTAMP + 300), &h, body.clone()).is_ok());
        assert!(matches!(
            verify(at(TIMESTAMP + 301), &h, body.clone()),
            Err(SignatureError::Expired { age: 301, .. })
        ));
        assert!(matches!(
            verify(at(TIMESTAMP - 61), &h, body),
            Err(SignatureError::InFuture { ahead: 61 })
        ));
    }

    #[test]
    fn re_signing_keeps_the_id_and_family_and_uses_the_handler_secret() {
        let handler = "whsec_c2VjcmV0LWtleQ==";
        for family in [HeaderFamily::Webhook, HeaderFamily::Svix] {
            let inbound = headers(
                family,
                ID,
                &TIMESTAMP.to_string(),
                &format!("v1,{SIGNATURE}"),
            );
            let delivered = b"{\"type\":\"b\",\"data\":{}}";
            let out = Provider::Standard.outbound_headers(
                &inbound,
                delivered,
                &Secret::inline(handler),
                TIMESTAMP + 5,
                Some(("b", "v2")),
            );
            let [id_name, ..] = family.names();
            assert_eq!(out[id_name], ID);
            assert_eq!(check(&[handler], &out, delivered), Ok(ID.to_owned()));
            assert_eq!(
                check(&[SECRET], &out, delivered),
                Err(SignatureError::Mismatch)
            );
        }
        // Without an id to keep, the id is derived: the same bytes at the same time get the same one.
        let once = Provider::Standard.outbound_headers(
            &HeaderMap::new(),
            BODY,
            &Secret::inline(handler),
            TIMESTAMP,
            None,
        );
        let again = Provider::Standard.outbound_headers(
            &HeaderMap::new(),
            BODY,
            &Secret::inline(handler),
            TIMESTAMP,
            None,
        );
        assert_eq!(once[ID_HEADER], again[ID_HEADER]);
        assert!(once[ID_HEADER].to_str().unwrap().starts_with("msg_"));
        // A replay re-signs a stored event under its id.
        let replayed = Provider::Standard.outbound_headers(
            &Provider::Standard.id_headers(ID),
            BODY,
            &Secret::inline(handler),
            TIMESTAMP,
            None,
        );
        assert_eq!(check(&[handler], &replayed, BODY), Ok(ID.to_owned()));
        assert!(Provider::Extend.id_headers(ID).is_empty());
        // A delivery that came under both spellings goes out under both, signed alike.
        let mut both = signed(&format!("v1,{SIGNATURE}"));
        for (name, value) in headers(HeaderFamily::Svix, ID, "1", "v1,x").iter() {
            both.insert(name, value.clone());
        }
        let out = Provider::Standard.outbound_headers(
            &both,
            BODY,
            &Secret::inline(handler),
            TIMESTAMP,
            None,
        );
        for [id, timestamp, signature] in
            [HeaderFamily::Webhook.names(), HeaderFamily::Svix.names()]
        {
            assert_eq!(out[id], ID);
            assert_eq!(out[timestamp], TIMESTAMP.to_string().as_str());
            assert_eq!(out[signature], out[SIGNATURE_HEADER]);
        }
    }

    #[test]
    fn the_event_id_is_the_signed_webhook_id_and_the_envelope_is_type_and_data() {
        let body = br#"{"type":"invoice.paid","timestamp":"2021-02-25T15:02:10Z","data":{"id":"in_1"},"eventId":"not-this"}"#;
        let ts = TIMESTAMP.to_string();
        let sig = standard_signature(SECRET.as_bytes(), ID, &ts, body).unwrap();
        let secrets = [Secret::inline(SECRET)];
        let params = VerifyParams {
            provider: Provider::Standard,
            secrets: &secrets,
            tolerance_secs: 300,
            now: TIMESTAMP,
        };
        let h = signed(&format!("v1,{sig}"));
        let verified = verify(params, &h, Bytes::from_static(body)).unwrap();
        let event = crate::json::parse(body).unwrap();
        assert_eq!(Provider::Standard.event_id(&verified, &event), Some(ID));
        assert_eq!(
            Provider::Extend.event_id(&verified, &event),
            Some("not-this")
        );
        assert_eq!(Provider::Standard.event_type(&event), Some("invoice.paid"));
        let envelope = crate::json::scan(body).unwrap();
        assert_eq!(Provider::Standard.check_envelope(&envelope), Ok(()));
        assert_eq!(
            Provider::Standard.event_id_of(&verified, &envelope),
            Some(ID)
        );
        let hole = |body: &str| {
            Provider::Standard.check_envelope(&crate::json::scan(body.as_bytes()).unwrap())
        };
        assert_eq!(hole(r#"{"type":"t","data":{}}"#), Ok(()));
        assert_eq!(
            hole(r#"{"eventType":"t","data":{}}"#),
            Err(EnvelopeError("type must be a string"))
        );
        assert_eq!(
            hole(r#"{"type":"t"}"#),
            Err(EnvelopeError("data is missing"))
        );
        assert_eq!(
            hole(r#"{"type":"t","data":[]}"#),
            Err(EnvelopeError("data must be an object"))
        );
    }
}
