//! Loading a mappings folder into a [`Mappings`]: every error is kept, each naming file, line and
//! key, and reported together.
//!
//! - `folders.rs`: the step folders (`FROM_to_TO`) and their `*.toml` files, parsed with spans;
//! - `versions.rs`: `versions.toml`, read once: the version order and the envelope members;
//! - `step.rs`: one step compiled from its files, in two passes, then checked (`checks.rs`);
//! - `rules.rs`: `[[rule]]` tables (one function per key) and the `[lossy.NAME]` sets;
//! - `units.rs`, `change.rs`, `invert.rs`: `[[change]]` units, run forward and inverted;
//! - `template.rs`: transforms written once for several instances (`for = { kind = [...] }`);
//! - `reader.rs`: the reader each op verb parses its table with.
//!
//! Then the set: the catalogue and identity files, and the plans between every pair of versions.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use toml_edit::ImDocument;

use super::ops::Step;
use super::plan::all_plans;
use super::{catalogue, identity, LoadError, LoadErrors, Mappings};

mod change;
mod checks;
mod folders;
mod invert;
mod reader;
mod rules;
mod step;
mod template;
mod units;
mod versions;

use folders::StepFolders;
pub(crate) use reader::OpReader;
use step::Compiler;
use versions::VersionsFile;
pub use versions::VERSION_ORDER_FILE;

impl Mappings {
    /// Loads and compiles every step folder (`FROM_to_TO`) under `dir`, reporting all errors.
    pub fn load(dir: &Path) -> Result<Mappings, LoadErrors> {
        let folders = folders::list_folders(dir)?;
        let mut errors = Vec::new();
        let versions_file = VersionsFile::read(dir);
        // The envelope members are known before the steps load: inverting a change for the way down
        // writes paths under the payload member.
        let (payload_key, event_type_key) = versions_file.envelope_keys(&mut errors);
        let folder_files = folders::read_step_folders(&folders, &mut errors);
        let mut warnings = Vec::new();
        let steps = compile_steps(&folder_files, &payload_key, &mut errors, &mut warnings);
        dedup_errors(&mut errors);
        dedup_errors(&mut warnings);
        warnings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        let order = versions_file.order(&steps, &mut errors);
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        let named = named_event_types(&steps);
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
}

/// Compiles every step the folders make, in pair order; a step with errors is left out (its
/// errors are in `errors`).
fn compile_steps(
    folder_files: &StepFolders,
    payload_key: &str,
    errors: &mut Vec<LoadError>,
    warnings: &mut Vec<LoadError>,
) -> Vec<Arc<Step>> {
    folders::step_pairs(folder_files)
        .into_iter()
        .filter_map(|(from, to)| {
            let sources = folders::step_sources(folder_files, &from, &to);
            step::load_step(&sources, &from, &to, payload_key, errors, warnings)
        })
        .map(Arc::new)
        .collect()
}

/// Each version's event types the rules name: a rule takes its old types in the step's `from`
/// version and gives its new ones in `to`.
fn named_event_types(steps: &[Arc<Step>]) -> HashSet<(&str, &str)> {
    let mut named: HashSet<(&str, &str)> = HashSet::new();
    for step in steps {
        for rule in &step.rules {
            for (old, new) in &rule.events {
                named.insert((step.from.as_str(), old.as_str()));
                named.insert((step.to.as_str(), new.as_str()));
            }
        }
    }
    named
}

/// A two-way file is compiled in both directions: a problem both see is reported once.
fn dedup_errors(errors: &mut Vec<LoadError>) {
    let mut seen = HashSet::new();
    errors.retain(|e| seen.insert((e.file.clone(), e.line, e.key.clone(), e.message.clone())));
}

/// One parsed file of a step, kept until every transform name of the step is known.
pub(crate) struct SourceFile {
    name: Arc<str>,
    /// `STEP/FILE.toml`: how rules name their file to senders (never a server path).
    relative: Arc<str>,
    text: String,
    doc: ImDocument<String>,
    /// Holds `[[change]]` units: compiled forward in its own step and inverted in the opposite one.
    pub(crate) two_way: bool,
}

impl SourceFile {
    fn line(&self, span: Option<std::ops::Range<usize>>) -> usize {
        span.map_or(1, |s| {
            self.text[..s.start.min(self.text.len())]
                .matches('\n')
                .count()
                + 1
        })
    }
}

/// Collects errors with their place, for one file at a time.
pub(crate) struct Errors<'a> {
    all: &'a mut Vec<LoadError>,
    file: Arc<str>,
}

impl Errors<'_> {
    fn push(&mut self, line: usize, key: impl Into<String>, message: impl Into<String>) {
        self.all.push(LoadError {
            file: self.file.to_string(),
            line,
            key: key.into(),
            message: message.into(),
        });
    }
}

/// Which way a file's ops run in the step being compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// A one-way file (`[[rule]]`) of the step's own folder: its ops as written.
    OneWay,
    /// A two-way file (`[[change]]`) of the step's own folder: its changes read forward.
    Up,
    /// A two-way file of the opposite folder: its changes inverted.
    Down,
}
