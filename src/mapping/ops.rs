//! The compiled form of a mapping step (rules, transforms, ops) and the pure execution of ops on JSON.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::json::{Map, Value};

use super::path::{kind_of, Anchor, FieldPath};

/// A fact of the delivery that an op may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryFact {
    /// The signature timestamp as RFC 3339 UTC.
    Timestamp,
    /// The signature timestamp as unix seconds.
    TimestampUnix,
}

/// Where a written value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Const(Value),
    Read(Anchor),
    Delivery(DeliveryFact),
}

/// What `map` does with a value it has no entry for.
#[derive(Debug, Clone)]
pub(crate) enum Fallback {
    Error,
    Keep,
    Value(Value),
}

/// What `unwrap` does with the elements after the first.
#[derive(Debug, Clone)]
pub(crate) enum Rest {
    Error,
    Drop,
    MoveTo(FieldPath),
}

/// JSON kinds `expect` can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Number,
    Bool,
    Object,
    Array,
    Null,
}

impl Kind {
    pub(crate) fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "string" => Kind::String,
            "number" => Kind::Number,
            "bool" => Kind::Bool,
            "object" => Kind::Object,
            "array" => Kind::Array,
            "null" => Kind::Null,
            _ => return None,
        })
    }

    fn matches(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (Kind::String, Value::String(_))
                | (Kind::Number, Value::Number(_))
                | (Kind::Bool, Value::Bool(_))
                | (Kind::Object, Value::Object(_))
                | (Kind::Array, Value::Array(_))
                | (Kind::Null, Value::Null)
        )
    }
}

/// One compiled operation. Transform references are indexes into [`Step::transforms`].
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Rename {
        from: FieldPath,
        to: FieldPath,
    },
    Copy {
        from: Anchor,
        to: FieldPath,
    },
    Drop {
        path: FieldPath,
    },
    Set {
        path: FieldPath,
        value: Source,
    },
    Default {
        path: FieldPath,
        value: Source,
        /// Also replace a `null` (not only an absent value).
        or_null: bool,
    },
    Map {
        path: FieldPath,
        values: HashMap<Box<str>, Value>,
        fallback: Fallback,
    },
    Unwrap {
        from: FieldPath,
        to: FieldPath,
        rest: Rest,
    },
    Wrap {
        from: FieldPath,
        to: FieldPath,
    },
    Each {
        path: FieldPath,
        transform: usize,
    },
    Apply {
        path: FieldPath,
        transform: usize,
    },
    Switch {
        path: FieldPath,
        cases: HashMap<Box<str>, usize>,
        default: Option<usize>,
    },
    Nest {
        path: FieldPath,
    },
    Unnest {
        path: FieldPath,
    },
    Append {
        from: FieldPath,
        to: FieldPath,
    },
    Partition {
        from: FieldPath,
        to: FieldPath,
        filter: Condition,
    },
    All {
        path: FieldPath,
        field: FieldPath,
        to: FieldPath,
    },
    KeepOnly {
        fields: Vec<Box<str>>,
    },
    Expect {
        path: FieldPath,
        kind: Option<Kind>,
        one_of: Vec<Value>,
        optional: bool,
    },
}

/// Field equalities that must all hold; each field may accept several values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition(pub(crate) Vec<(FieldPath, Vec<Value>)>);

impl Condition {
    pub(crate) fn holds(&self, value: &Value) -> bool {
        self.0
            .iter()
            .all(|(path, accepted)| path.get(value).is_some_and(|v| accepted.contains(v)))
    }
}

/// A named (or rule-inline) list of ops.
#[derive(Debug)]
pub(crate) struct Transform {
    pub(crate) name: String,
    pub(crate) ops: Vec<Op>,
    /// Each op's `reason` or `note`, for the mapping reference.
    pub(crate) notes: Vec<Option<String>>,
}

