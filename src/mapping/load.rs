//! Reading mapping files: TOML with spans, checked key by key and compiled into a [`Step`], every error kept.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::json::Value;
use toml_edit::{ImDocument, InlineTable, Item, Table};

use super::ops::{Condition, DeliveryFact, Field, Op, Rule, Step, Transform, VERBS};
use super::path::{Anchor, FieldPath};
use super::LoadError;

/// One parsed file of a step, kept until every transform name of the step is known.
pub(crate) struct SourceFile {
    name: Arc<str>,
    /// `STEP/FILE.toml`: how rules name their file to senders (never a server path).
    relative: Arc<str>,
    text: String,
    doc: ImDocument<String>,
}

impl SourceFile {
    fn line(&self, span: Option<std::ops::Range<usize>>) -> usize {
        span.map_or(1, |s| {
            self.text[..s.start.min(self.text.len())]
                .matches('\n')
                .count()
                + 1
        })
    }
}

/// Collects errors with their place, for one file at a time.
pub(crate) struct Errors<'a> {
    all: &'a mut Vec<LoadError>,
    file: Arc<str>,
}

impl Errors<'_> {
    fn push(&mut self, line: usize, key: impl Into<String>, message: impl Into<String>) {
        self.all.push(LoadError {
            file: self.file.to_string(),
            line,
            key: key.into(),
            message: message.into(),
        });
    }
}

/// Compiles every `*.toml` file of one step folder. `from`/`to` come from the folder name. Old
/// spellings the language still accepts go to `warnings`, each naming the new spelling.
pub(crate) fn load_step(
    dir: &Path,
    from: &str,
    to: &str,
    errors: &mut Vec<LoadError>,
    warnings: &mut Vec<LoadError>,
) -> Option<Step> {
    let before = errors.len();
    let mut files = Vec::new();
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => {
            errors.push(LoadError {
                file: dir.display().to_string(),
                line: 0,
                key: "-".into(),
                message: format!("cannot read folder: {e}"),
            });
            return None;
        }
    };
    entries.sort();
    for path in entries
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let name: Arc<str> = path.display().to_string().into();
        let relative: Arc<str> = format!(
            "{}/{}",
            dir.file_name().unwrap_or_default().to_string_lossy(),
            path.file_name().unwrap_or_default().to_string_lossy()
        )
        .into();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(LoadError {
                    file: name.to_string(),
                    line: 0,
                    key: "-".into(),
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        match ImDocument::parse(text.clone()) {
            Ok(doc) => files.push(SourceFile {
                name,
                relative,
                text,
                doc,
            }),
            Err(e) => {
                let line = e.span().map_or(0, |s| {
                    text[..s.start.min(text.len())].matches('\n').count() + 1
                });
                errors.push(LoadError {
                    file: name.to_string(),
                    line,
                    key: "-".into(),
                    message: format!("not valid TOML: {}", e.message()),
                });
            }
        }
    }

    // Pass 1: name every transform and lossy set of the step, so files may use each other's.
    let mut names: HashMap<String, (usize, Arc<str>, usize)> = HashMap::new();
    let mut lossy_sets: HashMap<String, LossySet> = HashMap::new();
    let mut transforms = Vec::new();
    for file in &files {
        let mut errs = Errors {
            all: errors,
            file: file.name.clone(),
        };
        let root = file.doc.as_table();
        for (key, _) in root.iter() {
            if !matches!(key, "rule" | "transforms" | "lossy" | "description") {
                let line = file.line(root.key(key).and_then(|k| k.span()));
                errs.push(
                    line,
                    key,
                    "unknown key (expected `rule`, `transforms`, `lossy` or `description`)",
                );
            }
        }
        if let Some(item) = root.get("lossy") {
            read_lossy_sets(file, &mut errs, item, &mut lossy_sets);
        }
        if let Some(item) = root.get("transforms") {
            match item.as_table() {
                Some(table) => {
                    for (name, _) in table.iter() {
                        let line = file.line(table.key(name).and_then(|k| k.span()));
                        if let Some((_, other_file, other_line)) = names.get(name) {
                            errs.push(
                                line,
                                format!("transforms.{name}"),
                                format!(
                                    "transform defined twice (first at {other_file}:{other_line})"
                                ),
                            );
                        } else {
                            names.insert(
                                name.to_owned(),
                                (transforms.len(), file.name.clone(), line),
                            );
                            transforms.push(Transform {
                                name: name.to_owned(),
                                ops: Vec::new(),
                                notes: Vec::new(),
                            });
                        }
                    }
                }
                None => errs.push(
                    file.line(item.span()),
                    "transforms",
                    "must be a table of transforms",
                ),
            }
        }
    }

    // Pass 2: compile ops and rules.
    let mut compiler = Compiler {
        names: &names,
        lossy_sets: &lossy_sets,
        inputs: Vec::new(),
        edges: vec![Vec::new(); transforms.len()],
        warnings: Vec::new(),
    };
    let mut rules = Vec::new();
    for file in &files {
        let mut errs = Errors {
            all: errors,
            file: file.name.clone(),
        };
        let root = file.doc.as_table();
        if let Some(table) = root.get("transforms").and_then(Item::as_table) {
            for (name, item) in table.iter() {
                let Some(&(index, ref owner, _)) = names.get(name) else {
                    continue;
                };
                if *owner != file.name {
                    continue;
                }
                let key = format!("transforms.{name}");
                let compiled = compiler.transform_body(file, &mut errs, &key, item, index);
                (transforms[index].ops, transforms[index].notes) = compiled.into_iter().unzip();
            }
        }
        match root.get("rule") {
            None => {}
            Some(Item::ArrayOfTables(array)) => {
                for (i, table) in array.iter().enumerate() {
                    if let Some(rule) = compiler.rule(file, &mut errs, i, table, &mut transforms) {
                        rules.push(rule);
                    }
                }
            }
            Some(other) => errs.push(
                file.line(other.span()),
                "rule",
                "must be written as [[rule]] tables",
            ),
        }
    }

    let Compiler {
        inputs,
        edges,
        warnings: old_spellings,
        ..
    } = compiler;
    warnings.extend(old_spellings);
    check_cycles(&transforms, &edges, &names, errors);
    let mut by_event: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, rule) in rules.iter().enumerate() {
        for old in rule.events.keys() {
            by_event.entry(old.clone()).or_default().push(index);
        }
    }
    check_overlaps(&rules, &by_event, errors);
    for rule in &mut rules {
        rule.captures = reachable_inputs(rule.body, &transforms, &edges);
    }
    if errors.len() > before {
        return None;
    }
    Some(Step {
        from: from.to_owned(),
        to: to.to_owned(),
        transforms,
        rules,
        by_event,
        inputs: inputs.into_iter().map(|(p, _)| p).collect(),
    })
}

