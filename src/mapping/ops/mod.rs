//! The compiled form of a mapping step (rules, transforms, ops) and the pure execution of ops on JSON.
//!
//! Every verb of the language lives in one file of this folder: how it compiles from its TOML table
//! (errors naming file, line and key), how it rewrites a value (pure), how a place after it maps back
//! to the place before it, and what it adds to the mapping reference and the docs table. [`verbs!`]
//! below is the one list of them: the compiler, the executor, the reference and the docs read it.
//! Adding a verb is one new file and one line there (then refresh the generated ops table of
//! docs/mapping-language.md, which a test keeps current).

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use crate::json::Value;

use super::load::OpReader;
use super::path::{kind_of, Anchor, FieldPath, Segment};
use super::reference::Describe;

/// One row of the ops table of the language page: the name, a form and what it does.
pub(crate) struct Doc {
    pub(crate) op: &'static str,
    pub(crate) form: &'static str,
    pub(crate) meaning: &'static str,
}

/// One verb of the mapping language: its compiled form and everything the engine does with it.
pub(crate) trait Verb: Sized {
    /// The key an op table starts with (`{ rename = "a", to = "b" }`).
    const NAME: &'static str;
    /// Its rows in the ops table of the language page (a verb with several forms has several).
    const DOCS: &'static [Doc];

    /// Compiles the op from its table; every problem goes to the reader's errors (file, line, key).
    fn parse(op: &mut OpReader) -> Option<Self>;

    /// Runs the op on `value`, the object the current transform runs on. Pure: reads only `value`
    /// and what the context holds (the captured input, the delivery facts).
    fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError>;

    /// Turns `location`, a place after this op ran, into the place it had before (ops that move
    /// nothing leave it).
    fn undo(&self, _location: &mut Location, _step: &Step, _moves: &[Moved], _depth: usize) {}

    /// What the op means for the reader of the mapping reference (drops, synthesized values), and
    /// the transforms it runs.
    fn describe(&self, _reference: &mut Describe) {}

    /// The value it reads, when it reads one (for the `$.` inputs a rule must capture).
    fn reads(&self) -> Option<&Anchor> {
        None
    }
}

/// The verbs of the language, in the order of the docs table: `module::Type`, one a line. Generates
/// the modules, [`Op`], [`VERBS`] and the dispatch of every [`Verb`] method.
macro_rules! verbs {
    ($($module:ident::$verb:ident),+ $(,)?) => {
        $(mod $module;)+

        /// One compiled operation. Transform references are indexes into [`Step::transforms`].
        #[derive(Debug, Clone)]
        pub(crate) enum Op {
            $($verb($module::$verb),)+
        }

        /// Verbs an op may start with; an op table holds exactly one of them.
        pub(crate) const VERBS: &[&str] = &[$(<$module::$verb as Verb>::NAME),+];

        /// The rows of the ops table, verb by verb.
        pub(crate) const DOCS: &[&[Doc]] = &[$(<$module::$verb as Verb>::DOCS),+];

        impl Op {
            /// Compiles the op of `verb` (one of [`VERBS`]).
            pub(crate) fn parse(verb: &str, op: &mut OpReader) -> Option<Op> {
                $(if verb == <$module::$verb as Verb>::NAME {
                    return <$module::$verb as Verb>::parse(op).map(Op::$verb);
                })+
                unreachable!("{verb:?} is not in the verb list")
            }

            pub(crate) fn apply(&self, cx: &Context, value: &mut Value) -> Result<(), ExecError> {
                match self {
                    $(Op::$verb(op) => op.apply(cx, value),)+
                }
            }

            fn undo(&self, location: &mut Location, step: &Step, moves: &[Moved], depth: usize) {
                match self {
                    $(Op::$verb(op) => op.undo(location, step, moves, depth),)+
                }
            }

            pub(crate) fn describe(&self, reference: &mut Describe) {
                match self {
                    $(Op::$verb(op) => op.describe(reference),)+
                }
            }

            pub(crate) fn reads(&self) -> Option<&Anchor> {
                match self {
                    $(Op::$verb(op) => op.reads(),)+
                }
            }
        }
    };
}

verbs! {
    rename::Rename,
    copy::Copy,
    drop::Drop,
    set::Set,
    default::Default,
    map::Map,
    unwrap::Unwrap,
    wrap::Wrap,
    each::Each,
    apply::Apply,
    switch::Switch,
    nest::Nest,
    unnest::Unnest,
    append::Append,
    partition::Partition,
    all::All,
    keep_only::KeepOnly,
    expect::Expect,
}

