//! Declarative event translation: mapping files compiled once into plans, applied by a pure `translate`.
//!
//! (skeleton: API fixed, bodies being written)

use std::path::Path;

use serde_json::Value;

/// Facts of one delivery that mappings may read (never the clock: the caller passes them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The sender's signature timestamp, unix seconds.
    pub timestamp: i64,
}

/// Every mapping step found under a directory, compiled, with the plans for every reachable version pair.
#[derive(Debug)]
pub struct Mappings {}

/// The compiled translation from one version to another (one step or a chain of steps).
#[derive(Debug)]
pub struct Plan {}

/// All problems found while loading mapping files; each names file, line and key.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct LoadErrors(pub Vec<LoadError>);

/// One problem in one mapping file.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// Why an event could not be translated.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// The value is not an event envelope (`eventType` string and `payload`).
    #[error("not an event: {0}")]
    NotAnEvent(String),
    /// No rule of the step takes this event.
    #[error("no mapping from {from} to {to} covers event type {event_type:?}")]
    Unmapped { event_type: String, from: String, to: String },
    /// A rule took the event but the event did not have the shape the rule expects.
    #[error("mapping {rule:?} ({file}) failed at {path}: {message}")]
    Failed { rule: String, file: String, path: String, message: String },
}

/// No chain of steps leads from one version to the other.
#[derive(Debug, thiserror::Error)]
#[error("no mapping steps lead from version {from} to {to}")]
pub struct NoPath {
    pub from: String,
    pub to: String,
}

impl Mappings {
    /// Loads and compiles every step folder (`FROM_to_TO`) under `dir`, reporting all errors.
    pub fn load(_dir: &Path) -> Result<Mappings, LoadErrors> {
        todo!()
    }
    /// The plan from `from` to `to` (steps chained when needed).
    pub fn plan(&self, _from: &str, _to: &str) -> Result<&Plan, NoPath> {
        todo!()
    }
    /// Whether an event type is named by any rule (as input or output); metric labels use this to stay bounded.
    pub fn is_known_event_type(&self, _event_type: &str) -> bool {
        todo!()
    }
    /// Runs every golden case of every step; returns one message per failing case.
    pub fn check_golden(&self) -> Vec<String> {
        todo!()
    }
}

/// Translates one event along a plan. Pure: no IO, no clock.
pub fn translate(_plan: &Plan, _event: Value, _delivery: &Delivery) -> Result<Value, TranslateError> {
    todo!()
}
