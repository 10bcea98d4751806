//! The request path's side of the shadow comparison: [`Shadow::offer`] hands a verified copy to a
//! background task and returns at once, so the comparison never changes nor delays the answer to the
//! sender. At most [`MAX_IN_FLIGHT`] comparisons run at once; a copy offered past that is skipped and
//! counted (`hookshift_shadow_skipped_total{reason="overloaded"}`), as is one the ledger failed on
//! (`reason="ledger_error"`, the failure itself in `hookshift_ledger_errors_total`).
//!
//! Every copy whose event type declares an identity is offered, whatever its policy: a forwarded copy
//! with the translation the delivery used, an acked or rejected one translated here in the background.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{Key, Ledger, ShadowCopy, Side};
use crate::json::Value;
use crate::mapping::{Delivery, Mappings};
use crate::shadow::{Expected, Fingerprint};

/// Most comparisons (fingerprint, ledger round trip) running at once per process.
pub const MAX_IN_FLIGHT: usize = 256;
/// How often entries past retention are swept and the size gauge refreshed.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The shadow comparison of one process.
pub struct Shadow {
    ledger: Arc<Ledger>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadow")
            .field("backend", &self.ledger.backend())
            .field("free_permits", &self.permits.available_permits())
            .finish()
    }
}

/// One verified copy as the request path has it.
pub struct Offered {
    /// The version the sender delivered it in.
    pub version: String,
    /// The sender's id of this copy ([`crate::provider::Provider::event_id`]).
    pub event_id: String,
    /// The event as received (parsed), in `version`.
    pub received: Value,
    /// Its translation to the handler's version, when the delivery made one.
    pub translated: Option<Value>,
    /// The sender's signature timestamp (what a translation made here reads as the delivery time).
    pub delivery: Delivery,
}

impl Shadow {
    /// The comparison over `ledger`.
    pub fn new(ledger: Arc<Ledger>) -> Shadow {
        Shadow {
            ledger,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// Registers a route's shadow series at zero: one per event type of its handler's version that
    /// declares an identity.
    pub fn register_route(route: &str, handler_version: &str, mappings: &Mappings) {
        crate::metrics::register_shadow(route, mappings.identities().event_types(handler_version));
    }

    /// Offers a copy to the comparison in the background; returns at once. `other_versions`: the
    /// versions other than the handler's a twin may come from.
    pub fn offer(
        &self,
        route: &str,
        handler_version: &str,
        other_versions: Vec<String>,
        mappings: &Arc<Mappings>,
        copy: Offered,
    ) {
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            crate::metrics::record_shadow_skipped(route, "overloaded");
            return;
        };
        let ledger = Arc::clone(&self.ledger);
        let mappings = Arc::clone(mappings);
        let route_name = route.to_owned();
        let handler_version = handler_version.to_owned();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(prepared) = prepare(
                &mappings,
                &handler_version,
                &other_versions,
                copy,
                ledger.keep_values(),
            ) else {
                return;
            };
            let key = Key {
                route: route_name.clone(),
                identity: prepared.identity,
            };
            if let Err(error) = ledger
                .observe_shadow(&key, &prepared.event_type, prepared.copy, prepared.expected)
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

struct Prepared {
    identity: String,
    event_type: String,
    copy: ShadowCopy,
    expected: BTreeMap<String, Expected>,
}

/// The copy at the handler's version, its identity, fingerprint and the differences its translation
/// (or its twin's) is expected to show. `None`: no identity there (never paired), or a translation
/// that failed (the delivery path reports that).
fn prepare(
    mappings: &Mappings,
    handler_version: &str,
    other_versions: &[String],
    copy: Offered,
    keep_values: bool,
) -> Option<Prepared> {
    let Offered {
        version,
        event_id,
        received,
        translated,
        delivery,
    } = copy;
    let (side, at_handler) = if version == handler_version {
        (Side::Native, received)
    } else {
        let event = match translated {
            Some(event) => event,
            None => {
                let plan = mappings.plan(&version, handler_version).ok()?;
                crate::mapping::translate(plan, received.clone(), &delivery).ok()?
            }
        };
        (Side::Translated, event)
    };
    let identity = mappings.identities().of(handler_version, &at_handler)?;
    // What a translation from each version cannot carry, read on the copy at the handler's version:
    // for a translated copy, its own source version; for a native one, every version its twin may
    // come from.
    let sources: Vec<&str> = match side {
        Side::Translated => vec![version.as_str()],
        Side::Native => other_versions.iter().map(String::as_str).collect(),
    };
    let expected = sources
        .into_iter()
        .filter_map(|source| {
            let back = mappings.plan(handler_version, source).ok()?;
            let patterns = back
                .lossy_paths(&at_handler, &delivery)
                .into_iter()
                .map(|(path, _)| path);
            Some((source.to_owned(), Expected::new(patterns)))
        })
        .collect();
    Some(Prepared {
        event_type: identity.event_type,
        identity: identity.key,
        copy: ShadowCopy {
            side,
            version,
            event_id,
            fingerprint: Fingerprint::of(&at_handler, keep_values),
        },
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_golden_pair_has_one_identity_and_matches_but_for_synthesised_paths() {
        let mappings = mappings();
        let delivery = Delivery {
            timestamp: 1_771_000_000,
        };
        // A real 2026-02-09 event and its 2025-04-21 twin (the golden case of the way down): the old
        // twin, translated up, lacks what 2025-04-21 cannot carry (timestamps, version objects).
        let new = golden("2026-02-09_to_2025-04-21", "extract_processed", "input");
        let old = golden("2026-02-09_to_2025-04-21", "extract_processed", "output");
        let other = ["2025-04-21".to_owned()];
        let translated = prepare(
            &mappings,
            "2026-02-09",
            &other,
            Offered {
                version: "2025-04-21".into(),
                event_id: "e".into(),
                received: old,
                translated: None,
                delivery,
            },
            false,
        )
        .unwrap();
        let native = prepare(
            &mappings,
            "2026-02-09",
            &other,
            Offered {
                version: "2026-02-09".into(),
                event_id: "e".into(),
                received: new,
                translated: None,
                delivery,
            },
            false,
        )
        .unwrap();
        assert_eq!(translated.identity, native.identity);
        assert_eq!(translated.copy.side, Side::Translated);
        assert_eq!(native.copy.side, Side::Native);
        assert!(native.expected["2025-04-21"].covers("payload.createdAt"));
        let result = crate::shadow::compare(
            &native.copy.fingerprint,
            &translated.copy.fingerprint,
            &native.expected["2025-04-21"],
            "n",
            "t",
            "2025-04-21",
        );
        assert!(result.matched, "{:#?}", result.mismatched);
        assert!(result.expected > 0, "the translation synthesises fields");
        // Without the expected paths the same pair mismatches: the filter is what makes it match.
        let strict = crate::shadow::compare(
            &native.copy.fingerprint,
            &translated.copy.fingerprint,
            &Expected::default(),
            "n",
            "t",
            "2025-04-21",
        );
        assert!(!strict.matched);
    }

    #[test]
    fn an_event_type_without_identity_is_not_prepared() {
        let mappings = mappings();
        let event: Value = serde_json::from_str(
            r#"{"eventId":"e","eventType":"edit_run.processed","payload":{"id":"x"}}"#,
        )
        .unwrap();
        let prepared = prepare(
            &mappings,
            "2026-02-09",
            &[],
            Offered {
                version: "2026-02-09".into(),
                event_id: "e".into(),
                received: event,
                translated: None,
                delivery: Delivery { timestamp: 0 },
            },
            false,
        );
        assert!(prepared.is_none());
    }
}
