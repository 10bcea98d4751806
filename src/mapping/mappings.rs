//! The compiled mapping set and what the rest of hookshift asks of it: versions, event types,
//! envelope members, warnings, and the golden and round-trip checks.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ops::Step;
use super::{catalogue, golden, identity, LoadError, Plan};

/// Every mapping step found under a directory, compiled, with the plans for every reachable version pair.
#[derive(Debug)]
pub struct Mappings {
    pub(super) dir: PathBuf,
    pub(super) steps: Vec<Arc<Step>>,
    pub(super) plans: HashMap<(String, String), Plan>,
    /// Every event type a rule names or the catalogue lists: the ones metric labels name.
    pub(super) known_event_types: HashSet<String>,
    pub(super) catalogue: catalogue::Catalogue,
    /// The envelope member the rules rewrite (`payload`, Plextera's `data`): `versions.toml`'s
    /// `payload`, else [`DEFAULT_PAYLOAD_KEY`].
    pub(super) payload_key: Arc<str>,
    /// The envelope member naming the event type (`eventType`, Standard Webhooks' `type`):
    /// `versions.toml`'s `event_type`, else [`DEFAULT_EVENT_TYPE_KEY`].
    pub(super) event_type_key: Arc<str>,
    pub(super) warnings: Vec<LoadError>,
    pub(super) identities: identity::Identities,
}

impl Mappings {
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
