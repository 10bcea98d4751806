//! Compiling one step from its files, in two passes: the first names every transform and lossy
//! set of the step (so files may use each other's), the second compiles ops, rules and changes.
//! Then the checks across the step: transform cycles, overlapping rules, the inputs each rule reads.

use std::collections::HashMap;
use std::sync::Arc;

use toml_edit::{InlineTable, Item};

use super::checks::{check_cycles, check_overlaps, reachable_inputs};
use super::rules::{read_lossy_sets, LossySet};
use super::{change, template, Direction, Errors, OpReader, SourceFile};
use crate::mapping::ops::{Op, Rule, Step, Transform, VERBS};
use crate::mapping::path::FieldPath;
use crate::mapping::LoadError;

/// Every transform of a step by name: its index, file and line.
pub(super) type TransformNames = HashMap<String, (usize, Arc<str>, usize)>;

/// Compiles one step `from` → `to` from its files: the one-way and two-way files of its own folder
/// and the two-way files of the opposite folder (their changes inverted). Old spellings the
/// language still accepts go to `warnings`, each naming the new spelling.
pub(super) fn load_step(
    files: &[(&SourceFile, Direction)],
    from: &str,
    to: &str,
    payload_key: &str,
    errors: &mut Vec<LoadError>,
    warnings: &mut Vec<LoadError>,
) -> Option<Step> {
    let before = errors.len();
    // Pass 1: name every transform and lossy set of the step, so files may use each other's.
    let mut names = TransformNames::new();
    let mut lossy_sets = HashMap::new();
    let mut transforms = Vec::new();
    for &(file, direction) in files {
        let mut errs = Errors {
            all: errors,
            file: file.name.clone(),
        };
        name_file(file, &mut errs, direction, &mut lossy_sets);
        name_transforms(file, &mut errs, direction, &mut names, &mut transforms);
    }

    // Pass 2: compile ops and rules.
    let mut compiler = Compiler {
        names: &names,
        lossy_sets: &lossy_sets,
        payload_key,
        inputs: Vec::new(),
        edges: vec![Vec::new(); transforms.len()],
        warnings: Vec::new(),
    };
    let mut rules = Vec::new();
    for &(file, direction) in files {
        let mut errs = Errors {
            all: errors,
            file: file.name.clone(),
        };
        compiler.file(file, &mut errs, direction, &mut transforms, &mut rules);
    }

    let Compiler {
        inputs,
        edges,
        warnings: old_spellings,
        ..
    } = compiler;
    warnings.extend(old_spellings);
    check_cycles(&transforms, &edges, &names, errors);
    let by_event = rules_by_event(&rules);
    check_overlaps(&rules, &by_event, errors);
    for rule in &mut rules {
        rule.captures = reachable_inputs(rule.body, &transforms, &edges);
    }

    if errors.len() > before {
        return None;
    }
    let mut step = Step {
        from: from.to_owned(),
        to: to.to_owned(),
        transforms,
        rules,
        by_event,
        inputs: inputs.into_iter().map(|(p, _)| p).collect(),
    };
    change::derive_lossy(&mut step, payload_key);
    Some(step)
}

/// Pass 1 for one file's root: its keys and its `[lossy.NAME]` sets.
fn name_file(
    file: &SourceFile,
    errs: &mut Errors,
    direction: Direction,
    lossy_sets: &mut HashMap<String, LossySet>,
) {
    if direction != Direction::Down {
        change::check_root_keys(file, errs);
    }
    if let Some(item) = file.doc.as_table().get("lossy") {
        read_lossy_sets(file, errs, item, lossy_sets);
    }
}

