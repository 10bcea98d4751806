//! The request path's side of the shadow comparison: [`Shadow::offer`] hands a verified copy to a
//! background task and returns at once, so the comparison never changes nor delays the answer to the
//! sender. At most [`MAX_IN_FLIGHT`] comparisons run at once; a copy offered past that is skipped and
//! counted (`hookshift_shadow_skipped_total{reason="overloaded"}`), as is one the ledger failed on
//! (`reason="ledger_error"`, the failure itself in `hookshift_ledger_errors_total`).
//!
//! Every copy whose event type declares an identity is offered, whatever its policy: a forwarded copy
//! with the translation the delivery used, an acked or rejected one translated here in the background;
//! except on a route that hears from one endpoint only ([`super::sides`]), where no twin would come.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::sides::Sides;
use super::{now_ms, Key, Ledger, ShadowCopy, Side};
use crate::json::Value;
use crate::mapping::identity::Identity;
use crate::mapping::{Delivery, Mappings};
use crate::provider::Provider;
use crate::shadow::{Expected, Kept};

/// Most comparisons (fingerprint, ledger round trip) running at once per process.
pub const MAX_IN_FLIGHT: usize = 256;
/// How often entries past retention are swept and the size gauge refreshed.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The shadow comparison of one process.
pub struct Shadow {
    ledger: Arc<Ledger>,
    permits: Arc<Semaphore>,
    sides: Sides,
}

impl std::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadow")
            .field("backend", &self.ledger.backend())
            .field("free_permits", &self.permits.available_permits())
            .finish()
    }
}

/// One verified copy as the request path has it, at the handler's version.
pub struct Offered {
    /// Where its occurrence's comparison is kept ([`Key::shadow`]).
    pub key: Key,
    /// At the handler's version.
    pub event_type: String,
    /// The version the sender delivered it in.
    pub version: String,
    pub event_id: String,
    /// The fingerprint of the event at the handler's version ([`Shadow::fingerprint`]).
    pub fingerprint: Kept,
    pub translated: bool,
    /// Per version a translated twin may come from, the paths its translation synthesises.
    pub expected: BTreeMap<String, Expected>,
}

impl Shadow {
    /// The comparison over `ledger`.
    pub fn new(ledger: Arc<Ledger>) -> Shadow {
        Shadow {
            ledger,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            sides: Sides::new(),
        }
    }

    /// Notes a copy of `route` from the `translated` side (or the native one) and says whether to
    /// offer it ([`Sides::offers`]); counts it skipped (`one_sided`) when not.
    pub fn offers(&self, route: &str, translated: bool) -> bool {
        let offers = self.sides.offers(route, translated, now_ms());
        if !offers {
            crate::metrics::record_shadow_skipped(route, "one_sided");
        }
        offers
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The fingerprint an [`Offered`] copy carries: taken on the request path from the event it
    /// already holds (cheaper than a copy of the event for a background task to read).
    pub fn fingerprint(&self, at_handler: &Value) -> Kept {
        Kept::of(at_handler, self.ledger.keep_values())
    }

    /// Offers a copy to the comparison in the background; returns at once.
    pub fn offer(&self, route: &str, copy: Offered) {
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            crate::metrics::record_shadow_skipped(route, "overloaded");
            return;
        };
        let ledger = Arc::clone(&self.ledger);
        let route_name = route.to_owned();
        tokio::spawn(async move {
            let _permit = permit;
            let Offered {
                key,
                event_type,
                version,
                event_id,
                fingerprint,
                translated,
                expected,
            } = copy;
            let copy = ShadowCopy {
                side: if translated {
                    Side::Translated
                } else {
                    Side::Native
                },
                version,
                event_id,
                fingerprint,
            };
            if let Err(error) = ledger
                .observe_shadow(&key, &event_type, copy, expected)
                .await
            {
                ledger.note_failure("shadow", &error);
                crate::metrics::record_shadow_skipped(&route_name, "ledger_error");
            }
        });
    }

