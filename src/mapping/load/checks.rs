//! Checks over a whole compiled step: overlapping rules, transforms that call themselves, and the
//! `$.` inputs each rule reaches.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::mapping::ops::{Condition, Rule, Transform};
use crate::mapping::path::Anchor;
use crate::mapping::LoadError;

/// Two rules that could both take one event make the result depend on file order: refuse them.
pub(super) fn check_overlaps(
    rules: &[Rule],
    by_event: &HashMap<String, Vec<usize>>,
    errors: &mut Vec<LoadError>,
) {
    let mut reported = HashSet::new();
    let mut events: Vec<_> = by_event.iter().collect();
    events.sort();
    for (event, indexes) in events {
        for (n, &a) in indexes.iter().enumerate() {
            for &b in &indexes[n + 1..] {
                if disjoint(&rules[a].when, &rules[b].when) || !reported.insert((a, b)) {
                    continue;
                }
                let (ra, rb) = (&rules[a], &rules[b]);
                errors.push(LoadError {
                    file: rb.file.to_string(),
                    line: rb.line,
                    key: format!("rule {:?}", rb.name),
                    message: format!(
                        "overlaps rule {:?} ({}:{}) on event {event:?}: give both a `when` on the same field with different values",
                        ra.name, ra.file, ra.line
                    ),
                });
            }
        }
    }
}

/// Conditions are disjoint when one field is required by both with no value in common.
fn disjoint(a: &Condition, b: &Condition) -> bool {
    a.0.iter().any(|(path, values)| {
        b.0.iter()
            .any(|(other, others)| path == other && !values.iter().any(|v| others.contains(v)))
    })
}

pub(super) fn check_cycles(
    transforms: &[Transform],
    edges: &[Vec<usize>],
    names: &HashMap<String, (usize, Arc<str>, usize)>,
    errors: &mut Vec<LoadError>,
) {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    fn visit(
        node: usize,
        edges: &[Vec<usize>],
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[node] = 1;
        stack.push(node);
        for &next in &edges[node] {
            if state[next] == 1 {
                let start = stack.iter().position(|&n| n == next).unwrap_or(0);
                return Some(stack[start..].to_vec());
            }
            if state[next] == 0 {
                if let Some(cycle) = visit(next, edges, state, stack) {
                    return Some(cycle);
                }
            }
        }
        stack.pop();
        state[node] = 2;
        None
    }
    let mut state = vec![0u8; edges.len()];
    for node in 0..edges.len() {
        if state[node] == 0 {
            if let Some(cycle) = visit(node, edges, &mut state, &mut Vec::new()) {
                let first = &transforms[cycle[0]].name;
                let chain: Vec<&str> = cycle.iter().map(|&n| transforms[n].name.as_str()).collect();
                let (file, line) = names
                    .get(first)
                    .map_or(("?".to_owned(), 0), |(_, f, l)| (f.to_string(), *l));
                errors.push(LoadError {
                    file,
                    line,
                    key: format!("transforms.{first}"),
                    message: format!(
                        "transforms call themselves: {} -> {first}",
                        chain.join(" -> ")
                    ),
                });
            }
        }
    }
}

pub(super) fn reachable_inputs(
    start: usize,
    transforms: &[Transform],
    edges: &[Vec<usize>],
) -> Vec<usize> {
    let mut seen = vec![false; transforms.len()];
    let mut todo = vec![start];
    let mut slots = Vec::new();
    while let Some(t) = todo.pop() {
        if std::mem::replace(&mut seen[t], true) {
            continue;
        }
        for op in &transforms[t].ops {
            if let Some(Anchor::Input(slot)) = op.reads() {
                if !slots.contains(slot) {
                    slots.push(*slot);
                }
            }
        }
        todo.extend(edges[t].iter().copied());
    }
    slots.sort_unstable();
    slots
}
