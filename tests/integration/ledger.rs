//! The ledger's operations, the same cases on both backends: SQLite and a real `redis-server`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookshift::json::Value;
use hookshift::ledger::{Key, Ledger, ShadowCopy, ShadowOutcome, Side};
use hookshift::shadow::{Expected, Kept};

use crate::ledger_support::{both_backends, free_port, Backend};

const HOUR_MS: u64 = 3_600_000;

fn key(route: &str, id: &str) -> Key {
    Key {
        route: route.to_owned(),
        identity: format!("extract_run.processed\u{1f}{id}"),
    }
}

fn event(id: &str, status: &str, created_at: &str) -> Value {
    serde_json::from_str(&format!(
        r#"{{"eventId":"evt_{id}_{status}","eventType":"extract_run.processed","payload":{{"object":"extract_run","id":"{id}","status":"{status}","createdAt":"{created_at}"}}}}"#
    ))
    .unwrap()
}

fn copy(side: Side, id: &str, status: &str, created_at: &str) -> ShadowCopy {
    let version = match side {
        Side::Native => "2026-02-09",
        Side::Translated => "2025-04-21",
    };
    ShadowCopy {
        side,
        version: version.to_owned(),
        event_id: format!("evt_{id}_{}", side.as_str()),
        fingerprint: Kept::of(&event(id, status, created_at), false),
    }
}

fn expected() -> BTreeMap<String, Expected> {
    BTreeMap::from([(
        "2025-04-21".to_owned(),
        Expected::new(["payload.createdAt".to_owned()]),
    )])
}

async fn offer(ledger: &Ledger, key: &Key, copy: ShadowCopy) -> ShadowOutcome {
    ledger
        .observe_shadow(key, "extract_run.processed", copy, expected())
        .await
        .unwrap()
}

both_backends!(
    twins_pair_once_whichever_comes_first,
    |backend: Backend| async move {
        let ledger = backend.ledger(HOUR_MS, 1000);
        let route = format!("ledger-pair-{}", backend.kind.as_str());
        // Native first; the translation synthesised createdAt (expected), everything else matches.
        let k = key(&route, "exr_1");
        assert_eq!(
            offer(
                &ledger,
                &k,
                copy(Side::Native, "exr_1", "PROCESSED", "2026-01-01")
            )
            .await,
            ShadowOutcome::First
        );
        assert_eq!(
            offer(
                &ledger,
                &k,
                copy(Side::Native, "exr_1", "PROCESSED", "2026-01-01")
            )
            .await,
            ShadowOutcome::Repeat,
            "a sender retry of the same copy changes nothing"
        );
        let ShadowOutcome::Paired(result) = offer(
            &ledger,
            &k,
            copy(Side::Translated, "exr_1", "PROCESSED", "2026-02-13"),
        )
        .await
        else {
            panic!("the twin pairs")
        };
        assert!(result.matched, "{result:?}");
        assert_eq!(result.expected, 1);
        assert_eq!(result.native_event_id, "evt_exr_1_native");
        assert_eq!(result.translated_event_id, "evt_exr_1_translated");
        assert_eq!(
            offer(
                &ledger,
                &k,
                copy(Side::Translated, "exr_1", "PROCESSED", "2026-02-13")
            )
            .await,
            ShadowOutcome::AlreadyPaired
        );

        // Translated first, and a real difference: named with its types.
        let k = key(&route, "exr_2");
        assert_eq!(
            offer(
                &ledger,
                &k,
                copy(Side::Translated, "exr_2", "FAILED", "2026-02-13")
            )
            .await,
            ShadowOutcome::First
        );
        let ShadowOutcome::Paired(result) = offer(
            &ledger,
            &k,
            copy(Side::Native, "exr_2", "PROCESSED", "2026-01-01"),
        )
        .await
        else {
            panic!("the twin pairs")
        };
        assert!(!result.matched);
        let paths: Vec<&str> = result.mismatched.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["payload.status"]);

        // What the report reads.
        let entries = ledger.store().entries_since(0).await.unwrap();
        assert_eq!(entries.iter().filter(|e| e.route == route).count(), 2);
    }
);

