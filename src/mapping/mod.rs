//! Declarative event translation: mapping files compiled once into plans, applied by a pure [`translate`].
//!
//! The language is documented in `docs/mapping-language.md`. [`Mappings::load`] reads every step folder
//! (`FROM_to_TO`) under a directory, reports every error with file, line and key, and precomputes a
//! [`Plan`] for every pair of versions the steps connect. [`translate`] runs a plan on one event: no IO,
//! no clock (the delivery's timestamp comes in as [`Delivery`]).
//!
//! The engine's rooms, in the order a mapping set goes through them:
//! - `load/`: reading the mappings folder into a [`Mappings`]: the step folders and their files
//!   (`folders.rs`), `versions.toml` (`versions.rs`, read once), each step's files compiled into a
//!   step (`step.rs`, with one file per table kind: `rules.rs`, `units.rs`, `change.rs`), and the
//!   checks across a step (`checks.rs`);
//! - `ops/`: the compiled ops, one file per verb, and the interpreter that runs them;
//! - `mappings.rs`: the compiled set and what the rest of hookshift asks of it;
//! - `plan.rs`: the chains of steps between versions, computed once at load;
//! - `run.rs`: running a plan on one event ([`translate`]);
//! - `catalogue.rs`, `identity.rs`: each version's event types and how an event names its run;
//! - `golden.rs`, `coverage.rs`, `reference.rs`: the checks and the reference `hookshift check`
//!   and the docs use.

pub mod catalogue;
mod coverage;
mod golden;
pub mod identity;
mod load;
mod mappings;
mod ops;
mod path;
mod plan;
mod reference;
mod run;

pub use golden::GoldenCase;
pub use load::VERSION_ORDER_FILE;
pub use mappings::Mappings;
pub use ops::ops_table_markdown;
pub use plan::{NoPath, Plan};
pub use run::{
    translate, translate_reporting, Delivery, TranslateError, Translated, MAX_UNMAPPED_DEPTH,
    MAX_UNMAPPED_PATHS, UNMAPPED_OTHER,
};

/// The envelope member a mapping set rewrites unless its `versions.toml` names another: Extend's.
pub const DEFAULT_PAYLOAD_KEY: &str = "payload";
/// The envelope member naming the event type unless `versions.toml` names another.
pub const DEFAULT_EVENT_TYPE_KEY: &str = "eventType";

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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod change_tests;