/// Pass 1 for one file's `[transforms]`: a slot for every transform that runs in `direction`; a
/// name defined twice in the step is an error.
fn name_transforms(
    file: &SourceFile,
    errs: &mut Errors,
    direction: Direction,
    names: &mut TransformNames,
    transforms: &mut Vec<Transform>,
) {
    let Some(item) = file.doc.as_table().get("transforms") else {
        return;
    };
    let Some(table) = item.as_table() else {
        errs.push(
            file.line(item.span()),
            "transforms",
            "must be a table of transforms",
        );
        return;
    };
    for (written, body) in table.iter() {
        if file.two_way && !change::transform_runs(body, file, direction) {
            continue;
        }
        let line = file.line(table.key(written).and_then(|k| k.span()));
        let made = match template::instances(written, body) {
            Ok(made) => made,
            Err(message) => {
                if direction != Direction::Down {
                    errs.push(line, format!("transforms.{written}.for"), message);
                }
                continue;
            }
        };
        for instance in made {
            let name = instance.name;
            if let Some((_, other_file, other_line)) = names.get(&name) {
                errs.push(
                    line,
                    format!("transforms.{name}"),
                    format!("transform defined twice (first at {other_file}:{other_line})"),
                );
            } else {
                names.insert(name.clone(), (transforms.len(), file.name.clone(), line));
                transforms.push(Transform::new(name));
            }
        }
    }
}

/// The rules that take each old event type, in rule order.
fn rules_by_event(rules: &[Rule]) -> HashMap<String, Vec<usize>> {
    let mut by_event: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, rule) in rules.iter().enumerate() {
        for old in rule.events.keys() {
            by_event.entry(old.clone()).or_default().push(index);
        }
    }
    by_event
}

/// Compiles the ops, rules and changes of one step (pass 2), with what pass 1 named.
pub(crate) struct Compiler<'n> {
    pub(super) names: &'n TransformNames,
    /// `[lossy.NAME]` tables of the step, by name.
    pub(super) lossy_sets: &'n HashMap<String, LossySet>,
    /// The envelope's payload member: a lossy set placed `at` a path replaces it.
    pub(super) payload_key: &'n str,
    /// `$.` paths of the step, in slot order.
    pub(super) inputs: Vec<(FieldPath, String)>,
    /// Transform call graph, for the cycle check and capture reachability.
    pub(super) edges: Vec<Vec<usize>>,
    /// Old spellings that still load, each with the new one.
    pub(super) warnings: Vec<LoadError>,
}

impl Compiler<'_> {
    /// Pass 2 for one file: the ops of the transforms it defines, then its rules (a one-way file)
    /// or its changes (a two-way file) for `direction`.
    fn file(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        direction: Direction,
        transforms: &mut Vec<Transform>,
        rules: &mut Vec<Rule>,
    ) {
        self.file_transforms(file, errs, direction, transforms);
        if file.two_way {
            self.changes(file, errs, direction, transforms, rules);
        } else {
            self.rules(file, errs, transforms, rules);
        }
    }

    /// The ops of the transforms a file defines (those pass 1 gave a slot to it).
    fn file_transforms(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        direction: Direction,
        transforms: &mut [Transform],
    ) {
        let Some(table) = file
            .doc
            .as_table()
            .get("transforms")
            .and_then(Item::as_table)
        else {
            return;
        };
        // A template's problems were reported when pass 1 named its instances.
        let made = table
            .iter()
            .filter_map(|(name, item)| template::instances(name, item).ok())
            .flatten();
        for template::Instance { name, item } in made {
            let Some(&(index, ref owner, _)) = self.names.get(&name) else {
                continue;
            };
            if *owner != file.name {
                continue;
            }
            let key = format!("transforms.{name}");
            if file.two_way {
                let compiled = self.directed_body(file, errs, &key, &item, index, direction);
                transforms[index].set_directed_ops(compiled);
            } else {
                let compiled = self.transform_body(file, errs, &key, &item, index);
                transforms[index].set_ops(compiled);
            }
        }
    }

    /// The `[[rule]]` tables of a one-way file.
    fn rules(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        transforms: &mut Vec<Transform>,
        rules: &mut Vec<Rule>,
    ) {
        match file.doc.as_table().get("rule") {
            None => {}
            Some(Item::ArrayOfTables(array)) => {
                for (i, table) in array.iter().enumerate() {
                    if let Some(rule) = self.rule(file, errs, i, table, transforms) {
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

    pub(super) fn ops(
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
                    let line = file.line(table.span());
                    if let Some(op) = self.op(file, errs, &op_key, table, owner, line) {
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

    pub(super) fn op(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        key: &str,
        table: &InlineTable,
        owner: usize,
        line: usize,
    ) -> Option<Op> {
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
}
