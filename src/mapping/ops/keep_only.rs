//! `keep_only`: close the object, removing (and reporting) every field but the ones named.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::kind_of;
use crate::mapping::reference::Describe;

use super::{Context, Doc, ExecError, Location, Verb};

#[derive(Debug, Clone)]
pub(crate) struct KeepOnly {
    fields: Vec<Box<str>>,
}

impl Verb for KeepOnly {
    const NAME: &'static str = "keep_only";
    const DOCS: &'static [Doc] = &[Doc {
        op: "keep_only",
        form: r#"`{ keep_only = ["id", "name"], reason = "..." }`"#,
        meaning: r#"close the object: remove every other field (each reported as an unmapped field; `keep_only = []` after moving every known key out reports what is left)"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        op.reason()?;
        let fields = op
            .string_list(Self::NAME)?
            .into_iter()
            .map(String::into_boxed_str)
            .collect();
        Some(KeepOnly { fields })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        match value {
            Value::Object(map) => {
                map.retain(|k, _| {
                    let kept = self.fields.iter().any(|f| **f == *k);
                    if !kept {
                        cx.report(Location::key(k.as_str()));
                    }
                    kept
                });
                Ok(())
            }
            other => Err(ExecError {
                location: Location::default(),
                message: format!("keep_only expects an object, found {}", kind_of(other)),
            }),
        }
    }

    fn describe(&self, reference: &mut Describe) {
        let path = format!("{}.* except {}", reference.prefix(), self.fields.join(", "));
        reference.dropped(path);
    }
}
