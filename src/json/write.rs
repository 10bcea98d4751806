//! Compact JSON text of a [`Value`], byte for byte what `serde_json::to_vec` writes.
//!
//! Two writers: [`write_value`] appends a borrowed tree to a buffer; [`into_json`] consumes the tree
//! for the outgoing body of a translation, so its memory is given back as the text is written (the
//! whole tree and the whole text are never held together) and the text ends in a buffer of its
//! exact length (no capacity left over from growing it).

use std::mem;

use super::value::{Map, Value};

/// The first chunk [`into_json`] writes into; each next one is twice as large, up to
/// [`MAX_CHUNK`]. The first chunk is allocated while the tree is still whole, so it is small: a
/// 5 KB event's peak is its tree and this chunk.
const FIRST_CHUNK: usize = 1024;
/// Chunks stop growing here: the text is copied once more at the end, so the chunks' unused tail
/// (less than one chunk) is all the slack, while a 20 MB text needs only a few hundred of them.
const MAX_CHUNK: usize = 64 * 1024;

/// Appends the compact JSON text of `value` to `out`.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.as_str().as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::RawString(raw) => {
            out.push(b'"');
            out.extend_from_slice(raw.as_bytes());
            out.push(b'"');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut Vec<u8>, map: &Map) {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

/// The compact JSON text of `value`, consuming it: every array element and object member is
/// dropped once written, and the text is collected in chunks, then copied into one buffer of its
/// exact length.
pub(crate) fn into_json(value: Value) -> Vec<u8> {
    let mut out = Chunks {
        done: Vec::new(),
        buf: Vec::new(),
        next: FIRST_CHUNK,
    };
    write_owned(&mut out, value);
    out.finish()
}

/// Text written so far: full chunks, and the one being filled.
struct Chunks {
    done: Vec<Vec<u8>>,
    buf: Vec<u8>,
    /// Capacity of the next chunk.
    next: usize,
}

impl Chunks {
    /// Makes room for `bytes` more bytes in `buf` without growing it (which would copy it and
    /// leave up to half of it unused): a full chunk is set aside and a fresh one started.
    #[inline]
    fn room(&mut self, bytes: usize) -> &mut Vec<u8> {
        if self.buf.capacity() - self.buf.len() < bytes {
            self.start_chunk(bytes);
        }
        &mut self.buf
    }

    #[cold]
    fn start_chunk(&mut self, bytes: usize) {
        let capacity = self.next.max(bytes);
        self.next = (self.next * 2).min(MAX_CHUNK);
        let full = mem::replace(&mut self.buf, Vec::with_capacity(capacity));
        if !full.is_empty() {
            self.done.push(full);
        }
    }

    /// The text in one buffer of its exact length; each chunk is freed once copied.
    fn finish(mut self) -> Vec<u8> {
        if self.done.is_empty() {
            self.buf.shrink_to_fit();
            return self.buf;
        }
        let length = self.done.iter().map(Vec::len).sum::<usize>() + self.buf.len();
        let mut text = Vec::with_capacity(length);
        for chunk in self.done.drain(..) {
            text.extend_from_slice(&chunk);
        }
        text.extend_from_slice(&self.buf);
        text
    }
}

fn write_owned(out: &mut Chunks, value: Value) {
    match value {
        Value::Null => out.room(4).extend_from_slice(b"null"),
        Value::Bool(true) => out.room(4).extend_from_slice(b"true"),
        Value::Bool(false) => out.room(5).extend_from_slice(b"false"),
        Value::Number(n) => {
            let text = n.as_str().as_bytes();
            out.room(text.len()).extend_from_slice(text);
        }
        Value::String(s) => write_string(out.room(s.len() + 2), &s),
        Value::RawString(raw) => {
            let buf = out.room(raw.len() + 2);
            buf.push(b'"');
            buf.extend_from_slice(raw.as_bytes());
            buf.push(b'"');
        }
        Value::Array(items) => {
            out.room(1).push(b'[');
            for (i, item) in items.into_iter().enumerate() {
                if i > 0 {
                    out.room(1).push(b',');
                }
                write_owned(out, item);
            }
            out.room(1).push(b']');
        }
        Value::Object(map) => {
            out.room(1).push(b'{');
            for (i, (key, value)) in map.into_iter().enumerate() {
                if i > 0 {
                    out.room(1).push(b',');
                }
                write_string(out.room(key.len() + 3), &key);
                out.buf.push(b':');
                drop(key);
                write_owned(out, value);
            }
            out.room(1).push(b'}');
        }
    }
}

/// A JSON string: `"` and `\` escaped, control characters as `\b \t \n \f \r` or `\u00xx`, all
/// else (non-ASCII included) as is, which is serde_json's choice.
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut plain_from = 0;
    let mut i = 0;
    loop {
        i = super::cursor::skip_plain(bytes, i);
        let Some(&byte) = bytes.get(i) else { break };
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\x08' => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\x0c' => b"\\f",
            b'\r' => b"\\r",
            _ => &[],
        };
        out.extend_from_slice(&bytes[plain_from..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        plain_from = i;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(text: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_strings_as_serde_json_does() {
        let every_low_byte: String = (0u8..0x80).map(char::from).collect();
        for text in [
            "",
            "plain",
            "quote \" and backslash \\ and slash /",
            "tab\tnewline\nreturn\rfeed\u{c}back\u{8}",
            "é 日本 🎉 \u{7f}",
            every_low_byte.as_str(),
            "a long run of plain text before the \"quote\" at the end",
        ] {
            assert_eq!(ours(text), serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(text in ".*") {
            proptest::prop_assert_eq!(ours(&text), serde_json::to_string(&text).unwrap());
        }
    }

    /// A tree whose text spans many chunks, long strings (larger than a chunk) and escapes included.
    fn large_tree() -> Value {
        let long = "x".repeat(3 * MAX_CHUNK);
        let items: Vec<Value> = (0..20_000i64)
            .map(|i| {
                let mut member = Map::new();
                member.insert("id", Value::from(format!("item_{i}")));
                member.insert("n", Value::from(i));
                member.insert("quoted", Value::from("say \"hi\"\n"));
                member.insert("flag", Value::from(i % 2 == 0));
                member.insert("none", Value::Null);
                Value::Object(member)
            })
            .collect();
        let mut top = Map::new();
        top.insert("items", Value::Array(items));
        top.insert("long", Value::from(long));
        top.insert("empty", Value::Array(Vec::new()));
        top.insert("nested", Value::Object(Map::new()));
        Value::Object(top)
    }

    #[test]
    fn the_consuming_writer_writes_the_same_text_at_its_exact_length() {
        let tree = large_tree();
        let borrowed = tree.to_vec();
        assert!(borrowed.len() > 10 * MAX_CHUNK, "spans many chunks");
        let owned = into_json(tree);
        assert_eq!(owned, borrowed);
        assert_eq!(owned.capacity(), owned.len());
        for small in [
            Value::Null,
            Value::from(false),
            Value::from("\u{1}"),
            Value::Object(Map::new()),
        ] {
            let borrowed = small.to_vec();
            let owned = into_json(small);
            assert_eq!(owned, borrowed);
            assert_eq!(owned.capacity(), owned.len());
        }
    }
}
