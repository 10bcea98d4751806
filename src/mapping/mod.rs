//! Declarative event translation: mapping files compiled once into plans, applied by a pure [`translate`].
//!
//! The language is documented in `docs/mapping-language.md`. [`Mappings::load`] reads every step folder
//! (`FROM_to_TO`) under a directory, reports every error with file, line and key, and precomputes a
//! [`Plan`] for every pair of versions the steps connect. [`translate`] runs a plan on one event: no IO,
//! no clock (the delivery's timestamp comes in as [`Delivery`]).

pub mod catalogue;
mod coverage;
mod golden;
pub mod identity;
mod load;
mod ops;
mod path;
mod reference;

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::json::Value;

pub use golden::GoldenCase;
pub use ops::ops_table_markdown;
use ops::{Context, Step};

/// Facts of one delivery that mappings may read (never the clock: the caller passes them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The sender's signature timestamp, unix seconds.
    pub timestamp: i64,
}

/// Every mapping step found under a directory, compiled, with the plans for every reachable version pair.
#[derive(Debug)]
pub struct Mappings {
    dir: PathBuf,
    steps: Vec<Arc<Step>>,
    plans: HashMap<(String, String), Plan>,
    /// Every event type a rule names or the catalogue lists: the ones metric labels name.
    known_event_types: HashSet<String>,
    catalogue: catalogue::Catalogue,
    /// The envelope member the rules rewrite (`payload`, Plextera's `data`): `versions.toml`'s
    /// `payload`, else [`DEFAULT_PAYLOAD_KEY`].
    payload_key: Arc<str>,
    /// The envelope member naming the event type (`eventType`, Standard Webhooks' `type`):
    /// `versions.toml`'s `event_type`, else [`DEFAULT_EVENT_TYPE_KEY`].
    event_type_key: Arc<str>,
    warnings: Vec<LoadError>,
    identities: identity::Identities,
}

/// The envelope member a mapping set rewrites unless its `versions.toml` names another: Extend's.
pub const DEFAULT_PAYLOAD_KEY: &str = "payload";
/// The envelope member naming the event type unless `versions.toml` names another.
pub const DEFAULT_EVENT_TYPE_KEY: &str = "eventType";

/// The compiled translation from one version to another: the steps to run, in order.
#[derive(Debug, Clone)]
pub struct Plan {
    from: String,
    to: String,
    steps: Vec<Arc<Step>>,
    /// The envelope member the steps rewrite.
    payload_key: Arc<str>,
    /// The envelope member naming the event type.
    event_type_key: Arc<str>,
}

/// All problems found while loading mapping files; each names file, line and key.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct LoadErrors(pub Vec<LoadError>);

/// One problem in one mapping file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// Why an event could not be translated.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TranslateError {
    /// The value is not an event envelope (`eventType` string and the payload member).
    #[error("not an event: {0}")]
    NotAnEvent(String),
    /// The event has no counterpart in the target version: no rule names its type, or the rule that
    /// takes it declares `counterpart = false` (e.g. PARSE step runs going to 2025-04-21).
    #[error("no mapping from {from} to {to} covers event type {event_type:?}")]
    Unmapped {
        event_type: String,
        from: String,
        to: String,
    },
    /// Rules name the event type but the event did not have the shape they expect: no rule's `when`
    /// holds (`rule` then lists the candidates), or an op of the rule that took it failed. `file` is
    /// relative to the mappings folder (`STEP/FILE.toml`), `path` a place in the input event
    /// (`payload.outputs[1].files`; `[*]` where the index is not known).
    #[error("mapping {rule:?} ({file}) failed at {path}: {message}")]
    Failed {
        rule: String,
        file: String,
        path: String,
        message: String,
    },
}

/// No chain of steps leads from one version to the other.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no mapping steps lead from version {from} to {to}")]
pub struct NoPath {
    pub from: String,
    pub to: String,
}

