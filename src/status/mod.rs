//! Where a migration stands, per route: its stage, traffic per endpoint version, the shadow
//! comparison, problems, and a verdict for the next stage with its reasons, read from the ledger's
//! history ([`crate::ledger::history`]) so that every replica reports the same numbers.
//!
//! `hookshift status` prints it ([`text`], or JSON), the admin listener serves it at `GET /status`
//! ([`html`], or JSON), and `--ready-for` turns the verdict into an exit status for scripts.

pub mod html;
pub mod stage;
pub mod verdict;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Config, ReadinessConfig, RouteConfig};
use crate::ledger::history::{hour_of, Bucket, Counter, HistoryStore, Tally};
use crate::ledger::LedgerError;
use crate::ledger::Side;

pub use stage::{Stage, StageId};
pub use verdict::Verdict;

/// Hours the chart and the "last 24 h" figures cover.
pub const CHART_HOURS: u64 = 24;
/// Most mismatched paths listed per route.
pub const TOP_PATHS: usize = 5;

/// Why a status could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("no route is named {0:?}")]
    UnknownRoute(String),
    #[error("{0}")]
    Ledger(#[from] LedgerError),
}

/// The status of every route (or one).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// When it was made (Unix seconds).
    pub generated_at: u64,
    /// `file`, `redis` or `off`.
    pub ledger: &'static str,
    pub routes: Vec<RouteStatus>,
}

/// One route's status.
#[derive(Debug, Clone, Serialize)]
pub struct RouteStatus {
    pub route: String,
    pub handler_version: String,
    pub stage: Stage,
    pub traffic: Vec<VersionTraffic>,
    pub shadow: ShadowSummary,
    pub problems: Problems,
    pub readiness: ReadinessConfig,
    pub verdict: Verdict,
    /// One point per hour, oldest first, the last [`CHART_HOURS`] hours.
    pub chart: Vec<ChartPoint>,
}

/// Requests from one sending version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionTraffic {
    pub version: String,
    /// The current clock hour.
    pub last_hour: u64,
    /// The last 24 hourly buckets.
    pub last_24h: u64,
    /// Over the last 24 h, by outcome (`delivered`, `acked`, `rejected`, …).
    pub outcomes_24h: BTreeMap<String, u64>,
}

/// The shadow comparison over the readiness window.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowSummary {
    pub window_hours: u64,
    pub pairs: u64,
    pub matched: u64,
    /// `None` before the first pair.
    pub match_ratio: Option<f64>,
    pub top_mismatched_paths: Vec<MismatchedPath>,
    /// First copies whose twin never came, by the side that came.
    pub unpaired_native: u64,
    pub unpaired_translated: u64,
}

/// A path where twins differed: in how many pairs, and one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MismatchedPath {
    pub path: String,
    pub pairs: u64,
    pub native_event_id: String,
    pub translated_event_id: String,
}

/// What went wrong over the readiness window.
#[derive(Debug, Clone, Serialize)]
pub struct Problems {
    pub window_hours: u64,
    pub quarantined: u64,
    pub invalid_outputs: u64,
    pub unmapped_fields: u64,
    /// The handler's answers by class (`2xx` … `5xx`, `none`: unreachable or timed out).
    pub handler_answers: BTreeMap<String, u64>,
    /// Answers not 2xx over all answers; `None` before the first.
    pub handler_error_ratio: Option<f64>,
    /// Deliveries the handler answered 2xx, per sending version.
    pub delivered: BTreeMap<String, u64>,
}

/// One hour of the chart.
#[derive(Debug, Clone, Serialize)]
pub struct ChartPoint {
    /// The hour's start (Unix seconds).
    pub hour_start: u64,
    pub received: BTreeMap<String, u64>,
    pub pairs: u64,
    pub matched: u64,
}

/// Reads the history and makes the status of `only` (else every route) at `now_ms`.
pub async fn collect(
    config: &Config,
    store: Option<&HistoryStore>,
    only: Option<&str>,
    now_ms: u64,
) -> Result<Status, StatusError> {
    let routes: Vec<&RouteConfig> = config
        .routes
        .iter()
        .filter(|r| only.is_none_or(|name| r.name == name))
        .collect();
    if let (Some(name), true) = (only, routes.is_empty()) {
        return Err(StatusError::UnknownRoute(name.to_owned()));
    }
    let now_hour = hour_of(now_ms);
    let span = routes
        .iter()
        .map(|r| r.readiness.window_hours)
        .chain([CHART_HOURS])
        .max()
        .unwrap_or(CHART_HOURS);
    let names: Vec<String> = routes.iter().map(|r| r.name.clone()).collect();
    let tally = match store {
        Some(store) => store.read(&names, now_hour + 1 - span, now_hour).await?,
        None => Tally::default(),
    };
    let ledger_on = store.is_some();
    Ok(Status {
        generated_at: now_ms / 1_000,
        ledger: config.ledger.backend.as_str(),
        routes: routes
            .into_iter()
            .map(|route| {
                let empty = BTreeMap::new();
                let hours = tally.routes.get(&route.name).unwrap_or(&empty);
                route_status(route, hours, now_hour, ledger_on)
            })
            .collect(),
    })
}

