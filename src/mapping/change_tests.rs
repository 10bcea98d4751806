//! Tests of two-way steps: `[[change]]` units written once, run forward and inverted.

use crate::json::{json, Value};

use super::*;

const T: Delivery = Delivery {
    timestamp: 1_771_000_000,
};

fn mappings_dir(files: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (folder, file, text) in files {
        let folder = dir.path().join(folder);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(file), text).unwrap();
    }
    dir
}

fn load(files: &[(&str, &str, &str)]) -> Result<Mappings, LoadErrors> {
    Mappings::load(mappings_dir(files).path())
}

fn errors(files: &[(&str, &str, &str)]) -> String {
    load(files)
        .unwrap_err()
        .0
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn event(event_type: &str, payload: Value) -> Value {
    json!({"eventId": "evt_1", "eventType": event_type, "payload": payload})
}

fn go(m: &Mappings, from: &str, to: &str, event: Value) -> Result<Value, TranslateError> {
    translate(m.plan(from, to).unwrap(), event, &T)
}

const INVOICE: &str = r#"
[[change]]
description = "Invoices: `amount` is `total`, PAID is SETTLED, the one file is a list, and invoice.paid is invoice.settled"
events = { "invoice.paid" = "invoice.settled", "invoice.created" = "invoice.created" }
ops = [
  { rename = "amount", to = "total" },
  { map = "status", values = { PAID = "SETTLED", OPEN = "PENDING" } },
  { set = "object", value = "invoice_v2", was = "invoice" },
  { copy = "id", to = "reference" },
  { wrap = "file", to = "files" },
  { each = "lines", transform = "line" },
  { default = "createdAt", delivery = "timestamp", only = "up", note = "a has no timestamps" },
  { drop = "createdAt", reason = "a has no timestamps", only = "down" },
  { drop = "legacy", reason = "b has no legacy flag", only = "up" },
]

[transforms.line]
ops = [{ rename = "qty", to = "quantity" }, { nest = "item" }]
"#;

#[test]
fn one_change_runs_forward_and_inverted_without_a_second_folder() {
    let m = load(&[("a_to_b", "invoice.toml", INVOICE)]).unwrap();
    let old = json!({"object": "invoice", "id": "inv_1", "amount": 12, "status": "PAID",
        "file": {"id": "f1"}, "lines": [{"qty": 2}], "legacy": true});
    let up = go(&m, "a", "b", event("invoice.paid", old.clone())).unwrap();
    assert_eq!(
        up,
        event(
            "invoice.settled",
            json!({"object": "invoice_v2", "id": "inv_1", "total": 12, "status": "SETTLED",
                "reference": "inv_1", "files": [{"id": "f1"}], "lines": [{"item": {"quantity": 2}}],
                "createdAt": "2026-02-13T16:26:40Z"})
        )
    );
    let down = go(&m, "b", "a", up).unwrap();
    let mut expected = old;
    expected.as_object_mut().unwrap().shift_remove("legacy");
    assert_eq!(down, event("invoice.paid", expected));
}

#[test]
fn lossy_entries_derive_from_drops_the_other_direction_does_not_write_back() {
    let m = load(&[("a_to_b", "invoice.toml", INVOICE)]).unwrap();
    let up = m.plan("a", "b").unwrap();
    let lossy = up.lossy_paths(&event("invoice.paid", json!({})), &T);
    // `legacy` is dropped going up and nothing writes it going down. The copy's drop going down
    // is the copy again going up: no loss. `createdAt`, dropped going down, comes back going up
    // as the delivery's time, a new value: a loss.
    assert_eq!(
        lossy,
        vec![(
            "payload.legacy".to_owned(),
            "b has no legacy flag".to_owned()
        )]
    );
    let down = m.plan("b", "a").unwrap();
    assert_eq!(
        down.lossy_paths(&event("invoice.settled", json!({})), &T),
        vec![(
            "payload.createdAt".to_owned(),
            "a has no timestamps".to_owned()
        )]
    );
    assert!(m.check_round_trips().is_empty());
}

#[test]
fn a_drop_the_other_way_restores_elsewhere_says_lossy_false() {
    let text = r#"
[[change]]
description = "x goes"
events = ["e"]
ops = [
  { drop = "x", reason = "b has no x", only = "up", lossy = false },
  { set = "x", value = 1, only = "down" },
]
"#;
    let m = load(&[("a_to_b", "c.toml", text)]).unwrap();
    let up = m.plan("a", "b").unwrap();
    assert!(up.lossy_paths(&event("e", json!({})), &T).is_empty());
}

#[test]
fn one_way_changes_split_by_condition_and_may_have_no_counterpart() {
    let text = r#"
[[change]]
description = "Runs are typed by event name in b"
direction = "up"
events = { "run.done" = "extract_run.done" }
when = { type = "EXTRACT" }
ops = [{ drop = "type", reason = "the event type says it", lossy = false }]

[[change]]
description = "Typed runs are runs with a type in a"
direction = "down"
events = { "extract_run.done" = "run.done" }
ops = [{ set = "type", value = "EXTRACT" }]

[[change]]
description = "b's audit events have no a counterpart"
direction = "down"
events = ["audit.logged"]
counterpart = false
reason = "a has no audit log"
"#;
    let m = load(&[("a_to_b", "runs.toml", text)]).unwrap();
    let up = go(
        &m,
        "a",
        "b",
        event("run.done", json!({"type": "EXTRACT", "id": 1})),
    )
    .unwrap();
    assert_eq!(up, event("extract_run.done", json!({"id": 1})));
    let down = go(&m, "b", "a", up).unwrap();
    assert_eq!(down, event("run.done", json!({"id": 1, "type": "EXTRACT"})));
    assert!(matches!(
        go(&m, "b", "a", event("audit.logged", json!({}))),
        Err(TranslateError::Unmapped { .. })
    ));
    assert!(matches!(
        go(&m, "a", "b", event("run.done", json!({"type": "PARSE"}))),
        Err(TranslateError::Failed { .. })
    ));
}

#[test]
fn a_two_way_step_and_a_one_way_folder_of_the_way_back_load_together() {
    let back = r#"
[[rule]]
name = "only-in-b"
events = { "b.only" = "a.only" }
ops = [{ drop = "z", reason = "a has no z" }]
"#;
    let m = load(&[
        ("a_to_b", "invoice.toml", INVOICE),
        ("b_to_a", "rules.toml", back),
    ])
    .unwrap();
    let down = go(&m, "b", "a", event("b.only", json!({"z": 1}))).unwrap();
    assert_eq!(down, event("a.only", json!({})));
    let down = go(&m, "b", "a", event("invoice.created", json!({"total": 3}))).unwrap();
    // The constant the change sets going up names what the way down writes (`was`).
    assert_eq!(
        down,
        event("invoice.created", json!({"amount": 3, "object": "invoice"}))
    );
}

#[test]
fn every_problem_of_a_two_way_file_is_reported_once_with_file_line_and_key() {
    let bad = r#"# line 1
[[change]]
events = ["e"]
ops = [{ rename = "a", to = "b" }]

[[change]]
description = "defaults cannot be inverted"
events = { "x" = "y" }
ops = [
  { default = "c", value = 1 },
  { map = "d", values = { A = "B", C = "B" } },
  { rename = "e" },
  { drop = "f", reason = "gone", only = "sideways" },
]

[[change]]
description = "two events cannot become one both ways"
events = { "p" = "q", "r" = "q" }
ops = []

[[change]]
description = "when belongs to a direction"
events = ["w"]
when = { type = "A" }
ops = []

[[rule]]
name = "old"
events = { "o" = "o" }
ops = []
"#;
    let joined = errors(&[("a_to_b", "bad.toml", bad)]);
    for expected in [
        "bad.toml:2: change[0].description: every change needs a `description`",
        "bad.toml:10: change \"defaults cannot be inverted\".ops[0]: `default` cannot be inverted",
        "bad.toml:11: change \"defaults cannot be inverted\".ops[1]: `map` cannot be inverted (two values map to \"B\")",
        "bad.toml:12: change \"defaults cannot be inverted\".ops[2].to: required key is missing",
        "bad.toml:13: change \"defaults cannot be inverted\".ops[3].only: `only` is \"up\" or \"down\"",
        "bad.toml:18: change \"two events cannot become one both ways\".events: \"q\" would become both",
        "bad.toml:24: change \"when belongs to a direction\".when: a change that runs both ways writes `when` per direction",
        "bad.toml:27: rule: a two-way file holds `[[change]]` units",
    ] {
        assert!(joined.contains(expected), "missing {expected:?} in:\n{joined}");
    }
    let lines: Vec<&str> = joined.lines().collect();
    let mut unique = lines.clone();
    unique.dedup();
    assert_eq!(lines, unique, "reported twice:\n{joined}");
}

#[test]
fn a_change_side_table_holds_its_direction_s_condition_and_lossy_entries() {
    let text = r#"
[[change]]
description = "steps keep their name; going down only validation steps are taken"
events = ["step.done"]
ops = [{ rename = "result", to = "output" }]
[change.down]
when = { kind = "VALIDATION" }
lossy = { "payload.output.extra" = "a has no extra" }
"#;
    let m = load(&[("a_to_b", "steps.toml", text)]).unwrap();
    let down = m.plan("b", "a").unwrap();
    let e = event("step.done", json!({"kind": "VALIDATION", "output": {}}));
    assert_eq!(
        down.lossy_paths(&e, &T),
        vec![(
            "payload.output.extra".to_owned(),
            "a has no extra".to_owned()
        )]
    );
    assert!(go(&m, "b", "a", event("step.done", json!({"kind": "PARSE"}))).is_err());
    assert!(go(&m, "a", "b", event("step.done", json!({"kind": "PARSE"}))).is_ok());
}

fn lossy_of(m: &Mappings, from: &str, to: &str, event: &Value) -> Vec<String> {
    let mut paths: Vec<String> = m
        .plan(from, to)
        .unwrap()
        .lossy_paths(event, &T)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    paths.sort();
    paths
}

#[test]
fn a_lossy_set_is_placed_under_the_path_where_the_same_object_sits() {
    let rules = r#"[[rule]]
name = "run"
events = { "run.done" = "run.done" }
ops = []
lossy_sets = ["files", { at = "payload.outputs[*]", sets = ["files", "edits"] }]

[lossy.files]
"payload.files[*].usage" = "no usage"

[lossy.edits]
"payload" = "the whole run"
"payload.edits" = "no edits"
"#;
    let m = load(&[("a_to_b", "run.toml", rules)]).unwrap();
    let e = event("run.done", json!({}));
    assert_eq!(
        lossy_of(&m, "a", "b", &e),
        [
            "payload.files[*].usage",
            "payload.outputs[*]",
            "payload.outputs[*].edits",
            "payload.outputs[*].files[*].usage"
        ]
    );

    // Each malformed element is reported with file, line and key; an entry outside the payload
    // cannot be placed.
    let bad = rules
        .replace(
            r#"lossy_sets = ["files", { at = "payload.outputs[*]", sets = ["files", "edits"] }]"#,
            r#"lossy_sets = [{ at = "payload.x" }, { sets = ["files"] }, { at = "p", sets = ["files"], as = 1 }, { at = "payload.y", sets = ["outside"] }, 3]"#,
        )
        .replace("[lossy.edits]", "[lossy.outside]\n\"envelope.id\" = \"not the payload\"\n\n[lossy.edits]");
    let errors = errors(&[("a_to_b", "run.toml", &bad)]);
    for expected in [
        "run.toml:5: rule \"run\".lossy_sets[0]: `sets` is a non-empty list of lossy set names",
        "run.toml:5: rule \"run\".lossy_sets[1]: `at` is the path the sets' entries are placed under",
        "run.toml:5: rule \"run\".lossy_sets[2]: unknown key `as` (expected `at` and `sets`)",
        "run.toml:5: rule \"run\".lossy_sets: \"envelope.id\" of lossy set \"outside\" is not under `payload`: it cannot be placed at \"payload.y\"",
        "run.toml:5: rule \"run\".lossy_sets[4]: must be a list of lossy set names or `{ at = \"PATH\", sets = [\"NAME\", ...] }` tables",
    ] {
        assert!(errors.contains(expected), "{expected}\n---\n{errors}");
    }
}

#[test]
fn a_drop_of_a_constant_the_other_version_holds_sets_it_again_going_down() {
    let change = r#"[[change]]
description = "the kind is the event type"
events = { "thing.made" = "widget.made" }
ops = [{ drop = "kind", was = "WIDGET", reason = "encoded in the event type" }, { rename = "n", to = "name" }]
"#;
    let m = load(&[("a_to_b", "thing.toml", change)]).unwrap();
    let old = event("thing.made", json!({"kind": "WIDGET", "n": "w"}));
    let up = go(&m, "a", "b", old.clone()).unwrap();
    assert_eq!(up, event("widget.made", json!({"name": "w"})));
    assert_eq!(go(&m, "b", "a", up.clone()).unwrap(), old);
    // Restored both ways: no loss either way.
    assert!(lossy_of(&m, "a", "b", &old).is_empty());
    assert!(lossy_of(&m, "b", "a", &up).is_empty());
    // Without `was` a two-way drop has no inverse: the error names the op's line.
    let one_way = change.replace("was = \"WIDGET\", ", "");
    let errors = errors(&[("a_to_b", "thing.toml", &one_way)]);
    assert!(
        errors.contains(
            "thing.toml:4: change \"the kind is the event type\".ops[0]: `drop` cannot be inverted"
        ) || errors.contains("thing.toml:4:") && errors.contains("`drop` cannot be inverted"),
        "{errors}"
    );
}

#[test]
fn lossy_true_makes_a_drop_written_back_from_another_value_a_loss() {
    let change = r#"[[change]]
description = "versions lose updatedAt; the way back writes createdAt there"
events = ["version.published"]
ops = [
  { default = "updatedAt", from = "createdAt", only = "down" },
  { drop = "updatedAt", reason = "b versions do not change", only = "up", lossy = true },
]
"#;
    let m = load(&[("a_to_b", "version.toml", change)]).unwrap();
    let old = event(
        "version.published",
        json!({"createdAt": "t1", "updatedAt": "t2"}),
    );
    assert_eq!(lossy_of(&m, "a", "b", &old), ["payload.updatedAt"]);
    let back = go(&m, "b", "a", go(&m, "a", "b", old).unwrap()).unwrap();
    assert_eq!(
        back,
        event(
            "version.published",
            json!({"createdAt": "t1", "updatedAt": "t1"})
        )
    );
    // Without it the drop counts as written back, so the round trip would claim no loss.
    let unsaid = change.replace(", lossy = true", "");
    let m = load(&[("a_to_b", "version.toml", &unsaid)]).unwrap();
    let old = event(
        "version.published",
        json!({"createdAt": "t1", "updatedAt": "t2"}),
    );
    assert!(lossy_of(&m, "a", "b", &old).is_empty());
}

#[test]
fn a_transform_written_for_several_kinds_is_one_transform_per_kind() {
    let step = r#"[[change]]
description = "runs of each kind name their processor by kind"
events = { "run.extract" = "extract_run.done", "run.classify" = "classify_run.done" }
ops = [{ switch = "type", cases = { EXTRACT = "extract_run", CLASSIFY = "classify_run" } }]

[transforms."{run}_run"]
for = { run = ["extract", "classify"], kind = ["extractor", "classifier"], type = ["EXTRACT", "CLASSIFY"] }
ops = [
  { drop = "type", was = "{type}", reason = "a {run} run" },
  { rename = "processorId", to = "{kind}.id" },
]
"#;
    let m = load(&[("a_to_b", "runs.toml", step)]).unwrap();
    let old = event(
        "run.classify",
        json!({"type": "CLASSIFY", "processorId": "p1"}),
    );
    let up = go(&m, "a", "b", old).unwrap();
    assert_eq!(
        up,
        event("classify_run.done", json!({"classifier": {"id": "p1"}}))
    );
    // Errors name the template's file and line, with the instance's key.
    let broken = step.replace(
        "{ rename = \"processorId\", to = \"{kind}.id\" }",
        "{ rename = \"processorId\" }",
    );
    let found = errors(&[("a_to_b", "runs.toml", &broken)]);
    assert!(
        found.contains("runs.toml:10: transforms.extract_run.ops[1].to: required key is missing"),
        "{found}"
    );
    assert!(
        found.contains("runs.toml:10: transforms.classify_run.ops[1].to: required key is missing"),
        "{found}"
    );
    let unnamed = step.replace("[transforms.\"{run}_run\"]", "[transforms.run]");
    let found = errors(&[("a_to_b", "runs.toml", &unnamed)]);
    assert!(
        found.contains("runs.toml:6: transforms.run.for: a transform written for several instances names each one"),
        "{found}"
    );
}
