//! Field paths (`a.b[0].c`, `.`, `$.payload.id`), parsed once at load, and the reads and writes they do.

use std::fmt;

use crate::json::{Map, Value};

/// One step of a path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(Box<str>),
    Index(usize),
}

/// A parsed path, relative to the object an op runs on (or, for [`Anchor::Input`], to the input event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath {
    segments: Box<[Segment]>,
    text: Box<str>,
}

/// Where a readable path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// The object the op runs on.
    Current(FieldPath),
    /// The input event as it arrived; the index names its slot in the step's capture table.
    Input(usize),
}

impl FieldPath {
    /// Parses `a.b[0].c`; `.` is the empty path (the object itself).
    pub(crate) fn parse(text: &str) -> Result<FieldPath, String> {
        let mut segments = Vec::new();
        if text != "." {
            if text.is_empty() {
                return Err("empty path (write `.` for the object itself)".into());
            }
            for part in text.split('.') {
                let (key, mut rest) = match part.find('[') {
                    Some(i) => (&part[..i], &part[i..]),
                    None => (part, ""),
                };
                if key.is_empty() && (rest.is_empty() || !segments.is_empty()) {
                    return Err(format!("empty key in path `{text}`"));
                }
                if !key.is_empty() {
                    segments.push(Segment::Key(key.into()));
                }
                while !rest.is_empty() {
                    let close = rest
                        .find(']')
                        .ok_or_else(|| format!("unclosed `[` in path `{text}`"))?;
                    let index = rest[1..close].parse::<usize>().map_err(|_| {
                        format!(
                            "array index must be a number in path `{text}`, found `{}`",
                            &rest[1..close]
                        )
                    })?;
                    segments.push(Segment::Index(index));
                    rest = &rest[close + 1..];
                    if !rest.is_empty() && !rest.starts_with('[') {
                        return Err(format!("unexpected `{rest}` after `]` in path `{text}`"));
                    }
                }
            }
        }
        Ok(FieldPath {
            segments: segments.into(),
            text: text.into(),
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The keys and indexes of the path, in order (empty for `.`).
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The value at this path, if present.
    pub(crate) fn get<'v>(&self, mut value: &'v Value) -> Option<&'v Value> {
        for segment in self.segments.iter() {
            value = match (segment, value) {
                (Segment::Key(k), Value::Object(map)) => map.get(k)?,
                (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// The value at this path, mutably, if present.
    pub(crate) fn get_mut<'v>(&self, mut value: &'v mut Value) -> Option<&'v mut Value> {
        for segment in self.segments.iter() {
            value = match (segment, value) {
                (Segment::Key(k), Value::Object(map)) => map.get_mut(k)?,
                (Segment::Index(i), Value::Array(items)) => items.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// Removes and returns the value at this path (object keys keep the order of the others).
    pub(crate) fn take(&self, value: &mut Value) -> Option<Value> {
        let Some((last, parents)) = self.segments.split_last() else {
            return Some(std::mem::take(value));
        };
        let mut parent = value;
        for segment in parents {
            parent = match (segment, parent) {
                (Segment::Key(k), Value::Object(map)) => map.get_mut(k)?,
                (Segment::Index(i), Value::Array(items)) => items.get_mut(*i)?,
                _ => return None,
            };
        }
        match (last, parent) {
            (Segment::Key(k), Value::Object(map)) => map.shift_remove(k),
            (Segment::Index(i), Value::Array(items)) if *i < items.len() => Some(items.remove(*i)),
            _ => None,
        }
    }

    /// Writes `new` at this path, creating missing objects on the way. An existing key keeps its place.
    pub(crate) fn put(&self, value: &mut Value, new: Value) -> Result<(), String> {
        self.write(value, new, false)
    }

    /// [`FieldPath::put`] that refuses to replace a value other than `null` or `{}`, in the same
    /// walk (the error names the kind found there).
    pub(crate) fn put_fresh(&self, value: &mut Value, new: Value) -> Result<(), String> {
        self.write(value, new, true)
    }

    fn write(&self, value: &mut Value, new: Value, fresh: bool) -> Result<(), String> {
        let vacant = |slot: &Value| match slot {
            Value::Null => Ok(()),
            Value::Object(map) if map.is_empty() => Ok(()),
            _ if !fresh => Ok(()),
            other => Err(format!("destination already holds {}", kind_of(other))),
        };
        let Some((last, parents)) = self.segments.split_last() else {
            vacant(value)?;
            *value = new;
            return Ok(());
        };
        let mut parent = value;
        for (depth, segment) in parents.iter().enumerate() {
            if parent.is_null() {
                *parent = Value::Object(Map::new());
            }
            let walkable = match (segment, &*parent) {
                (Segment::Key(_), Value::Object(_)) => true,
                (Segment::Index(i), Value::Array(items)) => *i < items.len(),
                _ => false,
            };
            if !walkable {
                return Err(format!(
                    "cannot write `{}`: `{}` is {}",
                    self.text,
                    self.prefix_text(depth),
                    kind_of(parent)
                ));
            }
            parent = match (segment, parent) {
                (Segment::Key(k), Value::Object(map)) => {
                    map.get_or_insert_with(k, || Value::Object(Map::new()))
                }
                (Segment::Index(i), Value::Array(items)) => &mut items[*i],
                _ => unreachable!("checked walkable above"),
            };
        }
        if parent.is_null() {
            *parent = Value::Object(Map::new());
        }
        match (last, parent) {
            (Segment::Key(k), Value::Object(map)) => {
                let slot = map.get_or_insert_with(k, || Value::Null);
                vacant(slot)?;
                *slot = new;
                Ok(())
            }
            (Segment::Index(i), Value::Array(items)) if *i < items.len() => {
                vacant(&items[*i])?;
                items[*i] = new;
                Ok(())
            }
            (_, other) => Err(match parents.len() {
                0 => format!("cannot write `{}` into {}", self.text, kind_of(other)),
                n => format!(
                    "cannot write `{}`: `{}` is {}",
                    self.text,
                    self.prefix_text(n - 1),
                    kind_of(other)
                ),
            }),
        }
    }

    /// After `take`, removes parent objects the removal left empty (so `unnest` sees what is really left).
    pub(crate) fn prune_empty_parents(&self, value: &mut Value) {
        for depth in (0..self.segments.len().saturating_sub(1)).rev() {
            let parent = FieldPath {
                segments: self.segments[..=depth].into(),
                text: "".into(),
            };
            if matches!(parent.get(value), Some(Value::Object(m)) if m.is_empty()) {
                parent.take(value);
            } else {
                break;
            }
        }
    }

    fn prefix_text(&self, depth: usize) -> String {
        let mut out = String::new();
        for segment in &self.segments[..=depth] {
            match segment {
                Segment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Segment::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A short name of a JSON value's kind, for error messages (never the value: it may be sensitive).
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) | Value::RawString(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;

    #[test]
    fn parses_keys_indexes_and_self() {
        let p = FieldPath::parse("a.b[2].c").unwrap();
        assert_eq!(
            &*p.segments,
            &[
                Segment::Key("a".into()),
                Segment::Key("b".into()),
                Segment::Index(2),
                Segment::Key("c".into())
            ]
        );
        assert!(FieldPath::parse(".").unwrap().segments.is_empty());
        assert!(FieldPath::parse("a..b").is_err());
        assert!(FieldPath::parse("a[x]").is_err());
        assert!(FieldPath::parse("a[1").is_err());
        assert!(FieldPath::parse("").is_err());
    }

    #[test]
    fn take_then_put_moves_a_value_under_its_own_old_name() {
        let mut v = json!({"page": 3, "pageWidth": 612, "z": 1});
        let page = FieldPath::parse("page").unwrap();
        let taken = page.take(&mut v).unwrap();
        FieldPath::parse("page.number")
            .unwrap()
            .put(&mut v, taken)
            .unwrap();
        let w = FieldPath::parse("pageWidth").unwrap().take(&mut v).unwrap();
        FieldPath::parse("page.width")
            .unwrap()
            .put(&mut v, w)
            .unwrap();
        assert_eq!(v, json!({"z": 1, "page": {"number": 3, "width": 612}}));
    }

    #[test]
    fn put_refuses_to_walk_through_a_scalar() {
        let mut v = json!({"a": 1});
        let err = FieldPath::parse("a.b")
            .unwrap()
            .put(&mut v, json!(2))
            .unwrap_err();
        assert!(err.contains("`a` is a number"), "{err}");
    }

    #[test]
    fn put_keeps_the_position_of_an_existing_key() {
        let mut v = json!({"a": 1, "b": 2});
        FieldPath::parse("a")
            .unwrap()
            .put(&mut v, json!(9))
            .unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"a":9,"b":2}"#);
    }

    #[test]
    fn prune_removes_only_emptied_parents() {
        let mut v = json!({"result": {"extractRun": {"id": 1}}, "x": 1});
        let p = FieldPath::parse("result.extractRun").unwrap();
        p.take(&mut v);
        p.prune_empty_parents(&mut v);
        assert_eq!(v, json!({"x": 1}));
    }
}
