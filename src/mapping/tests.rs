//! Tests of the mapping engine: loading and its errors, every op, chains, and the shipped mappings' goldens.

use std::path::Path;

use crate::json::{json, Value};

use super::*;

const T: Delivery = Delivery {
    timestamp: 1_771_000_000,
};

/// Writes step folders into a temporary mappings dir: `(folder, file, text)`.
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
    let dir = mappings_dir(files);
    Mappings::load(dir.path())
}

/// One step `a_to_b` with one rule for event `e.old` whose inline ops are `ops`.
fn with_ops(ops: &str, transforms: &str) -> Mappings {
    let text = format!("[[rule]]\nname = \"r\"\nevents = {{ \"e.old\" = \"e.new\" }}\nops = [\n{ops}\n]\n{transforms}");
    load(&[("a_to_b", "m.toml", &text)]).unwrap_or_else(|e| panic!("{e}"))
}

fn run(mappings: &Mappings, payload: Value) -> Result<Value, TranslateError> {
    let plan = mappings.plan("a", "b").unwrap();
    translate(
        plan,
        json!({"eventId": "evt_1", "eventType": "e.old", "payload": payload}),
        &T,
    )
    .map(|mut e| e["payload"].take())
}

#[test]
fn renames_moves_and_keeps_the_rest_in_place() {
    let m = with_ops(
        r#"{ rename = "url", to = "dashboardUrl" },
           { rename = "page", to = "page.number" },
           { rename = "pageWidth", to = "page.width" },
           { set = "object", value = "extract_run" },
           { drop = "type", reason = "in the event type" }"#,
        "",
    );
    let out = run(&m, json!({"object": "x", "type": "EXTRACT", "keep": [1, 2], "url": "u", "page": 2, "pageWidth": 612.5})).unwrap();
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        r#"{"object":"extract_run","keep":[1,2],"dashboardUrl":"u","page":{"number":2,"width":612.5}}"#
    );
}

#[test]
fn the_event_type_is_renamed_and_the_envelope_kept() {
    let m = with_ops(r#"{ set = "a", value = 1 }"#, "");
    let out = translate(
        m.plan("a", "b").unwrap(),
        json!({"eventId": "evt_9", "eventType": "e.old", "payload": {}, "extra": true}),
        &T,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"eventId": "evt_9", "eventType": "e.new", "payload": {"a": 1}, "extra": true})
    );
}

#[test]
fn numbers_come_out_exactly_as_they_went_in() {
    let m = with_ops(r#"{ rename = "amount", to = "total.amount" }"#, "");
    let body = r#"{"eventType":"e.old","payload":{"amount":12345678901234567890.123456789,"id":18446744073709551617,"f":1.10}}"#;
    let event: Value = serde_json::from_str(body).unwrap();
    let out = translate(m.plan("a", "b").unwrap(), event, &T).unwrap();
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        r#"{"eventType":"e.new","payload":{"id":18446744073709551617,"f":1.10,"total":{"amount":12345678901234567890.123456789}}}"#
    );
}

