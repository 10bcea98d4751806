//! The tree-less checker behind [`scan`]: the same rules as [`super::parse`] (same error for the same
//! bytes), no tree built; a byte-level fast path for the common body, serde_json for the rest.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;

use super::cursor::{self, decoded, skip_plain, Cursor, Refusal};
use super::parse::{classify, duplicate, SeenKeys, NUMBER_TOKEN};
use super::{Envelope, JsonError, Shape, MAX_DEPTH};

/// Checks a body exactly as [`parse`] does (syntax, UTF-8, duplicate keys, nesting, trailing data:
/// the same error for the same bytes) without building a [`Value`], and reads its envelope fields.
/// For bodies forwarded as received, where nothing needs the parsed tree: it allocates only for keys
/// with escapes, the key sets of large objects and the two strings it returns.
pub fn scan(bytes: &[u8]) -> Result<Envelope, JsonError> {
    fast_scan(bytes)
        .map_err(|refusal| JsonError::of_refusal(bytes, refusal, |b| scan_serde(b).map(drop)))
}

/// [`scan`] through serde_json and the same deserializer as [`parse`]: the reference (on bodies
/// without lone surrogate escapes, which serde_json refuses), and what words the errors.
pub(super) fn scan_serde(bytes: &[u8]) -> Result<Envelope, JsonError> {
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
            return self.deeper().map(drop);
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
            return self.0.deeper().map(|_| Shape::EmptyObject);
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
                "type" => envelope.type_member = access.next_value_seed(MaybeString(inner))?,
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

/// The fast path of [`scan`]: a byte-level validator that decides every body, reading the envelope
/// the serde path reads (a string holding a lone surrogate escape, which serde_json refuses, is no
/// envelope string, as [`super::Value::as_str`] has none for it). A body it refuses says why; the
/// serde path then words the error of an invalid one.
pub(super) fn fast_scan(bytes: &[u8]) -> Result<Envelope, (Refusal, usize)> {
    if std::str::from_utf8(bytes).is_err() {
        return Err((Refusal::Invalid, 0));
    }
    let mut scanner = FastScanner {
        cursor: Cursor::new(bytes),
        keys: Vec::new(),
    };
    let Some(envelope) = scanner.top_level() else {
        return Err((scanner.cursor.refusal, scanner.cursor.at));
    };
    scanner.cursor.skip_whitespace();
    if scanner.cursor.at == bytes.len() {
        Ok(envelope)
    } else {
        Err((Refusal::Invalid, scanner.cursor.at))
    }
}

struct FastScanner<'a> {
    cursor: Cursor<'a>,
    /// The keys of the objects being read, innermost last (checked for repeats when an object ends):
    /// borrowed from the body, decoded when they hold escapes.
    keys: Vec<Cow<'a, [u8]>>,
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
            let member: &[u8] = match &*key {
                b"eventType" => b"eventType",
                b"eventId" => b"eventId",
                b"type" => b"type",
                b"payload" => b"payload",
                b"data" => b"data",
                _ => b"",
            };
            self.keys.push(key);
            match member {
                b"eventType" | b"eventId" | b"type" => {
                    let text = match self.cursor.peek() {
                        Some(b'"') => Some(self.string()?),
                        _ => {
                            self.value(1)?;
                            None
                        }
                    };
                    let lone_surrogate = matches!(text, Some(None));
                    let text = text.flatten();
                    match member {
                        b"eventType" => {
                            envelope.event_type = text;
                            envelope.event_type_lone_surrogate = lone_surrogate;
                        }
                        b"eventId" => {
                            envelope.event_id = text;
                            envelope.event_id_lone_surrogate = lone_surrogate;
                        }
                        _ => {
                            envelope.type_member = text;
                            envelope.type_member_lone_surrogate = lone_surrogate;
                        }
                    }
                }
                b"payload" | b"data" => {
                    self.cursor.skip_whitespace();
                    let start = self.cursor.at;
                    self.value(1)?;
                    let shape = Some(Shape::of_text(&self.cursor.bytes[start..self.cursor.at]));
                    if member == b"payload" {
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
        let unique = cursor::repeated_key(&self.keys[base..], |k| &**k).is_none();
        self.keys.truncate(base);
        unique
    }

    /// An object key, and the `:` after it: its bytes when it has no escapes (the body is valid
    /// UTF-8, and keys without escapes are equal exactly when their bytes are), else its decoded
    /// text. A key holding a lone surrogate escape is refused ([`Refusal::SurrogateKey`]).
    fn key(&mut self) -> Option<Cow<'a, [u8]>> {
        self.cursor.skip_whitespace();
        if self.cursor.peek() != Some(b'"') {
            return None;
        }
        let bytes = self.cursor.bytes;
        let at = self.cursor.at;
        let start = at + 1;
        let end = skip_plain(bytes, start);
        let key = if *bytes.get(end)? == b'"' {
            self.cursor.at = end + 1;
            Cow::Borrowed(&bytes[start..end])
        } else {
            let end = self.cursor.skip_string()?;
            match decoded(bytes, start, end) {
                Some(text) => Cow::Owned(text.into_bytes()),
                None => {
                    self.cursor.refusal = Refusal::SurrogateKey(at);
                    return None;
                }
            }
        };
        self.cursor.colon()?;
        Some(key)
    }

    /// An envelope string value: `Some(None)` when it holds a lone surrogate escape (no text).
    fn string(&mut self) -> Option<Option<String>> {
        let bytes = self.cursor.bytes;
        let start = self.cursor.at + 1;
        let end = self.cursor.skip_string()?;
        let text = &bytes[start..end];
        Some(if text.contains(&b'\\') {
            decoded(bytes, start, end)
        } else {
            Some(std::str::from_utf8(text).ok()?.to_owned())
        })
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