/// The counters of the hours `from..=to`, summed, as typed counters.
fn sum(hours: &BTreeMap<u64, Bucket>, from: u64, to: u64) -> (BTreeMap<Counter, u64>, Bucket) {
    let mut counts = BTreeMap::new();
    let mut all = Bucket::default();
    for (_, bucket) in hours.range(from..=to) {
        for (name, n) in &bucket.counts {
            if let Some(counter) = Counter::parse(name) {
                *counts.entry(counter).or_default() += n;
            }
        }
        for (path, tally) in &bucket.paths {
            let held = all.paths.entry(path.clone()).or_insert_with(|| {
                let mut first = tally.clone();
                first.pairs = 0;
                first
            });
            held.pairs += tally.pairs;
        }
    }
    (counts, all)
}

fn route_status(
    route: &RouteConfig,
    hours: &BTreeMap<u64, Bucket>,
    now_hour: u64,
    ledger_on: bool,
) -> RouteStatus {
    let readiness = route.readiness;
    let window_from = now_hour + 1 - readiness.window_hours;
    let (window, window_bucket) = sum(hours, window_from, now_hour);
    let (day, _) = sum(hours, now_hour + 1 - CHART_HOURS, now_hour);
    let (hour, _) = sum(hours, now_hour, now_hour);

    let traffic = traffic_per_version(route, &day, &hour);
    let shadow = shadow_summary(readiness.window_hours, &window, window_bucket);
    let problems = window_problems(readiness.window_hours, &window);
    let chart = chart_points(hours, now_hour);

    let stage = stage::of(route, ledger_on);
    let verdict = verdict::judge(&stage, &shadow, &problems, &readiness, ledger_on);
    RouteStatus {
        route: route.name.clone(),
        handler_version: route.downstream.version.clone(),
        stage,
        traffic,
        shadow,
        problems,
        readiness,
        verdict,
        chart,
    }
}

/// The value of one counter, zero when it never moved.
fn count(counts: &BTreeMap<Counter, u64>, counter: Counter) -> u64 {
    counts.get(&counter).copied().unwrap_or(0)
}

/// Traffic per sending version: the versions the policy names first, then any other version seen
/// in the last day, so unexpected senders show up too.
fn traffic_per_version(
    route: &RouteConfig,
    day: &BTreeMap<Counter, u64>,
    hour: &BTreeMap<Counter, u64>,
) -> Vec<VersionTraffic> {
    let mut versions: Vec<String> = route.policy.keys().cloned().collect();
    for counter in day.keys() {
        if let Counter::Received { version } = counter {
            if !versions.contains(version) {
                versions.push(version.clone());
            }
        }
    }
    versions
        .into_iter()
        .map(|version| {
            let received = Counter::Received {
                version: version.clone(),
            };
            let outcomes_24h = day
                .iter()
                .filter_map(|(c, n)| match c {
                    Counter::Outcome {
                        version: v,
                        outcome,
                    } if *v == version => Some((outcome.clone(), *n)),
                    _ => None,
                })
                .collect();
            VersionTraffic {
                last_hour: count(hour, received.clone()),
                last_24h: count(day, received),
                outcomes_24h,
                version,
            }
        })
        .collect()
}

/// The twin comparison over the readiness window, with the paths that differ most often.
fn shadow_summary(
    window_hours: u64,
    window: &BTreeMap<Counter, u64>,
    window_bucket: Bucket,
) -> ShadowSummary {
    let pairs_matched = count(window, Counter::Pair { matched: true });
    let pairs = pairs_matched + count(window, Counter::Pair { matched: false });
    let mut top: Vec<MismatchedPath> = window_bucket
        .paths
        .into_iter()
        .map(|(path, t)| MismatchedPath {
            path,
            pairs: t.pairs,
            native_event_id: t.native_event_id,
            translated_event_id: t.translated_event_id,
        })
        .collect();
    top.sort_by(|a, b| b.pairs.cmp(&a.pairs).then_with(|| a.path.cmp(&b.path)));
    top.truncate(TOP_PATHS);
    ShadowSummary {
        window_hours,
        pairs,
        matched: pairs_matched,
        match_ratio: (pairs > 0).then(|| pairs_matched as f64 / pairs as f64),
        top_mismatched_paths: top,
        unpaired_native: count(window, Counter::Unpaired(Side::Native)),
        unpaired_translated: count(window, Counter::Unpaired(Side::Translated)),
    }
}

