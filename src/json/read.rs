//! The fast reader behind [`super::parse`]: one pass over the bytes building a [`Value`].
//!
//! It decides every body: a body it accepts is valid strict JSON (one the serde path accepts with the
//! same tree, lone surrogate escapes aside: serde_json refuses those, this reader keeps them as
//! [`Value::RawString`]). A body it refuses says why ([`Refusal`]); the serde path then words the
//! error of an invalid one.

use super::cursor::{escape, repeated_key, skip_plain, string_end, Cursor, Refusal};
use super::value::{Map, Number, Str, Value};

/// Parses `bytes` if it is a strict JSON document; else why not, and the byte offset it stopped at.
pub(crate) fn read(bytes: &[u8]) -> Result<Value, (Refusal, usize)> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err((Refusal::Invalid, 0));
    };
    let mut reader = Reader {
        text,
        cursor: Cursor::new(bytes),
        members: Vec::new(),
        elements: Vec::new(),
    };
    let Some(value) = reader.value(0) else {
        return Err((reader.cursor.refusal, reader.cursor.at));
    };
    reader.cursor.skip_whitespace();
    if reader.cursor.at == bytes.len() {
        Ok(value)
    } else {
        Err((Refusal::Invalid, reader.cursor.at))
    }
}

/// A string as read: text, or the JSON text of one holding a lone surrogate escape.
enum Text {
    Plain(Str),
    Raw(Str),
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
            b'"' => match self.string()? {
                Text::Plain(text) => Value::String(text),
                Text::Raw(text) => Value::RawString(text),
            },
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
            let at = self.cursor.at;
            let key = match self.string()? {
                Text::Plain(key) => key,
                Text::Raw(_) => {
                    self.cursor.refusal = Refusal::SurrogateKey(at);
                    return None;
                }
            };
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
    fn string(&mut self) -> Option<Text> {
        let bytes = self.cursor.bytes;
        let start = self.cursor.at + 1;
        let end = skip_plain(bytes, start);
        match *bytes.get(end)? {
            b'"' => {
                self.cursor.at = end + 1;
                Some(Text::Plain(Str::from(&self.text[start..end])))
            }
            b'\\' => self.escaped_string(start, end),
            _ => None,
        }
    }

    /// The rest of a string from its first escape at `first_escape`. A string with a lone surrogate
    /// escape is kept as its JSON text, as received (UTF-8 cannot hold it).
    fn escaped_string(&mut self, start: usize, first_escape: usize) -> Option<Text> {
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
                    return Some(Text::Plain(out.into()));
                }
                b'\\' => {
                    out.push_str(&self.text[plain..i]);
                    let (decoded, len) = escape(bytes, i)?;
                    let Some(decoded) = decoded else {
                        let end = string_end(bytes, i + len)?;
                        self.cursor.at = end + 1;
                        return Some(Text::Raw(Str::from(&self.text[start..end])));
                    };
                    out.push(decoded);
                    i += len;
                    plain = i;
                }
                _ => return None,
            }
        }
    }
}
