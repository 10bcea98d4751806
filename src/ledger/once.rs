//! Exactly once per logical event, across every stage and switch: the claims and marks of the ledger.
//!
//! Before a copy is delivered (or answered without delivery) the request path asks [`Ledger::decide`]:
//!
//! - the event was delivered already (its twin, or an earlier copy of itself: a sender retry) →
//!   [`Decision::Duplicate`], answered `200 {"status":"duplicate"}`;
//! - another copy is being delivered right now (on this replica or another) and this one's policy
//!   says deliver → [`Decision::InFlight`]: answered 503 so that the sender retries, by which time the
//!   other delivery has either succeeded (the retry is a duplicate) or released its claim;
//! - the policy says deliver → [`Decision::Deliver`] with a claim;
//! - the policy says ack or reject, and a twin was answered without delivery before (an acked new copy
//!   in stage 2 whose old twin comes in stage 3) → [`Decision::DeliverForTwin`] with a claim: the copy
//!   is translated as needed and delivered anyway, so no stage switch strands an event;
//! - else [`Decision::Policy`]: the copy is answered as its policy says, and remembered as held.
//!
//! A claim is atomic (one entry update: a write transaction in SQLite, a compare-and-set in Redis, so
//! two copies arriving at once on two replicas never both get one) and expires after its TTL (a
//! replica that died while delivering does not block the event forever). After the handler's 2xx the
//! caller marks the event delivered ([`Ledger::mark_delivered`]); after a failure it releases the claim
//! ([`Ledger::release`]) so the next copy or retry can deliver. The mark comes after the 2xx: a crash
//! between the two can deliver twice, never lose.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::{now_ms, Change, Entry, Key, Ledger, LedgerError, Removal};

/// The event was delivered: which copy, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredMark {
    pub version: String,
    pub event_id: String,
    pub at_ms: u64,
}

/// A delivery in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub token: String,
    /// After this (unix ms) the claim is void: its holder is presumed gone.
    pub until_ms: u64,
}

/// A copy answered without delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCopy {
    pub version: String,
    pub event_id: String,
    pub at_ms: u64,
}

/// What the copy's policy says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// `forward` (or an unmapped event that is forwarded).
    Deliver,
    /// `ack` or `reject`.
    Hold,
}

/// What to do with a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Deliver it; the claim's token marks or releases it afterwards.
    Deliver { token: String },
    /// Its policy says ack or reject, but its twin was answered without delivery: deliver it anyway.
    DeliverForTwin { token: String },
    /// Already delivered: acknowledge as a duplicate.
    Duplicate,
    /// Another copy is being delivered now: answer so the sender retries.
    InFlight,
    /// Answer as the policy says.
    Policy,
}

/// One copy asking to be delivered.
#[derive(Debug, Clone)]
pub struct Copy<'a> {
    /// At the handler's version.
    pub event_type: &'a str,
    /// The version the sender delivered it in.
    pub version: &'a str,
    pub event_id: &'a str,
    pub intent: Intent,
    /// How long a claim holds (the delivery's deadline and some slack).
    pub claim_ms: u64,
}

/// Most held copies one entry remembers (one per endpoint is the norm; a sender's retries of one copy
/// carry its event id and count once).
const MAX_HELD: usize = 8;

static TOKENS: AtomicU64 = AtomicU64::new(0);

/// A token no other claim holds: process id, time and a counter.
fn new_token(now: u64) -> String {
    format!(
        "{}-{now}-{}",
        std::process::id(),
        TOKENS.fetch_add(1, Ordering::Relaxed)
    )
}