both_backends!(
    replicas_racing_on_twins_pair_each_exactly_once,
    |backend: Backend| async move {
        // Two stores on one backend are two replicas; each twin goes to a different one, at once.
        let a = Arc::new(backend.ledger(HOUR_MS, 100_000));
        let b = backend.replica(&a, HOUR_MS, 100_000);
        let route = format!("ledger-race-{}", backend.kind.as_str());
        let mut tasks = Vec::new();
        for i in 0..40 {
            for (ledger, side) in [(&a, Side::Native), (&b, Side::Translated)] {
                let ledger = Arc::clone(ledger);
                let k = key(&route, &format!("exr_{i}"));
                let id = format!("exr_{i}");
                tasks.push(tokio::spawn(async move {
                    offer(&ledger, &k, copy(side, &id, "PROCESSED", "2026-01-01")).await
                }));
            }
        }
        let mut first = 0;
        let mut paired = 0;
        for task in tasks {
            match task.await.unwrap() {
                ShadowOutcome::First => first += 1,
                ShadowOutcome::Paired(result) => {
                    assert!(result.matched);
                    paired += 1
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((first, paired), (40, 40));
    }
);

both_backends!(
    max_entries_pushes_out_the_oldest_and_counts_unpaired,
    |backend: Backend| async move {
        let ledger = backend.ledger(HOUR_MS, 5);
        let route = format!("ledger-cap-{}", backend.kind.as_str());
        for i in 0..8 {
            let k = key(&route, &format!("exr_{i}"));
            offer(
                &ledger,
                &k,
                copy(Side::Native, &format!("exr_{i}"), "PROCESSED", "x"),
            )
            .await;
            // Distinct creation times, so "oldest" is well defined.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        assert_eq!(ledger.store().entry_count().await.unwrap(), 5);
        let kept: Vec<String> = ledger
            .store()
            .entries_since(0)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.identity)
            .collect();
        assert_eq!(
            kept,
            (3..8)
                .map(|i| format!("extract_run.processed\u{1f}exr_{i}"))
                .collect::<Vec<_>>()
        );
    }
);

both_backends!(
    retention_sweeps_old_entries_and_keeps_new_ones,
    |backend: Backend| async move {
        let ledger = backend.ledger(200, 1000);
        let route = format!("ledger-ret-{}", backend.kind.as_str());
        let old = key(&route, "exr_old");
        offer(
            &ledger,
            &old,
            copy(Side::Translated, "exr_old", "PROCESSED", "x"),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let new = key(&route, "exr_new");
        offer(
            &ledger,
            &new,
            copy(Side::Native, "exr_new", "PROCESSED", "x"),
        )
        .await;
        assert_eq!(ledger.sweep().await.unwrap(), 1);
        assert!(ledger.store().get(&old).await.unwrap().is_none());
        assert!(ledger.store().get(&new).await.unwrap().is_some());
        assert_eq!(ledger.store().entry_count().await.unwrap(), 1);
    }
);

both_backends!(entries_survive_a_restart, |backend: Backend| async move {
    let route = format!("ledger-restart-{}", backend.kind.as_str());
    let k = key(&route, "exr_1");
    {
        let ledger = backend.ledger(HOUR_MS, 1000);
        offer(&ledger, &k, copy(Side::Native, "exr_1", "PROCESSED", "x")).await;
    }
    // A new process: the twin still finds the first copy.
    let ledger = backend.ledger(HOUR_MS, 1000);
    assert!(matches!(
        offer(
            &ledger,
            &k,
            copy(Side::Translated, "exr_1", "PROCESSED", "x")
        )
        .await,
        ShadowOutcome::Paired(_)
    ));
});

#[tokio::test]
async fn an_unreachable_redis_fails_fast_and_is_counted() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let store = hookshift::ledger::Store::Redis(Box::new(
        hookshift::ledger::redis::RedisStore::new(url.as_bytes()).unwrap(),
    ));
    let ledger = Ledger::with_store(
        store,
        hookshift::config::LedgerBackend::Redis,
        HOUR_MS,
        10,
        false,
    );
    for _ in 0..3 {
        let started = Instant::now();
        let result = ledger
            .observe_shadow(
                &key("ledger-down", "exr_1"),
                "extract_run.processed",
                copy(Side::Native, "exr_1", "PROCESSED", "x"),
                expected(),
            )
            .await;
        let error = result.expect_err("nothing listens there");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        assert!(!error.to_string().contains("redis://"), "{error}");
        ledger.note_failure("shadow", &error);
    }
}

#[test]
fn an_unwritable_ledger_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-folder").join("hookshift.ledger");
    let error = match hookshift::ledger::sqlite::SqliteStore::open(&path) {
        Err(e) => e,
        Ok(_) => panic!("a file in a missing folder cannot be created"),
    };
    assert!(error.to_string().contains("hookshift.ledger"), "{error}");
}

/// A ledger file has one server: a second one is refused with a message that names the file and
/// Redis, while a command beside it (`shadow report`, `quarantine replay`) reads and writes it; once the
/// first server is gone, the next one opens it.
#[tokio::test]
async fn a_second_server_on_one_ledger_file_is_refused_a_command_beside_it_is_not() {
    use hookshift::ledger::sqlite::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookshift.ledger");
    let server = SqliteStore::open(&path).unwrap();
    let error = match SqliteStore::open(&path) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("two servers hold one ledger file"),
    };
    assert!(error.contains("hookshift.ledger"), "{error}");
    assert!(error.contains("backend = \"redis\""), "{error}");
    let beside = SqliteStore::open_beside(&path).unwrap();
    assert_eq!(beside.entry_count().await.unwrap(), 0);
    drop(server);
    drop(beside);
    let _next = SqliteStore::open(&path).unwrap();
}

#[cfg(unix)]
#[test]
fn the_ledger_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookshift.ledger");
    let _store = hookshift::ledger::sqlite::SqliteStore::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

both_backends!(
    the_quarantine_is_bounded_and_keeps_each_event_once,
    |backend: Backend| async move {
        use hookshift::ledger::quarantine::{Quarantined, Stored};
        let store = backend.store();
        let item = |event_id: &str| Quarantined {
            id: Quarantined::id_for("q", "2025-04-21", event_id),
            route: "q".into(),
            version: "2025-04-21".into(),
            event_id: event_id.into(),
            event_type: "processor_run.processed".into(),
            received_ms: 1,
            timestamp: 1_771_000_000,
            reason: "mapping failed".into(),
            bytes: 400,
        };
        let body = vec![b'x'; 400];
        assert_eq!(
            store.quarantine_put(&item("a"), &body, 1000).await.unwrap(),
            Stored::New
        );
        assert_eq!(
            store.quarantine_put(&item("a"), &body, 1000).await.unwrap(),
            Stored::Exists
        );
        assert_eq!(
            store.quarantine_put(&item("b"), &body, 1000).await.unwrap(),
            Stored::New
        );
        // 1,200 bytes would pass the bound: refused.
        assert_eq!(
            store.quarantine_put(&item("c"), &body, 1000).await.unwrap(),
            Stored::Full
        );
        assert_eq!(store.quarantine_size().await.unwrap(), (2, 800));
        let listed: Vec<String> = store
            .quarantine_list()
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.event_id)
            .collect();
        assert_eq!(listed.len(), 2);
        assert_eq!(
            store.quarantine_body(&item("a").id).await.unwrap(),
            Some(body.clone())
        );
        assert!(store.quarantine_remove(&item("a").id).await.unwrap());
        assert!(!store.quarantine_remove(&item("a").id).await.unwrap());
        assert_eq!(
            store.quarantine_put(&item("c"), &body, 1000).await.unwrap(),
            Stored::New
        );
        assert_eq!(store.quarantine_size().await.unwrap(), (2, 800));
    }
);

