//! Golden cases shipped beside the mappings (`golden/NAME.input.json` → `NAME.output.json`) and the
//! round-trip check between opposite steps.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::json::Value;

use super::run::{bounded_paths, find_rule, run_step_reporting};
use super::{Delivery, Mappings, Plan};

/// The delivery every golden case is translated with: 2026-02-13T16:26:40Z.
pub const GOLDEN_DELIVERY: Delivery = Delivery {
    timestamp: 1_771_000_000,
};

/// One golden case of one step.
#[derive(Debug, Clone)]
pub struct GoldenCase {
    pub from: String,
    pub to: String,
    pub name: String,
    pub input: PathBuf,
    pub output: PathBuf,
}

impl GoldenCase {
    /// Reads the case's input event.
    pub fn read_input(&self) -> Result<Value, String> {
        read_json(&self.input)
    }

    /// Reads the case's expected output event.
    pub fn read_output(&self) -> Result<Value, String> {
        read_json(&self.output)
    }
}

fn read_json(path: &std::path::Path) -> Result<Value, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

impl Mappings {
    /// Every golden case of every step, sorted by step and name.
    pub fn golden_cases(&self) -> Vec<GoldenCase> {
        let mut cases = Vec::new();
        for step in &self.steps {
            let folder = self
                .dir
                .join(format!("{}_to_{}", step.from, step.to))
                .join("golden");
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let file = entry.file_name().to_string_lossy().into_owned();
                if let Some(name) = file.strip_suffix(".input.json") {
                    cases.push(GoldenCase {
                        from: step.from.clone(),
                        to: step.to.clone(),
                        name: name.to_owned(),
                        input: entry.path(),
                        output: folder.join(format!("{name}.output.json")),
                    });
                }
            }
        }
        cases.sort_by(|a, b| (&a.from, &a.to, &a.name).cmp(&(&b.from, &b.to, &b.name)));
        cases
    }

    fn step_plan(&self, from: &str, to: &str) -> Option<Plan> {
        let step = self.steps.iter().find(|s| s.from == from && s.to == to)?;
        Some(Plan {
            from: from.to_owned(),
            to: to.to_owned(),
            steps: vec![step.clone()],
            payload_key: self.payload_key.clone(),
            event_type_key: self.event_type_key.clone(),
        })
    }
}

/// Runs every golden case against its own step; reports failures and rules no case exercises.
pub(crate) fn check(mappings: &Mappings) -> Vec<String> {
    let mut failures = Vec::new();
    let mut exercised: HashSet<(String, String, String)> = HashSet::new();
    for case in mappings.golden_cases() {
        let label = format!("golden {}_to_{}/{}", case.from, case.to, case.name);
        if !case.output.exists() {
            failures.push(format!(
                "{label}: no expected output yet: write {} (the {} event {} becomes)",
                case.output.display(),
                case.to,
                case.input.display()
            ));
            continue;
        }
        let (input, expected) = match (case.read_input(), case.read_output()) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        let Some(plan) = mappings.step_plan(&case.from, &case.to) else {
            continue;
        };
        let step = &plan.steps[0];
        if let Ok(rule) = find_rule(step, plan.keys(), &input) {
            exercised.insert((
                case.from.clone(),
                case.to.clone(),
                step.rules[rule].name.clone(),
            ));
        }
        // The unmapped fields the case must report: NAME.unmapped.json (a list of paths), else none.
        let unmapped_file = case
            .output
            .with_file_name(format!("{}.unmapped.json", case.name));
        let expected_unmapped: Vec<String> = match std::fs::read(&unmapped_file) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(paths) => paths,
                Err(e) => {
                    failures.push(format!(
                        "{label}: {}: not a list of paths: {e}",
                        unmapped_file.display()
                    ));
                    continue;
                }
            },
            Err(_) => Vec::new(),
        };
        match run_step_reporting(step, plan.keys(), input, &GOLDEN_DELIVERY) {
            Ok((_, unmapped)) if bounded_paths(unmapped.clone()) != expected_unmapped => failures
                .push(format!(
                    "{label}: reported unmapped fields {:?}, expected {expected_unmapped:?} ({})",
                    bounded_paths(unmapped),
                    unmapped_file.display()
                )),
            Ok((actual, _)) if actual == expected => {}
            Ok((actual, _)) => failures.push(format!(
                "{label}: output differs from {}: {}",
                case.output.display(),
                first_difference(&expected, &actual, "$")
            )),
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    }
    for step in &mappings.steps {
        // A rule without counterpart produces no output to compare; its unit tests cover it.
        for rule in step.rules.iter().filter(|r| r.no_counterpart.is_none()) {
            if !exercised.contains(&(step.from.clone(), step.to.clone(), rule.name.clone())) {
                failures.push(format!(
                    "{}:{}: rule {:?} has no golden case (add one under {}_to_{}/golden/)",
                    rule.file, rule.line, rule.name, step.from, step.to
                ));
            }
        }
    }
    failures
}