/// What went wrong over the readiness window, and the handler's answers per class.
fn window_problems(window_hours: u64, window: &BTreeMap<Counter, u64>) -> Problems {
    let mut handler_answers = BTreeMap::new();
    let mut delivered = BTreeMap::new();
    for (counter, n) in window {
        if let Counter::Answer { version, class } = counter {
            *handler_answers.entry(class.clone()).or_default() += n;
            if class == "2xx" {
                *delivered.entry(version.clone()).or_default() += n;
            }
        }
    }
    let answers: u64 = handler_answers.values().sum();
    let ok = handler_answers.get("2xx").copied().unwrap_or(0);
    Problems {
        window_hours,
        quarantined: count(window, Counter::Quarantined),
        invalid_outputs: count(window, Counter::InvalidOutput),
        unmapped_fields: count(window, Counter::UnmappedField),
        handler_error_ratio: (answers > 0).then(|| (answers - ok) as f64 / answers as f64),
        handler_answers,
        delivered,
    }
}

/// One point per hour of the chart: requests per version and twin pairs compared.
fn chart_points(hours: &BTreeMap<u64, Bucket>, now_hour: u64) -> Vec<ChartPoint> {
    (now_hour + 1 - CHART_HOURS..=now_hour)
        .map(|h| {
            let (counts, _) = sum(hours, h, h);
            let mut received = BTreeMap::new();
            for (counter, n) in &counts {
                if let Counter::Received { version } = counter {
                    received.insert(version.clone(), *n);
                }
            }
            let matched = count(&counts, Counter::Pair { matched: true });
            ChartPoint {
                hour_start: h * 3_600,
                received,
                pairs: matched + count(&counts, Counter::Pair { matched: false }),
                matched,
            }
        })
        .collect()
}

/// `1,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `99.7 %`, `99.95 %`, `100.0 %`: as many decimals as it takes, one at least, two at most.
pub fn percent(ratio: f64) -> String {
    let text = format!("{:.2}", ratio * 100.0);
    let trimmed = text.trim_end_matches('0');
    let trimmed = if trimmed.ends_with('.') {
        format!("{trimmed}0")
    } else {
        trimmed.to_owned()
    };
    format!("{trimmed} %")
}

/// The text form of `hookshift status`.
pub fn text(status: &Status) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for r in &status.routes {
        let _ = writeln!(
            out,
            "route {}: stage {}: {} (handler on {})",
            r.route, r.stage.name, r.stage.title, r.handler_version
        );
        for line in &r.stage.policy {
            let _ = writeln!(out, "  policy: {line}");
        }
        let _ = writeln!(out, "  traffic (this hour / 24 h):");
        for t in &r.traffic {
            let outcomes: Vec<String> = t
                .outcomes_24h
                .iter()
                .map(|(o, n)| format!("{o} {}", thousands(*n)))
                .collect();
            let _ = writeln!(
                out,
                "    {}: {} / {}{}",
                t.version,
                thousands(t.last_hour),
                thousands(t.last_24h),
                if outcomes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", outcomes.join(", "))
                }
            );
        }
        let s = &r.shadow;
        let _ = writeln!(
            out,
            "  shadow ({} h): {} pairs, match {}; unpaired: {} native, {} translated",
            s.window_hours,
            thousands(s.pairs),
            s.match_ratio.map_or_else(|| "-".to_owned(), percent),
            thousands(s.unpaired_native),
            thousands(s.unpaired_translated)
        );
        for p in &s.top_mismatched_paths {
            let _ = writeln!(
                out,
                "    {} differs in {} pair(s) ({} / {})",
                p.path,
                thousands(p.pairs),
                p.native_event_id,
                p.translated_event_id
            );
        }
        let p = &r.problems;
        let answers: Vec<String> = p
            .handler_answers
            .iter()
            .map(|(c, n)| format!("{c} {}", thousands(*n)))
            .collect();
        let _ = writeln!(
            out,
            "  problems ({} h): {} quarantined, {} invalid outputs, {} unmapped fields; handler answers: {}",
            p.window_hours,
            thousands(p.quarantined),
            thousands(p.invalid_outputs),
            thousands(p.unmapped_fields),
            if answers.is_empty() { "none".to_owned() } else { answers.join(", ") }
        );
        let _ = writeln!(out, "  verdict: {}", r.verdict.summary);
        for (label, m) in [("next", &r.stage.next), ("rollback", &r.stage.rollback)] {
            if let Some(m) = m {
                let _ = writeln!(out, "  {label} (stage {}):", m.stage);
                for line in &m.policy {
                    let _ = writeln!(out, "    {line}");
                }
                if let Some(also) = &m.also {
                    let _ = writeln!(out, "    {also}");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(percent(0.997), "99.7 %");
        assert_eq!(percent(0.9995), "99.95 %");
        assert_eq!(percent(1.0), "100.0 %");
        assert_eq!(percent(0.5), "50.0 %");
    }
}