/// One `[lossy.NAME]` table: lossy entries several rules of a step share (`lossy_sets = ["NAME"]`).
struct LossySet {
    entries: Vec<(String, String)>,
    file: Arc<str>,
    line: usize,
}

/// Reads the `[lossy.NAME]` tables of one file: `path = "reason"` entries, names unique in the step.
fn read_lossy_sets(
    file: &SourceFile,
    errs: &mut Errors,
    item: &Item,
    sets: &mut HashMap<String, LossySet>,
) {
    let Some(table) = item.as_table() else {
        errs.push(
            file.line(item.span()),
            "lossy",
            "must be `[lossy.NAME]` tables of path = reason",
        );
        return;
    };
    for (name, set) in table.iter() {
        let line = file.line(table.key(name).and_then(|k| k.span()));
        let key = format!("lossy.{name}");
        if let Some(first) = sets.get(name) {
            errs.push(
                line,
                key,
                format!(
                    "lossy set defined twice (first at {}:{})",
                    first.file, first.line
                ),
            );
            continue;
        }
        let Some(map) = set.as_table_like().filter(|m| !m.is_empty()) else {
            errs.push(line, key, "must be a non-empty table of path = reason");
            continue;
        };
        let mut entries = Vec::new();
        for (path, reason) in map.iter() {
            match reason.as_str() {
                Some(r) if !r.trim().is_empty() => entries.push((path.to_owned(), r.to_owned())),
                _ => errs.push(
                    line,
                    format!("{key}.{path}"),
                    "must be the reason (a non-empty string)",
                ),
            }
        }
        sets.insert(
            name.to_owned(),
            LossySet {
                entries,
                file: file.name.clone(),
                line,
            },
        );
    }
}

