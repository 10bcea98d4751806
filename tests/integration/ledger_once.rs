//! Exactly-once claims and marks, the same cases on both backends.

use std::sync::Arc;

use hookshift::ledger::once::{Copy, Decision, Intent, Placed};
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
        // One content for every copy here: they are twins and retries of one event.
        digest: 1,
        intent,
        claim_ms: 30_000,
    }
}

const OLD: &str = "2025-04-21";
const NEW: &str = "2026-02-09";

/// The ledger's decision on one copy (the backend must answer).
async fn decide(ledger: &Ledger, k: &Key, copy: Copy<'_>) -> Decision {
    ledger.decide(k, copy).await.unwrap().0
}

fn claim_of(decided: (Decision, Option<Placed>)) -> (Placed, String) {
    match decided {
        (
            Decision::Deliver { token, .. } | Decision::DeliverForTwin { token, .. },
            Some(placed),
        ) => (placed, token),
        other => panic!("expected a claim, got {other:?}"),
    }
}

/// Decides and expects a claim: its occurrence and token.
async fn claim(ledger: &Ledger, k: &Key, copy: Copy<'_>) -> (Placed, String) {
    claim_of(ledger.decide(k, copy).await.unwrap())
}

both_backends!(
    a_delivered_event_is_a_duplicate_for_its_twin_and_its_retries,
    |backend: Backend| async move {
        let ledger = backend.ledger(HOUR_MS, 1000);
        let k = key("once-dup", "exr_1");
        let (placed, t) = claim(&ledger, &k, copy(OLD, "evt_old", Intent::Deliver)).await;
        ledger
            .mark_delivered(&k, placed, &t, OLD, "evt_old")
            .await
            .unwrap();
        for (version, id, intent) in [
            (OLD, "evt_old", Intent::Deliver),
            (NEW, "evt_new", Intent::Deliver),
            (NEW, "evt_new", Intent::Hold),
        ] {
            assert_eq!(
                decide(&ledger, &k, copy(version, id, intent)).await,
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
        let decided = ledger
            .decide(&k, copy(OLD, "evt_old", Intent::Hold))
            .await
            .unwrap();
        assert!(
            matches!(decided.0, Decision::DeliverForTwin { .. }),
            "{decided:?}"
        );
        let (placed, token) = claim_of(decided);
        ledger
            .mark_delivered(&k, placed, &token, OLD, "evt_old")
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
        let first = claim(&ledger, &k, copy(OLD, "evt_old", Intent::Deliver)).await;
        // While the first delivery runs, its twin is told to come back.
        assert_eq!(
            decide(&ledger, &k, copy(NEW, "evt_new", Intent::Deliver)).await,
            Decision::InFlight
        );
        ledger.release(&k, first.0, &first.1).await.unwrap();
        let retry = decide(&ledger, &k, copy(NEW, "evt_new", Intent::Deliver)).await;
        assert!(matches!(retry, Decision::Deliver { .. }), "{retry:?}");
        // A stale release (the first holder's token) does not free the new claim.
        ledger.release(&k, first.0, &first.1).await.unwrap();
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
        let b = backend.replica(&a, HOUR_MS, 100_000);
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

both_backends!(
    distinct_events_about_one_run_are_each_delivered_and_each_deduplicated,
    |backend: Backend| async move {
        // Three events the sender told apart (three event ids) about one run, each retried, each with
        // a twin from the other endpoint: three deliveries, never a fourth.
        let ledger = backend.ledger(HOUR_MS, 1000);
        let k = key("once-occurrences", "exr_1");
        for (i, digest) in [10, 20, 30].into_iter().enumerate() {
            let old_id = format!("evt_old_{i}");
            let mut old = copy(OLD, &old_id, Intent::Deliver);
            old.digest = digest;
            let (placed, token) = claim(&ledger, &k, old.clone()).await;
            assert_eq!(placed.occurrence, i as u32 + 1);
            ledger
                .mark_delivered(&k, placed, &token, OLD, &old_id)
                .await
                .unwrap();
            assert_eq!(decide(&ledger, &k, old).await, Decision::Duplicate);
        }
        // The twins come in another order; each is the duplicate of its own occurrence.
        for (i, digest) in [(2, 30), (0, 10), (1, 20)] {
            let new_id = format!("evt_new_{i}");
            let mut new = copy(NEW, &new_id, Intent::Hold);
            new.digest = digest;
            let (decision, placed) = ledger.decide(&k, new).await.unwrap();
            assert_eq!(decision, Decision::Duplicate);
            assert_eq!(placed.unwrap().occurrence, i + 1);
        }
    }
);
