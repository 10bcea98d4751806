//! The strict tree parser behind [`parse`]: the fast reader first, serde_json with a strict visitor
//! for what the reader leaves (exact errors, duplicate keys, depth).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;

use super::value::{Map, Number, Str, Value};
use super::{read, JsonError, MAX_DEPTH};

/// serde_json's private token for a number kept as text (feature `arbitrary_precision`).
pub(super) const NUMBER_TOKEN: &str = "$serde_json::private::Number";
/// Parses a body, refusing duplicate keys, nesting deeper than [`MAX_DEPTH`] and trailing data.
/// Numbers keep their exact text; so do strings holding a lone surrogate escape
/// ([`Value::RawString`]).
///
/// The fast reader ([`read::read`]) decides; serde_json words the error of a body it refuses.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    read::read(bytes)
        .map_err(|refusal| JsonError::of_refusal(bytes, refusal, |b| parse_serde(b).map(drop)))
}

/// [`parse`] through serde_json alone: the reference the fast reader is tested against (on bodies
/// without lone surrogate escapes, which serde_json refuses), and what words its errors.
pub(super) fn parse_serde(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = deserializer
        .deserialize_any(StrictValue { depth: 0 })
        .map_err(classify)?;
    deserializer.end().map_err(classify)?;
    Ok(value)
}

pub(super) fn classify(error: serde_json::Error) -> JsonError {
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
            None => return self.deeper().map(|_| Value::Object(Map::new())),
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

/// Objects with more keys than this track them in a hash set instead of a list.
const SCAN_LINEAR_KEYS: usize = 16;

/// The keys seen so far in one object.
#[derive(Default)]
pub(super) struct SeenKeys<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> SeenKeys<'de> {
    /// Records `key`, or hands it back when the object already had it.
    pub(super) fn insert(&mut self, key: Cow<'de, str>) -> Result<(), Cow<'de, str>> {
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

pub(super) fn duplicate<E: de::Error>(key: &str) -> E {
    de::Error::custom(format_args!("duplicate key `{key}`"))
}
