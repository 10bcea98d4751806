//! A model of the whole migration with the ledger on: a simulated sender with two endpoints sends
//! every logical event once from each, in random order and with random delays, and retries every
//! non-2xx with backoff; the handler fails at random; the operator walks the stages 2 -> 3 -> 4 (roll
//! back to 2) -> 3 by config reload at random moments. Every logical event must reach the handler
//! exactly once. Deterministic seed (the interleaving still depends on the scheduler; the property
//! must hold for any), bounded time. On Redis, two hookshift replicas share the ledger and each copy
//! goes to either.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ledger_support::{both_backends, Backend};
use crate::support::*;

const EVENTS: usize = 60;
const SEED: u64 = 0x5eed_1ed6_e2a0_2026;
/// How long a copy is retried before the sender gives up (well past the last stage switch).
const GIVE_UP: Duration = Duration::from_secs(45);

/// xorshift64*: a small deterministic generator for delays and choices.
struct Rng(AtomicU64);

impl Rng {
    fn next(&self) -> u64 {
        let mut x = self.0.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&self, n: u64) -> u64 {
        self.next() % n
    }
}

fn twin_bodies(i: usize) -> (Vec<u8>, Vec<u8>) {
    let read = |which: &str| {
        std::fs::read_to_string(repo_path(&format!(
            "mappings/{NEW}_to_{OLD}/golden/extract_processed.{which}.json"
        )))
        .unwrap()
    };
    let id = format!("exr_model{i:04}");
    let new = read("input")
        .replace("exr_Xj8mK2pL9nR4vT7qY5wZ", &id)
        .replace("evt_Ex1aQ9zR3mP7", &format!("evt_new_{i}"));
    let old = read("output")
        .replace("exr_Xj8mK2pL9nR4vT7qY5wZ", &id)
        .replace("evt_Ex1aQ9zR3mP7", &format!("evt_old_{i}"));
    (new.into_bytes(), old.into_bytes())
}

fn ledger_toml(backend: &Backend) -> String {
    match &backend.redis {
        Some(redis) => format!("[ledger]\nbackend = \"redis\"\nurl = {:?}\n", redis.url()),
        None => format!(
            "[ledger]\nbackend = \"file\"\npath = {:?}\n",
            backend
                .dir
                .path()
                .join("model.ledger")
                .display()
                .to_string()
        ),
    }
}

