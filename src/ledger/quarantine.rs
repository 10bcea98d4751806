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

impl Store {
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
