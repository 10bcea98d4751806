//! `unwrap`: an array to its first element; what follows is an error, dropped or moved.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::{kind_of, FieldPath};
use crate::mapping::reference::Describe;

use super::{segs, write_fresh, Context, Doc, ExecError, Loc, Location, Moved, Step, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Unwrap {
    from: FieldPath,
    to: FieldPath,
    rest: Rest,
}

/// What `unwrap` does with the elements after the first.
#[derive(Debug, Clone)]
enum Rest {
    Error,
    Drop,
    MoveTo(FieldPath),
}

impl Verb for Unwrap {
    const NAME: &'static str = "unwrap";
    const DOCS: &'static [Doc] = &[Doc {
        op: "unwrap",
        form: r#"`{ unwrap = "files", to = "file", rest = "drop", reason = "..." }`"#,
        meaning: r#"array to its first element (`[]` to `null`); more than one element is an error unless `rest = "drop"` (with reason; the dropped elements are reported as the unmapped field `files[*]`) or `rest_to = "path"`"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        let from = op.path(Self::NAME)?;
        let to = op.path("to")?;
        let rest = match (op.has("rest"), op.has("rest_to")) {
            (false, false) => Rest::Error,
            (true, false) => {
                if op.string("rest")? != "drop" {
                    return op.fail("`rest` can only be \"drop\" (or use `rest_to`)");
                }
                op.reason()?;
                Rest::Drop
            }
            (false, true) => Rest::MoveTo(op.path("rest_to")?),
            (true, true) => return op.fail("`rest` and `rest_to` exclude each other"),
        };
        Some(Unwrap { from, to, rest })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let Some(array) = self.from.take(value) else {
            return Ok(());
        };
        let first = match array {
            Value::Null => Value::Null,
            Value::Array(mut items) => {
                let remaining = if items.is_empty() {
                    Vec::new()
                } else {
                    items.split_off(1)
                };
                if !remaining.is_empty() {
                    match &self.rest {
                        Rest::Error => {
                            return Err(ExecError::at(
                                &self.from,
                                format!(
                                    "expected at most one element, found {}",
                                    remaining.len() + 1
                                ),
                            ))
                        }
                        Rest::Drop => {
                            let mut dropped = Location::of(&self.from);
                            dropped.segs.push(Loc::AnyIndex);
                            cx.report(dropped);
                        }
                        Rest::MoveTo(path) => write_fresh(path, value, Value::Array(remaining))?,
                    }
                }
                items.pop().unwrap_or(Value::Null)
            }
            other => {
                return Err(ExecError::at(
                    &self.from,
                    format!("expected an array, found {}", kind_of(&other)),
                ))
            }
        };
        write_fresh(&self.to, value, first)
    }

    fn undo(&self, location: &mut Location, _step: &Step, _moves: &[Moved], _depth: usize) {
        if let Some(n) = location.inside(&self.to) {
            let mut first = segs(&self.from);
            first.push(Loc::Index(0));
            location.replace(n, first);
        }
    }

    fn describe(&self, reference: &mut Describe) {
        if let Rest::Drop = self.rest {
            reference.dropped(format!("{}[1..]", reference.at(&self.from)));
        }
    }
}
