//! `hookshift shadow report`: what the shadow comparison found, read from the ledger (either backend,
//! while servers run): per route and event type, the pairs, the match ratio, the most frequent
//! mismatched paths and the event ids of one pair that showed each.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::config::{Config, ConfigErrors};
use crate::ledger::{now_ms, Entry, Ledger, LedgerError, ShadowState, Side};

/// Most mismatched paths listed per event type.
pub const TOP_PATHS: usize = 10;

/// `hookshift shadow …`.
#[derive(Debug, Args)]
pub struct ShadowArgs {
    #[command(subcommand)]
    pub command: ShadowCommand,
}

/// What to do with the shadow comparison.
#[derive(Debug, Subcommand)]
pub enum ShadowCommand {
    /// Print, per route and event type, pairs compared, match ratio, top mismatched paths with counts
    /// and the event ids of one example pair.
    Report(ReportArgs),
}

/// Options of `shadow report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Configuration file (its `[ledger]` is read).
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
    /// Only this route.
    #[arg(long)]
    pub route: Option<String>,
    /// Only events first seen this long ago or later: `90s`, `30m`, `24h`, `7d` (default: the whole
    /// retention).
    #[arg(long, value_parser = parse_age)]
    pub since: Option<Duration>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Why `shadow report` failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("the ledger is off ([ledger] backend = \"off\"): nothing to report")]
    Off,
    #[error("{0}")]
    Ledger(#[from] LedgerError),
}

/// Parses `90s`, `30m`, `24h`, `7d`.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: a number and s, m, h or d (24h)")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: a number and s, m, h or d (24h)"))?;
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

/// One mismatched path of an event type, how many pairs showed it, and one of them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathCount {
    pub path: String,
    pub pairs: u64,
    /// `native_event_id / translated_event_id` of one pair that showed it.
    pub example: (String, String),
    /// The JSON types on each side in that pair (`absent` when missing).
    pub kinds: (String, String),
}

/// The comparison's findings for one route and event type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventTypeReport {
    pub route: String,
    pub event_type: String,
    pub pairs: u64,
    pub matched: u64,
    /// First copies still waiting for their twin, per side.
    pub waiting_native: u64,
    pub waiting_translated: u64,
    /// Differences the mapping expects (synthesised paths), over all pairs.
    pub expected_differences: u64,
    pub top_paths: Vec<PathCount>,
    /// Event ids (native, translated) of one pair, a mismatched one when there is one.
    pub example: Option<(String, String)>,
}

impl EventTypeReport {
    /// Matched pairs over all pairs (1 when there are none).
    pub fn match_ratio(&self) -> f64 {
        if self.pairs == 0 {
            1.0
        } else {
            self.matched as f64 / self.pairs as f64
        }
    }
}

/// Aggregates entries into one report per route and event type, sorted by route and event type.
pub fn aggregate<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    route: Option<&str>,
) -> Vec<EventTypeReport> {
    let mut groups: BTreeMap<(String, String), (EventTypeReport, BTreeMap<String, PathCount>)> =
        BTreeMap::new();
    for entry in entries {
        if route.is_some_and(|r| r != entry.route) {
            continue;
        }
        let Some(shadow) = &entry.shadow else {
            continue;
        };
        let (group, paths) = groups
            .entry((entry.route.clone(), entry.event_type.clone()))
            .or_insert_with(|| {
                (
                    EventTypeReport {
                        route: entry.route.clone(),
                        event_type: entry.event_type.clone(),
                        pairs: 0,
                        matched: 0,
                        waiting_native: 0,
                        waiting_translated: 0,
                        expected_differences: 0,
                        top_paths: Vec::new(),
                        example: None,
                    },
                    BTreeMap::new(),
                )
            });
        match shadow {
            ShadowState::Waiting { copy, .. } => match copy.side {
                Side::Native => group.waiting_native += 1,
                Side::Translated => group.waiting_translated += 1,
            },
            ShadowState::Paired { result, .. } => {
                group.pairs += 1;
                group.expected_differences += result.expected as u64;
                let ids = (
                    result.native_event_id.clone(),
                    result.translated_event_id.clone(),
                );
                if result.matched {
                    group.matched += 1;
                    group.example.get_or_insert(ids.clone());
                } else if group.pairs - group.matched == 1 {
                    // The first mismatched pair is the example, in place of a matched one.
                    group.example = Some(ids.clone());
                }
                for difference in &result.mismatched {
                    let kind = |k: Option<crate::shadow::Kind>| {
                        k.map_or("absent", crate::shadow::Kind::as_str).to_owned()
                    };
                    paths
                        .entry(difference.path.clone())
                        .or_insert_with(|| PathCount {
                            path: difference.path.clone(),
                            pairs: 0,
                            example: ids.clone(),
                            kinds: (kind(difference.native), kind(difference.translated)),
                        })
                        .pairs += 1;
                }
            }
        }
    }
    groups
        .into_values()
        .map(|(mut group, paths)| {
            let mut paths: Vec<PathCount> = paths.into_values().collect();
            paths.sort_by(|a, b| b.pairs.cmp(&a.pairs).then_with(|| a.path.cmp(&b.path)));
            paths.truncate(TOP_PATHS);
            group.top_paths = paths;
            group
        })
        .collect()
}

