//! The compiled form of a mapping step (rules, transforms, ops) and the pure execution of ops on JSON.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use crate::json::{Map, Value};

use super::path::{kind_of, Anchor, FieldPath, Segment};

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

/// What `map` does with a value it has no entry for.
#[derive(Debug, Clone)]
pub(crate) enum Fallback {
    Error,
    Keep,
    Value(Value),
}

/// What `unwrap` does with the elements after the first.
#[derive(Debug, Clone)]
pub(crate) enum Rest {
    Error,
    Drop,
    MoveTo(FieldPath),
}

/// JSON kinds `expect` can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Number,
    Bool,
    Object,
    Array,
    Null,
}

impl Kind {
    pub(crate) fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "string" => Kind::String,
            "number" => Kind::Number,
            "bool" => Kind::Bool,
            "object" => Kind::Object,
            "array" => Kind::Array,
            "null" => Kind::Null,
            _ => return None,
        })
    }

    fn matches(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (Kind::String, Value::String(_))
                | (Kind::Number, Value::Number(_))
                | (Kind::Bool, Value::Bool(_))
                | (Kind::Object, Value::Object(_))
                | (Kind::Array, Value::Array(_))
                | (Kind::Null, Value::Null)
        )
    }
}

/// One compiled operation. Transform references are indexes into [`Step::transforms`].
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Rename {
        from: FieldPath,
        to: FieldPath,
    },
    Copy {
        from: Anchor,
        to: FieldPath,
    },
    Drop {
        path: FieldPath,
        /// Report a dropped value that holds data (not `null`, `[]` or `{}`) as an unmapped field:
        /// input the target has no place for, counted rather than lost silently.
        report: bool,
    },
    Set {
        path: FieldPath,
        value: Source,
    },
    Default {
        path: FieldPath,
        value: Source,
        /// Also replace a `null` (not only an absent value).
        or_null: bool,
    },
    Map {
        path: FieldPath,
        values: HashMap<Box<str>, Value>,
        fallback: Fallback,
    },
    Unwrap {
        from: FieldPath,
        to: FieldPath,
        rest: Rest,
    },
    Wrap {
        from: FieldPath,
        to: FieldPath,
    },
    Each {
        path: FieldPath,
        transform: usize,
    },
    Apply {
        path: FieldPath,
        transform: usize,
    },
    Switch {
        path: FieldPath,
        cases: HashMap<Box<str>, usize>,
        default: Option<usize>,
        /// The transform for an absent value (else `default`).
        missing: Option<usize>,
    },
    Nest {
        path: FieldPath,
    },
    Unnest {
        path: FieldPath,
    },
    Append {
        from: FieldPath,
        to: FieldPath,
    },
    Partition {
        from: FieldPath,
        to: FieldPath,
        filter: Condition,
    },
    All {
        path: FieldPath,
        field: FieldPath,
        to: FieldPath,
    },
    KeepOnly {
        fields: Vec<Box<str>>,
    },
    Expect {
        path: FieldPath,
        kind: Option<Kind>,
        one_of: Vec<Value>,
        optional: bool,
    },
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
            self.undo(op, step, moves, depth);
        }
    }

    fn undo(&mut self, op: &Op, step: &Step, moves: &[Moved], depth: usize) {
        let segs = |p: &FieldPath| p.segments().iter().map(Loc::from).collect::<Vec<_>>();
        match op {
            Op::Rename { from, to }
            | Op::Copy {
                from: Anchor::Current(from),
                to,
            } => {
                if let Some(n) = self.inside(to) {
                    self.replace(n, segs(from));
                }
            }
            Op::Copy {
                from: Anchor::Input(slot),
                to,
            } => {
                if let (Some(n), Some(input)) = (self.inside(to), step.inputs.get(*slot)) {
                    self.replace(n, segs(input));
                    self.absolute = true;
                }
            }
            Op::Nest { path } => {
                if let Some(n) = self.inside(path) {
                    self.replace(n, []);
                }
            }
            Op::Unnest { path } => self.replace(0, segs(path)),
            Op::Wrap { from, to } => {
                if let Some(n) = self.inside(to) {
                    let element = matches!(self.segs.get(n), Some(Loc::Index(_) | Loc::AnyIndex));
                    self.replace(n + usize::from(element), segs(from));
                }
            }
            Op::Unwrap { from, to, .. } => {
                if let Some(n) = self.inside(to) {
                    let mut first = segs(from);
                    first.push(Loc::Index(0));
                    self.replace(n, first);
                }
            }
            Op::Append { from, to } | Op::Partition { from, to, .. } => {
                // The last run of this op is the one in the frame being unwound (transforms do
                // not call themselves): it recorded where each element came from.
                let record = moves
                    .iter()
                    .rev()
                    .find(|m| std::ptr::eq(m.op, op as *const Op));
                if let Some(n) = self.inside(to) {
                    match (self.segs.get(n), record) {
                        (Some(Loc::Index(i)), Some(record)) if *i >= record.to_len => {
                            let origin = record.moved.get(*i - record.to_len).copied();
                            let mut place = segs(from);
                            place.push(origin.map_or(Loc::AnyIndex, Loc::Index));
                            self.replace(n + 1, place);
                        }
                        (Some(Loc::Index(_)), Some(_)) => {}
                        // A report (any index): the elements that moved came from `from`.
                        _ => {
                            if let Some(index @ Loc::Index(_)) = self.segs.get_mut(n) {
                                *index = Loc::AnyIndex;
                            }
                            if let Op::Partition { .. } = op {
                                self.replace(n, segs(from));
                            }
                        }
                    }
                } else if let (Some(n), Some(record)) = (self.inside(from), record) {
                    // An element that stayed behind in the partitioned array moved up.
                    if let Some(Loc::Index(i)) = self.segs.get_mut(n) {
                        if let Some(original) = record.kept.get(*i) {
                            *i = *original;
                        }
                    }
                }
            }
            // A transform applied to a part (or the whole) of the object moved things inside it.
            Op::Apply { path, transform } if depth < 32 => {
                if let Some(n) = self.inside(path) {
                    let mut inner = Location {
                        segs: self.segs.split_off(n),
                        absolute: false,
                    };
                    inner.undo_all(&step.transforms[*transform].ops, step, moves, depth + 1);
                    if inner.absolute {
                        *self = inner;
                    } else {
                        self.segs.append(&mut inner.segs);
                    }
                }
            }
            _ => {}
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
    op: *const Op,
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
            match self.op(op, value) {
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

    fn op(&self, op: &Op, value: &mut Value) -> Result<(), ExecError> {
        match op {
            Op::Rename { from, to } => {
                if let Some(moved) = from.take(value) {
                    write_fresh(to, value, moved)?;
                }
            }
            Op::Copy { from, to } => {
                if let Some(copied) = self.read(from, value) {
                    write_fresh(to, value, copied)?;
                }
            }
            Op::Drop { path, report } => {
                let dropped = path.take(value);
                if *report && dropped.as_ref().is_some_and(holds_data) {
                    self.report(Location::of(path));
                }
            }
            Op::Set {
                path,
                value: source,
            } => {
                if let Some(new) = self.source(source, value) {
                    path.put(value, new).map_err(|m| ExecError::at(path, m))?;
                }
            }
            Op::Default {
                path,
                value: source,
                or_null,
            } => {
                let missing = match path.get(value) {
                    None => true,
                    Some(Value::Null) => *or_null,
                    Some(_) => false,
                };
                if missing {
                    match self.source(source, value) {
                        // A `null` read is no value to default from: the next default applies.
                        None => {}
                        Some(Value::Null) if matches!(source, Source::Read(_)) => {}
                        Some(new) => path.put(value, new).map_err(|m| ExecError::at(path, m))?,
                    }
                }
            }
            Op::Map {
                path,
                values,
                fallback,
            } => {
                if let Some(slot) = path.get_mut(value) {
                    let mapped = match slot {
                        Value::String(s) => values.get(s.as_str()),
                        _ => None,
                    };
                    match (mapped, fallback) {
                        (Some(new), _) => *slot = new.clone(),
                        (None, Fallback::Keep) => {}
                        (None, Fallback::Value(new)) => *slot = new.clone(),
                        (None, Fallback::Error) => {
                            return Err(ExecError::at(
                                path,
                                format!("value {} has no mapping", short(slot)),
                            ))
                        }
                    }
                }
            }
            Op::Unwrap { from, to, rest } => {
                if let Some(array) = from.take(value) {
                    let first = match array {
                        Value::Null => Value::Null,
                        Value::Array(mut items) => {
                            let remaining = if items.is_empty() {
                                Vec::new()
                            } else {
                                items.split_off(1)
                            };
                            if !remaining.is_empty() {
                                match rest {
                                    Rest::Error => {
                                        return Err(ExecError::at(
                                            from,
                                            format!(
                                                "expected at most one element, found {}",
                                                remaining.len() + 1
                                            ),
                                        ))
                                    }
                                    Rest::Drop => {
                                        let mut dropped = Location::of(from);
                                        dropped.segs.push(Loc::AnyIndex);
                                        self.report(dropped);
                                    }
                                    Rest::MoveTo(path) => {
                                        write_fresh(path, value, Value::Array(remaining))?
                                    }
                                }
                            }
                            items.pop().unwrap_or(Value::Null)
                        }
                        other => {
                            return Err(ExecError::at(
                                from,
                                format!("expected an array, found {}", kind_of(&other)),
                            ))
                        }
                    };
                    write_fresh(to, value, first)?;
                }
            }
            Op::Wrap { from, to } => {
                if let Some(single) = from.take(value) {
                    let array = match single {
                        Value::Null => Vec::new(),
                        other => vec![other],
                    };
                    write_fresh(to, value, Value::Array(array))?;
                }
            }
            Op::Each { path, transform } => match path.get_mut(value) {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => {
                    let at = |last: Loc| {
                        let mut segs = Location::of(path).segs;
                        segs.push(last);
                        segs
                    };
                    for (i, item) in items.iter_mut().enumerate() {
                        self.run_within(
                            *transform,
                            item,
                            || at(Loc::Index(i)),
                            || at(Loc::AnyIndex),
                        )?;
                    }
                }
                // A map keyed by names not known in advance (e.g. output metadata per field).
                Some(Value::Object(entries)) => {
                    let at = |last: Loc| {
                        let mut segs = Location::of(path).segs;
                        segs.push(last);
                        segs
                    };
                    for (key, item) in entries.iter_mut() {
                        self.run_within(
                            *transform,
                            item,
                            || at(Loc::Key(key.as_str().into())),
                            || at(Loc::AnyKey),
                        )?;
                    }
                }
                Some(other) => {
                    return Err(ExecError::at(
                        path,
                        format!("expected an array or an object, found {}", kind_of(other)),
                    ))
                }
            },
            Op::Apply { path, transform } => match path.get_mut(value) {
                None | Some(Value::Null) => {}
                Some(target) => self.run_within(
                    *transform,
                    target,
                    || Location::of(path).segs,
                    || Location::of(path).segs,
                )?,
            },
            Op::Switch {
                path,
                cases,
                default,
                missing,
            } => {
                // Strings select by their text; `null`, booleans, numbers, `{}` and `[]` by their
                // JSON spelling; an absent value by `missing`.
                let chosen = match path.get(value) {
                    None => missing.or(*default),
                    Some(Value::String(s)) => cases.get(s.as_str()).copied(),
                    Some(other @ (Value::Null | Value::Bool(_) | Value::Number(_))) => {
                        cases.get(other.to_string().as_str()).copied()
                    }
                    Some(Value::Object(map)) if map.is_empty() => cases.get("{}").copied(),
                    Some(Value::Array(items)) if items.is_empty() => cases.get("[]").copied(),
                    _ => None,
                };
                match chosen.or(*default) {
                    Some(transform) => self.run(transform, value)?,
                    None => {
                        let found = path.get(value).map_or("nothing".to_owned(), short);
                        return Err(ExecError::at(path, format!("no case for {found}")));
                    }
                }
            }
            Op::Nest { path } => {
                let inner = std::mem::replace(value, Value::Object(Map::new()));
                path.put(value, inner).map_err(|m| ExecError::at(path, m))?;
            }
            Op::Unnest { path } => {
                let Some(inner) = path.take(value) else {
                    return Err(ExecError::at(
                        path,
                        "expected a value to unnest, found nothing",
                    ));
                };
                path.prune_empty_parents(value);
                // What the mapping did not move or drop has no place once the object is replaced:
                // fields the sender added after the mapping was written. Dropped and reported,
                // never a reason to refuse the event.
                if let Value::Object(left) = value {
                    for key in left.keys() {
                        self.report(Location::key(key.as_str()));
                    }
                }
                *value = inner;
            }
            Op::Append { from, to } => {
                if let Some(moved) = from.take(value) {
                    let items = match moved {
                        Value::Null => Vec::new(),
                        Value::Array(items) => items,
                        other => {
                            return Err(ExecError::at(
                                from,
                                format!("expected an array, found {}", kind_of(&other)),
                            ))
                        }
                    };
                    self.moves.borrow_mut().push(Moved {
                        op,
                        to_len: array_len(to, value),
                        moved: (0..items.len()).collect(),
                        kept: Vec::new(),
                    });
                    extend_array(to, value, items)?;
                }
            }
            Op::Partition { from, to, filter } => {
                let (mut moved_at, mut kept_at) = (Vec::new(), Vec::new());
                let moved = match from.get_mut(value) {
                    None | Some(Value::Null) => return Ok(()),
                    Some(Value::Array(items)) => {
                        let (mut matching, mut kept) = (Vec::new(), Vec::new());
                        for (i, item) in std::mem::take(items).into_iter().enumerate() {
                            if filter.holds(&item) {
                                moved_at.push(i);
                                matching.push(item);
                            } else {
                                kept_at.push(i);
                                kept.push(item);
                            }
                        }
                        *items = kept;
                        matching
                    }
                    Some(other) => {
                        return Err(ExecError::at(
                            from,
                            format!("expected an array, found {}", kind_of(other)),
                        ))
                    }
                };
                self.moves.borrow_mut().push(Moved {
                    op,
                    to_len: array_len(to, value),
                    moved: moved_at,
                    kept: kept_at,
                });
                extend_array(to, value, moved)?;
            }
            Op::All { path, field, to } => {
                let all = match path.get(value) {
                    Some(Value::Array(items)) => items
                        .iter()
                        .all(|item| field.get(item) == Some(&Value::Bool(true))),
                    None | Some(Value::Null) => return Ok(()),
                    Some(other) => {
                        return Err(ExecError::at(
                            path,
                            format!("expected an array, found {}", kind_of(other)),
                        ))
                    }
                };
                to.put(value, Value::Bool(all))
                    .map_err(|m| ExecError::at(to, m))?;
            }
            Op::KeepOnly { fields } => match value {
                Value::Object(map) => map.retain(|k, _| {
                    let kept = fields.iter().any(|f| **f == *k);
                    if !kept {
                        self.report(Location::key(k.as_str()));
                    }
                    kept
                }),
                other => {
                    return Err(ExecError {
                        location: Location::default(),
                        message: format!("keep_only expects an object, found {}", kind_of(other)),
                    })
                }
            },
            Op::Expect {
                path,
                kind,
                one_of,
                optional,
            } => match path.get(value) {
                None if *optional => {}
                None => return Err(ExecError::at(path, "required field is missing")),
                Some(found) => {
                    if let Some(kind) = kind {
                        if !kind.matches(found) {
                            return Err(ExecError::at(
                                path,
                                format!("expected {kind:?}, found {}", kind_of(found))
                                    .to_lowercase(),
                            ));
                        }
                    }
                    if !one_of.is_empty() && !one_of.contains(found) {
                        return Err(ExecError::at(
                            path,
                            format!("unexpected value {}", short(found)),
                        ));
                    }
                }
            },
        }
        Ok(())
    }
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

/// Whether a dropped value carried anything: `null`, `[]` and `{}` say nothing was there.
fn holds_data(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_the_golden_timestamp() {
        assert_eq!(rfc3339(1_771_000_000), "2026-02-13T16:26:40Z");
    }
}