#[test]
fn rename_onto_a_value_is_an_error_naming_the_path() {
    let m = with_ops(r#"{ rename = "a", to = "b" }"#, "");
    let err = run(&m, json!({"a": 1, "b": 2})).unwrap_err();
    assert!(
        matches!(&err, TranslateError::Failed { path, file, .. } if path == "payload.b" && file == "a_to_b/m.toml"),
        "{err}"
    );
    assert!(err.to_string().contains("already holds a number"), "{err}");
}

#[test]
fn copy_default_and_delivery_facts() {
    let m = with_ops(
        r#"{ copy = "$.payload.id", to = "inner.runId" },
           { copy = "$.eventId", to = "inner.eventId" },
           { default = "createdAt", delivery = "timestamp" },
           { default = "updatedAt", from = "createdAt" },
           { default = "keep", value = "no" },
           { set = "unix", delivery = "timestamp_unix" },
           { default = "failureReason", value = "null" },
           { default = "failureMessage", value = false }"#,
        "",
    );
    let out = run(&m, json!({"id": "dpr_1", "keep": "yes", "inner": {}})).unwrap();
    assert_eq!(
        out,
        json!({"id": "dpr_1", "keep": "yes", "inner": {"runId": "dpr_1", "eventId": "evt_1"},
               "createdAt": "2026-02-13T16:26:40Z", "updatedAt": "2026-02-13T16:26:40Z",
               "unix": 1_771_000_000, "failureReason": "null", "failureMessage": false})
    );
}

#[test]
fn input_paths_read_the_event_as_it_arrived() {
    // The rename runs first; `$.payload.a` still sees the original value.
    let m = with_ops(
        r#"{ rename = "a", to = "b" }, { copy = "$.payload.a", to = "c" }"#,
        "",
    );
    assert_eq!(run(&m, json!({"a": 1})).unwrap(), json!({"b": 1, "c": 1}));
}

#[test]
fn map_with_fallback_keep_and_error() {
    let m = with_ops(
        r#"{ map = "a", values = { X = "x" } },
           { map = "b", values = { X = "x" }, fallback = "other" },
           { map = "c", values = { X = "x" }, keep_unknown = true }"#,
        "",
    );
    assert_eq!(
        run(&m, json!({"a": "X", "b": "Y", "c": "Z"})).unwrap(),
        json!({"a": "x", "b": "other", "c": "Z"})
    );
    let err = run(&m, json!({"a": "Q"})).unwrap_err();
    assert!(
        err.to_string()
            .contains("at payload.a: value \"Q\" has no mapping"),
        "{err}"
    );
}

#[test]
fn each_walks_object_values_and_null_can_be_written() {
    let m = with_ops(
        r#"{ each = "metadata", transform = "citation_pages" }, { default = "failureReason", null = true }, { set = "usage", null = true }"#,
        r#"
[transforms.citation_pages]
ops = [{ each = "citations", transform = "page" }]
[transforms.page]
ops = [{ rename = "page", to = "page.number" }]
"#,
    );
    let out = run(&m, json!({"metadata": {"total": {"citations": [{"page": 1}]}, "date": {}}, "usage": {"credits": 1}})).unwrap();
    assert_eq!(
        out,
        json!({"metadata": {"total": {"citations": [{"page": {"number": 1}}]}, "date": {}}, "usage": null, "failureReason": null})
    );
    let err = run(&m, json!({"metadata": {"total": {"citations": [{"page": 1}, {"page": 2, "page.number": 0}]}, "due": {"citations": 3}}})).unwrap_err();
    assert!(
        err.to_string().contains(
            "at payload.metadata.due.citations: expected an array or an object, found a number"
        ),
        "{err}"
    );
}

#[test]
fn default_or_null_and_switch_on_non_strings() {
    let m = with_ops(
        r#"{ default = "edits", value = {}, or_null = true }, { default = "kept", value = 1 }, { switch = "result", cases = { "null" = "none", "true" = "yes" }, otherwise = "other" }"#,
        r#"
[transforms.none]
ops = [{ set = "picked", value = "null" }]
[transforms.yes]
ops = [{ set = "picked", value = "true" }]
[transforms.other]
ops = [{ set = "picked", value = "other" }]
"#,
    );
    assert_eq!(
        run(&m, json!({"edits": null, "kept": null, "result": null})).unwrap(),
        json!({"edits": {}, "kept": null, "result": null, "picked": "null"})
    );
    assert_eq!(
        run(&m, json!({"edits": {"a": 1}, "result": true})).unwrap()["picked"],
        "true"
    );
    assert_eq!(
        run(&m, json!({"result": "null"})).unwrap()["picked"],
        "null"
    );
    assert_eq!(
        run(&m, json!({"result": {"x": 1}})).unwrap()["picked"],
        "other"
    );
}

#[test]
fn lossy_patterns_match_any_index_and_any_key() {
    let value = json!({"payload": {"metadata": {"a": {"citations": [{"fileId": 1, "page": 2}]}, "b": {"citations": []}}, "keep": 1}});
    assert_eq!(
        golden::without(&value, &["payload.metadata.*.citations[*].fileId"]),
        json!({"payload": {"metadata": {"a": {"citations": [{"page": 2}]}, "b": {"citations": []}}, "keep": 1}})
    );
    assert_eq!(
        golden::without(&value, &["payload.metadata.*"]),
        json!({"payload": {"metadata": {}, "keep": 1}})
    );
}

#[test]
fn unwrap_and_wrap() {
    let m = with_ops(
        r#"{ unwrap = "files", to = "file" }, { wrap = "one", to = "many" }, { wrap = "none", to = "nothing" }"#,
        "",
    );
    assert_eq!(
        run(&m, json!({"files": [{"id": 1}], "one": 5, "none": null})).unwrap(),
        json!({"file": {"id": 1}, "many": [5], "nothing": []})
    );
    assert_eq!(
        run(&m, json!({"files": []})).unwrap(),
        json!({"file": null})
    );
    let err = run(&m, json!({"files": [1, 2]})).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected at most one element, found 2"),
        "{err}"
    );

    let m = with_ops(r#"{ unwrap = "files", to = "file", rest_to = "more" }"#, "");
    assert_eq!(
        run(&m, json!({"files": [1, 2, 3]})).unwrap(),
        json!({"more": [2, 3], "file": 1})
    );
    let m = with_ops(
        r#"{ unwrap = "files", to = "file", rest = "drop", reason = "one file only" }"#,
        "",
    );
    assert_eq!(
        run(&m, json!({"files": [1, 2, 3]})).unwrap(),
        json!({"file": 1})
    );
}

#[test]
fn each_apply_and_switch_run_named_transforms_with_located_errors() {
    let m = with_ops(
        r#"{ each = "files", transform = "file" }, { apply = "config", transform = "config" }, { switch = "type", cases = { A = "to_a" }, otherwise = "to_other" }"#,
        r#"
[transforms.file]
ops = [{ drop = "presignedUrl", reason = "not in FileSummary" }, { expect = "id", type = "string" }]
[transforms.config]
ops = [{ rename = "parser", to = "parseConfig" }]
[transforms.to_a]
ops = [{ set = "kind", value = "a" }]
[transforms.to_other]
ops = [{ set = "kind", value = "other" }]
"#,
    );
    let out = run(&m, json!({"type": "A", "files": [{"id": "f", "presignedUrl": "s"}], "config": {"parser": {"x": 1}}})).unwrap();
    assert_eq!(
        out,
        json!({"type": "A", "files": [{"id": "f"}], "config": {"parseConfig": {"x": 1}}, "kind": "a"})
    );
    assert_eq!(
        run(&m, json!({"type": "B"})).unwrap(),
        json!({"type": "B", "kind": "other"})
    );
    let err = run(&m, json!({"type": "A", "files": [{"id": "f"}, {"id": 7}]})).unwrap_err();
    assert!(
        err.to_string()
            .contains("at payload.files[1].id: expected string, found a number"),
        "{err}"
    );
}

#[test]
fn nest_unnest_append_partition_all_keep_only() {
    let m = with_ops(
        r#"{ each = "outputs", transform = "to_step" }, { append = "outputs", to = "stepRuns" }, { all = "rules", field = "valid", to = "allPassed" }"#,
        r#"
[transforms.to_step]
ops = [{ nest = "result.extractRun" }, { copy = "result.extractRun.status", to = "status" }, { set = "stepType", value = "EXTRACT" }]
"#,
    );
    let out = run(&m, json!({"outputs": [{"status": "PROCESSED"}], "stepRuns": [{"stepType": "RULE_VALIDATION"}], "rules": [{"valid": true}, {"valid": true}]})).unwrap();
    assert_eq!(
        out,
        json!({"stepRuns": [{"stepType": "RULE_VALIDATION"}, {"result": {"extractRun": {"status": "PROCESSED"}}, "status": "PROCESSED", "stepType": "EXTRACT"}],
               "rules": [{"valid": true}, {"valid": true}], "allPassed": true})
    );

    let back = with_ops(
        r#"{ partition = "stepRuns", to = "outputs", where = { stepType = ["EXTRACT", "SPLIT"] } }, { each = "outputs", transform = "from_step" }"#,
        r#"
[transforms.from_step]
ops = [{ drop = "status", reason = "copy of the run's status" }, { drop = "stepType", reason = "in the run type" }, { unnest = "result.extractRun" }]
"#,
    );
    let out = run(&back, json!({"stepRuns": [{"stepType": "RULE_VALIDATION"}, {"stepType": "EXTRACT", "status": "P", "result": {"extractRun": {"id": 1}}}]})).unwrap();
    assert_eq!(
        out,
        json!({"stepRuns": [{"stepType": "RULE_VALIDATION"}], "outputs": [{"id": 1}]})
    );
    // A field the mapping does not know (added by the sender later) never fails the event: the
    // object it sat on is replaced, so it is dropped and reported at its input path.
    let translated = translate_reporting(
        back.plan("a", "b").unwrap(),
        json!({"eventType": "e.old", "payload": {"stepRuns": [{"stepType": "EXTRACT", "startedAt": 1, "result": {"extractRun": {"id": 2}}}]}}),
        &T,
    )
    .unwrap();
    assert_eq!(
        translated.event["payload"],
        json!({"stepRuns": [], "outputs": [{"id": 2}]})
    );
    assert_eq!(
        translated.unmapped_fields,
        ["payload.stepRuns[*].startedAt"]
    );

    let m = with_ops(
        r#"{ keep_only = ["id", "name"], reason = "FileSummary is closed" }"#,
        "",
    );
    assert_eq!(
        run(&m, json!({"id": 1, "x": 2, "name": 3})).unwrap(),
        json!({"id": 1, "name": 3})
    );
}

#[test]
fn rules_match_on_payload_fields_and_unmatched_events_are_unmapped() {
    let text = r#"
[[rule]]
name = "extract"
events = { "run.done" = "extract_run.done" }
when = { type = "EXTRACT" }
ops = [{ drop = "type", reason = "in the event type" }]

[[rule]]
name = "classify"
events = { "run.done" = "classify_run.done" }
when = { type = ["CLASSIFY", "CLASSIFIER"] }
ops = []
"#;
    let m = load(&[("a_to_b", "m.toml", text)]).unwrap();
    let plan = m.plan("a", "b").unwrap();
    let ev = |t: &str| json!({"eventType": "run.done", "payload": {"type": t}});
    assert_eq!(
        translate(plan, ev("EXTRACT"), &T).unwrap(),
        json!({"eventType": "extract_run.done", "payload": {}})
    );
    assert_eq!(
        translate(plan, ev("CLASSIFIER"), &T).unwrap()["eventType"],
        "classify_run.done"
    );
    // Rules name the type but none takes this shape: refused, never acknowledged as unmapped.
    let err = translate(plan, ev("SPLITTER"), &T).unwrap_err();
    assert!(
        matches!(&err, TranslateError::Failed { rule, file, path, .. }
            if rule == "extract | classify" && file == "a_to_b/m.toml" && path == "payload.type"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(
            "found \"SPLITTER\", the rules take \"CLASSIFIER\", \"CLASSIFY\", \"EXTRACT\""
        ),
        "{err}"
    );
    assert!(matches!(
        translate(plan, json!({"eventType": "run.done", "payload": {}}), &T),
        Err(TranslateError::Failed { path, .. }) if path == "payload.type"
    ));
    for payload in [json!(null), json!(3), json!([]), json!("x")] {
        assert!(matches!(
            translate(
                plan,
                json!({"eventType": "run.done", "payload": payload}),
                &T
            ),
            Err(TranslateError::NotAnEvent(_))
        ));
    }
    assert!(matches!(
        translate(plan, json!({"eventType": "other", "payload": {}}), &T),
        Err(TranslateError::Unmapped { event_type, .. }) if event_type == "other"
    ));
    assert!(matches!(
        translate(plan, json!({"payload": {}}), &T),
        Err(TranslateError::NotAnEvent(_))
    ));
    assert!(matches!(
        translate(plan, json!([1]), &T),
        Err(TranslateError::NotAnEvent(_))
    ));
    assert!(m.is_known_event_type("run.done") && m.is_known_event_type("classify_run.done"));
    assert!(!m.is_known_event_type("made.up"));
}

#[test]
fn steps_chain_and_equal_versions_need_no_steps() {
    let ab = "[[rule]]\nname = \"r\"\nevents = { \"e1\" = \"e2\" }\nops = [{ rename = \"a\", to = \"b\" }]\n";
    let bc = "[[rule]]\nname = \"r\"\nevents = { \"e2\" = \"e3\" }\nops = [{ rename = \"b\", to = \"c\" }]\n";
    let order = "order = [\"a\", \"b\", \"c\"]\n";
    let m = load(&[
        ("", "versions.toml", order),
        ("a_to_b", "m.toml", ab),
        ("b_to_c", "m.toml", bc),
    ])
    .unwrap();
    let plan = m.plan("a", "c").unwrap();
    assert_eq!((plan.from(), plan.to()), ("a", "c"));
    assert_eq!(
        translate(plan, json!({"eventType": "e1", "payload": {"a": 1}}), &T).unwrap(),
        json!({"eventType": "e3", "payload": {"c": 1}})
    );
    assert!(m.plan("b", "b").unwrap().is_identity());
    assert!(m.plan("c", "a").is_err());
    assert_eq!(
        m.versions().into_iter().collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

#[test]
fn without_a_version_order_each_step_translates_only_its_own_pair() {
    let ab = "[[rule]]\nname = \"r\"\nevents = { \"e1\" = \"e2\" }\nops = [{ rename = \"a\", to = \"b\" }]\n";
    let bc = "[[rule]]\nname = \"r\"\nevents = { \"e2\" = \"e3\" }\nops = [{ rename = \"b\", to = \"c\" }]\n";
    let m = load(&[("a_to_b", "m.toml", ab), ("b_to_c", "m.toml", bc)]).unwrap();
    assert!(m.plan("a", "b").is_ok() && m.plan("b", "c").is_ok());
    assert!(m.plan("a", "c").is_err());
    assert!(m.plan("c", "c").unwrap().is_identity());
}

#[test]
fn a_shortcut_step_folder_is_refused_and_never_changes_the_chain() {
    let rule = |from: &str, to: &str| {
        format!("[[rule]]\nname = \"r\"\nevents = {{ \"{from}\" = \"{to}\" }}\nops = [{{ set = \"via\", value = \"{from}-{to}\" }}]\n")
    };
    let (ab, bc, ac) = (rule("e1", "e2"), rule("e2", "e3"), rule("e1", "e3"));
    let order = "order = [\"a\", \"b\", \"c\"]\n";
    let errors = load_errors(&[
        ("", "versions.toml", order),
        ("a_to_b", "m.toml", &ab),
        ("b_to_c", "m.toml", &bc),
        ("a_to_c", "m.toml", &ac),
    ]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("a_to_c:0: folder name:") && errors[0].contains("adjacent versions"),
        "{errors:?}"
    );
    // A step naming a version the order does not list is refused the same way.
    let errors = load_errors(&[("", "versions.toml", order), ("c_to_d", "m.toml", &bc)]);
    assert!(
        errors.iter().any(|e| e.starts_with("c_to_d:0:")),
        "{errors:?}"
    );
    // Down the order: the chain runs c -> b -> a, and a missing step leaves no plan.
    let m = load(&[
        ("", "versions.toml", order),
        ("c_to_b", "m.toml", &rule("e3", "e2")),
        ("b_to_a", "m.toml", &rule("e2", "e1")),
        ("a_to_b", "m.toml", &ab),
    ])
    .unwrap();
    let down = translate(
        m.plan("c", "a").unwrap(),
        json!({"eventType": "e3", "payload": {}}),
        &T,
    )
    .unwrap();
    assert_eq!(
        down,
        json!({"eventType": "e1", "payload": {"via": "e2-e1"}})
    );
    assert!(m.plan("a", "c").is_err(), "b_to_c is missing");
}

#[test]
fn a_bad_version_order_is_reported_with_its_line() {
    let ab = "[[rule]]\nname = \"r\"\nevents = { \"e1\" = \"e2\" }\nops = [{ rename = \"a\", to = \"b\" }]\n";
    for (text, expected) in [
        (
            "\norder = [\"a\"]\n",
            "versions.toml:2: order: lists at least two versions",
        ),
        (
            "order = [\"a\", \"b\", \"a\"]\n",
            "versions.toml:1: order: version \"a\" is listed twice",
        ),
        ("order = \"a\"\n", "versions.toml:1: order: must be a list"),
        (
            "ordre = [\"a\", \"b\"]\n",
            "versions.toml:1: ordre: unknown key",
        ),
        ("# versions\n", "versions.toml:1: order: required"),
    ] {
        let errors = load_errors(&[("", "versions.toml", text), ("a_to_b", "m.toml", ab)]);
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{text:?}: {errors:?}"
        );
    }
}

#[test]
fn every_problem_of_the_versions_file_is_reported_once() {
    let ab = "[[rule]]\nname = \"r\"\nevents = { \"e1\" = \"e2\" }\nops = [{ rename = \"a\", to = \"b\" }]\n";
    let of_versions = |errors: Vec<String>| -> Vec<String> {
        errors
            .into_iter()
            .filter(|e| e.starts_with("versions.toml"))
            .collect()
    };
    // Bad envelope members and a bad order: all of them, each with its line.
    let text = "order = [\"a\"]\npayload = \"a.b\"\nevent_type = 3\n";
    let errors = of_versions(load_errors(&[
        ("", "versions.toml", text),
        ("a_to_b", "m.toml", ab),
    ]));
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("versions.toml:2: payload: must name"));
    assert!(errors[1].starts_with("versions.toml:3: event_type: must name"));
    assert!(errors[2].starts_with("versions.toml:1: order: lists at least two versions"));
    // Not TOML: one error, with its line (the envelope members keep their defaults, unreported).
    let text = "order = [\"a\", \"b\"]\npayload = \n";
    let errors = of_versions(load_errors(&[
        ("", "versions.toml", text),
        ("a_to_b", "m.toml", ab),
    ]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("versions.toml:2: -: not valid TOML"),
        "{errors:?}"
    );
    // Not a file: one error saying it cannot be read.
    let dir = mappings_dir(&[("a_to_b", "m.toml", ab)]);
    std::fs::create_dir(dir.path().join("versions.toml")).unwrap();
    let errors = of_versions(
        Mappings::load(dir.path())
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect(),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("versions.toml:0: -: cannot read"),
        "{errors:?}"
    );
}

#[test]
fn old_spellings_of_naming_a_transform_load_and_are_reported_with_the_new_one() {
    let text = r#"[[rule]]
name = "r"
events = { "e.old" = "e.new" }
apply = "outer"

[transforms.outer]
ops = [
  { each = "items", apply = "item" },
]

[transforms.item]
ops = [{ set = "seen", value = true }]
"#;
    let m = load(&[("a_to_b", "m.toml", text)]).unwrap();
    let warnings: Vec<String> = m.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].ends_with("m.toml:4: rule \"r\".apply: old spelling: a rule names its transform with `transform`: write `transform = \"...\"`"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("m.toml:8: transforms.outer.ops[0].apply: old spelling")
            && warnings[1].contains("{ each = \"...\", transform = \"...\" }"),
        "{warnings:?}"
    );
    // The old spelling still translates as before.
    assert_eq!(
        run(&m, json!({"items": [{}, {}]})).unwrap(),
        json!({"items": [{"seen": true}, {"seen": true}]})
    );
    // The new spelling loads without warnings; both at once in a rule is an error.
    let new = text
        .replace("\napply = ", "\ntransform = ")
        .replace("apply = \"item\"", "transform = \"item\"");
    assert!(load(&[("a_to_b", "m.toml", &new)])
        .unwrap()
        .warnings()
        .is_empty());
    let both = text.replace(
        "apply = \"outer\"",
        "apply = \"outer\"\ntransform = \"outer\"",
    );
    let errors = load_errors(&[("a_to_b", "m.toml", &both)]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("rule \"r\".apply: `apply` is the old spelling of `transform`")),
        "{errors:?}"
    );
}

#[test]
fn lossy_sets_are_shared_by_the_rules_that_name_them_and_expanded() {
    let rules = r#"[[rule]]
name = "one"
events = { "e1" = "f1" }
ops = [{ drop = "x", reason = "gone" }]
lossy_sets = ["files"]
[rule.lossy]
"payload.x" = "gone in the target"

[[rule]]
name = "two"
events = { "e2" = "f2" }
ops = [{ drop = "x", reason = "gone" }]
lossy_sets = ["files"]
"#;
    let sets = r#"[lossy.files]
"payload.files[*].presignedUrl" = "FileSummary has no presignedUrl"
"payload.files[*].usage" = "FileSummary has no usage"
"#;
    let m = load(&[
        ("a_to_b", "rules.toml", rules),
        ("a_to_b", "shared.toml", sets),
    ])
    .unwrap();
    let plan = m.plan("a", "b").unwrap();
    let one = plan.lossy_paths(&json!({"eventType": "e1", "payload": {}}), &T);
    assert_eq!(
        one,
        [
            ("payload.x".into(), "gone in the target".into()),
            (
                "payload.files[*].presignedUrl".into(),
                "FileSummary has no presignedUrl".into()
            ),
            (
                "payload.files[*].usage".into(),
                "FileSummary has no usage".into()
            ),
        ]
    );
    let two = plan.lossy_paths(&json!({"eventType": "e2", "payload": {}}), &T);
    assert_eq!(two.len(), 2);
    // The mapping reference prints the expanded entries.
    let reference = m.reference_markdown();
    assert!(
        reference.contains("lossy on a round trip: `payload.files[*].presignedUrl` (FileSummary has no presignedUrl); `payload.files[*].usage` (FileSummary has no usage); `payload.x` (gone in the target)"),
        "{reference}"
    );

    // An unknown set, a path the rule lists itself too, and a set defined twice are errors.
    let unknown = rules.replacen("lossy_sets = [\"files\"]", "lossy_sets = [\"fiels\"]", 1);
    let errors = load_errors(&[
        ("a_to_b", "rules.toml", &unknown),
        ("a_to_b", "shared.toml", sets),
    ]);
    assert!(
        errors.iter().any(|e| e.contains(
            "rules.toml:5: rule \"one\".lossy_sets: unknown lossy set \"fiels\" (known: files)"
        )),
        "{errors:?}"
    );
    let twice = rules.replacen(
        "\"payload.x\" = \"gone in the target\"",
        "\"payload.files[*].usage\" = \"again\"",
        1,
    );
    let errors = load_errors(&[
        ("a_to_b", "rules.toml", &twice),
        ("a_to_b", "shared.toml", sets),
    ]);
    assert!(
        errors.iter().any(|e| e.contains("rule \"one\".lossy_sets: \"payload.files[*].usage\" of lossy set \"files\" is already listed")),
        "{errors:?}"
    );
    let errors = load_errors(&[
        ("a_to_b", "rules.toml", rules),
        ("a_to_b", "shared.toml", sets),
        ("a_to_b", "zz.toml", sets),
    ]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("zz.toml:1: lossy.files: lossy set defined twice (first at")),
        "{errors:?}"
    );
    let errors = load_errors(&[
        ("a_to_b", "rules.toml", rules),
        ("a_to_b", "shared.toml", "[lossy.files]\n\"p\" = \"\"\n"),
    ]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("lossy.files.p: must be the reason")),
        "{errors:?}"
    );
}