impl Mappings {
    /// Loads and compiles every step folder (`FROM_to_TO`) under `dir`, reporting all errors.
    pub fn load(dir: &Path) -> Result<Mappings, LoadErrors> {
        let mut errors = Vec::new();
        let mut folders: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect(),
            Err(e) => {
                return Err(LoadErrors(vec![LoadError {
                    file: dir.display().to_string(),
                    line: 0,
                    key: "mappings.dir".into(),
                    message: format!("cannot read the mappings folder: {e}"),
                }]))
            }
        };
        folders.sort();
        // The envelope members are known before the steps load: inverting a change for the way down
        // writes paths under the payload member.
        let (payload_key, event_type_key): (Arc<str>, Arc<str>) =
            if dir.join(VERSION_ORDER_FILE).is_file() {
                (
                    envelope_member_of(dir, PAYLOAD_MEMBER, &mut errors),
                    envelope_member_of(dir, EVENT_TYPE_MEMBER, &mut errors),
                )
            } else {
                (
                    Arc::from(DEFAULT_PAYLOAD_KEY),
                    Arc::from(DEFAULT_EVENT_TYPE_KEY),
                )
            };
        let folder_files = read_step_folders(&folders, &mut errors);
        let mut warnings = Vec::new();
        let mut steps = Vec::new();
        for (from, to) in step_pairs(&folder_files) {
            let mut sources: Vec<(&load::SourceFile, load::Direction)> = Vec::new();
            if let Some(files) = folder_files.get(&(from.clone(), to.clone())) {
                sources.extend(files.iter().map(|f| {
                    let direction = if f.two_way {
                        load::Direction::Up
                    } else {
                        load::Direction::OneWay
                    };
                    (f, direction)
                }));
            }
            if let Some(files) = folder_files.get(&(to.clone(), from.clone())) {
                sources.extend(
                    files
                        .iter()
                        .filter(|f| f.two_way)
                        .map(|f| (f, load::Direction::Down)),
                );
            }
            let step = load::load_step(
                &sources,
                &from,
                &to,
                &payload_key,
                &mut errors,
                &mut warnings,
            );
            if let Some(step) = step {
                steps.push(Arc::new(step));
            }
        }
        dedup_errors(&mut errors);
        dedup_errors(&mut warnings);
        warnings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        let order = load_version_order(dir, &steps, &mut errors);
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        // Each version's event types the rules name: a rule takes its old types in the step's
        // `from` version and gives its new ones in `to`.
        let mut named: HashSet<(&str, &str)> = HashSet::new();
        for step in &steps {
            for rule in &step.rules {
                for (old, new) in &rule.events {
                    named.insert((step.from.as_str(), old.as_str()));
                    named.insert((step.to.as_str(), new.as_str()));
                }
            }
        }
        let versions: Vec<&str> = steps
            .iter()
            .flat_map(|s| [s.from.as_str(), s.to.as_str()])
            .collect::<BTreeSet<&str>>()
            .into_iter()
            .collect();
        let catalogue = catalogue::Catalogue::load(dir, &versions, &mut errors);
        let identities = identity::Identities::load(
            dir,
            &versions,
            &event_type_key,
            |version, t| named.contains(&(version, t)) || catalogue.lists(version, t),
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        let known_event_types: HashSet<String> = named
            .iter()
            .map(|&(_, t)| t)
            .chain(catalogue.all())
            .map(str::to_owned)
            .collect();
        let plans = all_plans(&steps, order.as_deref(), (&payload_key, &event_type_key));
        Ok(Mappings {
            dir: dir.to_owned(),
            steps,
            plans,
            known_event_types,
            catalogue,
            payload_key,
            event_type_key,
            warnings,
            identities,
        })
    }

    /// The plan from `from` to `to`: the adjacent steps between them along `versions.toml`'s order (or the
    /// one step folder for the pair when there is no order file). Equal versions: no steps.
    pub fn plan(&self, from: &str, to: &str) -> Result<&Plan, NoPath> {
        self.plans
            .get(&(from.to_owned(), to.to_owned()))
            .ok_or_else(|| NoPath {
                from: from.to_owned(),
                to: to.to_owned(),
            })
    }

    /// The envelope member the rules rewrite: a route translating with this set must be of a provider
    /// whose events carry their payload there.
    pub fn payload_key(&self) -> &str {
        &self.payload_key
    }

    /// The envelope member naming the event type: a route translating with this set must be of a
    /// provider whose events name it there.
    pub fn event_type_key(&self) -> &str {
        &self.event_type_key
    }

    /// Every event type some rule names (as input or output) or the catalogue lists, in any version:
    /// the `event_type` label values of routes using this set (anything else is `other`).
    pub fn known_event_types(&self) -> impl Iterator<Item = &str> {
        self.known_event_types.iter().map(String::as_str)
    }

    /// Whether an event type is named by any rule (as input or output) or listed by the catalogue;
    /// metric labels use this to stay bounded.
    pub fn is_known_event_type(&self, event_type: &str) -> bool {
        self.known_event_types.contains(event_type)
    }

