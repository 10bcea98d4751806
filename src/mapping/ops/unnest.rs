//! `unnest`: replace the current object by the object at a path.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::FieldPath;

use super::{segs, Context, Doc, ExecError, Location, Moved, Step, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Unnest {
    path: FieldPath,
}

impl Verb for Unnest {
    const NAME: &'static str = "unnest";
    const DOCS: &'static [Doc] = &[Doc {
        op: "unnest",
        form: r#"`{ unnest = "result.extractRun" }`"#,
        meaning: r#"replace the current object by the object at that path. Fields the mapping moved or dropped before are expected; any other field still present (one the sender added after the mapping was written) is dropped and reported as an unmapped field, never an error"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        Some(Unnest {
            path: op.path(Self::NAME)?,
        })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let Some(inner) = self.path.take(value) else {
            return Err(ExecError::at(
                &self.path,
                "expected a value to unnest, found nothing",
            ));
        };
        self.path.prune_empty_parents(value);
        // What the mapping did not move or drop has no place once the object is replaced:
        // fields the sender added after the mapping was written. Dropped and reported,
        // never a reason to refuse the event.
        if let Value::Object(left) = value {
            for key in left.keys() {
                cx.report(Location::key(key.as_str()));
            }
        }
        *value = inner;
        Ok(())
    }

    fn undo(&self, location: &mut Location, _step: &Step, _moves: &[Moved], _depth: usize) {
        location.replace(0, segs(&self.path));
    }
}
