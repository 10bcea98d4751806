//! Two-way files: `[[change]]` units written once and compiled both ways.
//!
//! A two-way file of the folder `A_to_B` is compiled forward ("up") into the step A → B and inverted
//! ("down") into the step B → A. Ops that can be inverted invert themselves ([`invert`]); an op that
//! cannot names the one direction it runs in with `only = "up"` / `only = "down"`. Going down a list
//! of ops runs backwards, each op inverted, so every two-way op undoes its forward self. A one-way
//! `drop` is a loss of that direction (its rule's lossy entries derive from it) unless the other
//! direction writes the same path back in the same list, or the drop says `lossy = false`
//! (`lossy = true`: a loss even though the other direction writes the path, from another value).

use toml_edit::{InlineTable, Item};

use super::invert::{invert, text};

use super::{Compiler, Direction, Errors, SourceFile};
use crate::mapping::ops::{Op, Step};
use crate::mapping::reference;

/// Whether a parsed file is two-way: it holds `[[change]]` units or says `two_way = true` (a file of
/// shared transforms only).
pub(super) fn is_two_way(doc: &toml_edit::ImDocument<String>) -> bool {
    let root = doc.as_table();
    root.contains_key("change")
        || root.contains_key("direction")
        || root.get("two_way").and_then(Item::as_bool) == Some(true)
}

/// The `direction` a file gives every change and transform of it that names none.
pub(super) fn file_direction(file: &SourceFile) -> Option<&str> {
    file.doc.as_table().get("direction").and_then(Item::as_str)
}

/// The direction an item names, else its file's.
fn direction_of<'a>(item: &'a Item, file: &'a SourceFile) -> Option<&'a Item> {
    item.get("direction")
        .or_else(|| file.doc.as_table().get("direction"))
}

/// Reports the unknown top-level keys of a file (once, from its own folder's step).
pub(super) fn check_root_keys(file: &SourceFile, errs: &mut Errors) {
    let root = file.doc.as_table();
    for (key, _) in root.iter() {
        let known = if file.two_way {
            matches!(
                key,
                "change" | "transforms" | "lossy" | "description" | "two_way" | "direction"
            )
        } else {
            matches!(key, "rule" | "transforms" | "lossy" | "description")
        };
        if known {
            continue;
        }
        let line = file.line(root.key(key).and_then(|k| k.span()));
        let message = match (file.two_way, key) {
            (true, "rule") => {
                "a two-way file holds `[[change]]` units, not `[[rule]]` tables (keep one-way rules in a file of their own)"
            }
            (true, _) => {
                "unknown key (expected `change`, `transforms`, `lossy`, `description`, `direction` or `two_way`)"
            }
            (false, _) => "unknown key (expected `rule`, `transforms`, `lossy` or `description`)",
        };
        errs.push(line, key, message);
    }
    if let Some(item) = root.get("direction") {
        if !matches!(item.as_str(), Some("up" | "down")) {
            let line = file.line(root.key("direction").and_then(|k| k.span()));
            errs.push(
                line,
                "direction",
                "is \"up\" or \"down\": the direction of every change and transform of the file",
            );
        }
    }
}

/// Whether a transform of a two-way file exists in `direction`: a transform with `direction = "up"`
/// or `"down"` is one-way (its ops run as written, in that direction only).
pub(super) fn transform_runs(item: &Item, file: &SourceFile, direction: Direction) -> bool {
    match direction_of(item, file).and_then(|d| d.as_str()) {
        Some("up") => direction != Direction::Down,
        Some("down") => direction == Direction::Down,
        _ => true,
    }
}

/// Where an op of a two-way list runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Only {
    Both,
    Up,
    Down,
}

impl Only {
    fn runs(self, direction: Direction) -> bool {
        match self {
            Only::Both => true,
            Only::Up => direction != Direction::Down,
            Only::Down => direction == Direction::Down,
        }
    }
}

/// One op table of a two-way list, as written.
struct Written<'t> {
    index: usize,
    table: &'t InlineTable,
    line: usize,
    only: Only,
}

