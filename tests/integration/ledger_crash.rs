//! The file ledger through a crash: the real binary is killed with SIGKILL in the middle of a load of
//! unique events and started again on the same ledger file, while a sender that behaves like Extend
//! (retries every non-2xx and every request left unanswered) keeps sending.
//!
//! What a user relies on: every event reaches the handler; an event is delivered twice only when the
//! crash cut its delivery (the handler answered 2xx, the process died before the sender heard it),
//! so the duplicates are bounded by the requests in flight at the kill; and what was acknowledged
//! before the crash is remembered after it (a sender's retry of it is not delivered again).

use std::{
    collections::HashSet,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use crate::faults::*;
use crate::support::*;

const EVENTS: usize = 400;
const SENDERS: usize = 32;
/// Handler deliveries (answered 2xx) before the kill.
const KILL_AFTER: u64 = 150;

/// The golden 2025-04-21 `processor_run.processed` (EXTRACT), each with its own eventId and its own
/// run (`payload.id`, the identity the shipped mappings declare): distinct events the ledger records
/// one by one.
fn crash_events(route: &str) -> Vec<Event> {
    let golden: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo_path(&format!(
            "mappings/{OLD}_to_{NEW}/golden/extract_processed.input.json"
        )))
        .unwrap(),
    )
    .unwrap();
    (0..EVENTS)
        .map(|i| {
            let mut event = golden.clone();
            let id = format!("evt_crash_{i}");
            event["eventId"] = id.clone().into();
            event["payload"]["id"] = format!("exr_crash_{i}").into();
            Event {
                id,
                target: format!("/hooks/{route}?api_version={OLD}"),
                body: serde_json::to_vec(&event).unwrap(),
            }
        })
        .collect()
}

