//! `hookshift quarantine list` and `hookshift quarantine replay`: the quarantined events, and their
//! delivery once the mappings are fixed.
//!
//! Replay loads the configuration and mappings as they are now (so a fixed mapping and a reload are
//! all it takes) and hands each event to the pipeline's replay ([`Pipeline::replay`]), which runs it
//! through the exactly-once unit live copies go through: claimed like a live copy, its signed-URL
//! payload fetched, translated with the delivery time it was received with, checked against the
//! schemas, signed with the handler's secret, delivered and settled. The handler's 2xx removes it
//! from the quarantine; an event the ledger knows as delivered (its twin came through meanwhile) is
//! removed without a delivery. Safe next to running servers and across reloads: each event is read,
//! delivered and removed on its own. This file only selects, counts and reports.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::ledger::quarantine::{Quarantined, ReplayResult};
use crate::ledger::{Ledger, LedgerError};
use crate::pipeline::Pipeline;
use crate::state::{State, StateError};

pub use crate::pipeline::replay::Replayed;

/// `hookshift quarantine …`.
#[derive(Debug, Args)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    pub command: QuarantineCommand,
}

/// What to do with the quarantine.
#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// List the quarantined events: id, route, version, event type and id, when, why.
    List(ListArgs),
    /// Translate the quarantined events with the current mappings and deliver them; each is removed
    /// on the handler's 2xx.
    Replay(ReplayArgs),
}

/// Options of `quarantine list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Configuration file.
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
}

/// Options of `quarantine replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Configuration file.
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
    /// Only this route.
    #[arg(long)]
    pub route: Option<String>,
    /// Only the event with this `eventId`.
    #[arg(long)]
    pub event_id: Option<String>,
    /// Translate and say what would be delivered, deliver nothing, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Why a quarantine command failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("invalid configuration:\n{0}")]
    State(#[from] StateError),
    #[error("the ledger is off ([ledger] backend = \"off\"): there is no quarantine")]
    Off,
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// Some events stay: `report` is the command's output, a line per event (printed before).
    #[error("{failed} of {total} event(s) not delivered (see above); they stay in quarantine")]
    NotAllDelivered {
        failed: usize,
        total: usize,
        report: String,
    },
}

async fn open(config: &std::path::Path) -> Result<(State, Ledger), ReplayError> {
    let path = config.to_owned();
    let state = tokio::task::spawn_blocking(move || State::load(&path))
        .await
        .map_err(|e| StateError {
            problems: vec![e.to_string()],
        })??;
    let ledger = Ledger::open_beside(&state.config)?.ok_or(ReplayError::Off)?;
    Ok((state, ledger))
}

/// `hookshift quarantine list`: one line per event.
pub async fn list(args: &ListArgs) -> Result<String, ReplayError> {
    let (_, ledger) = open(&args.config).await?;
    let items = ledger.store().quarantine_list().await?;
    let mut out = String::new();
    for item in &items {
        out.push_str(&format!(
            "{}  route {}  {} {}  event {}  {} bytes  received {}  {}\n",
            item.id,
            item.route,
            item.version,
            item.event_type,
            item.event_id,
            item.bytes,
            format_ms(item.received_ms),
            item.reason
        ));
    }
    out.push_str(&format!("{} event(s) in quarantine\n", items.len()));
    Ok(out)
}

/// `hookshift quarantine replay`: one line per event, and an error when one stays.
pub async fn replay(args: &ReplayArgs) -> Result<String, ReplayError> {
    let (state, ledger) = open(&args.config).await?;
    let ledger = Arc::new(ledger);
    let pipeline = Pipeline::for_replay(state, Arc::clone(&ledger));
    let items: Vec<Quarantined> = ledger
        .store()
        .quarantine_list()
        .await?
        .into_iter()
        .filter(|i| args.route.as_ref().is_none_or(|r| *r == i.route))
        .filter(|i| args.event_id.as_ref().is_none_or(|e| *e == i.event_id))
        .collect();
    let mut out = String::new();
    let mut failed = 0;
    for item in &items {
        let result = pipeline.replay(item, args.dry_run).await;
        let counted = match &result {
            Replayed::Delivered => Some(ReplayResult::Delivered),
            Replayed::Duplicate => Some(ReplayResult::Duplicate),
            Replayed::Kept(_) => Some(ReplayResult::Failed),
            Replayed::WouldDeliver => None,
        };
        if let Some(counted) = counted {
            // A count that cannot be written costs the metric one replay, not the replay itself.
            if let Err(error) = ledger.store().count_replay(&item.route, counted).await {
                tracing::warn!(error = %error, "replay not counted in the ledger");
            }
        }
        let line = match &result {
            Replayed::Delivered => "delivered, removed".to_owned(),
            Replayed::Duplicate => "already delivered (its twin), removed".to_owned(),
            Replayed::WouldDeliver => "would be delivered (dry run)".to_owned(),
            Replayed::Kept(why) => {
                failed += 1;
                format!("kept: {why}")
            }
        };
        out.push_str(&format!(
            "{} {} {}: {line}\n",
            item.id, item.route, item.event_id
        ));
    }
    out.push_str(&format!("{} event(s) replayed\n", items.len()));
    if failed > 0 {
        print!("{out}");
        return Err(ReplayError::NotAllDelivered {
            failed,
            total: items.len(),
            report: out,
        });
    }
    Ok(out)
}

fn format_ms(ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}