/// Where two JSON values first differ, as a path, with both sides' kinds or short values.
pub(crate) fn first_difference(expected: &Value, actual: &Value, at: &str) -> String {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    None => return format!("{at}.{k}: expected, missing"),
                    Some(av) if av != ev => return first_difference(ev, av, &format!("{at}.{k}")),
                    _ => {}
                }
            }
            match a.keys().find(|k| !e.contains_key(k)) {
                Some(k) => format!("{at}.{k}: not expected, present"),
                None => format!("{at}: differs"),
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .find(|(_, (ev, av))| ev != av)
            .map_or(format!("{at}: differs"), |(i, (ev, av))| {
                first_difference(ev, av, &format!("{at}[{i}]"))
            }),
        (Value::Array(e), Value::Array(a)) => {
            format!("{at}: expected {} elements, found {}", e.len(), a.len())
        }
        _ => format!(
            "{at}: expected {}, found {}",
            brief(expected),
            brief(actual)
        ),
    }
}

fn brief(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 80 {
        format!(
            "{}…",
            &text[..text.char_indices().nth(77).map_or(text.len(), |(i, _)| i)]
        )
    } else {
        text
    }
}

/// Round trips every golden case through its step and back (when the opposite step exists):
/// `back(forth(x))` must equal `x` except at the lossy paths both rules declare and the unmapped
/// fields the way there reported. One message per failure.
pub(crate) fn check_round_trips(mappings: &Mappings) -> Vec<String> {
    let mut failures = Vec::new();
    for case in mappings.golden_cases() {
        let (Some(forth), Some(back)) = (
            mappings.step_plan(&case.from, &case.to),
            mappings.step_plan(&case.to, &case.from),
        ) else {
            continue;
        };
        let label = format!("round trip {}_to_{}/{}", case.from, case.to, case.name);
        let input = match case.read_input() {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        let mut lossy = forth.lossy_paths(&input, &GOLDEN_DELIVERY);
        let there = match super::translate_reporting(&forth, input.clone(), &GOLDEN_DELIVERY) {
            Ok(translated) => {
                // What the way there reported as unmapped (and the case lists in NAME.unmapped.json)
                // was dropped and counted: no lossy entry can name a key the sender added later.
                lossy.extend(
                    translated
                        .unmapped_fields
                        .into_iter()
                        .filter(|path| path != super::UNMAPPED_OTHER)
                        .map(|path| (path, String::new())),
                );
                translated.event
            }
            Err(e) => {
                failures.push(format!("{label}: forth: {e}"));
                continue;
            }
        };
        lossy.extend(back.lossy_paths(&there, &GOLDEN_DELIVERY));
        let again = match super::translate(&back, there, &GOLDEN_DELIVERY) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{label}: back: {e}"));
                continue;
            }
        };
        let patterns: Vec<&str> = lossy.iter().map(|(p, _)| p.as_str()).collect();
        let (a, b) = (without(&input, &patterns), without(&again, &patterns));
        if a != b {
            failures.push(format!("{label}: {}", first_difference(&a, &b, "$")));
        }
    }
    failures
}

/// A copy of `value` with every path matching one of `patterns` (`a.b[*].c`) removed.
pub(crate) fn without(value: &Value, patterns: &[&str]) -> Value {
    let mut out = value.clone();
    for pattern in patterns {
        let parts: Vec<&str> = split_pattern(pattern);
        remove_matching(&mut out, &parts);
    }
    out
}

fn split_pattern(pattern: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    for piece in pattern.split('.') {
        match piece.find('[') {
            Some(i) => {
                if i > 0 {
                    parts.push(&piece[..i]);
                }
                let mut rest = &piece[i..];
                while let Some(end) = rest.find(']') {
                    parts.push(&rest[..=end]);
                    rest = &rest[end + 1..];
                }
            }
            None => parts.push(piece),
        }
    }
    parts
}

fn remove_matching(value: &mut Value, parts: &[&str]) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    match (value, *first) {
        (Value::Array(items), "[*]") => {
            if rest.is_empty() {
                items.clear();
            } else {
                items
                    .iter_mut()
                    .for_each(|item| remove_matching(item, rest));
            }
        }
        (Value::Array(items), index) if index.starts_with('[') => {
            if let Some(item) = index[1..index.len() - 1]
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
            {
                remove_matching(item, rest);
            }
        }
        // `[*]` under an `each` that walked a map (keys not known in advance) means any key.
        (Value::Object(map), "*" | "[*]") => {
            if rest.is_empty() {
                map.clear();
            } else {
                map.values_mut()
                    .for_each(|inner| remove_matching(inner, rest));
            }
        }
        (Value::Object(map), key) => {
            if rest.is_empty() {
                map.shift_remove(key);
            } else if let Some(inner) = map.get_mut(key) {
                remove_matching(inner, rest);
            }
        }
        _ => {}
    }
}
