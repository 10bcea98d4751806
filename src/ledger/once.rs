//! Exactly once per event, across every stage and switch: occurrences, claims and marks.
//!
//! An entry of the ledger holds what hookshift saw of one identity (a run, say) on one route, as a list
//! of **occurrences**: the events the sender told apart. A duplicate is the sender's word: a copy is
//! named by its version (its endpoint) and its event id, and a retry repeats both. So:
//!
//! - a copy whose version and event id an occurrence holds is a **retry** of that copy;
//! - any other copy is a new event from its endpoint, or the **twin** of an occurrence seen so far only
//!   from the other endpoint(s). A sender sends one event to its endpoints at about the same moment,
//!   so only occurrences whose first copy came within `ledger.pair_window_ms` are candidates; among
//!   them, one whose copies have the same pairing digest ([`crate::shadow::pair_digest`]: the event
//!   at the handler's version, outside its event id and the fields the mapping synthesises) is the
//!   twin (the oldest, when several); failing that, the copy joins the oldest candidate **unsure**
//!   (another event about the run, or a twin whose translation differs: the shadow comparison
//!   reports those), which never makes it or its partner a duplicate of the other.
//!   The n-th copy of one endpoint is not assumed to be the n-th of the other: an endpoint enabled
//!   between two events about one run sees only the second, and the window keeps them apart.
//!
//! Before a copy is delivered (or answered without delivery) the request path asks [`Ledger::decide`]:
//!
//! - its occurrence was delivered, by this very copy or by its twin (paired for sure) →
//!   [`Decision::Duplicate`], answered `200 {"status":"duplicate"}`;
//! - another copy of the occurrence is being delivered right now (on this replica or another) and
//!   this one's policy says deliver → [`Decision::InFlight`]: answered 503 so that the sender retries,
//!   by which time the other delivery has either succeeded or released its claim;
//! - the policy says deliver → [`Decision::Deliver`] with a claim. When a copy it was paired with
//!   unsure was delivered already, it is delivered all the same and counted (`again`): twice is
//!   better than an event the handler never gets;
//! - the policy says ack or reject, and a twin was answered without delivery before (an acked new copy
//!   in stage 2 whose old twin comes in stage 3) → [`Decision::DeliverForTwin`] with a claim: the copy
//!   is translated as needed and delivered anyway, so no stage switch strands an event. Likewise a
//!   copy that found no twin while a copy with its content, from the other endpoint, was taken for
//!   the twin of another delivered event (`again`, counted): that pairing may have been wrong, and
//!   this copy would then be its event's last chance;
//! - else [`Decision::Policy`]: the copy is answered as its policy says, and remembered as held.
//!
//! Bounded: an entry keeps at most [`MAX_OCCURRENCES`]. A new event past that is not swallowed: it is
//! delivered whatever its policy and counted ([`Decision::Untracked`]).
//!
//! A claim is atomic (one entry update: a write transaction in SQLite, a compare-and-set in Redis, so
//! two copies arriving at once on two replicas never both get one) and expires after its TTL (a
//! replica that died while delivering does not block the event forever). After the handler's 2xx the
//! caller marks the copy delivered ([`Ledger::mark_delivered`]); after a failure it releases the claim
//! ([`Ledger::release`]) so the next copy or retry can deliver. The mark comes after the 2xx: a crash
//! between the two can deliver twice, never lose.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::sqlite::Wait;
use super::{now_ms, Change, Entry, Key, Ledger, LedgerError, Removal};

/// Most occurrences one entry keeps (events the sender told apart about one identity, within
/// retention); a new one past that is delivered untracked and counted.
pub const MAX_OCCURRENCES: usize = 32;

