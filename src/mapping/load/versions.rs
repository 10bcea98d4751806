//! `versions.toml`: the order of the versions, oldest first.

use toml_edit::ImDocument;

use crate::mapping::LoadError;

/// Parses `versions.toml`: `order = [...]`, at least two distinct non-empty versions.
pub(crate) fn version_order(text: &str, errors: &mut Vec<LoadError>) -> Option<Vec<String>> {
    let file = crate::mapping::VERSION_ORDER_FILE;
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
        .find(|(k, _)| !matches!(*k, "order" | "description" | "payload" | "event_type"))
    {
        let line = line_at(root.key(key).and_then(|k| k.span()));
        return fail(
            line,
            key,
            "unknown key (expected `order`, `payload`, `event_type` or `description`)".into(),
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
