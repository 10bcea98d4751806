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

impl Compiler<'_> {
    pub(super) fn rule(
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
                transforms.push(Transform::new(format!("{name} (no counterpart)")));
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
                transforms.push(Transform::new(format!("{name} (inline)")));
                self.edges.push(Vec::new());
                let compiled = self.ops(file, errs, &format!("{key}.ops"), ops, index);
                transforms[index].set_ops(compiled);
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
            description: None,
            derives_lossy: false,
        })
    }

    /// Appends the entries of the sets a rule names in `lossy_sets` to its own `lossy`. A path the rule
    /// lists itself or gets from two sets is an error: each loss has one reason.
    pub(super) fn expand_lossy_sets(
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
