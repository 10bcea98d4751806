//! The fast reader behind [`super::parse`]: one pass over the bytes building a [`Value`].
//!
//! It answers only what it is sure of: a body it accepts is one the serde path accepts with the
//! same tree. Every body it refuses (all invalid ones, and rare valid ones: nesting near the limit,
//! lone surrogate escapes) goes to the serde path, which gives the exact error or the tree.

use super::cursor::{escape, repeated_key, skip_plain, Cursor};
use super::value::{Map, Number, Str, Value};

/// Parses `bytes` if it is a strict JSON document this reader is sure of; `None` otherwise.
pub(crate) fn read(bytes: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut reader = Reader {
        text,
        cursor: Cursor::new(bytes),
        members: Vec::new(),
        elements: Vec::new(),
    };
    let value = reader.value(0)?;
    reader.cursor.skip_whitespace();
    (reader.cursor.at == bytes.len()).then_some(value)
}

struct Reader<'a> {
    /// The body as text, for slicing strings out of it (the cursor walks the same bytes).
    text: &'a str,
    cursor: Cursor<'a>,
    /// Members of the objects being read, innermost last: each object is then allocated once, at
    /// its exact size, instead of growing (and copying) as its members arrive.
    members: Vec<(Str, Value)>,
    /// The same for array elements.
    elements: Vec<Value>,
}

impl Reader<'_> {
    /// Any value, with `depth` containers around it.
    fn value(&mut self, depth: usize) -> Option<Value> {
        let cursor = &mut self.cursor;
        cursor.skip_whitespace();
        Some(match cursor.peek()? {
            b'"' => Value::String(self.string()?),
            b'{' => self.object(depth)?,
            b'[' => self.array(depth)?,
            b't' => cursor.literal(b"true").map(|()| Value::Bool(true))?,
            b'f' => cursor.literal(b"false").map(|()| Value::Bool(false))?,
            b'n' => cursor.literal(b"null").map(|()| Value::Null)?,
            _ => {
                let start = cursor.number()?;
                Value::Number(Number::from_checked_text(&self.text[start..cursor.at]))
            }
        })
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        if self.cursor.open(depth, b'}')? {
            return Some(Value::Object(Map::new()));
        }
        let base = self.members.len();
        loop {
            self.cursor.skip_whitespace();
            if self.cursor.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            self.cursor.colon()?;
            let value = self.value(depth + 1)?;
            self.members.push((key, value));
            if !self.cursor.next_member(b'}')? {
                break;
            }
        }
        if repeated_key(&self.members[base..], |(k, _)| k.as_bytes()).is_some() {
            return None;
        }
        let entries = self.members.drain(base..).collect();
        Some(Value::Object(Map::from_unique_entries(entries)))
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        if self.cursor.open(depth, b']')? {
            return Some(Value::Array(Vec::new()));
        }
        let base = self.elements.len();
        loop {
            let item = self.value(depth + 1)?;
            self.elements.push(item);
            if !self.cursor.next_member(b']')? {
                return Some(Value::Array(self.elements.drain(base..).collect()));
            }
        }
    }

    /// A string at its opening quote.
    fn string(&mut self) -> Option<Str> {
        let bytes = self.cursor.bytes;
        let start = self.cursor.at + 1;
        let end = skip_plain(bytes, start);
        match *bytes.get(end)? {
            b'"' => {
                self.cursor.at = end + 1;
                Some(Str::from(&self.text[start..end]))
            }
            b'\\' => self.escaped_string(start, end),
            _ => None,
        }
    }

    /// The rest of a string from its first escape at `first_escape`.
    fn escaped_string(&mut self, start: usize, first_escape: usize) -> Option<Str> {
        let bytes = self.cursor.bytes;
        let mut out = String::with_capacity(first_escape - start + 16);
        out.push_str(&self.text[start..first_escape]);
        let mut i = first_escape;
        let mut plain = i;
        loop {
            i = skip_plain(bytes, i);
            match *bytes.get(i)? {
                b'"' => {
                    out.push_str(&self.text[plain..i]);
                    self.cursor.at = i + 1;
                    return Some(out.into());
                }
                b'\\' => {
                    out.push_str(&self.text[plain..i]);
                    let (decoded, len) = escape(bytes, i)?;
                    out.push(decoded);
                    i += len;
                    plain = i;
                }
                _ => return None,
            }
        }
    }
}
