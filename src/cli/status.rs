//! `hookshift status`: where the migration stands per route, read from the ledger (either backend,
//! while servers run), and `--ready-for STAGE`, the promotion gate: exit status 0 only when the
//! route's verdict says it may move to that stage.

use std::path::PathBuf;

use clap::Args;

use crate::config::{Config, ConfigErrors};
use crate::ledger::history::HistoryStore;
use crate::ledger::LedgerError;
use crate::status::{self, StatusError};

/// Options of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Configuration file (its `[ledger]` and `[[routes]]` are read).
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
    /// Only this route (required with `--ready-for` when the configuration has several).
    #[arg(long)]
    pub route: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 only when the route is ready for this stage (`3`, `5`, or `3 (both forwarded)`).
    #[arg(long, value_name = "STAGE")]
    pub ready_for: Option<String>,
}

/// Why `status` could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StatusCommandError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Status(#[from] StatusError),
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("--ready-for needs --route: the configuration has {0} routes")]
    WhichRoute(usize),
}

/// What `status` prints and whether the gate (if asked) is open.
#[derive(Debug)]
pub struct StatusOutput {
    pub text: String,
    /// `false` only when `--ready-for` was given and the verdict is not "ready" for that stage.
    pub ready: bool,
}

/// Runs `hookshift status`.
pub async fn run(args: &StatusArgs) -> Result<StatusOutput, StatusCommandError> {
    // Secrets need not be set where the command runs: only [ledger] problems stop it.
    let config = Config::parse(&args.config, std::env::vars())?;
    let problems: Vec<_> = config
        .validate()
        .into_iter()
        .filter(|e| {
            let text = e.to_string();
            text.starts_with("ledger.") || text.contains(".readiness.")
        })
        .collect();
    if !problems.is_empty() {
        return Err(StatusCommandError::Config(ConfigErrors(problems)));
    }
    if args.ready_for.is_some() && args.route.is_none() && config.routes.len() > 1 {
        return Err(StatusCommandError::WhichRoute(config.routes.len()));
    }
    let store = HistoryStore::open(&config)?;
    let status = status::collect(
        &config,
        store.as_ref(),
        args.route.as_deref(),
        crate::ledger::now_ms(),
    )
    .await?;
    let mut text = if args.json {
        let mut json = serde_json::to_string_pretty(&status).expect("a status serializes");
        json.push('\n');
        json
    } else {
        status::text(&status)
    };
    let mut ready = true;
    if let Some(wanted) = &args.ready_for {
        for route in &status.routes {
            let verdict = &route.verdict;
            let (open, line) = match &verdict.to {
                Some(to) if to == wanted.trim() => (verdict.ready, verdict.summary.clone()),
                Some(to) => (
                    false,
                    format!(
                        "route {} is at stage {}: its next stage is {to}, not {wanted}",
                        route.route, verdict.from
                    ),
                ),
                None => (false, verdict.summary.clone()),
            };
            ready &= open;
            if !args.json {
                text.push_str(&format!(
                    "ready for {wanted}: {} ({line})\n",
                    if open { "yes" } else { "no" }
                ));
            }
        }
    }
    Ok(StatusOutput { text, ready })
}
