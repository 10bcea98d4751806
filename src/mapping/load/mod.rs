//! Reading mapping files: TOML with spans, checked key by key and compiled into a [`Step`], every error kept.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use toml_edit::{ImDocument, InlineTable, Item};

use super::ops::{Op, Step, Transform, VERBS};
use super::path::FieldPath;
use super::LoadError;

mod change;
mod checks;
mod invert;
mod reader;
mod rules;
mod units;
mod versions;

use checks::{check_cycles, check_overlaps, reachable_inputs};
pub(crate) use reader::OpReader;
use rules::{read_lossy_sets, LossySet};
pub(crate) use versions::version_order;

/// One parsed file of a step, kept until every transform name of the step is known.
pub(crate) struct SourceFile {
    name: Arc<str>,
    /// `STEP/FILE.toml`: how rules name their file to senders (never a server path).
    relative: Arc<str>,
    text: String,
    doc: ImDocument<String>,
    /// Holds `[[change]]` units: compiled forward in its own step and inverted in the opposite one.
    pub(crate) two_way: bool,
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

/// Which way a file's ops run in the step being compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// A one-way file (`[[rule]]`) of the step's own folder: its ops as written.
    OneWay,
    /// A two-way file (`[[change]]`) of the step's own folder: its changes read forward.
    Up,
    /// A two-way file of the opposite folder: its changes inverted.
    Down,
}

/// Reads and parses every `*.toml` file of one step folder; each unreadable or invalid file is an
/// error naming it. A file that holds `[[change]]` units (or says `two_way = true`) is two-way.
pub(crate) fn read_folder(dir: &Path, errors: &mut Vec<LoadError>) -> Option<Vec<SourceFile>> {
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
            Ok(doc) => {
                let two_way = change::is_two_way(&doc);
                files.push(SourceFile {
                    name,
                    relative,
                    text,
                    doc,
                    two_way,
                })
            }
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
    Some(files)
}

/// Compiles one step `from` → `to` from its files: the one-way and two-way files of its own folder
/// and the two-way files of the opposite folder (their changes inverted). Old spellings the
/// language still accepts go to `warnings`, each naming the new spelling.
pub(crate) fn load_step(
    files: &[(&SourceFile, Direction)],
    from: &str,
    to: &str,
    payload_key: &str,
    errors: &mut Vec<LoadError>,
    warnings: &mut Vec<LoadError>,
) -> Option<Step> {
    let before = errors.len();
    // Pass 1: name every transform and lossy set of the step, so files may use each other's.
    let mut names: HashMap<String, (usize, Arc<str>, usize)> = HashMap::new();
    let mut lossy_sets: HashMap<String, LossySet> = HashMap::new();
    let mut transforms = Vec::new();
    for &(file, direction) in files {
        let mut errs = Errors {
            all: errors,
            file: file.name.clone(),
        };
        let root = file.doc.as_table();
        if direction != Direction::Down {
            change::check_root_keys(file, &mut errs);
        }
        if let Some(item) = root.get("lossy") {
            read_lossy_sets(file, &mut errs, item, &mut lossy_sets);
        }
        if let Some(item) = root.get("transforms") {
            match item.as_table() {
                Some(table) => {
                    for (name, body) in table.iter() {
                        if file.two_way && !change::transform_runs(body, file, direction) {
                            continue;
                        }
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
                            transforms.push(Transform::new(name.to_owned()));
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
    for &(file, direction) in files {
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
                if file.two_way {
                    let compiled =
                        compiler.directed_body(file, &mut errs, &key, item, index, direction);
                    transforms[index].set_directed_ops(compiled);
                } else {
                    let compiled = compiler.transform_body(file, &mut errs, &key, item, index);
                    transforms[index].set_ops(compiled);
                }
            }
        }
        if file.two_way {
            compiler.changes(file, &mut errs, direction, &mut transforms, &mut rules);
            continue;
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

    fn op(
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
