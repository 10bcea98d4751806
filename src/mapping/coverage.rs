//! What a step leaves out: the event types of its source version that none of its rules takes.

use std::collections::BTreeSet;

use super::Mappings;

impl Mappings {
    /// The event types known for `version`: those the steps into it produce, those the steps out of it
    /// take, and those `identity.toml` lists for it.
    pub fn event_types_of(&self, version: &str) -> BTreeSet<String> {
        let mut types = BTreeSet::new();
        for step in &self.steps {
            for rule in &step.rules {
                // A rule without counterpart produces nothing in the target version.
                if step.to == version && rule.no_counterpart.is_none() {
                    types.extend(rule.events.values().cloned());
                }
                if step.from == version {
                    types.extend(rule.events.keys().cloned());
                }
            }
        }
        types.extend(
            self.identities
                .event_types(version)
                .into_iter()
                .map(str::to_owned),
        );
        types
    }

    /// One problem per event type of a step's source version that no rule of the step takes: such
    /// an event would be refused as unmapped without the step saying why. An event type with no
    /// counterpart is taken by a one-way change with `counterpart = false` and its reason.
    pub fn check_coverage(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for step in &self.steps {
            for event_type in self.event_types_of(&step.from) {
                if !step.by_event.contains_key(&event_type) {
                    problems.push(format!(
                        "{}_to_{}: event type {event_type:?} of {} is taken by no change: write one, or a one-way change with `counterpart = false` and the reason it has none",
                        step.from, step.to, step.from
                    ));
                }
            }
        }
        problems
    }
}
