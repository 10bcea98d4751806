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
pub use value::{raw_string_lossy, Map, Number, Str, Value};

/// `serde_json::json!`, as a [`Value`] (for tests).
#[cfg(test)]
macro_rules! json {
    ($($tokens:tt)+) => {
        $crate::json::Value::from(serde_json::json!($($tokens)+))
    };
}
#[cfg(test)]
pub(crate) use json;

/// Deepest nesting of arrays and objects accepted in a body: above the 200 levels both Extend SDKs
/// take, well within what the recursive walks of a tree (parse, translate, write, compare, drop)
/// hold on a 2 MiB server thread even in a debug build (measured: bench/README.md).
pub const MAX_DEPTH: usize = 256;

/// Why a body is not acceptable JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("body is not valid JSON: {0}")]
    Syntax(String),
    #[error("body repeats the key {0:?} in one object")]
    DuplicateKey(String),
    #[error("body nests arrays and objects deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Accepted in string values (kept as received), not in keys: an object's keys are text.
    #[error("body has an object key with a lone surrogate escape (\\ud800-\\udfff not half of a pair) at line {line} column {column}; such escapes are kept in string values only")]
    SurrogateKey { line: usize, column: usize },
}

impl JsonError {
    /// The error of a body a fast path refused (stopping at byte `at`): serde_json words an invalid
    /// one, reading it with its lone surrogate escapes masked (it would refuse those first), so the
    /// line and column are the body's own.
    fn of_refusal(
        bytes: &[u8],
        (refusal, at): (cursor::Refusal, usize),
        serde: fn(&[u8]) -> Result<(), JsonError>,
    ) -> JsonError {
        match refusal {
            cursor::Refusal::TooDeep => JsonError::TooDeep,
            cursor::Refusal::SurrogateKey(key) => {
                let (line, column) = line_and_column(bytes, key);
                JsonError::SurrogateKey { line, column }
            }
            cursor::Refusal::Invalid => match serde(&cursor::mask_lone_surrogates(bytes)) {
                // serde_json stops recursing at 128 levels, short of [`MAX_DEPTH`]: past them it
                // cannot see the error, which is where the fast path stopped.
                Err(JsonError::Syntax(text)) if text.starts_with("recursion limit exceeded") => {
                    let (line, column) = line_and_column(bytes, at);
                    JsonError::Syntax(format!("invalid JSON at line {line} column {column}"))
                }
                Err(error) => error,
                // Unreachable: the fast paths accept every valid body.
                Ok(()) => {
                    let (line, column) = line_and_column(bytes, at);
                    JsonError::Syntax(format!("invalid JSON at line {line} column {column}"))
                }
            },
        }
    }
}

/// 1-based line and column (in bytes) of `at`, as serde_json counts them.
fn line_and_column(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |n| n + 1)
        + 1;
    (line, column)
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
    /// Whether `eventType` is a string holding a lone surrogate escape: a string with no text to
    /// name the event by (`event_type` is then `None`).
    pub event_type_lone_surrogate: bool,
    /// Whether `eventId` is a string holding a lone surrogate escape (`event_id` is then `None`).
    pub event_id_lone_surrogate: bool,
    /// Whether `type` is a string holding a lone surrogate escape (`type_member` is then `None`).
    pub type_member_lone_surrogate: bool,
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
