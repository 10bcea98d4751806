//! The JSON tree the mapping engine rewrites: objects keep their key order in a plain vector, numbers
//! keep their exact text.
//!
//! `serde_json::Value` with `preserve_order` and `arbitrary_precision` has the same semantics, but
//! every object is an `IndexMap` (SipHash per insert and lookup, shifting removals) and every number
//! is built through a private map visitor; for a 5 KB event that was most of the cost of translating
//! (README "Performance"). Event objects are small, so a vector searched by comparing keys is faster
//! for every operation the engine does. The API mirrors `serde_json`'s where the two overlap.

use std::fmt;

/// Text of keys and strings: up to 24 bytes kept inline, without an allocation. Most keys and
/// many values of an event fit, and allocating them was the largest cost of parsing.
pub type Str = compact_str::CompactString;

/// A JSON value.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Str),
    /// A string holding a lone surrogate escape (`"\ud800"`: valid JSON text, as a sender that cuts a
    /// string inside a surrogate pair sends it, but no Rust string can hold it), kept as its JSON
    /// text between the quotes, escapes and all, exactly as received; written back unchanged. It is
    /// no [`Value::as_str`] string: a mapping can move or copy it, not read it as text.
    RawString(Str),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON number as its exact text (as received, or as written by a mapping file); up to 24
/// bytes inline.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Number(Str);

/// A JSON object: members in order, keys unique (parsing refuses repeats, [`Map::insert`] replaces).
#[derive(Clone, Debug, Default)]
pub struct Map {
    entries: Vec<(Str, Value)>,
}

impl Number {
    /// The number's JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps text the caller has checked against the JSON number grammar.
    pub(crate) fn from_checked_text(text: &str) -> Number {
        debug_assert!(is_number_text(text), "not a JSON number: {text}");
        Number(text.into())
    }

    /// Parses JSON number text; `None` when `text` is not exactly one JSON number.
    pub fn from_text(text: &str) -> Option<Number> {
        is_number_text(text).then(|| Number(text.into()))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Number {
        Number(Str::from(n.to_string()))
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        Number(Str::from(n.to_string()))
    }
}

/// Length of the JSON number at the start of `bytes` (`-? int frac? exp?`), if one starts there.
pub(crate) fn number_len(bytes: &[u8]) -> Option<usize> {
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut at = usize::from(bytes.first() == Some(&b'-'));
    match bytes.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at += digits(at),
        _ => return None,
    }
    if bytes.get(at) == Some(&b'.') {
        let n = digits(at + 1);
        if n == 0 {
            return None;
        }
        at += 1 + n;
    }
    if let Some(b'e' | b'E') = bytes.get(at) {
        at += 1;
        if let Some(b'+' | b'-') = bytes.get(at) {
            at += 1;
        }
        let n = digits(at);
        if n == 0 {
            return None;
        }
        at += n;
    }
    Some(at)
}

