//! A route's migration stage, named from its `[routes.policy]`, and the policy lines of the next
//! stage and of a rollback (the stages of Extend's migration guide, as the README's table maps them).
//!
//! The old endpoint is the route's `default_version` (its URL carries no version parameter); the new
//! one is the other version the policy names.

use serde::Serialize;

use crate::config::{Policy, RouteConfig};

/// The stages hookshift tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StageId {
    /// Old forwarded, new acknowledged: the new endpoint created (1) or enabled and ignored (2).
    #[serde(rename = "1/2")]
    IgnoreNew,
    /// Both forwarded: the first step of stage 3 without the ledger.
    #[serde(rename = "3 (both forwarded)")]
    BothForwarded,
    /// Old rejected, new forwarded, both endpoints' secrets configured: stages 3 and 4.
    #[serde(rename = "3")]
    ProcessNew,
    /// New forwarded and the old endpoint gone (its policy removed, or one inbound secret left).
    #[serde(rename = "5")]
    OldDisabled,
    /// A policy no stage of the guide has.
    #[serde(rename = "custom")]
    Custom,
}

impl StageId {
    /// The name the page and the command line show.
    pub fn name(self) -> &'static str {
        match self {
            StageId::IgnoreNew => "1/2",
            StageId::BothForwarded => "3 (both forwarded)",
            StageId::ProcessNew => "3",
            StageId::OldDisabled => "5",
            StageId::Custom => "custom",
        }
    }

    /// What it means at the sender and here.
    pub fn title(self) -> &'static str {
        match self {
            StageId::IgnoreNew => {
                "new endpoint created or enabled; its events acknowledged, the old ones processed"
            }
            StageId::BothForwarded => "both endpoints' events processed (the handler deduplicates)",
            StageId::ProcessNew => {
                "new events processed, old ones rejected (the sender retries them)"
            }
            StageId::OldDisabled => "old endpoint disabled; new events processed",
            StageId::Custom => "a policy that is not a stage of the migration guide",
        }
    }
}

/// A move to another stage: the stage, the `[routes.policy]` lines to write, what else to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub stage: String,
    /// `"2025-04-21" = "reject"` lines; empty when the policy stays.
    pub policy: Vec<String>,
    /// What to do besides the policy edit (at the sender, in `inbound_secrets`), if anything.
    pub also: Option<String>,
}

/// A route's stage and its ways forward and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    pub id: StageId,
    pub name: &'static str,
    pub title: &'static str,
    pub old_version: String,
    pub new_version: Option<String>,
    /// The policy as configured: `version = policy`.
    pub policy: Vec<String>,
    pub next: Option<Move>,
    pub rollback: Option<Move>,
}

fn line(version: &str, policy: Policy) -> String {
    format!("{version:?} = {:?}", policy.as_str())
}

/// The stage of `route`; `ledger_on`: whether twins are paired (stage 3 is then one reload).
pub fn of(route: &RouteConfig, ledger_on: bool) -> Stage {
    let old = route.default_version.clone();
    let others: Vec<&String> = route.policy.keys().filter(|v| **v != old).collect();
    let new = match others.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    };
    let old_policy = route.policy.get(&old).copied();
    let new_policy = new.as_ref().and_then(|n| route.policy.get(n)).copied();
    use Policy::{Ack, Forward, Reject};
    let id = match (others.len(), old_policy, new_policy) {
        (1, Some(Forward), Some(Ack)) => StageId::IgnoreNew,
        (1, Some(Forward), Some(Forward)) => StageId::BothForwarded,
        (1, Some(Reject), Some(Forward)) if route.inbound_secrets.len() >= 2 => StageId::ProcessNew,
        (1, Some(Reject), Some(Forward)) => StageId::OldDisabled,
        _ => StageId::Custom,
    };
    let (next, rollback) = match &new {
        Some(new) => moves(id, &old, new, ledger_on),
        None => (None, None),
    };
    Stage {
        id,
        name: id.name(),
        title: id.title(),
        old_version: old,
        new_version: new,
        policy: route.policy.iter().map(|(v, p)| line(v, *p)).collect(),
        next,
        rollback,
    }
}