/// The op as it runs in `direction`: a two-way op inverted going down; `None` when it does not run.
fn as_run(op: &Written, direction: Direction) -> Option<Result<InlineTable, String>> {
    if !op.only.runs(direction) {
        return None;
    }
    let mut table = op.table.clone();
    for key in ["only", "lossy"] {
        table.remove(key);
    }
    if op.only == Only::Both && direction == Direction::Down {
        return Some(invert(&table));
    }
    table.remove("was");
    Some(Ok(table))
}

/// The paths an op writes (its target, or `to`), to tell whether a drop is written back. A fact of
/// the delivery is a new value, not the one dropped: it restores nothing.
fn writes(table: &InlineTable) -> Vec<String> {
    let mut out = Vec::new();
    if table.contains_key("delivery") {
        return out;
    }
    for key in ["set", "default", "to"] {
        if let Some(path) = table.get(key).and_then(|v| v.as_str()) {
            out.push(path.to_owned());
        }
    }
    out
}

/// Whether writing `written` restores what a drop of `dropped` removed (the same path or an ancestor).
fn restores(written: &str, dropped: &str) -> bool {
    written == dropped
        || written == "."
        || dropped
            .strip_prefix(written)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

impl Compiler<'_> {
    /// Compiles the ops of a two-way transform table for `direction`.
    pub(super) fn directed_body(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        key: &str,
        item: &Item,
        index: usize,
        direction: Direction,
    ) -> Vec<(Op, Option<String>, bool)> {
        let Some(table) = item.as_table_like() else {
            errs.push(
                file.line(item.span()),
                key,
                "a transform is a table with `ops = [...]`",
            );
            return Vec::new();
        };
        for (k, _) in table.iter() {
            if !matches!(k, "ops" | "description" | "direction") && direction != Direction::Down {
                let line = file.line(table.key(k).and_then(|k| k.span()).or(item.span()));
                errs.push(
                    line,
                    format!("{key}.{k}"),
                    "unknown key (expected `ops`, `description` or `direction`)",
                );
            }
        }
        let one_way = match direction_of(item, file).map(|d| d.as_str()) {
            None => false,
            Some(Some("up" | "down")) => true,
            Some(_) => {
                let line = file.line(table.key("direction").and_then(|k| k.span()));
                errs.push(
                    line,
                    format!("{key}.direction"),
                    "is \"up\" or \"down\" (leave it out for a transform that runs both ways)",
                );
                false
            }
        };
        match table.get("ops") {
            Some(ops) => self.directed_ops(
                file,
                errs,
                &format!("{key}.ops"),
                ops,
                index,
                direction,
                one_way,
            ),
            None => {
                if direction != Direction::Down {
                    errs.push(file.line(item.span()), key, "missing `ops`");
                }
                Vec::new()
            }
        }
    }

    /// Compiles a two-way list of ops for `direction`: forward in order, or backwards with every
    /// two-way op inverted. `one_way`: the list of a one-way change (no `only`, nothing inverted).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn directed_ops(
        &mut self,
        file: &SourceFile,
        errs: &mut Errors,
        key: &str,
        item: &Item,
        owner: usize,
        direction: Direction,
        one_way: bool,
    ) -> Vec<(Op, Option<String>, bool)> {
        let Some(written) = written_ops(file, errs, key, item, direction, one_way) else {
            return Vec::new();
        };
        let other = match direction {
            Direction::Down => Direction::Up,
            _ => Direction::Down,
        };
        let written_back: Vec<String> = if one_way {
            Vec::new()
        } else {
            written
                .iter()
                .filter_map(|op| as_run(op, other).and_then(Result::ok))
                .flat_map(|t| writes(&t))
                .collect()
        };
        let mut order: Vec<&Written> = written.iter().collect();
        if direction == Direction::Down && !one_way {
            order.reverse();
        }
        let mut out = Vec::new();
        for op in order {
            let table = match as_run(op, direction) {
                None => continue,
                Some(Ok(table)) => table,
                Some(Err(message)) => {
                    errs.push(op.line, format!("{key}[{}]", op.index), message);
                    continue;
                }
            };
            // A one-way list has no other direction to look at: its drops are losses when they
            // say so (`lossy = true`). In a two-way list a one-way drop is a loss unless the other
            // direction writes the path back, or it says `lossy = false`; `lossy = true`: the other
            // direction writes the path, but not the value dropped (e.g. from another field).
            let said = op.table.get("lossy").and_then(|v| v.as_bool());
            let loss = table.contains_key("drop")
                && if one_way {
                    said == Some(true)
                } else {
                    op.only != Only::Both
                        && said != Some(false)
                        && (said == Some(true)
                            || !text(&table, "drop")
                                .is_some_and(|p| written_back.iter().any(|w| restores(w, &p))))
                };
            let op_key = format!("{key}[{}]", op.index);
            if let Some(compiled) = self.op(file, errs, &op_key, &table, owner, op.line) {
                let why = ["reason", "note"]
                    .iter()
                    .find_map(|k| table.get(k).and_then(|v| v.as_str()))
                    .map(str::to_owned);
                out.push((compiled, why, loss));
            }
        }
        out
    }
}