/// The text form.
pub struct Text<'a>(pub &'a [EventTypeReport]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return writeln!(
                f,
                "no compared or waiting events in the ledger for this selection"
            );
        }
        for group in self.0 {
            writeln!(
                f,
                "{} {}: {} pair(s), {:.2} % matched ({} mismatched); waiting for a twin: {} native, {} translated; {} expected difference(s)",
                group.route,
                group.event_type,
                group.pairs,
                group.match_ratio() * 100.0,
                group.pairs - group.matched,
                group.waiting_native,
                group.waiting_translated,
                group.expected_differences,
            )?;
            for path in &group.top_paths {
                writeln!(
                    f,
                    "  {:>6}  {}  ({} native, {} translated; e.g. {} / {})",
                    path.pairs,
                    path.path,
                    path.kinds.0,
                    path.kinds.1,
                    path.example.0,
                    path.example.1
                )?;
            }
            if let Some((native, translated)) = &group.example {
                writeln!(
                    f,
                    "  example pair: {native} (native) / {translated} (translated)"
                )?;
            }
        }
        Ok(())
    }
}

/// `hookshift shadow report`: the report as text (or JSON).
pub async fn run(args: &ReportArgs) -> Result<String, ReportError> {
    // Only [ledger] is needed: the routes' secrets need not be set where the report runs.
    let config = Config::parse(&args.config, std::env::vars())?;
    let problems: Vec<_> = config
        .validate()
        .into_iter()
        .filter(|e| e.to_string().starts_with("ledger."))
        .collect();
    if !problems.is_empty() {
        return Err(ReportError::Config(ConfigErrors(problems)));
    }
    let ledger = Ledger::open_beside(&config)?.ok_or(ReportError::Off)?;
    let since = args
        .since
        .map_or(0, |age| now_ms().saturating_sub(age.as_millis() as u64));
    let entries = ledger.store().entries_since(since).await?;
    let groups = aggregate(&entries, args.route.as_deref());
    Ok(if args.json {
        serde_json::to_string_pretty(&groups).expect("reports serialize")
    } else {
        Text(&groups).to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::ShadowCopy;
    use crate::shadow::{compare, Expected, Fingerprint, Kept};

    fn entry(route: &str, id: &str, native: &str, translated: Option<&str>) -> Entry {
        let fp = |text: &str| Fingerprint::of(&serde_json::from_str(text).unwrap(), false);
        let shadow = match translated {
            Some(t) => ShadowState::Paired {
                result: compare(
                    &fp(native),
                    &fp(t),
                    &Expected::default(),
                    &format!("n_{id}"),
                    &format!("t_{id}"),
                    "2025-04-21",
                ),
                at_ms: 1,
            },
            None => ShadowState::Waiting {
                copy: ShadowCopy {
                    side: Side::Native,
                    version: "2026-02-09".into(),
                    event_id: format!("n_{id}"),
                    fingerprint: Kept::of(&serde_json::from_str(native).unwrap(), false),
                },
                at_ms: 1,
            },
        };
        Entry {
            route: route.into(),
            event_type: "extract_run.processed".into(),
            identity: id.into(),
            created_ms: 1,
            shadow: Some(shadow),
            occurrences: Vec::new(),
        }
    }

    #[test]
    fn groups_pairs_ratios_and_top_paths() {
        let entries = vec![
            entry("r", "1", r#"{"a":1,"b":1}"#, Some(r#"{"a":1,"b":1}"#)),
            entry("r", "2", r#"{"a":1,"b":1}"#, Some(r#"{"a":2,"b":1}"#)),
            entry("r", "3", r#"{"a":1,"b":1}"#, Some(r#"{"a":2,"b":"x"}"#)),
            entry("r", "4", r#"{"a":1}"#, None),
            entry("other", "5", r#"{"a":1}"#, Some(r#"{"a":1}"#)),
        ];
        let groups = aggregate(&entries, Some("r"));
        assert_eq!(groups.len(), 1);
        let g = &groups[0];
        assert_eq!((g.pairs, g.matched, g.waiting_native), (3, 1, 1));
        assert!((g.match_ratio() - 1.0 / 3.0).abs() < 1e-9);
        let top: Vec<(&str, u64)> = g
            .top_paths
            .iter()
            .map(|p| (p.path.as_str(), p.pairs))
            .collect();
        assert_eq!(top, [("a", 2), ("b", 1)]);
        assert_eq!(g.top_paths[1].kinds, ("number".into(), "string".into()));
        assert_eq!(g.example, Some(("n_2".into(), "t_2".into())));
        let text = Text(&groups).to_string();
        assert!(
            text.contains("r extract_run.processed: 3 pair(s), 33.33 % matched"),
            "{text}"
        );
        assert!(
            text.contains("example pair: n_2 (native) / t_2 (translated)"),
            "{text}"
        );
        assert_eq!(aggregate(&entries, None).len(), 2);
    }

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_age("24").is_err());
        assert!(parse_age("h").is_err());
    }
}
