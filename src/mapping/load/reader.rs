//! Reading the keys of one op table for a verb's `parse`: typed getters whose errors name the file,
//! line and key, and the keys left unused reported.

use toml_edit::InlineTable;

use super::{Compiler, Errors, SourceFile};
use crate::json::Value;
use crate::mapping::ops::{Condition, DeliveryFact, Field};
use crate::mapping::path::{Anchor, FieldPath};

/// Reads the keys of one op table, remembering which were used so the rest can be reported. Each
/// verb's `parse` reads its keys through it.
pub(crate) struct OpReader<'a, 'e, 'n> {
    pub(super) file: &'a SourceFile,
    pub(super) errs: &'a mut Errors<'e>,
    pub(super) key: &'a str,
    pub(super) table: &'a InlineTable,
    pub(super) line: usize,
    pub(super) used: Vec<&'static str>,
    pub(super) compiler: &'a mut Compiler<'n>,
    /// The transform the op belongs to (the caller in the call graph).
    pub(super) owner: usize,
}

impl OpReader<'_, '_, '_> {
    pub(crate) fn has(&self, k: &str) -> bool {
        self.table.contains_key(k)
    }

    pub(crate) fn fail<T>(&mut self, message: impl Into<String>) -> Option<T> {
        self.errs.push(self.line, self.key, message);
        None
    }

    fn mark(&mut self, k: &'static str) {
        if !self.used.contains(&k) {
            self.used.push(k);
        }
    }

    pub(crate) fn get(&mut self, k: &'static str) -> Option<&toml_edit::Value> {
        self.mark(k);
        let value = self.table.get(k);
        if value.is_none() {
            self.errs.push(
                self.line,
                format!("{}.{k}", self.key),
                "required key is missing",
            );
        }
        value
    }

    pub(crate) fn string(&mut self, k: &'static str) -> Option<String> {
        let value = self.get(k)?;
        let (text, span) = (value.as_str().map(str::to_owned), value.span());
        match text {
            Some(s) => Some(s),
            None => {
                let line = self.file.line(span).max(self.line);
                self.errs
                    .push(line, format!("{}.{k}", self.key), "must be a string");
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, k: &'static str) -> Option<bool> {
        let value = self.get(k)?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => self.fail(format!("`{k}` must be true or false")),
        }
    }

    pub(crate) fn json(&mut self, k: &'static str) -> Option<Value> {
        self.get(k).map(toml_to_json)
    }

    pub(crate) fn path(&mut self, k: &'static str) -> Option<FieldPath> {
        let text = self.string(k)?;
        if text.starts_with("$.") {
            return self.fail(format!(
                "`{k}` is written to: it cannot be a `$.` (input event) path"
            ));
        }
        self.parse_path(k, &text)
    }

    fn parse_path(&mut self, k: &str, text: &str) -> Option<FieldPath> {
        match FieldPath::parse(text) {
            Ok(p) => Some(p),
            Err(m) => {
                self.errs.push(self.line, format!("{}.{k}", self.key), m);
                None
            }
        }
    }

    /// `null = true`: TOML has no null, so a JSON null is asked for by name.
    pub(crate) fn null(&mut self) -> Option<Value> {
        if self.bool("null")? {
            Some(Value::Null)
        } else {
            self.fail("`null` can only be `true` (leave it out otherwise)")
        }
    }

    pub(crate) fn reason(&mut self) -> Option<String> {
        let reason = self.string("reason")?;
        if reason.trim().is_empty() {
            return self.fail("`reason` must say why the value is dropped");
        }
        Some(reason)
    }

    pub(crate) fn delivery(&mut self) -> Option<DeliveryFact> {
        match self.string("delivery")?.as_str() {
            "timestamp" => Some(DeliveryFact::Timestamp),
            "timestamp_unix" => Some(DeliveryFact::TimestampUnix),
            other => self.fail(format!(
                "unknown delivery fact {other:?} (timestamp, timestamp_unix)"
            )),
        }
    }

    pub(crate) fn string_table(&mut self, k: &'static str) -> Option<Vec<(String, Value)>> {
        match self.get(k)?.as_inline_table() {
            Some(t) => Some(
                t.iter()
                    .map(|(k, v)| (k.to_owned(), toml_to_json(v)))
                    .collect(),
            ),
            None => self.fail(format!("`{k}` must be a table")),
        }
    }

    pub(crate) fn string_list(&mut self, k: &'static str) -> Option<Vec<String>> {
        match self.json(k)? {
            Value::Array(items) if items.iter().all(Value::is_string) => Some(
                items
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => self.fail(format!("`{k}` must be a list of strings")),
        }
    }

    pub(crate) fn condition(&mut self, k: &'static str) -> Option<Condition> {
        let mut condition = Condition::default();
        for (field, value) in self.string_table(k)? {
            let path = match Field::parse(&field) {
                Ok(p) => p,
                Err(m) => return self.fail(m),
            };
            let accepted = match value {
                Value::Array(any) => any,
                one => vec![one],
            };
            condition.0.push((path, accepted));
        }
        Some(condition)
    }

    /// A path read from: `$.`-anchored paths read the input event (each a capture slot of the step).
    pub(crate) fn anchor(&mut self, k: &'static str) -> Option<Anchor> {
        let text = self.string(k)?;
        if let Some(rest) = text.strip_prefix("$.") {
            let path = match FieldPath::parse(rest) {
                Ok(p) => p,
                Err(m) => return self.fail(m),
            };
            let inputs = &mut self.compiler.inputs;
            let slot = match inputs.iter().position(|(_, t)| *t == text) {
                Some(slot) => slot,
                None => {
                    inputs.push((path, text));
                    inputs.len() - 1
                }
            };
            Some(Anchor::Input(slot))
        } else {
            self.parse_path(k, &text).map(Anchor::Current)
        }
    }

    /// The transform the string at `k` names.
    pub(crate) fn transform_ref(&mut self, k: &'static str) -> Option<usize> {
        let name = self.string(k)?;
        self.resolve(k, &name)
    }

    /// The transform called `name` (named at key `k`), recorded as called by the op's transform.
    pub(crate) fn resolve(&mut self, k: &str, name: &str) -> Option<usize> {
        match self.compiler.names.get(name) {
            Some(&(index, _, _)) => {
                self.compiler.edges[self.owner].push(index);
                Some(index)
            }
            None => {
                let mut known: Vec<&str> = self.compiler.names.keys().map(String::as_str).collect();
                known.sort_unstable();
                self.errs.push(
                    self.line,
                    format!("{}.{k}", self.key),
                    format!("unknown transform {name:?} (known: {})", known.join(", ")),
                );
                None
            }
        }
    }

    pub(super) fn unknown_keys(&mut self) {
        let unknown: Vec<String> = self
            .table
            .iter()
            .map(|(k, _)| k.to_owned())
            .filter(|k| !self.used.contains(&k.as_str()))
            .collect();
        for k in unknown {
            self.errs.push(
                self.line,
                format!("{}.{k}", self.key),
                "unknown key for this op",
            );
        }
    }
}

/// Converts a TOML constant to JSON (datetimes become their RFC 3339 text).
pub(super) fn toml_to_json(value: &toml_edit::Value) -> Value {
    use toml_edit::Value as T;
    match value {
        T::String(s) => Value::from(s.value().as_str()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => serde_json::Number::from_f64(*f.value())
            .map_or(Value::Null, |n| serde_json::Value::Number(n).into()),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::from(d.value().to_string()),
        T::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        T::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), toml_to_json(v)))
                .collect(),
        ),
    }
}