/// The op tables of a two-way list with their `only`; errors (reported from the forward compile
/// only, so each is reported once) for a list that is not one.
fn written_ops<'i>(
    file: &SourceFile,
    errs: &mut Errors,
    key: &str,
    item: &'i Item,
    direction: Direction,
    one_way: bool,
) -> Option<Vec<Written<'i>>> {
    let report = direction != Direction::Down || one_way;
    let Some(array) = item.as_array() else {
        if report {
            errs.push(
                file.line(item.span()),
                key,
                "`ops` must be an array of one-line tables",
            );
        }
        return None;
    };
    let mut written = Vec::new();
    for (index, value) in array.iter().enumerate() {
        let line = file.line(value.span());
        let Some(table) = value.as_inline_table() else {
            if report {
                errs.push(
                    line,
                    format!("{key}[{index}]"),
                    "an op is a table like `{ rename = \"a\", to = \"b\" }`",
                );
            }
            continue;
        };
        let only = match table.get("only").map(|v| v.as_str()) {
            // Every op of a one-way change runs in the change's direction, never inverted.
            None if one_way && direction == Direction::Down => Only::Down,
            None if one_way => Only::Up,
            None => Only::Both,
            Some(Some("up")) if !one_way => Only::Up,
            Some(Some("down")) if !one_way => Only::Down,
            Some(_) => {
                if report {
                    let message = if one_way {
                        "a one-way change runs every op one way: leave `only` out"
                    } else {
                        "`only` is \"up\" or \"down\""
                    };
                    errs.push(line, format!("{key}[{index}].only"), message);
                }
                continue;
            }
        };
        if table.contains_key("lossy")
            && (only == Only::Both || !table.contains_key("drop"))
            && report
        {
            errs.push(
                line,
                format!("{key}[{index}].lossy"),
                if one_way {
                    "`lossy = true` marks a `drop` the other direction cannot restore"
                } else {
                    "`lossy` belongs to a one-way `drop`: `false` when the other direction restores it, `true` when it writes another value there"
                },
            );
        }
        written.push(Written {
            index,
            table,
            line,
            only,
        });
    }
    Some(written)
}

/// Adds to every change unit's rule the losses of its transforms, after the lossy entries written
/// for it (a path written there keeps its written reason).
pub(super) fn derive_lossy(step: &mut Step, payload_key: &str) {
    let derived: Vec<Vec<(String, String)>> = step
        .rules
        .iter()
        .map(|rule| {
            if rule.derives_lossy && rule.no_counterpart.is_none() {
                reference::losses(step, rule, payload_key)
            } else {
                Vec::new()
            }
        })
        .collect();
    for (rule, derived) in step.rules.iter_mut().zip(derived) {
        for (path, why) in derived {
            if !rule.lossy.iter().any(|(p, _)| *p == path) {
                rule.lossy.push((path, why));
            }
        }
    }
}
