//! Compiling `[[change]]` units into the rules of one direction.
//!
//! A change has a required `description`, the event types it takes (`old = new` pairs, or a list
//! of types that keep their name) and a `transform` or inline `ops`. Without `direction` it runs
//! both ways: its renames are inverted going down, and what only one direction needs (its `when`,
//! extra lossy entries) sits in `[change.up]` / `[change.down]`. With `direction = "up"` or
//! `"down"` it is one-way: a split by condition, or events without counterpart. Problems of the
//! change as written are reported by the forward compile only, so each is reported once.

use std::collections::HashMap;

use toml_edit::{Item, Table};

use super::reader::toml_to_json;
use super::{Compiler, Direction, Errors, SourceFile};
use crate::json::Value;
use crate::mapping::ops::{Condition, Field, Rule, Transform};

/// Keys of a change that runs one way (besides the keys of every change).
const ONE_WAY_KEYS: &[&str] = &["when", "lossy", "lossy_sets", "counterpart", "reason"];

/// The parts of a `[[change]]` table for one direction.
struct Parts<'t> {
    name: String,
    key: String,
    /// The table holding this direction's `when`, `lossy`, `lossy_sets` (and, one-way, `counterpart`).
    side: Option<&'t Table>,
    one_way: bool,
    /// Whether this compile reports the change's own problems.
    report: bool,
}

impl Parts<'_> {
    fn side(&self, k: &str) -> Option<&Item> {
        self.side.and_then(|s| s.get(k))
    }
}

impl Compiler<'_> {
    /// Compiles the `[[change]]` units of a two-way file into the rules of `direction`.
    pub(super) fn changes(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        direction: Direction,
        transforms: &mut Vec<Transform>,
        rules: &mut Vec<Rule>,
    ) {
        match file.doc.as_table().get("change") {
            None => {}
            Some(Item::ArrayOfTables(array)) => {
                for (i, table) in array.iter().enumerate() {
                    if let Some(rule) = self.change(file, errs, i, table, direction, transforms) {
                        rules.push(rule);
                    }
                }
            }
            Some(other) if direction != Direction::Down => errs.push(
                file.line(other.span()),
                "change",
                "must be written as [[change]] tables",
            ),
            Some(_) => {}
        }
    }

    /// Compiles one `[[change]]` table into the rule it makes for `direction`, if it runs that way.
    fn change(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        i: usize,
        table: &Table,
        direction: Direction,
        transforms: &mut Vec<Transform>,
    ) -> Option<Rule> {
        let parts = parts(file, errs, i, table, direction)?;
        let line_of = |k: &str| file.line(table.key(k).and_then(|k| k.span()).or(table.span()));
        let side_line = |k: &str| {
            parts
                .side
                .and_then(|s| s.key(k).and_then(|k| k.span()))
                .map_or(line_of(k), |s| file.line(Some(s)))
        };
        let report = |errs: &mut Errors, line: usize, key: String, message: String| {
            if parts.report {
                errs.push(line, key, message);
            }
        };
        let key = parts.key.clone();
        let events = match change_events(table, direction, parts.one_way) {
            Ok(events) => Some(events),
            Err(m) => {
                report(errs, line_of("events"), format!("{key}.events"), m);
                None
            }
        };
        if events.is_some() && !parts.one_way && direction != Direction::Down {
            // The way down inverts the renames: a rename that cannot be inverted is reported here.
            if let Err(m) = change_events(table, Direction::Down, false) {
                errs.push(line_of("events"), format!("{key}.events"), m);
                return None;
            }
        }
        let when = match parts.side("when").map(condition) {
            None => Some(Condition::default()),
            Some(Ok(when)) => Some(when),
            Some(Err(m)) => {
                report(errs, side_line("when"), format!("{key}.when"), m);
                None
            }
        };
        let lossy = self.change_lossy(file, errs, &parts, side_line);
        let ok = events.is_some() && when.is_some() && lossy.is_some();
        let no_counterpart = no_counterpart(&parts).map_err(|m| {
            report(
                errs,
                side_line("counterpart"),
                format!("{key}.counterpart"),
                m,
            );
        });
        let no_counterpart = no_counterpart.ok()?;
        let body = self.change_body(
            file,
            errs,
            table,
            &parts,
            direction,
            transforms,
            &no_counterpart,
        )?;
        ok.then(|| Rule {
            name: parts.name,
            file: file.relative.clone(),
            line: file.line(table.span()),
            events: events.unwrap_or_default(),
            when: when.unwrap_or_default(),
            body,
            captures: Vec::new(),
            lossy: lossy.unwrap_or_default(),
            no_counterpart,
            description: table
                .get("description")
                .and_then(Item::as_str)
                .map(str::to_owned),
            derives_lossy: true,
        })
    }

    /// The change's `lossy` entries for this direction followed by those of the sets its
    /// `lossy_sets` names; `None` after an error (reported when this compile reports the change's).
    fn change_lossy(
        &self,
        file: &SourceFile,
        errs: &mut Errors,
        parts: &Parts,
        side_line: impl Fn(&str) -> usize,
    ) -> Option<Vec<(String, String)>> {
        let key = &parts.key;
        let mut lossy = Vec::new();
        let mut ok = true;
        if let Some(item) = parts.side("lossy") {
            match lossy_table(item) {
                Ok(entries) => lossy = entries,
                Err(m) => {
                    if parts.report {
                        errs.push(side_line("lossy"), format!("{key}.lossy"), m);
                    }
                    ok = false;
                }
            }
        }
        if let Some(item) = parts.side("lossy_sets") {
            if parts.report {
                ok &= self.expand_lossy_sets(errs, key, side_line("lossy_sets"), item, &mut lossy);
            } else {
                let mut quiet = Vec::new();
                let mut quiet_errs = Errors {
                    all: &mut quiet,
                    file: file.name.clone(),
                };
                ok &= self.expand_lossy_sets(&mut quiet_errs, key, 0, item, &mut lossy);
            }
        }
        ok.then_some(lossy)
    }

    /// The transform a change runs: a named one, its inline `ops`, or none without counterpart.
    #[allow(clippy::too_many_arguments)]
    fn change_body(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        table: &Table,
        parts: &Parts,
        direction: Direction,
        transforms: &mut Vec<Transform>,
        no_counterpart: &Option<String>,
    ) -> Option<usize> {
        let key = &parts.key;
        let line = file.line(table.span());
        let mut new_body = |what: &str| {
            transforms.push(Transform::new(format!("{} ({what})", parts.name)));
            self.edges.push(Vec::new());
            transforms.len() - 1
        };
        let message = match (table.get("transform"), table.get("ops"), no_counterpart) {
            (None, None, Some(_)) => return Some(new_body("no counterpart")),
            (_, _, Some(_)) => {
                "a change with `counterpart = false` translates nothing: no `transform` or `ops`"
                    .to_owned()
            }
            (Some(name), None, None) => match name.as_str().and_then(|n| self.names.get(n)) {
                Some(&(index, _, _)) => return Some(index),
                None => {
                    let mut known: Vec<&str> = self.names.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    format!("unknown transform (known: {})", known.join(", "))
                }
            },
            (None, Some(ops), None) => {
                let index = new_body("inline");
                let compiled = self.directed_ops(
                    file,
                    errs,
                    &format!("{key}.ops"),
                    ops,
                    index,
                    direction,
                    parts.one_way,
                );
                transforms[index].set_directed_ops(compiled);
                return Some(index);
            }
            _ => "needs exactly one of `transform` (a transform name) or `ops` (a list of ops)"
                .to_owned(),
        };
        if parts.report {
            errs.push(line, key, message);
        }
        None
    }
}