    /// Each version's event types as `catalogue.toml` lists them.
    pub fn catalogue(&self) -> &catalogue::Catalogue {
        &self.catalogue
    }

    /// Every version some step starts or ends at.
    pub fn versions(&self) -> BTreeSet<&str> {
        self.steps
            .iter()
            .flat_map(|s| [s.from.as_str(), s.to.as_str()])
            .collect()
    }

    /// Old spellings the files still use (they load as before), each with file, line, key and the new
    /// spelling; `hookshift check` prints them and the server logs them at load.
    pub fn warnings(&self) -> &[LoadError] {
        &self.warnings
    }

    /// The folder the mappings were loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs every golden case of every step; returns one message per failing case (and per rule no case
    /// exercises).
    pub fn check_golden(&self) -> Vec<String> {
        golden::check(self)
    }

    /// Each step folder as `(from, to, rules)`, in folder order: what `hookshift check` says it checked.
    pub fn step_rule_counts(&self) -> Vec<(&str, &str, usize)> {
        self.steps
            .iter()
            .map(|s| (s.from.as_str(), s.to.as_str(), s.rules.len()))
            .collect()
    }

    /// Translates every golden case to the other version and back, where both steps exist; reports every
    /// difference outside the fields the rules declare lossy.
    pub fn check_round_trips(&self) -> Vec<String> {
        golden::check_round_trips(self)
    }
}

/// The parsed files of every step folder (`FROM_to_TO`), by `(FROM, TO)`; a badly named folder is an
/// error, a second folder for one pair is ignored.
fn read_step_folders(
    folders: &[PathBuf],
    errors: &mut Vec<LoadError>,
) -> std::collections::BTreeMap<(String, String), Vec<load::SourceFile>> {
    let mut out = std::collections::BTreeMap::new();
    for folder in folders {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let Some((from, to)) = name
            .split_once("_to_")
            .filter(|(f, t)| !f.is_empty() && !t.is_empty() && f != t)
        else {
            errors.push(LoadError {
                file: folder.display().to_string(),
                line: 0,
                key: "folder name".into(),
                message: "a step folder is named FROM_to_TO, e.g. 2025-04-21_to_2026-02-09".into(),
            });
            continue;
        };
        let pair = (from.to_owned(), to.to_owned());
        if out.contains_key(&pair) {
            continue;
        }
        if let Some(files) = load::read_folder(folder, errors) {
            out.insert(pair, files);
        }
    }
    out
}

/// The steps the folders make: each folder's own, and the way back of a folder with two-way files.
fn step_pairs(
    folder_files: &std::collections::BTreeMap<(String, String), Vec<load::SourceFile>>,
) -> BTreeSet<(String, String)> {
    let mut pairs: BTreeSet<(String, String)> = folder_files.keys().cloned().collect();
    for ((from, to), files) in folder_files {
        if files.iter().any(|f| f.two_way) {
            pairs.insert((to.clone(), from.clone()));
        }
    }
    pairs
}

/// A two-way file is compiled in both directions: a problem both see is reported once.
fn dedup_errors(errors: &mut Vec<LoadError>) {
    let mut seen = HashSet::new();
    errors.retain(|e| seen.insert((e.file.clone(), e.line, e.key.clone(), e.message.clone())));
}

/// The file at the top of the mappings folder that lists the versions in order.
pub const VERSION_ORDER_FILE: &str = "versions.toml";

