//! The verdict for a route's next stage: ready or not yet, and why, against `[routes.readiness]`.
//!
//! - 1/2 → 3: enough pairs compared, a match ratio at or above the minimum, a handler error ratio at or
//!   below the maximum, no translation that broke the schema, no event waiting in quarantine;
//! - 3 (both forwarded) → 3 and 3 → 5: the new endpoint's events delivered, the handler error ratio
//!   within bounds, no quarantined event;
//! - 5 and custom policies have no next stage: never ready;
//! - without the ledger there is no history to judge from: never ready.

use serde::Serialize;

use super::stage::{Stage, StageId};
use super::{percent, thousands, Problems, ShadowSummary};
use crate::config::ReadinessConfig;

/// Ready or not for the next stage, with the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The stage it is at.
    pub from: String,
    /// The next stage (`None`: there is none to move to).
    pub to: Option<String>,
    pub ready: bool,
    /// One line: `stage 1/2 -> 3: not yet: …`.
    pub summary: String,
    /// What holds (when ready) or what is missing (when not).
    pub reasons: Vec<String>,
}

/// Checks, each a reason and whether it holds.
#[derive(Default)]
struct Checks(Vec<(bool, String)>);

impl Checks {
    fn check(&mut self, holds: bool, reason: String) {
        self.0.push((holds, reason));
    }
}

/// Judges `stage` on the window's evidence.
pub fn judge(
    stage: &Stage,
    shadow: &ShadowSummary,
    problems: &Problems,
    readiness: &ReadinessConfig,
    ledger_on: bool,
) -> Verdict {
    let from = stage.name.to_owned();
    let Some(next) = &stage.next else {
        let reason = match stage.id {
            StageId::OldDisabled => "the last stage: nothing to move on to".to_owned(),
            _ => "the policy is not a stage of the migration guide: no verdict".to_owned(),
        };
        return Verdict {
            summary: format!("stage {from}: {reason}"),
            from,
            to: None,
            ready: false,
            reasons: vec![reason],
        };
    };
    let mut checks = Checks::default();
    if !ledger_on {
        checks.check(
            false,
            "the ledger is off ([ledger] backend = \"off\"): no history to judge from".to_owned(),
        );
    } else if stage.id == StageId::IgnoreNew {
        compared(&mut checks, shadow, readiness);
    } else if let Some(new) = &stage.new_version {
        let delivered = problems.delivered.get(new).copied().unwrap_or(0);
        checks.check(
            delivered > 0,
            format!(
                "{} events from {new} delivered in {} h",
                thousands(delivered),
                problems.window_hours
            ),
        );
    }
    if ledger_on {
        handled(&mut checks, problems, readiness);
    }
    let ready = checks.0.iter().all(|(holds, _)| *holds);
    let reasons: Vec<String> = checks
        .0
        .into_iter()
        .filter(|(holds, _)| ready || !holds)
        .map(|(_, reason)| reason)
        .collect();
    Verdict {
        summary: format!(
            "stage {from} -> {}: {}: {}",
            next.stage,
            if ready { "ready" } else { "not yet" },
            reasons.join("; ")
        ),
        from,
        to: Some(next.stage.clone()),
        ready,
        reasons,
    }
}

/// The shadow comparison's checks (stage 1/2).
fn compared(checks: &mut Checks, shadow: &ShadowSummary, readiness: &ReadinessConfig) {
    checks.check(
        shadow.pairs >= readiness.min_pairs,
        format!(
            "{} of {} pairs",
            thousands(shadow.pairs),
            thousands(readiness.min_pairs)
        ),
    );
    let ratio = shadow.match_ratio.unwrap_or(0.0);
    let mut reason = match shadow.match_ratio {
        Some(ratio) => format!(
            "match {} (need {})",
            percent(ratio),
            percent(readiness.min_match_ratio)
        ),
        None => format!(
            "no pair compared yet (need a match of {})",
            percent(readiness.min_match_ratio)
        ),
    };
    if let Some(top) = shadow.top_mismatched_paths.first() {
        reason.push_str(&format!(
            ": `{}` differs in {} pair{} ({} / {})",
            top.path,
            thousands(top.pairs),
            if top.pairs == 1 { "" } else { "s" },
            top.native_event_id,
            top.translated_event_id
        ));
    }
    checks.check(
        shadow.pairs > 0 && ratio >= readiness.min_match_ratio,
        reason,
    );
}

