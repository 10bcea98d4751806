//! `switch`: run the transform the value at a path selects, on the current object.

use std::collections::HashMap;

use crate::json::Value;
use crate::mapping::load::OpReader;
use crate::mapping::path::FieldPath;
use crate::mapping::reference::Describe;

use super::{short, Context, Doc, ExecError, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Switch {
    path: FieldPath,
    cases: HashMap<Box<str>, usize>,
    /// The transform `otherwise` names.
    default: Option<usize>,
    /// The transform for an absent value (else `default`).
    missing: Option<usize>,
}

impl Verb for Switch {
    const NAME: &'static str = "switch";
    const DOCS: &'static [Doc] = &[Doc {
        op: "switch",
        form: r#"`{ switch = "type", cases = { EXTRACT = "t1", CLASSIFY = "t2" }, otherwise = "t3", missing = "t5" }`"#,
        meaning: r#"apply the transform the value at the path selects, to the current object (strings select by their text; `null`, booleans, numbers and the empty `{}` / `[]` by their JSON spelling, e.g. `"null" = "t4"`, `"{}" = "t6"`; an absent value selects `missing`, else `otherwise`); no match and no `otherwise`: error"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        let path = op.path(Self::NAME)?;
        let mut cases = HashMap::new();
        for (case, target) in op.string_table("cases")? {
            let Value::String(name) = target else {
                return op.fail(format!("case {case:?} must name a transform"));
            };
            cases.insert(case.into_boxed_str(), op.resolve("cases", &name)?);
        }
        let default = if op.has("otherwise") {
            let name = op.string("otherwise")?;
            Some(op.resolve("otherwise", &name)?)
        } else {
            None
        };
        let missing = if op.has("missing") {
            let name = op.string("missing")?;
            Some(op.resolve("missing", &name)?)
        } else {
            None
        };
        Some(Switch {
            path,
            cases,
            default,
            missing,
        })
    }

    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        // Strings select by their text; `null`, booleans, numbers, `{}` and `[]` by their JSON
        // spelling; an absent value by `missing`.
        let chosen = match self.path.get(value) {
            None => self.missing.or(self.default),
            Some(Value::String(s)) => self.cases.get(s.as_str()).copied(),
            Some(other @ (Value::Null | Value::Bool(_) | Value::Number(_))) => {
                self.cases.get(other.to_string().as_str()).copied()
            }
            Some(Value::Object(map)) if map.is_empty() => self.cases.get("{}").copied(),
            Some(Value::Array(items)) if items.is_empty() => self.cases.get("[]").copied(),
            _ => None,
        };
        match chosen.or(self.default) {
            Some(transform) => cx.run(transform, value),
            None => {
                let found = self.path.get(value).map_or("nothing".to_owned(), short);
                Err(ExecError::at(&self.path, format!("no case for {found}")))
            }
        }
    }

    fn describe(&self, reference: &mut Describe) {
        let mut targets: Vec<usize> = self
            .cases
            .values()
            .copied()
            .chain(self.default)
            .chain(self.missing)
            .collect();
        targets.sort_unstable();
        targets.dedup();
        let prefix = reference.prefix().to_owned();
        for target in targets {
            reference.walk(target, &prefix);
        }
    }
}