both_backends!(
    every_event_reaches_the_handler_exactly_once_across_the_stages,
    |backend: Backend| async move {
        let route = format!("model-{}", backend.kind.as_str());
        let ledger = ledger_toml(&backend);
        let stage2 = RouteSpec::extend(&route).forward(OLD).ack(NEW);
        let Harness { hs, down, spec } = Harness::setup(stage2.clone())
            .shipped_mappings()
            .config(move |spec| spec.ledger = ledger)
            .start()
            .await;
        let down = Arc::new(down);
        // A second replica on the same Redis, delivering to the same handler.
        let replica_dir = tempfile::tempdir().unwrap();
        let replica = match backend.redis {
            Some(_) => Some(Hookshift::start(replica_dir.path(), &spec).await),
            None => None,
        };
        let replicas: Vec<&Hookshift> = std::iter::once(&hs).chain(replica.as_ref()).collect();
        // Both listening before the operator starts editing their files.
        for server in &replicas {
            let answer = post_signed(
                server,
                &format!("/hooks/{route}?api_version={NEW}"),
                "wrong",
                b"{}",
            )
            .await;
            assert_eq!(answer.status, 401);
        }

        let rng = Arc::new(Rng(AtomicU64::new(SEED)));
        let started = Instant::now();
        // The operator: stage 3, roll back to 2, stage 3 again, each at a random moment.
        // From the route as the harness wrote it (with its handler's URL).
        let stage2 = spec.routes[0].clone();
        let stage3 = stage2.clone().reject(OLD).forward(NEW);
        let mut switches = Vec::new();
        let mut at = 0;
        for stage in [&stage3, &stage2, &stage3] {
            at += 400 + rng.below(800);
            switches.push((Duration::from_millis(at), stage.clone()));
        }
        let operator = {
            let paths: Vec<std::path::PathBuf> =
                replicas.iter().map(|r| r.config_path.clone()).collect();
            let mut spec = spec.clone();
            tokio::spawn(async move {
                for (at, stage) in switches {
                    tokio::time::sleep_until((started + at).into()).await;
                    spec.routes[0] = stage;
                    for path in &paths {
                        std::fs::write(path, spec.toml()).unwrap();
                    }
                }
            })
        };
        // The handler: fails one request in five for a while.
        let flaky = {
            let rng = Arc::clone(&rng);
            let down = Arc::clone(&down);
            tokio::spawn(async move {
                while started.elapsed() < Duration::from_secs(3) {
                    down.set(Behaviour::Status(if rng.below(5) == 0 { 500 } else { 200 }));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                down.set(Behaviour::Status(200));
            })
        };
        // The sender: each copy after a random delay, to a random replica, retried with backoff.
        let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
        let mut copies = Vec::new();
        for i in 0..EVENTS {
            let (new, old) = twin_bodies(i);
            for (version, body) in [(NEW, new), (OLD, old)] {
                let delay = Duration::from_millis(rng.below(2500));
                let first_replica = rng.below(bases.len() as u64) as usize;
                let bases = bases.clone();
                let route = route.clone();
                let rng = Arc::clone(&rng);
                copies.push(tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let mut replica = first_replica;
                    let mut backoff = Duration::from_millis(50);
                    loop {
                        let answer = post(
                            &format!("{}/hooks/{route}?api_version={version}", bases[replica]),
                            body.clone(),
                            &extend_headers(IN_SECRET, now(), &body),
                        )
                        .await;
                        if (200..300).contains(&answer.status) {
                            return (
                                i,
                                version,
                                answer.json["status"].as_str().unwrap_or("").to_owned(),
                            );
                        }
                        if started.elapsed() > GIVE_UP {
                            return (i, version, format!("gave up after {}", answer.status));
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_millis(800));
                        replica = rng.below(bases.len() as u64) as usize;
                    }
                }));
            }
        }
        let mut answers: BTreeMap<String, usize> = BTreeMap::new();
        for copy in copies {
            let (_, _, status) = copy.await.unwrap();
            *answers.entry(status).or_default() += 1;
        }
        operator.await.unwrap();
        flaky.await.unwrap();

        // Every switch was applied (the stage changes are what strands or doubles events).
        for server in &replicas {
            let page = server.metrics().await;
            assert!(
                metric_sum(
                    &page,
                    "hookshift_config_reloads_total",
                    &[("result", "success")]
                ) >= 3.0,
                "the operator's reloads applied"
            );
        }
        // The handler's view: each logical event once (its successful deliveries, by payload id).
        let mut delivered: BTreeMap<String, usize> = BTreeMap::new();
        for request in down.requests() {
            if request.answered != 200 {
                continue;
            }
            let id = request.json()["payload"]["id"].as_str().unwrap().to_owned();
            *delivered.entry(id).or_default() += 1;
        }
        let mut ledger_errors = Vec::new();
        for server in &replicas {
            let page = server.metrics().await;
            for line in page
                .lines()
                .filter(|l| l.starts_with("hookshift_ledger_errors_total"))
            {
                if !line.ends_with(" 0") {
                    ledger_errors.push(line.to_owned());
                }
            }
        }
        let twice: Vec<_> = delivered.iter().filter(|(_, n)| **n > 1).collect();
        // Exactly once holds while the ledger answers; a ledger operation that failed (a deadline
        // missed on an overloaded machine) lets that copy through as without a ledger: never a loss,
        // possibly a duplicate.
        assert!(
            twice.is_empty() || !ledger_errors.is_empty(),
            "delivered twice: {twice:?}; answers {answers:?}"
        );
        if !twice.is_empty() {
            eprintln!("duplicates {twice:?} after ledger errors {ledger_errors:?}");
        }
        assert_eq!(
            delivered.len(),
            EVENTS,
            "every logical event delivered; answers {answers:?}"
        );
        // The sender's view: every copy ended in a 2xx (none was left to give up on).
        assert!(
            answers.keys().all(|k| !k.starts_with("gave up")),
            "answers {answers:?}"
        );
        if let Some(replica) = replica {
            replica.stop().await.unwrap();
        }
        hs.stop().await.unwrap();
    }
);
