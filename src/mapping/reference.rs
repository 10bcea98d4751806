//! The mapping reference: a Markdown page generated from the compiled mappings, listing per event and
//! direction what is renamed, dropped (with why), synthesized (with its source) and lossy on a round trip.

use std::fmt::Write as _;

use super::ops::{DeliveryFact, Fallback, Op, Rest, Rule, Source, Step};
use super::path::Anchor;
use super::Mappings;

/// What one op means for the reader of the reference.
enum Entry {
    Dropped {
        path: String,
        why: String,
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
    if let Some(reason) = &rule.no_counterpart {
        let _ = writeln!(out, "  - no counterpart (unmapped): {reason}");
        return;
    }
    let mut entries = Vec::new();
    walk(step, rule.body, payload_key, &mut entries, 0);
    let (mut dropped, mut synthesized) = (Vec::new(), Vec::new());
    for entry in entries {
        match entry {
            Entry::Dropped { path, why } => dropped.push(format!("`{path}` ({why})")),
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
    for (op, why) in t.ops.iter().zip(&t.notes) {
        let why = why.clone();
        match op {
            Op::Drop { path, .. } => out.push(Entry::Dropped {
                path: join(prefix, path.as_str()),
                why: why.unwrap_or_default(),
            }),
            Op::KeepOnly { fields } => out.push(Entry::Dropped {
                path: format!("{prefix}.* except {}", fields.join(", ")),
                why: why.unwrap_or_default(),
            }),
            Op::Unwrap {
                from,
                rest: Rest::Drop,
                ..
            } => out.push(Entry::Dropped {
                path: format!("{}[1..]", join(prefix, from.as_str())),
                why: why.unwrap_or_default(),
            }),
            Op::Set { path, value } | Op::Default { path, value, .. } => {
                let when = if matches!(op, Op::Default { .. }) {
                    " when absent"
                } else {
                    ""
                };
                let source = match value {
                    // Constants that only restate a type discriminator are not worth listing.
                    Source::Const(_)
                        if path.as_str() == "object" || path.as_str().ends_with(".object") =>
                    {
                        continue
                    }
                    Source::Const(v) => format!("constant `{v}`{when}"),
                    Source::Read(Anchor::Current(from)) => {
                        format!("`{}`{when}", join(prefix, from.as_str()))
                    }
                    Source::Read(Anchor::Input(slot)) => {
                        format!("input `$.{}`{when}", step.inputs[*slot])
                    }
                    Source::Delivery(DeliveryFact::Timestamp) => {
                        format!("the delivery's signature timestamp (RFC 3339){when}")
                    }
                    Source::Delivery(DeliveryFact::TimestampUnix) => {
                        format!("the delivery's signature timestamp (unix){when}")
                    }
                };
                out.push(Entry::Synthesized {
                    path: join(prefix, path.as_str()),
                    source,
                    why,
                });
            }
            Op::Copy { from, to } => {
                let source = match from {
                    Anchor::Current(p) => format!("copy of `{}`", join(prefix, p.as_str())),
                    Anchor::Input(slot) => format!("copy of input `$.{}`", step.inputs[*slot]),
                };
                out.push(Entry::Synthesized {
                    path: join(prefix, to.as_str()),
                    source,
                    why,
                });
            }
            Op::Map {
                path,
                fallback: Fallback::Value(v),
                ..
            } => out.push(Entry::Synthesized {
                path: join(prefix, path.as_str()),
                source: format!("`{v}` for values the map does not know"),
                why,
            }),
            Op::All { path, field, to } => out.push(Entry::Synthesized {
                path: join(prefix, to.as_str()),
                source: format!(
                    "whether every `{}[*].{field}` is true",
                    join(prefix, path.as_str())
                ),
                why,
            }),
            Op::Each { path, transform } => walk(
                step,
                *transform,
                &format!("{}[*]", join(prefix, path.as_str())),
                out,
                depth + 1,
            ),
            Op::Apply { path, transform } => walk(
                step,
                *transform,
                &join(prefix, path.as_str()),
                out,
                depth + 1,
            ),
            Op::Switch {
                cases,
                default,
                missing,
                ..
            } => {
                let mut targets: Vec<usize> = cases
                    .values()
                    .copied()
                    .chain(*default)
                    .chain(*missing)
                    .collect();
                targets.sort_unstable();
                targets.dedup();
                for target in targets {
                    walk(step, target, prefix, out, depth + 1);
                }
            }
            _ => {}
        }
    }
}