/// Two rules that could both take one event make the result depend on file order: refuse them.
fn check_overlaps(
    rules: &[Rule],
    by_event: &HashMap<String, Vec<usize>>,
    errors: &mut Vec<LoadError>,
) {
    let mut reported = HashSet::new();
    let mut events: Vec<_> = by_event.iter().collect();
    events.sort();
    for (event, indexes) in events {
        for (n, &a) in indexes.iter().enumerate() {
            for &b in &indexes[n + 1..] {
                if disjoint(&rules[a].when, &rules[b].when) || !reported.insert((a, b)) {
                    continue;
                }
                let (ra, rb) = (&rules[a], &rules[b]);
                errors.push(LoadError {
                    file: rb.file.to_string(),
                    line: rb.line,
                    key: format!("rule {:?}", rb.name),
                    message: format!(
                        "overlaps rule {:?} ({}:{}) on event {event:?}: give both a `when` on the same field with different values",
                        ra.name, ra.file, ra.line
                    ),
                });
            }
        }
    }
}

/// Conditions are disjoint when one field is required by both with no value in common.
fn disjoint(a: &Condition, b: &Condition) -> bool {
    a.0.iter().any(|(path, values)| {
        b.0.iter()
            .any(|(other, others)| path == other && !values.iter().any(|v| others.contains(v)))
    })
}

fn check_cycles(
    transforms: &[Transform],
    edges: &[Vec<usize>],
    names: &HashMap<String, (usize, Arc<str>, usize)>,
    errors: &mut Vec<LoadError>,
) {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    fn visit(
        node: usize,
        edges: &[Vec<usize>],
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[node] = 1;
        stack.push(node);
        for &next in &edges[node] {
            if state[next] == 1 {
                let start = stack.iter().position(|&n| n == next).unwrap_or(0);
                return Some(stack[start..].to_vec());
            }
            if state[next] == 0 {
                if let Some(cycle) = visit(next, edges, state, stack) {
                    return Some(cycle);
                }
            }
        }
        stack.pop();
        state[node] = 2;
        None
    }
    let mut state = vec![0u8; edges.len()];
    for node in 0..edges.len() {
        if state[node] == 0 {
            if let Some(cycle) = visit(node, edges, &mut state, &mut Vec::new()) {
                let first = &transforms[cycle[0]].name;
                let chain: Vec<&str> = cycle.iter().map(|&n| transforms[n].name.as_str()).collect();
                let (file, line) = names
                    .get(first)
                    .map_or(("?".to_owned(), 0), |(_, f, l)| (f.to_string(), *l));
                errors.push(LoadError {
                    file,
                    line,
                    key: format!("transforms.{first}"),
                    message: format!(
                        "transforms call themselves: {} -> {first}",
                        chain.join(" -> ")
                    ),
                });
            }
        }
    }
}

fn reachable_inputs(start: usize, transforms: &[Transform], edges: &[Vec<usize>]) -> Vec<usize> {
    let mut seen = vec![false; transforms.len()];
    let mut todo = vec![start];
    let mut slots = Vec::new();
    while let Some(t) = todo.pop() {
        if std::mem::replace(&mut seen[t], true) {
            continue;
        }
        for op in &transforms[t].ops {
            if let Some(Anchor::Input(slot)) = op.reads() {
                if !slots.contains(slot) {
                    slots.push(*slot);
                }
            }
        }
        todo.extend(edges[t].iter().copied());
    }
    slots.sort_unstable();
    slots
}

pub(crate) struct Compiler<'n> {
    names: &'n HashMap<String, (usize, Arc<str>, usize)>,
    /// `[lossy.NAME]` tables of the step, by name.
    lossy_sets: &'n HashMap<String, LossySet>,
    /// `$.` paths of the step, in slot order.
    inputs: Vec<(FieldPath, String)>,
    /// Transform call graph, for the cycle check and capture reachability.
    edges: Vec<Vec<usize>>,
    /// Old spellings that still load, each with the new one.
    warnings: Vec<LoadError>,
}

