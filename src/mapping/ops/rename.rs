//! `rename`: move a value to another path.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::FieldPath;

use super::{segs, write_fresh, Context, Doc, ExecError, Location, Moved, Step, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Rename {
    from: FieldPath,
    to: FieldPath,
}

impl Verb for Rename {
    const NAME: &'static str = "rename";
    const DOCS: &'static [Doc] = &[Doc {
        op: "rename",
        form: r#"`{ rename = "a", to = "b.c" }`"#,
        meaning: r#"move the value; absent source: nothing happens. A destination that holds a value other than `null` or `{}` is an error"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        Some(Rename {
            from: op.path(Self::NAME)?,
            to: op.path("to")?,
        })
    }

    fn apply(&self, _cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        if let Some(moved) = self.from.take(value) {
            write_fresh(&self.to, value, moved)?;
        }
        Ok(())
    }

    fn undo(&self, location: &mut Location, _step: &Step, _moves: &[Moved], _depth: usize) {
        if let Some(n) = location.inside(&self.to) {
            location.replace(n, segs(&self.from));
        }
    }
}