/// `counterpart = false` with its `reason`: only a one-way change may say it.
fn no_counterpart(parts: &Parts) -> Result<Option<String>, String> {
    match parts.side("counterpart") {
        None => Ok(None),
        Some(c) if c.as_bool() == Some(false) && parts.one_way => {
            match parts.side("reason").and_then(Item::as_str) {
                Some(reason) if !reason.trim().is_empty() => Ok(Some(reason.to_owned())),
                _ => Err("`counterpart = false` needs a `reason` (why these events have no counterpart)".into()),
            }
        }
        Some(_) => Err("can only be `false`, in a change that runs one way (`direction = \"up\"` or `\"down\"`)".into()),
    }
}

/// Checks a change's keys and finds its side for `direction`; `None` when it does not run that way
/// (or is broken: the forward compile reports it).
fn parts<'t>(
    file: &SourceFile,
    errs: &mut Errors,
    i: usize,
    table: &'t Table,
    direction: Direction,
) -> Option<Parts<'t>> {
    let line_of = |k: &str| file.line(table.key(k).and_then(|k| k.span()).or(table.span()));
    let report = direction != Direction::Down;
    let written_way = match table
        .get("direction")
        .map(Item::as_str)
        .or(super::change::file_direction(file).map(Some))
    {
        None => None,
        Some(Some("up")) => Some(Direction::Up),
        Some(Some("down")) => Some(Direction::Down),
        Some(_) => {
            if report {
                errs.push(
                    line_of("direction"),
                    format!("change[{i}].direction"),
                    "is \"up\" or \"down\" (leave it out for a change that runs both ways)",
                );
            }
            return None;
        }
    };
    let description = table
        .get("description")
        .and_then(Item::as_str)
        .filter(|d| !d.trim().is_empty());
    let name = table
        .get("name")
        .and_then(Item::as_str)
        .or(description)
        .map_or_else(|| format!("change[{i}]"), str::to_owned);
    let key = format!("change {name:?}");
    if report {
        if description.is_none() {
            errs.push(
                file.line(table.span()),
                format!("change[{i}].description"),
                "every change needs a `description` (what changed between the versions, and why)",
            );
        }
        check_keys(file, errs, table, &key, written_way.is_some());
    }
    description?;
    if written_way.is_some_and(|w| w != direction) {
        return None;
    }
    let side = match written_way {
        Some(_) => Some(table),
        None => side_table(file, errs, table, &key, direction, report)?,
    };
    Some(Parts {
        name,
        key,
        side,
        one_way: written_way.is_some(),
        report: report || written_way.is_some(),
    })
}