fn moves(id: StageId, old: &str, new: &str, ledger_on: bool) -> (Option<Move>, Option<Move>) {
    use Policy::{Ack, Forward, Reject};
    let to = |stage: &str, policy: Vec<String>, also: Option<&str>| Move {
        stage: stage.to_owned(),
        policy,
        also: also.map(str::to_owned),
    };
    let process_new = vec![line(old, Reject), line(new, Forward)];
    let stage_2 = vec![line(old, Forward), line(new, Ack)];
    match id {
        StageId::IgnoreNew if ledger_on => (
            Some(to("3", process_new, Some("one reload: the ledger delivers each event once across the switch"))),
            Some(to("1", Vec::new(), Some("disable the new endpoint at the sender"))),
        ),
        StageId::IgnoreNew => (
            Some(to(
                "3 (both forwarded)",
                vec![line(old, Forward), line(new, Forward)],
                Some("without the ledger, stage 3 takes two reloads: both forwarded first"),
            )),
            Some(to("1", Vec::new(), Some("disable the new endpoint at the sender"))),
        ),
        StageId::BothForwarded => (
            Some(to("3", process_new, None)),
            Some(to("2", stage_2, None)),
        ),
        StageId::ProcessNew => (
            Some(to(
                "5",
                Vec::new(),
                Some("disable the old endpoint at the sender; once no old traffic arrives, remove its secret from inbound_secrets"),
            )),
            Some(to("2", stage_2, Some("one reload: the sender retries the rejected old events"))),
        ),
        StageId::OldDisabled => (
            None,
            Some(to(
                "2",
                stage_2,
                Some("re-enable the old endpoint at the sender and restore its secret in inbound_secrets"),
            )),
        ),
        StageId::Custom => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(policy: &[(&str, &str)], secrets: usize) -> RouteConfig {
        let mut text = String::from(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n[mappings]\ndir = \"m\"\n[[routes]]\nname = \"r\"\npath = \"/r\"\ndefault_version = \"2025-04-21\"\n",
        );
        let secrets: Vec<String> = (0..secrets).map(|i| format!("\"wss_{i}\"")).collect();
        text.push_str(&format!("inbound_secrets = [{}]\n", secrets.join(", ")));
        text.push_str("[routes.downstream]\nurl = \"http://127.0.0.1:1/\"\nversion = \"2026-02-09\"\nsecret = \"s\"\n[routes.policy]\n");
        for (version, p) in policy {
            text.push_str(&format!("{version:?} = {p:?}\n"));
        }
        crate::config::Config::parse_str(&text, Vec::new())
            .unwrap()
            .routes
            .remove(0)
    }

    const OLD: &str = "2025-04-21";
    const NEW: &str = "2026-02-09";

    #[test]
    fn the_guide_stages_are_named_from_the_policy() {
        let cases = [
            (&[(OLD, "forward"), (NEW, "ack")][..], 2, StageId::IgnoreNew),
            (
                &[(OLD, "forward"), (NEW, "forward")][..],
                2,
                StageId::BothForwarded,
            ),
            (
                &[(OLD, "reject"), (NEW, "forward")][..],
                2,
                StageId::ProcessNew,
            ),
            (
                &[(OLD, "reject"), (NEW, "forward")][..],
                1,
                StageId::OldDisabled,
            ),
            (&[(OLD, "ack"), (NEW, "forward")][..], 2, StageId::Custom),
            (&[(OLD, "forward")][..], 2, StageId::Custom),
        ];
        for (policy, secrets, expected) in cases {
            assert_eq!(of(&route(policy, secrets), true).id, expected, "{policy:?}");
        }
    }

    #[test]
    fn next_and_rollback_lines() {
        let stage = of(&route(&[(OLD, "forward"), (NEW, "ack")], 2), true);
        let next = stage.next.unwrap();
        assert_eq!(next.stage, "3");
        assert_eq!(
            next.policy,
            [
                "\"2025-04-21\" = \"reject\"",
                "\"2026-02-09\" = \"forward\""
            ]
        );
        let without_ledger = of(&route(&[(OLD, "forward"), (NEW, "ack")], 2), false);
        assert_eq!(without_ledger.next.unwrap().stage, "3 (both forwarded)");
        let three = of(&route(&[(OLD, "reject"), (NEW, "forward")], 2), true);
        assert_eq!(three.next.unwrap().stage, "5");
        assert_eq!(
            three.rollback.unwrap().policy,
            ["\"2025-04-21\" = \"forward\"", "\"2026-02-09\" = \"ack\""]
        );
        assert!(of(&route(&[(OLD, "reject"), (NEW, "forward")], 1), true)
            .next
            .is_none());
    }
}
