//! Strict JSON for webhook bodies: exact numbers, bounded nesting, and duplicate keys refused.
//!
//! serde_json keeps the last of two equal keys silently; a handler that keeps the first would then act on
//! a value hookshift never looked at. Bodies are parsed here, in one pass, into the same `Value` the
//! mappings work on. Bodies forwarded unchanged are only checked ([`scan`]: the same rules, no tree built).

mod cursor;
mod parse;
mod read;
mod scan;
#[cfg(test)]
mod tests;
mod value;
mod write;

pub use parse::parse;
pub use scan::scan;
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

/// The envelope fields of a body, read by [`scan`] without building a [`Value`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Whether the body is a JSON object (the other fields are empty when not).
    pub is_object: bool,
    /// Top-level `eventType`, when it is a string.
    pub event_type: Option<String>,
    /// Top-level `type`, when it is a string (Standard Webhooks' event type).
    pub type_member: Option<String>,
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
