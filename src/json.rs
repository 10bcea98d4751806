//! Strict JSON for webhook bodies: exact numbers, bounded nesting, and duplicate keys refused.
//!
//! serde_json keeps the last of two equal keys silently; a handler that keeps the first would then act on
//! a value hookshift never looked at. Bodies are parsed here, in one pass, into the same `Value` the
//! mappings work on.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::{Map, Number, Value};

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
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
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
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
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
        let mut map = Map::new();
        let mut key = first;
        loop {
            let value = access.next_value_seed(inner)?;
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            map.insert(key, value);
            match access.next_key::<String>()? {
                Some(next) => key = next,
                None => return Ok(Value::Object(map)),
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
        s.parse().map_err(|_| E::custom("invalid number"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_exact_numbers_and_key_order() {
        let body = br#"{"z":1,"amount":12345678901234567890.123456789,"id":18446744073709551617,"f":1.10,"e":1e+400,"n":-0}"#;
        let value = parse(body).unwrap();
        assert_eq!(serde_json::to_vec(&value).unwrap(), body.to_vec());
        // serde_json writes exponents as `e` with an explicit sign; the number is the same.
        let value = parse(br#"{"e":2.5e-7,"f":1e400}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"e":2.5e-7,"f":1e+400}"#
        );
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
}
