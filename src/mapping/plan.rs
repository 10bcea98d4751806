//! Planning: the chains of steps between every pair of versions the steps connect, computed once
//! at load so a delivery only looks its plan up.

use std::collections::HashMap;
use std::sync::Arc;

use crate::json::Value;

use super::ops::Step;
use super::run::{find_rule, run_step};
use super::{Delivery, Mappings};

/// The compiled translation from one version to another: the steps to run, in order.
#[derive(Debug, Clone)]
pub struct Plan {
    pub(super) from: String,
    pub(super) to: String,
    pub(super) steps: Vec<Arc<Step>>,
    /// The envelope member the steps rewrite.
    pub(super) payload_key: Arc<str>,
    /// The envelope member naming the event type.
    pub(super) event_type_key: Arc<str>,
}

/// No chain of steps leads from one version to the other.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no mapping steps lead from version {from} to {to}")]
pub struct NoPath {
    pub from: String,
    pub to: String,
}

impl Mappings {
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
}

/// The plans the steps make possible. With an order: every pair of listed versions whose adjacent
/// steps all exist, chained along the order (up or down), so adding a step folder never changes which
/// steps an existing plan runs. Without one: each step's own pair.
pub(super) fn all_plans(
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
