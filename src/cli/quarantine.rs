//! `hookshift quarantine list` and `hookshift quarantine replay`: the quarantined events, and their
//! delivery once the mappings are fixed.
//!
//! Replay loads the configuration and mappings as they are now (so a fixed mapping and a reload are
//! all it takes), translates each event with the delivery time it was received with, signs it with
//! the handler's secret and delivers it; the handler's 2xx removes it from the quarantine. Exactly once
//! holds as for live copies: an event the ledger knows as delivered (its twin came through meanwhile)
//! is removed without a delivery. Safe next to running servers and across reloads: each event is read,
//! delivered and removed on its own.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use http::{header, HeaderValue};

use crate::json::Value;
use crate::ledger::once::{Copy, Decision, Intent, Placed};
use crate::ledger::quarantine::{Quarantined, ReplayResult};
use crate::ledger::stage::AtHandler;
use crate::ledger::{Key, Ledger, LedgerError};
use crate::mapping::Delivery;
use crate::outbound::deliver::{Deliverer, Outbound};
use crate::route::Route;
use crate::state::{State, StateError};

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
    #[error("{failed} of {total} event(s) not delivered (see above); they stay in quarantine")]
    NotAllDelivered { failed: usize, total: usize },
}

/// What became of one replayed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// Delivered (2xx) and removed.
    Delivered,
    /// Its event was delivered already (its twin): removed without a delivery.
    Duplicate,
    /// `--dry-run`: it would be delivered.
    WouldDeliver,
    /// Still not deliverable: why (kept).
    Kept(String),
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
    let deliverer = Deliverer::new();
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
        let result = replay_one(&state, &ledger, &deliverer, item, args.dry_run).await;
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
        });
    }
    Ok(out)
}

async fn replay_one(
    state: &State,
    ledger: &Ledger,
    deliverer: &Deliverer,
    item: &Quarantined,
    dry_run: bool,
) -> Replayed {
    let Some(route) = state.routes.iter().find(|r| r.name == item.route) else {
        return Replayed::Kept(format!(
            "no route named {:?} in the configuration",
            item.route
        ));
    };
    let body = match ledger.store().quarantine_body(&item.id).await {
        Ok(Some(body)) => body,
        Ok(None) => return Replayed::Kept("removed meanwhile".to_owned()),
        Err(e) => return Replayed::Kept(e.to_string()),
    };
    let handler = route.downstream.version.as_str();
    let event = match crate::json::parse(&body) {
        Ok(event) => event,
        Err(e) => return Replayed::Kept(format!("not JSON: {e}")),
    };
    let delivery = Delivery {
        timestamp: item.timestamp,
    };
    let translated = match in_handler_version(route, item, event, &delivery) {
        Ok(event) => event,
        Err(kept) => return kept,
    };
    // Read as a live copy is, for its identity and pairing digest.
    let others: Vec<&str> = route.policy_versions().filter(|v| *v != handler).collect();
    let read = AtHandler::read(
        &route.mappings,
        route.provider,
        handler,
        &others,
        crate::ledger::stage::Sent {
            version: &item.version,
            event_id: item.event_id.clone(),
            event: &translated,
            delivery,
        },
    );
    if dry_run {
        return Replayed::WouldDeliver;
    }
    let claim = match read {
        Some(copy) => match claim_as_live_copy(ledger, route, item, &copy).await {
            Ok(claim) => claim,
            Err(answered) => return answered,
        },
        None => None,
    };
    let delivered = deliverer
        .deliver(signed_outbound(route, item, body, translated))
        .await;
    match delivered {
        Ok(_) => {
            if let Some(Claim { key, placed, token }) = &claim {
                let _ = ledger
                    .mark_delivered(key, *placed, token, &item.version, &item.event_id)
                    .await;
            }
            match ledger.store().quarantine_remove(&item.id).await {
                Ok(_) => Replayed::Delivered,
                Err(e) => Replayed::Kept(format!("delivered, but not removed: {e}")),
            }
        }
        Err(e) => {
            if let Some(Claim { key, placed, token }) = &claim {
                let _ = ledger.release(key, *placed, token).await;
            }
            Replayed::Kept(format!("the handler did not take it: {e}"))
        }
    }
}

/// The quarantined event in the handler's version: as received when the sender already speaks
/// it, else translated with the mappings as they are now (the fix replay exists for).
fn in_handler_version(
    route: &Route,
    item: &Quarantined,
    event: Value,
    delivery: &Delivery,
) -> Result<Value, Replayed> {
    let handler = route.downstream.version.as_str();
    if item.version == handler {
        return Ok(event);
    }
    let plan = route
        .mappings
        .plan(&item.version, handler)
        .map_err(|e| Replayed::Kept(e.to_string()))?;
    crate::mapping::translate(plan, event, delivery)
        .map_err(|e| Replayed::Kept(format!("translation still fails: {e}")))
}

/// A replay's hold on its ledger entry, marked delivered or released once the handler answers.
struct Claim {
    key: Key,
    placed: Placed,
    token: String,
}

/// Claims the event like a live copy whose policy says deliver, so exactly once holds with the
/// live copies. `Err` is the replay's outcome without a delivery (a twin was delivered, or one is
/// being delivered now); `Ok(None)`: deliver without a claim, as a live copy the ledger cannot
/// track would be.
async fn claim_as_live_copy(
    ledger: &Ledger,
    route: &Route,
    item: &Quarantined,
    copy: &AtHandler,
) -> Result<Option<Claim>, Replayed> {
    let key = Key {
        route: route.name.clone(),
        identity: copy.identity.key.clone(),
    };
    let decided = ledger
        .decide(
            &key,
            Copy {
                event_type: &copy.identity.event_type,
                version: &item.version,
                event_id: &item.event_id,
                digest: copy.digest,
                intent: Intent::Deliver,
                claim_ms: route.downstream.timeout.as_millis() as u64 + 10_000,
            },
        )
        .await;
    match decided {
        Ok((Decision::Duplicate, _)) => {
            let _ = ledger.store().quarantine_remove(&item.id).await;
            Err(Replayed::Duplicate)
        }
        Ok((Decision::InFlight, _)) => Err(Replayed::Kept(
            "another copy is being delivered now".to_owned(),
        )),
        Ok((
            Decision::Deliver { token, .. } | Decision::DeliverForTwin { token, .. },
            Some(placed),
        )) => Ok(Some(Claim { key, placed, token })),
        Ok(_) | Err(_) => Ok(None),
    }
}

/// The request to the handler: the received bytes when untranslated, else the translation, signed
/// with the handler's secret.
fn signed_outbound(
    route: &Route,
    item: &Quarantined,
    body: Vec<u8>,
    translated: Value,
) -> Outbound {
    let handler = route.downstream.version.as_str();
    let out_type = route
        .provider
        .event_type(&translated)
        .unwrap_or_default()
        .to_owned();
    let bytes = if item.version == handler {
        bytes::Bytes::from(body)
    } else {
        bytes::Bytes::from(translated.into_json())
    };
    // Re-signed under the id the sender gave it (Standard Webhooks' `webhook-id`, the handler's
    // deduplication key), not a new one.
    let mut inbound = route.provider.id_headers(&item.event_id);
    inbound.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let headers = route.provider.outbound_headers(
        &inbound,
        &bytes,
        &route.downstream.secret,
        crate::clock::system_clock(),
        (item.version != handler).then_some((out_type.as_str(), handler)),
    );
    Outbound {
        url: route.downstream.url.clone(),
        headers,
        body: bytes,
        timeout: route.downstream.timeout,
        trust: route.downstream.trust.clone(),
    }
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
