//! Strict JSON for webhook bodies: exact numbers, bounded nesting, and duplicate keys refused.
//!
//! serde_json keeps the last of two equal keys silently; a handler that keeps the first would then act on
//! a value hookshift never looked at. Bodies are parsed here, in one pass, into the same `Value` the
//! mappings work on. Bodies forwarded unchanged are only checked ([`scan`]: the same rules, no tree built).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;

mod cursor;
mod read;
mod value;
mod write;

use cursor::Cursor;

pub use value::{Map, Number, Str, Value};

/// `serde_json::json!`, as a [`Value`] (for tests).
#[cfg(test)]
macro_rules! json {
    ($($tokens:tt)+) => {
        $crate::json::Value::from(serde_json::json!($($tokens)+))
    };
}
#[cfg(test)]
pub(crate) use json;

/// Deepest nesting of arrays and objects accepted in a body.
pub const MAX_DEPTH: usize = 64;

/// serde_json's private token for a number kept as text (feature `arbitrary_precision`).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Why a body is not acceptable JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("body is not valid JSON: {0}")]
    Syntax(String),
    #[error("body repeats the key {0:?} in one object")]
    DuplicateKey(String),
    #[error("body nests arrays and objects deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Parses a body, refusing duplicate keys, nesting deeper than [`MAX_DEPTH`] and trailing data.
/// Numbers keep their exact text.
///
/// The fast reader ([`read::read`]) takes the common body; whatever it is not sure of goes through
/// serde_json, which words the error (or builds the tree, for the rare valid body the reader leaves).
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    match read::read(bytes) {
        Some(value) => Ok(value),
        None => parse_serde(bytes),
    }
}

/// [`parse`] through serde_json alone: the reference the fast reader is tested against.
fn parse_serde(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = deserializer
        .deserialize_any(StrictValue { depth: 0 })
        .map_err(classify)?;
    deserializer.end().map_err(classify)?;
    Ok(value)
}

fn classify(error: serde_json::Error) -> JsonError {
    let text = error.to_string();
    if let Some(key) = text.strip_prefix("duplicate key ") {
        // Our own message: the key up to the location suffix serde_json appends.
        let key = key.split(" at line ").next().unwrap_or(key);
        return JsonError::DuplicateKey(key.trim_matches('`').to_owned());
    }
    if text.starts_with("too deep") {
        return JsonError::TooDeep;
    }
    JsonError::Syntax(text)
}

#[derive(Clone, Copy)]
struct StrictValue {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl StrictValue {
    fn deeper<E: de::Error>(self) -> Result<StrictValue, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("too deep"));
        }
        Ok(StrictValue {
            depth: self.depth + 1,
        })
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // Not reached with `arbitrary_precision` (numbers arrive as text); kept for completeness.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, |n| {
            Value::Number(Number::from_checked_text(&n.to_string()))
        }))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let first = match access.next_key_seed(KeyClassifier)? {
            None => return Ok(Value::Object(Map::new())),
            Some(Key::Number) => return access.next_value_seed(NumberText).map(Value::Number),
            Some(Key::Field(key)) => key,
        };
        let inner = self.deeper()?;
        let mut entries: Vec<(Str, Value)> = Vec::new();
        // Repeats are refused where they occur, as `scan` does, so both name the same key.
        let mut seen = SeenKeys::default();
        let mut key = first;
        loop {
            let value = access.next_value_seed(inner)?;
            seen.insert(Cow::Owned(key.clone()))
                .map_err(|k| duplicate::<A::Error>(&k))?;
            entries.push((key.into(), value));
            match access.next_key::<String>()? {
                Some(next) => key = next,
                None => return Ok(Value::Object(Map::from_unique_entries(entries))),
            }
        }
    }
}

/// The text of a number kept exactly (serde_json hands it over as a string after the token key).
struct NumberText;