/// One copy an occurrence has seen: one per endpoint (version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    #[serde(rename = "v")]
    pub version: String,
    #[serde(rename = "id")]
    pub event_id: String,
    /// [`crate::shadow::pair_digest`] of the copy at the handler's version.
    #[serde(rename = "d")]
    pub digest: u64,
    /// Answered without delivery (its policy said ack or reject).
    #[serde(rename = "h", default, skip_serializing_if = "is_false")]
    pub held: bool,
    /// The handler answered 2xx to this copy.
    #[serde(rename = "ok", default, skip_serializing_if = "is_false")]
    pub delivered: bool,
    /// It joined its occurrence with no content to tell it from other candidates: its delivery and
    /// its partner's do not stand for each other.
    #[serde(rename = "u", default, skip_serializing_if = "is_false")]
    pub unsure: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A delivery in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    #[serde(rename = "t")]
    pub token: String,
    /// After this (unix ms) the claim is void: its holder is presumed gone.
    #[serde(rename = "u")]
    pub until_ms: u64,
}

/// One event the sender told apart, with its copies from each endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// Its number in the entry (1, 2, ...), never reused: names its shadow comparison.
    pub n: u32,
    /// When its first copy came (unix ms).
    pub at: u64,
    pub copies: Vec<Seen>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

impl Occurrence {
    fn delivered_copy(&self) -> Option<&Seen> {
        self.copies.iter().find(|c| c.delivered)
    }

    fn has_version(&self, version: &str) -> bool {
        self.copies.iter().any(|c| c.version == version)
    }

    fn claimed(&self, now: u64) -> bool {
        self.claim.as_ref().is_some_and(|c| c.until_ms > now)
    }
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
    /// Deliver it; the claim's token marks or releases it afterwards. `again`: a twin whose content
    /// differs was delivered already (counted).
    Deliver { token: String, again: bool },
    /// Its policy says ack or reject, but its twin was answered without delivery: deliver it anyway.
    /// `again`: its twin may have been delivered already (counted).
    DeliverForTwin { token: String, again: bool },
    /// Already delivered: acknowledge as a duplicate.
    Duplicate,
    /// Another copy is being delivered now: answer so the sender retries.
    InFlight,
    /// Answer as the policy says.
    Policy,
    /// The entry holds [`MAX_OCCURRENCES`] already: deliver, whatever the policy, without a claim.
    Untracked,
}

/// Where a decided copy went: the number of its occurrence in the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub occurrence: u32,
}

