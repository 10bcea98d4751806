//! `apply`: run a transform on the object at a path.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::FieldPath;
use crate::mapping::reference::Describe;

use super::{Context, Doc, ExecError, Location, Moved, Step, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Apply {
    path: FieldPath,
    transform: usize,
}

impl Verb for Apply {
    const NAME: &'static str = "apply";
    const DOCS: &'static [Doc] = &[Doc {
        op: "apply",
        form: r#"`{ apply = "config", transform = "extract_config" }`"#,
        meaning: r#"run a transform on the object at a path (absent or `null`: nothing)"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        Some(Apply {
            path: op.path(Self::NAME)?,
            transform: op.transform_ref("transform")?,
        })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        match self.path.get_mut(value) {
            None | Some(Value::Null) => Ok(()),
            Some(target) => cx.run_within(
                self.transform,
                target,
                || Location::of(&self.path).segs,
                || Location::of(&self.path).segs,
            ),
        }
    }

    /// The transform moved things inside the part (or the whole) of the object it ran on.
    fn undo(&self, location: &mut Location, step: &Step, moves: &[Moved], depth: usize) {
        if depth >= 32 {
            return;
        }
        if let Some(n) = location.inside(&self.path) {
            let mut inner = Location {
                segs: location.segs.split_off(n),
                absolute: false,
            };
            inner.undo_all(&step.transforms[self.transform].ops, step, moves, depth + 1);
            if inner.absolute {
                *location = inner;
            } else {
                location.segs.append(&mut inner.segs);
            }
        }
    }

    fn describe(&self, reference: &mut Describe) {
        let prefix = reference.at(&self.path);
        reference.walk(self.transform, &prefix);
    }
}
