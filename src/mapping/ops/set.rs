//! `set`: write a constant, a fact of the delivery or `null`.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::{Anchor, FieldPath};
use crate::mapping::reference::Describe;

use super::{Context, DeliveryFact, Doc, ExecError, Source, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Set {
    path: FieldPath,
    value: Source,
}

impl Verb for Set {
    const NAME: &'static str = "set";
    const DOCS: &'static [Doc] = &[Doc {
        op: "set",
        form: r#"`{ set = "a", value = <json> }`"#,
        meaning: r#"write a constant"#,
    }, Doc {
        op: "set from delivery",
        form: r#"`{ set = "a", delivery = "timestamp" }`"#,
        meaning: r#"write a fact of the delivery (see below)"#,
    }, Doc {
        op: "set null",
        form: r#"`{ set = "a", null = true }`"#,
        meaning: r#"write JSON `null` (TOML has no null literal)"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        let path = op.path(Self::NAME)?;
        let value = match (op.has("value"), op.has("delivery"), op.has("null")) {
            (true, false, false) => Source::Const(op.json("value")?),
            (false, true, false) => Source::Delivery(op.delivery()?),
            (false, false, true) => Source::Const(op.null()?),
            _ => return op.fail("`set` takes exactly one of `value`, `delivery` or `null = true`"),
        };
        Some(Set { path, value })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        if let Some(new) = cx.source(&self.value, value) {
            self.path
                .put(value, new)
                .map_err(|m| ExecError::at(&self.path, m))?;
        }
        Ok(())
    }

    fn describe(&self, reference: &mut Describe) {
        describe_write(reference, &self.path, &self.value, "");
    }

    fn reads(&self) -> Option<&Anchor> {
        self.value.reads()
    }
}

/// The reference entry of a value `set` or `default` writes at `path` (`when`: how `default` limits it).
pub(super) fn describe_write(reference: &mut Describe, path: &FieldPath, value: &Source, when: &str) {
    let source = match value {
        // Constants that only restate a type discriminator are not worth listing.
        Source::Const(_) if path.as_str() == "object" || path.as_str().ends_with(".object") => {
            return
        }
        Source::Const(v) => format!("constant `{v}`{when}"),
        Source::Read(Anchor::Current(from)) => format!("`{}`{when}", reference.at(from)),
        Source::Read(Anchor::Input(slot)) => format!("input `$.{}`{when}", reference.input(*slot)),
        Source::Delivery(DeliveryFact::Timestamp) => {
            format!("the delivery's signature timestamp (RFC 3339){when}")
        }
        Source::Delivery(DeliveryFact::TimestampUnix) => {
            format!("the delivery's signature timestamp (unix){when}")
        }
    };
    reference.synthesized(reference.at(path), source);
}
