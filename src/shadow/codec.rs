//! The text a [`super::Fingerprint`] is kept in: one string, preorder, a node as
//!
//! - its kind, one letter (`n` null, `b` bool, `d` number, `s` string, `a` array, `o` object);
//! - its hash, 16 hexadecimal digits;
//! - with `keep_values`, a leaf's text between `'` and `'`;
//! - an expanded object's members between `{` and `}` as `key:node`, comma separated; an expanded
//!   array's items between `[` and `]`, comma separated (their keys are their indexes).
//!
//! In keys and values, `\` escapes the characters the grammar uses. A 5 KB event takes about a
//! quarter of what the same tree takes as JSON objects.

use super::{cut, fnv, mix, Kind, Node, FNV_OFFSET};
use crate::json::Value;

/// Characters a key or a kept value escapes.
const SPECIAL: &[char] = &['\\', ':', ',', '{', '}', '[', ']', '\''];
/// Deepest tree decoded (a kept tree is never deeper than the event, whose nesting is bounded).
const MAX_DEPTH: usize = 512;

/// The text of a tree.
pub fn encode(root: &Node) -> String {
    let mut out = String::with_capacity(64);
    write_node(root, &mut out);
    out
}

fn letter(kind: Kind) -> char {
    match kind {
        Kind::Null => 'n',
        Kind::Bool => 'b',
        Kind::Number => 'd',
        Kind::String => 's',
        Kind::Array => 'a',
        Kind::Object => 'o',
    }
}

/// The text of an event's whole tree, written straight from the event (no tree built); the same
/// text as [`encode`] of [`super::full_tree`]. Every request the ledger keeps writes one, so it is
/// written as bytes, with one buffer for the leaves' JSON text.
pub fn encode_event(event: &Value, keep_values: bool) -> String {
    let mut writer = EventWriter {
        out: Vec::with_capacity(4096),
        leaf: Vec::with_capacity(64),
        keep_values,
    };
    writer.value(event);
    String::from_utf8(writer.out).expect("keys and kept values are UTF-8, the rest ASCII")
}

/// [`encode_event`]'s state.
struct EventWriter {
    out: Vec<u8>,
    /// The JSON text of the leaf being hashed.
    leaf: Vec<u8>,
    keep_values: bool,
}

impl EventWriter {
    /// Writes `value`'s node and returns its hash (hashed as [`super::full_tree`] does).
    fn value(&mut self, value: &Value) -> u64 {
        let kind = Kind::of(value);
        self.out.push(letter(kind) as u8);
        // The hash comes first in the text but is known only once the children are written: its
        // place is filled in after.
        let at = self.out.len();
        self.out.extend_from_slice(&[b'0'; 16]);
        let mut hash = fnv(FNV_OFFSET, &[kind as u8]);
        match value {
            Value::Object(map) => {
                let mut members: Vec<(&str, &Value)> =
                    map.iter().map(|(k, v)| (k.as_str(), v)).collect();
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                self.out.push(b'{');
                for (i, (key, child)) in members.into_iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    escape_bytes(key, &mut self.out);
                    self.out.push(b':');
                    let child_hash = self.value(child);
                    hash = fnv(hash, &(key.len() as u64).to_le_bytes());
                    hash = fnv(hash, key.as_bytes());
                    hash = fnv(hash, &child_hash.to_le_bytes());
                }
                self.out.push(b'}');
            }
            Value::Array(items) => {
                self.out.push(b'[');
                for (i, child) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    let child_hash = self.value(child);
                    hash = fnv(hash, &child_hash.to_le_bytes());
                }
                self.out.push(b']');
            }
            leaf => {
                self.leaf.clear();
                leaf.write_to(&mut self.leaf);
                hash = fnv(hash, &self.leaf);
                if self.keep_values {
                    self.out.push(b'\'');
                    escape_bytes(&cut(&String::from_utf8_lossy(&self.leaf)), &mut self.out);
                    self.out.push(b'\'');
                }
            }
        }
        let hash = mix(hash);
        hex_into(&mut self.out[at..at + 16], hash);
        hash
    }
}

/// `hash` as 16 lowercase hexadecimal digits, into `slot`.
fn hex_into(slot: &mut [u8], hash: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, digit) in slot.iter_mut().enumerate() {
        *digit = DIGITS[((hash >> (60 - 4 * i)) & 0xf) as usize];
    }
}

