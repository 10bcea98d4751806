//! `map`: replace an enum value by the one a table gives it.

use std::collections::HashMap;

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::FieldPath;
use crate::mapping::reference::Describe;

use super::{short, Context, Doc, ExecError, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Map {
    path: FieldPath,
    values: HashMap<Box<str>, Value>,
    fallback: Fallback,
}

/// What `map` does with a value it has no entry for.
#[derive(Debug, Clone)]
enum Fallback {
    Error,
    Keep,
    Value(Value),
}

impl Verb for Map {
    const NAME: &'static str = "map";
    const DOCS: &'static [Doc] = &[Doc {
        op: "map",
        form: r#"`{ map = "a", values = { OLD = "NEW" }, fallback = <json> }`"#,
        meaning: r#"replace an enum value; no `fallback`: an unknown value is an error; `keep_unknown = true` keeps it"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        let path = op.path(Self::NAME)?;
        let values = op
            .string_table("values")?
            .into_iter()
            .map(|(k, v)| (k.into_boxed_str(), v))
            .collect();
        let fallback = match (op.has("fallback"), op.has("keep_unknown")) {
            (true, true) => return op.fail("`fallback` and `keep_unknown` exclude each other"),
            (true, false) => Fallback::Value(op.json("fallback")?),
            (false, true) if op.bool("keep_unknown")? => Fallback::Keep,
            _ => Fallback::Error,
        };
        Some(Map {
            path,
            values,
            fallback,
        })
    }

    fn apply(&self, _cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let Some(slot) = self.path.get_mut(value) else {
            return Ok(());
        };
        let mapped = match slot {
            Value::String(s) => self.values.get(s.as_str()),
            _ => None,
        };
        match (mapped, &self.fallback) {
            (Some(new), _) => *slot = new.clone(),
            (None, Fallback::Keep) => {}
            (None, Fallback::Value(new)) => *slot = new.clone(),
            (None, Fallback::Error) => {
                return Err(ExecError::at(
                    &self.path,
                    format!("value {} has no mapping", short(slot)),
                ))
            }
        }
        Ok(())
    }

    fn describe(&self, reference: &mut Describe) {
        if let Fallback::Value(v) = &self.fallback {
            reference.synthesized(
                reference.at(&self.path),
                format!("`{v}` for values the map does not know"),
            );
        }
    }
}
