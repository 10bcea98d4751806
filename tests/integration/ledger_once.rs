//! Exactly-once claims and marks, the same cases on both backends.

use std::sync::Arc;

use hookshift::ledger::once::{Copy, Decision, Intent};
use hookshift::ledger::{Key, Ledger};

use crate::ledger_support::{both_backends, Backend};

const HOUR_MS: u64 = 3_600_000;

fn key(route: &str, id: &str) -> Key {
    Key {
        route: route.to_owned(),
        identity: format!("extract_run.processed\u{1f}\"{id}\""),
    }
}

fn copy<'a>(version: &'a str, event_id: &'a str, intent: Intent) -> Copy<'a> {
    Copy {
        event_type: "extract_run.processed",
        version,
        event_id,
        intent,
        claim_ms: 30_000,
    }
}

const OLD: &str = "2025-04-21";
const NEW: &str = "2026-02-09";

/// The ledger's decision on one copy (the backend must answer).
async fn decide(ledger: &Ledger, k: &Key, copy: Copy<'_>) -> Decision {
    ledger.decide(k, copy).await.unwrap()
}

fn token(decision: &Decision) -> String {
    match decision {
        Decision::Deliver { token } | Decision::DeliverForTwin { token } => token.clone(),
        other => panic!("expected a claim, got {other:?}"),
    }
}

both_backends!(
    a_delivered_event_is_a_duplicate_for_its_twin_and_its_retries,
    |backend: Backend| async move {
        let ledger = backend.ledger(HOUR_MS, 1000);
        let k = key("once-dup", "exr_1");
        let first = decide(&ledger, &k, copy(OLD, "evt_old", Intent::Deliver)).await;
        let t = token(&first);
        ledger.mark_delivered(&k, &t, OLD, "evt_old").await.unwrap();
        for (version, id, intent) in [
            (OLD, "evt_old", Intent::Deliver),
            (NEW, "evt_new", Intent::Deliver),
            (NEW, "evt_new", Intent::Hold),
        ] {
            assert_eq!(
                ledger.decide(&k, copy(version, id, intent)).await.unwrap(),
                Decision::Duplicate
            );
        }
    }
);

both_backends!(
    a_held_twin_makes_an_acked_or_rejected_copy_deliver,
    |backend: Backend| async move {
        // Stage 2: the new copy is acked (held). Stage 3: the old copy's policy is reject, yet it is the
        // only copy left to deliver the event.
        let ledger = backend.ledger(HOUR_MS, 1000);
        let k = key("once-twin", "exr_1");
        assert_eq!(
            decide(&ledger, &k, copy(NEW, "evt_new", Intent::Hold)).await,
            Decision::Policy
        );
        // A retry of the same held copy is still just held.
        assert_eq!(
            decide(&ledger, &k, copy(NEW, "evt_new", Intent::Hold)).await,
            Decision::Policy
        );
        let decision = decide(&ledger, &k, copy(OLD, "evt_old", Intent::Hold)).await;
        assert!(
            matches!(decision, Decision::DeliverForTwin { .. }),
            "{decision:?}"
        );
        ledger
            .mark_delivered(&k, &token(&decision), OLD, "evt_old")
            .await
            .unwrap();
        assert_eq!(
            decide(&ledger, &k, copy(NEW, "evt_new", Intent::Deliver)).await,
            Decision::Duplicate
        );
    }
);

both_backends!(
    a_failed_delivery_releases_its_claim,
    |backend: Backend| async move {
        let ledger = backend.ledger(HOUR_MS, 1000);
        let k = key("once-release", "exr_1");
        let first = decide(&ledger, &k, copy(OLD, "evt_old", Intent::Deliver)).await;
        // While the first delivery runs, its twin is told to come back.
        assert_eq!(
            decide(&ledger, &k, copy(NEW, "evt_new", Intent::Deliver)).await,
            Decision::InFlight
        );
        ledger.release(&k, &token(&first)).await.unwrap();
        let retry = decide(&ledger, &k, copy(NEW, "evt_new", Intent::Deliver)).await;
        assert!(matches!(retry, Decision::Deliver { .. }), "{retry:?}");
        // A stale release (the first holder's token) does not free the new claim.
        ledger.release(&k, &token(&first)).await.unwrap();
        assert_eq!(
            decide(&ledger, &k, copy(OLD, "evt_old", Intent::Deliver)).await,
            Decision::InFlight
        );
    }
);

both_backends!(
    an_expired_claim_is_taken_over,
    |backend: Backend| async move {
        let ledger = backend.ledger(HOUR_MS, 1000);
        let k = key("once-expiry", "exr_1");
        let mut short = copy(OLD, "evt_old", Intent::Deliver);
        short.claim_ms = 50;
        ledger.decide(&k, short).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        let next = decide(&ledger, &k, copy(NEW, "evt_new", Intent::Deliver)).await;
        assert!(matches!(next, Decision::Deliver { .. }), "{next:?}");
    }
);

both_backends!(
    copies_racing_on_two_replicas_get_one_claim,
    |backend: Backend| async move {
        let a = Arc::new(backend.ledger(HOUR_MS, 100_000));
        let b = Arc::new(backend.ledger(HOUR_MS, 100_000));
        let mut tasks = Vec::new();
        for i in 0..30 {
            for (ledger, version) in [(&a, OLD), (&b, NEW), (&a, OLD), (&b, NEW)] {
                let ledger: Arc<Ledger> = Arc::clone(ledger);
                let k = key("once-race", &format!("exr_{i}"));
                tasks.push(tokio::spawn(async move {
                    let id = format!("evt_{version}");
                    (
                        i,
                        decide(&ledger, &k, copy(version, &id, Intent::Deliver)).await,
                    )
                }));
            }
        }
        let mut claims = vec![0; 30];
        for task in tasks {
            let (i, decision) = task.await.unwrap();
            match decision {
                Decision::Deliver { .. } => claims[i] += 1,
                Decision::InFlight => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(claims.iter().all(|&c| c == 1), "{claims:?}");
    }
);