/// Reads `versions.toml` (`order = ["2025-04-21", "2026-02-09"]`) when present and checks every step
/// folder joins two adjacent versions of it. Without the file there is no order: each step folder
/// translates its own pair and nothing is chained.
fn load_version_order(
    dir: &Path,
    steps: &[Arc<Step>],
    errors: &mut Vec<LoadError>,
) -> Option<Vec<String>> {
    let path = dir.join(VERSION_ORDER_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            errors.push(LoadError {
                file: VERSION_ORDER_FILE.into(),
                line: 0,
                key: "-".into(),
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    let order = load::version_order(&text, errors)?;
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i))
        .collect();
    for step in steps {
        let folder = format!("{}_to_{}", step.from, step.to);
        let adjacent = match (
            position.get(step.from.as_str()),
            position.get(step.to.as_str()),
        ) {
            (Some(&a), Some(&b)) => a.abs_diff(b) == 1,
            _ => false,
        };
        if !adjacent {
            errors.push(LoadError {
                file: folder,
                line: 0,
                key: "folder name".into(),
                message: format!(
                    "a step folder joins two adjacent versions of {VERSION_ORDER_FILE} (order = [{}]); \
                     chains of steps run along that order, so a step that skips versions or names an \
                     unlisted one would never run",
                    order.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    Some(order)
}

/// A key of `versions.toml` naming an envelope member, its default and an example for errors.
struct EnvelopeMember {
    key: &'static str,
    default: &'static str,
    message: &'static str,
}

const PAYLOAD_MEMBER: EnvelopeMember = EnvelopeMember {
    key: "payload",
    default: DEFAULT_PAYLOAD_KEY,
    message: "must name the envelope member the rules rewrite, e.g. payload = \"data\"",
};

const EVENT_TYPE_MEMBER: EnvelopeMember = EnvelopeMember {
    key: "event_type",
    default: DEFAULT_EVENT_TYPE_KEY,
    message: "must name the envelope member holding the event type, e.g. event_type = \"type\"",
};

/// A key of `versions.toml` naming an envelope member: `payload`, the member the set's rules
/// rewrite, or `event_type`, the one naming the event type. The file is small, so it is read apart
/// from the order parser.
fn envelope_member_of(dir: &Path, member: EnvelopeMember, errors: &mut Vec<LoadError>) -> Arc<str> {
    let default = || Arc::from(member.default);
    let Ok(text) = std::fs::read_to_string(dir.join(VERSION_ORDER_FILE)) else {
        return default();
    };
    let Ok(doc) = text.parse::<toml_edit::ImDocument<String>>() else {
        return default();
    };
    match doc.get(member.key) {
        None => default(),
        Some(item) => match item.as_str() {
            Some(key) if !key.is_empty() && !key.contains('.') => Arc::from(key),
            _ => {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with(member.key))
                    .map_or(1, |i| i + 1);
                errors.push(LoadError {
                    file: VERSION_ORDER_FILE.into(),
                    line,
                    key: member.key.into(),
                    message: member.message.into(),
                });
                default()
            }
        },
    }
}

/// The plans the steps make possible. With an order: every pair of listed versions whose adjacent
/// steps all exist, chained along the order (up or down), so adding a step folder never changes which
/// steps an existing plan runs. Without one: each step's own pair.
fn all_plans(
    steps: &[Arc<Step>],
    order: Option<&[String]>,
    (payload_key, event_type_key): (&Arc<str>, &Arc<str>),
) -> HashMap<(String, String), Plan> {
    let plan = |from: &str, to: &str, steps: Vec<Arc<Step>>| {
        (
            (from.to_owned(), to.to_owned()),
            Plan {
                from: from.to_owned(),
                to: to.to_owned(),
                steps,
                payload_key: Arc::clone(payload_key),
                event_type_key: Arc::clone(event_type_key),
            },
        )
    };
    let step_for =
        |from: &str, to: &str| steps.iter().find(|s| s.from == from && s.to == to).cloned();
    let mut plans = HashMap::new();
    let Some(order) = order else {
        for step in steps {
            for version in [&step.from, &step.to] {
                plans.extend([plan(version, version, Vec::new())]);
            }
            plans.extend([plan(&step.from, &step.to, vec![step.clone()])]);
        }
        return plans;
    };
    for (start, from) in order.iter().enumerate() {
        plans.extend([plan(from, from, Vec::new())]);
        for direction in [1isize, -1] {
            let mut chain = Vec::new();
            let mut at = start;
            while let Some(next) = at
                .checked_add_signed(direction)
                .filter(|&n| n < order.len())
            {
                let Some(step) = step_for(&order[at], &order[next]) else {
                    break;
                };
                chain.push(step);
                plans.extend([plan(from, &order[next], chain.clone())]);
                at = next;
            }
        }
    }
    plans
}

impl Plan {
    /// The version this plan translates from.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// The version this plan translates to.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// Whether the plan changes nothing (source and target version are the same).
    pub fn is_identity(&self) -> bool {
        self.steps.is_empty()
    }

    /// The lossy paths (with reasons) of the rules that take `event` in each step, in step order.
    /// Used by round-trip checks and the mapping reference.
    pub fn lossy_paths(&self, event: &Value, delivery: &Delivery) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut current = std::borrow::Cow::Borrowed(event);
        for (i, step) in self.steps.iter().enumerate() {
            let Ok(rule) = find_rule(step, self.keys(), &current) else {
                break;
            };
            out.extend(step.rules[rule].lossy.iter().cloned());
            // Only a later step needs the event this one makes: the last is not run (the ledger
            // reads these paths for every copy).
            if i + 1 == self.steps.len() {
                break;
            }
            match run_step(step, self.keys(), current.into_owned(), delivery) {
                Ok(next) => current = std::borrow::Cow::Owned(next),
                Err(_) => break,
            }
        }
        out
    }
}

/// A translated event and what the translation could not carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    pub event: Value,
    /// Input fields no mapping names that were dropped (an object the target replaces had keys the
    /// mapping does not know, e.g. a field the sender added later; the files after the first of a
    /// processor run), as paths from the event root: at most [`MAX_UNMAPPED_DEPTH`] segments, array
    /// indexes as `[*]`, keys of free-form maps as `*`, sorted, each once, at most
    /// [`MAX_UNMAPPED_PATHS`] of them with [`UNMAPPED_OTHER`] standing for the rest. Meant as a
    /// metric label (`path`); empty for every shape the mappings know. Unknown fields inside objects
    /// that survive are carried (both SDKs allow extra keys) and not listed.
    pub unmapped_fields: Vec<String>,
}

/// Deepest segment count of a path in [`Translated::unmapped_fields`].
pub const MAX_UNMAPPED_DEPTH: usize = ops::REPORT_DEPTH;
/// Most distinct paths one event reports; the rest are counted as [`UNMAPPED_OTHER`].
pub const MAX_UNMAPPED_PATHS: usize = 16;
/// The path standing for every unmapped field past [`MAX_UNMAPPED_PATHS`].
pub const UNMAPPED_OTHER: &str = "other";

/// Translates one event along a plan. Pure: no IO, no clock.
pub fn translate(plan: &Plan, event: Value, delivery: &Delivery) -> Result<Value, TranslateError> {
    translate_reporting(plan, event, delivery).map(|t| t.event)
}

/// [`translate`], also reporting the input fields it dropped without a mapping for them.
pub fn translate_reporting(
    plan: &Plan,
    event: Value,
    delivery: &Delivery,
) -> Result<Translated, TranslateError> {
    let mut event = event;
    let mut unmapped = Vec::new();
    for step in &plan.steps {
        let (next, dropped) = run_step_reporting(step, plan.keys(), event, delivery)?;
        event = next;
        unmapped.extend(dropped);
    }
    Ok(Translated {
        event,
        unmapped_fields: bounded_paths(unmapped),
    })
}

fn bounded_paths(mut paths: Vec<String>) -> Vec<String> {
    if paths.is_empty() {
        return paths;
    }
    paths.sort_unstable();
    paths.dedup();
    if paths.len() > MAX_UNMAPPED_PATHS {
        paths.truncate(MAX_UNMAPPED_PATHS);
        paths.push(UNMAPPED_OTHER.to_owned());
    }
    paths
}

/// The envelope members a plan reads: where the event type and the payload are.
#[derive(Debug, Clone, Copy)]
struct EnvelopeKeys<'a> {
    event_type: &'a str,
    payload: &'a str,
}

impl Plan {
    fn keys(&self) -> EnvelopeKeys<'_> {
        EnvelopeKeys {
            event_type: &self.event_type_key,
            payload: &self.payload_key,
        }
    }
}

/// Which rule of the step takes the event, whose type and payload are the envelope members `keys`
/// names.
fn find_rule(step: &Step, keys: EnvelopeKeys, event: &Value) -> Result<usize, TranslateError> {
    let payload_key = keys.payload;
    let Value::Object(envelope) = event else {
        return Err(TranslateError::NotAnEvent(
            "the body is not a JSON object".into(),
        ));
    };
    let Some(Value::String(event_type)) = envelope.get(keys.event_type) else {
        return Err(TranslateError::NotAnEvent(format!(
            "`{}` is missing or not a string",
            keys.event_type
        )));
    };
    let payload = match envelope.get(payload_key) {
        Some(payload @ Value::Object(_)) => payload,
        Some(other) => {
            return Err(TranslateError::NotAnEvent(format!(
                "`{payload_key}` is {}, not an object",
                path::kind_of(other)
            )))
        }
        None => {
            return Err(TranslateError::NotAnEvent(format!(
                "`{payload_key}` is missing"
            )))
        }
    };
    let Some(candidates) = step.by_event.get(event_type.as_str()) else {
        return Err(TranslateError::Unmapped {
            event_type: event_type.to_string(),
            from: step.from.clone(),
            to: step.to.clone(),
        });
    };
    if let Some(rule) = candidates
        .iter()
        .copied()
        .find(|&r| step.rules[r].when.holds(payload))
    {
        return Ok(rule);
    }
    // Rules name this event type but none takes this shape: a shape nobody expected, which is
    // refused (the sender keeps it) rather than acknowledged as having no counterpart.
    Err(no_rule_takes(step, candidates, payload_key, payload))
}

/// The refusal of an event whose type rules name but whose payload no rule's `when` accepts.
fn no_rule_takes(
    step: &Step,
    candidates: &[usize],
    payload_key: &str,
    payload: &Value,
) -> TranslateError {
    let rules: Vec<&ops::Rule> = candidates.iter().map(|&r| &step.rules[r]).collect();
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    let mut files: Vec<&str> = rules.iter().map(|r| &*r.file).collect();
    files.sort_unstable();
    files.dedup();
    // The first field the conditions test (rules that take an event type test the same field),
    // where the payload has it, and which values the rules accept there.
    let Some((field, _)) = rules.iter().flat_map(|r| r.when.0.iter()).next() else {
        unreachable!("a rule without `when` takes every event of its types")
    };
    let place = field.place_in(payload);
    let found = field.get(payload).map_or("nothing".to_owned(), ops::short);
    let mut expected: Vec<String> = rules
        .iter()
        .flat_map(|r| r.when.0.iter())
        .filter(|(other, _)| other == field)
        .flat_map(|(_, values)| values.iter().map(ops::short))
        .collect();
    expected.sort();
    expected.dedup();
    TranslateError::Failed {
        rule: names.join(" | "),
        file: files.join(", "),
        path: match place.as_str() {
            "." => payload_key.to_owned(),
            place => format!("{payload_key}.{place}"),
        },
        message: format!(
            "no rule takes this event: found {found}, the rules take {}",
            expected.join(", ")
        ),
    }
}

fn run_step(
    step: &Step,
    keys: EnvelopeKeys,
    event: Value,
    delivery: &Delivery,
) -> Result<Value, TranslateError> {
    run_step_reporting(step, keys, event, delivery).map(|(event, _)| event)
}

fn run_step_reporting(
    step: &Step,
    keys: EnvelopeKeys,
    mut event: Value,
    delivery: &Delivery,
) -> Result<(Value, Vec<String>), TranslateError> {
    let payload_key = keys.payload;
    let index = find_rule(step, keys, &event)?;
    let rule = &step.rules[index];
    if rule.no_counterpart.is_some() {
        return Err(TranslateError::Unmapped {
            event_type: event
                .get(keys.event_type)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            from: step.from.clone(),
            to: step.to.clone(),
        });
    }
    let mut captures = vec![None; step.inputs.len()];
    for &slot in &rule.captures {
        captures[slot] = step.inputs[slot].get(&event).cloned();
    }
    let context = Context {
        step,
        captures: &captures,
        timestamp: delivery.timestamp,
        timestamp_text: OnceCell::new(),
        unmapped: RefCell::new(Vec::new()),
        moves: RefCell::new(Vec::new()),
    };
    let Value::Object(envelope) = &mut event else {
        unreachable!("find_rule checked the envelope")
    };
    if let Some(Value::String(event_type)) = envelope.get_mut(keys.event_type) {
        if let Some(new) = rule.events.get(event_type.as_str()) {
            *event_type = new.as_str().into();
        }
    }
    let payload = envelope
        .get_mut(payload_key)
        .expect("find_rule checked the payload");
    context
        .run(rule.body, payload)
        .map_err(|e| TranslateError::Failed {
            rule: rule.name.clone(),
            file: rule.file.to_string(),
            path: rendered(&e.location, payload_key, usize::MAX),
            message: e.message,
        })?;
    let unmapped = context
        .unmapped
        .into_inner()
        .iter()
        .map(|location| rendered(location, payload_key, MAX_UNMAPPED_DEPTH))
        .collect();
    Ok((event, unmapped))
}

/// A location as a path from the event root. [`ops::Location::render`] starts a path relative to the
/// payload with Extend's `payload`; another envelope's member takes its place.
fn rendered(location: &ops::Location, payload_key: &str, depth: usize) -> String {
    let path = location.render(depth);
    if location.absolute || payload_key == DEFAULT_PAYLOAD_KEY {
        return path;
    }
    match path.strip_prefix(DEFAULT_PAYLOAD_KEY) {
        Some(rest) => format!("{payload_key}{rest}"),
        None => path,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod change_tests;
