//! `hookshift quarantine replay` goes through the exactly-once unit live copies go through: the
//! output check holds a replayed translation as it holds a live one, and a replayed event and its
//! live twin reach the handler once between them, whichever comes first. On both backends.

use hookshift::cli::quarantine::{self as quarantine, ListArgs, ReplayArgs, ReplayError};

use crate::ledger_support::{both_backends, Backend};
use crate::support::*;

/// Writes `setup` with the backend's ledger and a route that quarantines what its mappings fail on,
/// and starts hookshift on it.
async fn start_quarantining(backend: &Backend, setup: Setup) -> (Hookshift, Files) {
    let ledger = backend.ledger_toml();
    let files = setup.config(move |spec| spec.ledger = ledger).write().await;
    let text = files.spec.toml_quarantining();
    std::fs::write(&files.config_path, text).unwrap();
    (
        Hookshift::start_from_file(files.config_path.clone()).await,
        files,
    )
}

async fn send(hs: &Hookshift, route: &str, version: &str, body: &[u8]) -> Answer {
    let path = format!("/hooks/{route}?api_version={version}");
    post_signed(hs, &path, IN_SECRET, body).await
}

fn replay_args(files: &Files, route: &str) -> ReplayArgs {
    ReplayArgs {
        config: files.config_path.clone(),
        route: Some(route.to_owned()),
        event_id: None,
        dry_run: false,
    }
}

async fn listed(files: &Files) -> String {
    quarantine::list(&ListArgs {
        config: files.config_path.clone(),
    })
    .await
    .unwrap()
}

both_backends!(
    a_replay_the_output_check_refuses_stays_in_quarantine,
    |backend: Backend| async move {
        let route = format!("replay-enforce-{}", backend.kind.as_str());
        let schemas = repo_path("schemas");
        let setup = Harness::setup(RouteSpec::extend(&route))
            .shipped_mappings()
            .config(move |spec| {
                spec.extra_toml = format!(
                    "[schemas]\ndir = {:?}\nvalidate_output = \"enforce\"\n",
                    schemas
                );
            });
        let (hs, files) = start_quarantining(&backend, setup).await;
        let bad = breaks_the_new_schema();
        assert_eq!(send(&hs, &route, OLD, &bad).await.status, 202);

        // Replayed, the translation breaks the schema just as it did live: kept, with the reason,
        // nothing delivered.
        let report = match quarantine::replay(&replay_args(&files, &route)).await {
            Err(ReplayError::NotAllDelivered {
                failed: 1,
                total: 1,
                report,
            }) => report,
            other => panic!("expected the event kept, got {other:?}"),
        };
        assert!(
            report.contains(&format!("kept: translation failed: the translation breaks the {NEW} schema of extract_run.processed")),
            "{report}"
        );
        assert!(files.down.requests().is_empty());
        assert!(listed(&files).await.contains("1 event(s) in quarantine"));

        // With the check observing only (as a live copy under `observe`), the same replay delivers.
        let observe = std::fs::read_to_string(&files.config_path)
            .unwrap()
            .replace(
                "validate_output = \"enforce\"",
                "validate_output = \"observe\"",
            );
        std::fs::write(&files.config_path, observe).unwrap();
        let done = quarantine::replay(&replay_args(&files, &route))
            .await
            .unwrap();
        assert!(done.contains("delivered, removed"), "{done}");
        let delivered = files.down.wait_for(1).await;
        assert_eq!(
            delivered[0].json()["payload"]["extractor"]["id"],
            serde_json::json!([1, 2])
        );
        assert!(listed(&files).await.contains("0 event(s) in quarantine"));
        hs.stop().await.unwrap();
    }
);

/// The test mappings with an identity for `extract_run.processed` (its run id): the ledger pairs a
/// 2025-04-21 copy with its 2026-02-09 twin.
fn with_identity(files: &Files) {
    std::fs::write(
        files.spec.mappings_dir.join("identity.toml"),
        format!("[identity.\"{NEW}\"]\n\"extract_run.processed\" = [\"payload.id\"]\n"),
    )
    .unwrap();
}

/// A 2025-04-21 EXTRACT run with a numeric id (the test mappings expect a string: it fails them).
fn old_copy(event_id: &str, run: u64) -> Vec<u8> {
    format!(r#"{{"eventId":"{event_id}","eventType":"processor_run.processed","payload":{{"object":"document_processor_run","id":{run},"type":"EXTRACT"}}}}"#).into_bytes()
}

/// Its 2026-02-09 twin: what the fixed mappings make of it, but for its own event id.
fn new_copy(event_id: &str, run: u64) -> Vec<u8> {
    format!(r#"{{"eventId":"{event_id}","eventType":"extract_run.processed","payload":{{"object":"extract_run","id":{run}}}}}"#).into_bytes()
}

both_backends!(
    a_replayed_event_and_its_live_twin_reach_the_handler_once,
    |backend: Backend| async move {
        let route = format!("replay-once-{}", backend.kind.as_str());
        let (hs, files) =
            start_quarantining(&backend, Harness::setup(RouteSpec::extend(&route))).await;
        hs.stop().await.unwrap();
        with_identity(&files);
        let hs = Hookshift::start_from_file(files.config_path.clone()).await;
        // Two runs' old copies fail the mappings: quarantined.
        for (event_id, run) in [("evt_a_old", 5), ("evt_b_old", 6)] {
            let answer = send(&hs, &route, OLD, &old_copy(event_id, run)).await;
            assert_eq!(answer.status, 202, "{answer:?}");
        }
        // Run 5's twin comes in meanwhile: delivered.
        let answer = send(&hs, &route, NEW, &new_copy("evt_a_new", 5)).await;
        assert_eq!(answer.json["status"], "delivered", "{answer:?}");

        // The mapping is fixed (a numeric id is fine, no delivery time added): run 5's old copy
        // is its twin's duplicate, removed without a delivery; run 6's is delivered.
        let rules = files
            .spec
            .mappings_dir
            .join(format!("{OLD}_to_{NEW}"))
            .join("runs.toml");
        let fixed = std::fs::read_to_string(&rules)
            .unwrap()
            .replace("  { expect = \"id\", type = \"string\" },\n", "")
            .replace(
                "  { set = \"deliveredAt\", delivery = \"timestamp\" },\n",
                "",
            );
        std::fs::write(&rules, fixed).unwrap();
        let done = quarantine::replay(&replay_args(&files, &route))
            .await
            .unwrap();
        assert!(
            done.contains("evt_a_old: already delivered (its twin), removed"),
            "{done}"
        );
        assert!(done.contains("evt_b_old: delivered, removed"), "{done}");
        let delivered = files.down.wait_for(2).await;
        assert_eq!(delivered.len(), 2);
        assert_eq!(delivered[0].json()["eventId"], "evt_a_new");
        assert_eq!(delivered[1].json()["eventId"], "evt_b_old");
        assert_eq!(delivered[1].json()["payload"]["id"], 6);

        // Run 6's twin comes after its replay: a duplicate, not delivered again.
        let answer = send(&hs, &route, NEW, &new_copy("evt_b_new", 6)).await;
        assert_eq!(answer.json["status"], "duplicate", "{answer:?}");
        // So is a second replay of an event already replayed: nothing is left to replay.
        let again = quarantine::replay(&replay_args(&files, &route))
            .await
            .unwrap();
        assert!(again.contains("0 event(s) replayed"), "{again}");
        assert_eq!(files.down.requests().len(), 2);
        hs.stop().await.unwrap();
    }
);
