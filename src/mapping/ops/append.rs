//! `append`: move the elements of one array to the end of another.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::{kind_of, FieldPath};

use super::{array_len, extend_array, segs, Context, Doc, ExecError, Loc, Location, Moved, Step, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Append {
    from: FieldPath,
    to: FieldPath,
}

impl Verb for Append {
    const NAME: &'static str = "append";
    const DOCS: &'static [Doc] = &[Doc {
        op: "append",
        form: r#"`{ append = "outputs", to = "stepRuns" }`"#,
        meaning: r#"move the elements of one array to the end of another (created when absent)"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        Some(Append {
            from: op.path(Self::NAME)?,
            to: op.path("to")?,
        })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let Some(moved) = self.from.take(value) else {
            return Ok(());
        };
        let items = match moved {
            Value::Null => Vec::new(),
            Value::Array(items) => items,
            other => {
                return Err(ExecError::at(
                    &self.from,
                    format!("expected an array, found {}", kind_of(&other)),
                ))
            }
        };
        cx.moves.borrow_mut().push(Moved {
            op: (self as *const Self).cast(),
            to_len: array_len(&self.to, value),
            moved: (0..items.len()).collect(),
            kept: Vec::new(),
        });
        extend_array(&self.to, value, items)
    }

    fn undo(&self, location: &mut Location, _step: &Step, moves: &[Moved], _depth: usize) {
        let op = (self as *const Self).cast();
        undo_move(location, op, &self.from, &self.to, moves, false);
    }
}

/// Turns a place after an `append` or `partition` (op `op`, from `from` to `to`) into the place
/// before it, by what the op's last run recorded. `partition`: elements move only when they match,
/// so a report (any index) at `to` names `from`, and the ones left behind in `from` moved up.
pub(super) fn undo_move(
    location: &mut Location,
    op: *const (),
    from: &FieldPath,
    to: &FieldPath,
    moves: &[Moved],
    partition: bool,
) {
    // The last run of this op is the one in the frame being unwound (transforms do
    // not call themselves): it recorded where each element came from.
    let record = moves.iter().rev().find(|m| std::ptr::eq(m.op, op));
    if let Some(n) = location.inside(to) {
        match (location.segs.get(n), record) {
            (Some(Loc::Index(i)), Some(record)) if *i >= record.to_len => {
                let origin = record.moved.get(*i - record.to_len).copied();
                let mut place = segs(from);
                place.push(origin.map_or(Loc::AnyIndex, Loc::Index));
                location.replace(n + 1, place);
            }
            (Some(Loc::Index(_)), Some(_)) => {}
            // A report (any index): the elements that moved came from `from`.
            _ => {
                if let Some(index @ Loc::Index(_)) = location.segs.get_mut(n) {
                    *index = Loc::AnyIndex;
                }
                if partition {
                    location.replace(n, segs(from));
                }
            }
        }
    } else if let (Some(n), Some(record)) = (location.inside(from), record) {
        // An element that stayed behind in the partitioned array moved up.
        if let Some(Loc::Index(i)) = location.segs.get_mut(n) {
            if let Some(original) = record.kept.get(*i) {
                *i = *original;
            }
        }
    }
}
