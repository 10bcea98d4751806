//! The mapping reference: a Markdown page generated from the compiled mappings, listing per event and
//! direction what is renamed, dropped (with why), synthesized (with its source) and lossy on a round trip.

use std::fmt::Write as _;

use super::ops::{Rule, Step};
use super::path::FieldPath;
use super::Mappings;

/// What one op means for the reader of the reference.
enum Entry {
    Dropped {
        path: String,
        why: String,
        /// A drop the other direction of a two-way step does not write back.
        loss: bool,
    },
    Synthesized {
        path: String,
        source: String,
        why: Option<String>,
    },
}

impl Mappings {
    /// The reference page for every step and rule, in a stable order.
    pub fn reference_markdown(&self) -> String {
        let mut out = String::new();
        let mut steps: Vec<&Step> = self.steps.iter().map(|s| &**s).collect();
        steps.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        for step in steps {
            let _ = writeln!(out, "### {} → {}\n", step.from, step.to);
            let mut rules: Vec<&Rule> = step.rules.iter().collect();
            rules.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
            for rule in rules {
                rule_section(step, rule, &self.payload_key, &mut out);
            }
        }
        out
    }
}

fn rule_section(step: &Step, rule: &Rule, payload_key: &str, out: &mut String) {
    let mut events: Vec<(&String, &String)> = rule.events.iter().collect();
    events.sort();
    let names: Vec<String> = events
        .iter()
        .map(|(old, new)| format!("`{old}` → `{new}`"))
        .collect();
    let file = rule.file.rsplit('/').next().unwrap_or(&rule.file);
    let _ = write!(out, "- **{}** ({file}): {}", rule.name, names.join(", "));
    if !rule.when.0.is_empty() {
        let conditions: Vec<String> = rule
            .when
            .0
            .iter()
            .map(|(path, values)| {
                let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                format!("`{payload_key}.{path}` = {}", values.join(" or "))
            })
            .collect();
        let _ = write!(out, ", when {}", conditions.join(" and "));
    }
    out.push('\n');
    if let Some(description) = rule.description.as_ref().filter(|d| **d != rule.name) {
        let _ = writeln!(out, "  - {description}");
    }
    if let Some(reason) = &rule.no_counterpart {
        let _ = writeln!(out, "  - no counterpart (unmapped): {reason}");
        return;
    }
    let mut entries = Vec::new();
    walk(step, rule.body, payload_key, &mut entries, 0);
    let (mut dropped, mut synthesized) = (Vec::new(), Vec::new());
    for entry in entries {
        match entry {
            Entry::Dropped { path, why, .. } => dropped.push(format!("`{path}` ({why})")),
            Entry::Synthesized { path, source, why } => synthesized.push(match why {
                Some(why) => format!("`{path}` ← {source} ({why})"),
                None => format!("`{path}` ← {source}"),
            }),
        }
    }
    dedup(&mut dropped);
    dedup(&mut synthesized);
    if !synthesized.is_empty() {
        let _ = writeln!(out, "  - synthesized: {}", synthesized.join("; "));
    }
    if !dropped.is_empty() {
        let _ = writeln!(out, "  - dropped: {}", dropped.join("; "));
    }
    if !rule.lossy.is_empty() {
        let mut lossy: Vec<String> = rule
            .lossy
            .iter()
            .map(|(p, why)| format!("`{p}` ({why})"))
            .collect();
        lossy.sort();
        let _ = writeln!(out, "  - lossy on a round trip: {}", lossy.join("; "));
    }
}

fn dedup(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|i| seen.insert(i.clone()));
}

fn join(prefix: &str, path: &str) -> String {
    match path {
        "." => prefix.to_owned(),
        p if p.starts_with('[') => format!("{prefix}{p}"),
        p => format!("{prefix}.{p}"),
    }
}

/// Collects the entries of a transform and those it calls, with paths from the event root.
fn walk(step: &Step, transform: usize, prefix: &str, out: &mut Vec<Entry>, depth: usize) {
    // Cycles are refused at load; the bound only guards against a future change forgetting that.
    if depth > 32 {
        return;
    }
    let t = &step.transforms[transform];
    for ((op, why), &loss) in t.ops.iter().zip(&t.notes).zip(&t.losses) {
        op.describe(&mut Describe {
            step,
            prefix,
            why,
            loss,
            out,
            depth,
        });
    }
}

/// The losses of a rule's transforms (and those they call), as `(path from the event root, reason)`:
/// what a change unit's rule declares lossy without the author writing it again.
pub(crate) fn losses(step: &Step, rule: &Rule, payload_key: &str) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    walk(step, rule.body, payload_key, &mut entries, 0);
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in entries {
        if let Entry::Dropped {
            path,
            why,
            loss: true,
        } = entry
        {
            if !out.iter().any(|(p, _)| *p == path) {
                out.push((path, why));
            }
        }
    }
    out
}

/// What one op adds to the reference: each verb describes itself through this.
pub(crate) struct Describe<'a> {
    step: &'a Step,
    /// The op's object as a path from the event root.
    prefix: &'a str,
    /// The op's `reason` or `note`.
    why: &'a Option<String>,
    /// The op is a loss (see [`losses`]).
    loss: bool,
    out: &'a mut Vec<Entry>,
    depth: usize,
}

impl Describe<'_> {
    /// The path of the op's object from the event root.
    pub(crate) fn prefix(&self) -> &str {
        self.prefix
    }

    /// A path of the op, from the event root.
    pub(crate) fn at(&self, path: &FieldPath) -> String {
        join(self.prefix, path.as_str())
    }

    /// The `$.` path of an input slot of the step.
    pub(crate) fn input(&self, slot: usize) -> &FieldPath {
        &self.step.inputs[slot]
    }

    /// The op removes what is at `path`, for its reason.
    pub(crate) fn dropped(&mut self, path: String) {
        let why = self.why.clone().unwrap_or_default();
        self.out.push(Entry::Dropped {
            path,
            why,
            loss: self.loss,
        });
    }

    /// The op writes at `path` a value made from `source`.
    pub(crate) fn synthesized(&mut self, path: String, source: String) {
        let why = self.why.clone();
        self.out.push(Entry::Synthesized { path, source, why });
    }

    /// The op runs `transform` on the object at `prefix` (a path from the event root).
    pub(crate) fn walk(&mut self, transform: usize, prefix: &str) {
        walk(self.step, transform, prefix, self.out, self.depth + 1);
    }
}