/// The ops table of the language page (docs/mapping-language.md), from every verb's [`Verb::DOCS`].
pub fn ops_table_markdown() -> String {
    let mut out = String::from("| op | form | meaning |\n|---|---|---|\n");
    for doc in DOCS.iter().copied().flatten() {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            doc.op, doc.form, doc.meaning
        ));
    }
    out
}

/// A fact of the delivery that an op may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryFact {
    /// The signature timestamp as RFC 3339 UTC.
    Timestamp,
    /// The signature timestamp as unix seconds.
    TimestampUnix,
}

/// Where a written value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Const(Value),
    Read(Anchor),
    Delivery(DeliveryFact),
}

impl Source {
    /// The value it reads, when it is read from the event.
    fn reads(&self) -> Option<&Anchor> {
        match self {
            Source::Read(anchor) => Some(anchor),
            Source::Const(_) | Source::Delivery(_) => None,
        }
    }
}

/// The field a condition tests: one path, or alternatives `stepType|step.type` of which the first
/// present one counts (one discriminator that moved between versions of a payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    paths: Vec<FieldPath>,
    text: String,
}

impl Field {
    pub(crate) fn parse(text: &str) -> Result<Field, String> {
        Ok(Field {
            paths: text
                .split('|')
                .map(FieldPath::parse)
                .collect::<Result<_, _>>()?,
            text: text.to_owned(),
        })
    }

    pub(crate) fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.paths.iter().find_map(|p| p.get(value))
    }

    /// The alternative a message names: the one present in `value`, else the first.
    pub(crate) fn place_in(&self, value: &Value) -> &FieldPath {
        self.paths
            .iter()
            .find(|p| p.get(value).is_some())
            .unwrap_or(&self.paths[0])
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Field equalities that must all hold; each field may accept several values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition(pub(crate) Vec<(Field, Vec<Value>)>);

impl Condition {
    pub(crate) fn holds(&self, value: &Value) -> bool {
        self.0
            .iter()
            .all(|(path, accepted)| path.get(value).is_some_and(|v| accepted.contains(v)))
    }
}

/// A named (or rule-inline) list of ops.
#[derive(Debug)]
pub(crate) struct Transform {
    pub(crate) name: String,
    pub(crate) ops: Vec<Op>,
    /// Each op's `reason` or `note`, for the mapping reference.
    pub(crate) notes: Vec<Option<String>>,
    /// Each op: a one-way drop of a two-way step that the other direction does not write back,
    /// so a round trip loses it (the rule's lossy entries are derived from these).
    pub(crate) losses: Vec<bool>,
}

impl Transform {
    pub(crate) fn new(name: String) -> Transform {
        Transform {
            name,
            ops: Vec::new(),
            notes: Vec::new(),
            losses: Vec::new(),
        }
    }

    /// The compiled ops of a one-way file: none derives a lossy entry.
    pub(crate) fn set_ops(&mut self, compiled: Vec<(Op, Option<String>)>) {
        self.losses = vec![false; compiled.len()];
        (self.ops, self.notes) = compiled.into_iter().unzip();
    }

    /// The compiled ops of a two-way file, each with whether it is a loss.
    pub(crate) fn set_directed_ops(&mut self, compiled: Vec<(Op, Option<String>, bool)>) {
        self.ops = Vec::with_capacity(compiled.len());
        self.notes = Vec::with_capacity(compiled.len());
        self.losses = Vec::with_capacity(compiled.len());
        for (op, note, loss) in compiled {
            self.ops.push(op);
            self.notes.push(note);
            self.losses.push(loss);
        }
    }
}

/// A rule: which events it takes and the transform that rewrites their payload.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: String,
    pub(crate) file: Arc<str>,
    pub(crate) line: usize,
    /// Old event type to new event type.
    pub(crate) events: HashMap<String, String>,
    pub(crate) when: Condition,
    pub(crate) body: usize,
    /// Slots of the step's capture table this rule's transforms read (`$.` paths).
    pub(crate) captures: Vec<usize>,
    /// Event-root path patterns a round trip cannot restore, with the reason.
    pub(crate) lossy: Vec<(String, String)>,
    /// `counterpart = false`: the events this rule takes have none in the target version (the
    /// reason, for the mapping reference); they are unmapped, not translated.
    pub(crate) no_counterpart: Option<String>,
    /// A change unit's `description` (rules of one-way files have none).
    pub(crate) description: Option<String>,
    /// A change unit: its lossy entries also come from the losses of its transforms.
    pub(crate) derives_lossy: bool,
}

/// One compiled version step (`FROM_to_TO`).
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) transforms: Vec<Transform>,
    pub(crate) rules: Vec<Rule>,
    /// Rules taking each old event type.
    pub(crate) by_event: HashMap<String, Vec<usize>>,
    /// The `$.` paths of the step, read from the input event before a rule runs.
    pub(crate) inputs: Vec<FieldPath>,
}

