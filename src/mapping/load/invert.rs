//! The inverse of an op of a two-way change, as the op table that undoes it.
//!
//! Inverting works on the op's TOML table, so the inverse is compiled (and checked) by the verb's
//! own `parse`, and its errors name the line of the op as written.

use toml_edit::InlineTable;

use crate::mapping::ops::VERBS;

/// The verb of an op table (the first verb key it holds).
fn verb_of(table: &InlineTable) -> Option<&'static str> {
    VERBS.iter().copied().find(|v| table.contains_key(v))
}

/// The string at `key` of an op table.
pub(super) fn text(table: &InlineTable, key: &str) -> Option<String> {
    table.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

type Inverse = Result<InlineTable, String>;

/// The inverse of a two-way op: the op that, run after it, gives back what it was given. Ops that
/// synthesise, drop (but a drop of a constant the other version holds, `was`) or move many values
/// into one cannot be inverted: the error says to name the
/// direction the op runs in.
pub(super) fn invert(table: &InlineTable) -> Inverse {
    let verb = verb_of(table).unwrap_or("?");
    let cannot = |why: &str| -> Inverse {
        Err(format!(
            "`{verb}` cannot be inverted ({why}): say which way it runs with `only = \"up\"` or `only = \"down\"`"
        ))
    };
    let inverse = match verb {
        "rename" | "copy" | "wrap" | "nest" | "unnest" | "unwrap" => {
            invert_move(verb, table, &cannot)?
        }
        "set" => invert_set(table, &cannot)?,
        "drop" if table.contains_key("was") => invert_drop(table),
        "map" => invert_map(table, &cannot)?,
        // Transforms are compiled in each direction: the same call runs their inverse.
        "each" | "apply" | "switch" => return Ok(table.clone()),
        _ => return cannot("it writes what the other version does not hold"),
    };
    Ok(with_note(inverse, table))
}

/// The inverse of an op that moves a value: the move back.
fn invert_move(verb: &str, table: &InlineTable, cannot: &dyn Fn(&str) -> Inverse) -> Inverse {
    let mut out = InlineTable::new();
    let path = |k: &str| table.get(k).cloned().unwrap_or_else(|| "".into());
    match verb {
        "nest" => {
            out.insert("unnest", path("nest"));
            return Ok(out);
        }
        "unnest" => {
            out.insert("nest", path("unnest"));
            return Ok(out);
        }
        "unwrap" if table.contains_key("rest") || table.contains_key("rest_to") => {
            return cannot("the elements after the first are dropped or moved")
        }
        _ => {}
    }
    let (Some(from), Some(to)) = (text(table, verb), text(table, "to")) else {
        // Malformed: compiled as written, its error is the forward compile's.
        return Ok(table.clone());
    };
    match verb {
        "rename" => {
            out.insert("rename", to.into());
            out.insert("to", from.into());
        }
        "copy" if from.starts_with("$.") => return cannot("it copies from the input event"),
        "copy" => {
            out.insert("drop", to.into());
            out.insert(
                "reason",
                format!("a copy of `{from}`, which the way back copies again").into(),
            );
        }
        "wrap" => {
            out.insert("unwrap", to.into());
            out.insert("to", from.into());
        }
        _ => {
            out.insert("wrap", to.into());
            out.insert("to", from.into());
        }
    }
    Ok(out)
}

/// The inverse of setting a constant: the constant the other version holds there (`was`), else
/// nothing there (a field the other version does not have).
fn invert_set(table: &InlineTable, cannot: &dyn Fn(&str) -> Inverse) -> Inverse {
    if !table.contains_key("value") {
        return cannot("only a constant `value` is known on the way back");
    }
    let mut out = InlineTable::new();
    let path = text(table, "set").unwrap_or_default();
    match table.get("was") {
        Some(was) => {
            out.insert("set", path.into());
            out.insert("value", was.clone());
        }
        None => {
            let reason = text(table, "note")
                .unwrap_or_else(|| "a constant the way back writes again".to_owned());
            out.insert("drop", path.into());
            out.insert("reason", reason.into());
        }
    }
    Ok(out)
}

/// The inverse of dropping a field that holds a constant in the other version (`was`, e.g. a type
/// the event type encodes): setting that constant.
fn invert_drop(table: &InlineTable) -> InlineTable {
    let mut out = InlineTable::new();
    out.insert("set", text(table, "drop").unwrap_or_default().into());
    out.insert(
        "value",
        table.get("was").cloned().unwrap_or_else(|| "".into()),
    );
    if let Some(reason) = table.get("reason") {
        out.insert("note", reason.clone());
    }
    out
}

/// The inverse of a bijective enum map: every pair swapped.
fn invert_map(table: &InlineTable, cannot: &dyn Fn(&str) -> Inverse) -> Inverse {
    if table.contains_key("fallback") {
        return cannot("a `fallback` maps many values to one");
    }
    let Some(values) = table.get("values").and_then(|v| v.as_inline_table()) else {
        return cannot("it needs `values`");
    };
    let mut swapped = InlineTable::new();
    for (old, new) in values.iter() {
        let Some(new) = new.as_str() else {
            return cannot("every new value must be a string");
        };
        if swapped.contains_key(new) {
            return cannot(&format!("two values map to {new:?}"));
        }
        swapped.insert(new, old.into());
    }
    let mut out = InlineTable::new();
    out.insert(
        "map",
        table.get("map").cloned().unwrap_or_else(|| "".into()),
    );
    out.insert("values", swapped.into());
    if let Some(keep) = table.get("keep_unknown") {
        out.insert("keep_unknown", keep.clone());
    }
    Ok(out)
}

/// The inverse keeps the op's `note` (unless it became a drop's `reason`).
fn with_note(mut out: InlineTable, table: &InlineTable) -> InlineTable {
    if let Some(note) = table.get("note") {
        if !out.contains_key("reason") {
            out.insert("note", note.clone());
        }
    }
    out
}