/// A rule: which events it takes and the transform that rewrites their payload.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: String,
    pub(crate) file: Arc<str>,
    pub(crate) line: usize,
    /// Old event type to new event type.
    pub(crate) events: HashMap<String, String>,
    pub(crate) when: Condition,
    pub(crate) body: usize,
    /// Slots of the step's capture table this rule's transforms read (`$.` paths).
    pub(crate) captures: Vec<usize>,
    /// Event-root path patterns a round trip cannot restore, with the reason.
    pub(crate) lossy: Vec<(String, String)>,
}

/// One compiled version step (`FROM_to_TO`).
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) transforms: Vec<Transform>,
    pub(crate) rules: Vec<Rule>,
    /// Rules taking each old event type.
    pub(crate) by_event: HashMap<String, Vec<usize>>,
    /// The `$.` paths of the step, read from the input event before a rule runs.
    pub(crate) inputs: Vec<FieldPath>,
}

/// Why an op failed; `path` is relative to the payload, filled in while unwinding.
#[derive(Debug)]
pub(crate) struct ExecError {
    pub(crate) path: String,
    pub(crate) message: String,
}

impl ExecError {
    fn at(path: &FieldPath, message: impl Into<String>) -> ExecError {
        ExecError {
            path: path.as_str().to_owned(),
            message: message.into(),
        }
    }

    /// Prefixes the location where a nested transform ran.
    fn within(mut self, prefix: &str) -> ExecError {
        self.path = match (prefix, self.path.as_str()) {
            (".", _) => self.path,
            (p, ".") => p.to_owned(),
            (p, rest) if rest.starts_with('[') => format!("{p}{rest}"),
            (p, rest) => format!("{p}.{rest}"),
        };
        self
    }
}

/// What ops can read besides the object they run on.
pub(crate) struct Context<'a> {
    pub(crate) step: &'a Step,
    pub(crate) captures: &'a [Option<Value>],
    pub(crate) timestamp: i64,
    pub(crate) timestamp_text: OnceCell<String>,
}