    /// Sweeps entries past retention and refreshes the size gauge every [`SWEEP_INTERVAL`], until
    /// the ledger is dropped (with the last pipeline that holds it).
    pub async fn upkeep(ledger: Weak<Ledger>) {
        loop {
            {
                let Some(ledger) = ledger.upgrade() else {
                    return;
                };
                if let Err(error) = ledger.sweep().await {
                    ledger.note_failure("sweep", &error);
                }
                if let Err(error) = ledger.refresh_size().await {
                    ledger.note_failure("size", &error);
                }
            }
            tokio::time::sleep(SWEEP_INTERVAL).await;
        }
    }
}

/// A verified copy at the handler's version.
pub struct Sent<'a> {
    /// The version the sender delivered it in (its endpoint).
    pub version: &'a str,
    /// The sender's id of this copy ([`Provider::event_id`]: Standard Webhooks' signed
    /// `webhook-id`, the body's `eventId` for the others); empty when it carries none.
    pub event_id: String,
    /// The event at the handler's version: as received, or its translation (the request path
    /// translates a copy once, and delivers the translation it read here).
    pub event: &'a Value,
    /// The sender's signature timestamp (what a translation made here reads as the delivery time).
    pub delivery: Delivery,
}

/// What the ledger needs of a copy read at the handler's version.
pub struct AtHandler {
    /// The sender's id of this copy ([`Sent::event_id`]).
    pub event_id: String,
    /// Whether the copy was sent in another version than the handler's (read from its translation).
    pub translated: bool,
    pub identity: Identity,
    /// Whether the identity is one `identity.toml` declares, which pairs the copy with its twin
    /// from the other endpoint and offers it to the shadow comparison; else the copy is kept by its
    /// signed id alone ([`id_identity`]).
    pub declared: bool,
    /// Per version a translated twin may come from, the paths its translation synthesises.
    pub expected: BTreeMap<String, Expected>,
    /// [`crate::shadow::pair_digest`] outside every expected path.
    pub digest: u64,
}

impl AtHandler {
    /// Reads a copy sent by `provider`, at `handler_version`. `other_versions`: the versions other
    /// than the handler's a twin may come from. `None`: no identity there (never paired).
    pub fn read(
        mappings: &Mappings,
        provider: Provider,
        handler_version: &str,
        other_versions: &[&str],
        sent: Sent<'_>,
    ) -> Option<AtHandler> {
        let Sent {
            version,
            event_id,
            event,
            delivery,
        } = sent;
        let translated = version != handler_version;
        let (identity, declared) = match mappings.identities().of(handler_version, event) {
            Some(identity) => (identity, true),
            None => (id_identity(provider, event, &event_id)?, false),
        };
        // What a translation from each version cannot carry, read on the copy at the handler's
        // version: for a translated copy, its own source version; for a native one, every version its
        // twin may come from. The same paths leave the pairing digest and the shadow comparison. A
        // copy kept by its id has no twin to compare with.
        let sources: &[&str] = match (declared, translated) {
            (false, _) => &[],
            (true, true) => &[version],
            (true, false) => other_versions,
        };
        let expected: BTreeMap<String, Expected> = sources
            .iter()
            .filter_map(|source| {
                let back = mappings.plan(handler_version, source).ok()?;
                let patterns = back
                    .lossy_paths(event, &delivery)
                    .into_iter()
                    .map(|(path, _)| path);
                Some(((*source).to_owned(), Expected::new(patterns)))
            })
            .collect();
        let all = Expected::new(expected.values().flat_map(|e| e.patterns().iter().cloned()));
        let digest = crate::shadow::pair_digest(event, &all);
        Some(AtHandler {
            event_id,
            translated,
            identity,
            declared,
            expected,
            digest,
        })
    }
}

/// [`AtHandler::read`] of a copy as received, translated first when sent in another version than
/// the handler's (as the request path does); with the event at the handler's version. `None`: no
/// identity, or a translation that failed.
#[cfg(test)]
pub(crate) fn read_received(
    mappings: &Mappings,
    provider: Provider,
    handler_version: &str,
    other_versions: &[&str],
    (version, event_id, received, delivery): (&str, String, Value, Delivery),
) -> Option<(AtHandler, Value)> {
    let event = if version == handler_version {
        received
    } else {
        let plan = mappings.plan(version, handler_version).ok()?;
        crate::mapping::translate(plan, received, &delivery).ok()?
    };
    let sent = Sent {
        version,
        event_id,
        event: &event,
        delivery,
    };
    let copy = AtHandler::read(mappings, provider, handler_version, other_versions, sent)?;
    Some((copy, event))
}