fn load_errors(files: &[(&str, &str, &str)]) -> Vec<String> {
    load(files)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn every_error_is_reported_with_file_line_and_key() {
    let bad = r#"# line 1
[[rule]]
name = "first"
events = { "x" = "y" }
transform = "missing_transform"

[[rule]]
name = "second"
events = { "z" = "w" }
ops = [
  { rename = "a" },
  { frobnicate = "b" },
  { drop = "c" },
  { set = "d", value = 1, colour = "red" },
  { map = "e", values = { A = "B" }, fallback = 1, keep_unknown = true },
]
bogus = 1
"#;
    let errors = load_errors(&[("a_to_b", "bad.toml", bad)]);
    let joined = errors.join("\n");
    for expected in [
        "bad.toml:5: rule \"first\".transform: unknown transform \"missing_transform\"",
        "bad.toml:11: rule \"second\".ops[0].to: required key is missing",
        "bad.toml:12: rule \"second\".ops[1]: no op verb",
        "bad.toml:13: rule \"second\".ops[2].reason: required key is missing",
        "bad.toml:14: rule \"second\".ops[3].colour: unknown key for this op",
        "bad.toml:15: rule \"second\".ops[4]: `fallback` and `keep_unknown` exclude each other",
        "bad.toml:17: rule \"second\".bogus: unknown key",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in:\n{joined}"
        );
    }
}

