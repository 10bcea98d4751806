//! `nest`: move the whole current object under a path.

use crate::json::{Map, Value};
use crate::mapping::load::OpReader;
use crate::mapping::path::FieldPath;

use super::{Context, Doc, ExecError, Location, Moved, Step, Verb};

#[derive(Debug, Clone)]
pub(crate) struct Nest {
    path: FieldPath,
}

impl Verb for Nest {
    const NAME: &'static str = "nest";
    const DOCS: &'static [Doc] = &[Doc {
        op: "nest",
        form: r#"`{ nest = "result.extractRun" }`"#,
        meaning: r#"move the whole current object under that path (the current object becomes `{result:{extractRun:{...}}}`)"#,
    }];

    fn parse(op: &mut OpReader) -> Option<Self> {
        Some(Nest {
            path: op.path(Self::NAME)?,
        })
    }

    fn apply(&self, _cx: &Context, value: &mut Value) -> Result<(), ExecError> {
        let inner = std::mem::replace(value, Value::Object(Map::new()));
        self.path
            .put(value, inner)
            .map_err(|m| ExecError::at(&self.path, m))
    }

    fn undo(&self, location: &mut Location, _step: &Step, _moves: &[Moved], _depth: usize) {
        if let Some(n) = location.inside(&self.path) {
            location.replace(n, []);
        }
    }
}
