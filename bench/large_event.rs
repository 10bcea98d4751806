//! The large benchmark event: a 2025-04-21 `workflow_run.completed` of about 20 MB, built from the
//! golden `workflow_run_completed` event by repeating its outputs (classification, splitter and
//! extraction runs) and step runs (rule and external-data validation) with unique ids, as a workflow
//! over a large batch delivers it. Built in memory (deterministic), so no 20 MB file is committed.
//! Shared by `benches/pipeline.rs` and `bench/dhat_large.rs`.

use std::path::Path;

use serde_json::Value;

/// The size the large event is grown to (compact JSON bytes, at least).
pub const LARGE_EVENT_BYTES: usize = 20 * 1024 * 1024;

const GOLDEN: &str = "mappings/2025-04-21_to_2026-02-09/golden/workflow_run_completed.input.json";

/// Compact JSON of the golden workflow run with outputs and step runs repeated until it has at
/// least `target` bytes.
pub fn workflow_run(target: usize) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&text).expect("golden event parses");
    let payload = event["payload"].as_object_mut().expect("payload");
    let outputs = payload["outputs"].as_array().expect("outputs").clone();
    let step_runs = payload["stepRuns"].as_array().expect("stepRuns").clone();
    let one_round =
        serde_json::to_vec(&outputs).unwrap().len() + serde_json::to_vec(&step_runs).unwrap().len();
    let rounds = target / one_round + 1;
    let renamed = |template: &Value, round: usize| {
        let mut copy = template.clone();
        if let Some(id) = copy["id"].as_str() {
            copy["id"] = Value::String(format!("{id}_{round}"));
        }
        copy
    };
    payload["outputs"] = Value::Array(
        (0..rounds)
            .flat_map(|round| outputs.iter().map(move |o| (o, round)))
            .map(|(o, round)| renamed(o, round))
            .collect(),
    );
    payload["stepRuns"] = Value::Array(
        (0..rounds)
            .flat_map(|round| step_runs.iter().map(move |s| (s, round)))
            .map(|(s, round)| renamed(s, round))
            .collect(),
    );
    let bytes = serde_json::to_vec(&event).unwrap();
    assert!(bytes.len() >= target, "{} < {target}", bytes.len());
    bytes
}