/// [`escape`] into bytes. The special characters are ASCII, so escaping the UTF-8 bytes is escaping
/// the characters.
fn escape_bytes(text: &str, out: &mut Vec<u8>) {
    let special = |b: u8| b.is_ascii() && SPECIAL.contains(&(b as char));
    if !text.bytes().any(special) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for b in text.bytes() {
        if special(b) {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn write_node(node: &Node, out: &mut String) {
    out.push(letter(node.kind));
    out.push_str(&format!("{:016x}", node.hash));
    if let Some(value) = &node.value {
        out.push('\'');
        escape(value, out);
        out.push('\'');
    }
    if !node.expanded {
        return;
    }
    let (open, close) = match node.kind {
        Kind::Array => ('[', ']'),
        _ => ('{', '}'),
    };
    out.push(open);
    for (i, (key, child)) in node.children.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if node.kind != Kind::Array {
            escape(key, out);
            out.push(':');
        }
        write_node(child, out);
    }
    out.push(close);
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The tree a text holds; an error names what it found where.
pub fn decode(text: &str) -> Result<Node, String> {
    let mut reader = Reader {
        chars: text.char_indices().peekable(),
        text,
    };
    let node = reader.node(0)?;
    match reader.chars.next() {
        None => Ok(node),
        Some((at, c)) => Err(format!("fingerprint: {c:?} after the tree at byte {at}")),
    }
}

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
}

impl Reader<'_> {
    fn fail<T>(&mut self, what: &str) -> Result<T, String> {
        let at = self.chars.peek().map_or(self.text.len(), |(at, _)| *at);
        Err(format!("fingerprint: {what} at byte {at}"))
    }

    fn node(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return self.fail("a tree too deep");
        }
        let kind = match self.chars.next().map(|(_, c)| c) {
            Some('n') => Kind::Null,
            Some('b') => Kind::Bool,
            Some('d') => Kind::Number,
            Some('s') => Kind::String,
            Some('a') => Kind::Array,
            Some('o') => Kind::Object,
            _ => return self.fail("a node kind expected"),
        };
        let mut hash = 0u64;
        for _ in 0..16 {
            let Some(digit) = self.chars.next().and_then(|(_, c)| c.to_digit(16)) else {
                return self.fail("a 16-digit hash expected");
            };
            hash = hash << 4 | u64::from(digit);
        }
        let mut node = Node {
            kind,
            hash,
            children: Vec::new(),
            expanded: false,
            value: None,
        };
        if self.eat('\'') {
            node.value = Some(self.text_until('\'')?);
            self.chars.next();
        }
        let close = match (kind, self.chars.peek().map(|(_, c)| *c)) {
            (Kind::Object, Some('{')) => '}',
            (Kind::Array, Some('[')) => ']',
            _ => return Ok(node),
        };
        self.chars.next();
        node.expanded = true;
        if self.eat(close) {
            return Ok(node);
        }
        loop {
            let key = if kind == Kind::Array {
                node.children.len().to_string()
            } else {
                let key = self.text_until(':')?;
                self.chars.next();
                key
            };
            let child = self.node(depth + 1)?;
            node.children.push((key, child));
            if self.eat(close) {
                return Ok(node);
            }
            if !self.eat(',') {
                return self.fail("',' or the container's end expected");
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.chars.peek().is_some_and(|(_, next)| *next == c) {
            self.chars.next();
            return true;
        }
        false
    }

    /// Unescaped text up to (not including) an unescaped `end`, which must follow.
    fn text_until(&mut self, end: char) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.chars.peek().map(|(_, c)| *c) {
                None => return self.fail(&format!("{end:?} expected")),
                Some(c) if c == end => return Ok(out),
                Some('\\') => {
                    self.chars.next();
                    match self.chars.next() {
                        Some((_, c)) => out.push(c),
                        None => return self.fail("an escaped character expected"),
                    }
                }
                Some(c) => {
                    self.chars.next();
                    out.push(c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Fingerprint;
    use super::*;

    fn tree(text: &str, keep_values: bool) -> Node {
        Fingerprint::of(&crate::json::parse(text.as_bytes()).unwrap(), keep_values).root
    }

    #[test]
    fn every_tree_reads_back_as_written() {
        for text in [
            r#"{"a":[1,{"b":null}],"c":true,"":"x"}"#,
            r#"{"k:{,}[]'\\":"v:{,}[]'\\","e":{},"f":[],"g":[[]]}"#,
            r#"[]"#,
            r#""only a string""#,
            r#"{"nested":{"deeper":{"deepest":[1.5,-2e3,"\u00e9"]}}}"#,
        ] {
            for keep in [false, true] {
                let node = tree(text, keep);
                assert_eq!(decode(&encode(&node)).unwrap(), node, "{text} keep {keep}");
            }
        }
    }

    #[test]
    fn an_event_is_written_as_its_tree_is() {
        for text in [
            r#"{"b":[1,{"z":null,"a":"x"}],"a":true,"k:{,}'":"v\\"}"#,
            r#"[[],{}]"#,
            r#"7"#,
        ] {
            let event = crate::json::parse(text.as_bytes()).unwrap();
            for keep in [false, true] {
                assert_eq!(
                    encode_event(&event, keep),
                    encode(&Fingerprint::of(&event, keep).root),
                    "{text} keep {keep}"
                );
            }
        }
    }

    /// The 5 KB invoice event of the benchmarks: its text as the tree's, byte for byte.
    #[test]
    fn a_realistic_event_is_written_as_its_tree_is() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/bench/events/processor_run_5k.json"
        );
        let event = crate::json::parse(&std::fs::read(path).unwrap()).unwrap();
        for keep in [false, true] {
            assert_eq!(
                encode_event(&event, keep),
                encode(&Fingerprint::of(&event, keep).root),
                "keep {keep}"
            );
        }
    }

    #[test]
    fn malformed_text_is_an_error_that_says_where() {
        for bad in [
            "",
            "x0000000000000000",
            "o00000000000000",
            "o0000000000000000{a:",
            "s0000000000000000'abc",
            "a0000000000000000[n0000000000000000 ",
            "n0000000000000000n",
        ] {
            let error = decode(bad).unwrap_err();
            assert!(error.contains("at byte"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_kept_tree_is_a_fraction_of_its_json() {
        let event = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/bench/events/processor_run_5k.json"
        ))
        .unwrap();
        let node = tree(std::str::from_utf8(&event).unwrap(), false);
        let json = serde_json::to_string(&node).unwrap();
        let compact = encode(&node);
        assert!(
            compact.len() * 2 < json.len(),
            "{} bytes against {} as JSON",
            compact.len(),
            json.len()
        );
    }
}