impl Ledger {
    /// Decides what becomes of one copy, claiming the delivery when the answer is to deliver.
    pub async fn decide(&self, key: &Key, copy: Copy<'_>) -> Result<Decision, LedgerError> {
        let now = now_ms();
        let fresh = Entry::new(key, copy.event_type, now);
        let token = new_token(now);
        let version = copy.version.to_owned();
        let event_id = copy.event_id.to_owned();
        let (intent, claim_ms) = (copy.intent, copy.claim_ms);
        let updated = self
            .store
            .update(
                key,
                move |current| {
                    decide_step(
                        current.unwrap_or_else(|| fresh.clone()),
                        &version,
                        &event_id,
                        intent,
                        Claim {
                            token: token.clone(),
                            until_ms: now.saturating_add(claim_ms),
                        },
                        now,
                    )
                },
                self.max_entries,
                self.retention_ms,
            )
            .await?;
        self.account_removed(&updated.evicted, Removal::Capacity);
        Ok(updated.value)
    }

    /// Marks the event delivered (after the handler's 2xx to the copy holding `token`).
    pub async fn mark_delivered(
        &self,
        key: &Key,
        token: &str,
        version: &str,
        event_id: &str,
    ) -> Result<(), LedgerError> {
        let now = now_ms();
        let token = token.to_owned();
        let mark = DeliveredMark {
            version: version.to_owned(),
            event_id: event_id.to_owned(),
            at_ms: now,
        };
        self.store
            .update(
                key,
                move |current| {
                    // The entry may be gone (swept or pushed out): nothing to mark, the claim with it.
                    let Some(mut entry) = current else {
                        return (Change::Keep, ());
                    };
                    if entry.claim.as_ref().is_some_and(|c| c.token == token) {
                        entry.claim = None;
                    }
                    // Delivered whoever claimed last: the handler has it.
                    entry.delivered.get_or_insert(mark.clone());
                    entry.held.clear();
                    (Change::Put(Box::new(entry)), ())
                },
                self.max_entries,
                self.retention_ms,
            )
            .await
            .map(|_| ())
    }

    /// Gives up the claim `token` holds (the delivery failed), so the next copy or retry delivers.
    pub async fn release(&self, key: &Key, token: &str) -> Result<(), LedgerError> {
        let token = token.to_owned();
        self.store
            .update(
                key,
                move |current| match current {
                    Some(mut entry) if entry.claim.as_ref().is_some_and(|c| c.token == token) => {
                        entry.claim = None;
                        (Change::Put(Box::new(entry)), ())
                    }
                    _ => (Change::Keep, ()),
                },
                self.max_entries,
                self.retention_ms,
            )
            .await
            .map(|_| ())
    }
}

/// The decision for one copy and the entry's new state (pure).
fn decide_step(
    mut entry: Entry,
    version: &str,
    event_id: &str,
    intent: Intent,
    claim: Claim,
    now: u64,
) -> (Change, Decision) {
    if entry.delivered.is_some() {
        return (Change::Keep, Decision::Duplicate);
    }
    let claimed = entry.claim.as_ref().is_some_and(|c| c.until_ms > now);
    let twin_held = entry.held.iter().any(|h| h.version != version);
    match (intent, claimed) {
        (Intent::Deliver, true) => (Change::Keep, Decision::InFlight),
        (Intent::Deliver, false) => {
            let token = claim.token.clone();
            entry.claim = Some(claim);
            (Change::Put(Box::new(entry)), Decision::Deliver { token })
        }
        (Intent::Hold, false) if twin_held => {
            let token = claim.token.clone();
            entry.claim = Some(claim);
            (
                Change::Put(Box::new(entry)),
                Decision::DeliverForTwin { token },
            )
        }
        (Intent::Hold, _) => {
            // Held while a twin delivers: if that delivery fails, its sender retries it.
            if entry.held.len() >= MAX_HELD
                || entry
                    .held
                    .iter()
                    .any(|h| h.version == version && h.event_id == event_id)
            {
                return (Change::Keep, Decision::Policy);
            }
            entry.held.push(HeldCopy {
                version: version.to_owned(),
                event_id: event_id.to_owned(),
                at_ms: now,
            });
            (Change::Put(Box::new(entry)), Decision::Policy)
        }
    }
}