impl Compiler<'_> {
    fn transform_body(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        key: &str,
        item: &Item,
        index: usize,
    ) -> Vec<(Op, Option<String>)> {
        let Some(table) = item.as_table_like() else {
            errs.push(
                file.line(item.span()),
                key,
                "a transform is a table with `ops = [...]`",
            );
            return Vec::new();
        };
        for (k, _) in table.iter() {
            if !matches!(k, "ops" | "description") {
                let line = file.line(table.key(k).and_then(|k| k.span()).or(item.span()));
                errs.push(
                    line,
                    format!("{key}.{k}"),
                    "unknown key (expected `ops` or `description`)",
                );
            }
        }
        match table.get("ops") {
            Some(ops) => self.ops(file, errs, &format!("{key}.ops"), ops, index),
            None => {
                errs.push(file.line(item.span()), key, "missing `ops`");
                Vec::new()
            }
        }
    }

    fn ops(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        key: &str,
        item: &Item,
        owner: usize,
    ) -> Vec<(Op, Option<String>)> {
        let Some(array) = item.as_array() else {
            errs.push(
                file.line(item.span()),
                key,
                "`ops` must be an array of one-line tables",
            );
            return Vec::new();
        };
        let mut ops = Vec::new();
        for (i, value) in array.iter().enumerate() {
            let op_key = format!("{key}[{i}]");
            match value.as_inline_table() {
                Some(table) => {
                    if let Some(op) = self.op(file, errs, &op_key, table, owner) {
                        // The why of an op, for the mapping reference: its `reason`, else its `note`.
                        let why = ["reason", "note"]
                            .iter()
                            .find_map(|k| table.get(k).and_then(|v| v.as_str()))
                            .map(str::to_owned);
                        ops.push((op, why));
                    }
                }
                None => errs.push(
                    file.line(value.span()),
                    op_key,
                    "an op is a table like `{ rename = \"a\", to = \"b\" }`",
                ),
            }
        }
        ops
    }

    fn op(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        key: &str,
        table: &InlineTable,
        owner: usize,
    ) -> Option<Op> {
        let line = file.line(table.span());
        let mut op = OpReader {
            file,
            errs,
            key,
            table,
            line,
            used: vec!["note"],
            compiler: self,
            owner,
        };
        let present: Vec<&str> = VERBS
            .iter()
            .copied()
            .filter(|v| table.contains_key(v))
            .collect();
        // `switch` names its fallback transform `otherwise`, so `default` there is a second verb.
        let verb = match present.as_slice() {
            [] => {
                op.errs.push(
                    line,
                    key,
                    format!("no op verb; expected one of {}", VERBS.join(", ")),
                );
                return None;
            }
            [one] => *one,
            // The old spelling of `each`: `{ each = "path", apply = "t" }`.
            ["each", "apply"] | ["apply", "each"] if !table.contains_key("transform") => {
                op.compiler.warnings.push(LoadError {
                    file: file.name.to_string(),
                    line,
                    key: format!("{key}.apply"),
                    message: "old spelling: `each` names its transform with `transform`: write \
                              `{ each = \"...\", transform = \"...\" }`"
                        .into(),
                });
                "each"
            }
            many => {
                op.errs.push(
                    line,
                    key,
                    format!("more than one op verb: {}", many.join(", ")),
                );
                return None;
            }
        };
        op.used.push(verb);
        let result = Op::parse(verb, &mut op);
        op.unknown_keys();
        result
    }

    fn rule(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        i: usize,
        table: &Table,
        transforms: &mut Vec<Transform>,
    ) -> Option<Rule> {
        let line = file.line(table.span());
        let name = match table.get("name").and_then(Item::as_str) {
            Some(n) => n.to_owned(),
            None => {
                errs.push(
                    line,
                    format!("rule[{i}].name"),
                    "every rule needs a `name` (a string)",
                );
                format!("rule[{i}]")
            }
        };
        let key = format!("rule {name:?}");
        let line_of = |k: &str| file.line(table.key(k).and_then(|k| k.span()).or(table.span()));
        for (k, _) in table.iter() {
            if !matches!(
                k,
                "name"
                    | "events"
                    | "when"
                    | "transform"
                    | "apply"
                    | "ops"
                    | "lossy"
                    | "lossy_sets"
                    | "description"
                    | "counterpart"
                    | "reason"
            ) {
                errs.push(
                    line_of(k),
                    format!("{key}.{k}"),
                    "unknown key (expected name, events, when, transform, ops, lossy, lossy_sets, description, counterpart, reason)",
                );
            }
        }
        let mut ok = true;
        let mut events = HashMap::new();
        match table.get("events").and_then(Item::as_table_like) {
            Some(map) if !map.is_empty() => {
                for (old, new) in map.iter() {
                    match new.as_str() {
                        Some(new) => {
                            events.insert(old.to_owned(), new.to_owned());
                        }
                        None => {
                            errs.push(
                                line_of("events"),
                                format!("{key}.events.{old}"),
                                "must be the new event type (a string)",
                            );
                            ok = false;
                        }
                    }
                }
            }
            _ => {
                errs.push(
                    line_of("events"),
                    format!("{key}.events"),
                    "required: a table of old event type = new event type",
                );
                ok = false;
            }
        }
        let mut when = Condition::default();
        if let Some(item) = table.get("when") {
            match item.as_table_like() {
                Some(map) => {
                    for (field, value) in map.iter() {
                        let path = match Field::parse(field) {
                            Ok(p) => p,
                            Err(m) => {
                                errs.push(line_of("when"), format!("{key}.when.{field}"), m);
                                ok = false;
                                continue;
                            }
                        };
                        let accepted = match value.as_value().map(toml_to_json) {
                            Some(Value::Array(any)) => any,
                            Some(one) => vec![one],
                            None => {
                                errs.push(
                                    line_of("when"),
                                    format!("{key}.when.{field}"),
                                    "must be a value or a list of values",
                                );
                                ok = false;
                                continue;
                            }
                        };
                        when.0.push((path, accepted));
                    }
                }
                None => {
                    errs.push(
                        line_of("when"),
                        format!("{key}.when"),
                        "must be a table of payload field = value",
                    );
                    ok = false;
                }
            }
        }
        let mut lossy = Vec::new();
        if let Some(item) = table.get("lossy") {
            match item.as_table_like() {
                Some(map) => {
                    for (path, reason) in map.iter() {
                        match reason.as_str() {
                            Some(r) if !r.trim().is_empty() => {
                                lossy.push((path.to_owned(), r.to_owned()))
                            }
                            _ => {
                                errs.push(
                                    line_of("lossy"),
                                    format!("{key}.lossy.{path}"),
                                    "must be the reason (a non-empty string)",
                                );
                                ok = false;
                            }
                        }
                    }
                }
                None => {
                    errs.push(
                        line_of("lossy"),
                        format!("{key}.lossy"),
                        "must be a table of path = reason",
                    );
                    ok = false;
                }
            }
        }
        if let Some(item) = table.get("lossy_sets") {
            ok &= self.expand_lossy_sets(errs, &key, line_of("lossy_sets"), item, &mut lossy);
        }
        let no_counterpart = match (table.get("counterpart"), table.get("reason")) {
            (None, None) => None,
            (Some(c), reason) if c.as_bool() == Some(false) => {
                match reason
                    .and_then(Item::as_str)
                    .filter(|r| !r.trim().is_empty())
                {
                    Some(reason) => Some(reason.to_owned()),
                    None => {
                        errs.push(
                            line_of("counterpart"),
                            format!("{key}.reason"),
                            "`counterpart = false` needs a `reason` (why these events have no counterpart)",
                        );
                        return None;
                    }
                }
            }
            (Some(_), _) => {
                errs.push(
                    line_of("counterpart"),
                    format!("{key}.counterpart"),
                    "can only be `false` (leave it out for a rule that translates)",
                );
                return None;
            }
            (None, Some(_)) => {
                errs.push(
                    line_of("reason"),
                    format!("{key}.reason"),
                    "`reason` belongs to `counterpart = false`",
                );
                return None;
            }
        };
        // The old spelling of a rule's transform: `apply = "t"`.
        let transform_key = match (table.get("transform"), table.get("apply")) {
            (Some(_), Some(_)) => {
                errs.push(
                    line_of("apply"),
                    format!("{key}.apply"),
                    "`apply` is the old spelling of `transform`: keep only `transform`",
                );
                return None;
            }
            (None, Some(_)) => {
                self.warnings.push(LoadError {
                    file: file.name.to_string(),
                    line: line_of("apply"),
                    key: format!("{key}.apply"),
                    message: "old spelling: a rule names its transform with `transform`: write \
                              `transform = \"...\"`"
                        .into(),
                });
                "apply"
            }
            _ => "transform",
        };
        if no_counterpart.is_some()
            && (table.contains_key(transform_key) || table.contains_key("ops"))
        {
            errs.push(
                line,
                &key,
                "a rule with `counterpart = false` translates nothing: no `transform` or `ops`",
            );
            return None;
        }
        let body = match (table.get(transform_key), table.get("ops")) {
            (None, None) if no_counterpart.is_some() => {
                transforms.push(Transform {
                    name: format!("{name} (no counterpart)"),
                    ops: Vec::new(),
                    notes: Vec::new(),
                });
                self.edges.push(Vec::new());
                transforms.len() - 1
            }
            (Some(apply), None) => match apply.as_str().and_then(|n| self.names.get(n)) {
                Some(&(index, _, _)) => index,
                None => {
                    let mut known: Vec<&str> = self.names.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    errs.push(
                        line_of(transform_key),
                        format!("{key}.{transform_key}"),
                        format!(
                            "unknown transform {} (known: {})",
                            apply
                                .as_str()
                                .map_or("(not a string)".into(), |s| format!("{s:?}")),
                            known.join(", ")
                        ),
                    );
                    return None;
                }
            },
            (None, Some(ops)) => {
                let index = transforms.len();
                transforms.push(Transform {
                    name: format!("{name} (inline)"),
                    ops: Vec::new(),
                    notes: Vec::new(),
                });
                self.edges.push(Vec::new());
                let compiled = self.ops(file, errs, &format!("{key}.ops"), ops, index);
                (transforms[index].ops, transforms[index].notes) = compiled.into_iter().unzip();
                index
            }
            _ => {
                errs.push(
                    line,
                    &key,
                    "needs exactly one of `transform` (a transform name) or `ops` (a list of ops)",
                );
                return None;
            }
        };
        ok.then(|| Rule {
            name,
            file: file.relative.clone(),
            line,
            events,
            when,
            body,
            captures: Vec::new(),
            lossy,
            no_counterpart,
        })
    }
}