/// One copy asking to be delivered.
#[derive(Debug, Clone)]
pub struct Copy<'a> {
    /// At the handler's version.
    pub event_type: &'a str,
    /// The version the sender delivered it in.
    pub version: &'a str,
    pub event_id: &'a str,
    /// [`crate::shadow::pair_digest`] of the copy at the handler's version.
    pub digest: u64,
    pub intent: Intent,
    /// How long a claim holds (the delivery's deadline and some slack).
    pub claim_ms: u64,
}

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
    /// Decides what becomes of one copy, claiming the delivery when the answer is to deliver; also
    /// says which occurrence it belongs to (`None` when untracked).
    pub async fn decide(
        &self,
        key: &Key,
        copy: Copy<'_>,
    ) -> Result<(Decision, Option<Placed>), LedgerError> {
        let now = now_ms();
        let fresh = Entry::new(key, copy.event_type, now);
        let token = new_token(now);
        let asked = Asked {
            version: copy.version.to_owned(),
            event_id: copy.event_id.to_owned(),
            digest: copy.digest,
            intent: copy.intent,
            pair_window_ms: self.pair_window_ms,
            claim: Claim {
                token,
                until_ms: now.saturating_add(copy.claim_ms),
            },
        };
        let updated = self
            .store
            .update(
                key,
                move |current| decide_step(current.unwrap_or_else(|| fresh.clone()), &asked, now),
                answered_for_the_handler,
                self.max_entries,
                self.retention_ms,
            )
            .await?;
        self.account_removed(&updated.evicted, Removal::Capacity);
        Ok(updated.value)
    }

    /// Marks the copy delivered (after the handler's 2xx to the copy holding `token`).
    pub async fn mark_delivered(
        &self,
        key: &Key,
        placed: Placed,
        token: &str,
        version: &str,
        event_id: &str,
    ) -> Result<(), LedgerError> {
        let token = token.to_owned();
        let (version, event_id) = (version.to_owned(), event_id.to_owned());
        // Answered once committed: the sender hears 2xx after this, and its retry after a crash of
        // hookshift must find the event delivered.
        self.settle(key, placed, super::sqlite::wait_commit, move |occurrence| {
            if occurrence.claim.as_ref().is_some_and(|c| c.token == token) {
                occurrence.claim = None;
            }
            // Delivered whoever claimed last: the handler has it.
            for copy in &mut occurrence.copies {
                if copy.version == version && copy.event_id == event_id {
                    copy.delivered = true;
                    copy.held = false;
                }
            }
            true
        })
        .await
    }

    /// Gives up the claim `token` holds (the delivery failed), so the next copy or retry delivers.
    pub async fn release(&self, key: &Key, placed: Placed, token: &str) -> Result<(), LedgerError> {
        let token = token.to_owned();
        // Forgotten in a crash, a release leaves a claim that lapses after its TTL.
        self.settle(
            key,
            placed,
            super::sqlite::wait_nothing,
            move |occurrence| {
                let mine = occurrence.claim.as_ref().is_some_and(|c| c.token == token);
                if mine {
                    occurrence.claim = None;
                }
                mine
            },
        )
        .await
    }

    /// Applies `change` to one occurrence of the entry at `key` (nothing when either is gone: swept or
    /// pushed out, the claim with it); `change` says whether it changed anything.
    async fn settle(
        &self,
        key: &Key,
        placed: Placed,
        wait: super::sqlite::Durable<()>,
        mut change: impl FnMut(&mut Occurrence) -> bool + Send + 'static,
    ) -> Result<(), LedgerError> {
        self.store
            .update_reading(
                key,
                move |current| {
                    let Some(mut entry) = current else {
                        return (Change::Keep, ());
                    };
                    let Some(occurrence) = entry
                        .occurrences
                        .iter_mut()
                        .find(|o| o.n == placed.occurrence)
                    else {
                        return (Change::Keep, ());
                    };
                    if change(occurrence) {
                        (Change::Put(Box::new(entry)), ())
                    } else {
                        (Change::Keep, ())
                    }
                },
                wait,
                (self.max_entries, self.retention_ms),
                super::sqlite::Read::Own,
            )
            .await
            .map(|_| ())
    }
}

/// How long a decision waits for its write. One that answers the sender for the handler without
/// delivering (a held copy's ack or rejection, a duplicate) waits until the ledger would remember it
/// through a power loss. A claim waits for nothing: forgotten in a crash, with its delivery in
/// flight, it makes the event delivered again by the sender's retry, never lost.
fn answered_for_the_handler((decision, _): &(Decision, Option<Placed>)) -> Wait {
    match decision {
        Decision::Policy | Decision::Duplicate => Wait::Fsync,
        _ => Wait::Nothing,
    }
}

/// One copy as [`decide_step`] takes it.
#[derive(Debug, Clone)]
pub struct Asked {
    pub version: String,
    pub event_id: String,
    pub digest: u64,
    pub intent: Intent,
    /// `ledger.pair_window_ms`.
    pub pair_window_ms: u64,
    /// The claim to take, should the answer be to deliver.
    pub claim: Claim,
}

