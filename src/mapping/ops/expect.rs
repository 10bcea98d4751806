//! `expect`: fail, naming the path, unless the value is present (or optional) and as expected.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::{kind_of, FieldPath};

use super::{short, Context, Doc, ExecError, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Expect {
    path: FieldPath,
    kind: Option<Kind>,
    one_of: Vec<Value>,
    optional: bool,
}

/// JSON kinds `expect` can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Number,
    Bool,
    Object,
    Array,
    Null,
}

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "string" => Kind::String,
            "number" => Kind::Number,
            "bool" => Kind::Bool,
            "object" => Kind::Object,
            "array" => Kind::Array,
            "null" => Kind::Null,
            _ => return None,
        })
    }

    fn matches(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (Kind::String, Value::String(_) | Value::RawString(_))
                | (Kind::Number, Value::Number(_))
                | (Kind::Bool, Value::Bool(_))
                | (Kind::Object, Value::Object(_))
                | (Kind::Array, Value::Array(_))
                | (Kind::Null, Value::Null)
        )
    }
}

impl Verb for Expect {
    const NAME: &'static str = "expect";
    const DOCS: &'static [Doc] = &[Doc {
        op: "expect",
        form: r#"`{ expect = "a", type = "string", one_of = [...] }`"#,
        meaning: r#"fail with an error naming the path unless the value is present and of that type (`string`, `number`, `bool`, `object`, `array`, `null`); `optional = true` allows absence"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        let path = op.path(Self::NAME)?;
        let kind = if op.has("type") {
            let name = op.string("type")?;
            match Kind::parse(&name) {
                Some(k) => Some(k),
                None => {
                    return op.fail(format!(
                        "unknown type {name:?} (string, number, bool, object, array, null)"
                    ))
                }
            }
        } else {
            None
        };
        let one_of = if op.has("one_of") {
            match op.json("one_of")? {
                Value::Array(values) => values,
                _ => return op.fail("`one_of` must be an array"),
            }
        } else {
            Vec::new()
        };
        let optional = op.has("optional") && op.bool("optional")?;
        Some(Expect {
            path,
            kind,
            one_of,
            optional,
        })
    }

    fn apply(&self, _cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let found = match self.path.get(value) {
            None if self.optional => return Ok(()),
            None => return Err(ExecError::at(&self.path, "required field is missing")),
            Some(found) => found,
        };
        if let Some(kind) = self.kind {
            if !kind.matches(found) {
                return Err(ExecError::at(
                    &self.path,
                    format!("expected {kind:?}, found {}", kind_of(found)).to_lowercase(),
                ));
            }
        }
        if !self.one_of.is_empty() && !self.one_of.contains(found) {
            return Err(ExecError::at(
                &self.path,
                format!("unexpected value {}", short(found)),
            ));
        }
        Ok(())
    }
}