/// Reports the unknown keys of a change.
fn check_keys(file: &SourceFile, errs: &mut Errors, table: &Table, key: &str, one_way: bool) {
    for (k, _) in table.iter() {
        let common = matches!(
            k,
            "name" | "description" | "direction" | "events" | "transform" | "ops"
        );
        let known = common
            || (!one_way && matches!(k, "up" | "down"))
            || (one_way && ONE_WAY_KEYS.contains(&k));
        if known {
            continue;
        }
        let message = if !one_way && ONE_WAY_KEYS.contains(&k) {
            format!("a change that runs both ways writes `{k}` per direction: `[change.up]` or `[change.down]`")
        } else {
            "unknown key (expected name, description, direction, events, transform, ops, and `[change.up]` / `[change.down]` or, in a one-way change, when, lossy, lossy_sets, counterpart, reason)".to_owned()
        };
        let line = file.line(table.key(k).and_then(|k| k.span()).or(table.span()));
        errs.push(line, format!("{key}.{k}"), message);
    }
}

/// The `[change.up]` / `[change.down]` table of a two-way change for `direction`, if any.
fn side_table<'t>(
    file: &SourceFile,
    errs: &mut Errors,
    table: &'t Table,
    key: &str,
    direction: Direction,
    report: bool,
) -> Option<Option<&'t Table>> {
    let side_key = if direction == Direction::Down {
        "down"
    } else {
        "up"
    };
    let Some(item) = table.get(side_key) else {
        return Some(None);
    };
    let Some(side) = item.as_table() else {
        errs.push(
            file.line(item.span().or(table.span())),
            format!("{key}.{side_key}"),
            "must be a table: `[change.up]` / `[change.down]`",
        );
        return None;
    };
    for (k, _) in side.iter() {
        if !matches!(k, "when" | "lossy" | "lossy_sets") && (report || direction == Direction::Down)
        {
            errs.push(
                file.line(side.key(k).and_then(|k| k.span())),
                format!("{key}.{side_key}.{k}"),
                "unknown key (expected when, lossy, lossy_sets)",
            );
        }
    }
    Some(Some(side))
}

/// The event types a change renames, as they run in `direction`: `old = new` pairs or a list of
/// types that keep their name; going down the pairs are inverted, so no two may share a new name.
fn change_events(
    table: &Table,
    direction: Direction,
    one_way: bool,
) -> Result<HashMap<String, String>, String> {
    let mut pairs = Vec::new();
    match table.get("events") {
        Some(item) if item.as_array().is_some() => {
            for value in item.as_array().into_iter().flatten() {
                let name = value.as_str().ok_or("a list of event types (strings)")?;
                pairs.push((name.to_owned(), name.to_owned()));
            }
        }
        Some(item) => {
            let map = item
                .as_table_like()
                .ok_or("a table of old event type = new event type, or a list")?;
            for (old, new) in map.iter() {
                let new = new
                    .as_str()
                    .ok_or_else(|| format!("{old}: must be the new event type (a string)"))?;
                pairs.push((old.to_owned(), new.to_owned()));
            }
        }
        None => {}
    }
    if pairs.is_empty() {
        return Err("required: old event type = new event type, or a list of event types that keep their name".into());
    }
    let mut events = HashMap::new();
    for (old, new) in pairs {
        let (from, to) = if direction == Direction::Down && !one_way {
            (new, old)
        } else {
            (old, new)
        };
        if let Some(first) = events.insert(from.clone(), to.clone()) {
            return Err(format!(
                "{from:?} would become both {first:?} and {to:?}: a change that runs both ways renames one to one (split it by condition in one-way changes)"
            ));
        }
    }
    Ok(events)
}

/// A `when` table: payload field = value (or list of accepted values).
fn condition(item: &Item) -> Result<Condition, String> {
    let map = item
        .as_table_like()
        .ok_or("must be a table of payload field = value")?;
    let mut when = Condition::default();
    for (field, value) in map.iter() {
        let path = Field::parse(field)?;
        let accepted = match value.as_value().map(toml_to_json) {
            Some(Value::Array(any)) => any,
            Some(one) => vec![one],
            None => return Err(format!("{field}: must be a value or a list of values")),
        };
        when.0.push((path, accepted));
    }
    Ok(when)
}

/// A `lossy` table: event-root path pattern = reason.
fn lossy_table(item: &Item) -> Result<Vec<(String, String)>, String> {
    let map = item
        .as_table_like()
        .ok_or("must be a table of path = reason")?;
    let mut lossy = Vec::new();
    for (path, reason) in map.iter() {
        match reason.as_str() {
            Some(r) if !r.trim().is_empty() => lossy.push((path.to_owned(), r.to_owned())),
            _ => return Err(format!("{path}: must be the reason (a non-empty string)")),
        }
    }
    Ok(lossy)
}
