//! The fast reader behind [`super::parse`]: one pass over the bytes building a [`Value`].
//!
//! It answers only what it is sure of: a body it accepts is one the serde path accepts with the
//! same tree. Every body it refuses (all invalid ones, and rare valid ones: nesting near the limit,
//! lone surrogate escapes) goes to the serde path, which gives the exact error or the tree.

use super::value::{number_len, Map, Number, Str, Value};
use super::{skip_plain, MAX_DEPTH};

/// Parses `bytes` if it is a strict JSON document this reader is sure of; `None` otherwise.
pub(crate) fn read(bytes: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut reader = Reader {
        text,
        at: 0,
        members: Vec::new(),
        elements: Vec::new(),
    };
    let value = reader.value(0)?;
    reader.skip_whitespace();
    (reader.at == bytes.len()).then_some(value)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
    /// Members of the objects being read, innermost last: each object is then allocated once, at
    /// its exact size, instead of growing (and copying) as its members arrive.
    members: Vec<(Str, Value)>,
    /// The same for array elements.
    elements: Vec<Value>,
}

impl Reader<'_> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// Any value, with `depth` containers around it.
    fn value(&mut self, depth: usize) -> Option<Value> {
        self.skip_whitespace();
        Some(match self.peek()? {
            b'"' => Value::String(self.string()?),
            b'{' => self.object(depth)?,
            b'[' => self.array(depth)?,
            b't' => self.literal(b"true", Value::Bool(true))?,
            b'f' => self.literal(b"false", Value::Bool(false))?,
            b'n' => self.literal(b"null", Value::Null)?,
            _ => {
                let len = number_len(&self.bytes()[self.at..])?;
                let number = Number::from_checked_text(&self.text[self.at..self.at + len]);
                self.at += len;
                Value::Number(number)
            }
        })
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Option<Value> {
        if !self.bytes()[self.at..].starts_with(word) {
            return None;
        }
        self.at += word.len();
        Some(value)
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        if depth + 1 >= MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(Value::Object(Map::new()));
        }
        let base = self.members.len();
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return None;
            }
            self.at += 1;
            let value = self.value(depth + 1)?;
            self.members.push((key, value));
            if !self.next_member(b'}')? {
                break;
            }
        }
        if repeated_key(&self.members[base..]).is_some() {
            return None;
        }
        let entries = self.members.drain(base..).collect();
        Some(Value::Object(Map::from_unique_entries(entries)))
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        if depth + 1 >= MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(Value::Array(Vec::new()));
        }
        let base = self.elements.len();
        loop {
            let item = self.value(depth + 1)?;
            self.elements.push(item);
            if !self.next_member(b']')? {
                return Some(Value::Array(self.elements.drain(base..).collect()));
            }
        }
    }

    /// After a member or element: `true` on `,` (another follows), `false` on `close`.
    fn next_member(&mut self, close: u8) -> Option<bool> {
        self.skip_whitespace();
        let byte = self.peek()?;
        self.at += 1;
        match byte {
            b',' => Some(true),
            b if b == close => Some(false),
            _ => None,
        }
    }

    /// A string at its opening quote.
    fn string(&mut self) -> Option<Str> {
        let start = self.at + 1;
        let mut i = start;
        loop {
            i = skip_plain(self.bytes(), i);
            match *self.bytes().get(i)? {
                b'"' => {
                    self.at = i + 1;
                    return Some(Str::from(&self.text[start..i]));
                }
                b'\\' => return self.escaped_string(start, i),
                b if b < 0x20 => return None,
                _ => i += 1,
            }
        }
    }

    /// The rest of a string from its first escape at `first_escape`.
    fn escaped_string(&mut self, start: usize, first_escape: usize) -> Option<Str> {
        let bytes = self.text.as_bytes();
        let mut out = String::with_capacity(first_escape - start + 16);
        out.push_str(&self.text[start..first_escape]);
        let mut i = first_escape;
        let mut plain = i;
        loop {
            i = skip_plain(bytes, i);
            match *bytes.get(i)? {
                b'"' => {
                    out.push_str(&self.text[plain..i]);
                    self.at = i + 1;
                    return Some(out.into());
                }
                b'\\' => {
                    out.push_str(&self.text[plain..i]);
                    let (decoded, len) = escape(bytes, i)?;
                    out.push(decoded);
                    i += len;
                    plain = i;
                }
                b if b < 0x20 => return None,
                _ => i += 1,
            }
        }
    }
}

/// The character an escape at `bytes[i] == b'\\'` stands for, and the escape's length. `None` for
/// invalid escapes and lone surrogates (the serde path words the error).
fn escape(bytes: &[u8], i: usize) -> Option<(char, usize)> {
    Some(match *bytes.get(i + 1)? {
        b'"' => ('"', 2),
        b'\\' => ('\\', 2),
        b'/' => ('/', 2),
        b'b' => ('\u{8}', 2),
        b'f' => ('\u{c}', 2),
        b'n' => ('\n', 2),
        b'r' => ('\r', 2),
        b't' => ('\t', 2),
        b'u' => {
            let unit = hex4(bytes, i + 2)?;
            match unit {
                0xD800..=0xDBFF => {
                    if bytes.get(i + 6..i + 8)? != b"\\u" {
                        return None;
                    }
                    let low = hex4(bytes, i + 8)?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return None;
                    }
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    (char::from_u32(code)?, 12)
                }
                0xDC00..=0xDFFF => return None,
                _ => (char::from_u32(unit)?, 6),
            }
        }
        _ => return None,
    })
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)?
        .iter()
        .try_fold(0u32, |n, &b| Some(n * 16 + char::from(b).to_digit(16)?))
}

/// A key an object's members repeat, if any (sorting, so a huge object costs n log n, not n²).
pub(crate) fn repeated_key(entries: &[(Str, Value)]) -> Option<&str> {
    if entries.len() <= 8 {
        return entries.iter().enumerate().find_map(|(i, (key, _))| {
            entries[..i]
                .iter()
                .any(|(other, _)| other == key)
                .then_some(key.as_str())
        });
    }
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.windows(2)
        .find(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
}