impl Compiler<'_> {
    /// Appends the entries of the sets a rule names in `lossy_sets` to its own `lossy`. A path the rule
    /// lists itself or gets from two sets is an error: each loss has one reason.
    fn expand_lossy_sets(
        &self,
        errs: &mut Errors,
        key: &str,
        line: usize,
        item: &Item,
        lossy: &mut Vec<(String, String)>,
    ) -> bool {
        let names: Option<Vec<&str>> = item
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str()).collect());
        let Some(names) = names else {
            errs.push(
                line,
                format!("{key}.lossy_sets"),
                "must be a list of lossy set names",
            );
            return false;
        };
        let mut ok = true;
        for name in names {
            let Some(set) = self.lossy_sets.get(name) else {
                let mut known: Vec<&str> = self.lossy_sets.keys().map(String::as_str).collect();
                known.sort_unstable();
                errs.push(
                    line,
                    format!("{key}.lossy_sets"),
                    format!("unknown lossy set {name:?} (known: {})", known.join(", ")),
                );
                ok = false;
                continue;
            };
            for (path, reason) in &set.entries {
                if lossy.iter().any(|(p, _)| p == path) {
                    errs.push(
                        line,
                        format!("{key}.lossy_sets"),
                        format!("{path:?} of lossy set {name:?} is already listed for this rule"),
                    );
                    ok = false;
                } else {
                    lossy.push((path.clone(), reason.clone()));
                }
            }
        }
        ok
    }
}