/// One step of a [`Location`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Loc {
    Key(Box<str>),
    Index(usize),
    /// Some element of an array: reports never name indexes (metric labels stay bounded), and an
    /// element moved between arrays by `append` / `partition` no longer knows its input index.
    AnyIndex,
    /// Some key of a map keyed by names not known in advance (`each` over an object).
    AnyKey,
}

/// A place in the event. While ops run it is relative to the object the current transform runs on;
/// unwinding turns it back, op by op, into a place in the transform's input, so at the rule it is a
/// place in the input payload (or, once it went through a `$.` read, in the input event: `absolute`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) segs: Vec<Loc>,
    pub(crate) absolute: bool,
}

/// How deep a reported path goes; deeper fields are counted at their ancestor (bounded labels).
pub(crate) const REPORT_DEPTH: usize = 8;

impl Location {
    pub(crate) fn of(path: &FieldPath) -> Location {
        Location {
            segs: path.segments().iter().map(Loc::from).collect(),
            absolute: false,
        }
    }

    fn key(key: &str) -> Location {
        Location {
            segs: vec![Loc::Key(key.into())],
            absolute: false,
        }
    }

    fn under(mut self, prefix: impl IntoIterator<Item = Loc>) -> Location {
        if !self.absolute {
            let mut segs: Vec<Loc> = prefix.into_iter().collect();
            segs.append(&mut self.segs);
            self.segs = segs;
        }
        self
    }

    /// How many leading segments `path` covers, when the location lies at or under it.
    fn inside(&self, path: &FieldPath) -> Option<usize> {
        let prefix = path.segments();
        if self.absolute || prefix.len() > self.segs.len() {
            return None;
        }
        prefix
            .iter()
            .zip(&self.segs)
            .all(|(p, s)| match (p, s) {
                (Segment::Key(a), Loc::Key(b)) => a == b,
                (Segment::Index(a), Loc::Index(b)) => a == b,
                (Segment::Index(_), Loc::AnyIndex) => true,
                _ => false,
            })
            .then_some(prefix.len())
    }

    fn replace(&mut self, covered: usize, with: impl IntoIterator<Item = Loc>) {
        self.segs.splice(..covered, with);
    }

    /// Turns the location from "after these ops" into "before them".
    pub(crate) fn undo_all(&mut self, ops: &[Op], step: &Step, moves: &[Moved], depth: usize) {
        for op in ops.iter().rev() {
            if self.absolute {
                return;
            }
            op.undo(self, step, moves, depth);
        }
    }

    /// The location as a path from the event root (`payload.outputs[0].files`), `[*]` / `*` for
    /// any index / key, at most `depth` segments deep.
    pub(crate) fn render(&self, depth: usize) -> String {
        let mut out = String::new();
        if !self.absolute {
            out.push_str("payload");
        }
        for seg in self.segs.iter().take(depth) {
            match seg {
                Loc::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Loc::AnyKey => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push('*');
                }
                Loc::Index(i) => out.push_str(&format!("[{i}]")),
                Loc::AnyIndex => out.push_str("[*]"),
            }
        }
        if out.is_empty() {
            out.push('.');
        }
        out
    }
}

impl From<&Segment> for Loc {
    fn from(segment: &Segment) -> Loc {
        match segment {
            Segment::Key(k) => Loc::Key(k.clone()),
            Segment::Index(i) => Loc::Index(*i),
        }
    }
}

/// Where the elements an `append` or `partition` moved came from, so a failure inside one of them
/// names its place in the input (recorded per run of the op; elements only move in a few ops).
#[derive(Debug)]
pub(crate) struct Moved {
    /// The op that moved them, by address (the compiled step does not move while it runs).
    op: *const (),
    /// The destination's length before the move: elements from there on were moved in.
    to_len: usize,
    /// The source index of each moved element, in order.
    moved: Vec<usize>,
    /// The source index of each element left in the source (`partition`), in order.
    kept: Vec<usize>,
}

/// Why an op failed, and where.
#[derive(Debug)]
pub(crate) struct ExecError {
    pub(crate) location: Location,
    pub(crate) message: String,
}

impl ExecError {
    fn at(path: &FieldPath, message: impl Into<String>) -> ExecError {
        ExecError {
            location: Location::of(path),
            message: message.into(),
        }
    }

    /// Prefixes the place where a nested transform ran.
    fn within(mut self, prefix: impl IntoIterator<Item = Loc>) -> ExecError {
        self.location = self.location.under(prefix);
        self
    }
}

