//! `copy`: copy a value (from the current object or, `$.`-anchored, the input event) to a path.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::{Anchor, FieldPath};
use crate::mapping::reference::Describe;

use super::{segs, write_fresh, Context, Doc, ExecError, Location, Moved, Step, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Copy {
    from: Anchor,
    to: FieldPath,
}

impl Verb for Copy {
    const NAME: &'static str = "copy";
    const DOCS: &'static [Doc] = &[Doc {
        op: "copy",
        form: r#"`{ copy = "a", to = "b" }`"#,
        meaning: r#"copy the value (source may be `$.`-anchored); absent source: nothing"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        Some(Copy {
            from: op.anchor(Self::NAME)?,
            to: op.path("to")?,
        })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        if let Some(copied) = cx.read(&self.from, value) {
            write_fresh(&self.to, value, copied)?;
        }
        Ok(())
    }

    fn undo(&self, location: &mut Location, step: &Step, _moves: &[Moved], _depth: usize) {
        let Some(n) = location.inside(&self.to) else {
            return;
        };
        match &self.from {
            Anchor::Current(from) => location.replace(n, segs(from)),
            Anchor::Input(slot) => {
                if let Some(input) = step.inputs.get(*slot) {
                    location.replace(n, segs(input));
                    location.absolute = true;
                }
            }
        }
    }

    fn describe(&self, reference: &mut Describe) {
        let source = match &self.from {
            Anchor::Current(p) => format!("copy of `{}`", reference.at(p)),
            Anchor::Input(slot) => format!("copy of input `$.{}`", reference.input(*slot)),
        };
        reference.synthesized(reference.at(&self.to), source);
    }

    fn reads(&self) -> Option<&Anchor> {
        Some(&self.from)
    }
}
