//! Declarative event translation: mapping files compiled once into plans, applied by a pure [`translate`].
//!
//! The language is documented in `docs/mapping-language.md`. [`Mappings::load`] reads every step folder
//! (`FROM_to_TO`) under a directory, reports every error with file, line and key, and precomputes a
//! [`Plan`] for every pair of versions the steps connect. [`translate`] runs a plan on one event: no IO,
//! no clock (the delivery's timestamp comes in as [`Delivery`]).

mod golden;
mod load;
mod ops;
mod path;
mod reference;

use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::json::Value;

pub use golden::GoldenCase;
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
    known_event_types: HashSet<String>,
}

/// The compiled translation from one version to another: the steps to run, in order.
#[derive(Debug, Clone)]
pub struct Plan {
    from: String,
    to: String,
    steps: Vec<Arc<Step>>,
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
    /// The value is not an event envelope (`eventType` string and `payload`).
    #[error("not an event: {0}")]
    NotAnEvent(String),
    /// No rule of the step takes this event.
    #[error("no mapping from {from} to {to} covers event type {event_type:?}")]
    Unmapped {
        event_type: String,
        from: String,
        to: String,
    },
    /// A rule took the event but the event did not have the shape the rule expects.
    #[error("mapping {rule:?} ({file}) failed at payload.{path}: {message}")]
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
        let mut steps = Vec::new();
        let mut seen = HashSet::new();
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
                    message: "a step folder is named FROM_to_TO, e.g. 2025-04-21_to_2026-02-09"
                        .into(),
                });
                continue;
            };
            if !seen.insert((from.to_owned(), to.to_owned())) {
                continue;
            }
            if let Some(step) = load::load_step(&folder, from, to, &mut errors) {
                steps.push(Arc::new(step));
            }
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        let mut known_event_types = HashSet::new();
        for step in &steps {
            for rule in &step.rules {
                for (old, new) in &rule.events {
                    known_event_types.insert(old.clone());
                    known_event_types.insert(new.clone());
                }
            }
        }
        let plans = all_plans(&steps);
        Ok(Mappings {
            dir: dir.to_owned(),
            steps,
            plans,
            known_event_types,
        })
    }

    /// The plan from `from` to `to`, chaining steps when needed (shortest chain). Equal versions: no steps.
    pub fn plan(&self, from: &str, to: &str) -> Result<&Plan, NoPath> {
        self.plans
            .get(&(from.to_owned(), to.to_owned()))
            .ok_or_else(|| NoPath {
                from: from.to_owned(),
                to: to.to_owned(),
            })
    }

    /// Whether an event type is named by any rule (as input or output); metric labels use this to stay bounded.
    pub fn is_known_event_type(&self, event_type: &str) -> bool {
        self.known_event_types.contains(event_type)
    }

    /// Every version some step starts or ends at.
    pub fn versions(&self) -> BTreeSet<&str> {
        self.steps
            .iter()
            .flat_map(|s| [s.from.as_str(), s.to.as_str()])
            .collect()
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

    /// Translates every golden case to the other version and back, where both steps exist; reports every
    /// difference outside the fields the rules declare lossy.
    pub fn check_round_trips(&self) -> Vec<String> {
        golden::check_round_trips(self)
    }
}

/// Shortest chains of steps between every pair of versions (breadth first from each version).
fn all_plans(steps: &[Arc<Step>]) -> HashMap<(String, String), Plan> {
    let versions: BTreeSet<&str> = steps
        .iter()
        .flat_map(|s| [s.from.as_str(), s.to.as_str()])
        .collect();
    let mut plans = HashMap::new();
    for &start in &versions {
        let mut reached: HashMap<&str, Vec<Arc<Step>>> = HashMap::from([(start, Vec::new())]);
        let mut queue = VecDeque::from([start]);
        while let Some(version) = queue.pop_front() {
            let chain = reached[version].clone();
            for step in steps.iter().filter(|s| s.from == version) {
                if !reached.contains_key(step.to.as_str()) {
                    let mut next = chain.clone();
                    next.push(step.clone());
                    reached.insert(step.to.as_str(), next);
                    queue.push_back(step.to.as_str());
                }
            }
        }
        for (end, chain) in reached {
            plans.insert(
                (start.to_owned(), end.to_owned()),
                Plan {
                    from: start.to_owned(),
                    to: end.to_owned(),
                    steps: chain,
                },
            );
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
        let mut current = event.clone();
        for step in &self.steps {
            let Ok(rule) = find_rule(step, &current) else {
                break;
            };
            out.extend(step.rules[rule].lossy.iter().cloned());
            match run_step(step, current, delivery) {
                Ok(next) => current = next,
                Err(_) => break,
            }
        }
        out
    }
}

/// Translates one event along a plan. Pure: no IO, no clock.
pub fn translate(plan: &Plan, event: Value, delivery: &Delivery) -> Result<Value, TranslateError> {
    let mut event = event;
    for step in &plan.steps {
        event = run_step(step, event, delivery)?;
    }
    Ok(event)
}

/// Which rule of the step takes the event.
fn find_rule(step: &Step, event: &Value) -> Result<usize, TranslateError> {
    let Value::Object(envelope) = event else {
        return Err(TranslateError::NotAnEvent(
            "the body is not a JSON object".into(),
        ));
    };
    let Some(Value::String(event_type)) = envelope.get("eventType") else {
        return Err(TranslateError::NotAnEvent(
            "`eventType` is missing or not a string".into(),
        ));
    };
    let Some(payload) = envelope.get("payload") else {
        return Err(TranslateError::NotAnEvent("`payload` is missing".into()));
    };
    let unmapped = || TranslateError::Unmapped {
        event_type: event_type.to_string(),
        from: step.from.clone(),
        to: step.to.clone(),
    };
    let candidates = step
        .by_event
        .get(event_type.as_str())
        .ok_or_else(unmapped)?;
    candidates
        .iter()
        .copied()
        .find(|&r| step.rules[r].when.holds(payload))
        .ok_or_else(unmapped)
}

fn run_step(step: &Step, mut event: Value, delivery: &Delivery) -> Result<Value, TranslateError> {
    let index = find_rule(step, &event)?;
    let rule = &step.rules[index];
    let mut captures = vec![None; step.inputs.len()];
    for &slot in &rule.captures {
        captures[slot] = step.inputs[slot].get(&event).cloned();
    }
    let context = Context {
        step,
        captures: &captures,
        timestamp: delivery.timestamp,
        timestamp_text: OnceCell::new(),
    };
    let Value::Object(envelope) = &mut event else {
        unreachable!("find_rule checked the envelope")
    };
    if let Some(Value::String(event_type)) = envelope.get_mut("eventType") {
        if let Some(new) = rule.events.get(event_type.as_str()) {
            *event_type = new.as_str().into();
        }
    }
    let payload = envelope
        .get_mut("payload")
        .expect("find_rule checked the payload");
    context
        .run(rule.body, payload)
        .map_err(|e| TranslateError::Failed {
            rule: rule.name.clone(),
            file: rule.file.to_string(),
            path: e.path,
            message: e.message,
        })?;
    Ok(event)
}

#[cfg(test)]
mod tests;
