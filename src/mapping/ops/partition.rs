//! `partition`: move the elements of an array that match a condition to the end of another.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::{kind_of, FieldPath};

use super::append::undo_move;
use super::{array_len, extend_array, Condition, Context, Doc, ExecError, Location, Moved, Step, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Partition {
    from: FieldPath,
    to: FieldPath,
    filter: Condition,
}

impl Verb for Partition {
    const NAME: &'static str = "partition";
    const DOCS: &'static [Doc] = &[Doc {
        op: "partition",
        form: r#"`{ partition = "stepRuns", to = "outputs", where = { stepType = ["EXTRACT", "CLASSIFY"] } }`"#,
        meaning: r#"move the elements that match `where` to the end of another array"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        let from = op.path(Self::NAME)?;
        let to = op.path("to")?;
        Some(Partition {
            from,
            to,
            filter: op.condition("where")?,
        })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let (mut moved_at, mut kept_at) = (Vec::new(), Vec::new());
        let moved = match self.from.get_mut(value) {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Array(items)) => {
                let (mut matching, mut kept) = (Vec::new(), Vec::new());
                for (i, item) in std::mem::take(items).into_iter().enumerate() {
                    if self.filter.holds(&item) {
                        moved_at.push(i);
                        matching.push(item);
                    } else {
                        kept_at.push(i);
                        kept.push(item);
                    }
                }
                *items = kept;
                matching
            }
            Some(other) => {
                return Err(ExecError::at(
                    &self.from,
                    format!("expected an array, found {}", kind_of(other)),
                ))
            }
        };
        cx.moves.borrow_mut().push(Moved {
            op: (self as *const Self).cast(),
            to_len: array_len(&self.to, value),
            moved: moved_at,
            kept: kept_at,
        });
        extend_array(&self.to, value, moved)
    }

    fn undo(&self, location: &mut Location, _step: &Step, moves: &[Moved], _depth: usize) {
        let op = (self as *const Self).cast();
        undo_move(location, op, &self.from, &self.to, moves, true);
    }
}
