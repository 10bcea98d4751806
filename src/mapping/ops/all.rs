//! `all`: whether every element of an array has a field that is `true`.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::{kind_of, FieldPath};
use crate::mapping::reference::Describe;

use super::{Context, Doc, ExecError, Verb};

#[derive(Debug, Clone)]
pub(crate) struct All {
    path: FieldPath,
    field: FieldPath,
    to: FieldPath,
}

impl Verb for All {
    const NAME: &'static str = "all";
    const DOCS: &'static [Doc] = &[Doc {
        op: "all",
        form: r#"`{ all = "rules", field = "valid", to = "allPassed" }`"#,
        meaning: r#"`true` when every element's `field` is `true` (an empty array gives `true`)"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        Some(All {
            path: op.path(Self::NAME)?,
            field: op.path("field")?,
            to: op.path("to")?,
        })
    }

    fn apply(&self, _cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let all = match self.path.get(value) {
            Some(Value::Array(items)) => items
                .iter()
                .all(|item| self.field.get(item) == Some(&Value::Bool(true))),
            None | Some(Value::Null) => return Ok(()),
            Some(other) => {
                return Err(ExecError::at(
                    &self.path,
                    format!("expected an array, found {}", kind_of(other)),
                ))
            }
        };
        self.to
            .put(value, Value::Bool(all))
            .map_err(|m| ExecError::at(&self.to, m))
    }

    fn describe(&self, reference: &mut Describe) {
        let source = format!(
            "whether every `{}[*].{}` is true",
            reference.at(&self.path),
            self.field
        );
        reference.synthesized(reference.at(&self.to), source);
    }
}
