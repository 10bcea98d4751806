//! Running a plan on one event: find the rule of each step that takes it, run its ops on the
//! payload, rename the event type, and report the input fields dropped on the way. Pure: no IO, no
//! clock (the delivery's timestamp comes in as [`Delivery`]).

use std::cell::{OnceCell, RefCell};

use crate::json::Value;

use super::ops::{self, Context, Step};
use super::path;
use super::{Plan, DEFAULT_PAYLOAD_KEY};

/// Facts of one delivery that mappings may read (never the clock: the caller passes them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The sender's signature timestamp, unix seconds.
    pub timestamp: i64,
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

pub(super) fn bounded_paths(mut paths: Vec<String>) -> Vec<String> {
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
pub(super) struct EnvelopeKeys<'a> {
    event_type: &'a str,
    payload: &'a str,
}

impl Plan {
    pub(super) fn keys(&self) -> EnvelopeKeys<'_> {
        EnvelopeKeys {
            event_type: &self.event_type_key,
            payload: &self.payload_key,
        }
    }
}

/// Which rule of the step takes the event, whose type and payload are the envelope members `keys`
/// names.
pub(super) fn find_rule(
    step: &Step,
    keys: EnvelopeKeys,
    event: &Value,
) -> Result<usize, TranslateError> {
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

pub(super) fn run_step(
    step: &Step,
    keys: EnvelopeKeys,
    event: Value,
    delivery: &Delivery,
) -> Result<Value, TranslateError> {
    run_step_reporting(step, keys, event, delivery).map(|(event, _)| event)
}

pub(super) fn run_step_reporting(
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