/// The decision for one copy and the entry's new state (pure).
pub fn decide_step(
    mut entry: Entry,
    asked: &Asked,
    now: u64,
) -> (Change, (Decision, Option<Placed>)) {
    let retry = entry.occurrences.iter().position(|o| {
        o.copies
            .iter()
            .any(|c| c.version == asked.version && c.event_id == asked.event_id)
    });
    let twin = match retry {
        Some(at) => Some(at),
        None => twin_of(&entry, asked, now).map(|(at, unsure)| {
            entry.occurrences[at].copies.push(Seen {
                unsure,
                ..seen(asked)
            });
            at
        }),
    };
    let at = match twin {
        Some(at) => at,
        None if entry.occurrences.len() >= MAX_OCCURRENCES => {
            return (Change::Keep, (Decision::Untracked, None));
        }
        None => {
            let n = entry.occurrences.last().map_or(1, |o| o.n + 1);
            let stood_in = asked.intent == Intent::Hold && stood_in_for(&entry, asked, now);
            entry.occurrences.push(Occurrence {
                n,
                at: now,
                copies: vec![seen(asked)],
                claim: None,
            });
            let placed = Some(Placed { occurrence: n });
            if stood_in {
                // A copy with this content was taken for the twin of an event delivered by another
                // copy, and may have been this one's twin instead: this copy is its event's last
                // chance, so it is delivered whatever its policy (at worst twice, counted).
                let occurrence = entry.occurrences.last_mut().expect("just pushed");
                occurrence.claim = Some(asked.claim.clone());
                occurrence.copies[0].unsure = true;
                let token = asked.claim.token.clone();
                let decision = Decision::DeliverForTwin { token, again: true };
                return (Change::Put(Box::new(entry)), (decision, placed));
            }
            entry.occurrences.len() - 1
        }
    };
    let placed = Placed {
        occurrence: entry.occurrences[at].n,
    };
    let (changed, decision) = decide_occurrence(&mut entry.occurrences[at], asked, now);
    let change = if changed || retry.is_none() {
        Change::Put(Box::new(entry))
    } else {
        Change::Keep
    };
    (change, (decision, Some(placed)))
}

fn seen(asked: &Asked) -> Seen {
    Seen {
        version: asked.version.clone(),
        event_id: asked.event_id.clone(),
        digest: asked.digest,
        held: false,
        delivered: false,
        unsure: false,
    }
}

/// The occurrence a new copy is the twin of, if any, and whether the pairing is unsure: among the
/// occurrences whose first copy came within the pairing window and which have no copy from this
/// copy's endpoint, the oldest with the same content; else the oldest, unsure (its content differs:
/// another event about the run, or a translation that differs, which the shadow comparison reports).
fn twin_of(entry: &Entry, asked: &Asked, now: u64) -> Option<(usize, bool)> {
    let candidates: Vec<usize> = (0..entry.occurrences.len())
        .filter(|&i| {
            let o = &entry.occurrences[i];
            !o.has_version(&asked.version) && now.saturating_sub(o.at) <= asked.pair_window_ms
        })
        .collect();
    let same = candidates.iter().copied().find(|&i| {
        entry.occurrences[i]
            .copies
            .iter()
            .any(|c| c.digest == asked.digest)
    });
    match (same, candidates.as_slice()) {
        (Some(same), _) => Some((same, false)),
        (None, []) => None,
        (None, [oldest, ..]) => Some((*oldest, true)),
    }
}

/// Whether a copy that found no twin has the content of a copy from another endpoint that was
/// answered as a duplicate of its occurrence's delivery (within the window): that pairing may have
/// been wrong, and this copy, held, would then be the only one left of its event.
fn stood_in_for(entry: &Entry, asked: &Asked, now: u64) -> bool {
    entry.occurrences.iter().any(|o| {
        now.saturating_sub(o.at) <= asked.pair_window_ms
            && o.delivered_copy().is_some()
            && o.copies.iter().any(|c| {
                c.version != asked.version && c.digest == asked.digest && !c.delivered && !c.held
            })
    })
}

