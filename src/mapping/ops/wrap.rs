//! `wrap`: a value to a one-element array (`null` to `[]`).

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::FieldPath;

use super::{segs, write_fresh, Context, Doc, ExecError, Loc, Location, Moved, Step, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Wrap {
    from: FieldPath,
    to: FieldPath,
}

impl Verb for Wrap {
    const NAME: &'static str = "wrap";
    const DOCS: &'static [Doc] = &[Doc {
        op: "wrap",
        form: r#"`{ wrap = "file", to = "files" }`"#,
        meaning: r#"value to a one-element array; `null` to `[]`"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        Some(Wrap {
            from: op.path(Self::NAME)?,
            to: op.path("to")?,
        })
    }

    fn apply(&self, _cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        if let Some(single) = self.from.take(value) {
            let array = match single {
                Value::Null => Vec::new(),
                other => vec![other],
            };
            write_fresh(&self.to, value, Value::Array(array))?;
        }
        Ok(())
    }

    fn undo(&self, location: &mut Location, _step: &Step, _moves: &[Moved], _depth: usize) {
        if let Some(n) = location.inside(&self.to) {
            let element = matches!(location.segs.get(n), Some(Loc::Index(_) | Loc::AnyIndex));
            location.replace(n + usize::from(element), segs(&self.from));
        }
    }
}