fn is_number_text(text: &str) -> bool {
    number_len(text.as_bytes()) == Some(text.len())
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn with_capacity(capacity: usize) -> Map {
        Map {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Builds a map from members the caller knows to have distinct keys (the parser checks).
    pub(crate) fn from_unique_entries(entries: Vec<(Str, Value)>) -> Map {
        Map { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| same_key(k, key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`: an existing key keeps its place (the old value is returned), a new
    /// one goes last.
    pub fn insert(&mut self, key: impl Into<Str>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.push(key, value);
                None
            }
        }
    }

    /// The value of `key`, first appended as `make()` when absent (one search either way).
    pub fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.position(key) {
            Some(i) => i,
            None => {
                self.push(key.into(), make());
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    /// Appends a member whose key is absent.
    ///
    /// A parsed object is allocated at its exact size and a translation adds a member or two to many
    /// of them: doubling the vector then would leave most translated objects up to half empty (in a
    /// large event, a sizeable share of the tree). Growing by an eighth (at least one member) keeps
    /// appends amortised linear with at most an eighth unused; a small block often grows in place.
    fn push(&mut self, key: Str, value: Value) {
        let len = self.entries.len();
        if len == self.entries.capacity() {
            self.entries.reserve_exact((len / 8).max(1));
        }
        self.entries.push((key, value));
    }

    /// Removes `key`, keeping the order of the others.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        Some(self.entries.remove(i).1)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Keeps the members for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Str, &mut Value) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Str, &Value)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&Str, &mut Value)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Str> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

/// `k == key`, with the length and first byte compared before the bytes: most keys an object is
/// searched for are absent, and most differ there already (saves a `memcmp` call per member).
#[inline]
fn same_key(k: &Str, key: &str) -> bool {
    let (k, key) = (k.as_bytes(), key.as_bytes());
    k.len() == key.len() && k.first() == key.first() && k == key
}

/// Equal as JSON objects: the same members, in any order (as `serde_json::Map` compares).
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        if self.len() != other.len() {
            return false;
        }
        if self
            .entries
            .iter()
            .zip(&other.entries)
            .all(|((k1, v1), (k2, v2))| k1 == k2 && v1 == v2)
        {
            return true;
        }
        fn sorted(map: &Map) -> Vec<&(Str, Value)> {
            let mut entries: Vec<&(Str, Value)> = map.entries.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            entries
        }
        sorted(self)
            .into_iter()
            .zip(sorted(other))
            .all(|(a, b)| a.0 == b.0 && a.1 == b.1)
    }
}

impl IntoIterator for Map {
    type Item = (Str, Value);
    type IntoIter = std::vec::IntoIter<(Str, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Str, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Str, Value)>,
        fn(&'a (Str, Value)) -> (&'a Str, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

/// Later repeats of a key replace the earlier value in its place (as [`Map::insert`]).
impl<K: Into<Str>> FromIterator<(K, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(members: I) -> Map {
        let mut map = Map::new();
        for (k, v) in members {
            map.insert(k, v);
        }
        map
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    /// The member `key` of an object (`None` for other values).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    /// The member `key` of an object, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut()?.get_mut(key)
    }

    /// Compact JSON text, byte for byte what `serde_json::to_vec` writes for the same value.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Appends the compact JSON text to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        super::write::write_value(out, self);
    }

    /// Compact JSON text, consuming the value: its memory is freed as the text is written, and the
    /// text is returned in a buffer of its exact length (for an outgoing body, held until delivered).
    pub fn into_json(self) -> Vec<u8> {
        super::write::into_json(self)
    }
}

static NULL: Value = Value::Null;

/// `value["key"]`: the member, or `null` when absent or not an object (as `serde_json`).
impl std::ops::Index<&str> for Value {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value["key"] = ...`: inserts `null` first when absent; panics on a value that is not an object
/// (as `serde_json`, turning `null` into an object).
impl std::ops::IndexMut<&str> for Value {
    fn index_mut(&mut self, key: &str) -> &mut Value {
        if self.is_null() {
            *self = Value::Object(Map::new());
        }
        let Value::Object(map) = self else {
            panic!("cannot index into a JSON value that is not an object with {key:?}");
        };
        if !map.contains_key(key) {
            map.insert(key, Value::Null);
        }
        map.get_mut(key).expect("present: inserted above")
    }
}

impl Value {
    /// Takes the value out, leaving `null`.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

impl fmt::Display for Value {
    /// Compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Str::from_utf8(self.to_vec()).expect("JSON text is UTF-8"))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n.into())
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(n.into())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}

impl From<Str> for Value {
    fn from(s: Str) -> Value {
        Value::String(s)
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Value {
        Value::Object(map)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

/// From `serde_json` (golden files, mapping constants, tests). Numbers keep their text
/// (the crate enables `arbitrary_precision`).
impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Value {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(Number(Str::from(n.to_string()))),
            serde_json::Value::String(s) => Value::String(s.into()),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => Value::Object(Map::from_unique_entries(
                map.into_iter()
                    .map(|(k, v)| (Str::from(k), Value::from(v)))
                    .collect(),
            )),
        }
    }
}

impl From<Value> for serde_json::Value {
    fn from(value: Value) -> serde_json::Value {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(n) => {
                serde_json::Value::Number(n.0.parse().expect("a Number holds JSON number text"))
            }
            Value::String(s) => serde_json::Value::String(s.into()),
            Value::RawString(raw) => serde_json::Value::String(raw_string_lossy(&raw)),
            Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(Into::into).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            ),
        }
    }
}

/// The text of a [`Value::RawString`] with each lone surrogate as U+FFFD (and the other escapes
/// decoded): for a `serde_json::Value` or a serializer, which cannot hold a lone surrogate.
/// Schemas validate this (a string, of the same length in UTF-16 units); the body keeps the escape.
pub fn raw_string_lossy(raw: &str) -> String {
    let quoted = [b"\"".as_slice(), raw.as_bytes(), b"\""].concat();
    serde_json::from_slice(&super::cursor::mask_lone_surrogates(&quoted))
        .expect("a raw string is checked JSON string text")
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => {
                n.0.parse::<serde_json::Number>()
                    .map_err(serde::ser::Error::custom)?
                    .serialize(serializer)
            }
            Value::String(s) => serializer.serialize_str(s),
            Value::RawString(raw) => serializer.serialize_str(&raw_string_lossy(raw)),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    out.serialize_entry(k.as_str(), v)?;
                }
                out.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    /// Through `serde_json::Value` (repeated keys keep the last value); request bodies use
    /// [`super::parse`], which refuses them.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Value::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_text_follows_the_json_grammar() {
        for ok in [
            "0",
            "-0",
            "12",
            "1.5",
            "1e9",
            "1E+9",
            "-1.25e-3",
            "123456789012345678901234567890",
        ] {
            assert!(Number::from_text(ok).is_some(), "{ok}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "+1", "1.5.2", "NaN", "0x10", " 1",
        ] {
            assert!(Number::from_text(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn insert_keeps_the_place_of_an_existing_key_and_removal_keeps_order() {
        let mut map = Map::new();
        map.insert("a", 1i64.into());
        map.insert("b", 2i64.into());
        map.insert("c", 3i64.into());
        assert_eq!(map.insert("a", 9i64.into()), Some(1i64.into()));
        assert_eq!(map.shift_remove("b"), Some(2i64.into()));
        assert_eq!(map.keys().map(Str::as_str).collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(Value::Object(map).to_vec(), br#"{"a":9,"c":3}"#);
    }

    #[test]
    fn a_full_map_grows_by_an_eighth_not_double() {
        let parsed = super::super::parse(br#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}"#)
            .expect("parses");
        let Value::Object(mut map) = parsed else {
            panic!("an object")
        };
        assert_eq!(map.entries.capacity(), 8, "parsed at its exact size");
        map.insert("i", Value::Null);
        assert_eq!(map.entries.capacity(), 9);
        let mut grown = Map::new();
        for i in 0..1000i64 {
            grown.insert(i.to_string(), i.into());
            assert!(grown.entries.capacity() <= grown.len() + grown.len() / 8);
        }
        assert_eq!(grown.get("999"), Some(&Value::from(999i64)));
    }

    #[test]
    fn objects_compare_as_sets_of_members() {
        let a: Value = serde_json::json!({"x": 1, "y": [1, {"z": null}]}).into();
        let b: Value = serde_json::json!({"y": [1, {"z": null}], "x": 1}).into();
        let c: Value = serde_json::json!({"y": [1, {"z": null}], "x": 1.0}).into();
        assert_eq!(a, b);
        assert_ne!(
            a, c,
            "numbers compare by their text, as serde_json's arbitrary precision does"
        );
    }

    #[test]
    fn converts_to_and_from_serde_json_without_changing_numbers() {
        let text = r#"{"big":123456789012345678901234567890.5,"e":1E+2,"s":"\u00e9","n":null}"#;
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        let ours = Value::from(original.clone());
        assert_eq!(
            String::from_utf8(ours.to_vec()).unwrap(),
            serde_json::to_string(&original).unwrap()
        );
        assert_eq!(serde_json::Value::from(ours), original);
    }
}