/// The ledger identity of a copy whose type declares none, for a provider whose signature covers the
/// event's id (Standard Webhooks' `webhook-id`): that id, so that a sender's retry of a delivered
/// event is answered `duplicate` while another id is another event. Such a copy pairs with no twin
/// (the other endpoint's copy has its own id). `None` for the other providers, or without an id.
fn id_identity(provider: Provider, at_handler: &Value, event_id: &str) -> Option<Identity> {
    if !provider.event_id_is_signed() || event_id.is_empty() {
        return None;
    }
    let event_type = provider.event_type(at_handler)?.to_owned();
    // Declared identities join JSON texts after the type; `webhook-id` is none, so no key collides.
    let key = format!("{event_type}\u{1f}webhook-id\u{1f}{event_id}");
    Some(Identity { event_type, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::Fingerprint;

    fn mappings() -> Mappings {
        Mappings::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings")).unwrap()
    }

    fn golden(step: &str, name: &str, which: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("mappings")
            .join(step)
            .join("golden")
            .join(format!("{name}.{which}.json"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// An Extend copy, named by its body's `eventId`, with the event at the handler's version.
    fn read(mappings: &Mappings, version: &str, event: Value) -> Option<(AtHandler, Value)> {
        let event_id = event
            .get("eventId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let delivery = Delivery {
            timestamp: 1_771_000_000,
        };
        read_received(
            mappings,
            Provider::Extend,
            "2026-02-09",
            &["2025-04-21"],
            (version, event_id, event, delivery),
        )
    }

    #[test]
    fn a_golden_pair_has_one_identity_one_digest_and_matches_but_for_synthesised_paths() {
        let mappings = mappings();
        // A real 2026-02-09 event and its 2025-04-21 twin (the golden case of the way down): the old
        // twin, translated up, lacks what 2025-04-21 cannot carry (timestamps, version objects).
        let new = golden("2026-02-09_to_2025-04-21", "extract_processed", "input");
        let old = golden("2026-02-09_to_2025-04-21", "extract_processed", "output");
        let (translated, translated_event) = read(&mappings, "2025-04-21", old.clone()).unwrap();
        let (native, native_event) = read(&mappings, "2026-02-09", new.clone()).unwrap();
        assert_eq!(translated.identity, native.identity);
        assert!(translated.translated && !native.translated);
        assert_eq!(native.event_id, "evt_Ex1aQ9zR3mP7");
        assert!(native.expected["2025-04-21"].covers("payload.createdAt"));
        // The twins pair by content: the same digest outside what the translation synthesises.
        assert_eq!(translated.digest, native.digest);
        let fingerprint = |event: &Value| Fingerprint::of(event, false);
        let result = crate::shadow::compare(
            &fingerprint(&native_event),
            &fingerprint(&translated_event),
            &native.expected["2025-04-21"],
            "n",
            "t",
            "2025-04-21",
        );
        assert!(result.matched, "{:#?}", result.mismatched);
        assert!(result.expected > 0, "the translation synthesises fields");
        // Without the expected paths the same pair mismatches: the filter is what makes it match.
        let strict = crate::shadow::compare(
            &fingerprint(&native_event),
            &fingerprint(&translated_event),
            &Expected::default(),
            "n",
            "t",
            "2025-04-21",
        );
        assert!(!strict.matched);
        // Another event about the same run (another status) has the same identity, another digest.
        let mut other = new;
        other
            .get_mut("payload")
            .and_then(Value::as_object_mut)
            .unwrap()
            .insert("status", Value::String("FAILED".into()));
        let (other, _) = read(&mappings, "2026-02-09", other).unwrap();
        assert_eq!(other.identity, native.identity);
        assert_ne!(other.digest, native.digest);
    }

    #[test]
    fn an_event_type_without_identity_is_not_read() {
        let mappings = mappings();
        let event: Value = serde_json::from_str(
            r#"{"eventId":"e","eventType":"edit_run.processed","payload":{"id":"x"}}"#,
        )
        .unwrap();
        assert!(read(&mappings, "2026-02-09", event).is_none());
    }

    /// Standard Webhooks signs each copy's `webhook-id`: a type with a declared identity pairs by it,
    /// one without is kept by that id (so a retry is a duplicate, another id another event), and the
    /// type is read from `type`.
    #[test]
    fn a_standard_webhooks_copy_is_named_by_its_webhook_id() {
        let mappings = Mappings::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mappings-standard"),
        )
        .unwrap();
        let read = |version: &str, id: &str, body: &str| {
            let received = serde_json::from_str(body).unwrap();
            let sent = (version, id.to_owned(), received, Delivery { timestamp: 0 });
            read_received(&mappings, Provider::Standard, "v2", &["v1"], sent).map(|(copy, _)| copy)
        };
        let old = read(
            "v1",
            "msg_1",
            r#"{"type":"invoice.paid","timestamp":"2026-03-02T09:15:00Z","data":{"id":"in_1","amount_cents":1250,"currency":"EUR","status":"paid"}}"#,
        )
        .unwrap();
        let new = read(
            "v2",
            "msg_2",
            r#"{"type":"invoice.payment.succeeded","timestamp":"2026-03-02T09:15:00Z","data":{"invoice":{"id":"in_1"},"amount":{"value":1250,"currency":"EUR"},"outcome":"succeeded"}}"#,
        )
        .unwrap();
        assert!(old.declared && new.declared);
        assert_eq!(old.identity, new.identity);
        assert_eq!(old.event_id, "msg_1");
        assert_eq!(old.digest, new.digest);

        let plain =
            r#"{"type":"customer.created","timestamp":"2026-03-02T09:15:00Z","data":{"id":"c"}}"#;
        let first = read("v2", "msg_3", plain).unwrap();
        let retry = read("v2", "msg_3", plain).unwrap();
        let another = read("v2", "msg_4", plain).unwrap();
        assert!(!first.declared && first.expected.is_empty());
        assert_eq!(first.identity.event_type, "customer.created");
        assert_eq!(first.identity, retry.identity);
        assert_ne!(first.identity, another.identity);
        // Without a signed id there is nothing to keep it by.
        assert!(read("v2", "", plain).is_none());
    }
}
#[cfg(test)]
mod golden_digests {
    use super::*;
    use crate::shadow::Fingerprint;

    /// Each golden pair is one event as both endpoints send it. Where the shadow
    /// comparison finds the pair equal, the pairing digest must agree too, or
    /// twins that are equal would fail to pair.
    #[test]
    fn twins_the_shadow_finds_equal_have_equal_pairing_digests() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        let mappings = Mappings::load(&root).unwrap();
        let delivery = Delivery {
            timestamp: 1_771_000_000,
        };
        let (mut equal, mut unequal) = (0, Vec::new());
        for (step, from, to) in [
            ("2025-04-21_to_2026-02-09", "2025-04-21", "2026-02-09"),
            ("2026-02-09_to_2025-04-21", "2026-02-09", "2025-04-21"),
        ] {
            for entry in std::fs::read_dir(root.join(step).join("golden")).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                let Some(base) = name.strip_suffix(".input.json") else {
                    continue;
                };
                let output = path.with_file_name(format!("{base}.output.json"));
                let (Ok(input), Ok(output)) = (std::fs::read(&path), std::fs::read(&output)) else {
                    continue;
                };
                let input: Value = serde_json::from_slice(&input).unwrap();
                let output: Value = serde_json::from_slice(&output).unwrap();
                let read = |version, event: Value| {
                    let sent = (version, String::new(), event, delivery);
                    read_received(&mappings, Provider::Extend, from, &[to], sent)
                };
                let (native, translated) = (read(from, input), read(to, output));
                let (Some((native, native_event)), Some((translated, translated_event))) =
                    (native, translated)
                else {
                    continue;
                };
                let report = crate::shadow::compare(
                    &Fingerprint::of(&native_event, false),
                    &Fingerprint::of(&translated_event, false),
                    &native.expected[to],
                    "native",
                    "translated",
                    to,
                );
                if report.mismatched.is_empty() {
                    equal += 1;
                    if native.digest != translated.digest {
                        unequal.push(format!("{step}/{base}"));
                    }
                }
            }
        }
        assert!(equal >= 20, "only {equal} golden pairs compared equal");
        assert!(unequal.is_empty(), "digests differ: {unequal:?}");
    }
}