/// The handler's and the translation's checks (every stage).
fn handled(checks: &mut Checks, problems: &Problems, readiness: &ReadinessConfig) {
    let answers: u64 = problems.handler_answers.values().sum();
    let ratio = problems.handler_error_ratio.unwrap_or(0.0);
    checks.check(
        ratio <= readiness.max_handler_error_ratio,
        format!(
            "handler errors {} of {} answers, {} (at most {})",
            thousands(answers - problems.handler_answers.get("2xx").copied().unwrap_or(0)),
            thousands(answers),
            percent(ratio),
            percent(readiness.max_handler_error_ratio)
        ),
    );
    if problems.invalid_outputs > 0 {
        checks.check(
            false,
            format!(
                "{} translations broke the target schema",
                thousands(problems.invalid_outputs)
            ),
        );
    }
    if problems.quarantined > 0 {
        checks.check(
            false,
            format!(
                "{} events quarantined (fix the mapping, then `hookshift quarantine replay`)",
                thousands(problems.quarantined)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::MismatchedPath;
    use super::*;
    use crate::status::stage::Move;

    fn stage(id: StageId) -> Stage {
        Stage {
            id,
            name: id.name(),
            title: id.title(),
            old_version: "2025-04-21".into(),
            new_version: Some("2026-02-09".into()),
            policy: Vec::new(),
            next: (id != StageId::OldDisabled).then(|| Move {
                stage: "3".into(),
                policy: Vec::new(),
                also: None,
            }),
            rollback: None,
        }
    }

    fn shadow(pairs: u64, matched: u64) -> ShadowSummary {
        ShadowSummary {
            window_hours: 24,
            pairs,
            matched,
            match_ratio: (pairs > 0).then(|| matched as f64 / pairs as f64),
            top_mismatched_paths: (matched < pairs)
                .then(|| MismatchedPath {
                    path: "payload.output.value.total".into(),
                    pairs: pairs - matched,
                    native_event_id: "evt_n".into(),
                    translated_event_id: "evt_t".into(),
                })
                .into_iter()
                .collect(),
            unpaired_native: 0,
            unpaired_translated: 0,
        }
    }

    fn problems(ok: u64, failed: u64) -> Problems {
        Problems {
            window_hours: 24,
            quarantined: 0,
            invalid_outputs: 0,
            unmapped_fields: 0,
            handler_answers: BTreeMap::from([("2xx".into(), ok), ("5xx".into(), failed)]),
            handler_error_ratio: (ok + failed > 0).then(|| failed as f64 / (ok + failed) as f64),
            delivered: BTreeMap::from([("2026-02-09".into(), ok)]),
        }
    }

    #[test]
    fn stage_2_waits_for_pairs_and_matches() {
        let readiness = ReadinessConfig::default();
        let v = judge(
            &stage(StageId::IgnoreNew),
            &shadow(312, 311),
            &problems(312, 0),
            &readiness,
            true,
        );
        assert!(!v.ready);
        assert_eq!(
            v.summary,
            "stage 1/2 -> 3: not yet: 312 of 1,000 pairs; match 99.68 % (need 99.9 %): \
             `payload.output.value.total` differs in 1 pair (evt_n / evt_t)"
        );
        let v = judge(
            &stage(StageId::IgnoreNew),
            &shadow(2_000, 2_000),
            &problems(2_000, 1),
            &readiness,
            true,
        );
        assert!(v.ready, "{v:?}");
        assert_eq!(v.reasons[0], "2,000 of 1,000 pairs");
        let v = judge(
            &stage(StageId::IgnoreNew),
            &shadow(2_000, 2_000),
            &problems(10, 10),
            &readiness,
            true,
        );
        assert!(!v.ready);
        assert_eq!(
            v.reasons,
            ["handler errors 10 of 20 answers, 50.0 % (at most 1.0 %)"]
        );
        let off = judge(
            &stage(StageId::IgnoreNew),
            &shadow(0, 0),
            &problems(1, 0),
            &readiness,
            false,
        );
        assert!(!off.ready && off.reasons[0].contains("ledger is off"));
    }

    #[test]
    fn later_stages_need_deliveries_and_the_last_has_no_next() {
        let readiness = ReadinessConfig::default();
        let both = stage(StageId::BothForwarded);
        assert!(judge(&both, &shadow(0, 0), &problems(5, 0), &readiness, true).ready);
        let none = judge(&both, &shadow(0, 0), &problems(0, 0), &readiness, true);
        assert!(!none.ready);
        assert_eq!(none.reasons, ["0 events from 2026-02-09 delivered in 24 h"]);
        let mut quarantined = problems(5, 0);
        quarantined.quarantined = 2;
        assert!(!judge(&both, &shadow(0, 0), &quarantined, &readiness, true).ready);
        let last = judge(
            &stage(StageId::OldDisabled),
            &shadow(0, 0),
            &problems(5, 0),
            &readiness,
            true,
        );
        assert!(!last.ready && last.to.is_none());
    }
}