impl Context<'_> {
    fn delivery(&self, fact: DeliveryFact) -> Value {
        match fact {
            DeliveryFact::TimestampUnix => Value::from(self.timestamp),
            DeliveryFact::Timestamp => Value::from(
                self.timestamp_text
                    .get_or_init(|| rfc3339(self.timestamp))
                    .as_str(),
            ),
        }
    }

    fn read(&self, anchor: &Anchor, current: &Value) -> Option<Value> {
        match anchor {
            Anchor::Current(path) => path.get(current).cloned(),
            Anchor::Input(slot) => self.captures.get(*slot).cloned().flatten(),
        }
    }

    fn source(&self, source: &Source, current: &Value) -> Option<Value> {
        match source {
            Source::Const(value) => Some(value.clone()),
            Source::Read(anchor) => self.read(anchor, current),
            Source::Delivery(fact) => Some(self.delivery(*fact)),
        }
    }

    /// Runs a transform's ops, in order, on `value`.
    pub(crate) fn run(&self, transform: usize, value: &mut Value) -> Result<(), ExecError> {
        for op in &self.step.transforms[transform].ops {
            self.op(op, value)?;
        }
        Ok(())
    }

    fn op(&self, op: &Op, value: &mut Value) -> Result<(), ExecError> {
        match op {
            Op::Rename { from, to } => {
                if let Some(moved) = from.take(value) {
                    write_fresh(to, value, moved)?;
                }
            }
            Op::Copy { from, to } => {
                if let Some(copied) = self.read(from, value) {
                    write_fresh(to, value, copied)?;
                }
            }
            Op::Drop { path } => {
                path.take(value);
            }
            Op::Set {
                path,
                value: source,
            } => {
                if let Some(new) = self.source(source, value) {
                    path.put(value, new).map_err(|m| ExecError::at(path, m))?;
                }
            }
            Op::Default {
                path,
                value: source,
                or_null,
            } => {
                let missing = match path.get(value) {
                    None => true,
                    Some(Value::Null) => *or_null,
                    Some(_) => false,
                };
                if missing {
                    if let Some(new) = self.source(source, value) {
                        path.put(value, new).map_err(|m| ExecError::at(path, m))?;
                    }
                }
            }
            Op::Map {
                path,
                values,
                fallback,
            } => {
                if let Some(slot) = path.get_mut(value) {
                    let mapped = match slot {
                        Value::String(s) => values.get(s.as_str()),
                        _ => None,
                    };
                    match (mapped, fallback) {
                        (Some(new), _) => *slot = new.clone(),
                        (None, Fallback::Keep) => {}
                        (None, Fallback::Value(new)) => *slot = new.clone(),
                        (None, Fallback::Error) => {
                            return Err(ExecError::at(
                                path,
                                format!("value {} has no mapping", short(slot)),
                            ))
                        }
                    }
                }
            }
            Op::Unwrap { from, to, rest } => {
                if let Some(array) = from.take(value) {
                    let first = match array {
                        Value::Null => Value::Null,
                        Value::Array(mut items) => {
                            let remaining = if items.is_empty() {
                                Vec::new()
                            } else {
                                items.split_off(1)
                            };
                            if !remaining.is_empty() {
                                match rest {
                                    Rest::Error => {
                                        return Err(ExecError::at(
                                            from,
                                            format!(
                                                "expected at most one element, found {}",
                                                remaining.len() + 1
                                            ),
                                        ))
                                    }
                                    Rest::Drop => {}
                                    Rest::MoveTo(path) => {
                                        write_fresh(path, value, Value::Array(remaining))?
                                    }
                                }
                            }
                            items.pop().unwrap_or(Value::Null)
                        }
                        other => {
                            return Err(ExecError::at(
                                from,
                                format!("expected an array, found {}", kind_of(&other)),
                            ))
                        }
                    };
                    write_fresh(to, value, first)?;
                }
            }
            Op::Wrap { from, to } => {
                if let Some(single) = from.take(value) {
                    let array = match single {
                        Value::Null => Vec::new(),
                        other => vec![other],
                    };
                    write_fresh(to, value, Value::Array(array))?;
                }
            }
            Op::Each { path, transform } => match path.get_mut(value) {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.run(*transform, item)
                            .map_err(|e| e.within(&format!("{path}[{i}]")))?;
                    }
                }
                // A map keyed by names not known in advance (e.g. output metadata per field).
                Some(Value::Object(entries)) => {
                    for (key, item) in entries.iter_mut() {
                        self.run(*transform, item)
                            .map_err(|e| e.within(&format!("{path}.{key}")))?;
                    }
                }
                Some(other) => {
                    return Err(ExecError::at(
                        path,
                        format!("expected an array or an object, found {}", kind_of(other)),
                    ))
                }
            },
            Op::Apply { path, transform } => match path.get_mut(value) {
                None | Some(Value::Null) => {}
                Some(target) => self
                    .run(*transform, target)
                    .map_err(|e| e.within(path.as_str()))?,
            },
            Op::Switch {
                path,
                cases,
                default,
            } => {
                // Strings select by their text; `null`, booleans and numbers by their JSON spelling.
                let chosen = match path.get(value) {
                    Some(Value::String(s)) => cases.get(s.as_str()).copied(),
                    Some(other @ (Value::Null | Value::Bool(_) | Value::Number(_))) => {
                        cases.get(other.to_string().as_str()).copied()
                    }
                    _ => None,
                };
                match chosen.or(*default) {
                    Some(transform) => self.run(transform, value)?,
                    None => {
                        let found = path.get(value).map_or("nothing".to_owned(), short);
                        return Err(ExecError::at(path, format!("no case for {found}")));
                    }
                }
            }
            Op::Nest { path } => {
                let inner = std::mem::replace(value, Value::Object(Map::new()));
                path.put(value, inner).map_err(|m| ExecError::at(path, m))?;
            }
            Op::Unnest { path } => {
                let Some(inner) = path.take(value) else {
                    return Err(ExecError::at(
                        path,
                        "expected a value to unnest, found nothing",
                    ));
                };
                path.prune_empty_parents(value);
                if let Value::Object(left) = value {
                    if !left.is_empty() {
                        let keys: Vec<&str> = left.keys().map(|k| k.as_str()).collect();
                        return Err(ExecError::at(
                            path,
                            format!("unnest would lose fields {keys:?}: drop them first"),
                        ));
                    }
                }
                *value = inner;
            }
            Op::Append { from, to } => {
                if let Some(moved) = from.take(value) {
                    let items = match moved {
                        Value::Null => Vec::new(),
                        Value::Array(items) => items,
                        other => {
                            return Err(ExecError::at(
                                from,
                                format!("expected an array, found {}", kind_of(&other)),
                            ))
                        }
                    };
                    extend_array(to, value, items)?;
                }
            }
            Op::Partition { from, to, filter } => {
                let moved = match from.get_mut(value) {
                    None | Some(Value::Null) => return Ok(()),
                    Some(Value::Array(items)) => {
                        let (matching, kept): (Vec<Value>, Vec<Value>) = std::mem::take(items)
                            .into_iter()
                            .partition(|item| filter.holds(item));
                        *items = kept;
                        matching
                    }
                    Some(other) => {
                        return Err(ExecError::at(
                            from,
                            format!("expected an array, found {}", kind_of(other)),
                        ))
                    }
                };
                extend_array(to, value, moved)?;
            }
            Op::All { path, field, to } => {
                let all = match path.get(value) {
                    Some(Value::Array(items)) => items
                        .iter()
                        .all(|item| field.get(item) == Some(&Value::Bool(true))),
                    None | Some(Value::Null) => return Ok(()),
                    Some(other) => {
                        return Err(ExecError::at(
                            path,
                            format!("expected an array, found {}", kind_of(other)),
                        ))
                    }
                };
                to.put(value, Value::Bool(all))
                    .map_err(|m| ExecError::at(to, m))?;
            }
            Op::KeepOnly { fields } => match value {
                Value::Object(map) => map.retain(|k, _| fields.iter().any(|f| **f == *k)),
                other => {
                    return Err(ExecError {
                        path: ".".into(),
                        message: format!("keep_only expects an object, found {}", kind_of(other)),
                    })
                }
            },
            Op::Expect {
                path,
                kind,
                one_of,
                optional,
            } => match path.get(value) {
                None if *optional => {}
                None => return Err(ExecError::at(path, "required field is missing")),
                Some(found) => {
                    if let Some(kind) = kind {
                        if !kind.matches(found) {
                            return Err(ExecError::at(
                                path,
                                format!("expected {kind:?}, found {}", kind_of(found))
                                    .to_lowercase(),
                            ));
                        }
                    }
                    if !one_of.is_empty() && !one_of.contains(found) {
                        return Err(ExecError::at(
                            path,
                            format!("unexpected value {}", short(found)),
                        ));
                    }
                }
            },
        }
        Ok(())
    }
}

