//! The quarantine: verified events a mapping failed on (`routes.on_translation_failure =
//! "quarantine"`), kept in the ledger with their exact bytes until `hookshift quarantine replay`
//! translates them with the mappings of the day and delivers them.
//!
//! Bounded by `ledger.max_quarantine_bytes`: an event that does not fit is refused (and answered 422 as
//! without a quarantine). An event is stored once per route, sending version and event id: a sender's
//! retries of it find it there. Everything is at rest in the ledger's file (`0600`) or Redis: the
//! threat model says so.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{LedgerError, Store};

/// One quarantined event (its bytes are kept beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    pub id: String,
    pub route: String,
    /// The version the sender delivered it in.
    pub version: String,
    pub event_id: String,
    pub event_type: String,
    /// When hookshift received it (unix ms).
    pub received_ms: u64,
    /// The sender's signature timestamp: the delivery time the mappings read on replay.
    pub timestamp: i64,
    /// Why the translation failed (rule, file, path: no payload data).
    pub reason: String,
    /// Size of the kept bytes.
    pub bytes: u64,
}

impl Quarantined {
    /// The id of an event in the quarantine: one per route, sending version and event id.
    pub fn id_for(route: &str, version: &str, event_id: &str) -> String {
        let digest = Sha256::digest(format!("{route}\u{1f}{version}\u{1f}{event_id}").as_bytes());
        hex::encode(&digest[..10])
    }
}

/// What became of an event offered to the quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Kept.
    New,
    /// Already there (a retry of it).
    Exists,
    /// `max_quarantine_bytes` would be passed: not kept.
    Full,
}

impl Stored {
    /// The `result` label of `hookshift_quarantined_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stored::New => "stored",
            Stored::Exists => "exists",
            Stored::Full => "full",
        }
    }
}

/// What became of one event `hookshift quarantine replay` tried (dry runs are not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayResult {
    /// The handler took it: removed.
    Delivered,
    /// Its twin had been delivered meanwhile: removed without a delivery.
    Duplicate,
    /// Still not deliverable (the translation still fails, the handler refused it, …): kept.
    Failed,
}

impl ReplayResult {
    /// Every result, for series registered at zero.
    pub const ALL: [ReplayResult; 3] = [
        ReplayResult::Delivered,
        ReplayResult::Duplicate,
        ReplayResult::Failed,
    ];

    /// The `result` label of `hookshift_quarantine_replays_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayResult::Delivered => "delivered",
            ReplayResult::Duplicate => "duplicate",
            ReplayResult::Failed => "failed",
        }
    }

    fn from_label(label: &str) -> Option<ReplayResult> {
        ReplayResult::ALL.into_iter().find(|r| r.as_str() == label)
    }
}

impl crate::metrics::Label for ReplayResult {
    const ALL: &'static [ReplayResult] = &ReplayResult::ALL;

    fn as_str(self) -> &'static str {
        ReplayResult::as_str(self)
    }
}

/// The field under which the ledger counts one route's replays of one result.
fn replay_field(route: &str, result: ReplayResult) -> String {
    format!("{route}\u{1f}{}", result.as_str())
}

/// The route and result of a field written by [`replay_field`]; `None` for anything else.
fn parse_replay_field(field: &str) -> Option<(String, ReplayResult)> {
    let (route, result) = field.rsplit_once('\u{1f}')?;
    Some((route.to_owned(), ReplayResult::from_label(result)?))
}

/// Replays counted in the ledger, per route and result: what every replay run did, wherever it ran
/// (the command line writes them, the servers export them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplayCounts(pub Vec<(String, ReplayResult, u64)>);

impl ReplayCounts {
    fn from_fields(fields: impl IntoIterator<Item = (String, u64)>) -> ReplayCounts {
        let mut counts: Vec<(String, ReplayResult, u64)> = fields
            .into_iter()
            .filter_map(|(field, count)| {
                parse_replay_field(&field).map(|(route, result)| (route, result, count))
            })
            .collect();
        counts.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
        ReplayCounts(counts)
    }
}

impl Store {
    /// Counts one replayed event of `route`.
    pub async fn count_replay(&self, route: &str, result: ReplayResult) -> Result<(), LedgerError> {
        let field = replay_field(route, result);
        match self {
            Store::Sqlite(s) => s.count_replay(field).await,
            Store::Redis(s) => s.count_replay(&field).await,
        }
    }

    /// Every replay counted so far.
    pub async fn replay_counts(&self) -> Result<ReplayCounts, LedgerError> {
        let fields = match self {
            Store::Sqlite(s) => s.replay_counts().await?,
            Store::Redis(s) => s.replay_counts().await?,
        };
        Ok(ReplayCounts::from_fields(fields))
    }

    /// Keeps an event and its bytes, unless it is there already or would pass `max_bytes`.
    pub async fn quarantine_put(
        &self,
        item: &Quarantined,
        body: &[u8],
        max_bytes: u64,
    ) -> Result<Stored, LedgerError> {
        match self {
            Store::Sqlite(s) => {
                s.quarantine_put(item.clone(), body.to_vec(), max_bytes)
                    .await
            }
            Store::Redis(s) => s.quarantine_put(item, body, max_bytes).await,
        }
    }

    /// Every quarantined event, oldest first.
    pub async fn quarantine_list(&self) -> Result<Vec<Quarantined>, LedgerError> {
        match self {
            Store::Sqlite(s) => s.quarantine_list().await,
            Store::Redis(s) => s.quarantine_list().await,
        }
    }

    /// The kept bytes of one event.
    pub async fn quarantine_body(&self, id: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        match self {
            Store::Sqlite(s) => s.quarantine_body(id.to_owned()).await,
            Store::Redis(s) => s.quarantine_body(id).await,
        }
    }

    /// Removes one event; whether it was there.
    pub async fn quarantine_remove(&self, id: &str) -> Result<bool, LedgerError> {
        match self {
            Store::Sqlite(s) => s.quarantine_remove(id.to_owned()).await,
            Store::Redis(s) => s.quarantine_remove(id).await,
        }
    }

    /// How many events and bytes the quarantine holds.
    pub async fn quarantine_size(&self) -> Result<(u64, u64), LedgerError> {
        match self {
            Store::Sqlite(s) => s.quarantine_size().await,
            Store::Redis(s) => s.quarantine_size().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_fields_round_trip_and_foreign_fields_are_ignored() {
        let counts = ReplayCounts::from_fields([
            (replay_field("extend", ReplayResult::Failed), 2),
            (replay_field("extend", ReplayResult::Delivered), 5),
            ("entries".to_owned(), 9),
            ("extend\u{1f}unknown".to_owned(), 1),
        ]);
        assert_eq!(
            counts.0,
            vec![
                ("extend".to_owned(), ReplayResult::Delivered, 5),
                ("extend".to_owned(), ReplayResult::Failed, 2),
            ]
        );
    }
}
