//! `versions.toml`: the order of the versions, oldest first, and the envelope members the set's
//! rules read. The file is read and parsed once: the envelope members are needed before the steps
//! compile (inverting a change writes paths under the payload member), the order after (every step
//! folder must join two adjacent versions of it).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use toml_edit::{ImDocument, TomlError};

use crate::mapping::ops::Step;
use crate::mapping::{LoadError, DEFAULT_EVENT_TYPE_KEY, DEFAULT_PAYLOAD_KEY};

/// The file at the top of the mappings folder that lists the versions in order.
pub const VERSION_ORDER_FILE: &str = "versions.toml";

/// `versions.toml` as found in the mappings folder.
pub(super) enum VersionsFile {
    /// No such file: no order (each step folder translates its own pair), default envelope members.
    Absent,
    /// The file is there but cannot be read: reported with the order.
    Unreadable(std::io::Error),
    /// The file's text and its parse (a parse error is reported with the order), boxed: a parsed
    /// document is large.
    Read {
        text: String,
        doc: Box<Result<ImDocument<String>, TomlError>>,
    },
}

impl VersionsFile {
    /// Reads and parses `versions.toml` of the mappings folder `dir`.
    pub(super) fn read(dir: &Path) -> VersionsFile {
        match std::fs::read_to_string(dir.join(VERSION_ORDER_FILE)) {
            Ok(text) => {
                let doc = Box::new(ImDocument::parse(text.clone()));
                VersionsFile::Read { text, doc }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => VersionsFile::Absent,
            Err(e) => VersionsFile::Unreadable(e),
        }
    }

    /// The envelope members the rules read, `(payload, event type)`: the file's `payload` and
    /// `event_type`, else the defaults. A bad value is an error (and the default stands in).
    pub(super) fn envelope_keys(&self, errors: &mut Vec<LoadError>) -> (Arc<str>, Arc<str>) {
        let parsed = match self {
            VersionsFile::Read { text, doc } => doc.as_ref().as_ref().ok().map(|doc| (text, doc)),
            VersionsFile::Absent | VersionsFile::Unreadable(_) => None,
        };
        match parsed {
            Some((text, doc)) => (
                envelope_member_of(text, doc, PAYLOAD_MEMBER, errors),
                envelope_member_of(text, doc, EVENT_TYPE_MEMBER, errors),
            ),
            None => (
                Arc::from(DEFAULT_PAYLOAD_KEY),
                Arc::from(DEFAULT_EVENT_TYPE_KEY),
            ),
        }
    }

    /// The order of the versions (`order = ["2025-04-21", "2026-02-09"]`) when the file is there,
    /// checking every step joins two adjacent versions of it. Without the file there is no order:
    /// each step folder translates its own pair and nothing is chained.
    pub(super) fn order(
        &self,
        steps: &[Arc<Step>],
        errors: &mut Vec<LoadError>,
    ) -> Option<Vec<String>> {
        let order = match self {
            VersionsFile::Absent => return None,
            VersionsFile::Unreadable(e) => {
                errors.push(LoadError {
                    file: VERSION_ORDER_FILE.into(),
                    line: 0,
                    key: "-".into(),
                    message: format!("cannot read: {e}"),
                });
                return None;
            }
            VersionsFile::Read { text, doc } => version_order(text, doc, errors)?,
        };
        check_adjacent(&order, steps, errors);
        Some(order)
    }
}

/// Reports every step folder that does not join two adjacent versions of `order`.
fn check_adjacent(order: &[String], steps: &[Arc<Step>], errors: &mut Vec<LoadError>) {
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i))
        .collect();
    for step in steps {
        let folder = format!("{}_to_{}", step.from, step.to);
        let adjacent = match (
            position.get(step.from.as_str()),
            position.get(step.to.as_str()),
        ) {
            (Some(&a), Some(&b)) => a.abs_diff(b) == 1,
            _ => false,
        };
        if !adjacent {
            errors.push(LoadError {
                file: folder,
                line: 0,
                key: "folder name".into(),
                message: format!(
                    "a step folder joins two adjacent versions of {VERSION_ORDER_FILE} (order = [{}]); \
                     chains of steps run along that order, so a step that skips versions or names an \
                     unlisted one would never run",
                    order.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
}

/// A key of `versions.toml` naming an envelope member, its default and an example for errors.
struct EnvelopeMember {
    key: &'static str,
    default: &'static str,
    message: &'static str,
}

const PAYLOAD_MEMBER: EnvelopeMember = EnvelopeMember {
    key: "payload",
    default: DEFAULT_PAYLOAD_KEY,
    message: "must name the envelope member the rules rewrite, e.g. payload = \"data\"",
};

const EVENT_TYPE_MEMBER: EnvelopeMember = EnvelopeMember {
    key: "event_type",
    default: DEFAULT_EVENT_TYPE_KEY,
    message: "must name the envelope member holding the event type, e.g. event_type = \"type\"",
};

/// A key of `versions.toml` naming an envelope member: `payload`, the member the set's rules
/// rewrite, or `event_type`, the one naming the event type.
fn envelope_member_of(
    text: &str,
    doc: &ImDocument<String>,
    member: EnvelopeMember,
    errors: &mut Vec<LoadError>,
) -> Arc<str> {
    let default = || Arc::from(member.default);
    match doc.get(member.key) {
        None => default(),
        Some(item) => match item.as_str() {
            Some(key) if !key.is_empty() && !key.contains('.') => Arc::from(key),
            _ => {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with(member.key))
                    .map_or(1, |i| i + 1);
                errors.push(LoadError {
                    file: VERSION_ORDER_FILE.into(),
                    line,
                    key: member.key.into(),
                    message: member.message.into(),
                });
                default()
            }
        },
    }
}

/// Parses `versions.toml`: `order = [...]`, at least two distinct non-empty versions.
fn version_order(
    text: &str,
    doc: &Result<ImDocument<String>, TomlError>,
    errors: &mut Vec<LoadError>,
) -> Option<Vec<String>> {
    let file = VERSION_ORDER_FILE;
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
    let doc = match doc {
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
