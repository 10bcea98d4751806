//! Compiling `[[rule]]` tables and the shared `[lossy.NAME]` sets they name.

use std::collections::HashMap;
use std::sync::Arc;

use toml_edit::{Item, Table};

use super::reader::toml_to_json;
use super::{Compiler, Errors, SourceFile};
use crate::json::Value;
use crate::mapping::ops::{Condition, Field, Rule, Transform};
use crate::mapping::LoadError;

/// One `[lossy.NAME]` table: lossy entries several rules of a step share (`lossy_sets = ["NAME"]`).
pub(super) struct LossySet {
    entries: Vec<(String, String)>,
    file: Arc<str>,
    line: usize,
}

/// Reads the `[lossy.NAME]` tables of one file: `path = "reason"` entries, names unique in the step.
pub(super) fn read_lossy_sets(
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

/// A rule's `name`; a rule without one is reported and named by its index.
fn rule_name(errs: &mut Errors, i: usize, table: &Table, line: usize) -> String {
    match table.get("name").and_then(Item::as_str) {
        Some(n) => n.to_owned(),
        None => {
            errs.push(
                line,
                format!("rule[{i}].name"),
                "every rule needs a `name` (a string)",
            );
            format!("rule[{i}]")
        }
    }
}

/// The keys a `[[rule]]` table may hold.
const RULE_KEYS: &[&str] = &[
    "name",
    "events",
    "when",
    "transform",
    "apply",
    "ops",
    "lossy",
    "lossy_sets",
    "description",
    "counterpart",
    "reason",
];

/// One `[[rule]]` table being compiled, with what its errors name: `rule "NAME"` and its lines.
struct RuleTable<'t> {
    file: &'t SourceFile,
    table: &'t Table,
    name: String,
    /// `rule "NAME"`: the start of every key its errors name.
    key: String,
    line: usize,
}

