//! `default`: write a value only where there is none (or, with `or_null`, only `null`).

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::{Anchor, FieldPath};
use crate::mapping::reference::Describe;

use super::set::describe_write;
use super::{Context, Doc, ExecError, Source, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Default {
    path: FieldPath,
    value: Source,
    /// Also replace a `null` (not only an absent value).
    or_null: bool,
}

impl Verb for Default {
    const NAME: &'static str = "default";
    const DOCS: &'static [Doc] = &[Doc {
        op: "default",
        form: r#"`{ default = "a", value = <json> }` / `from = "path"` / `delivery = "..."` / `null = true`; `or_null = true`"#,
        meaning: r#"write only when `a` is absent (with `or_null = true`: absent or `null`). A `from` that reads `null` (or nothing) writes nothing, so the next `default` of a chain applies: `null` is not a value to default from"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        let path = op.path(Self::NAME)?;
        let value = match (
            op.has("value"),
            op.has("from"),
            op.has("delivery"),
            op.has("null"),
        ) {
            (true, false, false, false) => Source::Const(op.json("value")?),
            (false, true, false, false) => Source::Read(op.anchor("from")?),
            (false, false, true, false) => Source::Delivery(op.delivery()?),
            (false, false, false, true) => Source::Const(op.null()?),
            _ => {
                return op.fail(
                    "`default` takes exactly one of `value`, `from`, `delivery` or `null = true`",
                )
            }
        };
        let or_null = op.has("or_null") && op.bool("or_null")?;
        Some(Default {
            path,
            value,
            or_null,
        })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let missing = match self.path.get(value) {
            None => true,
            Some(Value::Null) => self.or_null,
            Some(_) => false,
        };
        if missing {
            match cx.source(&self.value, value) {
                // A `null` read is no value to default from: the next default applies.
                None => {}
                Some(Value::Null) if matches!(self.value, Source::Read(_)) => {}
                Some(new) => self
                    .path
                    .put(value, new)
                    .map_err(|m| ExecError::at(&self.path, m))?,
            }
        }
        Ok(())
    }

    fn describe(&self, reference: &mut Describe) {
        describe_write(reference, &self.path, &self.value, " when absent");
    }

    fn reads(&self) -> Option<&Anchor> {
        self.value.reads()
    }
}
