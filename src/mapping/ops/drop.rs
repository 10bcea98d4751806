//! `drop`: remove a value, saying why (the reason lands in the mapping reference).

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::FieldPath;
use crate::mapping::reference::Describe;

use super::{Context, Doc, ExecError, Location, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Drop {
    path: FieldPath,
    /// Report a dropped value that holds data (not `null`, `[]` or `{}`) as an unmapped field:
    /// input the target has no place for, counted rather than lost silently.
    report: bool,
}

impl Verb for Drop {
    const NAME: &'static str = "drop";
    const DOCS: &'static [Doc] = &[Doc {
        op: "drop",
        form: r#"`{ drop = "a", reason = "..." }`"#,
        meaning: r#"remove the value; `reason` is required and lands in the mapping reference. `report = true`: a dropped value that holds data (not `null`, `[]` or `{}`) is reported as an unmapped field (input the target has no place for, counted rather than lost silently)"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        op.reason()?;
        let report = op.has("report") && op.bool("report")?;
        Some(Drop {
            path: op.path(Self::NAME)?,
            report,
        })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let dropped = self.path.take(value);
        if self.report && dropped.as_ref().is_some_and(holds_data) {
            cx.report(Location::of(&self.path));
        }
        Ok(())
    }

    fn describe(&self, reference: &mut Describe) {
        reference.dropped(reference.at(&self.path));
    }
}

/// Whether a dropped value carried anything: `null`, `[]` and `{}` say nothing was there.
fn holds_data(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => true,
    }
}