impl<'de> DeserializeSeed<'de> for NumberText {
    type Value = Number;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Number, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NumberText {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Number, E> {
        Number::from_text(s).ok_or_else(|| E::custom("invalid number"))
    }
}

/// The first key of a map: serde_json's number token (no allocation) or a real field name.
enum Key {
    Number,
    Field(String),
}

struct KeyClassifier;

impl<'de> DeserializeSeed<'de> for KeyClassifier {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyClassifier {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
        Ok(if s == NUMBER_TOKEN {
            Key::Number
        } else {
            Key::Field(s.to_owned())
        })
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Key, E> {
        Ok(if s == NUMBER_TOKEN {
            Key::Number
        } else {
            Key::Field(s)
        })
    }
}

/// The envelope fields of a body, read by [`scan`] without building a [`Value`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Whether the body is a JSON object (the other fields are empty when not).
    pub is_object: bool,
    /// Top-level `eventType`, when it is a string.
    pub event_type: Option<String>,
    /// Top-level `eventId`, when it is a string.
    pub event_id: Option<String>,
    /// The kind of the top-level `payload` value, when the key is there.
    pub payload: Option<Shape>,
    /// The kind of the top-level `data` value, when the key is there.
    pub data: Option<Shape>,
}

/// What kind of value an envelope member holds: enough to tell an event's payload from a hole
/// (`null`, `{}`, a number) without building it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Null,
    /// `{}`.
    EmptyObject,
    /// An object with at least one member.
    Object,
    /// A string, number, boolean or array.
    Other,
}

impl Shape {
    /// The shape of a parsed value.
    pub fn of(value: &Value) -> Shape {
        match value {
            Value::Null => Shape::Null,
            Value::Object(object) if object.is_empty() => Shape::EmptyObject,
            Value::Object(_) => Shape::Object,
            _ => Shape::Other,
        }
    }

    /// The shape of a value's exact JSON text (already validated).
    fn of_text(text: &[u8]) -> Shape {
        match text.first() {
            Some(b'n') => Shape::Null,
            Some(b'{') if text[1..text.len() - 1].iter().all(u8::is_ascii_whitespace) => {
                Shape::EmptyObject
            }
            Some(b'{') => Shape::Object,
            _ => Shape::Other,
        }
    }
}

/// Checks a body exactly as [`parse`] does (syntax, UTF-8, duplicate keys, nesting, trailing data:
/// the same error for the same bytes) without building a [`Value`], and reads its envelope fields.
/// For bodies forwarded as received, where nothing needs the parsed tree: it allocates only for keys
/// with escapes, the key sets of large objects and the two strings it returns.
pub fn scan(bytes: &[u8]) -> Result<Envelope, JsonError> {
    match fast_scan(bytes) {
        Some(envelope) => Ok(envelope),
        None => scan_serde(bytes),
    }
}

/// [`scan`] through serde_json and the same deserializer as [`parse`]: the reference, and the path
/// for every body the fast path is not sure about.
fn scan_serde(bytes: &[u8]) -> Result<Envelope, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let envelope = deserializer
        .deserialize_any(TopLevelScan)
        .map_err(classify)?;
    deserializer.end().map_err(classify)?;
    Ok(envelope)
}

