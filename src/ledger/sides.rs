//! Which routes hear from one endpoint only: there, a first copy's fingerprint would wait for a twin
//! that never comes.
//!
//! Before the second endpoint exists (the first stage of a migration) and after the old one is
//! disabled (the last), every copy of a route comes from one side. Keeping each one's hash tree for
//! the shadow comparison would cost a write of about the event's size per event and fill the ledger
//! with records no twin ever reads. So a route counts, per side, the copies that came since the
//! other side was last heard: past [`ONE_SIDED_STREAK`] of them, with nothing from the other side for
//! [`ONE_SIDED_QUIET`], its copies are not offered to the comparison (counted as skipped, reason
//! `one_sided`). The first copy from the other side turns the comparison back on.
//!
//! What it costs: when a second endpoint is switched on after a one-sided stretch, the copies the old
//! side sent just before the new side's first one were not kept, so their twins wait unpaired. Below
//! the streak (a new server, a test, a quiet route) every copy is offered, so that a first pair is
//! compared whatever the order of its copies.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Copies in a row from one side, with the other side quiet, after which a route is one-sided.
pub const ONE_SIDED_STREAK: u64 = 1_000;
/// How long the other side must have been quiet (milliseconds): an hour, much longer than a sender
/// takes to deliver the twins of one event to both endpoints, or than one endpoint's backlog.
pub const ONE_SIDED_QUIET: u64 = 60 * 60 * 1000;

/// What a route heard from one side.
#[derive(Debug, Default, Clone, Copy)]
struct Heard {
    /// When its last copy came (unix milliseconds).
    last_ms: Option<u64>,
    /// Its copies since the other side's last one.
    streak: u64,
}

/// Per route, what each side (native, translated) was heard of.
#[derive(Debug, Default)]
pub struct Sides {
    routes: Mutex<HashMap<String, [Heard; 2]>>,
}

impl Sides {
    pub fn new() -> Sides {
        Sides::default()
    }

    /// Notes a copy of `route` from the `translated` side (or the native one) at `now_ms`, and says
    /// whether it is offered to the shadow comparison: `false` once the route is one-sided.
    pub fn offers(&self, route: &str, translated: bool, now_ms: u64) -> bool {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let heard = match routes.get_mut(route) {
            Some(heard) => heard,
            None => routes.entry(route.to_owned()).or_default(),
        };
        let (this, other) = if translated { (1, 0) } else { (0, 1) };
        heard[this].last_ms = Some(now_ms);
        heard[this].streak = heard[this].streak.saturating_add(1);
        heard[other].streak = 0;
        let other_quiet = heard[other]
            .last_ms
            .is_none_or(|at| now_ms.saturating_sub(at) > ONE_SIDED_QUIET);
        !(other_quiet && heard[this].streak > ONE_SIDED_STREAK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many of `n` copies from one side, from `at` on, are offered.
    fn offered(sides: &Sides, translated: bool, n: u64, at: u64) -> u64 {
        (0..n)
            .filter(|i| sides.offers("r", translated, at + i))
            .count() as u64
    }

    #[test]
    fn a_route_heard_from_one_side_only_stops_offering_after_the_streak() {
        let sides = Sides::new();
        assert_eq!(
            offered(&sides, true, ONE_SIDED_STREAK + 50, 0),
            ONE_SIDED_STREAK
        );
        // Another route is its own.
        assert!(sides.offers("other", true, 10));
    }

    #[test]
    fn the_other_sides_first_copy_turns_offering_back_on() {
        let sides = Sides::new();
        offered(&sides, true, ONE_SIDED_STREAK + 5, 0);
        assert!(sides.offers("r", false, 2_000));
        // The other side was just heard: no streak of this side stops it for an hour.
        assert_eq!(
            offered(&sides, true, 3 * ONE_SIDED_STREAK, 2_001),
            3 * ONE_SIDED_STREAK
        );
    }

    #[test]
    fn a_side_quiet_for_an_hour_leaves_the_route_one_sided_again() {
        let sides = Sides::new();
        assert!(sides.offers("r", false, 0));
        let later = ONE_SIDED_QUIET + 1;
        assert_eq!(
            offered(&sides, true, ONE_SIDED_STREAK + 10, later),
            ONE_SIDED_STREAK
        );
    }

    #[test]
    fn both_sides_interleaved_are_always_offered() {
        let sides = Sides::new();
        for i in 0..3 * ONE_SIDED_STREAK {
            assert!(sides.offers("r", i % 2 == 0, i));
        }
    }
}