/// Writes where nothing meaningful is yet: `null` and `{}` may be replaced, anything else is a conflict.
fn write_fresh(to: &FieldPath, value: &mut Value, new: Value) -> Result<(), ExecError> {
    to.put_fresh(value, new).map_err(|m| ExecError::at(to, m))
}

fn extend_array(to: &FieldPath, value: &mut Value, items: Vec<Value>) -> Result<(), ExecError> {
    match to.get_mut(value) {
        Some(Value::Array(existing)) => existing.extend(items),
        None | Some(Value::Null) => to
            .put(value, Value::Array(items))
            .map_err(|m| ExecError::at(to, m))?,
        Some(other) => {
            return Err(ExecError::at(
                to,
                format!("expected an array, found {}", kind_of(other)),
            ))
        }
    }
    Ok(())
}

/// A value for an error message: enum-like strings are shown, anything long or structured only by kind.
fn short(value: &Value) -> String {
    match value {
        Value::String(s) if s.len() <= 40 => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => kind_of(other).into(),
    }
}

/// Formats unix seconds as RFC 3339 UTC (`2026-02-13T16:26:40Z`).
pub(crate) fn rfc3339(unix: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_the_golden_timestamp() {
        assert_eq!(rfc3339(1_771_000_000), "2026-02-13T16:26:40Z");
    }
}