/// The decision for a copy now in `occurrence`, and whether the occurrence changed.
fn decide_occurrence(occurrence: &mut Occurrence, asked: &Asked, now: u64) -> (bool, Decision) {
    let this = occurrence
        .copies
        .iter()
        .position(|c| c.version == asked.version && c.event_id == asked.event_id)
        .expect("the copy was placed in its occurrence");
    if let Some(delivered) = occurrence.delivered_copy() {
        // Delivered: by this copy, or by its twin when neither joined unsure. Otherwise the pairing
        // may be wrong: this copy goes on as its policy says.
        let copy = &occurrence.copies[this];
        if copy.delivered || !(copy.unsure || delivered.unsure) {
            return (false, Decision::Duplicate);
        }
    }
    let delivered_before = occurrence.delivered_copy().is_some();
    let claimed = occurrence.claimed(now);
    let twin_held = !delivered_before
        && occurrence
            .copies
            .iter()
            .any(|c| c.held && c.version != asked.version);
    match (asked.intent, claimed) {
        (Intent::Deliver, true) => (false, Decision::InFlight),
        (Intent::Deliver, false) => {
            let token = asked.claim.token.clone();
            occurrence.claim = Some(asked.claim.clone());
            let again = delivered_before;
            (true, Decision::Deliver { token, again })
        }
        (Intent::Hold, false) if twin_held => {
            let token = asked.claim.token.clone();
            occurrence.claim = Some(asked.claim.clone());
            (
                true,
                Decision::DeliverForTwin {
                    token,
                    again: false,
                },
            )
        }
        (Intent::Hold, _) => {
            // Held while a twin delivers: if that delivery fails, its sender retries it.
            let copy = &mut occurrence.copies[this];
            let changed = !copy.held;
            copy.held = true;
            (changed, Decision::Policy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "2025-04-21";
    const NEW: &str = "2026-02-09";
    const MIN: u64 = 60_000;

    fn entry() -> Entry {
        Entry::new(
            &Key {
                route: "r".into(),
                identity: "extract_run.processed\u{1f}\"exr_1\"".into(),
            },
            "extract_run.processed",
            0,
        )
    }

    fn asked(version: &str, event_id: &str, digest: u64, intent: Intent) -> Asked {
        Asked {
            version: version.into(),
            event_id: event_id.into(),
            digest,
            intent,
            pair_window_ms: 15 * MIN,
            claim: Claim {
                token: format!("t-{event_id}"),
                until_ms: u64::MAX,
            },
        }
    }

    /// Runs copies through `decide_step` in order (each delivery marked right away when `mark`).
    struct Walk {
        entry: Entry,
        now: u64,
    }

    impl Walk {
        fn new() -> Walk {
            Walk {
                entry: entry(),
                now: 1_000,
            }
        }

        fn at(mut self, now: u64) -> Walk {
            self.now = now;
            self
        }

        fn copy(&mut self, asked: Asked) -> (Decision, Option<Placed>) {
            let (change, result) = decide_step(self.entry.clone(), &asked, self.now);
            if let Change::Put(entry) = change {
                self.entry = *entry;
            }
            result
        }

        /// Decides and, on a claim, marks the copy delivered at once.
        fn deliver(&mut self, asked: Asked) -> Decision {
            let (decision, placed) = self.copy(asked.clone());
            if let Decision::Deliver { .. } | Decision::DeliverForTwin { .. } = decision {
                let occurrence = self
                    .entry
                    .occurrences
                    .iter_mut()
                    .find(|o| o.n == placed.unwrap().occurrence)
                    .unwrap();
                occurrence.claim = None;
                for c in &mut occurrence.copies {
                    if c.version == asked.version && c.event_id == asked.event_id {
                        c.delivered = true;
                        c.held = false;
                    }
                }
            }
            decision
        }
    }

    fn delivers(decision: &Decision) -> bool {
        matches!(
            decision,
            Decision::Deliver { .. } | Decision::DeliverForTwin { .. } | Decision::Untracked
        )
    }

    #[test]
    fn a_retry_of_a_delivered_copy_and_its_matching_twin_are_duplicates() {
        let mut walk = Walk::new();
        assert!(delivers(&walk.deliver(asked(
            OLD,
            "o1",
            7,
            Intent::Deliver
        ))));
        assert_eq!(
            walk.deliver(asked(OLD, "o1", 7, Intent::Deliver)),
            Decision::Duplicate
        );
        assert_eq!(
            walk.deliver(asked(NEW, "n1", 7, Intent::Deliver)),
            Decision::Duplicate
        );
        assert_eq!(
            walk.deliver(asked(NEW, "n1", 7, Intent::Hold)),
            Decision::Duplicate
        );
        assert_eq!(walk.entry.occurrences.len(), 1);
    }

    #[test]
    fn a_second_event_from_the_same_endpoint_is_a_new_occurrence() {
        let mut walk = Walk::new();
        for (i, id) in ["o1", "o2", "o3"].into_iter().enumerate() {
            // Same content, same run: still three events, because the sender named three.
            let decision = walk.deliver(asked(OLD, id, 7, Intent::Deliver));
            assert_eq!(
                decision,
                Decision::Deliver {
                    token: format!("t-{id}"),
                    again: false
                },
                "event {i}"
            );
        }
        assert_eq!(walk.entry.occurrences.len(), 3);
        // And each one's twin pairs with one of them, never making a fourth.
        for id in ["n1", "n2", "n3"] {
            assert_eq!(
                walk.deliver(asked(NEW, id, 7, Intent::Hold)),
                Decision::Duplicate
            );
        }
        assert_eq!(walk.entry.occurrences.len(), 3);
    }

    #[test]
    fn twins_pair_by_content_in_any_order() {
        // Two events about one run, old copies first in one order, new ones in the other.
        let mut walk = Walk::new();
        assert!(delivers(&walk.deliver(asked(
            OLD,
            "o1",
            1,
            Intent::Deliver
        ))));
        assert!(delivers(&walk.deliver(asked(
            OLD,
            "o2",
            2,
            Intent::Deliver
        ))));
        assert_eq!(
            walk.deliver(asked(NEW, "n2", 2, Intent::Hold)),
            Decision::Duplicate
        );
        assert_eq!(
            walk.deliver(asked(NEW, "n1", 1, Intent::Hold)),
            Decision::Duplicate
        );
        let pairs: Vec<Vec<&str>> = walk
            .entry
            .occurrences
            .iter()
            .map(|o| o.copies.iter().map(|c| c.event_id.as_str()).collect())
            .collect();
        assert_eq!(pairs, [["o1", "n1"], ["o2", "n2"]]);
    }

    #[test]
    fn an_endpoint_enabled_between_two_events_does_not_pair_the_first() {
        // The old endpoint alone sees event 1; the new one is enabled; event 2 comes to both, its new
        // copy first, with other content than event 1.
        let mut walk = Walk::new();
        assert!(delivers(&walk.deliver(asked(
            OLD,
            "o1",
            1,
            Intent::Deliver
        ))));
        let mut walk = walk.at(1_000 + 20 * MIN);
        // Stage 3 (new forwarded): the new copy of event 2 is delivered, not swallowed as event 1.
        assert_eq!(
            walk.deliver(asked(NEW, "n2", 2, Intent::Deliver)),
            Decision::Deliver {
                token: "t-n2".into(),
                again: false
            }
        );
        assert_eq!(
            walk.deliver(asked(OLD, "o2", 2, Intent::Hold)),
            Decision::Duplicate
        );
        assert_eq!(walk.entry.occurrences.len(), 2);
        assert_eq!(
            walk.entry.occurrences[0].copies.len(),
            1,
            "event 1 stays alone"
        );
    }

    #[test]
    fn the_same_content_sent_again_past_the_window_is_another_event() {
        // A delivery sent again from the sender's dashboard: same run, same content, new event ids,
        // long after the first. Its copies pair with each other, not with the first event's.
        let mut walk = Walk::new();
        assert!(delivers(&walk.deliver(asked(
            OLD,
            "o1",
            7,
            Intent::Deliver
        ))));
        assert_eq!(
            walk.deliver(asked(NEW, "n1", 7, Intent::Hold)),
            Decision::Duplicate
        );
        let mut walk = walk.at(1_000 + 30 * MIN);
        assert_eq!(
            walk.deliver(asked(NEW, "n2", 7, Intent::Deliver)),
            Decision::Deliver {
                token: "t-n2".into(),
                again: false
            }
        );
        assert_eq!(
            walk.deliver(asked(OLD, "o2", 7, Intent::Hold)),
            Decision::Duplicate
        );
        assert_eq!(walk.entry.occurrences.len(), 2);
    }

    #[test]
    fn a_lone_candidate_with_other_content_is_never_taken_for_a_duplicate() {
        // Within the window, the new endpoint's copy of a second event about the run comes while the
        // first event (seen by the old endpoint alone) is the only candidate: delivered, not
        // swallowed; its policy says ack: held.
        let mut walk = Walk::new();
        assert!(delivers(&walk.deliver(asked(
            OLD,
            "o1",
            1,
            Intent::Deliver
        ))));
        let before = walk.entry.clone();
        assert_eq!(
            walk.deliver(asked(NEW, "n2", 2, Intent::Deliver)),
            Decision::Deliver {
                token: "t-n2".into(),
                again: true
            }
        );
        walk.entry = before;
        assert_eq!(
            walk.deliver(asked(NEW, "n2", 2, Intent::Hold)),
            Decision::Policy
        );
    }

    #[test]
    fn a_held_copy_whose_twin_stood_in_for_another_event_is_delivered() {
        // The old endpoint alone saw event 1; event 2 (the same content sent again) comes to both,
        // its new copy first, taken for event 1's twin (a duplicate). After the switch its old copy
        // (rejected by policy) finds no twin: it is its event's last chance.
        let mut walk = Walk::new();
        assert!(delivers(&walk.deliver(asked(
            OLD,
            "o1",
            7,
            Intent::Deliver
        ))));
        assert_eq!(
            walk.deliver(asked(NEW, "n2", 7, Intent::Hold)),
            Decision::Duplicate
        );
        assert_eq!(
            walk.deliver(asked(OLD, "o2", 7, Intent::Hold)),
            Decision::DeliverForTwin {
                token: "t-o2".into(),
                again: true
            }
        );
        // Its retries are its own duplicates.
        assert_eq!(
            walk.deliver(asked(OLD, "o2", 7, Intent::Hold)),
            Decision::Duplicate
        );
    }

    #[test]
    fn an_unsure_pairing_delivers_twice_rather_than_swallow() {
        // Two events about one run within the window, then a copy from the other endpoint whose
        // content matches neither: it joins the oldest unsure and is delivered again (counted).
        let mut walk = Walk::new();
        assert!(delivers(&walk.deliver(asked(
            OLD,
            "o1",
            1,
            Intent::Deliver
        ))));
        assert!(delivers(&walk.deliver(asked(
            OLD,
            "o2",
            2,
            Intent::Deliver
        ))));
        let mut deliver_walk = Walk {
            entry: walk.entry.clone(),
            now: walk.now,
        };
        assert_eq!(
            deliver_walk.deliver(asked(NEW, "n3", 3, Intent::Deliver)),
            Decision::Deliver {
                token: "t-n3".into(),
                again: true
            }
        );
        assert!(deliver_walk.entry.occurrences[0].copies[1].unsure);
        // Its policy says ack: held, not a duplicate.
        assert_eq!(
            walk.deliver(asked(NEW, "n3", 3, Intent::Hold)),
            Decision::Policy
        );
        // A copy whose content does match still pairs for sure.
        assert_eq!(
            walk.deliver(asked(NEW, "n2", 2, Intent::Hold)),
            Decision::Duplicate
        );
    }

    #[test]
    fn a_held_twin_makes_an_acked_or_rejected_copy_deliver_across_the_switch() {
        // Stage 2: the new copy is acked. Stage 3: its old twin is rejected by policy, yet it is the
        // only copy left to deliver the event.
        let mut walk = Walk::new();
        assert_eq!(
            walk.deliver(asked(NEW, "n1", 5, Intent::Hold)),
            Decision::Policy
        );
        assert_eq!(
            walk.deliver(asked(NEW, "n1", 5, Intent::Hold)),
            Decision::Policy
        );
        assert_eq!(
            walk.deliver(asked(OLD, "o1", 5, Intent::Hold)),
            Decision::DeliverForTwin {
                token: "t-o1".into(),
                again: false
            }
        );
        // The new copy's retries are duplicates now; a later distinct event is not.
        assert_eq!(
            walk.deliver(asked(NEW, "n1", 5, Intent::Hold)),
            Decision::Duplicate
        );
        assert_eq!(
            walk.deliver(asked(NEW, "n9", 9, Intent::Hold)),
            Decision::Policy
        );
    }

    #[test]
    fn a_claimed_occurrence_is_in_flight_for_delivering_copies_only() {
        let mut walk = Walk::new();
        let (first, _) = walk.copy(asked(OLD, "o1", 1, Intent::Deliver));
        assert!(matches!(first, Decision::Deliver { .. }));
        assert_eq!(
            walk.copy(asked(OLD, "o1", 1, Intent::Deliver)).0,
            Decision::InFlight
        );
        assert_eq!(
            walk.copy(asked(NEW, "n1", 1, Intent::Deliver)).0,
            Decision::InFlight
        );
        assert_eq!(
            walk.copy(asked(NEW, "n1", 1, Intent::Hold)).0,
            Decision::Policy
        );
        // A distinct event of the same run is not held up by the claim.
        assert!(matches!(
            walk.copy(asked(OLD, "o2", 2, Intent::Deliver)).0,
            Decision::Deliver { .. }
        ));
        // An expired claim no longer holds.
        walk.entry.occurrences[0].claim.as_mut().unwrap().until_ms = 500;
        assert!(matches!(
            walk.copy(asked(OLD, "o1", 1, Intent::Deliver)).0,
            Decision::Deliver { .. }
        ));
    }

    #[test]
    fn past_the_bound_events_are_delivered_untracked() {
        let mut walk = Walk::new();
        for i in 0..MAX_OCCURRENCES {
            assert!(delivers(&walk.deliver(asked(
                OLD,
                &format!("o{i}"),
                1,
                Intent::Deliver
            ))));
        }
        assert_eq!(
            walk.copy(asked(OLD, "one-more", 1, Intent::Deliver)),
            (Decision::Untracked, None)
        );
        assert_eq!(
            walk.copy(asked(OLD, "held", 3, Intent::Hold)),
            (Decision::Untracked, None)
        );
        // Retries and twins of tracked events are still known.
        assert_eq!(
            walk.deliver(asked(OLD, "o3", 1, Intent::Deliver)),
            Decision::Duplicate
        );
        assert_eq!(
            walk.deliver(asked(NEW, "n3", 1, Intent::Hold)),
            Decision::Duplicate
        );
    }

    #[test]
    fn occurrence_numbers_are_stable() {
        let mut walk = Walk::new();
        let (_, a) = walk.copy(asked(OLD, "o1", 1, Intent::Hold));
        let (_, b) = walk.copy(asked(OLD, "o2", 2, Intent::Hold));
        let (_, c) = walk.copy(asked(NEW, "n2", 2, Intent::Hold));
        let (_, d) = walk.copy(asked(OLD, "o1", 1, Intent::Hold));
        assert_eq!([a, b, c, d].map(|p| p.unwrap().occurrence), [1, 2, 2, 1]);
    }
}