/// Reads the keys of one op table, remembering which were used so the rest can be reported. Each
/// verb's `parse` reads its keys through it.
pub(crate) struct OpReader<'a, 'e, 'n> {
    file: &'a SourceFile,
    errs: &'a mut Errors<'e>,
    key: &'a str,
    table: &'a InlineTable,
    line: usize,
    used: Vec<&'static str>,
    compiler: &'a mut Compiler<'n>,
    /// The transform the op belongs to (the caller in the call graph).
    owner: usize,
}

impl OpReader<'_, '_, '_> {
    pub(crate) fn has(&self, k: &str) -> bool {
        self.table.contains_key(k)
    }

    pub(crate) fn fail<T>(&mut self, message: impl Into<String>) -> Option<T> {
        self.errs.push(self.line, self.key, message);
        None
    }

    fn mark(&mut self, k: &'static str) {
        if !self.used.contains(&k) {
            self.used.push(k);
        }
    }

    pub(crate) fn get(&mut self, k: &'static str) -> Option<&toml_edit::Value> {
        self.mark(k);
        let value = self.table.get(k);
        if value.is_none() {
            self.errs.push(
                self.line,
                format!("{}.{k}", self.key),
                "required key is missing",
            );
        }
        value
    }

    pub(crate) fn string(&mut self, k: &'static str) -> Option<String> {
        let value = self.get(k)?;
        let (text, span) = (value.as_str().map(str::to_owned), value.span());
        match text {
            Some(s) => Some(s),
            None => {
                let line = self.file.line(span).max(self.line);
                self.errs
                    .push(line, format!("{}.{k}", self.key), "must be a string");
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, k: &'static str) -> Option<bool> {
        let value = self.get(k)?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => self.fail(format!("`{k}` must be true or false")),
        }
    }

    pub(crate) fn json(&mut self, k: &'static str) -> Option<Value> {
        self.get(k).map(toml_to_json)
    }

    pub(crate) fn path(&mut self, k: &'static str) -> Option<FieldPath> {
        let text = self.string(k)?;
        if text.starts_with("$.") {
            return self.fail(format!(
                "`{k}` is written to: it cannot be a `$.` (input event) path"
            ));
        }
        self.parse_path(k, &text)
    }

    fn parse_path(&mut self, k: &str, text: &str) -> Option<FieldPath> {
        match FieldPath::parse(text) {
            Ok(p) => Some(p),
            Err(m) => {
                self.errs.push(self.line, format!("{}.{k}", self.key), m);
                None
            }
        }
    }

    /// `null = true`: TOML has no null, so a JSON null is asked for by name.
    pub(crate) fn null(&mut self) -> Option<Value> {
        if self.bool("null")? {
            Some(Value::Null)
        } else {
            self.fail("`null` can only be `true` (leave it out otherwise)")
        }
    }

    pub(crate) fn reason(&mut self) -> Option<String> {
        let reason = self.string("reason")?;
        if reason.trim().is_empty() {
            return self.fail("`reason` must say why the value is dropped");
        }
        Some(reason)
    }

    pub(crate) fn delivery(&mut self) -> Option<DeliveryFact> {
        match self.string("delivery")?.as_str() {
            "timestamp" => Some(DeliveryFact::Timestamp),
            "timestamp_unix" => Some(DeliveryFact::TimestampUnix),
            other => self.fail(format!(
                "unknown delivery fact {other:?} (timestamp, timestamp_unix)"
            )),
        }
    }

    pub(crate) fn string_table(&mut self, k: &'static str) -> Option<Vec<(String, Value)>> {
        match self.get(k)?.as_inline_table() {
            Some(t) => Some(
                t.iter()
                    .map(|(k, v)| (k.to_owned(), toml_to_json(v)))
                    .collect(),
            ),
            None => self.fail(format!("`{k}` must be a table")),
        }
    }

    pub(crate) fn string_list(&mut self, k: &'static str) -> Option<Vec<String>> {
        match self.json(k)? {
            Value::Array(items) if items.iter().all(Value::is_string) => Some(
                items
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => self.fail(format!("`{k}` must be a list of strings")),
        }
    }

    pub(crate) fn condition(&mut self, k: &'static str) -> Option<Condition> {
        let mut condition = Condition::default();
        for (field, value) in self.string_table(k)? {
            let path = match Field::parse(&field) {
                Ok(p) => p,
                Err(m) => return self.fail(m),
            };
            let accepted = match value {
                Value::Array(any) => any,
                one => vec![one],
            };
            condition.0.push((path, accepted));
        }
        Some(condition)
    }

    /// A path read from: `$.`-anchored paths read the input event (each a capture slot of the step).
    pub(crate) fn anchor(&mut self, k: &'static str) -> Option<Anchor> {
        let text = self.string(k)?;
        if let Some(rest) = text.strip_prefix("$.") {
            let path = match FieldPath::parse(rest) {
                Ok(p) => p,
                Err(m) => return self.fail(m),
            };
            let inputs = &mut self.compiler.inputs;
            let slot = match inputs.iter().position(|(_, t)| *t == text) {
                Some(slot) => slot,
                None => {
                    inputs.push((path, text));
                    inputs.len() - 1
                }
            };
            Some(Anchor::Input(slot))
        } else {
            self.parse_path(k, &text).map(Anchor::Current)
        }
    }

    /// The transform the string at `k` names.
    pub(crate) fn transform_ref(&mut self, k: &'static str) -> Option<usize> {
        let name = self.string(k)?;
        self.resolve(k, &name)
    }

    /// The transform called `name` (named at key `k`), recorded as called by the op's transform.
    pub(crate) fn resolve(&mut self, k: &str, name: &str) -> Option<usize> {
        match self.compiler.names.get(name) {
            Some(&(index, _, _)) => {
                self.compiler.edges[self.owner].push(index);
                Some(index)
            }
            None => {
                let mut known: Vec<&str> = self.compiler.names.keys().map(String::as_str).collect();
                known.sort_unstable();
                self.errs.push(
                    self.line,
                    format!("{}.{k}", self.key),
                    format!("unknown transform {name:?} (known: {})", known.join(", ")),
                );
                None
            }
        }
    }

    fn unknown_keys(&mut self) {
        let unknown: Vec<String> = self
            .table
            .iter()
            .map(|(k, _)| k.to_owned())
            .filter(|k| !self.used.contains(&k.as_str()))
            .collect();
        for k in unknown {
            self.errs.push(
                self.line,
                format!("{}.{k}", self.key),
                "unknown key for this op",
            );
        }
    }
}

/// Converts a TOML constant to JSON (datetimes become their RFC 3339 text).
fn toml_to_json(value: &toml_edit::Value) -> Value {
    use toml_edit::Value as T;
    match value {
        T::String(s) => Value::from(s.value().as_str()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => serde_json::Number::from_f64(*f.value())
            .map_or(Value::Null, |n| serde_json::Value::Number(n).into()),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::from(d.value().to_string()),
        T::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        T::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Parses `versions.toml`: `order = [...]`, at least two distinct non-empty versions.
pub(crate) fn version_order(text: &str, errors: &mut Vec<LoadError>) -> Option<Vec<String>> {
    let file = super::VERSION_ORDER_FILE;
    let line_at = |span: Option<std::ops::Range<usize>>| {
        span.map_or(1, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        })
    };
    let mut fail = |line: usize, key: &str, message: String| {
        errors.push(LoadError {
            file: file.into(),
            line,
            key: key.into(),
            message,
        });
        None
    };
    let doc = match ImDocument::parse(text.to_owned()) {
        Ok(doc) => doc,
        Err(e) => {
            return fail(
                line_at(e.span()),
                "-",
                format!("not valid TOML: {}", e.message()),
            )
        }
    };
    let root = doc.as_table();
    if let Some((key, _)) = root
        .iter()
        .find(|(k, _)| !matches!(*k, "order" | "description" | "payload"))
    {
        let line = line_at(root.key(key).and_then(|k| k.span()));
        return fail(
            line,
            key,
            "unknown key (expected `order`, `payload` or `description`)".into(),
        );
    }
    let Some(item) = root.get("order") else {
        return fail(1, "order", "required: the versions from oldest to newest, e.g. order = [\"2025-04-21\", \"2026-02-09\"]".into());
    };
    let line = line_at(item.span());
    let Some(array) = item.as_array() else {
        return fail(line, "order", "must be a list of version names".into());
    };
    let mut order: Vec<String> = Vec::new();
    for value in array.iter() {
        match value.as_str() {
            Some(v) if !v.is_empty() && !v.contains("_to_") => {
                if order.iter().any(|o| o == v) {
                    return fail(line, "order", format!("version {v:?} is listed twice"));
                }
                order.push(v.to_owned());
            }
            _ => {
                return fail(
                    line,
                    "order",
                    "every entry is a version name (a non-empty string without `_to_`)".into(),
                )
            }
        }
    }
    if order.len() < 2 {
        return fail(line, "order", "lists at least two versions".into());
    }
    Some(order)
}