/// Events with an attempt that ended without an answer and was open at some time between the kill
/// signal and the moment the process was seen dead: the only ones whose delivery the crash can cut.
fn cut_by_the_crash(report: &SenderReport, killed: Instant, dead: Instant) -> HashSet<String> {
    report
        .attempts
        .iter()
        .filter(|(_, attempts)| {
            attempts
                .iter()
                .any(|a| a.status.is_none() && a.started <= dead && a.ended >= killed)
        })
        .map(|(id, _)| id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_on_the_file_ledger_loses_nothing_and_repeats_only_cut_deliveries() {
    let _heavy = HEAVY.lock().await;
    let route = "ledger_crash";
    // Every delivery takes 10-40 ms, so that deliveries are in flight when the process dies.
    let down = FaultyDownstream::start(Faults {
        slow: 1000,
        slow_ms: (10, 40),
        seed: 29,
        ..Faults::none()
    })
    .await;
    let port = free_port().await;
    // Stage 2 as shipped: the old endpoint's events translated and delivered (the ledger claims each),
    // the new endpoint's acknowledged. The handler's deadline is far beyond its slowest answer, so
    // that no delivery is repeated for a timeout, only for the crash.
    let route_spec = RouteSpec::extend(route)
        .to(&down.url())
        .ack(NEW)
        .timeout_ms(10_000);
    let files = Harness::setup(route_spec)
        .shipped_mappings()
        .config(|c| c.ledger = "[ledger]\nbackend = \"file\"\n".to_owned())
        .write()
        .await;
    let config_path = &files.config_path;
    std::fs::write(
        config_path,
        files.spec.toml().replace(
            "\nlisten = \"127.0.0.1:0\"",
            &format!("\nlisten = \"127.0.0.1:{port}\""),
        ),
    )
    .unwrap();

    let mut first = Binary::start(config_path, &[]);
    let base = first.base.clone();
    let sent = crash_events(route);
    let options = SenderOptions {
        concurrency: SENDERS,
        backoff: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(500),
        // Generous: claims the dead process held keep their events answered 503 until they lapse
        // (the handler's deadline and some slack), and CI shares two cores.
        deadline: Duration::from_secs(300),
        request_timeout: Duration::from_secs(30),
    };
    let sender = {
        let (base, sent, options) = (base.clone(), sent.clone(), options.clone());
        tokio::spawn(async move { send_all(&base, IN_SECRET, sent, &options).await })
    };

    let waiting = Instant::now();
    while DownstreamStats::get(&down.stats.answered_2xx) < KILL_AFTER {
        assert!(
            waiting.elapsed() < Duration::from_secs(120),
            "the handler got {} deliveries in 120 s\n{}",
            DownstreamStats::get(&down.stats.answered_2xx),
            first.log()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let handler_inflight = down.stats.inflight.load(Ordering::SeqCst);
    let killed = Instant::now();
    first.signal("KILL");
    let mut first = tokio::task::spawn_blocking(move || {
        first.wait(Duration::from_secs(20));
        first
    })
    .await
    .unwrap();
    let dead = Instant::now();
    assert!(
        first.child.try_wait().unwrap().is_some(),
        "SIGKILL did not end the process"
    );
    assert!(
        files.dir.path().join("hookshift.ledger").exists(),
        "the file ledger is beside the configuration"
    );

    let second = Binary::start(config_path, &[]);
    assert_eq!(second.base, base, "restarted on the same port");
    let report = sender.await.unwrap();
    assert!(
        report.gave_up.is_empty(),
        "the sender gave up on {} event(s) after {:?}: {:?}\n{}",
        report.gave_up.len(),
        options.deadline,
        report.statuses(),
        second.log()
    );
    let acked_before_kill: Vec<&Event> = sent
        .iter()
        .filter(|e| {
            report.attempts[&e.id]
                .iter()
                .any(|a| a.ended < killed && a.status.is_some_and(|s| (200..300).contains(&s)))
        })
        .collect();
    assert!(
        acked_before_kill.len() < EVENTS,
        "the load was over before the kill: the crash cut nothing"
    );

    let delivered = down.stats.delivered_ids();
    assert_eq!(DownstreamStats::get(&down.stats.bad_requests), 0);
    let lost: Vec<&str> = sent
        .iter()
        .filter(|e| !delivered.contains_key(&e.id))
        .map(|e| e.id.as_str())
        .collect();
    assert!(lost.is_empty(), "acknowledged, never delivered: {lost:?}");

    // Duplicates: only events whose delivery the crash cut, each at most once more.
    let cut = cut_by_the_crash(&report, killed, dead);
    let mut duplicated: Vec<(&String, &u32)> = delivered.iter().filter(|(_, n)| **n > 1).collect();
    duplicated.sort();
    for (id, times) in &duplicated {
        assert!(
            cut.contains(*id),
            "{id} delivered {times} times but no attempt of it was in flight at the kill"
        );
        assert_eq!(**times, 2, "{id} delivered {times} times after one crash");
    }
    assert!(
        duplicated.len() <= SENDERS,
        "{} duplicates, more than the {SENDERS} requests a sender keeps in flight",
        duplicated.len()
    );

    // What was acknowledged before the crash is on file: a sender's retry of it (the same eventId and
    // body, as when Extend never heard the 200) is answered 2xx and not delivered again.
    for event in &acked_before_kill {
        let answer = post_signed_to(&second.base, &event.target, &event.body).await;
        assert_eq!(answer, 200, "a retry of {} after the restart", event.id);
    }
    let again = down.stats.delivered_ids();
    let redelivered: Vec<&String> = acked_before_kill
        .iter()
        .map(|e| &e.id)
        .filter(|id| again[*id] > delivered[*id])
        .collect();
    assert!(
        redelivered.is_empty(),
        "acknowledged before the crash, delivered again after it: {redelivered:?}"
    );

    eprintln!(
        "SIGKILL after {KILL_AFTER} handler deliveries ({handler_inflight} at the handler, {} sender \
         requests cut); {} acknowledged before the kill; duplicates {} of {EVENTS}; sender {:?} in {:?}",
        cut.len(),
        acked_before_kill.len(),
        duplicated.len(),
        report.statuses(),
        report.elapsed
    );
}

/// POSTs `body` to `target` on `base`, signed now; the status.
async fn post_signed_to(base: &str, target: &str, body: &[u8]) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{target}"))
        .body(body.to_vec());
    for (name, value) in extend_headers(IN_SECRET, now(), body) {
        request = request.header(name, value);
    }
    request
        .send()
        .await
        .expect("hookshift answers")
        .status()
        .as_u16()
}