#[test]
fn errors_of_several_files_are_all_reported() {
    let errors = load_errors(&[
        ("a_to_b", "one.toml", "[[rule]]\nname = \"r\"\n"),
        ("a_to_b", "two.toml", "this is not toml ="),
        ("not-a-step", "x.toml", ""),
    ]);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("one.toml:1") && e.contains("events")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("one.toml:1") && e.contains("`transform`")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("two.toml:1") && e.contains("not valid TOML")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("not-a-step") && e.contains("FROM_to_TO")),
        "{errors:#?}"
    );
}

#[test]
fn overlapping_rules_are_refused() {
    let text = r#"
[[rule]]
name = "any"
events = { "e" = "f" }
ops = []

[[rule]]
name = "typed"
events = { "e" = "g", "h" = "i" }
when = { type = "A" }
ops = []
"#;
    let errors = load_errors(&[("a_to_b", "m.toml", text)]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("m.toml:7") && e.contains("overlaps rule \"any\"")),
        "{errors:#?}"
    );
}

#[test]
fn transforms_may_not_call_themselves() {
    let text = r#"
[transforms.a]
ops = [{ apply = "x", transform = "b" }]
[transforms.b]
ops = [{ each = "y", transform = "a" }]
[[rule]]
name = "r"
events = { "e" = "f" }
transform = "a"
"#;
    let errors = load_errors(&[("a_to_b", "m.toml", text)]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("transforms call themselves: a -> b -> a")),
        "{errors:#?}"
    );
}