/// An object key as [`scan`] reads it: borrowed from the body unless it contains escapes.
struct ScanKey<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for ScanKey<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = ScanKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<ScanKey<'de>, E> {
                Ok(ScanKey(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<ScanKey<'de>, E> {
                Ok(ScanKey(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<ScanKey<'de>, E> {
                Ok(ScanKey(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Objects with more keys than this track them in a hash set instead of a list.
const SCAN_LINEAR_KEYS: usize = 16;

/// The keys seen so far in one object.
#[derive(Default)]
struct SeenKeys<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> SeenKeys<'de> {
    /// Records `key`, or hands it back when the object already had it.
    fn insert(&mut self, key: Cow<'de, str>) -> Result<(), Cow<'de, str>> {
        if self.many.is_empty() {
            if self.few.contains(&key) {
                return Err(key);
            }
            if self.few.len() < SCAN_LINEAR_KEYS {
                self.few.push(key);
                return Ok(());
            }
            self.many.extend(self.few.drain(..));
        }
        if self.many.contains(&key) {
            return Err(key);
        }
        self.many.insert(key);
        Ok(())
    }
}

fn duplicate<E: de::Error>(key: &str) -> E {
    de::Error::custom(format_args!("duplicate key `{key}`"))
}

/// Validates a value exactly like [`StrictValue`] (same depth rule, same order of checks), keeping
/// nothing.
#[derive(Clone, Copy)]
struct StrictScan {
    depth: usize,
}

impl StrictScan {
    fn deeper<E: de::Error>(self) -> Result<StrictScan, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("too deep"));
        }
        Ok(StrictScan {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for StrictScan {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictScan {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let Some(first) = access.next_key::<ScanKey<'de>>()? else {
            return Ok(());
        };
        if first.0 == NUMBER_TOKEN {
            access.next_value::<de::IgnoredAny>()?;
            return Ok(());
        }
        self.members(access, first)
    }
}

impl StrictScan {
    /// The members of an object whose first key has been read (and is not serde_json's number token).
    fn members<'de, A: MapAccess<'de>>(
        self,
        mut access: A,
        first: ScanKey<'de>,
    ) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        let mut seen = SeenKeys::default();
        let mut key = first.0;
        loop {
            access.next_value_seed(inner)?;
            seen.insert(key).map_err(|k| duplicate(&k))?;
            match access.next_key::<ScanKey<'de>>()? {
                Some(next) => key = next.0,
                None => return Ok(()),
            }
        }
    }
}

/// A value validated like [`StrictScan`], reporting its [`Shape`].
struct ShapeScan(StrictScan);

impl<'de> DeserializeSeed<'de> for ShapeScan {
    type Value = Shape;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeScan {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Shape, A::Error> {
        self.0.visit_seq(seq).map(|()| Shape::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Shape, A::Error> {
        let Some(first) = access.next_key::<ScanKey<'de>>()? else {
            return Ok(Shape::EmptyObject);
        };
        if first.0 == NUMBER_TOKEN {
            access.next_value::<de::IgnoredAny>()?;
            return Ok(Shape::Other);
        }
        self.0.members(access, first).map(|()| Shape::Object)
    }
}

/// A value validated like [`StrictScan`], kept when it is a string.
struct MaybeString(StrictScan);

impl<'de> DeserializeSeed<'de> for MaybeString {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MaybeString {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(seq).map(|()| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(access).map(|()| None)
    }
}

/// The top level of [`scan`]: validates like [`StrictScan`] at depth 0 and reads the envelope.
struct TopLevelScan;

impl<'de> Visitor<'de> for TopLevelScan {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Envelope, E> {
        Ok(Envelope::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<Envelope, E> {
        Ok(Envelope::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<Envelope, E> {
        Ok(Envelope::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<Envelope, E> {
        Ok(Envelope::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<Envelope, E> {
        Ok(Envelope::default())
    }

    fn visit_unit<E>(self) -> Result<Envelope, E> {
        Ok(Envelope::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Envelope, A::Error> {
        StrictScan { depth: 0 }.visit_seq(seq)?;
        Ok(Envelope::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Envelope, A::Error> {
        let mut envelope = Envelope {
            is_object: true,
            ..Envelope::default()
        };
        let Some(first) = access.next_key::<ScanKey<'de>>()? else {
            return Ok(envelope);
        };
        if first.0 == NUMBER_TOKEN {
            access.next_value::<de::IgnoredAny>()?;
            return Ok(Envelope::default());
        }
        let inner = StrictScan { depth: 0 }.deeper()?;
        let mut seen = SeenKeys::default();
        let mut key = first.0;
        loop {
            match &*key {
                "eventType" => envelope.event_type = access.next_value_seed(MaybeString(inner))?,
                "eventId" => envelope.event_id = access.next_value_seed(MaybeString(inner))?,
                "payload" => envelope.payload = Some(access.next_value_seed(ShapeScan(inner))?),
                "data" => envelope.data = Some(access.next_value_seed(ShapeScan(inner))?),
                _ => access.next_value_seed(inner)?,
            }
            seen.insert(key).map_err(|k| duplicate(&k))?;
            match access.next_key::<ScanKey<'de>>()? {
                Some(next) => key = next.0,
                None => return Ok(envelope),
            }
        }
    }
}

/// The fast path of [`scan`]: a byte-level validator for the common body (UTF-8, no escapes in keys,
/// no lone `\u` surrogates, nesting well under [`MAX_DEPTH`]). It answers only when it is sure that the
/// serde path would accept the body and read the same envelope; anything else (every invalid body
/// included) returns `None`, and [`scan`] runs the serde path, which gives the exact error.
fn fast_scan(bytes: &[u8]) -> Option<Envelope> {
    std::str::from_utf8(bytes).ok()?;
    let mut scanner = FastScanner {
        cursor: Cursor::new(bytes),
        keys: Vec::new(),
    };
    let envelope = scanner.top_level()?;
    scanner.cursor.skip_whitespace();
    (scanner.cursor.at == bytes.len()).then_some(envelope)
}

/// Whether any byte of `word` is `"`, `\\` or below 0x20 (exact: no byte is missed; a byte after a
/// hit may be reported too, which only sends the caller to its byte-by-byte path).
fn needs_a_look(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control != 0
}

/// The index of the first byte at or after `i` that is `"`, `\\` or a control character, or of a
/// byte within the last eight: plain string bytes are skipped eight at a time.
pub(crate) fn skip_plain(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..i + 8) {
        if needs_a_look(u64::from_le_bytes(chunk.try_into().expect("eight bytes"))) {
            break;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

struct FastScanner<'a> {
    cursor: Cursor<'a>,
    /// The keys of the objects being read, innermost last (checked for repeats when an object ends).
    keys: Vec<&'a [u8]>,
}

impl<'a> FastScanner<'a> {
    /// The top-level value; reads the envelope when it is an object.
    fn top_level(&mut self) -> Option<Envelope> {
        self.cursor.skip_whitespace();
        if self.cursor.peek() != Some(b'{') {
            self.value(0)?;
            return Some(Envelope::default());
        }
        let mut envelope = Envelope {
            is_object: true,
            ..Envelope::default()
        };
        if self.cursor.open(0, b'}')? {
            return Some(envelope);
        }
        loop {
            let key = self.key()?;
            self.keys.push(key);
            match key {
                b"eventType" | b"eventId" => {
                    let text = match self.cursor.peek() {
                        Some(b'"') => Some(String::from_utf8(self.string()?.to_vec()).ok()?),
                        _ => {
                            self.value(1)?;
                            None
                        }
                    };
                    if key == b"eventType" {
                        envelope.event_type = text;
                    } else {
                        envelope.event_id = text;
                    }
                }
                b"payload" | b"data" => {
                    self.cursor.skip_whitespace();
                    let start = self.cursor.at;
                    self.value(1)?;
                    let shape = Some(Shape::of_text(&self.cursor.bytes[start..self.cursor.at]));
                    if key == b"payload" {
                        envelope.payload = shape;
                    } else {
                        envelope.data = shape;
                    }
                }
                _ => self.value(1)?,
            }
            if !self.cursor.next_member(b'}')? {
                return self.keys_unique(0).then_some(envelope);
            }
        }
    }

    /// Whether the keys pushed since `base` (one object's) are all different; pops them.
    fn keys_unique(&mut self, base: usize) -> bool {
        let unique = cursor::repeated_key(&self.keys[base..], |k| k).is_none();
        self.keys.truncate(base);
        unique
    }

    /// An object key without escapes (its bytes: the body is valid UTF-8, and keys without escapes
    /// are equal exactly when their bytes are), and the `:` after it.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.cursor.skip_whitespace();
        if self.cursor.peek() != Some(b'"') {
            return None;
        }
        let bytes = self.cursor.bytes;
        let start = self.cursor.at + 1;
        let end = skip_plain(bytes, start);
        if *bytes.get(end)? != b'"' {
            // An escape or a control character: the serde path decides.
            return None;
        }
        self.cursor.at = end + 1;
        self.cursor.colon()?;
        Some(&bytes[start..end])
    }

    /// A string value without escapes (returned), or with escapes (`None` for the text: only the
    /// envelope reads strings, and it bails out on escapes).
    fn string(&mut self) -> Option<&'a [u8]> {
        let bytes = self.cursor.bytes;
        let start = self.cursor.at + 1;
        let end = self.cursor.skip_string()?;
        if bytes[start..end].contains(&b'\\') {
            return None;
        }
        Some(&bytes[start..end])
    }

    /// Any value at nesting `depth` (containers opened around it).
    fn value(&mut self, depth: usize) -> Option<()> {
        self.cursor.skip_whitespace();
        match self.cursor.peek()? {
            b'"' => self.cursor.skip_string().map(|_| ()),
            b'{' => {
                if self.cursor.open(depth, b'}')? {
                    return Some(());
                }
                let base = self.keys.len();
                loop {
                    let key = self.key()?;
                    self.keys.push(key);
                    self.value(depth + 1)?;
                    if !self.cursor.next_member(b'}')? {
                        return self.keys_unique(base).then_some(());
                    }
                }
            }
            b'[' => {
                if self.cursor.open(depth, b']')? {
                    return Some(());
                }
                loop {
                    self.value(depth + 1)?;
                    if !self.cursor.next_member(b']')? {
                        return Some(());
                    }
                }
            }
            b't' => self.cursor.literal(b"true"),
            b'f' => self.cursor.literal(b"false"),
            b'n' => self.cursor.literal(b"null"),
            _ => self.cursor.number().map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_exact_numbers_and_key_order() {
        let body = br#"{"z":1,"amount":12345678901234567890.123456789,"id":18446744073709551617,"f":1.10,"e":1e+400,"n":-0}"#;
        let value = parse(body).unwrap();
        assert_eq!(value.to_vec(), body.to_vec());
        // Exponents keep their spelling too (serde_json would write `1e400` as `1e+400`).
        let body = br#"{"e":2.5e-7,"f":1e400,"g":1E+2}"#;
        assert_eq!(parse(body).unwrap().to_vec(), body.to_vec());
    }

    #[test]
    fn matches_serde_json_on_ordinary_documents() {
        let body = br#"{"a":[1,2,{"b":null,"c":true,"d":"\u00e9\n"}],"e":{},"f":[]}"#;
        assert_eq!(
            parse(body).unwrap(),
            serde_json::from_slice::<Value>(body).unwrap()
        );
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        assert!(matches!(parse(br#"{"a":1,"a":2}"#), Err(JsonError::DuplicateKey(k)) if k == "a"));
        assert!(
            matches!(parse(br#"{"x":[{"eventType":"a","eventType":"b"}]}"#), Err(JsonError::DuplicateKey(k)) if k == "eventType")
        );
        // Same key in sibling objects is fine.
        assert!(parse(br#"[{"a":1},{"a":2}]"#).is_ok());
    }

    #[test]
    fn refuses_deep_nesting() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(parse(deep.as_bytes()), Err(JsonError::TooDeep)));
        let very_deep = "{\"a\":".repeat(100_000);
        assert!(parse(very_deep.as_bytes()).is_err());
    }

    #[test]
    fn refuses_invalid_utf8_and_trailing_data() {
        assert!(matches!(
            parse(b"{\"a\":\"\xff\"}"),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(parse(b"{} {}"), Err(JsonError::Syntax(_))));
        assert!(matches!(parse(b""), Err(JsonError::Syntax(_))));
    }

    /// What `parse` says about a body, in the terms `scan` answers in.
    fn envelope_by_parse(body: &[u8]) -> Result<Envelope, String> {
        let value = parse(body).map_err(|e| e.to_string())?;
        let Some(object) = value.as_object() else {
            return Ok(Envelope::default());
        };
        let string = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(Envelope {
            is_object: true,
            event_type: string("eventType"),
            event_id: string("eventId"),
            payload: object.get("payload").map(Shape::of),
            data: object.get("data").map(Shape::of),
        })
    }

    fn assert_scan_agrees(body: &[u8]) {
        assert_eq!(
            scan(body).map_err(|e| e.to_string()),
            envelope_by_parse(body),
            "{}",
            String::from_utf8_lossy(body)
        );
    }

    #[test]
    fn scan_agrees_with_parse() {
        let many_keys: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        let many_dup = format!("{{{many_keys}\"k7\":1}}");
        let many_ok = format!("{{{}\"last\":1}}", many_keys);
        let ok_depth = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let deep_objects = format!(
            "{}1{}",
            "{\"a\":".repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        let empty_at_limit = format!("{}{{}}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let bodies: Vec<&[u8]> = vec![
            br#"{"eventId":"evt_1","eventType":"extract_run.processed","payload":{"a":[1,2.5,-0,1e400]}}"#,
            br#"{"eventType":"x","data":{},"eventId":7}"#,
            br#"{"eventId":"e","eventType":"x","payload":null}"#,
            b"{\"eventId\":\"e\",\"eventType\":\"x\",\"payload\": { \n\t } }",
            br#"{"eventId":"e","eventType":"x","payload":{"":null}}"#,
            br#"{"eventId":"e","eventType":"x","payload":12.5e3}"#,
            br#"{"eventId":"e","eventType":"x","payload":"text"}"#,
            br#"{"eventId":"e","eventType":"x","payload":[{}],"data":true}"#,
            br#"{"eventId":"e","eventType":"x","payload":{"object":"signed_data_url","data":"https://a.example/p?sig=1"}}"#,
            br#"{"eventType":"x","data":{"a":{}},"payload":false}"#,
            br#"{"eventType":"x","d\u0061ta":{},"p\u0061yload":null}"#,
            br#"{"eventType":{"nested":"x"},"payload":null}"#,
            br#"{"eventType":"a","eventType":"b","payload":{}}"#,
            br#"{"payload":{"x":{"y":1,"y":2}},"eventType":"t"}"#,
            br#"{"a\u0062":1,"ab":2}"#,
            br#"{"ev\u0065ntType":"escaped key","payload":1}"#,
            br#"{"eventType":"caf\u00e9 \ud83d\ude00","payload":[]}"#,
            br#"{"a":1,"a":{"broken"}"#,
            br#"[{"a":1},{"a":2}]"#,
            br#"[1,2,"three"]"#,
            b"12345678901234567890.123456789",
            b"\"just a string\"",
            b"null",
            b"{}",
            b"{} {}",
            b"",
            b"{\"a\":\"\xff\"}",
            b"{\"\xff\":1}",
            b"{\"a\":1,}",
            b"{\"a\":01}",
            b"{\"a\":\"\x01\"}",
            many_dup.as_bytes(),
            many_ok.as_bytes(),
            ok_depth.as_bytes(),
            deep.as_bytes(),
            deep_objects.as_bytes(),
            empty_at_limit.as_bytes(),
        ];
        for body in bodies {
            assert_scan_agrees(body);
        }
        for file in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/events"))
            .into_iter()
            .flatten()
            .flatten()
        {
            assert_scan_agrees(&std::fs::read(file.path()).unwrap());
        }
    }

    #[test]
    fn needs_a_look_finds_every_special_byte() {
        for special in [b'"', b'\\', 0x00, 0x01, 0x1f] {
            for at in 0..8 {
                let mut bytes = *b"abcdefgh";
                bytes[at] = special;
                assert!(
                    needs_a_look(u64::from_le_bytes(bytes)),
                    "{special:#x} at {at}"
                );
            }
        }
        for plain in [
            *b"abcdefgh",
            *b"        ",
            [0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'],
        ] {
            assert!(!needs_a_look(u64::from_le_bytes(plain)));
        }
        // Every byte value alone in a word of plain bytes.
        for byte in 0..=255u8 {
            let mut bytes = *b"abcdefgh";
            bytes[3] = byte;
            let special = byte == b'"' || byte == b'\\' || byte < 0x20;
            assert_eq!(
                needs_a_look(u64::from_le_bytes(bytes)),
                special,
                "{byte:#x}"
            );
        }
    }

    #[test]
    fn fast_scan_takes_the_benchmark_events() {
        for file in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/events"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let body = std::fs::read(file.path()).unwrap();
            assert!(fast_scan(&body).is_some(), "{}", file.path().display());
            assert_eq!(
                fast_scan(&body).map(Ok),
                Some(scan_serde(&body).map_err(|e| e.to_string()))
            );
        }
    }

    /// JSON-like text: structure, keys (some repeated), escapes, numbers, literals and junk.
    fn json_like() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::strategy::Strategy as _;
        let pieces: Vec<&'static [u8]> = vec![
            b"{",
            b"}",
            b"[",
            b"]",
            b",",
            b":",
            b" ",
            b"\n",
            b"\"",
            b"\"a\"",
            b"\"a\":",
            b"\"eventType\":",
            b"\"eventId\":",
            b"\"payload\":",
            b"\"data\":",
            b"\"x\"",
            b"\"\\n\"",
            b"\"\\u00e9\"",
            b"\"\\ud83d\\ude00\"",
            b"\"\\ud800\"",
            b"\"\\q\"",
            b"\"a\\u0062\":",
            b"\"ab\":",
            b"0",
            b"01",
            b"-",
            b"-0",
            b"1.5",
            b"1.",
            b"2e10",
            b"1e+400",
            b"12345678901234567890.12345",
            b"true",
            b"false",
            b"null",
            b"nul",
            b"\xff",
            b"\x01",
            b"\xc3\xa9",
            b"\"\x01\"",
        ];
        proptest::collection::vec(proptest::sample::select(pieces), 0..24)
            .prop_map(|parts| parts.concat())
    }

    /// Well-formed JSON text (keys from a small set, so objects repeat keys; strings with escapes).
    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("-0.5e3".to_owned()),
            Just("12345678901234567890.12345".to_owned()),
            proptest::sample::select(vec![
                "",
                "x",
                "\\n",
                "\\u00e9",
                "\\ud83d\\ude00",
                "é€",
                "a longer string, past eight bytes é \\t",
                "sixteen bytes ok\\\"quote"
            ])
            .prop_map(|s| format!("\"{s}\"")),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(
                    (
                        proptest::sample::select(vec![
                            "a",
                            "b",
                            "eventType",
                            "eventId",
                            "payload",
                            "data",
                            "a\\u0062",
                            "ab",
                        ]),
                        inner
                    ),
                    0..5
                )
                .prop_map(|members| {
                    let members: Vec<String> = members
                        .iter()
                        .map(|(k, v)| format!("\"{k}\": {v}"))
                        .collect();
                    format!("{{ {} }}", members.join(", "))
                }),
            ]
        })
    }

    /// What the fast reader accepts, serde_json accepts with the same tree (same text, same key
    /// order: compared as written out) and what the serde path says is what `parse` says.
    fn assert_reader_agrees(body: &[u8]) -> Result<(), proptest::test_runner::TestCaseError> {
        let by_serde = parse_serde(body);
        if let Some(fast) = read::read(body) {
            let serde_tree = by_serde.as_ref().map_err(|e| {
                proptest::test_runner::TestCaseError::fail(format!(
                    "reader took what serde refuses: {e}"
                ))
            })?;
            // Through serde_json's numbers: serde_json writes `1e3` as `1e+3`, the reader keeps it.
            let normalized =
                |v: &Value| serde_json::to_string(&serde_json::Value::from(v.clone())).unwrap();
            proptest::prop_assert_eq!(normalized(&fast), normalized(serde_tree));
        }
        if let Err(e) = by_serde {
            proptest::prop_assert_eq!(parse(body).unwrap_err().to_string(), e.to_string());
        }
        Ok(())
    }

    #[test]
    fn fast_reader_takes_escapes_surrogate_pairs_and_exact_numbers() {
        let body = br#"{"k\u00e9y":"a\"b\\c\/d\b\f\n\r\t\u0001\ud83c\udf89","n":[-0.5e+10,123456789012345678901234567890,0]}"#;
        let fast = read::read(body).expect("the reader takes this body");
        assert_eq!(fast, parse_serde(body).unwrap());
        assert_eq!(fast["kéy"], "a\"b\\c/d\u{8}\u{c}\n\r\t\u{1}🎉");
        assert_eq!(
            String::from_utf8(fast["n"].to_vec()).unwrap(),
            "[-0.5e+10,123456789012345678901234567890,0]"
        );
        for lone in [&br#""\ud83c""#[..], br#""\udf89x""#, br#""\ud83c\u0041""#] {
            assert!(
                read::read(lone).is_none(),
                "the serde path words this error"
            );
            assert!(parse(lone).is_err());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_scan_agrees_on_json_text(body in json_text()) {
            if let Some(envelope) = fast_scan(body.as_bytes()) {
                proptest::prop_assert_eq!(Ok(envelope), scan_serde(body.as_bytes()).map_err(|e| e.to_string()));
            }
            assert_scan_agrees(body.as_bytes());
        }

        #[test]
        fn fast_scan_never_disagrees_with_serde(body in json_like()) {
            if let Some(envelope) = fast_scan(&body) {
                proptest::prop_assert_eq!(Ok(envelope), scan_serde(&body).map_err(|e| e.to_string()));
            }
            assert_scan_agrees(&body);
        }

        #[test]
        fn fast_reader_agrees_with_serde_on_json_text(body in json_text()) {
            assert_reader_agrees(body.as_bytes())?;
        }

        #[test]
        fn fast_reader_never_disagrees_with_serde(body in json_like()) {
            assert_reader_agrees(&body)?;
        }

        #[test]
        fn scan_agrees_with_parse_on_arbitrary_bytes(body in proptest::collection::vec(
            proptest::sample::select(b"{}[]\":,ab01.-e \\u\xff".to_vec()), 0..40)) {
            assert_scan_agrees(&body);
        }
    }
}