impl RuleTable<'_> {
    /// The line of key `k`, else of the table.
    fn line_of(&self, k: &str) -> usize {
        self.file.line(
            self.table
                .key(k)
                .and_then(|k| k.span())
                .or(self.table.span()),
        )
    }

    /// Reports every key the rule language does not know.
    fn check_keys(&self, errs: &mut Errors) {
        for (k, _) in self.table.iter() {
            if !RULE_KEYS.contains(&k) {
                errs.push(
                    self.line_of(k),
                    format!("{}.{k}", self.key),
                    "unknown key (expected name, events, when, transform, ops, lossy, lossy_sets, description, counterpart, reason)",
                );
            }
        }
    }

    /// `events`: old event type = new event type; `None` after reporting every bad entry.
    fn events(&self, errs: &mut Errors) -> Option<HashMap<String, String>> {
        let key = &self.key;
        let Some(map) = self
            .table
            .get("events")
            .and_then(Item::as_table_like)
            .filter(|m| !m.is_empty())
        else {
            errs.push(
                self.line_of("events"),
                format!("{key}.events"),
                "required: a table of old event type = new event type",
            );
            return None;
        };
        let mut ok = true;
        let mut events = HashMap::new();
        for (old, new) in map.iter() {
            match new.as_str() {
                Some(new) => {
                    events.insert(old.to_owned(), new.to_owned());
                }
                None => {
                    errs.push(
                        self.line_of("events"),
                        format!("{key}.events.{old}"),
                        "must be the new event type (a string)",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(events)
    }

    /// `when`: payload field = value (or list of accepted values); no `when` takes every event.
    fn when(&self, errs: &mut Errors) -> Option<Condition> {
        let key = &self.key;
        let mut when = Condition::default();
        let Some(item) = self.table.get("when") else {
            return Some(when);
        };
        let Some(map) = item.as_table_like() else {
            errs.push(
                self.line_of("when"),
                format!("{key}.when"),
                "must be a table of payload field = value",
            );
            return None;
        };
        let mut ok = true;
        for (field, value) in map.iter() {
            let path = match Field::parse(field) {
                Ok(p) => p,
                Err(m) => {
                    errs.push(self.line_of("when"), format!("{key}.when.{field}"), m);
                    ok = false;
                    continue;
                }
            };
            let accepted = match value.as_value().map(toml_to_json) {
                Some(Value::Array(any)) => any,
                Some(one) => vec![one],
                None => {
                    errs.push(
                        self.line_of("when"),
                        format!("{key}.when.{field}"),
                        "must be a value or a list of values",
                    );
                    ok = false;
                    continue;
                }
            };
            when.0.push((path, accepted));
        }
        ok.then_some(when)
    }

    /// `lossy`: event-root path = reason. Also returned when some entry is bad (with `false`): the
    /// rule's `lossy_sets` are still checked against the good ones.
    fn lossy(&self, errs: &mut Errors) -> (Vec<(String, String)>, bool) {
        let key = &self.key;
        let mut lossy = Vec::new();
        let Some(item) = self.table.get("lossy") else {
            return (lossy, true);
        };
        let Some(map) = item.as_table_like() else {
            errs.push(
                self.line_of("lossy"),
                format!("{key}.lossy"),
                "must be a table of path = reason",
            );
            return (lossy, false);
        };
        let mut ok = true;
        for (path, reason) in map.iter() {
            match reason.as_str() {
                Some(r) if !r.trim().is_empty() => lossy.push((path.to_owned(), r.to_owned())),
                _ => {
                    errs.push(
                        self.line_of("lossy"),
                        format!("{key}.lossy.{path}"),
                        "must be the reason (a non-empty string)",
                    );
                    ok = false;
                }
            }
        }
        (lossy, ok)
    }

    /// `counterpart = false` with its `reason`: `Some(None)` for a rule that translates,
    /// `Some(Some(reason))` for one whose events have no counterpart, `None` after an error.
    fn counterpart(&self, errs: &mut Errors) -> Option<Option<String>> {
        let key = &self.key;
        let (line, key, message) = match (self.table.get("counterpart"), self.table.get("reason")) {
            (None, None) => return Some(None),
            (Some(c), reason) if c.as_bool() == Some(false) => {
                let reason = reason
                    .and_then(Item::as_str)
                    .filter(|r| !r.trim().is_empty());
                if let Some(reason) = reason {
                    return Some(Some(reason.to_owned()));
                }
                (
                    self.line_of("counterpart"),
                    format!("{key}.reason"),
                    "`counterpart = false` needs a `reason` (why these events have no counterpart)",
                )
            }
            (Some(_), _) => (
                self.line_of("counterpart"),
                format!("{key}.counterpart"),
                "can only be `false` (leave it out for a rule that translates)",
            ),
            (None, Some(_)) => (
                self.line_of("reason"),
                format!("{key}.reason"),
                "`reason` belongs to `counterpart = false`",
            ),
        };
        errs.push(line, key, message);
        None
    }
}

impl Compiler<'_> {
    /// Compiles one `[[rule]]` table, reporting every problem of it (each key is read by its own
    /// function, so one bad key does not hide another's problem).
    pub(super) fn rule(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        i: usize,
        table: &Table,
        transforms: &mut Vec<Transform>,
    ) -> Option<Rule> {
        let line = file.line(table.span());
        let name = rule_name(errs, i, table, line);
        let rule = RuleTable {
            file,
            table,
            key: format!("rule {name:?}"),
            name,
            line,
        };
        rule.check_keys(errs);
        let events = rule.events(errs);
        let when = rule.when(errs);
        let lossy = self.rule_lossy(&rule, errs);
        let no_counterpart = rule.counterpart(errs)?;
        let transform_key = self.transform_key(&rule, errs)?;
        let body = self.rule_body(&rule, errs, transform_key, &no_counterpart, transforms)?;
        Some(Rule {
            name: rule.name,
            file: file.relative.clone(),
            line,
            events: events?,
            when: when?,
            body,
            captures: Vec::new(),
            lossy: lossy?,
            no_counterpart,
            description: None,
            derives_lossy: false,
        })
    }

    /// The rule's `lossy` entries followed by those of the sets its `lossy_sets` names.
    fn rule_lossy(&self, rule: &RuleTable, errs: &mut Errors) -> Option<Vec<(String, String)>> {
        let (mut lossy, mut ok) = rule.lossy(errs);
        if let Some(item) = rule.table.get("lossy_sets") {
            ok &= self.expand_lossy_sets(
                errs,
                &rule.key,
                rule.line_of("lossy_sets"),
                item,
                &mut lossy,
            );
        }
        ok.then_some(lossy)
    }

    /// The key naming the rule's transform: `transform`, or its old spelling `apply` (a warning).
    fn transform_key(&mut self, rule: &RuleTable, errs: &mut Errors) -> Option<&'static str> {
        let key = &rule.key;
        match (rule.table.get("transform"), rule.table.get("apply")) {
            (Some(_), Some(_)) => {
                errs.push(
                    rule.line_of("apply"),
                    format!("{key}.apply"),
                    "`apply` is the old spelling of `transform`: keep only `transform`",
                );
                None
            }
            (None, Some(_)) => {
                self.warnings.push(LoadError {
                    file: rule.file.name.to_string(),
                    line: rule.line_of("apply"),
                    key: format!("{key}.apply"),
                    message: "old spelling: a rule names its transform with `transform`: write \
                              `transform = \"...\"`"
                        .into(),
                });
                Some("apply")
            }
            _ => Some("transform"),
        }
    }

    /// The transform the rule runs: the one it names, its inline `ops`, or an empty one for a rule
    /// without counterpart.
    fn rule_body(
        &mut self,
        rule: &RuleTable,
        errs: &mut Errors,
        transform_key: &str,
        no_counterpart: &Option<String>,
        transforms: &mut Vec<Transform>,
    ) -> Option<usize> {
        let (table, key, name) = (rule.table, &rule.key, &rule.name);
        if no_counterpart.is_some()
            && (table.contains_key(transform_key) || table.contains_key("ops"))
        {
            errs.push(
                rule.line,
                key,
                "a rule with `counterpart = false` translates nothing: no `transform` or `ops`",
            );
            return None;
        }
        match (table.get(transform_key), table.get("ops")) {
            (None, None) if no_counterpart.is_some() => {
                transforms.push(Transform::new(format!("{name} (no counterpart)")));
                self.edges.push(Vec::new());
                Some(transforms.len() - 1)
            }
            (Some(named), None) => self.named_transform(rule, errs, transform_key, named),
            (None, Some(ops)) => {
                let index = transforms.len();
                transforms.push(Transform::new(format!("{name} (inline)")));
                self.edges.push(Vec::new());
                let compiled = self.ops(rule.file, errs, &format!("{key}.ops"), ops, index);
                transforms[index].set_ops(compiled);
                Some(index)
            }
            _ => {
                errs.push(
                    rule.line,
                    key,
                    "needs exactly one of `transform` (a transform name) or `ops` (a list of ops)",
                );
                None
            }
        }
    }

    /// The index of the transform a rule names; an unknown name is reported with the known ones.
    fn named_transform(
        &self,
        rule: &RuleTable,
        errs: &mut Errors,
        transform_key: &str,
        named: &Item,
    ) -> Option<usize> {
        if let Some(&(index, _, _)) = named.as_str().and_then(|n| self.names.get(n)) {
            return Some(index);
        }
        let mut known: Vec<&str> = self.names.keys().map(String::as_str).collect();
        known.sort_unstable();
        errs.push(
            rule.line_of(transform_key),
            format!("{}.{transform_key}", rule.key),
            format!(
                "unknown transform {} (known: {})",
                named
                    .as_str()
                    .map_or("(not a string)".into(), |s| format!("{s:?}")),
                known.join(", ")
            ),
        );
        None
    }

    /// Appends the entries of the sets a rule names in `lossy_sets` to its own `lossy`. An element
    /// is a set name, or `{ at = "PATH", sets = [...] }`: those sets' entries placed under `PATH`
    /// (their paths start at the payload; the same object sits at `PATH` here, e.g. a run inside a
    /// workflow run's step). A path the rule lists itself or gets twice is an error: each loss has one
    /// reason.
    pub(super) fn expand_lossy_sets(
        &self,
        errs: &mut Errors,
        key: &str,
        line: usize,
        item: &Item,
        lossy: &mut Vec<(String, String)>,
    ) -> bool {
        let key = format!("{key}.lossy_sets");
        let Some(array) = item.as_array() else {
            errs.push(line, key, LOSSY_SETS_FORM);
            return false;
        };
        let mut ok = true;
        for (index, value) in array.iter().enumerate() {
            let (names, at) = match lossy_sets_element(value) {
                Ok(element) => element,
                Err(message) => {
                    errs.push(line, format!("{key}[{index}]"), message);
                    ok = false;
                    continue;
                }
            };
            for name in names {
                ok &= self.expand_lossy_set(errs, (&key, line), name, at, lossy);
            }
        }
        ok
    }

    /// Appends one set's entries (placed under `at` when given).
    fn expand_lossy_set(
        &self,
        errs: &mut Errors,
        (key, line): (&str, usize),
        name: &str,
        at: Option<&str>,
        lossy: &mut Vec<(String, String)>,
    ) -> bool {
        let Some(set) = self.lossy_sets.get(name) else {
            let mut known: Vec<&str> = self.lossy_sets.keys().map(String::as_str).collect();
            known.sort_unstable();
            errs.push(
                line,
                key,
                format!("unknown lossy set {name:?} (known: {})", known.join(", ")),
            );
            return false;
        };
        let mut ok = true;
        for (path, reason) in &set.entries {
            let path = match at {
                None => path.clone(),
                Some(at) => match placed(path, self.payload_key, at) {
                    Some(path) => path,
                    None => {
                        errs.push(
                            line,
                            key,
                            format!(
                                "{path:?} of lossy set {name:?} is not under `{}`: it cannot be placed at {at:?}",
                                self.payload_key
                            ),
                        );
                        ok = false;
                        continue;
                    }
                },
            };
            if lossy.iter().any(|(p, _)| *p == path) {
                errs.push(
                    line,
                    key,
                    format!("{path:?} of lossy set {name:?} is already listed for this rule"),
                );
                ok = false;
            } else {
                lossy.push((path, reason.clone()));
            }
        }
        ok
    }
}

const LOSSY_SETS_FORM: &str =
    "must be a list of lossy set names or `{ at = \"PATH\", sets = [\"NAME\", ...] }` tables";

/// One element of `lossy_sets`: set names, and where their entries are placed (`None`: as written).
fn lossy_sets_element(value: &toml_edit::Value) -> Result<(Vec<&str>, Option<&str>), String> {
    if let Some(name) = value.as_str() {
        return Ok((vec![name], None));
    }
    let Some(table) = value.as_inline_table() else {
        return Err(LOSSY_SETS_FORM.to_owned());
    };
    if let Some((unknown, _)) = table.iter().find(|(k, _)| !matches!(*k, "at" | "sets")) {
        return Err(format!(
            "unknown key `{unknown}` (expected `at` and `sets`)"
        ));
    }
    let at = table
        .get("at")
        .and_then(|v| v.as_str())
        .filter(|at| !at.trim().is_empty())
        .ok_or(
            "`at` is the path the sets' entries are placed under, e.g. \"payload.outputs[*]\"",
        )?;
    let names: Option<Vec<&str>> = table
        .get("sets")
        .and_then(|v| v.as_array())
        .and_then(|a| a.iter().map(|v| v.as_str()).collect());
    match names {
        Some(names) if !names.is_empty() => Ok((names, Some(at))),
        _ => Err("`sets` is a non-empty list of lossy set names".to_owned()),
    }
}

/// A set's `path` (from the event root, under `payload`) placed under `at` instead of the payload.
fn placed(path: &str, payload: &str, at: &str) -> Option<String> {
    let rest = path.strip_prefix(payload)?;
    (rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
        .then(|| format!("{at}{rest}"))
}