#[test]
fn transforms_are_shared_across_files_of_a_step_but_names_are_unique() {
    let shared = "[transforms.t]\nops = [{ set = \"s\", value = 1 }]\n";
    let rule = "[[rule]]\nname = \"r\"\nevents = { \"e\" = \"f\" }\ntransform = \"t\"\n";
    let m = load(&[
        ("a_to_b", "shared.toml", shared),
        ("a_to_b", "rule.toml", rule),
    ])
    .unwrap();
    assert_eq!(
        translate(
            m.plan("a", "b").unwrap(),
            json!({"eventType": "e", "payload": {}}),
            &T
        )
        .unwrap()["payload"],
        json!({"s": 1})
    );
    let errors = load_errors(&[
        ("a_to_b", "one.toml", shared),
        ("a_to_b", "two.toml", shared),
    ]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("two.toml:1") && e.contains("defined twice")),
        "{errors:#?}"
    );
}

/// The shipped mappings: every golden case produces its expected output, every rule has a case.
#[test]
fn shipped_golden_cases_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let mappings =
        Mappings::load(&dir).unwrap_or_else(|e| panic!("shipped mappings do not load:\n{e}"));
    assert!(
        !mappings.golden_cases().is_empty(),
        "no golden cases found under {}",
        dir.display()
    );
    let failures = mappings.check_golden();
    assert!(
        failures.is_empty(),
        "{} golden failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Each golden case of either direction comes back as it went, but for the declared lossy fields.
#[test]
fn shipped_golden_cases_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let mappings =
        Mappings::load(&dir).unwrap_or_else(|e| panic!("shipped mappings do not load:\n{e}"));
    let failures = mappings.check_round_trips();
    assert!(
        failures.is_empty(),
        "{} round-trip failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The README's mapping reference is generated from the mappings and must not go stale.
#[test]
fn readme_mapping_reference_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mappings = Mappings::load(&root.join("mappings")).unwrap_or_else(|e| panic!("{e}"));
    let readme = std::fs::read_to_string(root.join("docs/mapping-reference.md"))
        .expect("docs/mapping-reference.md");
    let (start, end) = (
        "<!-- mapping-reference:start -->\n",
        "<!-- mapping-reference:end -->",
    );
    let from = readme
        .find(start)
        .expect("the reference page has the start marker")
        + start.len();
    let to = readme
        .find(end)
        .expect("the reference page has the end marker");
    assert!(
        readme[from..to] == mappings.reference_markdown(),
        "docs/mapping-reference.md is stale: run `hookshift reference --write docs/mapping-reference.md`"
    );
}

#[test]
fn a_rule_without_counterpart_makes_its_events_unmapped() {
    let text = r#"
[[rule]]
name = "extract"
events = { "step.done" = "step.done" }
when = { stepType = "EXTRACT" }
ops = []

[[rule]]
name = "parse"
events = { "step.done" = "step.done" }
when = { stepType = "PARSE" }
counterpart = false
reason = "parse steps have no counterpart"
"#;
    let m = load(&[("a_to_b", "m.toml", text)]).unwrap();
    let plan = m.plan("a", "b").unwrap();
    let ev = |t: &str| json!({"eventType": "step.done", "payload": {"stepType": t}});
    assert!(translate(plan, ev("EXTRACT"), &T).is_ok());
    assert!(matches!(
        translate(plan, ev("PARSE"), &T),
        Err(TranslateError::Unmapped { event_type, .. }) if event_type == "step.done"
    ));
    assert!(matches!(
        translate(plan, ev("ROUTER"), &T),
        Err(TranslateError::Failed { .. })
    ));
    assert!(m
        .reference_markdown()
        .contains("no counterpart (unmapped): parse steps have no counterpart"));

    for (bad, want) in [
        ("counterpart = false\n", "needs a `reason`"),
        (
            "counterpart = true\nreason = \"x\"\n",
            "can only be `false`",
        ),
        ("reason = \"x\"\n", "belongs to `counterpart = false`"),
        (
            "counterpart = false\nreason = \"x\"\nops = []\n",
            "no `transform` or `ops`",
        ),
    ] {
        let text = format!("[[rule]]\nname = \"p\"\nevents = {{ \"a\" = \"b\" }}\n{bad}");
        let err = load(&[("a_to_b", "m.toml", &text)])
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{bad}: {err}");
    }
}

#[test]
fn a_null_read_is_no_value_to_default_from() {
    let m = with_ops(
        r#"{ default = "updatedAt", from = "endTime" },
           { default = "updatedAt", from = "$.payload.startTime" },
           { default = "updatedAt", delivery = "timestamp" },
           { default = "kept", null = true }"#,
        "",
    );
    assert_eq!(
        run(&m, json!({"endTime": null, "startTime": null})).unwrap(),
        json!({"endTime": null, "startTime": null, "updatedAt": "2026-02-13T16:26:40Z", "kept": null})
    );
    assert_eq!(
        run(&m, json!({"endTime": null, "startTime": "s"})).unwrap()["updatedAt"],
        "s"
    );
}

#[test]
fn switch_selects_empty_containers_and_absence() {
    let m = with_ops(
        r#"{ switch = "output", cases = { "{}" = "empty", "[]" = "empty" }, missing = "absent", otherwise = "other" }"#,
        r#"
[transforms.empty]
ops = [{ set = "output", null = true }]
[transforms.absent]
ops = [{ set = "was", value = "absent" }]
[transforms.other]
ops = [{ set = "was", value = "other" }]
"#,
    );
    assert_eq!(
        run(&m, json!({"output": {}})).unwrap(),
        json!({"output": null})
    );
    assert_eq!(
        run(&m, json!({"output": []})).unwrap(),
        json!({"output": null})
    );
    assert_eq!(run(&m, json!({})).unwrap(), json!({"was": "absent"}));
    assert_eq!(
        run(&m, json!({"output": {"a": 1}})).unwrap()["was"],
        "other"
    );
}

#[test]
fn failure_paths_name_the_place_in_the_input_event() {
    // The failing op runs on an object that was nested, renamed and moved between arrays; the
    // error names where the offending value sat in the input.
    let m = with_ops(
        r#"{ append = "stepRuns", to = "outputs" },
           { partition = "outputs", to = "stepRuns", where = { kind = "run" } },
           { each = "stepRuns", transform = "step" }"#,
        r#"
[transforms.step]
ops = [{ nest = "result.run" }, { apply = "result.run", transform = "run" }]
[transforms.run]
ops = [{ rename = "files", to = "documents" }, { unwrap = "documents", to = "document" }]
"#,
    );
    let err = run(
        &m,
        json!({"outputs": [{"kind": "run", "files": [1, 2]}], "stepRuns": []}),
    )
    .unwrap_err();
    assert!(
        matches!(&err, TranslateError::Failed { path, .. } if path == "payload.outputs[0].files"),
        "{err:?}"
    );

    // Elements appended from another array are named where they were in the input.
    let err = run(
        &m,
        json!({"outputs": [{"kind": "other"}], "stepRuns": [{"kind": "other"}, {"kind": "run", "files": [1, 2]}]}),
    )
    .unwrap_err();
    assert!(
        matches!(&err, TranslateError::Failed { path, .. } if path == "payload.stepRuns[1].files"),
        "{err:?}"
    );

    // An index that nothing moved is kept exactly.
    let m = with_ops(
        r#"{ each = "items", transform = "item" }"#,
        r#"
[transforms.item]
ops = [{ rename = "page", to = "where.page" }, { expect = "where.page", type = "number" }]
"#,
    );
    let err = run(&m, json!({"items": [{"page": 1}, {"page": "x"}]})).unwrap_err();
    assert!(
        matches!(&err, TranslateError::Failed { path, .. } if path == "payload.items[1].page"),
        "{err:?}"
    );

    // A value copied from the input event is named where it came from.
    let m = with_ops(
        r#"{ copy = "$.payload.source", to = "target" }, { expect = "target", type = "string" }"#,
        "",
    );
    let err = run(&m, json!({"source": 5})).unwrap_err();
    assert!(
        matches!(&err, TranslateError::Failed { path, .. } if path == "payload.source"),
        "{err:?}"
    );
}

#[test]
fn unmapped_field_reports_are_bounded() {
    let m = with_ops(
        r#"{ each = "runs", transform = "run" }"#,
        r#"
[transforms.run]
ops = [{ unnest = "inner" }]
"#,
    );
    let many: crate::json::Map = (0..40)
        .map(|i| (format!("k{i:02}"), json!(i)))
        .chain([("inner".to_owned(), json!({"id": 1}))])
        .collect();
    let event = json!({"eventType": "e.old", "payload": {"runs": [Value::Object(many.clone()), Value::Object(many)]}});
    let translated = translate_reporting(m.plan("a", "b").unwrap(), event, &T).unwrap();
    assert_eq!(
        translated.event["payload"],
        json!({"runs": [{"id": 1}, {"id": 1}]})
    );
    assert_eq!(translated.unmapped_fields.len(), MAX_UNMAPPED_PATHS + 1);
    assert_eq!(translated.unmapped_fields[0], "payload.runs[*].k00");
    assert_eq!(translated.unmapped_fields.last().unwrap(), UNMAPPED_OTHER);
}

#[test]
fn a_when_field_may_name_alternative_paths() {
    let text = r#"
[[rule]]
name = "extract"
events = { "step.done" = "step.done" }
when = { "stepType|step.type" = "EXTRACT" }
ops = [{ set = "taken", value = "extract" }]

[[rule]]
name = "parse"
events = { "step.done" = "step.done" }
when = { "stepType|step.type" = "PARSE" }
ops = [{ set = "taken", value = "parse" }]
"#;
    let m = load(&[("a_to_b", "m.toml", text)]).unwrap();
    let plan = m.plan("a", "b").unwrap();
    let taken = |payload: Value| {
        translate(
            plan,
            json!({"eventType": "step.done", "payload": payload}),
            &T,
        )
        .unwrap()["payload"]["taken"]
            .take()
    };
    assert_eq!(taken(json!({"stepType": "EXTRACT"})), "extract");
    // The launch-era shape: only `step.type`.
    assert_eq!(taken(json!({"step": {"type": "PARSE"}})), "parse");
    // The first present alternative decides.
    assert_eq!(
        taken(json!({"stepType": "EXTRACT", "step": {"type": "PARSE"}})),
        "extract"
    );
}

#[test]
fn elements_an_unwrap_drops_are_reported() {
    let m = with_ops(
        r#"{ unwrap = "files", to = "file", rest = "drop", reason = "one file" }"#,
        "",
    );
    let translated = translate_reporting(
        m.plan("a", "b").unwrap(),
        json!({"eventType": "e.old", "payload": {"files": [{"id": 1}, {"id": 2}]}}),
        &T,
    )
    .unwrap();
    assert_eq!(translated.event["payload"], json!({"file": {"id": 1}}));
    assert_eq!(translated.unmapped_fields, ["payload.files[*]"]);
    let single = translate_reporting(
        m.plan("a", "b").unwrap(),
        json!({"eventType": "e.old", "payload": {"files": [{"id": 1}]}}),
        &T,
    )
    .unwrap();
    assert!(single.unmapped_fields.is_empty());
}

#[test]
fn a_reporting_drop_reports_data_and_not_empty_values() {
    let m = with_ops(
        r#"{ drop = "merged", report = true, reason = "no place in the target" }"#,
        "",
    );
    let reported = |payload: Value| {
        translate_reporting(
            m.plan("a", "b").unwrap(),
            json!({"eventType": "e.old", "payload": payload}),
            &T,
        )
        .unwrap()
    };
    let dropped = reported(json!({"merged": [{"id": 1}], "kept": 1}));
    assert_eq!(dropped.event["payload"], json!({"kept": 1}));
    assert_eq!(dropped.unmapped_fields, ["payload.merged"]);
    for empty in [json!([]), json!({}), json!(null)] {
        let quiet = reported(json!({ "merged": empty }));
        assert_eq!(quiet.event["payload"], json!({}));
        assert!(quiet.unmapped_fields.is_empty(), "{empty} reported");
    }
    assert!(reported(json!({})).unmapped_fields.is_empty());
}

/// The ops table of the language page is generated from the verbs and must not go stale.
/// `HOOKSHIFT_WRITE_DOCS=1 cargo test --lib ops_table` rewrites it.
#[test]
fn language_page_ops_table_is_current() {
    let page_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mapping-language.md");
    let page = std::fs::read_to_string(&page_path).expect("docs/mapping-language.md");
    let (start, end) = ("<!-- mapping-ops:start -->\n", "<!-- mapping-ops:end -->");
    let from = page
        .find(start)
        .expect("the language page has the start marker")
        + start.len();
    let to = page
        .find(end)
        .expect("the language page has the end marker");
    let table = ops_table_markdown();
    if page[from..to] != table && std::env::var_os("HOOKSHIFT_WRITE_DOCS").is_some() {
        let fresh = format!("{}{table}{}", &page[..from], &page[to..]);
        std::fs::write(&page_path, fresh).expect("rewrite docs/mapping-language.md");
        return;
    }
    assert!(
        page[from..to] == table,
        "the ops table of docs/mapping-language.md is stale: run \
         `HOOKSHIFT_WRITE_DOCS=1 cargo test --lib ops_table`; it is now:\n{table}"
    );
}

/// A verb the compiler accepts has its row in the ops table, in the form it is written.
#[test]
fn every_verb_has_its_row_in_the_ops_table() {
    let table = ops_table_markdown();
    for verb in ops::VERBS {
        assert!(
            table.contains(&format!("\n| {verb} | `{{ {verb} = ")),
            "no row for `{verb}` in:\n{table}"
        );
    }
    let mut unique = ops::VERBS.to_vec();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ops::VERBS.len(), "a verb is listed twice");
}

