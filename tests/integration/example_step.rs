//! The worked example of docs/writing-a-step.md: a hypothetical Extend version 2026-09-01 after
//! 2026-02-09 (tests/example-step), started with `hookshift new-step`, finished until `hookshift
//! check` is green, then served through the shipped step chained with the example's, both ways, with
//! the ledger pairing twins and every delivery valid against the example's schemas.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hookshift::mapping::Mappings;
use hookshift::provider::Provider;
use hookshift::schema::{Schemas, Strictness};
use serde_json::Value;

use crate::support::*;

const NEXT: &str = "2026-09-01";
const EXAMPLE: &str = "tests/example-step";
const UP: &str = "2026-02-09_to_2026-09-01";
const DOWN: &str = "2026-09-01_to_2026-02-09";
/// The delivery time golden outputs are translated with (`GOLDEN_TS`), as mappings write it.
const GOLDEN_TIME: &str = "2026-02-13T16:26:40Z";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

fn hookshift(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookshift"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("hookshift runs")
}

/// The problems `hookshift check` lists (standard error without warnings and the count line), or
/// none when it passes.
fn check(config: &Path) -> Vec<String> {
    let out = hookshift(&["check", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<String> = stderr
        .lines()
        .filter(|l| !l.starts_with("warning:") && !l.starts_with("hookshift: check found"))
        .map(str::to_owned)
        .collect();
    assert_eq!(out.status.success(), problems.is_empty(), "{stderr}");
    problems
}

/// The 2026-09-01 schemas as the example writes them: 2026-02-09's for the event types it keeps
/// (workflow.deployed is removed), the example's own for those it changes or adds.
fn write_next_schemas(schemas: &Path) {
    let next = schemas.join(NEXT);
    std::fs::create_dir_all(&next).unwrap();
    for file in files_ending(&repo_path("schemas/2026-02-09"), ".json") {
        if !file.ends_with("workflow.deployed.json") {
            std::fs::copy(&file, next.join(file.file_name().unwrap())).unwrap();
        }
    }
    copy_tree(&repo_path(&format!("{EXAMPLE}/schemas/{NEXT}")), &next);
}

/// A copy of the shipped mappings and schemas in `dir`, and a configuration naming them.
fn shipped_copy(dir: &Path, routes: Vec<RouteSpec>, ledger: Option<&Path>) -> (PathBuf, PathBuf) {
    let mappings = dir.join("mappings");
    let schemas = dir.join("schemas");
    copy_tree(&repo_path("mappings"), &mappings);
    copy_tree(&repo_path("schemas"), &schemas);
    let mut spec = ConfigSpec::new(&mappings, routes);
    spec.extra_toml = format!(
        "[schemas]\ndir = {:?}\nvalidate_output = \"enforce\"\n",
        schemas.display().to_string()
    );
    if let Some(ledger) = ledger {
        spec.ledger = format!(
            "[ledger]\nbackend = \"file\"\npath = {:?}\n",
            ledger.display().to_string()
        );
    }
    let config = dir.join("config.toml");
    std::fs::write(&config, spec.toml()).unwrap();
    (mappings, config)
}

/// What the docs walk through: `new-step`, then `check` lists exactly what is left (every event type
/// of 2026-02-09 no change takes, every golden case without its output, the missing schemas), and
/// lists less as each part is written, until it passes.
#[test]
fn new_step_then_check_lists_what_is_left_until_the_example_is_green() {
    let dir = tempfile::tempdir().unwrap();
    let route = RouteSpec::new("example-check", "http://127.0.0.1:9/");
    let (mappings, config) = shipped_copy(dir.path(), vec![route], None);
    let shipped = Mappings::load(&repo_path("mappings")).unwrap();
    let from_types = shipped.event_types_of("2026-02-09");
    let from_cases = files_ending(
        &repo_path("mappings/2025-04-21_to_2026-02-09/golden"),
        ".output.json",
    );

    let out = hookshift(&[
        "new-step",
        "2026-02-09",
        NEXT,
        "--mappings",
        mappings.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let step = mappings.join(UP);

    // Exactly three kinds of problem, each once per thing to write.
    let problems = check(&config);
    let untaken: BTreeSet<String> = problems
        .iter()
        .filter_map(|p| p.strip_prefix(&format!("{UP}: event type \"")))
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(untaken, from_types.iter().cloned().collect());
    let no_output = problems
        .iter()
        .filter(|p| p.starts_with(&format!("golden {UP}/")) && p.contains("no expected output yet"))
        .count();
    assert_eq!(no_output, from_cases.len());
    let schemas_missing = format!("no schemas for version {NEXT} yet");
    assert_eq!(
        problems
            .iter()
            .filter(|p| p.contains(&schemas_missing))
            .count(),
        1
    );
    assert_eq!(
        problems.len(),
        untaken.len() + no_output + 1,
        "nothing else: {problems:#?}"
    );

    // The changes: the skeletons replaced by the example's files. Every event type is taken now;
    // the identity entries new-step copied still name workflow.deployed, which 2026-09-01 removed.
    for skeleton in files_ending(&step, ".toml") {
        std::fs::remove_file(skeleton).unwrap();
    }
    for file in files_ending(&repo_path(&format!("{EXAMPLE}/{UP}")), ".toml") {
        std::fs::copy(&file, step.join(file.file_name().unwrap())).unwrap();
    }
    let problems = check(&config);
    assert!(
        problems.iter().any(|p| p.starts_with(&format!(
            "{DOWN}: event type \"workflow.deployed\" of {NEXT}"
        ))),
        "{problems:#?}"
    );
    assert!(!problems.iter().any(|p| p.starts_with(&format!("{UP}: "))));
    let identity = mappings.join("identity.toml");
    let text = std::fs::read_to_string(&identity).unwrap();
    let (shipped_part, next_part) = text.split_once(&format!("[identity.\"{NEXT}\"]")).unwrap();
    let next_part: String = next_part
        .lines()
        .filter(|l| !l.starts_with("\"workflow.deployed\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        &identity,
        format!("{shipped_part}[identity.\"{NEXT}\"]{next_part}"),
    )
    .unwrap();

    // The golden outputs: a removed event has none (its input goes); `translate --batch-dir` writes
    // the others, and those of the example's cases are what the example committed.
    let golden = step.join("golden");
    std::fs::remove_file(golden.join("workflow_deployed.input.json")).unwrap();
    let out = hookshift(&[
        "translate",
        "--from",
        "2026-02-09",
        "--to",
        NEXT,
        "--mappings",
        mappings.to_str().unwrap(),
        "--timestamp",
        &GOLDEN_TS.to_string(),
        "--batch-dir",
        golden.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    // The example's cases: those new-step copied have the output the batch wrote; the example's
    // own (a failure with both fields, to show the reshape whole) are added as they are.
    let mut compared = 0;
    for committed in files_ending(
        &repo_path(&format!("{EXAMPLE}/{UP}/golden")),
        ".output.json",
    ) {
        let name = committed.file_name().unwrap().to_str().unwrap();
        let input_name = name.replace(".output.json", ".input.json");
        let committed_input = committed.with_file_name(&input_name);
        if golden.join(&input_name).exists() {
            assert_eq!(
                read_json(&golden.join(&input_name)),
                read_json(&committed_input)
            );
            assert_eq!(
                read_json(&golden.join(name)),
                read_json(&committed),
                "{name}"
            );
            compared += 1;
        } else {
            std::fs::copy(&committed_input, golden.join(&input_name)).unwrap();
            std::fs::copy(&committed, golden.join(name)).unwrap();
        }
    }
    assert!(compared >= 5, "{compared}");
    let problems = check(&config);
    assert!(
        problems
            .iter()
            .all(|p| p.contains("has no golden case") || p.contains(NEXT)),
        "{problems:#?}"
    );
    assert!(problems
        .iter()
        .any(|p| p.contains("rule \"parse-run\" has no golden case")));

    // The way back's golden cases and the schemas: green.
    copy_tree(
        &repo_path(&format!("{EXAMPLE}/{DOWN}")),
        &mappings.join(DOWN),
    );
    write_next_schemas(&dir.path().join("schemas"));
    assert_eq!(check(&config), Vec::<String>::new());
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The example's mapping set, assembled as docs/writing-a-step.md says (tests/example-step/assemble.sh).
fn assembled(dir: &Path) -> (PathBuf, PathBuf) {
    let (mappings, schemas) = (dir.join("mappings"), dir.join("schemas"));
    let out = Command::new("sh")
        .arg(repo_path(&format!("{EXAMPLE}/assemble.sh")))
        .args([&mappings, &schemas])
        .current_dir(repo_path(""))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (mappings, schemas)
}

fn golden(step: &str, case: &str, which: &str) -> Value {
    let path = if step.starts_with("2025") {
        format!("mappings/{step}/golden/{case}.{which}.json")
    } else {
        format!("{EXAMPLE}/{step}/golden/{case}.{which}.json")
    };
    read_json(&repo_path(&path))
}

fn with_event_id(mut event: Value, suffix: &str) -> Vec<u8> {
    let id = format!("{}{suffix}", event["eventId"].as_str().unwrap());
    event["eventId"] = Value::String(id);
    serde_json::to_vec(&event).unwrap()
}

/// `actual` is `expected` except where the golden output holds the golden delivery time: there the
/// server wrote its own delivery time.
fn assert_same_but_delivery_time(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::String(e), Value::String(a)) if e == GOLDEN_TIME => {
            assert!(
                a.len() == GOLDEN_TIME.len() && a.ends_with('Z'),
                "{at}: {a}"
            )
        }
        (Value::Object(e), Value::Object(a)) => {
            let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(e), keys(a), "{at}");
            for (k, ev) in e {
                assert_same_but_delivery_time(ev, &a[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{at}");
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                assert_same_but_delivery_time(ev, av, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(expected, actual, "{at}"),
    }
}

async fn send(hs: &Hookshift, route: &str, version: &str, body: &[u8]) -> Answer {
    post_signed(
        hs,
        &format!("/hooks/{route}?api_version={version}"),
        IN_SECRET,
        body,
    )
    .await
}

/// The cases served: a parse run that failed (the object reshape), one that succeeded (the enum
/// value rename) and a workflow created (the field rename).
const CASES: [&str; 3] = ["parse_failed", "parse_processed", "workflow_created"];

/// Two chained steps each way: a 2025-04-21 handler receives 2026-09-01 events, a 2026-09-01
/// handler receives 2025-04-21 events; the twin from the other endpoint is a duplicate the ledger
/// pairs and compares; the new event type and the removed one are acknowledged as unmapped.
#[tokio::test]
async fn the_example_is_served_through_two_chained_steps_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (mappings, schemas_dir) = assembled(dir.path());
    let schemas = Schemas::load(&schemas_dir).unwrap();
    let (old_handler, next_handler) = (Downstream::start().await, Downstream::start().await);
    let mut to_old = RouteSpec::new("example-to-old", &old_handler.url())
        .forward(NEXT)
        .ack(OLD);
    to_old.policy.retain(|(v, _)| v != NEW);
    to_old.downstream_version = OLD.to_owned();
    let mut to_next = RouteSpec::new("example-to-next", &next_handler.url())
        .forward(OLD)
        .ack(NEXT);
    to_next.policy.retain(|(v, _)| v != NEW);
    to_next.downstream_version = NEXT.to_owned();
    let mut spec = ConfigSpec::new(&mappings, vec![to_old, to_next]);
    spec.extra_toml = format!(
        "[schemas]\ndir = {:?}\nvalidate_output = \"enforce\"\n",
        schemas_dir.display().to_string()
    );
    spec.ledger = format!(
        "[ledger]\nbackend = \"file\"\npath = {:?}\n",
        dir.path().join("hookshift.ledger").display().to_string()
    );
    let hs = Hookshift::start(dir.path(), &spec).await;
    let forward = "2025-04-21_to_2026-02-09";

    for case in CASES {
        let old = golden(forward, case, "input");
        let next = golden(UP, case, "output");
        // 2026-09-01 -> 2026-02-09 -> 2025-04-21: exactly the old event; its old twin is a duplicate.
        let answer = send(
            &hs,
            "example-to-old",
            NEXT,
            &serde_json::to_vec(&next).unwrap(),
        )
        .await;
        assert_eq!(
            answer.json["status"], "delivered",
            "{case}: {:?}",
            answer.json
        );
        let answer = send(
            &hs,
            "example-to-old",
            OLD,
            &with_event_id(old.clone(), "_old"),
        )
        .await;
        assert_eq!(
            answer.json["status"], "duplicate",
            "{case}: {:?}",
            answer.json
        );

        // 2025-04-21 -> 2026-02-09 -> 2026-09-01: the example's output but for the delivery time.
        let answer = send(&hs, "example-to-next", OLD, &with_event_id(old, "_a")).await;
        assert_eq!(
            answer.json["status"], "delivered",
            "{case}: {:?}",
            answer.json
        );
        let answer = send(&hs, "example-to-next", NEXT, &with_event_id(next, "_b")).await;
        assert_eq!(
            answer.json["status"], "duplicate",
            "{case}: {:?}",
            answer.json
        );
    }
    // The new event type reaches no 2025-04-21 handler; the removed one no 2026-09-01 handler.
    let started = serde_json::json!({"eventId": "evt_started", "eventType": "parse_run.started",
        "payload": {"object": "parse_run_status", "id": "parser_run_S7a", "status": "PROCESSING"}});
    assert!(schemas
        .validate_event(NEXT, &started, Strictness::Strict(&BTreeSet::new()))
        .is_ok());
    let answer = send(
        &hs,
        "example-to-old",
        NEXT,
        &serde_json::to_vec(&started).unwrap(),
    )
    .await;
    assert_eq!(answer.json["status"], "acked", "{:?}", answer.json);
    let deployed = std::fs::read(repo_path(&format!(
        "mappings/{forward}/golden/workflow_deployed.input.json"
    )))
    .unwrap();
    let answer = send(&hs, "example-to-next", OLD, &deployed).await;
    assert_eq!(answer.json["status"], "acked", "{:?}", answer.json);
    let page = hs.metrics().await;
    for route in ["example-to-old", "example-to-next"] {
        let unmapped = metric_sum(
            &page,
            "hookshift_events_total",
            &[("route", route), ("outcome", "unmapped")],
        );
        assert_eq!(unmapped, 1.0, "{route}");
    }

    let strict = BTreeSet::new();
    let received = old_handler.requests();
    assert_eq!(received.len(), CASES.len());
    for (request, case) in received.iter().zip(CASES) {
        request.assert_signed(Provider::Extend, OUT_SECRET);
        let event = request.json();
        assert_eq!(event, golden(forward, case, "input"), "{case}");
        let valid = schemas.validate_event(OLD, &event, Strictness::Strict(&strict));
        assert_eq!(valid, Ok(()), "{case}");
    }
    let received = next_handler.requests();
    assert_eq!(received.len(), CASES.len());
    for (request, case) in received.iter().zip(CASES) {
        request.assert_signed(Provider::Extend, OUT_SECRET);
        let event = request.json();
        let mut expected = golden(UP, case, "output");
        expected["eventId"] = event["eventId"].clone();
        assert_same_but_delivery_time(&expected, &event, case);
        let valid = schemas.validate_event(NEXT, &event, Strictness::Strict(&strict));
        assert_eq!(valid, Ok(()), "{case}");
    }

    // The ledger paired each event with its twin: three pairs a route, all matching.
    let hs_ref = &hs;
    eventually("every pair is compared", move || async move {
        let page = hs_ref.metrics().await;
        ["example-to-old", "example-to-next"].iter().all(|route| {
            metric_sum(&page, "hookshift_shadow_pairs_total", &[("route", route)]) == 3.0
        })
    })
    .await;
    let page = hs.metrics().await;
    for route in ["example-to-old", "example-to-next"] {
        let matched = metric_sum(
            &page,
            "hookshift_shadow_pairs_total",
            &[("route", route), ("result", "match")],
        );
        assert_eq!(matched, 3.0, "{route}");
    }
    let lines: Vec<String> = [
        "parse_run.failed",
        "parse_run.processed",
        "workflow.created",
    ]
    .iter()
    .map(|event_type| format!("example-to-next {event_type}: 1 pair(s), 100.00 % matched"))
    .collect();
    report_shows(&hs.config_path, "example-to-next", &lines).await;
    hs.stop().await.unwrap();
}
