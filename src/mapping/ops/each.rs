//! `each`: run a transform on every element of an array, or every value of an object.

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::{kind_of, FieldPath};
use crate::mapping::reference::Describe;

use super::{Context, Doc, ExecError, Loc, Location, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Each {
    path: FieldPath,
    transform: usize,
}

impl Verb for Each {
    const NAME: &'static str = "each";
    const DOCS: &'static [Doc] = &[Doc {
        op: "each",
        form: r#"`{ each = "files", transform = "file_summary" }`"#,
        meaning: r#"run a transform to every element of an array, or to every value of an object (a map keyed by names not known in advance); absent or `null`: nothing"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        // `apply` here is the old spelling of `transform` (the compiler warned about it).
        let name_key = if op.has("apply") {
            "apply"
        } else {
            "transform"
        };
        Some(Each {
            path: op.path(Self::NAME)?,
            transform: op.transform_ref(name_key)?,
        })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let at = |last: Loc| {
            let mut segs = Location::of(&self.path).segs;
            segs.push(last);
            segs
        };
        match self.path.get_mut(value) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter_mut().enumerate() {
                    cx.run_within(
                        self.transform,
                        item,
                        || at(Loc::Index(i)),
                        || at(Loc::AnyIndex),
                    )?;
                }
            }
            // A map keyed by names not known in advance (e.g. output metadata per field).
            Some(Value::Object(entries)) => {
                for (key, item) in entries.iter_mut() {
                    cx.run_within(
                        self.transform,
                        item,
                        || at(Loc::Key(key.as_str().into())),
                        || at(Loc::AnyKey),
                    )?;
                }
            }
            Some(other) => {
                return Err(ExecError::at(
                    &self.path,
                    format!("expected an array or an object, found {}", kind_of(other)),
                ))
            }
        }
        Ok(())
    }

    fn describe(&self, reference: &mut Describe) {
        let prefix = format!("{}[*]", reference.at(&self.path));
        reference.walk(self.transform, &prefix);
    }
}