#[test]
fn an_event_type_added_to_the_catalogue_is_known_and_may_have_an_identity() {
    let rule =
        "[[rule]]\nname = \"r\"\nevents = { \"e.old\" = \"e.new\" }\nops = [{ rename = \"a\", to = \"b\" }]\n";
    let identity = "[identity.b]\n\"e.added\" = [\"payload.id\"]\n";
    let err = load(&[("a_to_b", "m.toml", rule), ("", "identity.toml", identity)])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "identity.toml:2: identity.\"b\".\"e.added\": \"e.added\" is not an event type of b: no rule names it and catalogue.toml does not list it"
    );
    let catalogue = "[event_types]\nb = [\"e.added\", \"e.new\"]\n";
    let m = load(&[
        ("a_to_b", "m.toml", rule),
        ("", "identity.toml", identity),
        ("", "catalogue.toml", catalogue),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(m.is_known_event_type("e.added") && m.is_known_event_type("e.old"));
    assert!(!m.is_known_event_type("made.up"));
    assert_eq!(m.catalogue().event_types("b"), ["e.added", "e.new"]);
    assert_eq!(m.identities().event_types("b"), ["e.added"]);
    // The catalogue is per version: listed for b, the type is still unknown in a.
    let err = load(&[
        ("a_to_b", "m.toml", rule),
        (
            "",
            "identity.toml",
            "[identity.a]\n\"e.added\" = [\"payload.id\"]\n",
        ),
        ("", "catalogue.toml", catalogue),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("\"e.added\" is not an event type of a"),
        "{err}"
    );
}

#[test]
fn the_shipped_catalogue_lists_every_type_the_rules_take_and_give() {
    let m = Mappings::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"))).unwrap();
    let catalogue = m.catalogue();
    // The schemas are generated from each version's SDK models, one file per event type: the
    // catalogue lists exactly those types.
    let schemas =
        crate::schema::Schemas::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas")))
            .unwrap_or_else(|e| panic!("{e}"));
    for version in ["2025-04-21", "2026-02-09"] {
        let mut listed: Vec<&str> = catalogue
            .event_types(version)
            .iter()
            .map(String::as_str)
            .collect();
        listed.sort_unstable();
        let mut generated: Vec<&str> = schemas.event_types(version).collect();
        generated.sort_unstable();
        assert_eq!(listed, generated, "{version}");
    }
    assert!(catalogue.lists("2025-04-21", "processor_run.processed"));
    assert!(!catalogue.lists("2025-04-21", "extract_run.processed"));
    assert!(catalogue.lists("2026-02-09", "batch_parse_run.failed"));
    for step in &m.steps {
        for rule in &step.rules {
            for (old, new) in &rule.events {
                assert!(
                    catalogue.lists(&step.from, old),
                    "{}: {old} in {}",
                    rule.name,
                    step.from
                );
                // A change without counterpart gives nothing in the target version.
                assert!(
                    rule.no_counterpart.is_some() || catalogue.lists(&step.to, new),
                    "{}: {new} in {}",
                    rule.name,
                    step.to
                );
            }
        }
    }
    for version in ["2025-04-21", "2026-02-09"] {
        for event_type in m.identities().event_types(version) {
            assert!(
                catalogue.lists(version, event_type),
                "{event_type} in {version}"
            );
        }
    }
}

/// A sender that cuts a string inside a surrogate pair sends a lone surrogate escape: valid JSON both
/// SDKs accept. The translation carries it as received, up and back down.
#[test]
fn lone_surrogate_escapes_are_carried_up_and_down() {
    let m = Mappings::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"))).unwrap();
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/mappings/2025-04-21_to_2026-02-09/golden/extract_processed.input.json"
    ))
    .unwrap();
    let cut = golden
        .replacen(r#""Acme Corp""#, r#""Acme \ud83d""#, 1)
        .replacen(
            r#""Invoice # INV-2025-0042""#,
            r#""\uDFFF\u0041 INV-2025-0042""#,
            1,
        );
    assert_ne!(cut, golden);
    let event = crate::json::parse(cut.as_bytes()).unwrap();
    let up = translate(m.plan("2025-04-21", "2026-02-09").unwrap(), event, &T).unwrap();
    let output = &up["payload"]["output"];
    assert_eq!(
        output["value"]["vendor_name"],
        Value::RawString(r"Acme \ud83d".into())
    );
    let citation = &output["metadata"]["invoice_number"]["citations"]
        .as_array()
        .unwrap()[0];
    assert_eq!(
        citation["referenceText"],
        Value::RawString(r"\uDFFF\u0041 INV-2025-0042".into()),
        "moved into the new citation shape, escapes as received"
    );
    let text = String::from_utf8(up.to_vec()).unwrap();
    assert!(text.contains(r#""vendor_name":"Acme \ud83d""#), "{text}");
    let down = translate(m.plan("2026-02-09", "2025-04-21").unwrap(), up, &T).unwrap();
    let text = String::from_utf8(down.to_vec()).unwrap();
    assert!(text.contains(r#""vendor_name":"Acme \ud83d""#), "{text}");
    assert!(
        text.contains(r#""referenceText":"\uDFFF\u0041 INV-2025-0042""#),
        "{text}"
    );
}