#[cfg(unix)]
#[test]
fn the_quarantine_file_is_private_to_its_owner() {
    // Quarantined events are payload data at rest: they live in the ledger file, created 0600.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookshift.ledger");
    let _store = hookshift::ledger::sqlite::SqliteStore::open(&path).unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", entry.path().display());
    }
}

both_backends!(
    a_replica_checks_what_it_wrote_last_against_what_another_wrote_since,
    |backend: Backend| async move {
        use hookshift::ledger::{sqlite::wait_commit, Change, Entry};
        let a = Arc::new(backend.ledger(HOUR_MS, 1000));
        let b = backend.replica(&a, HOUR_MS, 1000);
        let k = key(&format!("ledger-guess-{}", backend.kind.as_str()), "exr_1");
        let entry = Entry {
            route: k.route.clone(),
            event_type: "a".into(),
            identity: k.identity.clone(),
            created_ms: 1,
            shadow: None,
            occurrences: Vec::new(),
        };
        // Appends `mark` to the entry's type (creating the entry from `entry` when none).
        let append = |mark: &'static str, entry: Entry| {
            move |current: Option<Entry>| {
                let mut next = current.unwrap_or_else(|| entry.clone());
                next.event_type = format!("{}+{mark}", next.event_type);
                (Change::Put(Box::new(next)), ())
            }
        };
        let update = |ledger: Arc<Ledger>, mark, entry: Entry| {
            let k = k.clone();
            async move {
                ledger
                    .store()
                    .update(&k, append(mark, entry), wait_commit, 1000, HOUR_MS)
                    .await
                    .unwrap();
            }
        };
        update(Arc::clone(&a), "a", entry.clone()).await;
        update(Arc::clone(&b), "b", entry.clone()).await;
        // `a` last wrote "a+a"; since then `b` wrote "a+a+b". A read through `a` sees `b`'s write,
        // and so does a write through `a`.
        let seen = a
            .store()
            .update(
                &k,
                |current| (Change::Keep, current),
                wait_commit,
                1000,
                HOUR_MS,
            )
            .await
            .unwrap();
        assert_eq!(seen.value.unwrap().event_type, "a+a+b");
        update(Arc::clone(&a), "a", entry).await;
        let now = a.store().get(&k).await.unwrap().unwrap();
        assert_eq!(now.event_type, "a+a+b+a");
    }
);
