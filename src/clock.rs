//! The wall clock, in unix seconds, behind a plain function pointer so that tests and replays can
//! hand in another.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where "now" comes from (unix seconds).
pub type Clock = fn() -> i64;

/// The system's clock; 0 before 1970.
pub fn system_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