/// What ops can read besides the object they run on, and what they report.
pub(crate) struct Context<'a> {
    pub(crate) step: &'a Step,
    pub(crate) captures: &'a [Option<Value>],
    pub(crate) timestamp: i64,
    pub(crate) timestamp_text: OnceCell<String>,
    /// Input fields the ops dropped without a mapping saying so (an unnest's leftovers, what a
    /// `keep_only` closes off, the elements after the first of `unwrap … rest = "drop"`).
    pub(crate) unmapped: RefCell<Vec<Location>>,
    pub(crate) moves: RefCell<Vec<Moved>>,
}

impl Context<'_> {
    fn delivery(&self, fact: DeliveryFact) -> Value {
        match fact {
            DeliveryFact::TimestampUnix => Value::from(self.timestamp),
            DeliveryFact::Timestamp => Value::from(
                self.timestamp_text
                    .get_or_init(|| rfc3339(self.timestamp))
                    .as_str(),
            ),
        }
    }

    fn read(&self, anchor: &Anchor, current: &Value) -> Option<Value> {
        match anchor {
            Anchor::Current(path) => path.get(current).cloned(),
            Anchor::Input(slot) => self.captures.get(*slot).cloned().flatten(),
        }
    }

    fn source(&self, source: &Source, current: &Value) -> Option<Value> {
        match source {
            Source::Const(value) => Some(value.clone()),
            Source::Read(anchor) => self.read(anchor, current),
            Source::Delivery(fact) => Some(self.delivery(*fact)),
        }
    }

    fn report(&self, location: Location) {
        self.unmapped.borrow_mut().push(location);
    }

    /// Runs a transform's ops, in order, on `value`. Locations of errors and reports raised by op
    /// `k` are turned back through ops `0..k`, so they name the place in this transform's input.
    pub(crate) fn run(&self, transform: usize, value: &mut Value) -> Result<(), ExecError> {
        let ops = &self.step.transforms[transform].ops;
        for (k, op) in ops.iter().enumerate() {
            let reported = self.unmapped.borrow().len();
            match op.apply(self, value) {
                Ok(()) => {
                    let mut unmapped = self.unmapped.borrow_mut();
                    if unmapped.len() > reported {
                        for location in &mut unmapped[reported..] {
                            location.undo_all(&ops[..k], self.step, &self.moves.borrow(), 0);
                        }
                    }
                }
                Err(mut e) => {
                    e.location
                        .undo_all(&ops[..k], self.step, &self.moves.borrow(), 0);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Runs a nested transform on the value at `prefix`, prefixing its errors with `exact` and its
    /// reports with `bounded` (the same place, indexes and keys generalized).
    fn run_within(
        &self,
        transform: usize,
        value: &mut Value,
        exact: impl Fn() -> Vec<Loc>,
        bounded: impl Fn() -> Vec<Loc>,
    ) -> Result<(), ExecError> {
        let reported = self.unmapped.borrow().len();
        let result = self.run(transform, value);
        {
            let mut unmapped = self.unmapped.borrow_mut();
            if unmapped.len() > reported {
                for location in &mut unmapped[reported..] {
                    *location = std::mem::take(location).under(bounded());
                }
            }
        }
        result.map_err(|e| e.within(exact()))
    }
}

/// The segments of a path, as a location.
fn segs(path: &FieldPath) -> Vec<Loc> {
    path.segments().iter().map(Loc::from).collect()
}

/// Writes where nothing meaningful is yet: `null` and `{}` may be replaced, anything else is a conflict.
fn write_fresh(to: &FieldPath, value: &mut Value, new: Value) -> Result<(), ExecError> {
    to.put_fresh(value, new).map_err(|m| ExecError::at(to, m))
}

fn array_len(path: &FieldPath, value: &Value) -> usize {
    match path.get(value) {
        Some(Value::Array(items)) => items.len(),
        _ => 0,
    }
}

fn extend_array(to: &FieldPath, value: &mut Value, items: Vec<Value>) -> Result<(), ExecError> {
    match to.get_mut(value) {
        Some(Value::Array(existing)) => existing.extend(items),
        None | Some(Value::Null) => to
            .put(value, Value::Array(items))
            .map_err(|m| ExecError::at(to, m))?,
        Some(other) => {
            return Err(ExecError::at(
                to,
                format!("expected an array, found {}", kind_of(other)),
            ))
        }
    }
    Ok(())
}

/// A value for an error message: enum-like strings are shown, anything long or structured only by kind.
pub(crate) fn short(value: &Value) -> String {
    match value {
        Value::String(s) if s.len() <= 40 => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => kind_of(other).into(),
    }
}

/// Formats unix seconds as RFC 3339 UTC (`2026-02-13T16:26:40Z`).
pub(crate) fn rfc3339(unix: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_the_golden_timestamp() {
        assert_eq!(rfc3339(1_771_000_000), "2026-02-13T16:26:40Z");
    }
}
